package main

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"nightlight/mqtt/mqtttest"
	"nightlight/mqtt/wire"
)

// notifySocket is a fake systemd: it collects what the daemon sends to
// NOTIFY_SOCKET, one datagram per message.
type notifySocket struct {
	path string
	conn *net.UnixConn
	msgs chan string
}

func newNotifySocket(t *testing.T) *notifySocket {
	t.Helper()
	path := filepath.Join(t.TempDir(), "notify.sock")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	n := &notifySocket{path: path, conn: conn, msgs: make(chan string, 4096)}
	go func() {
		buf := make([]byte, 4096)
		for {
			k, err := conn.Read(buf)
			if err != nil {
				close(n.msgs)
				return
			}
			n.msgs <- string(buf[:k])
		}
	}()
	t.Cleanup(func() { conn.Close() })
	return n
}

// expect waits for a message containing want and returns it.
func (n *notifySocket) expect(t *testing.T, want string, timeout time.Duration) string {
	t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case m := <-n.msgs:
			if strings.Contains(m, want) {
				return m
			}
		case <-deadline:
			t.Fatalf("no %q from the daemon within %s", want, timeout)
		}
	}
}

// count counts messages containing want that arrive within d.
func (n *notifySocket) count(want string, d time.Duration) int {
	deadline := time.After(d)
	k := 0
	for {
		select {
		case m := <-n.msgs:
			if strings.Contains(m, want) {
				k++
			}
		case <-deadline:
			return k
		}
	}
}

// notified is the daemon run as systemd would run it.
type notified struct {
	cmd              *exec.Cmd
	sock             *notifySocket
	out              *mqtttest.Log // written by exec's copier while we read it
	dir, light, conf string
}

// startNotified runs the daemon on the simulated board with NOTIFY_SOCKET
// and WATCHDOG_USEC=200000, settings (YAML lines) plus the broker and a
// light file at level. It is killed when the test ends, and its output
// logged if the test failed.
func startNotified(t *testing.T, b mqtttest.Broker, level int, settings string) *notified {
	t.Helper()
	n := &notified{sock: newNotifySocket(t), dir: t.TempDir(), out: new(mqtttest.Log)}
	n.light = filepath.Join(n.dir, "light")
	setLight(t, n.light, level)
	n.conf = filepath.Join(n.dir, "nightlight.yaml")
	if err := os.WriteFile(n.conf, []byte("hardware: sim\n"+settings+"broker: "+b.URL()+"\nsim_light: "+n.light+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	n.cmd = exec.Command(binary(t), "run", "--config", n.conf, "--state-dir", filepath.Join(n.dir, "state"))
	n.cmd.Env = append(os.Environ(), "NOTIFY_SOCKET="+n.sock.path, "WATCHDOG_USEC=200000")
	n.cmd.Stdout, n.cmd.Stderr = n.out, n.out
	if err := n.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		n.cmd.Process.Kill()
		if t.Failed() {
			t.Logf("daemon output:\n%s", n.out.String())
		}
	})
	return n
}

// TestWatchdogSlowLoop: with readings only every 5 s the main loop passes
// seldom, and its own ticker must still feed the watchdog (the ticker is
// pushed back at each ping, which must not stop it). That the ticker stays
// quiet while the loop passes often enough is not observable from here; it
// saves a wake-up, not a ping.
func TestWatchdogSlowLoop(t *testing.T) {
	t.Parallel()
	n := startNotified(t, mqtttest.Embedded(t), 500, "id: slowloop\ninterval: 5s\nsample_every: 0s\n")
	n.sock.expect(t, "READY=1", 10*time.Second)
	if pings := n.sock.count("WATCHDOG=1", 2*time.Second); pings < 6 {
		t.Fatalf("%d watchdog pings in 2s with WATCHDOG_USEC=200000 and a reading every 5s, want one every 100ms or so", pings)
	}
}

// TestSystemdNotify runs the daemon as systemd would (NOTIFY_SOCKET,
// WATCHDOG_USEC) and checks the whole sequence: READY once the hardware and
// outbox are open, a STATUS line that follows the state, WATCHDOG pings that
// go on when the light file is a named pipe (refused, never read), stop while
// the daemon is stopped and resume after, RELOADING and READY around SIGHUP,
// STOPPING at SIGTERM.
func TestSystemdNotify(t *testing.T) {
	t.Parallel() // mostly waiting: overlaps the other long tests
	b := mqtttest.Embedded(t)
	n := startNotified(t, b, 120, "id: notified\ninterval: 100ms\n")
	cmd, sock, out, dir, light, conf := n.cmd, n.sock, n.out, n.dir, n.light, n.conf

	sock.expect(t, "READY=1", 10*time.Second)
	// The status line is renewed at most once a second and only when it
	// changes: wait for the one that shows both the link and the light.
	st := sock.expect(t, "STATUS=broker "+b.URL()+" connected", 10*time.Second)
	for !strings.Contains(st, "light 120") {
		st = sock.expect(t, "STATUS=broker "+b.URL()+" connected", 10*time.Second)
	}
	t.Logf("status line: %s", st)
	// About 20 pings in 2 s; a busy test machine may delay some.
	if n := sock.count("WATCHDOG=1", 2*time.Second); n < 3 {
		t.Fatalf("%d watchdog pings in 2s with WATCHDOG_USEC=200000, want several", n)
	}

	// A named pipe as the light file: it used to block the sample, and the
	// main loop with it. It is refused at once now (a file that lies), the
	// log says why, and the loop goes on feeding the watchdog.
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(fifo, light); err != nil {
		t.Fatal(err)
	}
	out.WaitFor(t, 5*time.Second, "is a named pipe")
	if n := sock.count("WATCHDOG=1", 2*time.Second); n < 3 {
		t.Fatalf("%d watchdog pings in 2s with a named pipe as the light file, want several: the pipe hangs the loop", n)
	}
	setLight(t, light, 700)

	// A hung daemon (stopped, as a deadlock would leave it) pings no more,
	// so systemd's watchdog catches it; once it runs again, it pings again.
	cmd.Process.Signal(syscall.SIGSTOP)
	time.Sleep(100 * time.Millisecond) // a ping already sent may still arrive
	if n := sock.count("WATCHDOG=1", time.Second); n > 0 {
		cmd.Process.Signal(syscall.SIGCONT)
		t.Fatalf("%d watchdog pings while the daemon was stopped, want none", n)
	}
	cmd.Process.Signal(syscall.SIGCONT)
	sock.expect(t, "WATCHDOG=1", 5*time.Second)
	sock.expect(t, "light 700", 5*time.Second)

	// Reload with a changed file: the new interval shows in the log.
	os.WriteFile(conf, []byte("hardware: sim\nid: notified\ninterval: 150ms\nbroker: "+b.URL()+"\nsim_light: "+light+"\n"), 0o644)
	cmd.Process.Signal(syscall.SIGHUP)
	sock.expect(t, "RELOADING=1", 5*time.Second)
	sock.expect(t, "READY=1", 10*time.Second)
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(out.String(), "interval=150ms") {
		if time.Now().After(deadline) {
			t.Fatal("the reloaded interval is not in the log")
		}
		time.Sleep(50 * time.Millisecond)
	}

	// A broken file on reload is refused; the daemon goes on.
	os.WriteFile(conf, []byte("intervall: 1s\n"), 0o644)
	cmd.Process.Signal(syscall.SIGHUP)
	sock.expect(t, "RELOADING=1", 5*time.Second)
	sock.expect(t, "READY=1", 5*time.Second)
	sock.expect(t, "WATCHDOG=1", 5*time.Second)

	cmd.Process.Signal(syscall.SIGTERM)
	sock.expect(t, "STOPPING=1", 5*time.Second)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("exit: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("no exit after SIGTERM")
	}
	if !strings.Contains(out.String(), `reload refused`) || !strings.Contains(out.String(), `unknown key \"intervall\"`) {
		t.Errorf("the refused reload is not explained in the log")
	}
}

// TestReloadKeepsTheLight: a reload restarts the device in-process without
// switching the LED off, without an "offline" status, and without losing
// the seq count.
func TestReloadKeepsTheLight(t *testing.T) {
	t.Parallel()
	b := mqtttest.Embedded(t)
	const id = "reloaded"
	watcher := mqtttest.Client(t, b.URL(), "watcher")
	status := mqtttest.Messages(t, watcher, id+"/status")
	st := states(t, watcher, id)
	dir := t.TempDir()
	light := filepath.Join(dir, "light")
	setLight(t, light, 500)
	conf := filepath.Join(dir, "nightlight.yaml")
	write := func(interval string) {
		os.WriteFile(conf, []byte("hardware: sim\nid: "+id+"\ninterval: "+interval+"\nbroker: "+b.URL()+"\nsim_light: "+light+"\nstate_dir: "+filepath.Join(dir, "state")+"\n"), 0o644)
	}
	write("100ms")
	cmd := exec.Command(binary(t), "run", "--config", conf)
	out := new(mqtttest.Log)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	waitPayload(t, status, "online")
	c := mqtttest.Client(t, b.URL(), "commander")
	mqtttest.Publish(t, c, id+"/commands", []byte(`{"led_on": true}`), false)
	waitState(t, st, 5*time.Second, "led_on true", ledIs(true, wire.SourceCommand))
	before := appended(out.String())

	write("150ms")
	cmd.Process.Signal(syscall.SIGHUP)
	out.WaitFor(t, 10*time.Second, "msg=starting", "interval=150ms")
	time.Sleep(500 * time.Millisecond)
	after := appended(out.String())
	if len(after) <= len(before) || after[len(before)] != before[len(before)-1]+1 {
		t.Errorf("seq after the reload does not continue by one: %v then %v", before[len(before)-1:], after[len(before):min(len(after), len(before)+3)])
	}
	for _, line := range strings.Split(out.String(), "\n") {
		if strings.Contains(line, "msg=LED") && strings.Contains(line, "led_on=false") && !strings.Contains(line, "source=startup") {
			t.Errorf("the reload switched the LED off: %s", line)
		}
	}
	for {
		select {
		case m := <-status:
			if string(m.Payload()) == "offline" {
				t.Fatal("the reload published offline")
			}
			continue
		default:
		}
		break
	}
	cmd.Process.Signal(syscall.SIGTERM)
	cmd.Wait()
}
