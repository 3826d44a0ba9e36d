package device

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"nightlight/mqtt/wire"
)

// TestModes: a person takes the LED over (mode on, off) and the server's
// commands no longer move it; back to auto, the device publishes its next
// reading at once and the server's answer decides. The state says who
// decides and the threshold.
func TestModes(t *testing.T) {
	hw := &fakeBoard{level: 800}
	h := start(t, hw, Config{Interval: time.Hour, SampleEvery: 10 * time.Millisecond}, true)
	st := h.state(t, 5*time.Second, "the startup state", ledIs(false, wire.SourceStartup))
	if st.Mode != wire.ModeAuto || st.Threshold == nil || *st.Threshold != wire.DefaultThreshold {
		t.Fatalf("startup state %+v, want mode auto and threshold %d", st, wire.DefaultThreshold)
	}
	h.reading(t, 5*time.Second)

	h.command(t, `{"mode": "on"}`, false)
	h.state(t, 5*time.Second, "the LED on by a person", func(s wire.State) bool {
		return s.LEDOn && s.Source == wire.SourceManual && s.Mode == wire.ModeOn
	})
	h.command(t, `{"led_on": false, "seq": 1}`, false)
	h.logs.WaitFor(t, 5*time.Second, "level=DEBUG", "command ignored", "mode is on")
	if !hw.ledOn() {
		t.Fatal("the server's command switched the LED off in mode on")
	}
	h.command(t, `{"mode": "off"}`, false)
	h.state(t, 5*time.Second, "the LED off by a person", ledIs(false, wire.SourceManual))

	for len(h.tel) > 0 {
		<-h.tel
	}
	h.command(t, `{"mode": "auto"}`, false)
	// With a heartbeat an hour away, only the hand-back explains a reading.
	r := h.reading(t, 5*time.Second)
	h.command(t, `{"led_on": true, "seq": `+strconv.FormatUint(r.Seq, 10)+`}`, false)
	h.state(t, 5*time.Second, "the server in charge again", func(s wire.State) bool {
		return s.LEDOn && s.Source == wire.SourceCommand && s.Mode == wire.ModeAuto
	})
}

// TestJunkModeAndThreshold: bad mode and threshold commands are refused
// with a logged reason and change nothing.
func TestJunkModeAndThreshold(t *testing.T) {
	hw := &fakeBoard{level: 500}
	h := start(t, hw, Config{Interval: time.Second}, true)
	h.state(t, 5*time.Second, "the startup state", ledIs(false, wire.SourceStartup))
	for _, c := range []struct{ payload, reason string }{
		{`{"mode": "manual"}`, `must be \"auto\", \"on\" or \"off\", not \"manual\"`},
		{`{"mode": "ON"}`, `not \"ON\"`},
		{`{"mode": true}`, `not a boolean`},
		{`{"mode": null}`, `not null`},
		{`{"threshold": -1}`, `outside 0..1000`},
		{`{"threshold": 1001}`, `outside 0..1000`},
		{`{"threshold": 30.5}`, `whole number`},
		{`{"threshold": "300"}`, `whole number`},
		{`{"mode": "on", "threshold": 100}`, `in one command`},
		{`{"led_on": true, "mode": "auto"}`, `in one command`},
		{`{"led_on": true, "seq": 0}`, `outside 1..`},
		{`{"led_on": true, "seq": "7"}`, `whole number`},
	} {
		h.command(t, c.payload, false)
		line := h.logs.WaitFor(t, 5*time.Second, "command refused", c.reason)
		if !strings.Contains(line, "level=WARN") {
			t.Errorf("%s: logged as %q, want a warning", c.payload, line)
		}
	}
	h.command(t, `{"led_on": true}`, false)
	st := h.state(t, 5*time.Second, "led_on true", ledIs(true, wire.SourceCommand))
	if st.Mode != wire.ModeAuto || *st.Threshold != wire.DefaultThreshold {
		t.Errorf("junk changed the choices: %+v", st)
	}
}

// TestChoicesAreKept: mode and threshold chosen by command outlast a
// restart (a new device on the same keeper); a configuration that changes
// the threshold afterwards wins over the one chosen before.
func TestChoicesAreKept(t *testing.T) {
	keeper := FileKeeper(filepath.Join(t.TempDir(), "choices.json"))
	hw := &fakeBoard{level: 800}
	h := start(t, hw, Config{Interval: time.Hour, Keeper: keeper}, true)
	h.command(t, `{"threshold": 900}`, false)
	h.command(t, `{"mode": "on"}`, false)
	h.state(t, 5*time.Second, "mode on, threshold 900", func(s wire.State) bool {
		return s.Mode == wire.ModeOn && s.Threshold != nil && *s.Threshold == 900
	})
	h.stop(t)

	again := start(t, &fakeBoard{level: 800}, Config{Interval: time.Hour, Keeper: keeper}, true)
	st := again.state(t, 5*time.Second, "the kept choices", func(s wire.State) bool { return s.Source == wire.SourceManual })
	if !st.LEDOn || st.Mode != wire.ModeOn || *st.Threshold != 900 {
		t.Errorf("after a restart: %+v, want the LED on by mode on, threshold 900", st)
	}
	again.stop(t)

	changed := start(t, &fakeBoard{level: 800}, Config{Interval: time.Hour, Keeper: keeper, Threshold: 250}, true)
	st = changed.state(t, 5*time.Second, "the state", func(wire.State) bool { return true })
	if st.Mode != wire.ModeOn || *st.Threshold != 250 {
		t.Errorf("after the configuration changed the threshold: %+v, want mode on kept and threshold 250", st)
	}
	changed.logs.WaitFor(t, time.Second, "the configuration's threshold replaces the one chosen by command")
}

// TestDamagedChoices: a kept-choices file that is not ours, or damaged,
// does not stop the device: it starts with the configuration's and says so.
func TestDamagedChoices(t *testing.T) {
	dir := t.TempDir()
	for name, write := range map[string]func(string) error{
		"garbage":   func(p string) error { return os.WriteFile(p, []byte("not json"), 0o644) },
		"bad mode":  func(p string) error { return os.WriteFile(p, []byte(`{"mode":"x","threshold":300}`), 0o644) },
		"too large": func(p string) error { return os.WriteFile(p, make([]byte, 1<<20), 0o644) },
		"directory": func(p string) error { return os.Mkdir(p, 0o755) },
	} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(name, " ", "-"))
			if err := write(path); err != nil {
				t.Fatal(err)
			}
			h := start(t, &fakeBoard{level: 500}, Config{Interval: time.Hour, Keeper: FileKeeper(path)}, true)
			st := h.state(t, 5*time.Second, "the startup state", ledIs(false, wire.SourceStartup))
			if st.Mode != wire.ModeAuto || *st.Threshold != wire.DefaultThreshold {
				t.Errorf("state %+v, want the configuration's choices", st)
			}
			h.logs.WaitFor(t, time.Second, "level=WARN", "kept choices unreadable")
		})
	}
}
