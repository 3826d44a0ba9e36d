package outbox

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
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
	// BootID returns the id of the running boot of the machine, which
	// tells a crash of the process (same boot: the page cache kept every
	// write) from a power cut or reboot. Nil reads the kernel's
	// (/proc/sys/kernel/random/boot_id on Linux; elsewhere unknown, and an
	// unclean stop always skips seqs). Tests set it to simulate a reboot.
	BootID func() (string, error)

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
	if o.BootID == nil {
		o.BootID = readBootID
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
	boot     bootID // this boot's id, written into every state; zero when unknown
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
