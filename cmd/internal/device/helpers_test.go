package device

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"nightlight/mqtt/link"
	"nightlight/mqtt/link/linktest"
	"nightlight/mqtt/mqtttest"
	"nightlight/mqtt/outbox"
	"nightlight/mqtt/wire"
)

// fakeBoard is hardware whose light level the test sets and whose LED it
// reads back; a set error makes the sensor fail.
type fakeBoard struct {
	mu    sync.Mutex
	level int
	err   error
	reads int
	led   bool
}

func (b *fakeBoard) Light() (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.reads++
	return b.level, b.err
}

func (b *fakeBoard) SetLED(on bool) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.led = on
	return nil
}

func (b *fakeBoard) set(level int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.level, b.err = level, nil
}

func (b *fakeBoard) fail(err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.err = err
}

func (b *fakeBoard) ledOn() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.led
}

// waitLED waits until the LED is on (or off).
func (b *fakeBoard) waitLED(t *testing.T, on bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); b.ledOn() != on; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the LED did not go %v within 5s", map[bool]string{true: "on", false: "off"}[on])
		}
	}
}

// harness is a device running on hw with a fake connection and a real
// outbox in a temp dir, until the test ends.
type harness struct {
	id     string
	sup    *recordingSupervisor
	stop   func(t *testing.T) // stops the device and waits for Run; the test's end does it too
	conn   *linktest.Conn
	ob     *outbox.Outbox
	logs   *mqtttest.Log
	tel    chan wire.Telemetry // what the device published, split by topic
	states chan wire.State
	status chan string
	other  chan link.Message // anything else: announcements
	device *Device
}

// start runs a device with cfg (ID and Threshold filled in when empty) on
// hw. With connect, the fake connection is up from the start.
func start(t *testing.T, hw Hardware, cfg Config, connect bool) *harness {
	t.Helper()
	if cfg.ID == "" {
		cfg.ID = "dev"
	}
	if cfg.Threshold == 0 {
		cfg.Threshold = wire.DefaultThreshold
	}
	h := &harness{
		id:     cfg.ID,
		conn:   linktest.New(),
		logs:   new(mqtttest.Log),
		tel:    make(chan wire.Telemetry, 1024),
		states: make(chan wire.State, 1024),
		status: make(chan string, 64),
		other:  make(chan link.Message, 64),
	}
	ob, err := outbox.Open(t.TempDir(), outbox.Options{})
	if err != nil {
		t.Fatal(err)
	}
	h.ob = ob
	cfg.Logger = slog.New(slog.NewTextHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	h.sup = new(recordingSupervisor)
	cfg.Supervisor = h.sup
	d, err := New(cfg, hw, ob, h.conn)
	if err != nil {
		t.Fatal(err)
	}
	h.device = d
	if connect {
		h.conn.Connect()
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	split := make(chan struct{})
	go h.split(t, split)
	var once sync.Once
	h.stop = func(t *testing.T) {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("Run: %v", err)
				}
			case <-time.After(10 * time.Second):
				t.Error("Run did not return within 10s")
			}
		})
	}
	t.Cleanup(func() {
		h.stop(t)
		close(split)
		ob.Close()
	})
	return h
}

// split sorts what the device publishes by topic until stop closes.
func (h *harness) split(t *testing.T, stop <-chan struct{}) {
	for {
		select {
		case <-stop:
			return
		case m := <-h.conn.Published():
			_, kind, ok := wire.SplitTopic(m.Topic)
			if !ok {
				h.other <- m
				continue
			}
			switch kind {
			case wire.KindTelemetry:
				r, err := wire.ParseTelemetry(m.Payload)
				if err != nil {
					t.Errorf("telemetry %q: %v", m.Payload, err)
				}
				h.tel <- r
			case wire.KindState:
				s, err := wire.ParseState(m.Payload)
				if err != nil {
					t.Errorf("state %q: %v", m.Payload, err)
				}
				h.states <- s
			case wire.KindStatus:
				h.status <- string(m.Payload)
			}
		}
	}
}

// reading returns the next published reading.
func (h *harness) reading(t *testing.T, within time.Duration) wire.Telemetry {
	t.Helper()
	select {
	case r := <-h.tel:
		return r
	case <-time.After(within):
		t.Fatalf("no reading within %s; log:\n%s", within, h.logs.String())
		return wire.Telemetry{}
	}
}

// state waits for a published state that satisfies ok.
func (h *harness) state(t *testing.T, within time.Duration, what string, ok func(wire.State) bool) wire.State {
	t.Helper()
	deadline := time.After(within)
	for {
		select {
		case s := <-h.states:
			if ok(s) {
				return s
			}
		case <-deadline:
			t.Fatalf("no state with %s within %s; log:\n%s", what, within, h.logs.String())
		}
	}
}

// command delivers a command payload as the broker would.
func (h *harness) command(t *testing.T, payload string, retained bool) {
	t.Helper()
	topic := wire.Topic(h.id, wire.KindCommands)
	if !h.conn.Deliver(link.Message{Topic: topic, Payload: []byte(payload), Retained: retained}) {
		t.Fatalf("the device is not subscribed to %s", topic)
	}
}

// statusLine waits for a status line that holds want.
func (h *harness) statusLine(t *testing.T, want string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		line := h.sup.status()
		if strings.Contains(line, want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("status line %q does not say %q", line, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// recordingSupervisor keeps the newest status line.
type recordingSupervisor struct {
	mu   sync.Mutex
	line string
}

func (s *recordingSupervisor) Ready() error                    { return nil }
func (s *recordingSupervisor) Watchdog() error                 { return nil }
func (s *recordingSupervisor) WatchdogInterval() time.Duration { return 0 }

func (s *recordingSupervisor) Status(line string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.line = line
	return nil
}

func (s *recordingSupervisor) status() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.line
}

func ledIs(on bool, source string) func(wire.State) bool {
	return func(s wire.State) bool { return s.LEDOn == on && s.Source == source }
}

func discard() *slog.Logger { return slog.New(slog.DiscardHandler) }

var errBus = errors.New("board: light: 3 of 3 reads failed: i2c: bus error")
