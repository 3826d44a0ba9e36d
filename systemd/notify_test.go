package systemd

import (
	"errors"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// fakeSystemd is the receiving end of NOTIFY_SOCKET: a unixgram socket that
// the test reads datagrams from, as systemd does.
type fakeSystemd struct {
	t    *testing.T
	conn *net.UnixConn
}

// listen creates the socket, points NOTIFY_SOCKET at it and sets
// WATCHDOG_USEC to watchdog (none when 0).
func listen(t *testing.T, watchdog time.Duration) *fakeSystemd {
	t.Helper()
	// Unix socket paths are limited to 108 bytes; t.TempDir can be longer.
	dir, err := os.MkdirTemp("", "sdnotify")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	path := filepath.Join(dir, "notify")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	t.Setenv("NOTIFY_SOCKET", path)
	if watchdog > 0 {
		t.Setenv("WATCHDOG_USEC", strconv.FormatInt(watchdog.Microseconds(), 10))
	} else {
		t.Setenv("WATCHDOG_USEC", "")
	}
	t.Setenv("WATCHDOG_PID", "")
	return &fakeSystemd{t: t, conn: conn}
}

// next returns the next datagram, failing the test if none comes within
// a generous time.
func (f *fakeSystemd) next() string {
	f.t.Helper()
	msg, ok := f.recv(5 * time.Second)
	if !ok {
		f.t.Fatal("no notify message arrived")
	}
	return msg
}

func (f *fakeSystemd) recv(wait time.Duration) (string, bool) {
	f.t.Helper()
	buf := make([]byte, 4096)
	if err := f.conn.SetReadDeadline(time.Now().Add(wait)); err != nil {
		f.t.Fatal(err)
	}
	n, err := f.conn.Read(buf)
	if err != nil {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return "", false
		}
		f.t.Fatal(err)
	}
	return string(buf[:n]), true
}

// none asserts that nothing was sent. Messages are sent synchronously by
// the Notifier, so anything sent before the call is already queued.
func (f *fakeSystemd) none() {
	f.t.Helper()
	if msg, ok := f.recv(50 * time.Millisecond); ok {
		f.t.Fatalf("unexpected notify message %q", msg)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestNotifySequence(t *testing.T) {
	sd := listen(t, 0)
	n := NewNotifier()
	if !n.Enabled() {
		t.Fatal("Enabled() = false with NOTIFY_SOCKET set")
	}

	// The daemon's start-up: status while probing, READY once probed.
	must(t, n.Status("probing hardware"))
	if got := sd.next(); got != "STATUS=probing hardware" {
		t.Fatalf("got %q", got)
	}
	must(t, n.Ready())
	if got := sd.next(); got != "READY=1" {
		t.Fatalf("got %q, want READY=1", got)
	}

	// STATUS changes are sent; repeats are not.
	for _, s := range []string{"broker connected, outbox 0", "broker connected, outbox 0", "broker connected, outbox 0"} {
		must(t, n.Status(s))
	}
	if got := sd.next(); got != "STATUS=broker connected, outbox 0" {
		t.Fatalf("got %q", got)
	}
	sd.none()
	must(t, n.Status("broker down, outbox 3"))
	if got := sd.next(); got != "STATUS=broker down, outbox 3" {
		t.Fatalf("got %q", got)
	}
	must(t, n.Status("broker connected, outbox 0")) // back to an earlier one: a change
	if got := sd.next(); got != "STATUS=broker connected, outbox 0" {
		t.Fatalf("got %q", got)
	}

	// A newline would split the message into two assignments.
	must(t, n.Status("two\nlines"))
	if got := sd.next(); got != "STATUS=two lines" {
		t.Fatalf("got %q", got)
	}

	must(t, n.Stopping())
	if got := sd.next(); got != "STOPPING=1" {
		t.Fatalf("got %q, want STOPPING=1", got)
	}
	sd.none()
}

func TestReloadingCarriesMonotonicUsec(t *testing.T) {
	sd := listen(t, 0)
	n := NewNotifier()

	before := monotonicUsec(t)
	must(t, n.Reloading())
	after := monotonicUsec(t)

	fields := strings.Split(strings.TrimRight(sd.next(), "\n"), "\n")
	if len(fields) != 2 || fields[0] != "RELOADING=1" || !strings.HasPrefix(fields[1], "MONOTONIC_USEC=") {
		t.Fatalf("got %q, want RELOADING=1 and MONOTONIC_USEC=", fields)
	}
	usec, err := strconv.ParseInt(strings.TrimPrefix(fields[1], "MONOTONIC_USEC="), 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	if usec < before || usec > after {
		t.Fatalf("MONOTONIC_USEC=%d not within [%d, %d]: not CLOCK_MONOTONIC in microseconds", usec, before, after)
	}
}

func monotonicUsec(t *testing.T) int64 {
	var ts unix.Timespec
	must(t, unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts))
	return ts.Nano() / 1000
}

// TestReloadOnSIGHUP is the daemon's reload sequence: SIGHUP arrives,
// RELOADING=1, the new configuration is applied, READY=1 and the status that
// goes with the new configuration.
func TestReloadOnSIGHUP(t *testing.T) {
	sd := listen(t, 0)
	n := NewNotifier()
	must(t, n.Ready())
	sd.next()

	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	must(t, syscall.Kill(os.Getpid(), syscall.SIGHUP))

	select {
	case <-hup:
	case <-time.After(5 * time.Second):
		t.Fatal("SIGHUP not delivered")
	}
	must(t, n.Reloading())
	must(t, n.Status("interval 2s")) // what the reload changed
	must(t, n.Ready())

	if got := sd.next(); !strings.HasPrefix(got, "RELOADING=1\nMONOTONIC_USEC=") {
		t.Fatalf("got %q, want RELOADING=1 first", got)
	}
	if got := sd.next(); got != "STATUS=interval 2s" {
		t.Fatalf("got %q", got)
	}
	if got := sd.next(); got != "READY=1" {
		t.Fatalf("got %q, want READY=1 after the reload", got)
	}
}

func TestWatchdog(t *testing.T) {
	sd := listen(t, 30*time.Second)
	n := NewNotifier()
	if got := n.WatchdogInterval(); got != 15*time.Second {
		t.Fatalf("WatchdogInterval() = %v, want half of WATCHDOG_USEC (15s)", got)
	}
	must(t, n.Watchdog())
	if got := sd.next(); got != "WATCHDOG=1" {
		t.Fatalf("got %q, want WATCHDOG=1", got)
	}
}

func TestWatchdogForAnotherPID(t *testing.T) {
	sd := listen(t, 30*time.Second)
	// systemd sets WATCHDOG_PID; a child process that inherited the
	// environment must not ping for its parent.
	t.Setenv("WATCHDOG_PID", strconv.Itoa(os.Getpid()+1))
	n := NewNotifier()
	if got := n.WatchdogInterval(); got != 0 {
		t.Fatalf("WatchdogInterval() = %v, want 0 for another process's watchdog", got)
	}
	must(t, n.Watchdog())
	sd.none()
}

func TestWatchdogOff(t *testing.T) {
	sd := listen(t, 0) // NotifyAccess but no WatchdogSec=
	n := NewNotifier()
	if got := n.WatchdogInterval(); got != 0 {
		t.Fatalf("WatchdogInterval() = %v, want 0", got)
	}
	must(t, n.Watchdog())
	sd.none()
}

// TestWatchdogStopsWhenLoopIsStuck runs a main loop of the kind the daemon
// has: it pings at WatchdogInterval while it works, and when one iteration
// hangs the pings stop, which is what lets systemd catch a stuck daemon.
func TestWatchdogStopsWhenLoopIsStuck(t *testing.T) {
	sd := listen(t, 40*time.Millisecond)
	n := NewNotifier()

	stuck := make(chan struct{}) // closed by the loop once it hangs
	hang := make(chan struct{})  // closed by the test to make it hang
	release := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(n.WatchdogInterval())
		defer tick.Stop()
		for {
			select {
			case <-tick.C:
				// A tick and the hang can be ready together and select
				// picks at random: a loop that is told to hang pings no more.
				select {
				case <-hang:
					close(stuck)
					<-release
					return
				default:
				}
				n.Watchdog()
			case <-hang:
				close(stuck)
				<-release // a read that never returns, a deadlock...
				return
			}
		}
	}()

	for i := 0; i < 3; i++ {
		if got := sd.next(); got != "WATCHDOG=1" {
			t.Fatalf("ping %d: got %q", i, got)
		}
	}
	close(hang)
	<-stuck
	// Drain what was sent before the loop hung, then expect silence for
	// many watchdog intervals.
	for {
		if _, ok := sd.recv(0); !ok {
			break
		}
	}
	if msg, ok := sd.recv(10 * n.WatchdogInterval()); ok {
		t.Fatalf("got %q from a stuck loop", msg)
	}
	close(release)
	<-done
}

func TestNoSocketIsNoop(t *testing.T) {
	t.Setenv("NOTIFY_SOCKET", "")
	t.Setenv("WATCHDOG_USEC", "30000000")
	n := NewNotifier()
	if n.Enabled() {
		t.Fatal("Enabled() = true without NOTIFY_SOCKET")
	}
	if got := n.WatchdogInterval(); got != 0 {
		t.Fatalf("WatchdogInterval() = %v, want 0 without NOTIFY_SOCKET", got)
	}
	for name, f := range map[string]func() error{
		"Ready":     n.Ready,
		"Status":    func() error { return n.Status("x") },
		"Reloading": n.Reloading,
		"Stopping":  n.Stopping,
		"Watchdog":  n.Watchdog,
	} {
		if err := f(); err != nil {
			t.Errorf("%s() = %v, want nil", name, err)
		}
	}

	var zero *Notifier
	if err := zero.Ready(); err != nil || zero.WatchdogInterval() != 0 {
		t.Errorf("nil Notifier is not a no-op")
	}
}

func TestSendErrorIsReported(t *testing.T) {
	dir, err := os.MkdirTemp("", "sdnotify")
	must(t, err)
	defer os.RemoveAll(dir)
	t.Setenv("NOTIFY_SOCKET", filepath.Join(dir, "gone"))
	n := NewNotifier()
	err = n.Ready()
	if err == nil || !strings.Contains(err.Error(), "systemd: notify READY") {
		t.Fatalf("Ready() = %v, want an error naming READY", err)
	}
	// A failed STATUS is not remembered as sent, so the same status is
	// tried again once the socket works.
	if n.Status("s") == nil {
		t.Fatal("Status() succeeded without a socket")
	}
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: filepath.Join(dir, "gone"), Net: "unixgram"})
	must(t, err)
	defer conn.Close()
	must(t, n.Status("s"))
	sd := &fakeSystemd{t: t, conn: conn}
	if got := sd.next(); got != "STATUS=s" {
		t.Fatalf("got %q", got)
	}
}
