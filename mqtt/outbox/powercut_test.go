package outbox

import (
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// A power cut leaves files as the device last wrote them: a segment cut off
// at any byte, a tail of zeros where the size was updated before the data,
// or (on worn flash) flipped bits. These tests build such images from a good
// outbox and check that Open takes every one, keeps every record before the
// damage and counts the bytes it cut.

// frame is one record's place in a segment.
type frame struct {
	seq      uint64
	off, end int64
}

// buildImage writes n readings of varied length into dir through an Outbox,
// closes it, and returns the segment paths in order with their records.
func buildImage(t *testing.T, dir string, n int) (paths []string, frames [][]frame) {
	t.Helper()
	o, err := Open(dir, Options{SegmentBytes: 700})
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		seq := o.NextSeq()
		p := reading(seq)
		p = append(p, make([]byte, i%13)...) // vary the lengths
		for j := len(p) - i%13; j < len(p); j++ {
			p[j] = ' '
		}
		if err := o.Append(seq, p); err != nil {
			t.Fatal(err)
		}
	}
	if err := o.Close(); err != nil {
		t.Fatal(err)
	}
	segs, err := listSegments(dir)
	if err != nil {
		t.Fatal(err)
	}
	rd := newReader()
	defer rd.close()
	for _, seg := range segs {
		var fr []frame
		if _, err := scan(rd, seg, 0, func(seq uint64, off int64, n int) {
			fr = append(fr, frame{seq, off, off + int64(n)})
		}); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, seg.path)
		frames = append(frames, fr)
	}
	if len(paths) < 3 {
		t.Fatalf("only %d segments", len(paths))
	}
	return paths, frames
}

// copyDir copies the regular files of src into a new directory.
func copyDir(t *testing.T, src string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "copy")
	if err := os.Mkdir(dst, 0o750); err != nil {
		t.Fatal(err)
	}
	ents, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		in, err := os.Open(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out, err := os.Create(filepath.Join(dst, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(out, in); err != nil {
			t.Fatal(err)
		}
		in.Close()
		if err := out.Close(); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

// checkOpen opens a damaged image and checks what it returns and counts; then
// checks that a second Open finds nothing more to cut and that the outbox
// still takes appends after what survived.
func checkOpen(t *testing.T, dir string, want []uint64, wantDamaged uint64, what string) {
	t.Helper()
	o, err := Open(dir, Options{SegmentBytes: 700})
	if err != nil {
		t.Fatalf("%s: open refused: %v", what, err)
	}
	st := o.Stats()
	got := drainRaw(t, o)
	if !slices.Equal(got, want) {
		t.Fatalf("%s: got %v\nwant %v", what, got, want)
	}
	if st.Damaged != wantDamaged {
		t.Fatalf("%s: damaged %d bytes, want %d", what, st.Damaged, wantDamaged)
	}
	last := uint64(0)
	if len(want) > 0 {
		last = want[len(want)-1]
	}
	seq := o.NextSeq()
	if seq <= last {
		t.Fatalf("%s: NextSeq %d not above %d", what, seq, last)
	}
	if err := o.Append(seq, reading(seq)); err != nil {
		t.Fatal(err)
	}
	if err := o.Close(); err != nil {
		t.Fatal(err)
	}
	o, err = Open(dir, Options{SegmentBytes: 700})
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	if st := o.Stats(); st.Damaged != 0 {
		t.Fatalf("%s: second open cut %d bytes more", what, st.Damaged)
	}
	if got := drainRaw(t, o); !slices.Equal(got, append(slices.Clone(want), seq)) {
		t.Fatalf("%s: after an append on the repaired outbox got %v", what, got)
	}
}

// drainRaw is drain without the payload check: the image's payloads are padded.
func drainRaw(t *testing.T, o *Outbox) []uint64 {
	t.Helper()
	var seqs []uint64
	for {
		recs, err := o.Next(64)
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) == 0 {
			return seqs
		}
		for _, r := range recs {
			seqs = append(seqs, r.Seq)
		}
	}
}

func seqsOf(frames [][]frame, keep func(seg, i int) bool) []uint64 {
	var s []uint64
	for si, fr := range frames {
		for i, f := range fr {
			if keep(si, i) {
				s = append(s, f.seq)
			}
		}
	}
	return s
}

func TestPowerCutTruncateEveryOffset(t *testing.T) {
	src := filepath.Join(t.TempDir(), "outbox")
	paths, frames := buildImage(t, src, 46)
	last := len(paths) - 1
	lf := frames[last]
	if len(lf) < 4 {
		t.Fatalf("last segment has %d records", len(lf))
	}
	// Every byte offset across the last four records of the last segment.
	for cut := lf[len(lf)-4].off; cut < lf[len(lf)-1].end; cut++ {
		dir := copyDir(t, src)
		if err := os.Truncate(filepath.Join(dir, filepath.Base(paths[last])), cut); err != nil {
			t.Fatal(err)
		}
		var goodEnd int64
		want := seqsOf(frames, func(s, i int) bool {
			if s < last {
				return true
			}
			if frames[s][i].end <= cut {
				goodEnd = frames[s][i].end
				return true
			}
			return false
		})
		checkOpen(t, dir, want, uint64(cut-goodEnd), fmt.Sprintf("truncated at %d", cut))
	}
}

func TestPowerCutZeroTail(t *testing.T) {
	src := filepath.Join(t.TempDir(), "outbox")
	paths, frames := buildImage(t, src, 40)
	f, err := os.OpenFile(paths[len(paths)-1], os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(make([]byte, 4096)); err != nil {
		t.Fatal(err)
	}
	f.Close()
	checkOpen(t, src, seqsOf(frames, func(int, int) bool { return true }), 4096, "zero tail")
}

func TestPowerCutFlippedBytes(t *testing.T) {
	src := filepath.Join(t.TempDir(), "outbox")
	paths, frames := buildImage(t, src, 40)
	rng := rand.New(rand.NewPCG(4, 4))
	for trial := range 150 {
		dir := copyDir(t, src)
		s := rng.IntN(len(paths))
		fr := frames[s]
		size := fr[len(fr)-1].end
		off := rng.Int64N(size)
		path := filepath.Join(dir, filepath.Base(paths[s]))
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		b[off] ^= byte(1 + rng.IntN(255))
		if err := os.WriteFile(path, b, 0o640); err != nil {
			t.Fatal(err)
		}
		// Lost: the damaged record and the rest of its segment; later
		// segments are kept.
		var start int64
		for _, f := range fr {
			if f.off <= off && off < f.end {
				start = f.off
			}
		}
		want := seqsOf(frames, func(si, i int) bool { return si != s || frames[si][i].end <= start })
		checkOpen(t, dir, want, uint64(size-start), fmt.Sprintf("trial %d: flip in segment %d at %d", trial, s, off))
	}
}

func TestPowerCutStateSlots(t *testing.T) {
	src := filepath.Join(t.TempDir(), "outbox")
	o, err := Open(src, Options{})
	if err != nil {
		t.Fatal(err)
	}
	seqs := appendN(t, o, 10)
	drain(t, o, 10)
	ackAll(t, o, seqs[:4])
	if err := o.Close(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(src, stateFile))
	if err != nil {
		t.Fatal(err)
	}
	newest, _, _ := pickState(b)
	cases := []struct {
		name     string
		damage   func(b []byte)
		wantAck  func(acked uint64) bool
		wantNext func(next uint64) bool
	}{
		{"older slot torn", func(b []byte) { b[slotOffset(newest.gen+1)+10] ^= 0xff },
			func(a uint64) bool { return a == seqs[3] }, func(n uint64) bool { return n == seqs[9]+1 }},
		{"newest slot torn", func(b []byte) { b[slotOffset(newest.gen)+20] ^= 0xff },
			func(a uint64) bool { return a <= seqs[3] }, func(n uint64) bool { return n > seqs[9] }},
		{"both slots torn", func(b []byte) { b[5] ^= 1; b[stateSlotSize+30] ^= 1 },
			func(a uint64) bool { return a == 0 }, func(n uint64) bool { return n == seqs[9]+1 }},
		{"file cut short", func(b []byte) { clear(b[stateSlotSize:]) },
			func(a uint64) bool { return a <= seqs[3] }, func(n uint64) bool { return n > seqs[9] }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := copyDir(t, src)
			img := slices.Clone(b)
			c.damage(img)
			if err := os.WriteFile(filepath.Join(dir, stateFile), img, 0o640); err != nil {
				t.Fatal(err)
			}
			o, err := Open(dir, Options{})
			if err != nil {
				t.Fatalf("open refused: %v", err)
			}
			defer o.Close()
			st := o.Stats()
			if !c.wantAck(st.AckedSeq) || !c.wantNext(o.NextSeq()) {
				t.Fatalf("acked %d, next %d", st.AckedSeq, o.NextSeq())
			}
			var want []uint64
			for _, q := range seqs {
				if q > st.AckedSeq {
					want = append(want, q)
				}
			}
			wantSeqs(t, "records", drain(t, o, 100), want)
		})
	}
}
