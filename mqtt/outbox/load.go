package outbox

import (
	"errors"
	"io"
	"os"
	"path/filepath"
)

// load reads the state file and scans every segment, cutting damage, then
// positions the cursors. It runs before the sync goroutine exists.
func (o *Outbox) load() error {
	if id, err := o.opts.BootID(); err != nil {
		o.log.Warn("the machine's boot id is unknown: after a crash seqs skip ahead as after a power cut", "err", err)
	} else {
		o.boot = parseBootID(id)
	}
	st, valid, err := o.loadState()
	if err != nil {
		return err
	}
	segs, err := listSegments(o.dir)
	if err != nil {
		return ioError("list", o.dir, err)
	}
	prev, ackPos, err := o.scanSegments(segs)
	if err != nil {
		return err
	}
	if err := o.keepSegments(segs); err != nil {
		return err
	}

	o.lastSeq = prev
	o.next = max(1, prev+1, o.acked+1)
	switch {
	case st.clean && st.ceiling > 0:
		// A clean stop knows the last seq even when its record is gone.
		o.lastSeq = max(prev, st.ceiling-1)
		o.next = max(o.next, st.ceiling)
	case valid > 0 && st.boot != (bootID{}) && st.boot == o.boot:
		// The process crashed and the machine stayed up: every record and
		// ack it wrote is in the page cache, so the last stored seq is the
		// last handed out. Continue right after it, with no gap.
		o.log.Warn("previous run did not close cleanly, the machine stayed up: seqs continue after the last stored one",
			"last_seq", prev, "next_seq", o.next)
	case valid > 0:
		// A power cut or reboot: records published from the page cache may
		// be lost here, and their seqs must never be reused.
		o.next = max(o.next, st.ceiling)
		o.log.Warn("previous run did not close cleanly and the machine restarted since; seqs resume past the last reservation, so the gap is not a loss",
			"last_seq", prev, "next_seq", o.next)
	}
	if err := o.openTail(ackPos); err != nil {
		return err
	}
	o.dropOldest(0)
	if o.dirDirty {
		if err := o.dirF.Sync(); err != nil {
			return ioError("sync", o.dir, err)
		}
		o.dirDirty = false
	}
	s := o.statsLocked()
	o.log.Info("outbox opened", "pending", s.Pending, "pending_bytes", s.PendingBytes,
		"segments", s.Segments, "next_seq", o.next, "acked_seq", o.acked, "damaged_bytes", o.damaged)
	return nil
}

// loadState opens the state file, creating it if needed, and reads the ack
// position and the seq reservation from its newest valid slot; valid counts
// the valid slots.
func (o *Outbox) loadState() (st state, valid int, err error) {
	statePath := filepath.Join(o.dir, stateFile)
	_, serr := os.Lstat(statePath)
	sf, err := os.OpenFile(statePath, os.O_RDWR|os.O_CREATE, 0o640)
	if err != nil {
		return st, 0, ioError("open", statePath, err)
	}
	o.stateF = sf
	if errors.Is(serr, os.ErrNotExist) {
		o.dirDirty = true
	}
	buf := make([]byte, 2*stateSlotSize)
	n, err := sf.ReadAt(buf, 0)
	if err != nil && !errors.Is(err, io.EOF) {
		return st, 0, ioError("read", statePath, err)
	}
	st, valid, nonEmpty := pickState(buf[:n])
	if valid == 0 && nonEmpty {
		o.log.Warn("ack position unreadable, starting from the oldest record: acknowledged records may be sent again", "file", statePath)
	}
	o.st, o.acked, o.ceiling, o.stSynced = st, st.acked, st.ceiling, st.acked
	return st, valid, nil
}

// scanSegments reads every record of segs, counting the acknowledged ones
// and cutting each segment at its first torn or corrupt record. It returns
// the seq of the last good record and the position of the first record
// after the ack position (nil when there is none).
func (o *Outbox) scanSegments(segs []*segment) (prev uint64, ackPos *pos, err error) {
	defer o.rd.close()
	for i, seg := range segs {
		res, err := scan(o.rd, seg, prev, func(seq uint64, off int64, n int) {
			if seq <= o.acked {
				seg.ackedN++
				seg.ackedBytes += int64(n)
			} else if ackPos == nil {
				ackPos = &pos{seg, off}
			}
		})
		if err != nil {
			return 0, nil, ioError("read", seg.path, err)
		}
		if res.why != nil {
			if err := os.Truncate(seg.path, res.good); err != nil {
				return 0, nil, ioError("cut damaged records in", seg.path, err)
			}
			lost := res.fileLen - res.good
			o.damaged += uint64(lost)
			args := []any{"segment", filepath.Base(seg.path), "offset", res.good, "bytes", lost,
				"reason", res.why.Error(), "lost_after_seq", max(prev, seg.last)}
			if i+1 < len(segs) {
				args = append(args, "lost_before_seq", segs[i+1].first)
			}
			o.log.Warn("cut damaged records", args...)
		}
		if seg.count > 0 {
			prev = seg.last
		}
	}
	return prev, ackPos, nil
}

// keepSegments keeps the segments with records still to send. Those fully
// acknowledged (their deletion did not happen before the last stop) or left
// empty go now; the last one stays as the write target.
func (o *Outbox) keepSegments(segs []*segment) error {
	for i, seg := range segs {
		if i < len(segs)-1 && (seg.count == 0 || seg.last <= o.acked) {
			if err := os.Remove(seg.path); err != nil {
				return ioError("remove", seg.path, err)
			}
			o.dirDirty = true
			continue
		}
		o.segs = append(o.segs, seg)
		o.total += seg.size
	}
	return nil
}

// openTail opens the segment appends go to, creating the first one in an
// empty outbox, and puts the ack position and the send cursor at ackPos, or
// at the end when nothing is unacknowledged.
func (o *Outbox) openTail(ackPos *pos) error {
	if len(o.segs) == 0 {
		if err := o.roll(o.next); err != nil {
			return ioError("create segment in", o.dir, err)
		}
	} else {
		o.cur = o.segs[len(o.segs)-1]
		wf, err := os.OpenFile(o.cur.path, os.O_RDWR, 0)
		if err != nil {
			return ioError("open", o.cur.path, err)
		}
		o.wf = wf
	}
	if ackPos == nil {
		ackPos = &pos{o.cur, o.cur.size}
	}
	o.ackPos, o.cursor = *ackPos, *ackPos
	return nil
}
