package main

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"nightlight/mqtt/mqtttest"
	"nightlight/mqtt/wire"
)

// noLED fails if a state with the LED on arrives within d.
func noLED(t *testing.T, ch <-chan paho.Message, d time.Duration, why string) {
	t.Helper()
	deadline := time.After(d)
	for {
		select {
		case m := <-ch:
			if s, err := wire.ParseState(m.Payload()); err == nil && s.LEDOn {
				t.Fatalf("%s, yet the LED went on: %s", why, m.Payload())
			}
		case <-deadline:
			return
		}
	}
}

// TestModesEndToEnd: the daemon (the binary) and the server on a broker.
// A person's mode off holds the LED off while the server keeps commanding
// it on, across a SIGKILL and a reload; back to auto, the next reading
// decides. A threshold chosen by command is the one the server decides by,
// and it too outlasts a SIGKILL and a reload. Junk is refused with a
// logged reason and changes nothing.
func TestModesEndToEnd(t *testing.T) {
	t.Parallel() // mostly waiting: overlaps the other long tests
	// Mosquitto: the reload connects the same client id again at once,
	// which the embedded broker (mochi-mqtt v2.7.9) races on and may then
	// drop the new connection's commands (nightlight-server's TestReload
	// says how).
	b := mqtttest.Mosquitto(t)
	dir := t.TempDir()
	light := filepath.Join(dir, "light")
	if err := os.WriteFile(light, []byte("100\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	args := []string{"--hardware", "sim", "--sim-light", light, "--id", "den", "--broker", b.URL(),
		"--state-dir", filepath.Join(dir, "state"), "--interval", "100ms", "--log-level", "debug"}
	server := startServer(t, b.URL(), "den")
	c := mqtttest.Client(t, b.URL(), "person")
	st := states(t, c, "den")
	command := func(payload string) { mqtttest.Publish(t, c, "den/commands", []byte(payload), false) }

	d := startDaemon(t, args...)
	waitState(t, st, 10*time.Second, "the server's LED on (light 100 < 300)", ledIs(true, wire.SourceCommand))

	command(`{"mode": "off"}`)
	waitState(t, st, 10*time.Second, "the LED off by a person", ledIs(false, wire.SourceManual))
	d.out.WaitFor(t, 5*time.Second, "command ignored", "led_on=true", "mode is off")
	noLED(t, st, time.Second, "mode off")

	d.stop(t, syscall.SIGKILL)
	d = startDaemon(t, args...)
	d.out.WaitFor(t, 10*time.Second, "a person decides the LED, as chosen before", "mode=off")
	d.out.WaitFor(t, 10*time.Second, "command ignored", "mode is off")
	noLED(t, st, time.Second, "mode off after a SIGKILL")

	d.cmd.Process.Signal(syscall.SIGHUP)
	d.out.WaitFor(t, 10*time.Second, "msg=reloading")
	waitState(t, st, 10*time.Second, "mode off after the reload", func(s wire.State) bool { return s.Mode == wire.ModeOff && !s.LEDOn })
	noLED(t, st, time.Second, "mode off after a reload")

	command(`{"mode": "auto"}`)
	waitState(t, st, 5*time.Second, "the next reading deciding again", ledIs(true, wire.SourceCommand))

	// The device's own threshold decides: at 50, light 100 is bright.
	command(`{"threshold": 50}`)
	waitState(t, st, 10*time.Second, "the LED off by the device's threshold", func(s wire.State) bool {
		return s.Threshold != nil && *s.Threshold == 50 && !s.LEDOn && s.Source == wire.SourceCommand
	})
	server.WaitFor(t, 5*time.Second, "command sent", "led_on=false", "threshold=50")
	d.stop(t, syscall.SIGKILL)
	d = startDaemon(t, args...)
	waitState(t, st, 10*time.Second, "threshold 50 after a SIGKILL", func(s wire.State) bool { return s.Threshold != nil && *s.Threshold == 50 })
	d.cmd.Process.Signal(syscall.SIGHUP)
	d.out.WaitFor(t, 10*time.Second, "msg=reloading")
	waitState(t, st, 10*time.Second, "threshold 50 after the reload", func(s wire.State) bool {
		return s.Threshold != nil && *s.Threshold == 50 && s.Mode == wire.ModeAuto
	})
	noLED(t, st, time.Second, "threshold 50 with light 100")

	for _, junk := range []struct{ payload, reason string }{
		{`{"mode": "dim"}`, `must be \"auto\", \"on\" or \"off\", not \"dim\"`},
		{`{"threshold": 5000}`, `outside 0..1000`},
		{`{"threshold": "low"}`, `whole number`},
		{`{"mode": "on", "threshold": 10}`, `in one command`},
	} {
		command(junk.payload)
		d.out.WaitFor(t, 5*time.Second, "command refused", junk.reason)
	}
	d.stop(t, syscall.SIGTERM)
	last := waitState(t, st, 10*time.Second, "the last state", func(s wire.State) bool { return s.Source == wire.SourceShutdown })
	if last.Mode != wire.ModeAuto || *last.Threshold != 50 {
		t.Errorf("junk changed the choices: %+v", last)
	}
}
