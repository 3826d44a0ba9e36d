package main

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"nightlight/mqtt/mqtttest"
	"nightlight/mqtt/wire"
)

// TestPartition: the network between device and broker silently stops
// passing packets (no FIN, no RST). The device notices within the documented
// bound of twice the keepalive, keeps its readings in the outbox, reconnects
// when packets flow again, and loses nothing.
func TestPartition(t *testing.T) {
	t.Parallel() // mostly waiting: overlaps the other long tests
	mqtttest.ForEach(t, func(t *testing.T, b mqtttest.Broker) {
		const id = "partitioned"
		proxy := mqtttest.NewProxy(t, b.URL())
		server := consume(t, mqtttest.Client(t, b.URL(), "consumer"), id)
		s, _ := testSettings(t, proxy.URL(), id, 50*time.Millisecond)
		s.KeepAlive = time.Second
		logs := startDevice(t, s)
		logs.WaitFor(t, 10*time.Second, "msg=connected")
		time.Sleep(300 * time.Millisecond)

		proxy.Freeze()
		frozen := time.Now()
		logs.WaitFor(t, 15*time.Second, "connection lost")
		noticed := time.Since(frozen)
		// The bound is 2 x keepalive; the margin covers a loaded machine.
		if bound := 2*s.KeepAlive + 2*time.Second; noticed > bound {
			t.Errorf("dead link noticed after %s, documented bound 2 x keepalive = %s", noticed, 2*s.KeepAlive)
		}
		t.Logf("dead link noticed after %s (keepalive %s)", noticed.Round(time.Millisecond), s.KeepAlive)
		time.Sleep(time.Second) // readings go to the outbox meanwhile
		proxy.Thaw()
		stored := waitDelivered(t, server, func() []uint64 { return appended(logs.String()) })
		checkDelivery(t, stored, server.received())
	})
}

// TestDiskFull: the state directory fills up (a small tmpfs). The daemon
// keeps running and obeying commands, counts the readings it could not
// store, logs the failure once rather than once per sample, and recovers by
// itself when space returns.
func TestDiskFull(t *testing.T) {
	t.Parallel() // mostly waiting: overlaps the other long tests
	if os.Geteuid() != 0 {
		if os.Getenv("NIGHTLIGHT_REQUIRE_ROOT_TESTS") == "1" {
			t.Fatal("NIGHTLIGHT_REQUIRE_ROOT_TESTS=1 but not root: mounting a small tmpfs needs root")
		}
		t.Skip("mounting a small tmpfs needs root; CI runs this as root")
	}
	state := filepath.Join(t.TempDir(), "state")
	os.Mkdir(state, 0o755)
	if err := syscall.Mount("tmpfs", state, "tmpfs", 0, "size=256k"); err != nil {
		t.Fatalf("mount a 256k tmpfs: %v", err)
	}
	t.Cleanup(func() { syscall.Unmount(state, syscall.MNT_DETACH) })

	b := mqtttest.Embedded(t)
	const id = "diskfull"
	watcher := mqtttest.Client(t, b.URL(), "watcher")
	st := states(t, watcher, id)
	server := consume(t, mqtttest.Client(t, b.URL(), "consumer"), id)
	dir := t.TempDir()
	light := filepath.Join(dir, "light")
	setLight(t, light, 500)
	d := startDaemon(t, "--hardware", "sim", "--sim-light", light, "--id", id, "--broker", b.URL(),
		"--state-dir", state, "--interval", "50ms")
	d.out.WaitFor(t, 10*time.Second, "msg=connected")
	time.Sleep(200 * time.Millisecond)

	// Fill the disk.
	filler, err := os.Create(filepath.Join(state, "filler"))
	if err != nil {
		t.Fatal(err)
	}
	chunk := make([]byte, 4096)
	for {
		if _, err := filler.Write(chunk); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatalf("filling the disk: %v", err)
			}
			break
		}
	}
	filler.Close()
	d.out.WaitFor(t, 10*time.Second, "reading not stored")
	time.Sleep(time.Second) // ~20 samples that cannot be stored

	// The light still obeys.
	c := mqtttest.Client(t, b.URL(), "commander")
	mqtttest.Publish(t, c, id+"/commands", []byte(`{"led_on": true}`), false)
	waitState(t, st, 5*time.Second, "led_on true with a full disk", ledIs(true, wire.SourceCommand))
	if n := strings.Count(d.out.String(), "reading not stored"); n != 1 {
		t.Errorf("the full disk was logged %d times, want once", n)
	}

	// Space returns.
	before := len(server.received())
	os.Remove(filepath.Join(state, "filler"))
	line := d.out.WaitFor(t, 10*time.Second, "outbox stores readings again")
	if !strings.Contains(line, "lost=") || strings.Contains(line, "lost=0 ") {
		t.Errorf("the recovery line does not count the lost readings: %s", line)
	}
	for deadline := time.Now().Add(10 * time.Second); len(server.received()) < before+5; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("telemetry did not flow again after space returned")
		}
	}
	d.stop(t, syscall.SIGTERM)
	t.Logf("recovered: %s", line)
}
