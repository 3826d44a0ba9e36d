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
// (acknowledged segments disappear without Sync) and that Close stops it.
func TestGroupedSyncRuns(t *testing.T) {
	goroutines := runtime.NumGoroutine()
	dir := filepath.Join(t.TempDir(), "outbox")
	o, err := Open(dir, Options{SegmentBytes: 300, SyncEvery: 10 * time.Millisecond})
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

// TestAckSyncsAtOnce: an append alone waits for SyncEvery; the ack that
// follows it flushes at once, covering both, when the last flush is SyncEvery
// old; a second ack within SyncEvery waits. (A connected device's reading and
// its ack then share one wake-up.)
func TestAckSyncsAtOnce(t *testing.T) {
	o := mustOpen(t, filepath.Join(t.TempDir(), "outbox"), Options{SyncEvery: time.Hour})
	flushes := func(want uint64, what string) {
		t.Helper()
		waitFlushes(t, o, want, what)
		time.Sleep(20 * time.Millisecond) // room for a flush that should not come
		if got := o.flushes.Load(); got != want {
			t.Fatalf("%s: %d flushes, want %d", what, got, want)
		}
	}
	first := appendN(t, o, 1)
	flushes(0, "after an append")
	drain(t, o, 10)
	ackAll(t, o, first)
	flushes(1, "after its ack")
	second := appendN(t, o, 1)
	drain(t, o, 10)
	ackAll(t, o, second)
	flushes(1, "after a second ack within SyncEvery")
	if err := o.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestSyncWithoutAck: an append that is never acknowledged is flushed
// SyncEvery later, and an ack that comes within SyncEvery of that flush is
// flushed when SyncEvery has passed, not forgotten.
func TestSyncWithoutAck(t *testing.T) {
	o := mustOpen(t, filepath.Join(t.TempDir(), "outbox"), Options{SyncEvery: 20 * time.Millisecond})
	seqs := appendN(t, o, 1)
	waitFlushes(t, o, 1, "an append alone")
	drain(t, o, 10)
	ackAll(t, o, seqs)
	waitFlushes(t, o, 2, "its ack, after the append's flush")
	if err := o.Close(); err != nil {
		t.Fatal(err)
	}
}

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
	c := mustOpen(t, img, Options{Logger: slog.New(rec)})
	if got := c.NextSeq(); got <= published[19] {
		t.Fatalf("NextSeq %d after a power cut: seqs up to %d were published", got, published[19])
	}
	wantSeqs(t, "records", drain(t, c, 10), synced)
	if rec.find("previous run did not close cleanly; seqs resume past the last reservation, so the gap is not a loss") == nil {
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
