package outbox

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// Sync makes everything appended and acknowledged so far durable now, and
// deletes the segments that are fully acknowledged.
func (o *Outbox) Sync() error {
	o.syncMu.Lock()
	defer o.syncMu.Unlock()
	if o.closed {
		return ErrClosed
	}
	return o.flush(true)
}

func (o *Outbox) kickSync() {
	select {
	case o.kick <- struct{}{}:
	default:
	}
}

// syncLoop is the grouped sync. An append arms a timer, and the flush when it
// fires covers every change meanwhile. An ack looks again at once: when the
// broker has acknowledged every record appended, nothing is left that must
// reach the device, and the timer is disarmed, so a connected device's
// reading costs no sync and no second wake-up. A record still
// unacknowledged keeps its timer. Other work an ack brings (a segment to
// delete) is flushed at once if the last flush is at least SyncEvery old, and
// otherwise when it becomes so. Flushes are never closer than SyncEvery. It
// sleeps while nothing changes, so an idle device does not wake up.
func (o *Outbox) syncLoop() {
	defer close(o.done)
	t := time.NewTimer(time.Hour)
	t.Stop()
	defer t.Stop()
	var last, due time.Time // the last flush's start; the armed flush (zero: none)
	arm := func(at time.Time) {
		if due.IsZero() || at.Before(due) {
			due = at
			t.Reset(time.Until(at))
		}
	}
	for {
		var fire <-chan time.Time
		if !due.IsZero() {
			fire = t.C
		}
		select {
		case <-o.stop:
			return
		case <-o.kick:
			if records, other := o.pending(); records || other { // not when an ack came first
				arm(time.Now().Add(o.opts.SyncEvery))
			}
			continue
		case <-o.ackKick:
			records, other := o.pending()
			if !records && !other {
				t.Stop()
				due = time.Time{}
				continue
			}
			if !other {
				continue
			}
			if next := last.Add(o.opts.SyncEvery); next.After(time.Now()) {
				arm(next)
				continue
			}
			t.Stop()
		case <-fire:
		}
		due = time.Time{}
		// The flush covers every change made before it, also those that
		// kicked meanwhile: without this, they would cost a second, empty
		// flush and a wake-up a second later.
		for _, c := range []chan struct{}{o.kick, o.ackKick} {
			select {
			case <-c:
			default:
			}
		}
		last = time.Now()
		o.syncMu.Lock()
		err := o.flush(false)
		o.syncMu.Unlock()
		o.flushes.Add(1)
		if err != nil {
			o.log.Error("sync failed: records and acks since the last good sync may not survive a power cut", "err", err)
		}
	}
}

// pending tells what work the grouped sync has (see flush): records not yet
// acknowledged to make durable, and other work.
func (o *Outbox) pending() (records, other bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.segDirty && o.unackedWritten(),
		o.stStale || len(o.retired) > 0 || o.dirDirty || o.removable()
}

// unackedWritten tells whether a record appended is not yet acknowledged.
// The broker has every record up to the ack position, so those need not
// reach the device; any record after it must.
func (o *Outbox) unackedWritten() bool { return o.lastSeq > o.acked }

// removable tells whether the oldest segment is fully acknowledged and can
// go once the ack position is on the device.
func (o *Outbox) removable() bool {
	return len(o.segs) > 1 && o.segs[0].last <= o.st.acked
}

// flush makes durable what must be, then deletes the segments the synced
// ack position covers. With force (Sync, Close) that is everything written.
// Otherwise it is the records not yet acknowledged (records the broker has
// confirmed are left to the kernel's write-back), rolled-over segments, the
// directory, and the ack position when a segment waits for it to be deleted.
// syncMu must be held; mu is taken only around the bookkeeping, never across
// a device flush.
func (o *Outbox) flush(force bool) error {
	var errs []error
	o.mu.Lock()
	if o.stStale {
		if err := o.writeAck(); err != nil {
			errs = append(errs, fmt.Errorf("outbox: write ack position: %w", err))
		}
	}
	retired := o.retired
	o.retired = nil
	var wf *os.File
	if o.segDirty && (force || o.unackedWritten()) {
		wf = o.wf
		o.segDirty = false
	}
	syncState := o.stDirty && (force || o.removable())
	if syncState {
		o.stDirty = false
	}
	dirDirty := o.dirDirty
	o.dirDirty = false
	ackedNow := o.st.acked
	o.mu.Unlock()

	// Older segments first: a power cut must not keep later records and lose
	// earlier ones, except by the torn tail that Open cuts.
	for _, f := range retired {
		if err := o.opts.syncFile(f); err != nil {
			errs = append(errs, err)
		}
		f.Close()
	}
	var failed bool
	if wf != nil {
		if err := o.opts.syncFile(wf); err != nil {
			errs = append(errs, err)
			failed = true
		}
	}
	var dirFailed bool
	if dirDirty {
		if err := o.dirF.Sync(); err != nil {
			errs = append(errs, err)
			dirFailed = true
		}
	}
	var stFailed bool
	if syncState {
		if err := o.opts.syncFile(o.stateF); err != nil {
			errs = append(errs, err)
			stFailed = true
		}
	}
	o.mu.Lock()
	o.segDirty = o.segDirty || failed
	o.dirDirty = o.dirDirty || dirFailed
	o.stDirty = o.stDirty || stFailed
	if syncState && !stFailed {
		o.stSynced = max(o.stSynced, ackedNow)
	}
	removed := o.removeAcked(o.stSynced)
	o.mu.Unlock()
	if removed {
		if err := o.dirF.Sync(); err != nil {
			errs = append(errs, err)
			o.mu.Lock()
			o.dirDirty = true
			o.mu.Unlock()
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("outbox: sync: %w", errors.Join(errs...))
	}
	return nil
}

// removeAcked deletes the oldest segments whose records are all at or
// before ackedDurable, an ack position already on the device.
func (o *Outbox) removeAcked(ackedDurable uint64) bool {
	removed := false
	for len(o.segs) > 1 && o.segs[0].last <= ackedDurable {
		seg := o.segs[0]
		if err := os.Remove(seg.path); err != nil && !errors.Is(err, os.ErrNotExist) {
			o.log.Error("could not remove an acknowledged segment", "segment", filepath.Base(seg.path), "err", err)
			break
		}
		o.segs = o.segs[1:]
		o.total -= seg.size
		o.forget(seg)
		removed = true
	}
	return removed
}
