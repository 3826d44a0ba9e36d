package device

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"nightlight/mqtt/mqtttest"
	"nightlight/mqtt/outbox"
	"nightlight/mqtt/wire"
)

// watchedSensor is hardware with a window comparator, as an ADS1115 with
// ALERT/RDY on a GPIO: Watch arms it, a read disarms it, and it alerts when
// the level is outside the armed window.
type watchedSensor struct {
	mu       sync.Mutex
	level    int
	reads    int
	armed    bool
	lo, hi   int
	watchErr error // Watch fails with it
	storm    bool  // alert at every Watch, as a noisy input at the window's edge would
	alerts   chan struct{}
	led      bool
}

func newWatchedSensor(level int) *watchedSensor {
	return &watchedSensor{level: level, alerts: make(chan struct{}, 1)}
}

func (s *watchedSensor) Light() (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reads++
	s.armed = false
	return s.level, nil
}

func (s *watchedSensor) SetLED(on bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.led = on
	return nil
}

func (s *watchedSensor) Watch(lo, hi int) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.watchErr != nil {
		return s.watchErr
	}
	s.lo, s.hi, s.armed = lo, hi, true
	s.check()
	return nil
}

func (s *watchedSensor) Alerts() <-chan struct{} { return s.alerts }

func (s *watchedSensor) set(level int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.level = level
	s.check()
}

// check alerts if armed and outside the window; s.mu is held.
func (s *watchedSensor) check() {
	if s.armed && (s.storm || s.level < s.lo || s.level > s.hi) {
		s.armed = false // latched until read
		signal(s.alerts)
	}
}

func (s *watchedSensor) stats() (reads int, armed bool, lo, hi int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.reads, s.armed, s.lo, s.hi
}

// runWatched runs a device on hw against the embedded broker until the test
// ends; it returns the device's telemetry as a subscriber sees it.
func runWatched(t *testing.T, hw Hardware, cfg Config) (<-chan paho.Message, *mqtttest.Log) {
	t.Helper()
	b := mqtttest.Embedded(t)
	tel := mqtttest.Messages(t, mqtttest.Client(t, b.URL(), "sub-"+cfg.ID), cfg.ID+"/telemetry")
	ob, err := outbox.Open(t.TempDir(), outbox.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ob.Close() })
	logs := new(mqtttest.Log)
	cfg.Broker = b.URL()
	cfg.Threshold = DefaultThreshold
	cfg.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	d, err := New(cfg, hw, ob)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	t.Cleanup(func() {
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
	return tel, logs
}

// nextLight returns the next reading's level and when the device took it.
func nextLight(t *testing.T, tel <-chan paho.Message, within time.Duration) (int, time.Time) {
	t.Helper()
	select {
	case m := <-tel:
		r, err := wire.ParseTelemetry(m.Payload())
		if err != nil {
			t.Fatalf("telemetry %s: %v", m.Payload(), err)
		}
		return r.Light, r.TS
	case <-time.After(within):
		t.Fatalf("no reading within %s", within)
		return 0, time.Time{}
	}
}

// armedAt waits until the sensor is armed at lo..hi: the device arms it
// after storing the reading, so the reading may reach a subscriber first.
func armedAt(t *testing.T, hw *watchedSensor, lo, hi int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, armed, gotLo, gotHi := hw.stats()
		if armed && gotLo == lo && gotHi == hi {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("sensor armed %v at %d..%d, want armed at %d..%d", armed, gotLo, gotHi, lo, hi)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestWatchedSteadyLight: with a sensor that wakes the device, steady light
// costs a read per heartbeat, not one per sample period.
func TestWatchedSteadyLight(t *testing.T) {
	hw := newWatchedSensor(500)
	tel, _ := runWatched(t, hw, Config{ID: "steady", Interval: time.Second, SampleEvery: 10 * time.Millisecond, Deadband: 30})
	for range 3 { // the first reading and two heartbeats
		if v, _ := nextLight(t, tel, 5*time.Second); v != 500 {
			t.Fatalf("published %d, want 500", v)
		}
	}
	// Polled at 10 ms, about 200 reads by now.
	if reads, _, _, _ := hw.stats(); reads > 4 {
		t.Errorf("%d sensor reads for 3 readings of steady light, want one per reading", reads)
	}
	armedAt(t, hw, 471, 529) // 500 ± deadband 30, exclusive
}

// TestWatchedChange: a change wakes the device at once and re-arms the
// sensor around the new level, on the dark side of the threshold.
func TestWatchedChange(t *testing.T) {
	hw := newWatchedSensor(500)
	tel, _ := runWatched(t, hw, Config{ID: "change", Interval: time.Minute, SampleEvery: 10 * time.Millisecond, Deadband: 30})
	nextLight(t, tel, 5*time.Second)
	armedAt(t, hw, 471, 529)
	hw.set(510) // inside the window: nothing
	hw.set(100)
	set := time.Now()
	v, at := nextLight(t, tel, 5*time.Second)
	if v != 100 {
		t.Fatalf("published %d, want 100", v)
	}
	// With a heartbeat a minute away, only the alert can explain it.
	if took := at.Sub(set); took > 5*time.Second {
		t.Errorf("darkness taken %s after it came, want at once", took)
	}
	armedAt(t, hw, 71, 129)
	hw.set(290) // a move of 190, still dark
	if v, _ := nextLight(t, tel, 5*time.Second); v != 290 {
		t.Fatalf("published %d, want 290", v)
	}
	armedAt(t, hw, 261, 299) // crossing threshold 300 must wake the device
	hw.set(300)              // across the threshold by one
	if v, _ := nextLight(t, tel, 5*time.Second); v != 300 {
		t.Fatalf("published %d, want 300", v)
	}
}

// TestWatchedHeldChange: a change that publish_gap holds back is not lost:
// the device samples again when the gap ends.
func TestWatchedHeldChange(t *testing.T) {
	hw := newWatchedSensor(500)
	const gap = 600 * time.Millisecond
	tel, _ := runWatched(t, hw, Config{ID: "held", Interval: time.Minute, SampleEvery: 10 * time.Millisecond, Deadband: 30, PublishGap: gap})
	nextLight(t, tel, 5*time.Second)
	hw.set(100)
	_, first := nextLight(t, tel, 5*time.Second)
	time.Sleep(50 * time.Millisecond)
	hw.set(800) // within the gap
	v, at := nextLight(t, tel, 5*time.Second)
	if v != 800 {
		t.Fatalf("published %d, want 800", v)
	}
	// Taken (ts) no sooner than the gap after the previous change, and not
	// much later: the device woke for it, with no heartbeat in sight.
	if took := at.Sub(first); took < gap || took > gap+3*time.Second {
		t.Errorf("held change taken %s after the previous one, want at the end of publish_gap %s", took, gap)
	}
}

// TestWatchedAlertStorm: a sensor that alerts at once every time it is
// armed (a noisy input right at the window's edge) is read no more often
// than the sample period, as polling would.
func TestWatchedAlertStorm(t *testing.T) {
	hw := newWatchedSensor(500)
	hw.storm = true
	runWatched(t, hw, Config{ID: "storm", Interval: time.Minute, SampleEvery: 50 * time.Millisecond, Deadband: 30})
	time.Sleep(time.Second)
	// About 20; a loop that stopped answering alerts would make 1 or 2.
	if reads, _, _, _ := hw.stats(); reads > 25 || reads < 5 {
		t.Errorf("%d reads in 1 s of alerts at sample_every 50ms, want about 20", reads)
	}
}

// TestWatchedFallback: with the broker away and a steady light, no alert
// comes; the device still wakes when the offline fallback is due.
func TestWatchedFallback(t *testing.T) {
	hw := newWatchedSensor(100) // dark, steady
	ob, err := outbox.Open(t.TempDir(), outbox.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ob.Close() })
	d, err := New(Config{ID: "alone", Broker: "tcp://" + mqtttest.FreeAddr(t), Interval: time.Minute,
		SampleEvery: 10 * time.Millisecond, Deadband: 30, Threshold: DefaultThreshold, FallbackAfter: 500 * time.Millisecond}, hw, ob)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	defer func() {
		cancel()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Error("Run did not return within 10s")
		}
	}()
	deadline := time.Now().Add(10 * time.Second) // the heartbeat is a minute away
	for {
		hw.mu.Lock()
		on := hw.led
		hw.mu.Unlock()
		if on {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the LED did not go on by the offline fallback within 10s (fallback_after 500ms)")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestWatchedArmFails: a sensor that cannot be armed is read every sample
// period instead, with one error in the log, and nothing is missed.
func TestWatchedArmFails(t *testing.T) {
	hw := newWatchedSensor(500)
	hw.watchErr = errors.New("ads1115: watch A0: bus error")
	tel, logs := runWatched(t, hw, Config{ID: "unarmed", Interval: time.Minute, SampleEvery: 20 * time.Millisecond, Deadband: 30})
	nextLight(t, tel, 5*time.Second)
	logs.WaitFor(t, 5*time.Second, "sensor cannot be armed", "bus error")
	time.Sleep(300 * time.Millisecond)
	if reads, _, _, _ := hw.stats(); reads < 5 {
		t.Errorf("%d reads in 300 ms at sample_every 20ms: an unarmed sensor must be polled", reads)
	}
	hw.set(100)
	if v, _ := nextLight(t, tel, 5*time.Second); v != 100 {
		t.Fatalf("published %d, want 100", v)
	}
	if n := strings.Count(logs.String(), "sensor cannot be armed"); n != 1 {
		t.Errorf("%d errors logged for one lasting failure, want 1", n)
	}
	hw.mu.Lock()
	hw.watchErr = nil
	hw.mu.Unlock()
	logs.WaitFor(t, 5*time.Second, "sensor armed again")
}

// TestWatchedLessonWay: sample_every 0 keeps the lesson's one reading per
// interval even when the hardware could watch.
func TestWatchedLessonWay(t *testing.T) {
	hw := newWatchedSensor(500)
	tel, _ := runWatched(t, hw, Config{ID: "lessonway", Interval: 300 * time.Millisecond, Deadband: 30})
	nextLight(t, tel, 5*time.Second)
	hw.set(100)
	nextLight(t, tel, 5*time.Second)
	if _, armed, _, _ := hw.stats(); armed {
		t.Error("sensor armed with sample_every 0")
	}
}

func TestWindow(t *testing.T) {
	for _, tc := range []struct {
		last, deadband, threshold int
		lo, hi                    int
	}{
		{500, 30, 300, 471, 529},
		{310, 30, 300, 300, 339}, // darkness is a crossing before it is a deadband's move
		{100, 30, 300, 71, 129},
		{290, 30, 300, 261, 299},
		{10, 30, 300, 0, 39},
		{990, 30, 300, 961, 1000},
		{500, 0, 300, 300, 1000}, // deadband off: only the threshold
		{100, 0, 300, 0, 299},
		{500, 1, 300, 500, 500},
		{500, 30, 0, 471, 529},
		{500, 30, 2000, 471, 529},
	} {
		d := &Device{cfg: Config{Deadband: tc.deadband, Threshold: tc.threshold}, lastPub: tc.last}
		if lo, hi := d.window(); lo != tc.lo || hi != tc.hi {
			t.Errorf("last %d deadband %d threshold %d: window %d..%d, want %d..%d", tc.last, tc.deadband, tc.threshold, lo, hi, tc.lo, tc.hi)
		}
	}
}
