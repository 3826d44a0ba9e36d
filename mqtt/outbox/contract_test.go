package outbox

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"
)

// backlog is the contract of a durable outbox, as the publisher uses it.
// The suite below is written against it alone, so that any other
// implementation (an in-memory one for tests, a different file format) can
// be held to the same behaviour, as Telegraf's buffer_suite_test.go does for
// its memory and disk buffers.
type backlog interface {
	NextSeq() uint64
	Append(seq uint64, payload []byte) error
	Next(max int) ([]Record, error)
	Rewind()
	Ack(seq uint64) error
	Appended() <-chan struct{}
	Stats() Stats
	Sync() error
	Close() error
}

// opener opens the implementation under test on a directory it owns.
type opener func(dir string, opts Options) (backlog, error)

func TestContract(t *testing.T) {
	for _, mode := range []SyncMode{SyncGrouped, SyncAlways} {
		t.Run(mode.String(), func(t *testing.T) {
			runContract(t, func(dir string, opts Options) (backlog, error) {
				opts.Sync = mode
				o, err := Open(dir, opts)
				if err != nil {
					return nil, err // not a typed nil in the interface
				}
				return o, nil
			})
		})
	}
}

// suite holds one contract case's directory and opener.
type suite struct {
	t    *testing.T
	dir  string
	open opener
}

func (s *suite) mustOpen(opts Options) backlog {
	s.t.Helper()
	b, err := s.open(s.dir, opts)
	if err != nil {
		s.t.Fatalf("open: %v", err)
	}
	s.t.Cleanup(func() { b.Close() })
	return b
}

// appendN appends n readings at NextSeq and returns their seqs.
func appendN(t *testing.T, b backlog, n int) []uint64 {
	t.Helper()
	var seqs []uint64
	for range n {
		seq := b.NextSeq()
		if err := b.Append(seq, reading(seq)); err != nil {
			t.Fatalf("append %d: %v", seq, err)
		}
		seqs = append(seqs, seq)
	}
	return seqs
}

// drain reads until caught up, checking payloads, and returns the seqs.
func drain(t *testing.T, b backlog, batch int) []uint64 {
	t.Helper()
	var seqs []uint64
	for {
		recs, err := b.Next(batch)
		if err != nil {
			t.Fatalf("next: %v", err)
		}
		if len(recs) == 0 {
			return seqs
		}
		if len(recs) > batch {
			t.Fatalf("next(%d) returned %d records", batch, len(recs))
		}
		for _, r := range recs {
			if !bytes.Equal(r.Payload, reading(r.Seq)) {
				t.Fatalf("seq %d: payload %q", r.Seq, r.Payload)
			}
			seqs = append(seqs, r.Seq)
		}
	}
}

func ackAll(t *testing.T, b backlog, seqs []uint64) {
	t.Helper()
	for _, s := range seqs {
		if err := b.Ack(s); err != nil {
			t.Fatalf("ack %d: %v", s, err)
		}
	}
}

func wantSeqs(t *testing.T, what string, got, want []uint64) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Fatalf("%s: got %v, want %v", what, got, want)
	}
}

// dirBytes sums the sizes of the files in dir.
func dirBytes(t *testing.T, dir string) int64 {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	for _, e := range ents {
		fi, err := e.Info()
		if err != nil {
			t.Fatal(err)
		}
		n += fi.Size()
	}
	return n
}

func runContract(t *testing.T, open opener) {
	small := Options{SegmentBytes: 512, MaxBytes: 1 << 20}
	cases := []struct {
		name string
		run  func(s *suite)
	}{
		{"EmptyOutbox", func(s *suite) {
			b := s.mustOpen(Options{})
			wantSeqs(s.t, "next", drain(s.t, b, 10), nil)
			if st := b.Stats(); st.Pending != 0 || st.PendingBytes != 0 || st.LastSeq != 0 || st.AckedSeq != 0 {
				s.t.Fatalf("stats %+v", st)
			}
			if b.NextSeq() == 0 {
				s.t.Fatal("NextSeq is 0; seqs start at 1")
			}
		}},
		{"AppendNextInOrder", func(s *suite) {
			b := s.mustOpen(small)
			seqs := appendN(s.t, b, 50)
			wantSeqs(s.t, "batches of 7", drain(s.t, b, 7), seqs)
			wantSeqs(s.t, "caught up", drain(s.t, b, 7), nil)
			more := appendN(s.t, b, 3)
			wantSeqs(s.t, "after more appends", drain(s.t, b, 7), more)
		}},
		{"NextZeroReturnsNothing", func(s *suite) {
			b := s.mustOpen(Options{})
			seqs := appendN(s.t, b, 3)
			if recs, err := b.Next(0); err != nil || len(recs) != 0 {
				s.t.Fatalf("Next(0) = %v, %v", recs, err)
			}
			wantSeqs(s.t, "next", drain(s.t, b, 10), seqs)
		}},
		{"SeqRules", func(s *suite) {
			b := s.mustOpen(Options{})
			appendN(s.t, b, 2)
			n := b.NextSeq()
			if err := b.Append(n-1, []byte("x")); err == nil {
				s.t.Fatal("append below NextSeq accepted")
			}
			if err := b.Append(n+10, reading(n+10)); err != nil {
				s.t.Fatalf("append with a gap: %v", err)
			}
			if got := b.NextSeq(); got != n+11 {
				s.t.Fatalf("NextSeq %d after appending %d", got, n+10)
			}
			if err := b.Append(n+5, []byte("x")); err == nil {
				s.t.Fatal("append into the gap accepted")
			}
			wantSeqs(s.t, "next", drain(s.t, b, 10), []uint64{1, 2, n + 10})
		}},
		{"PayloadLimit", func(s *suite) {
			b := s.mustOpen(Options{})
			if err := b.Append(b.NextSeq(), make([]byte, MaxPayload+1)); err == nil {
				s.t.Fatal("oversize payload accepted")
			}
			big := bytes.Repeat([]byte("x"), MaxPayload)
			seq := b.NextSeq()
			if err := b.Append(seq, big); err != nil {
				s.t.Fatalf("MaxPayload rejected: %v", err)
			}
			if err := b.Append(seq+1, nil); err != nil {
				s.t.Fatalf("empty payload rejected: %v", err)
			}
			recs, err := b.Next(10)
			if err != nil || len(recs) != 2 || !bytes.Equal(recs[0].Payload, big) || len(recs[1].Payload) != 0 {
				s.t.Fatalf("next: %d records, %v", len(recs), err)
			}
		}},
		{"RewindRedeliversUnacked", func(s *suite) {
			b := s.mustOpen(small)
			seqs := appendN(s.t, b, 30)
			got := drain(s.t, b, 8)
			ackAll(s.t, b, got[:12])
			b.Rewind()
			wantSeqs(s.t, "after rewind", drain(s.t, b, 5), seqs[12:])
			b.Rewind()
			wantSeqs(s.t, "second rewind", drain(s.t, b, 100), seqs[12:])
			ackAll(s.t, b, seqs[12:])
			b.Rewind()
			wantSeqs(s.t, "all acked", drain(s.t, b, 100), nil)
		}},
		{"OutOfOrderAcks", func(s *suite) {
			b := s.mustOpen(small)
			seqs := appendN(s.t, b, 6)
			drain(s.t, b, 10)
			ackAll(s.t, b, []uint64{seqs[2], seqs[1], seqs[4]})
			if st := b.Stats(); st.AckedSeq != 0 || st.Pending != 6 {
				s.t.Fatalf("prefix not acked yet: %+v", st)
			}
			ackAll(s.t, b, []uint64{seqs[0]})
			if st := b.Stats(); st.AckedSeq != seqs[2] || st.Pending != 3 {
				s.t.Fatalf("after acking the head: %+v", st)
			}
			b.Rewind()
			got := drain(s.t, b, 10)
			for _, want := range []uint64{seqs[3], seqs[5]} {
				if !slices.Contains(got, want) {
					s.t.Fatalf("rewind lost unacked %d: %v", want, got)
				}
			}
			if !slices.IsSorted(got) || got[0] <= seqs[2] {
				s.t.Fatalf("rewind delivered %v", got)
			}
		}},
		{"AckIsIdempotent", func(s *suite) {
			b := s.mustOpen(Options{})
			seqs := appendN(s.t, b, 3)
			drain(s.t, b, 10)
			ackAll(s.t, b, []uint64{seqs[0], seqs[0], seqs[2], seqs[2], seqs[1], seqs[0]})
			if st := b.Stats(); st.AckedSeq != seqs[2] || st.Pending != 0 || st.PendingBytes != 0 {
				s.t.Fatalf("stats %+v", st)
			}
		}},
		{"StatsCountPending", func(s *suite) {
			b := s.mustOpen(small)
			seqs := appendN(s.t, b, 20)
			var bytes int64
			for _, q := range seqs {
				bytes += frameLen(len(reading(q)))
			}
			st := b.Stats()
			if st.Pending != 20 || st.PendingBytes != bytes || st.LastSeq != seqs[19] || st.Segments < 2 {
				s.t.Fatalf("stats %+v, want 20 pending, %d bytes", st, bytes)
			}
			drain(s.t, b, 100)
			ackAll(s.t, b, seqs[:5])
			if st := b.Stats(); st.Pending != 15 || st.AckedSeq != seqs[4] {
				s.t.Fatalf("stats after 5 acks %+v", st)
			}
		}},
		{"ReopenKeepsUnackedAndAckPosition", func(s *suite) {
			b := s.mustOpen(small)
			seqs := appendN(s.t, b, 40)
			drain(s.t, b, 100)
			ackAll(s.t, b, seqs[:25])
			ackAll(s.t, b, seqs[30:32]) // out of order: not in the prefix
			if err := b.Close(); err != nil {
				s.t.Fatal(err)
			}
			b = s.mustOpen(small)
			if st := b.Stats(); st.AckedSeq != seqs[24] || st.LastSeq != seqs[39] {
				s.t.Fatalf("stats after reopen %+v", st)
			}
			got := drain(s.t, b, 9)
			wantSeqs(s.t, "unacked after reopen", got, seqs[25:])
		}},
		{"NextSeqSurvivesReopen", func(s *suite) {
			b := s.mustOpen(small)
			seqs := appendN(s.t, b, 20)
			drain(s.t, b, 100)
			ackAll(s.t, b, seqs)
			if err := b.Sync(); err != nil {
				s.t.Fatal(err)
			}
			if err := b.Close(); err != nil {
				s.t.Fatal(err)
			}
			b = s.mustOpen(small)
			if got := b.NextSeq(); got != seqs[19]+1 {
				s.t.Fatalf("NextSeq %d after a clean close at %d", got, seqs[19])
			}
			// A gap chosen by the caller is remembered too.
			if err := b.Append(1000, reading(1000)); err != nil {
				s.t.Fatal(err)
			}
			b.Close()
			b = s.mustOpen(small)
			if got := b.NextSeq(); got != 1001 {
				s.t.Fatalf("NextSeq %d, want 1001", got)
			}
		}},
		{"CapDropsOldest", func(s *suite) {
			opts := Options{SegmentBytes: 512, MaxBytes: 2048}
			b := s.mustOpen(opts)
			seqs := appendN(s.t, b, 200)
			st := b.Stats()
			if st.Dropped == 0 || st.PendingBytes > opts.MaxBytes {
				s.t.Fatalf("no drop: %+v", st)
			}
			if d := dirBytes(s.t, s.dir) - 2*4096; d > opts.MaxBytes+512 {
				s.t.Fatalf("%d bytes of segments on disk, cap %d", d, opts.MaxBytes)
			}
			got := drain(s.t, b, 50)
			if uint64(len(got))+st.Dropped != 200 || int64(len(got)) != st.Pending {
				s.t.Fatalf("kept %d, dropped %d, pending %d, of 200", len(got), st.Dropped, st.Pending)
			}
			wantSeqs(s.t, "kept are the newest", got, seqs[200-len(got):])
			// Acknowledged records are not counted as dropped.
			ackAll(s.t, b, got)
			appendN(s.t, b, 10)
			if st2 := b.Stats(); st2.Dropped != st.Dropped {
				s.t.Fatalf("dropping acknowledged records counted: %d -> %d", st.Dropped, st2.Dropped)
			}
		}},
		{"DropWhileInFlight", func(s *suite) {
			b := s.mustOpen(Options{SegmentBytes: 512, MaxBytes: 2048})
			seqs := appendN(s.t, b, 10)
			got := drain(s.t, b, 4)
			ackAll(s.t, b, got[1:3]) // out of order, head unacked
			appendN(s.t, b, 100)     // drops the in-flight records' segment
			for _, q := range got {
				if err := b.Ack(q); err != nil {
					s.t.Fatalf("late ack of dropped %d: %v", q, err)
				}
			}
			b.Rewind()
			rest := drain(s.t, b, 50)
			if len(rest) == 0 || rest[0] <= seqs[9] || !slices.IsSorted(rest) {
				s.t.Fatalf("after drop: %v", rest)
			}
		}},
		{"AckedSegmentsDeleted", func(s *suite) {
			b := s.mustOpen(small)
			seqs := appendN(s.t, b, 200)
			before := dirBytes(s.t, s.dir)
			drain(s.t, b, 64)
			ackAll(s.t, b, seqs)
			if err := b.Sync(); err != nil {
				s.t.Fatal(err)
			}
			after := dirBytes(s.t, s.dir)
			if before < 200*60 || after > 2*4096+512+128 {
				s.t.Fatalf("files hold %d bytes before acks, %d after", before, after)
			}
			if st := b.Stats(); st.Segments != 1 || st.Pending != 0 {
				s.t.Fatalf("stats %+v", st)
			}
			b.Close()
			b = s.mustOpen(small)
			wantSeqs(s.t, "after reopen", drain(s.t, b, 10), nil)
		}},
		{"AppendedSignals", func(s *suite) {
			b := s.mustOpen(Options{})
			select {
			case <-b.Appended():
				s.t.Fatal("signal before any append")
			default:
			}
			appendN(s.t, b, 3)
			select {
			case <-b.Appended():
			case <-time.After(time.Second):
				s.t.Fatal("no signal after append")
			}
		}},
		{"ConcurrentAppendAndPublish", func(s *suite) {
			b := s.mustOpen(small)
			const n = 3000
			var wg sync.WaitGroup
			wg.Go(func() {
				for range n {
					seq := b.NextSeq()
					if err := b.Append(seq, reading(seq)); err != nil {
						s.t.Errorf("append: %v", err)
						return
					}
				}
			})
			var got []uint64
			deadline := time.After(30 * time.Second)
			for len(got) < n {
				recs, err := b.Next(32)
				if err != nil {
					s.t.Fatal(err)
				}
				for _, r := range recs {
					got = append(got, r.Seq)
					if err := b.Ack(r.Seq); err != nil {
						s.t.Fatal(err)
					}
				}
				if len(recs) == 0 {
					select {
					case <-b.Appended():
					case <-time.After(10 * time.Millisecond):
					case <-deadline:
						s.t.Fatalf("got %d of %d", len(got), n)
					}
				}
			}
			wg.Wait()
			for i, q := range got {
				if q != uint64(i+1) {
					s.t.Fatalf("record %d has seq %d", i, q)
				}
			}
		}},
		{"ClosedRefusesCalls", func(s *suite) {
			b := s.mustOpen(Options{})
			appendN(s.t, b, 1)
			if err := b.Close(); err != nil {
				s.t.Fatal(err)
			}
			if err := b.Append(b.NextSeq(), []byte("x")); err == nil {
				s.t.Error("append after close")
			}
			if _, err := b.Next(1); err == nil {
				s.t.Error("next after close")
			}
			if err := b.Sync(); err == nil {
				s.t.Error("sync after close")
			}
			if err := b.Close(); err != nil {
				s.t.Errorf("second close: %v", err)
			}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.run(&suite{t: t, dir: filepath.Join(t.TempDir(), "outbox"), open: open})
		})
	}
}
