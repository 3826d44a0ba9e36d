package outbox

import (
	"fmt"
	"testing"
)

// TestOldest: the oldest unacknowledged record, across segments, after
// acks in and out of order and after a reopen; none once all are acked.
// Asking moves no cursor: Next still returns what it would have.
func TestOldest(t *testing.T) {
	dir := t.TempDir()
	o := mustOpen(t, dir, Options{SegmentBytes: 128, MaxBytes: 1 << 20})
	if _, ok, err := o.Oldest(); ok || err != nil {
		t.Fatalf("empty outbox: Oldest ok=%t err=%v, want none", ok, err)
	}
	for i := 1; i <= 10; i++ {
		if err := o.Append(o.NextSeq(), fmt.Appendf(nil, "reading %d", i)); err != nil {
			t.Fatal(err)
		}
	}
	want := func(seq uint64) {
		t.Helper()
		r, ok, err := o.Oldest()
		if err != nil || !ok || r.Seq != seq || string(r.Payload) != fmt.Sprintf("reading %d", seq) {
			t.Fatalf("Oldest = %d %q ok=%t err=%v, want seq %d", r.Seq, r.Payload, ok, err, seq)
		}
	}
	want(1)
	recs, err := o.Next(4)
	if err != nil || len(recs) != 4 {
		t.Fatalf("Next(4) = %d records, %v", len(recs), err)
	}
	want(1) // delivered is not acknowledged
	o.Ack(2)
	want(1) // out of order: 1 still waits
	o.Ack(1)
	want(3)
	o.Ack(3)
	o.Ack(4)
	want(5) // in a later segment than the first
	if next, err := o.Next(1); err != nil || len(next) != 1 || next[0].Seq != 5 {
		t.Fatalf("Next after Oldest = %v, %v; want seq 5: Oldest must not move the cursor", next, err)
	}
	if err := o.Close(); err != nil {
		t.Fatal(err)
	}

	o = mustOpen(t, dir, Options{SegmentBytes: 128, MaxBytes: 1 << 20})
	want(5)
	recs, _ = o.Next(100)
	for _, r := range recs {
		o.Ack(r.Seq)
	}
	if r, ok, err := o.Oldest(); ok || err != nil {
		t.Fatalf("all acknowledged: Oldest = %d ok=%t err=%v, want none", r.Seq, ok, err)
	}
}
