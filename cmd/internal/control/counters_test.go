package control

import (
	"context"
	"testing"
	"time"

	"nightlight/mqtt/link"
	"nightlight/mqtt/link/linktest"
)

// TestCounters: readings received and refused, readings that drive nothing
// by reason, commands sent and not sent, and the devices seen, counted in
// the Counters the command hands in.
func TestCounters(t *testing.T) {
	conn := linktest.New()
	c := new(Counters)
	srv, err := New(Config{Device: "+", Threshold: 300, MaxAge: 30 * time.Second, Counters: c}, conn)
	if err != nil {
		t.Fatal(err)
	}
	conn.Connect()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	defer func() { cancel(); <-done }()
	go func() { // read what is published, as a broker would
		for range conn.Published() {
		}
	}()

	now := time.Now()
	send := func(device string, payload []byte) {
		conn.Deliver(link.Message{Topic: device + "/telemetry", Payload: payload})
	}
	send("d1", telemetry(100, 1, now))
	send("d1", telemetry(100, 2, now.Add(-time.Hour))) // history
	send("d2", telemetry(100, 1, now.Add(time.Hour)))  // future
	send("d2", []byte(`{"light": "dark"}`))            // refused: not a reading
	send("d2", []byte(`{"light": 5, "id": "d4"}`))     // refused: another device's
	waitFor(t, "commands sent", func() bool { return c.CommandsSent.Load() >= 1 })
	send("d3", telemetry(900, 1, now))
	waitFor(t, "two commands sent", func() bool { return c.CommandsSent.Load() >= 2 })
	send("d3", telemetry(900, 0, now.Add(-time.Second))) // older than the newest

	conn.Fail(errTest)
	send("d1", telemetry(100, 3, now.Add(time.Second)))
	waitFor(t, "a command failed", func() bool { return c.CommandsFailed.Load() >= 1 })
	waitFor(t, "a reading older than the newest", func() bool { return c.Stale()[2] >= 1 })

	if got := c.ReadingsReceived.Load(); got != 7 {
		t.Errorf("received %d, want 7", got)
	}
	waitFor(t, "two readings refused", func() bool { return c.ReadingsRefused.Load() >= 2 })
	if got := c.ReadingsRefused.Load(); got != 2 {
		t.Errorf("refused %d, want 2", got)
	}
	if got := c.Stale(); got != [3]uint64{1, 1, 1} {
		t.Errorf("stale by reason %v, want one each of %v", got, StaleReasons)
	}
	if got := c.Devices.Load(); got != 2 {
		t.Errorf("devices %d, want 2 (d1 and d3; d2 only sent readings that drive nothing)", got)
	}
}

var errTest = errTestType{}

type errTestType struct{}

func (errTestType) Error() string { return "test: the broker did not answer" }

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !ok(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no %s within 5s", what)
		}
	}
}
