package outbox

import (
	"math/rand/v2"
	"path/filepath"
	"slices"
	"testing"
)

// TestRandomOpsAgainstModel drives one outbox with random appends, reads,
// shuffled acks, rewinds and reopens, and checks it against a plain model
// after every step: the ack position is the contiguous acknowledged prefix,
// and Next delivers exactly the unacknowledged records after a rewind.
func TestRandomOpsAgainstModel(t *testing.T) {
	for seed := range uint64(8) {
		rng := rand.New(rand.NewPCG(seed, 3))
		dir := filepath.Join(t.TempDir(), "outbox")
		opts := Options{SegmentBytes: 300, MaxBytes: 1 << 20}
		o, err := Open(dir, opts)
		if err != nil {
			t.Fatal(err)
		}
		var all []uint64           // appended, in order
		acked := map[uint64]bool{} // acknowledged
		var prefix uint64          // model ack position
		var held []uint64
		for step := range 3000 {
			switch op := rng.IntN(100); {
			case op < 40:
				seq := o.NextSeq() + uint64(rng.IntN(2))
				if err := o.Append(seq, reading(seq)); err != nil {
					t.Fatal(err)
				}
				all = append(all, seq)
			case op < 70:
				recs, err := o.Next(1 + rng.IntN(8))
				if err != nil {
					t.Fatal(err)
				}
				for _, r := range recs {
					held = append(held, r.Seq)
				}
			case op < 93:
				rng.Shuffle(len(held), func(i, j int) { held[i], held[j] = held[j], held[i] })
				k := rng.IntN(len(held) + 1)
				for _, q := range held[:k] {
					if err := o.Ack(q); err != nil {
						t.Fatalf("seed %d step %d: ack %d: %v", seed, step, q, err)
					}
					acked[q] = true
				}
				held = held[k:]
			case op < 99:
				o.Rewind()
				held = nil
			default:
				if err := o.Close(); err != nil {
					t.Fatal(err)
				}
				if o, err = Open(dir, opts); err != nil {
					t.Fatal(err)
				}
				held = nil
				for q := range acked {
					if q > prefix {
						delete(acked, q) // out-of-order acks are not persisted
					}
				}
			}
			for _, q := range all {
				if q <= prefix {
					continue
				}
				if !acked[q] {
					break
				}
				prefix = q
			}
			if got := o.Stats().AckedSeq; got != prefix {
				t.Fatalf("seed %d step %d: AckedSeq %d, model %d", seed, step, got, prefix)
			}
		}
		// Everything not acknowledged comes back after a rewind, in order.
		o.Rewind()
		var want []uint64
		for _, q := range all {
			if q > prefix && !acked[q] {
				want = append(want, q)
			}
		}
		if got := drain(t, o, 7); !slices.Equal(got, want) {
			t.Fatalf("seed %d: after rewind got %v, want %v", seed, got, want)
		}
		o.Close()
	}
}
