package outbox

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// logRecorder is a slog.Handler that keeps records for assertions.
type logRecorder struct {
	mu   sync.Mutex
	recs []slog.Record
}

func (h *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (h *logRecorder) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.recs = append(h.recs, r.Clone())
	return nil
}
func (h *logRecorder) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *logRecorder) WithGroup(string) slog.Handler      { return h }

// find returns the attributes of the first record with msg, or nil.
func (h *logRecorder) find(msg string) map[string]slog.Value {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, r := range h.recs {
		if r.Message == msg {
			m := map[string]slog.Value{}
			r.Attrs(func(a slog.Attr) bool { m[a.Key] = a.Value; return true })
			return m
		}
	}
	return nil
}

func mustOpen(t *testing.T, dir string, opts Options) *Outbox {
	t.Helper()
	o, err := Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { o.Close() })
	return o
}

func TestOpenErrors(t *testing.T) {
	base := t.TempDir()
	file := filepath.Join(base, "file")
	if err := os.WriteFile(file, nil, 0o640); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, dir, want string
	}{
		{"path is a file", file, "not a directory"},
		{"parent is a file", filepath.Join(file, "outbox"), "not a directory"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := Open(c.dir, Options{})
			if err == nil || !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), "outbox: ") {
				t.Fatalf("got %v, want an error saying %q", err, c.want)
			}
		})
	}
	t.Run("in use", func(t *testing.T) {
		dir := filepath.Join(base, "busy")
		mustOpen(t, dir, Options{})
		if _, err := Open(dir, Options{}); err == nil || !strings.Contains(err.Error(), "in use") {
			t.Fatalf("second open: %v", err)
		}
	})
	t.Run("no permission", func(t *testing.T) {
		if os.Geteuid() == 0 {
			t.Skip("root ignores permissions")
		}
		dir := filepath.Join(base, "ro")
		if err := os.Mkdir(dir, 0o500); err != nil {
			t.Fatal(err)
		}
		_, err := Open(dir, Options{})
		if err == nil || !errors.Is(err, os.ErrPermission) || !strings.Contains(err.Error(), "write access") {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("bad options", func(t *testing.T) {
		for _, opts := range []Options{{MaxBytes: -1}, {SegmentBytes: -1}, {SyncEvery: -1}, {Sync: 7}} {
			if _, err := Open(filepath.Join(base, "opts"), opts); err == nil {
				t.Errorf("%+v accepted", opts)
			}
		}
	})
}

func TestSegmentBytesFollowsSmallCap(t *testing.T) {
	o := mustOpen(t, t.TempDir(), Options{MaxBytes: 4096})
	if o.opts.SegmentBytes != 1024 {
		t.Fatalf("SegmentBytes %d with MaxBytes 4096", o.opts.SegmentBytes)
	}
}

// TestWriteFailureInjected fails writes with ENOSPC after storing part of
// the record, as a full disk can, in both sync modes and at a segment roll.
func TestWriteFailureInjected(t *testing.T) {
	for _, mode := range []SyncMode{SyncGrouped, SyncAlways} {
		t.Run(mode.String(), func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "outbox")
			o, err := Open(dir, Options{SegmentBytes: 400, Sync: mode})
			if err != nil {
				t.Fatal(err)
			}
			seqs := appendN(t, o, 12)
			full := true
			o.writeAt = func(f *os.File, b []byte, off int64) (int, error) {
				if full {
					f.WriteAt(b[:len(b)/2], off)
					return 0, &os.PathError{Op: "write", Path: f.Name(), Err: syscall.ENOSPC}
				}
				return f.WriteAt(b, off)
			}
			for range 3 {
				before := o.Stats()
				seq := o.NextSeq()
				err := o.Append(seq, reading(seq))
				if !errors.Is(err, syscall.ENOSPC) {
					t.Fatalf("append on a full disk: %v", err)
				}
				after := o.Stats()
				after.Segments = before.Segments // an empty new segment may stay, to be written next time
				if after != before || o.NextSeq() != seq {
					t.Fatalf("failed append changed the outbox: %+v -> %+v", before, after)
				}
			}
			got := drain(t, o, 5)
			wantSeqs(t, "while full", got, seqs)
			full = false
			more := appendN(t, o, 12)
			wantSeqs(t, "after space returns", drain(t, o, 5), more)
			if err := o.Close(); err != nil {
				t.Fatal(err)
			}
			o = mustOpen(t, dir, Options{SegmentBytes: 400})
			if st := o.Stats(); st.Damaged != 0 {
				t.Fatalf("reopen cut %d bytes", st.Damaged)
			}
			wantSeqs(t, "after reopen", drain(t, o, 100), append(seqs, more...))
		})
	}
}

func TestRewindSkipsOutOfOrderAcked(t *testing.T) {
	o := mustOpen(t, t.TempDir(), Options{})
	seqs := appendN(t, o, 6)
	drain(t, o, 10)
	ackAll(t, o, []uint64{seqs[0], seqs[2], seqs[3]})
	o.Rewind()
	wantSeqs(t, "redelivered", drain(t, o, 10), []uint64{seqs[1], seqs[4], seqs[5]})
	// Acks from before the rewind may overtake the redelivery.
	o.Rewind()
	recs, _ := o.Next(1)
	ackAll(t, o, []uint64{seqs[1], seqs[4]})
	wantSeqs(t, "after late acks", drain(t, o, 10), []uint64{seqs[5]})
	if recs[0].Seq != seqs[1] {
		t.Fatalf("first redelivered %d", recs[0].Seq)
	}
}

func TestAckOfUndeliveredSeq(t *testing.T) {
	o := mustOpen(t, t.TempDir(), Options{})
	seqs := appendN(t, o, 3)
	if err := o.Ack(seqs[1]); err == nil {
		t.Fatal("ack of a record Next never returned")
	}
	if err := o.Ack(999); err == nil {
		t.Fatal("ack of a seq never appended")
	}
}

// TestGroupedSyncRuns checks that the sync goroutine flushes on its own
// (acknowledged segments disappear without Sync, once the ack position is
// synced) and that Close stops it.
func TestGroupedSyncRuns(t *testing.T) {
	goroutines := runtime.NumGoroutine()
	dir := filepath.Join(t.TempDir(), "outbox")
	var c syncCounter
	o, err := Open(dir, Options{SegmentBytes: 300, SyncEvery: 10 * time.Millisecond, syncFile: c.sync})
	if err != nil {
		t.Fatal(err)
	}
	seqs := appendN(t, o, 100)
	drain(t, o, 100)
	ackAll(t, o, seqs)
	deadline := time.Now().Add(5 * time.Second)
	for o.Stats().Segments > 1 {
		if time.Now().After(deadline) {
			t.Fatalf("acknowledged segments still there: %+v", o.Stats())
		}
		time.Sleep(5 * time.Millisecond)
	}
	c.mu.Lock()
	if c.state < 2 {
		t.Errorf("segments deleted after %d state syncs: the seq reservation's, and the ack position's before the deletion", c.state)
	}
	c.mu.Unlock()
	if err := o.Close(); err != nil {
		t.Fatal(err)
	}
	for runtime.NumGoroutine() > goroutines {
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines after Close, %d before Open", runtime.NumGoroutine(), goroutines)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// syncCounter counts the outbox's device flushes of segment and state files.
type syncCounter struct {
	mu         sync.Mutex
	seg, state int
}

func (c *syncCounter) sync(f *os.File) error {
	c.mu.Lock()
	if strings.HasSuffix(f.Name(), segSuffix) {
		c.seg++
	} else {
		c.state++
	}
	c.mu.Unlock()
	return datasync(f)
}

// want fails the test unless the counts are seg and state.
func (c *syncCounter) want(t *testing.T, seg, state int, what string) {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.seg != seg || c.state != state {
		t.Fatalf("%s: %d segment and %d state syncs, want %d and %d", what, c.seg, c.state, seg, state)
	}
}

// TestAckedRecordsAreNotSynced: a record the broker acknowledged before its
// flush was due costs no device flush, neither of its segment nor of the ack
// position, and no flush of the sync goroutine at all (a connected device's
// reading costs one wake-up). Sync still makes everything durable.
func TestAckedRecordsAreNotSynced(t *testing.T) {
	var c syncCounter
	const every = time.Second // far longer than an append and its ack take
	o := mustOpen(t, filepath.Join(t.TempDir(), "outbox"), Options{SyncEvery: every, syncFile: c.sync})
	c.want(t, 0, 0, "after Open")
	for range 3 {
		seqs := appendN(t, o, 1)
		drain(t, o, 10)
		ackAll(t, o, seqs)
	}
	c.want(t, 0, 1, "after 3 acknowledged appends") // the first append's seq reservation
	time.Sleep(every + every/2)                     // room for a flush that should not come
	if n := o.flushes.Load(); n != 0 {
		t.Fatalf("%d flushes for acknowledged records, want none", n)
	}
	c.want(t, 0, 1, "after SyncEvery")
	if err := o.Sync(); err != nil {
		t.Fatal(err)
	}
	c.want(t, 1, 2, "after Sync")
}

// TestUnackedRecordIsSynced: a record not acknowledged is on the device
// SyncEvery after its append; its ack later is left to the kernel's
// write-back until Close.
func TestUnackedRecordIsSynced(t *testing.T) {
	var c syncCounter
	const every = 20 * time.Millisecond
	o := mustOpen(t, filepath.Join(t.TempDir(), "outbox"), Options{SyncEvery: every, syncFile: c.sync})
	seqs := appendN(t, o, 1)
	waitFlushes(t, o, 1, "an append alone")
	c.want(t, 1, 1, "after the flush") // the state sync is the seq reservation's
	drain(t, o, 10)
	ackAll(t, o, seqs)
	time.Sleep(5 * every)
	c.want(t, 1, 1, "after its ack")
	if err := o.Close(); err != nil {
		t.Fatal(err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.state < 2 {
		t.Fatalf("Close synced the state file %d times in all, want the clean mark synced", c.state)
	}
}

// TestPowerCutAfterDeliveredRecords cuts the power when the device holds
// only what was synced: records the broker acknowledged before their flush
// are gone, and must neither come back nor have their seqs reused; every
// record not acknowledged is there; records synced with them, and a stale
// ack position, only cost duplicates.
func TestPowerCutAfterDeliveredRecords(t *testing.T) {
	src := filepath.Join(t.TempDir(), "outbox")
	img := filepath.Join(t.TempDir(), "device")
	if err := os.Mkdir(img, 0o750); err != nil {
		t.Fatal(err)
	}
	// The device's copy of a file is its content at its last sync.
	var mu sync.Mutex
	onDevice := func(f *os.File) error {
		if err := datasync(f); err != nil {
			return err
		}
		mu.Lock()
		defer mu.Unlock()
		b, err := os.ReadFile(f.Name())
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(img, filepath.Base(f.Name())), b, 0o640)
	}
	const every = time.Second // far longer than an append and its ack take
	o := mustOpen(t, src, Options{SyncEvery: every, syncFile: onDevice})
	connected := func(n int) []uint64 { // append, deliver and ack each at once
		var seqs []uint64
		for range n {
			s := appendN(t, o, 1)
			drain(t, o, 10)
			ackAll(t, o, s)
			seqs = append(seqs, s...)
		}
		return seqs
	}
	offline := appendN(t, o, 5) // broker down: synced SyncEvery later
	waitFlushes(t, o, 1, "offline records")
	drain(t, o, 10)
	ackAll(t, o, offline)
	delivered := connected(20)
	unacked := appendN(t, o, 3) // published, no PUBACK yet
	waitFlushes(t, o, 2, "unacknowledged records")
	drain(t, o, 10)
	lost := connected(4) // never synced
	mu.Lock()
	c := mustOpen(t, img, Options{BootID: afterReboot})
	mu.Unlock()
	got := drain(t, c, 100)
	want := slices.Concat(offline, delivered, unacked) // the ack position on the device is the first one's
	wantSeqs(t, "records after the power cut", got, want)
	if next := c.NextSeq(); next <= lost[len(lost)-1] {
		t.Fatalf("NextSeq %d after the power cut: seqs up to %d were delivered", next, lost[len(lost)-1])
	}
}

// afterReboot is the BootID of a machine that restarted since the outbox
// was last written: a power cut, whose page cache is gone.
func afterReboot() (string, error) { return "6f1c2d3e-0000-4000-8000-000000000001", nil }

// waitFlushes waits until the sync goroutine has flushed want times.
func waitFlushes(t *testing.T, o *Outbox, want uint64, what string) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); o.flushes.Load() < want; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%s: %d flushes, want %d", what, o.flushes.Load(), want)
		}
	}
}

// TestUncleanOpenSkipsReservedSeqs builds what a power cut leaves under
// SyncGrouped: the segments as of the last sync, while records appended
// after it had already been published; the state file as written (its
// reservations are synced when made). Seqs must resume above every published
// one (a gap, never a reuse), and nothing synced may be lost.
func TestUncleanOpenSkipsReservedSeqs(t *testing.T) {
	rec := &logRecorder{}
	src := filepath.Join(t.TempDir(), "outbox")
	o := mustOpen(t, src, Options{})
	o.reserve = 8 // cross reservations after the snapshot too
	synced := appendN(t, o, 5)
	if err := o.Sync(); err != nil {
		t.Fatal(err)
	}
	img := copyDir(t, src)
	published := appendN(t, o, 20)
	drain(t, o, 100)
	if err := o.Sync(); err != nil {
		t.Fatal(err)
	}
	st, err := os.ReadFile(filepath.Join(src, stateFile))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(img, stateFile), st, 0o640); err != nil {
		t.Fatal(err)
	}
	c := mustOpen(t, img, Options{Logger: slog.New(rec), BootID: afterReboot})
	if got := c.NextSeq(); got <= published[19] {
		t.Fatalf("NextSeq %d after a power cut: seqs up to %d were published", got, published[19])
	}
	wantSeqs(t, "records", drain(t, c, 10), synced)
	if rec.find("previous run did not close cleanly and the machine restarted since; seqs resume past the last reservation, so the gap is not a loss") == nil {
		t.Fatal("unclean open not logged")
	}
}

func TestDamageIsLogged(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "outbox")
	o := mustOpen(t, dir, Options{})
	seqs := appendN(t, o, 5)
	o.Close()
	segs, _ := listSegments(dir)
	f, _ := os.OpenFile(segs[0].path, os.O_WRONLY|os.O_APPEND, 0)
	f.Write([]byte("torn"))
	f.Close()
	rec := &logRecorder{}
	o = mustOpen(t, dir, Options{Logger: slog.New(rec)})
	a := rec.find("cut damaged records")
	if a == nil || a["bytes"].Int64() != 4 || a["lost_after_seq"].Uint64() != seqs[4] {
		t.Fatalf("log attrs %v", a)
	}
	if o.Stats().Damaged != 4 {
		t.Fatalf("damaged %d", o.Stats().Damaged)
	}
}

// TestDamageFoundByNext corrupts a record after Open, under the running
// outbox: Next cuts there, counts it, and the outbox goes on.
func TestDamageFoundByNext(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "outbox")
	o := mustOpen(t, dir, Options{SegmentBytes: 400})
	seqs := appendN(t, o, 20)
	seg := o.segs[0]
	b, _ := os.ReadFile(seg.path)
	n := int(frameLen(len(reading(1))))
	b[2*n+headerLen] ^= 0xff // third record's seq
	os.WriteFile(seg.path, b, 0o640)
	got := drain(t, o, 100)
	if !slices.Equal(got[:2], seqs[:2]) || slices.Contains(got, seqs[2]) || got[len(got)-1] != seqs[19] {
		t.Fatalf("got %v", got)
	}
	st := o.Stats()
	if st.Damaged != uint64(len(b)-2*n) || st.Pending != int64(len(got)) {
		t.Fatalf("stats %+v after reading %d", st, len(got))
	}
	ackAll(t, o, got)
	if st := o.Stats(); st.Pending != 0 || st.AckedSeq != seqs[19] {
		t.Fatalf("stats after acks %+v", st)
	}
	more := appendN(t, o, 3)
	wantSeqs(t, "after", drain(t, o, 10), more)
}

func TestCloseIsDurableAndExact(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "outbox")
	o := mustOpen(t, dir, Options{})
	appendN(t, o, 3)
	if err := o.Close(); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(filepath.Join(dir, stateFile))
	st, valid, _ := pickState(b)
	if valid != 2 || !st.clean || st.ceiling != 4 {
		t.Fatalf("state after close %+v (%d valid slots)", st, valid)
	}
	if !bytes.Equal(b[slotOffset(st.gen):slotOffset(st.gen)+stateLen], st.encode()) {
		t.Fatal("newest slot not where expected")
	}
}
