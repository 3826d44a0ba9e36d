package main

import (
	"context"
	"encoding/json"
	"log/slog"
	"strconv"
	"strings"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"nightlight/cmd/internal/cli"
	"nightlight/mqtt/mqtttest"
	"nightlight/mqtt/wire"
)

// runUntilStopped runs the daemon in-process on s; stop ends it and waits.
func runUntilStopped(t *testing.T, s *settings) (stop func(), logs *mqtttest.Log) {
	t.Helper()
	logs = new(mqtttest.Log)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := runDevice(ctx, s, cli.NewLogger(logs, slog.LevelDebug), nil, nil, nil)
		done <- err
	}()
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("device stopped with %v\n%s", err, logs.String())
			}
		case <-time.After(15 * time.Second):
			t.Errorf("device did not stop within 15s; log:\n%s", logs.String())
		}
	}
	t.Cleanup(stop)
	return stop, logs
}

// retained returns what the broker holds retained on topic, or nil.
func retained(t *testing.T, c paho.Client, topic string) []byte {
	t.Helper()
	ch := make(chan []byte, 1)
	tok := c.Subscribe(topic, 1, func(_ paho.Client, m paho.Message) {
		if m.Retained() {
			select {
			case ch <- m.Payload():
			default:
			}
		}
	})
	if !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("subscribe %s: %v", topic, tok.Error())
	}
	defer func() { c.Unsubscribe(topic).WaitTimeout(5 * time.Second) }()
	select {
	case p := <-ch:
		return p
	case <-time.After(500 * time.Millisecond): // the broker sends retained messages at once
		return nil
	}
}

// waitRetained waits until the retained payload on topic satisfies ok.
func waitRetained(t *testing.T, c paho.Client, topic, what string, ok func([]byte) bool) []byte {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		p := retained(t, c, topic)
		if ok(p) {
			return p
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: retained on %s is %q", what, topic, p)
		}
	}
}

func next(t *testing.T, ch <-chan paho.Message, what string) paho.Message {
	t.Helper()
	select {
	case m := <-ch:
		return m
	case <-time.After(10 * time.Second):
		t.Fatalf("no %s within 10s", what)
		return nil
	}
}

// component finds a component by key.
func component(t *testing.T, cmps []haComponent, key string) haComponent {
	t.Helper()
	for _, c := range cmps {
		if c.key == key {
			return c
		}
	}
	t.Fatalf("no component %s", key)
	return haComponent{}
}

// TestHomeAssistant plays Home Assistant on a real Mosquitto against the
// real daemon: it reads the retained discovery config and holds every key
// to Home Assistant's schemas, renders each template with Jinja2 on the
// payloads the daemon really publishes, drives the mode select and the
// threshold number with the payloads their command templates make and sees
// the LED and the state follow, restarts (its birth message) and sees the
// config sent again, and finally removes the device (nightlight forget) and
// finds nothing retained left.
func TestHomeAssistant(t *testing.T) {
	t.Parallel() // mostly waiting: overlaps the other long tests
	b := mqtttest.Mosquitto(t)
	j := newJinja(t)
	s, light := testSettings(t, b.URL(), "hall", 100*time.Millisecond)
	setLight(t, light, 100)
	ha := mqtttest.Client(t, b.URL(), "home-assistant")
	configs := mqtttest.Messages(t, ha, "homeassistant/device/+/config")
	stateCh := states(t, ha, "hall")
	tel := mqtttest.Messages(t, ha, "hall/telemetry")
	stop, logs := runUntilStopped(t, s)

	m := next(t, configs, "discovery config")
	if m.Topic() != "homeassistant/device/hall/config" {
		t.Fatalf("config on %s", m.Topic())
	}
	device, cmps := checkDiscoveryConfig(t, m.Payload())
	if device["name"] != "hall" || device["sw_version"] != version || device["model"] != "simulated Grove Base Hat" {
		t.Errorf("device %v", device)
	}
	if len(cmps) != 7 {
		t.Errorf("%d components, want 7", len(cmps))
	}
	avty := component(t, cmps, "light").str("availability_topic")
	waitRetained(t, ha, avty, "availability", func(p []byte) bool { return string(p) == "online" })

	telemetry := next(t, tel, "telemetry").Payload()
	st := waitState(t, stateCh, 10*time.Second, "the version and pending", func(s wire.State) bool { return s.Version != "" && s.Pending != nil })
	statePayload, _ := json.Marshal(st)
	checkValueTemplates(t, j, cmps, telemetry, statePayload, st)

	// A person drives the entities as Home Assistant's UI would.
	command := func(key string, value any) {
		c := component(t, cmps, key)
		payload := j.render(t, []renderJob{{c.str("command_template"), map[string]any{"value": value}}})[0]
		if _, err := wire.ParseCommand([]byte(payload)); err != nil {
			t.Fatalf("%s's command template makes %q for %v, which the device refuses: %v", key, payload, value, err)
		}
		mqtttest.Publish(t, ha, c.str("command_topic"), []byte(payload), false)
	}
	command("mode", "on")
	on := waitState(t, stateCh, 10*time.Second, "the LED on by a person", func(s wire.State) bool { return s.Mode == "on" && s.LEDOn })
	onPayload, _ := json.Marshal(on)
	if got := j.render(t, []renderJob{{component(t, cmps, "led").str("value_template"), valueVars(t, onPayload)}}); got[0] != "ON" {
		t.Errorf("the LED's template renders %q for %s, want ON", got[0], onPayload)
	}
	command("mode", "off")
	waitState(t, stateCh, 10*time.Second, "the LED off by a person", func(s wire.State) bool { return s.Mode == "off" && !s.LEDOn })
	command("mode", "auto")
	waitState(t, stateCh, 10*time.Second, "mode auto", func(s wire.State) bool { return s.Mode == "auto" })
	command("threshold", 700)
	waitState(t, stateCh, 10*time.Second, "threshold 700", func(s wire.State) bool { return s.Threshold != nil && *s.Threshold == 700 })

	// The sensor fails: the error entity says why.
	setLightText(t, light, "junk")
	failing := waitState(t, stateCh, 10*time.Second, "a sensor error", func(s wire.State) bool { return s.Error != "" })
	failPayload, _ := json.Marshal(failing)
	got := j.render(t, []renderJob{{component(t, cmps, "sensor_error").str("value_template"), valueVars(t, failPayload)}})[0]
	if got == "none" || len(got) > 255 || !strings.Contains(failing.Error, strings.TrimSuffix(got, "...")) {
		t.Errorf("the sensor error renders %q for the error %q", got, failing.Error)
	}
	setLight(t, light, 100)

	// Home Assistant restarts: its birth message asks for the config again.
	ha2 := mqtttest.Client(t, b.URL(), "home-assistant-restarted")
	again := mqtttest.Messages(t, ha2, "homeassistant/device/hall/config")
	if first := next(t, again, "the retained config"); !first.Retained() {
		t.Fatal("the config is not retained")
	}
	mqtttest.Publish(t, ha2, "homeassistant/status", []byte("online"), false)
	if m := next(t, again, "the config sent again after the birth message"); m.Retained() {
		t.Errorf("got the retained copy, want the config sent anew")
	}
	logs.WaitFor(t, 5*time.Second, "msg=announced")

	stop()
	waitRetained(t, ha, avty, "offline after a clean stop", func(p []byte) bool { return string(p) == "offline" })
	var out, errOut strings.Builder
	if err := dispatch([]string{"forget", "--config", emptyConfig(t), "--id", "hall", "--broker", b.URL(), "--state-dir", s.StateDir}, &out, &errOut); err != nil {
		t.Fatalf("forget: %v\n%s", err, errOut.String())
	}
	for _, topic := range []string{"homeassistant/device/hall/config", "hall/state", "hall/status"} {
		if p := retained(t, ha, topic); p != nil {
			t.Errorf("after forget %s still holds %q", topic, p)
		}
	}
}

// checkValueTemplates renders every value and attributes template on the
// payload of its state topic and checks what Home Assistant would show.
func checkValueTemplates(t *testing.T, j *jinja, cmps []haComponent, telemetry, state []byte, st wire.State) {
	t.Helper()
	var jobs []renderJob
	var keys []string
	for _, c := range cmps {
		payload := state
		if c.str("state_topic") == "hall/telemetry" {
			payload = telemetry
		} else if c.str("state_topic") != "hall/state" {
			t.Errorf("%s reads %s, a topic the device does not publish", c.key, c.str("state_topic"))
		}
		jobs = append(jobs, renderJob{c.str("value_template"), valueVars(t, payload)})
		keys = append(keys, c.key)
		if tpl := c.str("json_attributes_template"); tpl != "" {
			jobs = append(jobs, renderJob{tpl, valueVars(t, state)})
			keys = append(keys, c.key+" attributes")
		}
	}
	var tm wire.Telemetry
	tm, _ = wire.ParseTelemetry(telemetry)
	want := map[string]func(string) bool{
		"light":          func(s string) bool { return s == strconv.Itoa(tm.Light) },
		"led":            func(s string) bool { return s == map[bool]string{true: "ON", false: "OFF"}[st.LEDOn] },
		"led attributes": func(s string) bool { return s == `{"source": "`+st.Source+`"}` },
		"mode":           func(s string) bool { return s == st.Mode && (s == "auto" || s == "on" || s == "off") },
		"threshold": func(s string) bool {
			n, err := strconv.Atoi(s)
			return err == nil && n == *st.Threshold && n >= 0 && n <= 1000
		},
		"pending":      func(s string) bool { n, err := strconv.ParseInt(s, 10, 64); return err == nil && n == *st.Pending },
		"sensor_error": func(s string) bool { return s == "none" },
		"version":      func(s string) bool { return s == version },
	}
	for i, out := range j.render(t, jobs) {
		ok, known := want[keys[i]]
		if !known {
			t.Errorf("no expectation for %s", keys[i])
			continue
		}
		if !ok(out) {
			t.Errorf("%s renders %q from %s", keys[i], out, jobs[i].Vars["value"])
		}
	}
}

// TestHomeAssistantRenamed: a device renamed and moved to another prefix
// takes back its old config and its old id's retained state and status, so
// that no ghost is left; switched off, it takes back its config and
// announces nothing, while its status stays.
func TestHomeAssistantRenamed(t *testing.T) {
	t.Parallel()
	b := mqtttest.Mosquitto(t)
	c := mqtttest.Client(t, b.URL(), "observer")
	s, _ := testSettings(t, b.URL(), "attic", 100*time.Millisecond)
	stop, _ := runUntilStopped(t, s)
	waitRetained(t, c, "homeassistant/device/attic/config", "the first config", func(p []byte) bool { return len(p) > 0 })
	waitRetained(t, c, "attic/state", "the first state", func(p []byte) bool { return len(p) > 0 })
	stop()

	s.ID, s.HAPrefix = "loft", "site/ha"
	stop, logs := runUntilStopped(t, s)
	waitRetained(t, c, "site/ha/device/loft/config", "the config under the new id and prefix", func(p []byte) bool { return len(p) > 0 })
	logs.WaitFor(t, 5*time.Second, "msg=announced")
	for _, topic := range []string{"homeassistant/device/attic/config", "attic/state", "attic/status"} {
		if p := retained(t, c, topic); p != nil {
			t.Errorf("after the rename %s still holds %q: a ghost", topic, p)
		}
	}
	stop()

	s.HomeAssistant = false
	stop, _ = runUntilStopped(t, s)
	waitRetained(t, c, "site/ha/device/loft/config", "the config taken back", func(p []byte) bool { return p == nil })
	waitRetained(t, c, "loft/status", "the status, still there", func(p []byte) bool { return string(p) == "online" })
	stop()
}
