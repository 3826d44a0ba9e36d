package outbox

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// SyncMode says when appended records are forced to the storage device.
type SyncMode int

const (
	// SyncGrouped fdatasyncs a record at most Options.SyncEvery after its
	// append, covering every record appended meanwhile with one device
	// flush, unless the broker has acknowledged it by then: a record the
	// broker has is left to the kernel's write-back.
	SyncGrouped SyncMode = iota
	// SyncAlways fdatasyncs every record before Append returns.
	SyncAlways
)

func (m SyncMode) String() string {
	switch m {
	case SyncGrouped:
		return "grouped"
	case SyncAlways:
		return "always"
	}
	return fmt.Sprintf("SyncMode(%d)", int(m))
}

// Defaults for the zero Options.
const (
	DefaultSegmentBytes = 4 << 20
	// DefaultMaxBytes holds about 900,000 typical readings (72 bytes each on
	// disk), seven weeks at one reading every 5 s.
	DefaultMaxBytes  = 64 << 20
	DefaultSyncEvery = time.Second
)

// seqReserve is how many seqs one synced state write reserves. Larger means
// fewer syncs at high rates and a larger seq gap after a crash; at one reading
// every 5 s it costs a sync about once a day.
const seqReserve = 1 << 14

// Options configures an Outbox. The zero value is the recommended setting.
type Options struct {
	// SegmentBytes rolls to a new segment file once the current one reaches
	// this size. Default 4 MiB; lowered to MaxBytes/4 if larger, so that
	// dropping the oldest segment never empties most of the backlog.
	SegmentBytes int64
	// MaxBytes caps the whole backlog on disk. When an append would pass it,
	// the oldest whole segments are dropped, counted in Stats.Dropped and
	// logged. Default DefaultMaxBytes.
	MaxBytes int64
	// Sync is SyncGrouped (default) or SyncAlways.
	Sync SyncMode
	// SyncEvery is, with SyncGrouped, the longest time between an append and
	// the fdatasync that makes it durable (if it is not acknowledged by
	// then), and in both modes the shortest time between two of the sync
	// goroutine's flushes. Default 1 s.
	SyncEvery time.Duration
	// Logger receives damage, drop and sync-failure reports. Nil discards
	// them. The Outbox adds no component tag; the caller does.
	Logger *slog.Logger

	// syncFile forces a file's data to the device; nil is datasync. Tests
	// count syncs with it.
	syncFile func(*os.File) error
}

func (o Options) withDefaults() (Options, error) {
	if o.SegmentBytes < 0 || o.MaxBytes < 0 || o.SyncEvery < 0 {
		return o, errors.New("outbox: negative SegmentBytes, MaxBytes or SyncEvery")
	}
	if o.Sync != SyncGrouped && o.Sync != SyncAlways {
		return o, fmt.Errorf("outbox: unknown sync mode %d", int(o.Sync))
	}
	if o.SegmentBytes == 0 {
		o.SegmentBytes = DefaultSegmentBytes
	}
	if o.MaxBytes == 0 {
		o.MaxBytes = DefaultMaxBytes
	}
	o.SegmentBytes = max(1, min(o.SegmentBytes, o.MaxBytes/4))
	if o.SyncEvery == 0 {
		o.SyncEvery = DefaultSyncEvery
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.syncFile == nil {
		o.syncFile = datasync
	}
	return o, nil
}

// ErrClosed is returned by calls on a closed Outbox.
var ErrClosed = errors.New("outbox: closed")

// errLocked says another process holds the outbox directory.
var errLocked = errors.New("locked by another process")

// Record is one stored reading.
type Record struct {
	Seq     uint64
	Payload []byte
}

// Stats describes the backlog.
type Stats struct {
	Pending      int64  // records after the ack position, delivered or not
	PendingBytes int64  // their size on disk, headers included
	Segments     int    // segment files
	Dropped      uint64 // unacknowledged records dropped by the MaxBytes cap since Open
	// Damaged is the number of bytes of damaged data cut since Open (at Open,
	// a torn or corrupt tail; later, corruption found while reading). It
	// counts bytes because a damaged length field makes the number of lost
	// records unknowable; the log says which seqs the cut lies between.
	Damaged  uint64
	LastSeq  uint64 // seq of the newest record appended (after a crash, the newest found on disk); 0 if none
	AckedSeq uint64 // every record with a seq up to this is acknowledged
}

// inflight is a record delivered by Next and not yet inside the contiguous
// acknowledged prefix.
type inflight struct {
	seq   uint64
	at    pos
	n     int64
	acked bool
}

// Outbox is a durable FIFO of records on disk. Its methods are safe for
// concurrent use; typically one goroutine appends and one publishes.
type Outbox struct {
	dir  string
	opts Options
	log  *slog.Logger

	// syncMu serialises flushes and Close; it is taken before mu, and held
	// while fdatasync runs so that mu is not, letting appends proceed.
	syncMu sync.Mutex
	closed bool // files closed; guarded by syncMu and mu

	mu       sync.Mutex
	closing  bool // no more calls accepted
	dirF     *os.File
	stateF   *os.File
	st       state  // last state written (not necessarily synced)
	stSynced uint64 // the ack position last synced (or found at Open)
	stStale  bool   // the in-memory ack position could not be written
	stDirty  bool   // state written since the last sync
	segDirty bool   // records written since the last sync
	dirDirty bool   // files created or removed since the last directory sync
	segs     []*segment
	cur      *segment // segment being appended to; always the last of segs
	wf       *os.File
	retired  []*os.File // previous write files, to sync and close
	total    int64      // bytes of all segments
	next     uint64
	ceiling  uint64
	lastSeq  uint64
	acked    uint64
	ackPos   pos // the first record after the ack position
	cursor   pos // the next record Next returns
	dq       []inflight
	rd       *reader
	scratch  []byte
	dropped  uint64
	damaged  uint64
	reserve  uint64 // seqs per reservation; tests lower it
	// writeAt writes a record; tests replace it to inject write failures.
	writeAt func(f *os.File, b []byte, off int64) (int, error)

	appended chan struct{}
	kick     chan struct{} // a change to sync within SyncEvery
	ackKick  chan struct{} // an ack: sync as soon as SyncEvery allows
	flushes  atomic.Uint64 // by syncLoop, for tests
	stop     chan struct{}
	done     chan struct{}
}

// Open opens the outbox in dir, creating dir if needed, and starts its sync
// goroutine. Damaged data never stops it: a torn or corrupt record cuts its
// segment there, and the loss is counted in Stats.Damaged and logged. Only
// I/O errors (permissions, dir not being a directory, a full or read-only
// file system, another process holding dir) fail it.
func Open(dir string, opts Options) (*Outbox, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, ioError("create directory", dir, err)
	}
	dirF, err := os.Open(dir)
	if err != nil {
		return nil, ioError("open directory", dir, err)
	}
	if err := lockDir(dirF); err != nil {
		dirF.Close()
		if errors.Is(err, errLocked) {
			return nil, fmt.Errorf("outbox: %s is in use by another process: stop it, or give each process its own directory", dir)
		}
		return nil, ioError("lock", dir, err)
	}
	o := &Outbox{
		dir:      dir,
		opts:     opts,
		log:      opts.Logger,
		dirF:     dirF,
		rd:       newReader(),
		reserve:  seqReserve,
		writeAt:  (*os.File).WriteAt,
		appended: make(chan struct{}, 1),
		kick:     make(chan struct{}, 1),
		ackKick:  make(chan struct{}, 1),
		stop:     make(chan struct{}),
		done:     make(chan struct{}),
	}
	if err := o.load(); err != nil {
		o.closeFiles()
		return nil, err
	}
	go o.syncLoop()
	return o, nil
}

// ioError adds what an operator can do to the error of a failed file operation.
func ioError(op, path string, err error) error {
	hint := ""
	switch {
	case errors.Is(err, os.ErrPermission):
		hint = ": give the daemon's user write access to the outbox directory"
	case errors.Is(err, syscall.ENOTDIR):
		hint = ": the outbox path, or a parent of it, is not a directory; point it at a directory"
	case errors.Is(err, syscall.EROFS):
		hint = ": the file system is read-only; put the outbox on writable storage"
	case errors.Is(err, syscall.ENOSPC):
		hint = ": the file system is full; free some space"
	}
	return fmt.Errorf("outbox: %s %s: %w%s", op, path, err, hint)
}

// load reads the state file and scans every segment, cutting damage, then
// positions the cursors. It runs before the sync goroutine exists.
func (o *Outbox) load() error {
	statePath := filepath.Join(o.dir, stateFile)
	_, serr := os.Lstat(statePath)
	sf, err := os.OpenFile(statePath, os.O_RDWR|os.O_CREATE, 0o640)
	if err != nil {
		return ioError("open", statePath, err)
	}
	o.stateF = sf
	if errors.Is(serr, os.ErrNotExist) {
		o.dirDirty = true
	}
	buf := make([]byte, 2*stateSlotSize)
	n, err := sf.ReadAt(buf, 0)
	if err != nil && !errors.Is(err, io.EOF) {
		return ioError("read", statePath, err)
	}
	st, valid, nonEmpty := pickState(buf[:n])
	if valid == 0 && nonEmpty {
		o.log.Warn("ack position unreadable, starting from the oldest record: acknowledged records may be sent again", "file", statePath)
	}
	o.st, o.acked, o.ceiling, o.stSynced = st, st.acked, st.ceiling, st.acked

	segs, err := listSegments(o.dir)
	if err != nil {
		return ioError("list", o.dir, err)
	}
	var prev uint64 // seq of the last good record so far
	var ackPos *pos
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
			return ioError("read", seg.path, err)
		}
		if res.why != nil {
			if err := os.Truncate(seg.path, res.good); err != nil {
				return ioError("cut damaged records in", seg.path, err)
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
	o.rd.close()

	// Segments fully acknowledged (their deletion did not happen before the
	// last stop) or left empty go now; the last one stays as the write target.
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

	o.lastSeq = prev
	if st.clean && st.ceiling > 0 {
		// A clean stop knows the last seq even when its record is gone.
		o.lastSeq = max(prev, st.ceiling-1)
	}
	o.next = max(1, prev+1, o.acked+1, st.ceiling)
	if valid > 0 && !st.clean {
		o.log.Warn("previous run did not close cleanly; seqs resume past the last reservation, so the gap is not a loss",
			"last_seq", prev, "next_seq", o.next)
	}

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

// Stats returns the current counters.
func (o *Outbox) Stats() Stats {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.statsLocked()
}

func (o *Outbox) statsLocked() Stats {
	s := Stats{Segments: len(o.segs), Dropped: o.dropped, Damaged: o.damaged, LastSeq: o.lastSeq, AckedSeq: o.acked}
	for _, seg := range o.segs {
		s.Pending += seg.count - seg.ackedN
		s.PendingBytes += seg.size - seg.ackedBytes
	}
	return s
}

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

// Close stops the sync goroutine, syncs everything and records the exact
// next seq, so that the next Open continues without a gap. Calls after Close
// return ErrClosed; Close itself may be called again.
func (o *Outbox) Close() error {
	o.mu.Lock()
	if o.closing {
		o.mu.Unlock()
		return nil
	}
	o.closing = true
	o.mu.Unlock()
	close(o.stop)
	<-o.done

	o.syncMu.Lock()
	defer o.syncMu.Unlock()
	errs := []error{o.flush(true)}
	o.mu.Lock()
	defer o.mu.Unlock()
	st := o.st
	st.acked = o.acked
	st.ceiling = o.next
	st.clean = true
	if err := o.writeState(st); err != nil {
		errs = append(errs, fmt.Errorf("outbox: close: write clean-shutdown mark: %w", err))
	} else if err := o.opts.syncFile(o.stateF); err != nil {
		errs = append(errs, fmt.Errorf("outbox: close: sync clean-shutdown mark: %w", err))
	}
	o.closeFiles()
	o.closed = true
	return errors.Join(errs...)
}

// closeFiles closes every file the outbox holds; the directory's lock goes
// with its descriptor.
func (o *Outbox) closeFiles() {
	for _, f := range o.retired {
		f.Close()
	}
	o.retired = nil
	for _, f := range []*os.File{o.wf, o.stateF, o.dirF} {
		if f != nil {
			f.Close()
		}
	}
	o.rd.close()
}
