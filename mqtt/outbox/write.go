package outbox

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
)

// NextSeq returns the seq the next Append must carry at least. It never goes
// back, across Close and Open, crashes and power cuts.
func (o *Outbox) NextSeq() uint64 {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.next
}

// Append stores one record. seq must be at least NextSeq(); gaps are allowed.
// When Append returns nil the record is in the operating system (it survives
// a crash of this process) and, with SyncAlways, on the device. When it
// returns an error the record is not stored and NextSeq is unchanged, so the
// caller may retry, for instance once a full disk has room again (the cap may
// still have dropped old segments to make room).
func (o *Outbox) Append(seq uint64, payload []byte) error {
	if len(payload) > MaxPayload {
		return fmt.Errorf("outbox: append seq %d: payload of %d bytes is over the %d-byte limit", seq, len(payload), MaxPayload)
	}
	fl := frameLen(len(payload))
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closing {
		return ErrClosed
	}
	if seq < o.next {
		return fmt.Errorf("outbox: append seq %d: below NextSeq %d; seqs only grow", seq, o.next)
	}
	if seq == math.MaxUint64 {
		return fmt.Errorf("outbox: append seq %d: seq space exhausted", seq)
	}
	if fl > o.opts.MaxBytes {
		return fmt.Errorf("outbox: append seq %d: a %d-byte record does not fit in MaxBytes %d", seq, fl, o.opts.MaxBytes)
	}
	if seq >= o.ceiling {
		if err := o.reserveSeqs(seq); err != nil {
			return fmt.Errorf("outbox: append seq %d: reserve seqs: %w", seq, err)
		}
	}
	if err := o.makeRoom(fl, seq); err != nil {
		return fmt.Errorf("outbox: append seq %d: %w", seq, err)
	}
	o.scratch = appendRecord(o.scratch[:0], seq, payload)
	if _, err := o.writeAt(o.wf, o.scratch, o.cur.size); err != nil {
		o.undoWrite()
		return fmt.Errorf("outbox: append seq %d: %w", seq, err)
	}
	if o.opts.Sync == SyncAlways {
		if err := o.opts.syncFile(o.wf); err != nil {
			o.undoWrite()
			return fmt.Errorf("outbox: append seq %d: %w", seq, err)
		}
	} else {
		o.segDirty = true
		o.kickSync()
	}
	o.cur.size += fl
	o.cur.count++
	o.cur.last = seq
	o.total += fl
	o.next = seq + 1
	o.lastSeq = seq
	select {
	case o.appended <- struct{}{}:
	default:
	}
	return nil
}

// undoWrite removes whatever a failed write left past the last good record.
// If even that fails the bytes stay, unreachable: readers stop at the
// segment's known size, the next write overwrites them, and an Open after a
// crash cuts them as a torn tail.
func (o *Outbox) undoWrite() {
	if err := o.wf.Truncate(o.cur.size); err != nil {
		o.log.Warn("could not remove a failed write", "segment", filepath.Base(o.cur.path), "err", err)
	}
}

// reserveSeqs persists, synced, a ceiling above seq before seq is used, so
// that no run after a power cut can hand out a seq that may have left the
// device. It also clears the clean-shutdown mark.
func (o *Outbox) reserveSeqs(seq uint64) error {
	st := o.st
	st.acked = o.acked
	st.ceiling = seq + 1 + min(o.reserve, math.MaxUint64-seq-1)
	st.clean = false
	if err := o.writeState(st); err != nil {
		return err
	}
	if err := o.opts.syncFile(o.stateF); err != nil {
		return err
	}
	o.stDirty = false
	o.stSynced = max(o.stSynced, st.acked)
	o.ceiling = st.ceiling
	return nil
}

// writeState writes st as the next generation into the older slot. The write
// lands in the page cache: it survives a process crash at once, and a power
// cut after a sync or the kernel's write-back. The caller decides whether it
// needs a sync.
func (o *Outbox) writeState(st state) error {
	st.gen = o.st.gen + 1
	st.boot = o.boot
	if _, err := o.stateF.WriteAt(st.encode(), slotOffset(st.gen)); err != nil {
		return err
	}
	o.st = st
	o.stDirty = true
	return nil
}

// writeAck records the in-memory ack position in the state file.
func (o *Outbox) writeAck() error {
	st := o.st
	st.acked = o.acked
	if err := o.writeState(st); err != nil {
		o.stStale = true
		o.kickSync()
		return err
	}
	o.stStale = false
	return nil
}

// makeRoom rolls the segment when it is full and drops the oldest segments
// while the record would push the backlog past MaxBytes.
func (o *Outbox) makeRoom(fl int64, seq uint64) error {
	needRoll := o.cur.size > 0 && o.cur.size >= o.opts.SegmentBytes
	if o.total+fl > o.opts.MaxBytes {
		o.dropOldest(fl)
		if o.total+fl > o.opts.MaxBytes && o.cur.size > 0 {
			needRoll = true // only the current segment is left: start afresh
		}
	}
	if needRoll {
		if err := o.roll(seq); err != nil {
			return ioError("create segment in", o.dir, err)
		}
		o.dropOldest(fl)
	}
	return nil
}

// roll starts a new segment named for seq.
func (o *Outbox) roll(seq uint64) error {
	path := filepath.Join(o.dir, segName(seq))
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o640)
	if err != nil {
		return err
	}
	if o.opts.Sync == SyncAlways {
		// The new file must be findable after a power cut before any
		// record in it counts as durable.
		if err := o.dirF.Sync(); err != nil {
			f.Close()
			os.Remove(path)
			return err
		}
	} else {
		o.dirDirty = true
	}
	if o.wf != nil {
		o.retired = append(o.retired, o.wf)
		o.kickSync()
	}
	o.wf = f
	o.cur = &segment{path: path, first: seq}
	o.segs = append(o.segs, o.cur)
	return nil
}

// dropOldest drops the oldest segments (never the current one) while the
// backlog plus extra bytes is over MaxBytes.
func (o *Outbox) dropOldest(extra int64) {
	for o.total+extra > o.opts.MaxBytes && len(o.segs) > 1 {
		o.drop(o.segs[0])
	}
}

// drop removes the oldest segment, with its unacknowledged records, and
// moves the ack position past it.
func (o *Outbox) drop(seg *segment) {
	lost := seg.count - seg.ackedN
	for _, e := range o.dq {
		if e.at.seg == seg && e.acked {
			lost-- // acknowledged out of order: delivered, so not lost
		}
	}
	if err := os.Remove(seg.path); err != nil {
		o.log.Error("could not remove a dropped segment", "segment", filepath.Base(seg.path), "err", err)
	}
	o.dirDirty = true
	o.kickSync()
	o.segs = o.segs[1:]
	o.total -= seg.size
	if lost > 0 {
		o.dropped += uint64(lost)
		o.log.Warn("backlog over MaxBytes: dropped the oldest unacknowledged records",
			"records", lost, "up_to_seq", seg.last, "bytes", seg.size, "max_bytes", o.opts.MaxBytes, "dropped_total", o.dropped)
	}
	i := 0
	for i < len(o.dq) && o.dq[i].at.seg == seg {
		i++
	}
	o.dq = o.dq[i:]
	o.forget(seg)
	if seg.last > o.acked {
		o.acked = seg.last
		o.advance()
		if err := o.writeAck(); err != nil {
			o.log.Error("could not record the ack position", "err", err)
		}
	}
}

// forget moves positions and the reader off a segment that is going away.
func (o *Outbox) forget(seg *segment) {
	if o.ackPos.seg == seg {
		o.ackPos = pos{o.segs[0], 0}
	}
	if o.cursor.seg == seg {
		o.cursor = pos{o.segs[0], 0}
	}
	if o.rd.seg == seg {
		o.rd.close()
	}
}
