package outbox

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
)

// advance moves the ack position over the acknowledged front of dq.
func (o *Outbox) advance() bool {
	moved := false
	for len(o.dq) > 0 && o.dq[0].acked {
		e := o.dq[0]
		e.at.seg.ackedN++
		e.at.seg.ackedBytes += e.n
		o.acked = e.seq
		o.ackPos = pos{e.at.seg, e.at.off + e.n}
		o.dq = o.dq[1:]
		moved = true
	}
	if len(o.dq) == 0 {
		o.dq = nil // release a replay's worth of entries
	}
	return moved
}

// segAfter returns the segment after seg, or nil.
func (o *Outbox) segAfter(seg *segment) *segment {
	for i, s := range o.segs {
		if s == seg && i+1 < len(o.segs) {
			return o.segs[i+1]
		}
	}
	return nil
}

// findInflight returns the index in dq of seq.
func (o *Outbox) findInflight(seq uint64) (int, bool) {
	i := sort.Search(len(o.dq), func(i int) bool { return o.dq[i].seq >= seq })
	return i, i < len(o.dq) && o.dq[i].seq == seq
}

// Next returns up to limit records after the send cursor, in seq order, and
// advances the cursor past them; none when the cursor has caught up. Records
// acknowledged out of order are skipped on redelivery. The payloads are the
// caller's. Memory use is bounded by limit, not by the backlog.
func (o *Outbox) Next(limit int) ([]Record, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closing {
		return nil, ErrClosed
	}
	var out []Record
	var arena []byte
	for len(out) < limit {
		c := o.cursor
		if c.off >= c.seg.size {
			n := o.segAfter(c.seg)
			if n == nil {
				break
			}
			o.cursor = pos{n, 0}
			continue
		}
		if err := o.rd.open(c.seg); err != nil {
			if len(out) > 0 {
				break // the error comes back on the next call
			}
			return nil, fmt.Errorf("outbox: next: %w", err)
		}
		seq, payload, n, err := o.rd.record(c.off, c.seg.size)
		if err != nil {
			if isDamage(err) {
				o.cutLive(c.seg, c.off, err)
				continue
			}
			if len(out) > 0 {
				break
			}
			return nil, fmt.Errorf("outbox: next: read %s: %w", filepath.Base(c.seg.path), err)
		}
		o.cursor.off += int64(n)
		if seq <= o.acked {
			// Acks of an earlier delivery moved the ack position past a
			// cursor that a Rewind had put back.
			continue
		}
		if k := len(o.dq); k > 0 && seq <= o.dq[k-1].seq {
			// Redelivery after Rewind: dq already tracks it.
			if i, ok := o.findInflight(seq); ok && o.dq[i].acked {
				continue
			}
		} else {
			o.dq = append(o.dq, inflight{seq: seq, at: c, n: int64(n)})
		}
		if arena == nil {
			arena = make([]byte, 0, min(limit, 64)*(len(payload)+8))
		}
		start := len(arena)
		arena = append(arena, payload...)
		out = append(out, Record{Seq: seq, Payload: arena[start:len(arena):len(arena)]})
	}
	return out, nil
}

// cutLive handles damage found after Open (the device corrupted data it had
// accepted): the segment is cut at off, as Open would have done.
func (o *Outbox) cutLive(seg *segment, off int64, why error) {
	lost := seg.size - off
	o.damaged += uint64(lost)
	var err error
	if seg == o.cur {
		err = o.wf.Truncate(off)
	} else {
		err = os.Truncate(seg.path, off)
	}
	args := []any{"segment", filepath.Base(seg.path), "offset", off, "bytes", lost, "reason", why.Error()}
	if err != nil {
		args = append(args, "truncate_err", err)
	}
	o.log.Warn("cut damaged records", args...)
	o.total -= lost
	var before uint64
	for _, s := range o.segs {
		if s == seg {
			break
		}
		if s.count > 0 {
			before = s.last
		}
	}
	// Recount what is left; a segment is a few MB, and this is rare.
	seg.ackedN, seg.ackedBytes = 0, 0
	o.rd.invalidate()
	if _, err := scan(o.rd, seg, before, func(seq uint64, _ int64, n int) {
		if seq <= o.acked {
			seg.ackedN++
			seg.ackedBytes += int64(n)
		}
	}); err != nil || seg.size != off {
		seg.size = off // keep the cut even if the re-read disagrees
	}
	o.rd.invalidate()
	kept := o.dq[:0]
	for _, e := range o.dq {
		if e.at.seg != seg || e.at.off < off {
			kept = append(kept, e)
		}
	}
	o.dq = kept
	if o.cursor.seg == seg && o.cursor.off > off {
		o.cursor.off = off
	}
}

// Rewind moves the send cursor back to the oldest unacknowledged record, so
// that everything not acknowledged is delivered again. The publisher calls it
// on every reconnect.
func (o *Outbox) Rewind() {
	o.mu.Lock()
	defer o.mu.Unlock()
	if !o.closing {
		o.cursor = o.ackPos
	}
}

// Ack records that the broker confirmed the record with this seq. Acks may
// come in any order; the ack position advances over the contiguous
// acknowledged prefix and is written at once (surviving a process crash). It
// is synced when a segment is to be deleted, by Sync and by Close; otherwise
// the kernel's write-back takes it to the device, and a power cut before that
// sends the records again. Acking an acknowledged seq does nothing; acking a
// seq Next never delivered is an error.
func (o *Outbox) Ack(seq uint64) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closing {
		return ErrClosed
	}
	if seq <= o.acked {
		return nil
	}
	i, ok := o.findInflight(seq)
	if !ok {
		return fmt.Errorf("outbox: ack seq %d: no such record delivered by Next", seq)
	}
	if o.dq[i].acked {
		return nil
	}
	o.dq[i].acked = true
	if i != 0 || !o.advance() {
		return nil
	}
	if err := o.writeAck(); err != nil {
		return fmt.Errorf("outbox: ack seq %d: record the ack position (kept in memory, retried at the next sync): %w", seq, err)
	}
	select {
	case o.ackKick <- struct{}{}:
	default:
	}
	return nil
}

// Appended returns a channel that receives a value after each Append (it
// holds one at most, so a burst of appends wakes the reader once). It is
// never closed.
func (o *Outbox) Appended() <-chan struct{} { return o.appended }
