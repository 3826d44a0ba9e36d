package outbox

import (
	"bufio"
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The crash test runs a child process that appends and acknowledges as fast
// as it can and reports its progress through a pipe, one line per event,
// each written before (b, k) or after (a, K) the call it reports:
//
//	r N   opened; NextSeq is N
//	b N   about to append N
//	a N   Append(N) returned nil
//	k N   about to ack N
//	K N   Ack(N) returned nil
//	e msg something the child saw was wrong
//
// The parent kills it with SIGKILL at a random moment, reopens the outbox and
// checks what survived against the reports.

// crashOptions are small so that kills land around segment rolls, deletions
// and seq reservations, not only around record writes.
func crashOptions(mode SyncMode) Options {
	return Options{SegmentBytes: 1024, MaxBytes: 64 << 20, Sync: mode, SyncEvery: 2 * time.Millisecond}
}

func crashChild() int {
	w := os.NewFile(3, "progress")
	report := func(format string, args ...any) { fmt.Fprintf(w, format+"\n", args...) }
	mode := SyncGrouped
	if os.Getenv("OUTBOX_SYNC") == "always" {
		mode = SyncAlways
	}
	seed, _ := strconv.ParseUint(os.Getenv("OUTBOX_SEED"), 10, 64)
	o, err := Open(os.Getenv("OUTBOX_DIR"), crashOptions(mode))
	if err != nil {
		report("e open: %v", err)
		return 2
	}
	o.reserve = 64
	report("r %d", o.NextSeq())

	go func() { // the publisher
		rng := rand.New(rand.NewPCG(seed, 2))
		var held []uint64
		var last uint64
		for {
			recs, err := o.Next(1 + rng.IntN(16))
			if err != nil {
				report("e next: %v", err)
				return
			}
			for _, r := range recs {
				if r.Seq <= last {
					report("e next: seq %d after %d", r.Seq, last)
				}
				if !bytes.Equal(r.Payload, reading(r.Seq)) {
					report("e next: seq %d payload %q", r.Seq, r.Payload)
				}
				last = r.Seq
				held = append(held, r.Seq)
			}
			// Acknowledge in a shuffled order, keeping a window unacknowledged.
			rng.Shuffle(len(held), func(i, j int) { held[i], held[j] = held[j], held[i] })
			keep := rng.IntN(20)
			for len(held) > keep {
				q := held[len(held)-1]
				held = held[:len(held)-1]
				report("k %d", q)
				if err := o.Ack(q); err != nil {
					report("e ack %d: %v", q, err)
				}
				report("K %d", q)
			}
			if rng.IntN(40) == 0 { // a reconnect
				o.Rewind()
				held, last = nil, 0
			}
			if len(recs) == 0 {
				select {
				case <-o.Appended():
				case <-time.After(time.Millisecond):
				}
			}
		}
	}()

	for { // the appender
		seq := o.NextSeq()
		report("b %d", seq)
		if err := o.Append(seq, reading(seq)); err != nil {
			report("e append %d: %v", seq, err)
			return 2
		}
		report("a %d", seq)
	}
}

// crashModel is the parent's record of what the children reported.
type crashModel struct {
	appended  map[uint64]bool // Append returned
	ackIntent map[uint64]bool // Ack was called
	ackDone   map[uint64]bool // Ack returned, in the last run: out-of-order acks of earlier runs are forgotten
}

func TestCrashKill(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("needs SIGKILL and a pipe on fd 3")
	}
	const iterations = 100
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("OUTBOX_CRASH_SEED"); s != "" {
		seed, _ = strconv.ParseUint(s, 10, 64)
	}
	t.Logf("seed %d (set OUTBOX_CRASH_SEED to repeat)", seed)
	rng := rand.New(rand.NewPCG(seed, 1))
	dir := t.TempDir()
	m := crashModel{map[uint64]bool{}, map[uint64]bool{}, map[uint64]bool{}}
	var prevNext, prevAcked uint64
	var appends, acks, damaged int
	for i := range iterations {
		mode := "grouped"
		if i%4 == 3 {
			mode = "always"
		}
		lines, stderr := runCrashChild(t, dir, mode, rng.Uint64(), time.Duration(rng.IntN(30000))*time.Microsecond)
		var begun uint64
		clear(m.ackDone)
		for _, l := range lines {
			kind, arg, _ := strings.Cut(l, " ")
			n, _ := strconv.ParseUint(arg, 10, 64)
			switch kind {
			case "e":
				t.Fatalf("iteration %d: child: %s\n%s", i, arg, stderr)
			case "r":
				if n < prevNext {
					t.Fatalf("iteration %d: child opened at NextSeq %d, below %d", i, n, prevNext)
				}
			case "b":
				begun = n
			case "a":
				m.appended[n] = true
				appends++
			case "k":
				m.ackIntent[n] = true
			case "K":
				m.ackDone[n] = true
				acks++
			}
		}

		o, err := Open(dir, crashOptions(SyncGrouped))
		if err != nil {
			t.Fatalf("iteration %d: reopen: %v", i, err)
		}
		st := o.Stats()
		next := o.NextSeq()
		got := drain(t, o, 256)
		if err := o.Close(); err != nil {
			t.Fatal(err)
		}
		damaged += int(st.Damaged)

		// The record being appended at the kill may or may not be there.
		if slices.Contains(got, begun) && !m.appended[begun] {
			m.appended[begun] = true
		}
		if !slices.IsSorted(got) || len(slices.Compact(slices.Clone(got))) != len(got) {
			t.Fatalf("iteration %d: out of order or duplicated: %v", i, got)
		}
		var want []uint64
		for q := range m.appended {
			if q > st.AckedSeq {
				want = append(want, q)
			} else if !m.ackIntent[q] {
				t.Fatalf("iteration %d: ack position %d passed %d, which was never acknowledged", i, st.AckedSeq, q)
			}
		}
		slices.Sort(want)
		// Nothing appended and unacknowledged is lost; nothing is there that
		// was not appended; nothing at or below the ack position comes back.
		if !slices.Equal(got, want) {
			t.Fatalf("iteration %d: after reopen got %d records %v\nwant %d %v\nacked %d", i, len(got), head(got), len(want), head(want), st.AckedSeq)
		}
		// An Ack that returned survives a process crash: the ack position
		// covers at least the contiguous prefix of completed acks.
		var prefix uint64
		for _, q := range want {
			if !m.ackDone[q] {
				break
			}
			prefix = q
		}
		if st.AckedSeq < prefix {
			shown := 0
			for _, l := range lines { // the acks around the position, to debug
				kind, arg, _ := strings.Cut(l, " ")
				if n, _ := strconv.ParseUint(arg, 10, 64); (kind == "k" || kind == "K") && n > st.AckedSeq && n <= prefix && shown < 60 {
					t.Log(l)
					shown++
				}
			}
			t.Fatalf("iteration %d: ack position %d below completed acks up to %d", i, st.AckedSeq, prefix)
		}
		if st.AckedSeq < prevAcked {
			t.Fatalf("iteration %d: ack position went back from %d to %d", i, prevAcked, st.AckedSeq)
		}
		maxSeq := max(begun, st.LastSeq)
		if len(want) > 0 {
			maxSeq = max(maxSeq, want[len(want)-1])
		}
		if next <= maxSeq && !(next == begun && !slices.Contains(got, begun)) || next < prevNext {
			t.Fatalf("iteration %d: NextSeq %d after seqs up to %d (previous NextSeq %d)", i, next, maxSeq, prevNext)
		}
		for q := range m.appended {
			if q <= st.AckedSeq {
				delete(m.appended, q)
				delete(m.ackIntent, q)
				delete(m.ackDone, q)
			}
		}
		prevNext, prevAcked = next, st.AckedSeq
	}
	t.Logf("%d kills: %d appends and %d acks reported, %d records pending at the end, %d bytes of torn tails cut",
		iterations, appends, acks, len(m.appended), damaged)
}

func head(s []uint64) []uint64 { return s[:min(len(s), 20)] }

// runCrashChild starts a child on dir, lets it run for the given time after
// it has opened the outbox, kills it and returns its progress lines.
func runCrashChild(t *testing.T, dir, mode string, seed uint64, after time.Duration) ([]string, string) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"=crash", "OUTBOX_DIR="+dir, "OUTBOX_SYNC="+mode,
		fmt.Sprintf("OUTBOX_SEED=%d", seed))
	cmd.ExtraFiles = []*os.File{w}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w.Close()
	ready := make(chan struct{})
	done := make(chan []string)
	go func() {
		var lines []string
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			if len(lines) == 0 {
				close(ready)
			}
			lines = append(lines, sc.Text())
		}
		if len(lines) == 0 {
			close(ready)
		}
		done <- lines
	}()
	select {
	case <-ready:
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		t.Fatal("child did not start")
	}
	time.Sleep(after)
	cmd.Process.Signal(syscall.SIGKILL)
	werr := cmd.Wait()
	lines := <-done
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() {
		t.Fatalf("child ended by itself (%v): %v\n%s", werr, lines, stderr.String())
	}
	return lines, stderr.String()
}

// TestCrashSeqContinuity: a process killed with SIGKILL leaves everything
// it wrote in the page cache, so within one boot the next run continues at
// the last stored seq + 1, with no gap for a consumer to mistake for lost
// readings. The same files opened as after a reboot (another boot id: the
// page cache may have lost records already published) skip past the
// reservation instead.
func TestCrashSeqContinuity(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("needs SIGKILL, a pipe on fd 3 and the kernel's boot id")
	}
	const iterations = 12
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 3))
	dir := t.TempDir()
	jumps := 0
	var before uint64 // the last seq stored before this iteration's child
	for i := range iterations {
		lines, stderr := runCrashChild(t, dir, "grouped", rng.Uint64(), time.Duration(1000+rng.IntN(20000))*time.Microsecond)
		// A child killed before its first append stored nothing new.
		last, begun := before, uint64(0)
		for _, l := range lines {
			kind, arg, _ := strings.Cut(l, " ")
			n, _ := strconv.ParseUint(arg, 10, 64)
			switch kind {
			case "e":
				t.Fatalf("iteration %d: child: %s\n%s", i, arg, stderr)
			case "b":
				begun = n
			case "a":
				last = n
			}
		}
		b, err := os.ReadFile(filepath.Join(dir, stateFile))
		if err != nil {
			t.Fatal(err)
		}
		st, _, _ := pickState(b)
		rebooted := copyDir(t, dir)

		o, err := Open(dir, crashOptions(SyncGrouped))
		if err != nil {
			t.Fatalf("iteration %d: reopen: %v", i, err)
		}
		next, stored := o.NextSeq(), o.Stats().LastSeq
		o.Close()
		before = stored
		// The record being appended at the kill may be there or not.
		if stored == begun {
			last = begun
		}
		if next != last+1 {
			t.Fatalf("iteration %d: NextSeq %d after a crash within one boot, the last seq stored being %d: want %d, no gap", i, next, last, last+1)
		}

		r, err := Open(rebooted, Options{SegmentBytes: 1024, BootID: afterReboot})
		if err != nil {
			t.Fatalf("iteration %d: reopen as after a reboot: %v", i, err)
		}
		after := r.NextSeq()
		r.Close()
		if after != max(last+1, st.ceiling) {
			t.Fatalf("iteration %d: NextSeq %d after a reboot, the last seq stored %d and the reservation %d: want past the reservation", i, after, last, st.ceiling)
		}
		if after > last+1 {
			jumps++
		}
	}
	if jumps == 0 {
		t.Fatalf("in %d reboots seqs never skipped ahead: the reservation is not used", iterations)
	}
	t.Logf("%d kills within one boot, no gap; the same files after a reboot: %d skipped ahead", iterations, jumps)
}
