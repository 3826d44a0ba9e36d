package device

import (
	"testing"
	"time"

	"nightlight/mqtt/wire"
)

// tally returns the count of one outcome.
func tally(c *Counters, o CommandOutcome) uint64 {
	for _, t := range c.Commands() {
		if t.CommandOutcome == o {
			return t.N
		}
	}
	return 1 << 63 // not in the table: never a count a test expects
}

// waitCount waits until get returns at least want.
func waitCount(t *testing.T, what string, want uint64, get func() uint64) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); get() < want; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%s is %d, want at least %d", what, get(), want)
		}
	}
}

// TestCounters: readings stored and published, sensor errors, connects and
// commands by outcome are counted in the Counters the command hands in,
// which outlast the device.
func TestCounters(t *testing.T) {
	c := new(Counters)
	hw := &fakeBoard{level: 500}
	h := start(t, hw, Config{Interval: 20 * time.Millisecond, Counters: c}, true)
	waitCount(t, "readings published", 3, c.ReadingsPublished.Load)
	if c.ReadingsStored.Load() < c.ReadingsPublished.Load() {
		t.Errorf("%d stored < %d published", c.ReadingsStored.Load(), c.ReadingsPublished.Load())
	}
	if c.Reconnects.Load() != 0 {
		t.Errorf("reconnects %d after the first connection, want 0", c.Reconnects.Load())
	}

	h.command(t, `{"led_on": true}`, false)
	h.command(t, `{"mode": "off"}`, false)
	h.command(t, `{"led_on": true}`, false)                                   // ignored: a person decides
	h.command(t, `{"led_on": true, "ts": "2000-01-01T00:00:00.000Z"}`, false) // stale
	h.command(t, `{"led_on": false}`, true)                                   // retained, no ts
	h.command(t, `{"mode": "dim"}`, false)                                    // refused
	h.command(t, `not json`, false)                                           // refused
	for o, want := range map[CommandOutcome]uint64{
		{Result: ResultApplied, Command: wire.CommandLED}:       1,
		{Result: ResultApplied, Command: wire.CommandMode}:      1,
		{Result: ResultIgnored, Reason: ReasonManual}:           1,
		{Result: ResultIgnored, Reason: ReasonStale}:            1,
		{Result: ResultIgnored, Reason: ReasonRetainedNoTS}:     1,
		{Result: ResultRefused, Reason: ReasonInvalid}:          2,
		{Result: ResultApplied, Command: wire.CommandThreshold}: 0,
	} {
		waitCount(t, o.Result+" "+o.Command+o.Reason, want, func() uint64 { return tally(c, o) })
		if got := tally(c, o); got != want {
			t.Errorf("%+v counted %d, want %d", o, got, want)
		}
	}

	h.conn.Lose()
	h.conn.Connect()
	waitCount(t, "reconnects", 1, c.Reconnects.Load)
	hw.fail(errBus)
	waitCount(t, "sensor errors", 1, c.SensorErrors.Load)
	h.stop(t)
	if len(c.Commands()) != len(commandOutcomes) {
		t.Errorf("the tally lists %d outcomes, want all %d", len(c.Commands()), len(commandOutcomes))
	}
}

// TestMetricsSnapshot: the device's state as the metrics read it: the
// newest sample, the LED, mode and threshold, the link, and the age of the
// oldest reading waiting while the broker is away.
func TestMetricsSnapshot(t *testing.T) {
	hw := &fakeBoard{level: 123}
	cfg := Config{Interval: 20 * time.Millisecond, Threshold: 300}
	h := start(t, hw, cfg, false)
	h.logs.WaitFor(t, 5*time.Second, "msg=reading", "seq=3")
	d := h.device
	time.Sleep(50 * time.Millisecond)
	m := d.Metrics(time.Now())
	if !m.HaveLight || m.Light != 123 || m.Mode != wire.ModeAuto || m.Threshold != 300 || m.Connected {
		t.Errorf("offline snapshot %+v", m)
	}
	if m.Outbox.Pending < 3 || !m.HaveOldest || m.OldestAge < 40*time.Millisecond {
		t.Errorf("offline: %d pending, oldest %s (have %t): want at least 3 waiting for 40ms or more", m.Outbox.Pending, m.OldestAge, m.HaveOldest)
	}
	h.conn.Connect()
	h.command(t, `{"mode": "on"}`, false)
	h.state(t, 5*time.Second, "mode on", ledIs(true, wire.SourceManual))
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		m = d.Metrics(time.Now())
		if m.Connected && m.LEDOn && m.Mode == wire.ModeOn && m.Outbox.Pending <= 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("online snapshot %+v", m)
		}
	}
}
