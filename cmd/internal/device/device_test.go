package device

import (
	"strings"
	"testing"
	"time"

	"nightlight/mqtt/wire"
)

// TestSensorFailure: a sensor that fails after start is reported in the
// state (not as a fake light value), logged once per change of state rather
// than once per sample, retried with a backoff, and recovered from.
func TestSensorFailure(t *testing.T) {
	hw := &fakeBoard{level: 500}
	h := start(t, hw, Config{Interval: 50 * time.Millisecond}, true)
	h.state(t, 5*time.Second, "the startup state", ledIs(false, wire.SourceStartup))
	h.reading(t, 5*time.Second)

	hw.fail(errBus)
	failed := h.state(t, 5*time.Second, "a sensor error", func(s wire.State) bool { return s.Error != "" })
	if failed.Error != errBus.Error() {
		t.Errorf("state error %q, want the sensor's own %q", failed.Error, errBus)
	}
	time.Sleep(500 * time.Millisecond) // ten failing intervals
	for len(h.tel) > 0 {
		<-h.tel // readings taken before the failure
	}
	time.Sleep(200 * time.Millisecond)
	if n := len(h.tel); n != 0 {
		t.Errorf("%d readings published while the sensor failed, want none", n)
	}
	if n := strings.Count(h.logs.String(), "sensor read failed"); n != 1 {
		t.Errorf("failure logged %d times, want once", n)
	}
	h.statusLine(t, "sensor FAILING")

	hw.set(640)
	h.state(t, 5*time.Second, "the error cleared", func(s wire.State) bool { return s.Error == "" })
	h.logs.WaitFor(t, 5*time.Second, "sensor read works again")
	if r := h.reading(t, 5*time.Second); r.Light != 640 {
		t.Fatalf("reading after recovery %d, want 640", r.Light)
	}
}

// TestFallback: without the broker for longer than fallback_after, the
// device applies the threshold rule itself, both ways; when the broker is
// back, the retained state says fallback until the server's next command
// takes over.
func TestFallback(t *testing.T) {
	hw := &fakeBoard{level: 800}
	const after = 500 * time.Millisecond
	h := start(t, hw, Config{Interval: 50 * time.Millisecond, FallbackAfter: after}, true)
	h.command(t, `{"led_on": false}`, false)
	h.state(t, 5*time.Second, "led_on false from the server", ledIs(false, wire.SourceCommand))

	lost := time.Now()
	h.conn.Lose()
	hw.set(100) // dusk, with nobody to ask
	hw.waitLED(t, true)
	if took := time.Since(lost); took < after {
		t.Errorf("fallback after %s, before fallback_after %s", took, after)
	}
	h.logs.WaitFor(t, time.Second, "msg=LED", "led_on=true", "source=fallback")
	hw.set(900) // dawn
	hw.waitLED(t, false)
	hw.set(100)
	hw.waitLED(t, true)
	// The pin is driven before the switch is logged: give the log a moment.
	if n := h.logs.WaitCount(t, 2*time.Second, 3, "source=fallback"); n != 3 {
		t.Errorf("the fallback switched the LED %d times, want 3; log:\n%s", n, h.logs.String())
	}

	h.conn.Connect()
	h.state(t, 5*time.Second, "the fallback's state, published on reconnect", ledIs(true, wire.SourceFallback))
	h.command(t, `{"led_on": true}`, false)
	h.state(t, 5*time.Second, "the server in charge again", ledIs(true, wire.SourceCommand))
}

// TestStop: a stop switches the LED off, publishes that state and the
// retained offline, and leaves the LED off.
func TestStop(t *testing.T) {
	hw := &fakeBoard{level: 100}
	h := start(t, hw, Config{Interval: time.Hour}, true)
	h.command(t, `{"led_on": true}`, false)
	h.state(t, 5*time.Second, "led_on true", ledIs(true, wire.SourceCommand))
	h.stop(t)
	h.state(t, 5*time.Second, "the LED off at shutdown", ledIs(false, wire.SourceShutdown))
	select {
	case s := <-h.status:
		if s != wire.StatusOffline {
			t.Errorf("status %q at stop, want %q", s, wire.StatusOffline)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no retained offline at stop")
	}
	if hw.ledOn() {
		t.Error("the LED is on after a stop")
	}
}

// TestNoFallbackWhileConnected: a device whose connection came up before
// Run started (the command starts it first) is not "offline" to the
// fallback rule.
func TestNoFallbackWhileConnected(t *testing.T) {
	hw := &fakeBoard{level: 100} // dark: the fallback would switch the LED on
	h := start(t, hw, Config{Interval: 20 * time.Millisecond, FallbackAfter: 100 * time.Millisecond}, true)
	h.state(t, 5*time.Second, "the startup state", ledIs(false, wire.SourceStartup))
	time.Sleep(500 * time.Millisecond)
	if hw.ledOn() || strings.Contains(h.logs.String(), "source=fallback") {
		t.Fatalf("a connected device fell back; log:\n%s", h.logs.String())
	}
}
