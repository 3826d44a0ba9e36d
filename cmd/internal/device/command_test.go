package device

import (
	"strings"
	"testing"
	"time"

	"nightlight/mqtt/link"
	"nightlight/mqtt/link/linktest"
	"nightlight/mqtt/wire"
)

// TestHostileCommands sends junk, attacks and stale or replayed commands to
// a running device whose LED is off. None may switch the LED or stop the
// device; each one is logged as a warning with its reason. Afterwards the
// device still obeys a valid command.
func TestHostileCommands(t *testing.T) {
	hw := &fakeBoard{level: 500}
	h := start(t, hw, Config{Interval: time.Second}, true)
	h.state(t, 5*time.Second, "the startup state", ledIs(false, wire.SourceStartup))
	now := time.Now()
	ts := func(d time.Duration) string { return wire.FormatTime(now.Add(d)) }
	// A newest applied command, so that older ones are out of order.
	h.command(t, `{"led_on": false, "ts": "`+ts(0)+`"}`, false)
	h.state(t, 5*time.Second, "the baseline command", ledIs(false, wire.SourceCommand))

	for _, c := range []struct{ name, payload, reason string }{
		{"not JSON", `switch the light on`, "not JSON"},
		{"empty", ``, "not JSON"},
		{"null", `null`, "not a JSON object"},
		{"string", `"led_on"`, "not a JSON object"},
		{"array", `[{"led_on": true}]`, "not a JSON object"},
		{"string for boolean", `{"led_on": "true"}`, "true or false"},
		{"1 for true", `{"led_on": 1}`, "true or false"},
		{"1e0 for true", `{"led_on": 1e0}`, "true or false"},
		{"null for boolean", `{"led_on": null}`, "true or false"},
		{"object for boolean", `{"led_on": {"value": true}}`, "true or false"},
		{"array for boolean", `{"led_on": [true]}`, "true or false"},
		{"missing field", `{}`, "is missing"},
		{"wrong case key", `{"LED_ON": true}`, "is missing"},
		{"lesson telemetry on commands", `{"light": 12}`, "is missing"},
		{"duplicate keys, last true", `{"led_on": false, "led_on": true}`, "duplicate key"},
		{"duplicate ts", `{"led_on": true, "ts": "` + ts(0) + `", "ts": "` + ts(0) + `"}`, "duplicate key"},
		{"1 MiB", `{"led_on": true, "pad": "` + strings.Repeat("A", 1<<20) + `"}`, "more than the 1024 allowed"},
		{"just over the limit", `{"led_on": true, "pad": "` + strings.Repeat("A", 1010) + `"}`, "more than the 1024 allowed"},
		{"deeply nested", `{"led_on": true, "x": ` + strings.Repeat("[", 200) + strings.Repeat("]", 200) + `}`, "nested more than"},
		{"non-UTF-8", "{\"led_on\": true, \"note\": \"\xc3\x28\"}", "not valid UTF-8"},
		{"UTF-8 byte order mark", "\xef\xbb\xbf{\"led_on\": true}", "not JSON"},
		{"trailing garbage", `{"led_on": true}xyz`, "data after the object"},
		{"two objects", `{"led_on": true}{"led_on": true}`, "data after the object"},
		{"trailing NUL", "{\"led_on\": true}\x00", "data after the object"},
		{"truncated", `{"led_on": tru`, "not JSON"},
		{"ts not a time", `{"led_on": true, "ts": "yesterday"}`, "RFC 3339"},
		{"ts a number", `{"led_on": true, "ts": 1764092598}`, "RFC 3339"},
		{"stale ts", `{"led_on": true, "ts": "` + ts(-2*time.Hour) + `"}`, "stale"},
		{"future ts", `{"led_on": true, "ts": "` + ts(2*time.Hour) + `"}`, "in the future"},
		{"replayed older command", `{"led_on": true, "ts": "` + ts(-time.Second) + `"}`, "out of order"},
	} {
		h.command(t, c.payload, false)
		line := h.logs.WaitFor(t, 5*time.Second, "command", c.reason)
		if !strings.Contains(line, "level=WARN") {
			t.Errorf("%s: logged as %q, want a warning", c.name, line)
		}
	}
	// Only the device's own commands topic reaches it.
	for _, topic := range []string{"intruder/commands", "dev/commands/x", "dev/Commands", "dev/state", "#"} {
		if h.conn.Deliver(link.Message{Topic: topic, Payload: []byte(`{"led_on": true}`)}) {
			t.Errorf("the device is subscribed to %s", topic)
		}
	}
	if hw.ledOn() || strings.Contains(h.logs.String(), "msg=LED led_on=true") {
		t.Fatalf("a hostile command switched the LED on; log:\n%s", h.logs.String())
	}
	h.command(t, `{"led_on": true}`, false)
	h.state(t, 5*time.Second, "led_on true from a valid command", ledIs(true, wire.SourceCommand))
}

// TestRetainedCommands: a command left retained on the broker is delivered
// again at every subscribe, possibly days later ("ghost switching"). The
// device applies one only when its ts shows it is fresh.
func TestRetainedCommands(t *testing.T) {
	for _, c := range []struct{ name, payload, reason string }{
		{"no ts", `{"led_on": true}`, "retained command without ts"},
		{"a day old", `{"led_on": true, "ts": "` + wire.FormatTime(time.Now().Add(-24*time.Hour)) + `"}`, "stale"},
		{"fresh", `{"led_on": true, "ts": "` + wire.FormatTime(time.Now()) + `"}`, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			hw := &fakeBoard{level: 500}
			h := start(t, hw, Config{Interval: time.Second}, true)
			h.state(t, 5*time.Second, "the startup state", ledIs(false, wire.SourceStartup))
			h.command(t, c.payload, true)
			if c.reason == "" {
				h.state(t, 5*time.Second, "led_on true from a fresh retained command", ledIs(true, wire.SourceCommand))
				return
			}
			h.logs.WaitFor(t, 5*time.Second, "command ignored", c.reason)
			if hw.ledOn() {
				t.Error("a stale retained command switched the LED")
			}
		})
	}
}

// TestCommandQueueKeepsTheNewest: commands that arrive faster than the main
// loop takes them give way oldest first, so the newest always counts.
func TestCommandQueueKeepsTheNewest(t *testing.T) {
	d, err := New(Config{ID: "dev", Logger: discard()}, &fakeBoard{}, nil, linktest.New())
	if err != nil {
		t.Fatal(err)
	}
	for i := range cap(d.cmds) + 5 {
		d.onCommand(link.Message{Topic: "dev/commands", Payload: []byte(`{"led_on": ` + boolText(i%2 == 1) + `}`)})
	}
	var last incoming
	for n := len(d.cmds); n > 0; n-- {
		last = <-d.cmds
	}
	if want := (cap(d.cmds)+4)%2 == 1; last.cmd.LEDOn != want {
		t.Errorf("the newest queued command is led_on %v, want the last one sent, %v", last.cmd.LEDOn, want)
	}
}

func boolText(b bool) string {
	if b {
		return "true"
	}
	return "false"
}
