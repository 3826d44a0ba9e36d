package main

import (
	"strings"
	"testing"
	"time"

	"nightlight/mqtt/mqtttest"
	"nightlight/mqtt/wire"
)

// TestHostileCommands sends junk, attacks and stale or replayed commands to a
// running device whose LED is off. None may switch the LED or stop the
// daemon; each one that reaches the device is logged with its reason. Topics
// the device does not subscribe to never reach it: for those the test shows
// only that nothing changed.
func TestHostileCommands(t *testing.T) {
	mqtttest.ForEach(t, func(t *testing.T, b mqtttest.Broker) {
		const id = "target"
		watcher := mqtttest.Client(t, b.URL(), "watcher")
		st := states(t, watcher, id)
		s, _ := testSettings(t, b.URL(), id, time.Second)
		logs := startDevice(t, s)
		waitState(t, st, 10*time.Second, "the startup state", ledIs(false, wire.SourceStartup))

		attacker := mqtttest.Client(t, b.URL(), "attacker")
		now := time.Now()
		ts := func(d time.Duration) string { return wire.FormatTime(now.Add(d)) }
		// A newest applied command, so that older ones are out of order.
		mqtttest.Publish(t, attacker, id+"/commands", []byte(`{"led_on": false, "ts": "`+ts(0)+`"}`), false)
		waitState(t, st, 5*time.Second, "the baseline command", ledIs(false, wire.SourceCommand))

		cmds := id + "/commands"
		cases := []struct {
			name, topic, payload string
			reason               string // "" when the device never sees it
		}{
			{"not JSON", cmds, `switch the light on`, "not JSON"},
			{"empty", cmds, ``, "not JSON"},
			{"null", cmds, `null`, "not a JSON object"},
			{"string", cmds, `"led_on"`, "not a JSON object"},
			{"array", cmds, `[{"led_on": true}]`, "not a JSON object"},
			{"string for boolean", cmds, `{"led_on": "true"}`, "true or false"},
			{"1 for true", cmds, `{"led_on": 1}`, "true or false"},
			{"1e0 for true", cmds, `{"led_on": 1e0}`, "true or false"},
			{"null for boolean", cmds, `{"led_on": null}`, "true or false"},
			{"object for boolean", cmds, `{"led_on": {"value": true}}`, "true or false"},
			{"array for boolean", cmds, `{"led_on": [true]}`, "true or false"},
			{"missing field", cmds, `{}`, "is missing"},
			{"wrong case key", cmds, `{"LED_ON": true}`, "is missing"},
			{"lesson telemetry on commands", cmds, `{"light": 12}`, "is missing"},
			{"duplicate keys, last true", cmds, `{"led_on": false, "led_on": true}`, "duplicate key"},
			{"duplicate ts", cmds, `{"led_on": true, "ts": "` + ts(0) + `", "ts": "` + ts(0) + `"}`, "duplicate key"},
			{"1 MiB", cmds, `{"led_on": true, "pad": "` + strings.Repeat("A", 1<<20) + `"}`, "more than the 1024 allowed"},
			{"just over the limit", cmds, `{"led_on": true, "pad": "` + strings.Repeat("A", 1010) + `"}`, "more than the 1024 allowed"},
			{"deeply nested", cmds, `{"led_on": true, "x": ` + strings.Repeat("[", 200) + strings.Repeat("]", 200) + `}`, "nested more than"},
			{"non-UTF-8", cmds, "{\"led_on\": true, \"note\": \"\xc3\x28\"}", "not valid UTF-8"},
			{"UTF-8 byte order mark", cmds, "\xef\xbb\xbf{\"led_on\": true}", "not JSON"},
			{"trailing garbage", cmds, `{"led_on": true}xyz`, "data after the object"},
			{"two objects", cmds, `{"led_on": true}{"led_on": true}`, "data after the object"},
			{"trailing NUL", cmds, "{\"led_on\": true}\x00", "data after the object"},
			{"truncated", cmds, `{"led_on": tru`, "not JSON"},
			{"ts not a time", cmds, `{"led_on": true, "ts": "yesterday"}`, "RFC 3339"},
			{"ts a number", cmds, `{"led_on": true, "ts": 1764092598}`, "RFC 3339"},
			{"stale ts", cmds, `{"led_on": true, "ts": "` + ts(-2*time.Hour) + `"}`, "stale"},
			{"future ts", cmds, `{"led_on": true, "ts": "` + ts(2*time.Hour) + `"}`, "in the future"},
			{"replayed older command", cmds, `{"led_on": true, "ts": "` + ts(-time.Second) + `"}`, "out of order"},
			{"another device's topic", "intruder/commands", `{"led_on": true}`, ""},
			{"sub-topic", cmds + "/x", `{"led_on": true}`, ""},
			{"case of the topic", id + "/Commands", `{"led_on": true}`, ""},
			{"state topic", id + "/state", `{"led_on": true, "source": "command"}`, ""},
		}
		for _, c := range cases {
			mqtttest.Publish(t, attacker, c.topic, []byte(c.payload), false)
			if c.reason != "" {
				line := logs.WaitFor(t, 5*time.Second, "command", c.reason)
				if !strings.Contains(line, "level=WARN") {
					t.Errorf("%s: logged as %q, want a warning", c.name, line)
				}
			}
		}
		time.Sleep(300 * time.Millisecond) // the last ones that leave no trace
	drainStates:
		for {
			select {
			case m := <-st:
				s, _ := wire.ParseState(m.Payload())
				// The attacker's own forged state (no ts) is not the device's.
				if s.LEDOn && s.TS != "" {
					t.Fatalf("a hostile command switched the LED on: state %s", m.Payload())
				}
			default:
				break drainStates
			}
		}
		if n := strings.Count(logs.String(), "msg=LED component=device led_on=true"); n != 0 {
			t.Errorf("the log shows the LED on %d times", n)
		}
		// Still alive and obedient.
		mqtttest.Publish(t, attacker, cmds, []byte(`{"led_on": true}`), false)
		waitState(t, st, 5*time.Second, "led_on true from a valid command", ledIs(true, wire.SourceCommand))
		t.Logf("%d hostile commands, none obeyed", len(cases))
	})
}

// TestRetainedCommands: a command left retained on the broker is delivered
// again at every subscribe, possibly days later ("ghost switching"). The
// device applies one only when its ts shows it is fresh.
func TestRetainedCommands(t *testing.T) {
	mqtttest.ForEach(t, func(t *testing.T, b mqtttest.Broker) {
		attacker := mqtttest.Client(t, b.URL(), "ghost")
		for _, c := range []struct{ id, payload, reason string }{
			{"ghost1", `{"led_on": true}`, "retained command without ts"},
			{"ghost2", `{"led_on": true, "ts": "` + wire.FormatTime(time.Now().Add(-24*time.Hour)) + `"}`, "stale"},
		} {
			// Left there before the device subscribes, as after a restart.
			mqtttest.Publish(t, attacker, c.id+"/commands", []byte(c.payload), true)
			t.Cleanup(func() { mqtttest.Publish(t, attacker, c.id+"/commands", nil, true) })
			watcher := mqtttest.Client(t, b.URL(), "watcher-"+c.id)
			st := states(t, watcher, c.id)
			s, _ := testSettings(t, b.URL(), c.id, time.Second)
			logs := startDevice(t, s)
			logs.WaitFor(t, 10*time.Second, "command ignored", c.reason)
			waitState(t, st, 5*time.Second, "the startup state", ledIs(false, wire.SourceStartup))
			time.Sleep(200 * time.Millisecond)
			if strings.Contains(logs.String(), "led_on=true source") {
				t.Errorf("%s: a retained command switched the LED", c.id)
			}
		}
	})
}
