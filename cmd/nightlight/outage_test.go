package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"nightlight/mqtt/mqtttest"
	"nightlight/mqtt/wire"
)

// consumer records the seqs of a device's telemetry as the server side
// sees them, in arrival order.
type consumer struct {
	mu   sync.Mutex
	seqs []uint64
}

func consume(t *testing.T, c paho.Client, id string) *consumer {
	r := new(consumer)
	tok := c.Subscribe(wire.Topic(id, wire.KindTelemetry), 1, func(_ paho.Client, m paho.Message) {
		tm, err := wire.ParseTelemetry(m.Payload())
		if err != nil {
			t.Errorf("bad telemetry %q: %v", m.Payload(), err)
			return
		}
		r.mu.Lock()
		r.seqs = append(r.seqs, tm.Seq)
		r.mu.Unlock()
	})
	if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("subscribe: %v", tok.Error())
	}
	return r
}

func (r *consumer) received() []uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]uint64(nil), r.seqs...)
}

var readingLine = regexp.MustCompile(`msg=reading .*seq=(\d+)`)

// appended lists the seqs the device logged as stored in its outbox.
func appended(log string) []uint64 {
	var seqs []uint64
	for _, m := range readingLine.FindAllStringSubmatch(log, -1) {
		n, _ := strconv.ParseUint(m[1], 10, 64)
		seqs = append(seqs, n)
	}
	return seqs
}

// checkDelivery: every seq the device stored arrived, and the seqs arrived
// in order (a replayed duplicate may repeat an earlier seq, which a consumer
// drops; a seq's first arrival is never before a smaller one's).
func checkDelivery(t *testing.T, stored, got []uint64) {
	t.Helper()
	seen := map[uint64]bool{}
	var last uint64
	dups := 0
	for _, s := range got {
		if seen[s] {
			dups++
			continue
		}
		if s < last {
			t.Fatalf("seq %d arrived after %d: out of order", s, last)
		}
		seen[s], last = true, s
	}
	missing := 0
	for _, s := range stored {
		if !seen[s] {
			missing++
			if missing <= 5 {
				t.Errorf("seq %d was stored by the device but never arrived", s)
			}
		}
	}
	if missing > 0 {
		t.Fatalf("%d of %d stored readings lost", missing, len(stored))
	}
	t.Logf("%d readings stored, %d arrived, %d duplicates", len(stored), len(got), dups)
}

type daemon struct {
	cmd *exec.Cmd
	out *mqtttest.Log
}

func startDaemon(t *testing.T, args ...string) *daemon {
	t.Helper()
	d := &daemon{cmd: exec.Command(binary(t), append([]string{"run", "--config", emptyConfig(t)}, args...)...), out: new(mqtttest.Log)}
	d.cmd.Stdout, d.cmd.Stderr = d.out, d.out
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.cmd.Process.Kill() })
	return d
}

func (d *daemon) stop(t *testing.T, sig syscall.Signal) {
	t.Helper()
	d.cmd.Process.Signal(sig)
	done := make(chan error, 1)
	go func() { done <- d.cmd.Wait() }()
	select {
	case err := <-done:
		if sig == syscall.SIGTERM && err != nil {
			t.Fatalf("exit after SIGTERM: %v\n%s", err, d.out.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatalf("no exit after %v", sig)
	}
}

// waitDelivered waits until every seq the device logged has arrived, and
// returns the seqs it waited for: the device goes on storing readings, and
// those stored after the last look have not had their chance to arrive.
func waitDelivered(t *testing.T, r *consumer, stored func() []uint64) []uint64 {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		want := stored()
		got := map[uint64]bool{}
		for _, s := range r.received() {
			got[s] = true
		}
		all := true
		for _, s := range want {
			all = all && got[s]
		}
		if all || time.Now().After(deadline) {
			return want // checkDelivery names what is missing
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestOutage: the device samples every 50 ms; the broker becomes unreachable
// for a while (the device's connection goes through a proxy that the test
// takes down, while the server side stays subscribed) and comes back. Every
// reading taken arrives, in order. Then the same with the device SIGKILLed
// during the outage and started again on the same state directory.
func TestOutage(t *testing.T) {
	t.Parallel() // mostly waiting: overlaps the other long tests
	mqtttest.ForEach(t, func(t *testing.T, b mqtttest.Broker) {
		const id = "outage"
		proxy := mqtttest.NewProxy(t, b.URL())
		dir := t.TempDir()
		light := filepath.Join(dir, "light")
		os.WriteFile(light, []byte("500\n"), 0o644)
		args := []string{"--hardware", "sim", "--sim-light", light, "--id", id, "--broker", proxy.URL(),
			"--state-dir", filepath.Join(dir, "state"), "--interval", "50ms"}

		t.Run("broker away", func(t *testing.T) {
			server := consume(t, mqtttest.Client(t, b.URL(), "consumer-1"), id)
			d := startDaemon(t, args...)
			d.out.WaitFor(t, 10*time.Second, "msg=connected")
			time.Sleep(500 * time.Millisecond)
			proxy.Down()
			d.out.WaitFor(t, 10*time.Second, "connection lost")
			time.Sleep(2 * time.Second) // ~40 readings into the outbox
			proxy.Up()
			stored := waitDelivered(t, server, func() []uint64 { return appended(d.out.String()) })
			d.stop(t, syscall.SIGTERM)
			checkDelivery(t, stored, server.received())
		})

		t.Run("device killed while away", func(t *testing.T) {
			server := consume(t, mqtttest.Client(t, b.URL(), "consumer-2"), id)
			first := startDaemon(t, args...)
			first.out.WaitFor(t, 10*time.Second, "msg=connected")
			proxy.Down()
			first.out.WaitFor(t, 10*time.Second, "connection lost")
			time.Sleep(1500 * time.Millisecond)
			first.stop(t, syscall.SIGKILL)
			second := startDaemon(t, args...)
			second.out.WaitFor(t, 10*time.Second, "msg=reading")
			time.Sleep(1500 * time.Millisecond)
			proxy.Up()
			stored := func() []uint64 { return append(appended(first.out.String()), appended(second.out.String())...) }
			want := waitDelivered(t, server, stored)
			second.stop(t, syscall.SIGTERM)
			checkDelivery(t, want, server.received())
		})
	})
}
