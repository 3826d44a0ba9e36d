package device

import (
	"errors"
	"strings"
	"sync"
	"testing"
	"time"
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
	h := start(t, hw, Config{Interval: time.Second, SampleEvery: 10 * time.Millisecond, Deadband: 30}, true)
	for range 3 { // the first reading and two heartbeats
		if r := h.reading(t, 5*time.Second); r.Light != 500 {
			t.Fatalf("published %d, want 500", r.Light)
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
	h := start(t, hw, Config{Interval: time.Minute, SampleEvery: 10 * time.Millisecond, Deadband: 30}, true)
	h.reading(t, 5*time.Second)
	armedAt(t, hw, 471, 529)
	hw.set(510) // inside the window: nothing
	hw.set(100)
	set := time.Now()
	r := h.reading(t, 5*time.Second)
	if r.Light != 100 {
		t.Fatalf("published %d, want 100", r.Light)
	}
	// With a heartbeat a minute away, only the alert can explain it.
	if took := r.TS.Sub(set); took > 5*time.Second {
		t.Errorf("darkness taken %s after it came, want at once", took)
	}
	armedAt(t, hw, 71, 129)
	hw.set(290) // a move of 190, still dark
	if r := h.reading(t, 5*time.Second); r.Light != 290 {
		t.Fatalf("published %d, want 290", r.Light)
	}
	armedAt(t, hw, 261, 299) // crossing threshold 300 must wake the device
	hw.set(300)              // across the threshold by one
	if r := h.reading(t, 5*time.Second); r.Light != 300 {
		t.Fatalf("published %d, want 300", r.Light)
	}
}

// TestWatchedHeldChange: a change that publish_gap holds back is not lost:
// the device samples again when the gap ends.
func TestWatchedHeldChange(t *testing.T) {
	hw := newWatchedSensor(500)
	const gap = 600 * time.Millisecond
	h := start(t, hw, Config{Interval: time.Minute, SampleEvery: 10 * time.Millisecond, Deadband: 30, PublishGap: gap}, true)
	h.reading(t, 5*time.Second)
	hw.set(100)
	first := h.reading(t, 5*time.Second).TS
	time.Sleep(50 * time.Millisecond)
	hw.set(800) // within the gap
	r := h.reading(t, 5*time.Second)
	if r.Light != 800 {
		t.Fatalf("published %d, want 800", r.Light)
	}
	// Taken (ts) no sooner than the gap after the previous change, and not
	// much later: the device woke for it, with no heartbeat in sight.
	if took := r.TS.Sub(first); took < gap || took > gap+3*time.Second {
		t.Errorf("held change taken %s after the previous one, want at the end of publish_gap %s", took, gap)
	}
}

// TestWatchedAlertStorm: a sensor that alerts at once every time it is
// armed (a noisy input right at the window's edge) is read no more often
// than the sample period, as polling would.
func TestWatchedAlertStorm(t *testing.T) {
	hw := newWatchedSensor(500)
	hw.storm = true
	start(t, hw, Config{Interval: time.Minute, SampleEvery: 50 * time.Millisecond, Deadband: 30}, true)
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
	// Never connected: the broker is away from the start.
	start(t, hw, Config{Interval: time.Minute, SampleEvery: 10 * time.Millisecond, Deadband: 30, FallbackAfter: 500 * time.Millisecond}, false)
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
	h := start(t, hw, Config{Interval: time.Minute, SampleEvery: 20 * time.Millisecond, Deadband: 30}, true)
	h.reading(t, 5*time.Second)
	h.logs.WaitFor(t, 5*time.Second, "sensor cannot be armed", "bus error")
	time.Sleep(300 * time.Millisecond)
	if reads, _, _, _ := hw.stats(); reads < 5 {
		t.Errorf("%d reads in 300 ms at sample_every 20ms: an unarmed sensor must be polled", reads)
	}
	hw.set(100)
	if r := h.reading(t, 5*time.Second); r.Light != 100 {
		t.Fatalf("published %d, want 100", r.Light)
	}
	if n := strings.Count(h.logs.String(), "sensor cannot be armed"); n != 1 {
		t.Errorf("%d errors logged for one lasting failure, want 1", n)
	}
	hw.mu.Lock()
	hw.watchErr = nil
	hw.mu.Unlock()
	h.logs.WaitFor(t, 5*time.Second, "sensor armed again")
}

// TestWatchedLessonWay: sample_every 0 keeps the lesson's one reading per
// interval even when the hardware could watch.
func TestWatchedLessonWay(t *testing.T) {
	hw := newWatchedSensor(500)
	h := start(t, hw, Config{Interval: 300 * time.Millisecond, Deadband: 30}, true)
	h.reading(t, 5*time.Second)
	hw.set(100)
	h.reading(t, 5*time.Second)
	if _, armed, _, _ := hw.stats(); armed {
		t.Error("sensor armed with sample_every 0")
	}
}
