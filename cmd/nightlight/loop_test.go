package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"nightlight/mqtt/mqtttest"
	"nightlight/mqtt/wire"
)

// TestLEDFollowsLight: device and server through a real broker; the light
// file at 100 turns the LED on, at 800 off, each within one interval plus a
// margin for the round trip device -> server -> device.
func TestLEDFollowsLight(t *testing.T) {
	t.Parallel()
	mqtttest.ForEach(t, func(t *testing.T, b mqtttest.Broker) {
		const id = "follow"
		const interval = 250 * time.Millisecond
		const margin = 1500 * time.Millisecond
		watcher := mqtttest.Client(t, b.URL(), "watcher")
		st := states(t, watcher, id)
		s, light := testSettings(t, b.URL(), id, interval)
		startServer(t, b.URL(), id)
		startDevice(t, s)
		waitState(t, st, 10*time.Second, "the device started", func(wire.State) bool { return true })

		for _, step := range []struct {
			level int
			on    bool
		}{{100, true}, {800, false}, {299, true}, {300, false}} {
			setLight(t, light, step.level)
			start := time.Now()
			waitState(t, st, 10*time.Second, fmt.Sprintf("led_on %v at light %d", step.on, step.level), ledIs(step.on, wire.SourceCommand))
			if took := time.Since(start); took > interval+margin {
				t.Errorf("light %d: LED followed after %s, want within %s", step.level, took, interval+margin)
			}
		}
	})
}

// TestLessonServerWire: the lesson's device publishes exactly {"light": 100}
// and reads payload["led_on"] from the answer.
func TestLessonServerWire(t *testing.T) {
	t.Parallel()
	mqtttest.ForEach(t, func(t *testing.T, b mqtttest.Broker) {
		const id = "lesson-device"
		startServer(t, b.URL(), id)
		lesson := mqtttest.Client(t, b.URL(), "lesson-device-script")
		cmds := mqtttest.Messages(t, lesson, id+"/commands")
		time.Sleep(300 * time.Millisecond) // let the server subscribe
		for _, tc := range []struct {
			payload string
			want    bool
		}{{`{"light": 100}`, true}, {`{"light": 800}`, false}} {
			deadline := time.After(10 * time.Second)
			mqtttest.Publish(t, lesson, id+"/telemetry", []byte(tc.payload), false)
			for got := false; !got; {
				select {
				case m := <-cmds:
					var cmd map[string]any
					if err := json.Unmarshal(m.Payload(), &cmd); err != nil {
						t.Fatalf("command %q is not JSON: %v", m.Payload(), err)
					}
					if cmd["led_on"] != tc.want {
						t.Fatalf("after %s got %s, want led_on %v", tc.payload, m.Payload(), tc.want)
					}
					got = true
				case <-deadline:
					t.Fatalf("no command after %s", tc.payload)
				}
			}
		}
	})
}

// TestLessonCommandWire: the lesson's server sends exactly {"led_on": true}.
func TestLessonCommandWire(t *testing.T) {
	t.Parallel()
	mqtttest.ForEach(t, func(t *testing.T, b mqtttest.Broker) {
		const id = "lesson-server"
		watcher := mqtttest.Client(t, b.URL(), "watcher")
		st := states(t, watcher, id)
		s, _ := testSettings(t, b.URL(), id, time.Second)
		startDevice(t, s)
		waitState(t, st, 10*time.Second, "the startup state", ledIs(false, wire.SourceStartup))

		lesson := mqtttest.Client(t, b.URL(), "lesson-server-script")
		mqtttest.Publish(t, lesson, id+"/commands", []byte(`{"led_on": true}`), false)
		waitState(t, st, 5*time.Second, "led_on true", ledIs(true, wire.SourceCommand))
		mqtttest.Publish(t, lesson, id+"/commands", []byte(`{"led_on": false}`), false)
		waitState(t, st, 5*time.Second, "led_on false", ledIs(false, wire.SourceCommand))
	})
}

// TestReconnect: the broker stops and starts again under a running device
// and server; afterwards commands are obeyed and telemetry flows again.
func TestReconnect(t *testing.T) {
	t.Parallel() // mostly waiting: overlaps the other long tests
	mqtttest.ForEach(t, func(t *testing.T, b mqtttest.Broker) {
		const id = "reconnect"
		s, light := testSettings(t, b.URL(), id, 200*time.Millisecond)
		devLog := startDevice(t, s)
		startServer(t, b.URL(), id)
		devLog.WaitFor(t, 10*time.Second, "connected", b.URL())

		b.Stop()
		devLog.WaitFor(t, 10*time.Second, "connection lost")
		time.Sleep(500 * time.Millisecond) // readings taken while the broker is away
		b.Start()

		// A fresh client after the restart: the broker forgot the old ones.
		watcher := mqtttest.Client(t, b.URL(), "watcher-after")
		st := states(t, watcher, id)
		tel := mqtttest.Messages(t, watcher, id+"/telemetry")
		deadline := time.After(30 * time.Second)
		for got := 0; got < 3; {
			select {
			case m := <-tel:
				if _, err := wire.ParseTelemetry(m.Payload()); err != nil {
					t.Fatalf("telemetry %q: %v", m.Payload(), err)
				}
				got++
			case <-deadline:
				t.Fatalf("telemetry did not flow again after the broker restart; device log:\n%s", devLog.String())
			}
		}
		setLight(t, light, 50)
		waitState(t, st, 10*time.Second, "led_on true after the restart", ledIs(true, wire.SourceCommand))
		if n := strings.Count(devLog.String(), `msg=connected`); n < 2 {
			t.Errorf("device connected %d times, want a reconnect", n)
		}
	})
}
