package device

import (
	"fmt"
	"sync"
	"time"

	"nightlight/mqtt/wire"
)

// stateBox is the device's retained state: written by the main loop,
// published by the sender.
type stateBox struct {
	mu      sync.Mutex
	state   wire.State
	dirty   bool          // not yet confirmed by the broker since it last changed or connected
	changed chan struct{} // the sender's wake-up after each change
}

// update changes the state, stamps it with the newest light and the time,
// and wakes the sender.
func (b *stateBox) update(light *int, change func(*wire.State)) {
	b.mu.Lock()
	change(&b.state)
	if light != nil {
		v := *light
		b.state.Light = &v
	}
	b.state.TS = wire.FormatTime(time.Now())
	b.dirty = true
	b.mu.Unlock()
	signal(b.changed)
}

// get returns the state.
func (b *stateBox) get() wire.State {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.state
}

// take returns the state if it needs publishing and marks it clean; a
// publish that fails calls markDirty.
func (b *stateBox) take() (wire.State, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.dirty {
		return wire.State{}, false
	}
	b.dirty = false
	return b.state, true
}

func (b *stateBox) markDirty() {
	b.mu.Lock()
	b.dirty = true
	b.mu.Unlock()
}

// setLED drives the LED and records the state; unchanged LED, unchanged
// source: nothing to do.
func (d *Device) setLED(on bool, source string) {
	st := d.state.get()
	if d.ledKnown && st.LEDOn == on && st.Source == source {
		return
	}
	if err := d.hw.SetLED(on); err != nil {
		d.log.Error("LED not switched", "led_on", on, "err", err)
		return
	}
	d.ledKnown = true
	d.log.Info("LED", "led_on", on, "source", source)
	d.state.update(d.light, func(s *wire.State) { s.LEDOn, s.Source = on, source })
}

// Snapshot is what one run hands to the next across a reload.
type Snapshot struct {
	LEDOn        bool
	Source       string    // who set the LED
	OfflineSince time.Time // zero while connected
}

// Snapshot returns the device's state; call it after Run has returned.
func (d *Device) Snapshot() Snapshot {
	st := d.state.get()
	return Snapshot{LEDOn: st.LEDOn, Source: st.Source, OfflineSince: d.offlineSince()}
}

// statusLine is the one line "systemctl status" shows.
func (d *Device) statusLine() string {
	conn := "broker " + d.conn.Broker() + " connected"
	if !d.conn.Connected() {
		conn = "broker " + d.conn.Broker() + " NOT connected"
	}
	light := "no reading yet"
	switch {
	case d.sensor.err != "":
		light = "sensor FAILING"
	case d.light != nil:
		light = fmt.Sprintf("light %d", *d.light)
	}
	st := d.state.get()
	led := "off"
	if st.LEDOn {
		led = "on"
	}
	line := fmt.Sprintf("%s; outbox %d pending; %s; LED %s (%s)", conn, d.ob.Stats().Pending, light, led, st.Source)
	if d.storeHealth.err != "" {
		line += "; outbox FAILING"
	}
	if n := d.storeHealth.unstored; n > 0 {
		line += fmt.Sprintf("; %d readings not stored since start", n)
	}
	return line
}

// statusEvery is how often the status line for systemctl status is renewed.
const statusEvery = time.Second

// supervision keeps the Supervisor informed from the main loop: watchdog
// pings and the status line, no more often than they are useful, since the
// loop may pass ten times a second.
type supervision struct {
	sup       Supervisor
	wd        time.Duration // the watchdog interval; 0: none
	ticker    *time.Ticker  // a pass at least this often, even when sampling is slower
	heartbeat <-chan time.Time
	pinged    time.Time
	reported  time.Time
}

// newSupervision starts the watchdog's ticker, if there is a watchdog. The
// watchdog is fed by the main loop, so it needs a pass at least that often
// even when sampling is slower. Each ping pushes the ticker back, so while
// the loop passes often enough anyway (a 5 s heartbeat against pings due
// every 15 s under WatchdogSec=30) it never fires: no wake-up of its own.
func newSupervision(sup Supervisor) *supervision {
	s := &supervision{sup: sup, wd: sup.WatchdogInterval()}
	if s.wd > 0 {
		s.ticker = time.NewTicker(s.wd)
		s.heartbeat = s.ticker.C
	}
	return s
}

func (s *supervision) ready() error { return s.sup.Ready() }

// pass pings the watchdog when half its interval has passed and renews the
// status line once per statusEvery.
func (s *supervision) pass(now time.Time, status func() string) {
	if s.wd > 0 && now.Sub(s.pinged) >= s.wd/2 {
		s.sup.Watchdog()
		s.pinged = now
		s.ticker.Reset(s.wd)
	}
	if now.Sub(s.reported) >= statusEvery {
		s.sup.Status(status())
		s.reported = now
	}
}

// reportNow makes the next pass renew the status line.
func (s *supervision) reportNow() { s.reported = time.Time{} }

func (s *supervision) stop() {
	if s.ticker != nil {
		s.ticker.Stop()
	}
}

// unsupervised is the Supervisor of a device nobody watches.
type unsupervised struct{}

func (unsupervised) Ready() error                    { return nil }
func (unsupervised) Status(string) error             { return nil }
func (unsupervised) Watchdog() error                 { return nil }
func (unsupervised) WatchdogInterval() time.Duration { return 0 }
