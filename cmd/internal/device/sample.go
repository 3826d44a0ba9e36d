package device

import (
	"time"

	"nightlight/mqtt/wire"
)

// wakeups are the main loop's reasons to sample: a ticker when the sensor
// is polled; the sensor's alerts and a timer (heartbeat, held-back change,
// retry) when it is watched.
type wakeups struct {
	tick   <-chan time.Time // polled only
	ticker *time.Ticker
	alerts <-chan struct{} // watched only
	timer  *time.Timer     // watched only; never fires while polled
}

func newWakeups(period time.Duration, w Watcher) *wakeups {
	wk := &wakeups{timer: time.NewTimer(time.Hour)}
	if w == nil {
		wk.timer.Stop()
		wk.ticker = time.NewTicker(period)
		wk.tick = wk.ticker.C
	} else {
		wk.alerts = w.Alerts()
	}
	return wk
}

// at sets the timer to fire at t.
func (wk *wakeups) at(t time.Time) { wk.timer.Reset(time.Until(t)) }

func (wk *wakeups) stop() {
	wk.timer.Stop()
	if wk.ticker != nil {
		wk.ticker.Stop()
	}
}

// watcher returns the hardware as a Watcher when it can watch and sampling
// is not the lesson's plain one reading per interval (sample_every 0).
func (d *Device) watcher() Watcher {
	w, ok := d.hw.(Watcher)
	if !ok || w.Alerts() == nil || d.cfg.SampleEvery <= 0 {
		return nil
	}
	return w
}

// sampleOnce takes the first sample of a run.
func (d *Device) sampleOnce(w Watcher, now time.Time) {
	if w == nil {
		d.sample(now)
	} else {
		d.watchSample(w, now)
	}
}

// sample takes one reading, runs the fallback rule, and stores the reading
// when the policy says it is news. It reports whether the sensor was read.
func (d *Device) sample(now time.Time) bool {
	if !d.sensor.due(now) {
		return false // a failing sensor is left alone for a while
	}
	v, err := d.hw.Light()
	if err != nil {
		d.counts.SensorErrors.Add(1)
		if d.sensor.failed(err, now, d.policy.samplePeriod()) {
			d.log.Error("sensor read failed; retrying with backoff", "err", err, "max_backoff", maxSensorBackoff)
			d.state.update(d.light, func(s *wire.State) { s.Error = err.Error() })
		}
		return false
	}
	if d.sensor.read() {
		d.log.Info("sensor read works again")
		d.state.update(d.light, func(s *wire.State) { s.Error = "" })
	}
	d.light = &v
	d.lastLight.Store(int64(v))
	if on, ok := d.policy.fallback(v, d.offlineSince(), now); ok {
		d.setLED(on, wire.SourceFallback)
	}
	vd := d.policy.sample(v, now)
	d.samp.held = vd.held
	if vd.publish {
		d.store(v, now)
	}
	return true
}

// store appends a reading to the outbox, from which the sender publishes it.
func (d *Device) store(v int, now time.Time) {
	seq := d.ob.NextSeq()
	d.buf = wire.Telemetry{Light: v, Seq: seq, TS: now}.AppendJSON(d.buf[:0])
	if err := d.ob.Append(seq, d.buf); err != nil {
		d.counts.ReadingsUnstored.Add(1)
		if d.storeHealth.failed(err) {
			d.log.Error("reading not stored; counting until the outbox works again", "seq", seq, "err", err)
		}
		return
	}
	d.counts.ReadingsStored.Add(1)
	if recovered, lost := d.storeHealth.stored(); recovered {
		d.log.Info("outbox stores readings again", "lost", lost, "lost_since_start", d.storeHealth.unstored)
	}
	d.log.Info("reading", "light", v, "seq", seq)
}

// onAlert handles the sensor's alert: the light left the window.
func (d *Device) onAlert(w Watcher, now time.Time) {
	d.samp.armed = false // the sensor holds its alert until it is read
	if now.Sub(d.samp.lastSampleAt) < d.policy.samplePeriod() {
		// Sampled a moment ago: wait for the sample period's end, so that
		// a light flickering at the window's edge costs no more than
		// polling would.
		d.samp.alerted = true
		return
	}
	d.watchSample(w, now)
}

// watchSample samples, then arms the sensor around the level published
// last, unless the sensor failed (retried at its backoff) or a change is
// held back (sampled again when the gap ends).
func (d *Device) watchSample(w Watcher, now time.Time) {
	read := d.sample(now)
	d.samp.alerted, d.samp.armed, d.samp.lastSampleAt = false, false, now
	if !read || d.samp.held {
		return
	}
	lo, hi := d.policy.window()
	if err := w.Watch(lo, hi); err != nil {
		// Until arming works again the sensor is read every sample period.
		if msg := err.Error(); msg != d.watchErr {
			d.log.Error("sensor cannot be armed; reading it every sample period until it can", "err", msg)
			d.watchErr = msg
		}
		return
	}
	d.samp.armed = true
	if d.watchErr != "" {
		d.log.Info("sensor armed again")
		d.watchErr = ""
	}
}

// nextWake is when a watched device must sample without an alert.
func (d *Device) nextWake() time.Time {
	s := d.samp
	s.failing, s.retryAt = d.sensor.err != "", d.sensor.retryAt
	s.offlineSince = d.offlineSince()
	return d.policy.nextWake(s)
}

// offlineSince is when the broker went away; zero while connected.
func (d *Device) offlineSince() time.Time {
	if from := d.offlineFrom.Load(); from != 0 {
		return time.Unix(0, from)
	}
	return time.Time{}
}
