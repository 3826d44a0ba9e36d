package outbox

import "fmt"

// Oldest returns a copy of the oldest record not yet acknowledged, the one
// the broker has waited for longest; ok is false when every record is
// acknowledged. It reads one record from disk (usually the page cache)
// under the outbox's lock, and moves no cursor: a metrics scrape may ask at
// any time without disturbing the sender.
func (o *Outbox) Oldest() (rec Record, ok bool, err error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closing {
		return Record{}, false, ErrClosed
	}
	p := o.ackPos
	for p.seg != nil && p.off >= p.seg.size {
		next := o.segAfter(p.seg)
		if next == nil {
			return Record{}, false, nil
		}
		p = pos{next, 0}
	}
	if p.seg == nil {
		return Record{}, false, nil
	}
	if err := o.rd.open(p.seg); err != nil {
		return Record{}, false, fmt.Errorf("outbox: oldest: %w", err)
	}
	seq, payload, _, err := o.rd.record(p.off, p.seg.size)
	if err != nil {
		// Damage is Next's to cut and report; here it only means no answer.
		return Record{}, false, fmt.Errorf("outbox: oldest: %w", err)
	}
	return Record{Seq: seq, Payload: append([]byte(nil), payload...)}, true, nil
}
