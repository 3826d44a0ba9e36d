package device

import (
	"fmt"
	"time"

	"nightlight/mqtt/wire"
)

// policy is the device's decisions, with no I/O, no clock and no
// goroutines: which samples become published readings, the window an
// alerting sensor is armed with, when a watched device must wake, whether a
// command may switch the LED, and what the offline fallback does. The main
// loop owns it; its methods take the time they decide at.
type policy struct {
	cfg Config // its durations already defaulted by New

	mode      string // who decides the LED: wire.ModeAuto (the server), ModeOn or ModeOff (a person)
	threshold int    // the device's threshold: LED on below it

	published   bool      // a reading was published since start
	lastPub     int       // the level published last
	lastPubAt   time.Time // when that reading was taken
	lastEventAt time.Time // when the last reading published for a change (not a heartbeat) was taken
	force       bool      // publish the next sample, whatever it is
	newestCmd   time.Time // ts of the newest command applied
	answered    uint64    // the newest reading an applied led_on command answered
}

// newPolicy starts with the server deciding by cfg's threshold, unless
// kept choices say otherwise.
func newPolicy(cfg Config, kept Choices) policy {
	return policy{cfg: cfg, mode: kept.Mode, threshold: kept.Threshold}
}

// verdict is what the policy makes of a sample.
type verdict struct {
	publish bool // store and send it
	event   bool // published for a change, not as a heartbeat
	held    bool // a change that publish_gap holds back: sample again when the gap ends
}

// samplePeriod is how often the main loop reads the sensor (polled), or the
// least time between two samples woken by alerts.
func (p *policy) samplePeriod() time.Duration {
	if p.cfg.SampleEvery > 0 && p.cfg.SampleEvery < p.cfg.Interval {
		return p.cfg.SampleEvery
	}
	return p.cfg.Interval
}

// sample decides whether a sample of level v taken at now becomes a
// published reading, and remembers it when it does: the first one; a
// heartbeat once Interval has passed; an event at once when the level moved
// by Deadband or crossed the threshold the server decides by, but no sooner
// than PublishGap after the previous event. Heartbeats do not hold events
// back: darkness right after a heartbeat must not wait. The rest are not
// stored or sent: they told nothing new.
func (p *policy) sample(v int, now time.Time) verdict {
	vd := p.judge(v, now)
	if vd.publish {
		p.published, p.lastPub, p.lastPubAt, p.force = true, v, now, false
		if vd.event {
			p.lastEventAt = now
		}
	}
	return vd
}

func (p *policy) judge(v int, now time.Time) verdict {
	if !p.published || p.force {
		return verdict{publish: true}
	}
	changed := p.cfg.Deadband > 0 && abs(v-p.lastPub) >= p.cfg.Deadband ||
		(v < p.threshold) != (p.lastPub < p.threshold)
	if changed && now.Sub(p.lastEventAt) >= p.cfg.PublishGap {
		return verdict{publish: true, event: true}
	}
	// Half a sample period of slack: ticks are not exact, and a heartbeat
	// must not slip by a whole period because one came a microsecond early.
	// A change that goes out as a heartbeat is not held back.
	beat := now.Sub(p.lastPubAt) >= p.cfg.Interval-p.samplePeriod()/2
	return verdict{publish: beat, held: changed && !beat}
}

// window is the range of levels that would not be published as a change:
// within Deadband of the last published level and on its side of the
// threshold. An alerting sensor is armed to wake the device outside it.
func (p *policy) window() (lo, hi int) {
	lo, hi = wire.MinLight, wire.MaxLight
	if db := p.cfg.Deadband; db > 0 {
		lo, hi = max(p.lastPub-db+1, wire.MinLight), min(p.lastPub+db-1, wire.MaxLight)
	}
	if t := p.threshold; p.lastPub >= t {
		lo = max(lo, t)
	} else {
		hi = min(hi, t-1)
	}
	return lo, hi
}

// sampler is the state of sampling on a sensor's alerts that nextWake needs
// besides the policy's own.
type sampler struct {
	lastSampleAt time.Time
	armed        bool      // the sensor is armed and will alert
	alerted      bool      // an alert came too soon after a sample and waits for the sample period's end
	held         bool      // a change publish_gap held back
	failing      bool      // the sensor's last read failed
	retryAt      time.Time // when a failing sensor is read again
	offlineSince time.Time // when the broker went away; zero while connected
}

// nextWake is when a watched device must sample without an alert: at the
// next heartbeat; sooner for a held-back change, a deferred alert, a sensor
// that could not be armed, a failing sensor's retry, and the moment the
// offline fallback is due (it decides by a sample, and a steady light sends
// no alert).
func (p *policy) nextWake(s sampler) time.Time {
	period := s.lastSampleAt.Add(p.samplePeriod())
	if s.failing || !p.published {
		return later(s.retryAt, period)
	}
	next := p.lastPubAt.Add(p.cfg.Interval)
	if !s.offlineSince.IsZero() {
		if due := s.offlineSince.Add(p.cfg.FallbackAfter); due.After(s.lastSampleAt) {
			next = earlier(next, due)
		}
	}
	if s.held {
		next = earlier(next, later(p.lastEventAt.Add(p.cfg.PublishGap), period))
	} else if s.alerted || !s.armed || p.force {
		next = earlier(next, period)
	}
	return next
}

// outcome is what the policy makes of a valid command.
type outcome struct {
	apply  bool
	reason string // why not, when not
	code   string // the reason's name in the metrics (Reason...)
	quiet  bool   // not worth a warning: the device works as asked (a person decides the LED)
}

// command decides whether a valid command is applied, and applies its
// effect on the policy (mode, threshold, the newest applied and answered).
// The LED itself is the caller's to switch.
func (p *policy) command(c wire.Command, retained bool, now time.Time) outcome {
	if code, reason := p.age(c, retained, now); reason != "" {
		return outcome{reason: reason, code: code}
	}
	switch c.Kind {
	case wire.CommandMode:
		p.mode = c.Mode
		// Back to the server: the next sample is published at once, so its
		// answer decides the LED without waiting for the heartbeat.
		p.force = c.Mode == wire.ModeAuto
	case wire.CommandThreshold:
		p.threshold = c.Threshold
	default:
		if c.Seq != 0 && c.Seq < p.answered {
			return outcome{reason: fmt.Sprintf("out of order: answers reading %d, older than reading %d already answered", c.Seq, p.answered), code: ReasonOutOfOrder}
		}
		if p.mode != wire.ModeAuto {
			return outcome{reason: fmt.Sprintf("mode is %s: a person decides the LED until mode is auto", p.mode), code: ReasonManual, quiet: true}
		}
		p.answered = max(p.answered, c.Seq)
	}
	if !c.TS.IsZero() {
		p.newestCmd = c.TS
	}
	return outcome{apply: true}
}

// age says why a command is too old (or too new) to apply, if it is: the
// reason's name in the metrics, and the sentence for the log.
func (p *policy) age(c wire.Command, retained bool, now time.Time) (code, reason string) {
	maxAge := p.cfg.MaxCommandAge
	switch {
	case c.TS.IsZero() && retained:
		// A retained command replayed by the broker could be days old: the
		// classic "ghost switching". Without a ts its age is unknown.
		return ReasonRetainedNoTS, "retained command without ts: its age cannot be checked"
	case c.TS.IsZero():
		// The lesson's server sends no ts, nor does a person's tool: a live
		// command is taken as now.
		return "", ""
	case now.Sub(c.TS) > maxAge:
		return ReasonStale, fmt.Sprintf("stale: decided %s ago, max_command_age is %s", now.Sub(c.TS).Round(time.Millisecond), maxAge)
	case c.TS.Sub(now) > maxAge:
		return ReasonFuture, fmt.Sprintf("ts %s is %s in the future: check the clocks of device and server", wire.FormatTime(c.TS), c.TS.Sub(now).Round(time.Millisecond))
	case c.TS.Before(p.newestCmd):
		return ReasonOutOfOrder, fmt.Sprintf("out of order: older than the newest applied command (%s)", wire.FormatTime(p.newestCmd))
	}
	return "", ""
}

// manual is the LED a person chose, when a person decides it.
func (p *policy) manual() (ledOn, ok bool) {
	return p.mode == wire.ModeOn, p.mode != wire.ModeAuto
}

// fallback is the server's threshold rule applied by the device itself
// once the broker has been away for FallbackAfter, so the light still works
// offline; ok is false while the server (or a person) decides.
func (p *policy) fallback(light int, offlineSince, now time.Time) (ledOn, ok bool) {
	if p.mode != wire.ModeAuto || offlineSince.IsZero() || now.Sub(offlineSince) < p.cfg.FallbackAfter {
		return false, false
	}
	return light < p.threshold, true
}

func earlier(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}
