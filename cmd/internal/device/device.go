// Package device is the night light's daemon logic: sample the light, keep
// every reading in the outbox and publish it, obey commands by switching the
// LED, report state and status, and keep the light working when the broker
// is away.
//
// Goroutines: Run owns two, the main loop (sampling, commands, fallback; it
// is the only one that touches the hardware) and the sender (the only one
// that publishes). paho's own goroutines only decode and hand over.
package device

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"nightlight/mqtt/link"
	"nightlight/mqtt/outbox"
	"nightlight/mqtt/wire"
)

// Hardware is what the device needs of its board.
type Hardware interface {
	Light() (int, error)
	SetLED(on bool) error
}

// Watcher is hardware that can wake the device when the light changes: an
// ADC's window comparator on a GPIO (the ADS1115's ALERT/RDY). With it the
// main loop reads the sensor only when woken, for a heartbeat, or for a
// change that publish_gap held back, so steady light costs no sampling.
type Watcher interface {
	// Watch arms the sensor: Alerts receives once the level goes below lo
	// or above hi. The device calls it after every sample, with the window
	// around the level published last.
	Watch(lo, hi int) error
	// Alerts is nil when the hardware cannot watch.
	Alerts() <-chan struct{}
}

// Outbox is the durable queue every reading passes through.
type Outbox interface {
	NextSeq() uint64
	Append(seq uint64, payload []byte) error
	Next(max int) ([]outbox.Record, error)
	Rewind()
	Ack(seq uint64) error
	Appended() <-chan struct{}
	Stats() outbox.Stats
}

// Supervisor is told how the device is doing: systemd's notify protocol in
// production, nothing in tests. Its calls must not block.
type Supervisor interface {
	Ready() error
	Status(line string) error
	Watchdog() error
	WatchdogInterval() time.Duration // 0: no watchdog
}

// Config is the device's behaviour; zero durations take the defaults.
type Config struct {
	ID            string
	Broker        string
	Username      string
	Password      string
	TLS           *tls.Config   // for ssl:// brokers; nil: system CA pool
	Interval      time.Duration // heartbeat: a reading is published at least this often
	SampleEvery   time.Duration // how often the sensor is read; 0: every Interval, the lesson's way
	Deadband      int           // a change of at least this much is published at once; 0: off
	PublishGap    time.Duration // at most one reading per this gap, however the light flickers
	Threshold     int           // the fallback rule: LED on below it (no default: 0 is a valid "never")
	FallbackAfter time.Duration // how long without the broker before the device decides itself
	MaxCommandAge time.Duration // commands older than this are not applied
	Timeout       time.Duration // bounds every wait on the broker
	KeepAlive     time.Duration
	MaxBackoff    time.Duration
	Logger        *slog.Logger
	// Resume, when set, starts the device where a previous run left off
	// (a reload): the LED as it was, and the broker's absence counted from
	// when it began, so the offline fallback does not start over.
	Resume *Snapshot
	// Supervisor, when set, gets READY once Run starts (the hardware and
	// the outbox are open by then), a status line after every pass of the
	// main loop, and watchdog pings from the main loop itself (so a stuck
	// loop stops them, not just a dead process). STOPPING is the process's
	// to send, not Run's: Run also ends for an in-process reload.
	Supervisor Supervisor
}

// ErrReload, as the cause of Run's context (context.WithCancelCause), stops
// the device for a reload: the LED stays as it is and no "offline" is
// published, since the next run takes over at once.
var ErrReload = errors.New("device: reloading")

// Snapshot is what one run hands to the next across a reload.
type Snapshot struct {
	LEDOn        bool
	Source       string    // who set the LED
	OfflineSince time.Time // zero while connected
}

// Snapshot returns the device's state; call it after Run has returned.
func (d *Device) Snapshot() Snapshot {
	d.mu.Lock()
	defer d.mu.Unlock()
	snap := Snapshot{LEDOn: d.state.LEDOn, Source: d.state.Source}
	if from := d.offlineFrom.Load(); from != 0 {
		snap.OfflineSince = time.Unix(0, from)
	}
	return snap
}

// Defaults of the contract.
const (
	DefaultInterval      = 5 * time.Second
	DefaultThreshold     = 300
	DefaultFallbackAfter = 30 * time.Second
	DefaultMaxCommandAge = time.Minute
	DefaultTimeout       = 5 * time.Second
	DefaultSampleEvery   = 100 * time.Millisecond
	DefaultDeadband      = 30
	DefaultPublishGap    = 500 * time.Millisecond
)

// sendWindow is how many telemetry messages may await their PUBACK at once.
const sendWindow = 64

// maxSensorBackoff caps the wait between attempts to read a failing sensor.
const maxSensorBackoff = 5 * time.Second

// statusEvery is how often the status line for systemctl status is renewed.
const statusEvery = time.Second

// shutdownFlush bounds the last attempt to empty the outbox at stop; what is
// left stays on disk for the next start.
const shutdownFlush = 2 * time.Second

type incoming struct {
	cmd      wire.Command
	retained bool
}

// Device is a running night light.
type Device struct {
	cfg Config
	hw  Hardware
	ob  Outbox
	log *slog.Logger

	cmds        chan incoming
	connected   chan struct{} // the sender's wake-up after each connect
	stateDirty  chan struct{} // the sender's wake-up after each state change
	offlineFrom atomic.Int64  // unix nanos when the link went down; 0 while up

	// Owned by the main loop.
	published   bool      // a reading was published since start
	lastPub     int       // its level
	lastPubAt   time.Time // and when it was taken
	lastEventAt time.Time // when the last reading published for a change (not a heartbeat) was taken
	light       *int
	// A failing sensor is retried at sensorRetry, sensorBackoff after the
	// last failure.
	sensorRetry   time.Time
	sensorBackoff time.Duration
	sensorErr     string
	storeErr      string
	// Readings the outbox refused (disk full, read-only): since start, and
	// in the current run of failures.
	unstored, episodeLost uint64
	newestCmd             time.Time
	ledKnown              bool
	buf                   []byte
	// Sampling on alerts (a Watcher): the sensor is armed around the last
	// published level; an alert that comes sooner than a sample period after
	// the last sample waits for the period's end; a change publish_gap held
	// back is sampled again when the gap ends.
	armed, alerted, held bool
	lastSampleAt         time.Time
	watchErr             string

	mu    sync.Mutex // guards state, read by the sender
	state wire.State
	dirty bool // state not yet confirmed by the broker since it last changed or connected
}

// New prepares a device; Run runs it.
func New(cfg Config, hw Hardware, ob Outbox) (*Device, error) {
	if err := wire.ValidID(cfg.ID); err != nil {
		return nil, err
	}
	if err := link.CheckBroker(cfg.Broker); err != nil {
		return nil, err
	}
	setDefault(&cfg.Interval, DefaultInterval)
	setDefault(&cfg.FallbackAfter, DefaultFallbackAfter)
	setDefault(&cfg.MaxCommandAge, DefaultMaxCommandAge)
	setDefault(&cfg.Timeout, DefaultTimeout)
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Supervisor == nil {
		cfg.Supervisor = unsupervised{}
	}
	return &Device{
		cfg:        cfg,
		hw:         hw,
		ob:         ob,
		log:        cfg.Logger,
		cmds:       make(chan incoming, 16),
		connected:  make(chan struct{}, 1),
		stateDirty: make(chan struct{}, 1),
		buf:        make([]byte, 0, 128),
	}, nil
}

func setDefault(d *time.Duration, v time.Duration) {
	if *d <= 0 {
		*d = v
	}
}

func (d *Device) topic(kind string) string { return wire.Topic(d.cfg.ID, kind) }

// Run runs the device until ctx is cancelled, then stops in order: sampling,
// a last bounded flush of state and outbox, the retained "offline", the
// connection. The LED is left off. Cancellation is a clean stop: nil.
func (d *Device) Run(ctx context.Context) error {
	l, err := link.New(link.Options{
		Broker:     d.cfg.Broker,
		ClientID:   d.cfg.ID,
		Username:   d.cfg.Username,
		Password:   d.cfg.Password,
		TLS:        d.cfg.TLS,
		Timeout:    d.cfg.Timeout,
		KeepAlive:  d.cfg.KeepAlive,
		MaxBackoff: d.cfg.MaxBackoff,
		Birth:      &link.Message{Topic: d.topic(wire.KindStatus), Payload: []byte(wire.StatusOnline), Retained: true},
		Will:       &link.Message{Topic: d.topic(wire.KindStatus), Payload: []byte(wire.StatusOffline), Retained: true},
		Subscribe:  map[string]link.Handler{d.topic(wire.KindCommands): d.onCommand},
		OnConnect:  d.onConnect,
		OnLost:     func(error) { d.offlineFrom.CompareAndSwap(0, time.Now().UnixNano()) },
		Logger:     d.log,
	})
	if err != nil {
		return err
	}
	d.offlineFrom.Store(time.Now().UnixNano())
	if r := d.cfg.Resume; r != nil {
		if !r.OfflineSince.IsZero() {
			d.offlineFrom.Store(r.OfflineSince.UnixNano())
		}
		d.setLED(r.LEDOn, r.Source)
	} else {
		d.setLED(false, wire.SourceStartup)
	}
	l.Start()

	sendCtx, stopSender := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		d.sender(sendCtx, l)
	}()

	sup := d.cfg.Supervisor
	// Polled, the loop samples at every tick; watched, when the sensor's
	// alert, the heartbeat or a held-back change says so (wake).
	w := d.watcher()
	var tick, wakeC <-chan time.Time
	var alerts <-chan struct{}
	wake := time.NewTimer(time.Hour)
	defer wake.Stop()
	if w == nil {
		ticker := time.NewTicker(d.samplePeriod())
		defer ticker.Stop()
		tick = ticker.C
		d.log.Info("sampling", "every", d.samplePeriod())
	} else {
		wakeC, alerts = wake.C, w.Alerts()
		d.log.Info("sampling", "on", "sensor alert", "at_most_every", d.samplePeriod(), "heartbeat", d.cfg.Interval)
	}
	// The watchdog is fed by this loop, so it needs a pass at least that
	// often even when sampling is slower. Each ping pushes the ticker back,
	// so while the loop passes often enough anyway (a 5 s heartbeat against
	// pings due every 15 s under WatchdogSec=30) it never fires: no wake-up
	// of its own.
	wd := sup.WatchdogInterval()
	var heartbeat <-chan time.Time
	var hb *time.Ticker
	if wd > 0 {
		hb = time.NewTicker(wd)
		defer hb.Stop()
		heartbeat = hb.C
	}
	if err := sup.Ready(); err != nil {
		d.log.Warn("could not tell systemd we are ready", "err", err)
	}
	if w == nil {
		d.sample(time.Now())
	} else {
		d.watchSample(w, time.Now())
	}
	// The loop may pass ten times a second; pings and the status line are
	// sent no more often than they are useful.
	var pinged, reported time.Time
loop:
	for {
		if now := time.Now(); wd > 0 && now.Sub(pinged) >= wd/2 {
			sup.Watchdog()
			pinged = now
			hb.Reset(wd)
		}
		if now := time.Now(); now.Sub(reported) >= statusEvery {
			sup.Status(d.statusLine(l))
			reported = now
		}
		if w != nil {
			wake.Reset(time.Until(d.nextWake()))
		}
		select {
		case <-ctx.Done():
			break loop
		case now := <-tick:
			d.sample(now)
		case <-alerts:
			d.onAlert(w, time.Now())
		case now := <-wakeC:
			d.watchSample(w, now)
		case in := <-d.cmds:
			d.apply(in, time.Now())
			reported = time.Time{} // show the LED's new state now
		case <-heartbeat:
		}
	}

	reload := errors.Is(context.Cause(ctx), ErrReload)
	d.log.Info("stopping", "reload", reload)
	if !reload {
		d.setLED(false, wire.SourceShutdown)
	}
	stopSender()
	wg.Wait()
	if l.Connected() {
		flushCtx, cancel := context.WithTimeout(context.Background(), shutdownFlush)
		d.publishState(l)
		if err := d.drain(flushCtx, l); err != nil {
			d.log.Warn("readings left in the outbox for the next start", "err", err)
		}
		cancel()
	}
	if reload {
		l.Close(nil) // a clean disconnect: no Will, and "online" stays true
	} else {
		l.Close(&link.Message{Topic: d.topic(wire.KindStatus), Payload: []byte(wire.StatusOffline), Retained: true})
	}
	return nil
}

// statusLine is the one line "systemctl status" shows.
func (d *Device) statusLine(l *link.Link) string {
	conn := "broker " + d.cfg.Broker + " connected"
	if !l.Connected() {
		conn = "broker " + d.cfg.Broker + " NOT connected"
	}
	light := "no reading yet"
	switch {
	case d.sensorErr != "":
		light = "sensor FAILING"
	case d.light != nil:
		light = fmt.Sprintf("light %d", *d.light)
	}
	d.mu.Lock()
	led, source := "off", d.state.Source
	if d.state.LEDOn {
		led = "on"
	}
	d.mu.Unlock()
	line := fmt.Sprintf("%s; outbox %d pending; %s; LED %s (%s)", conn, d.ob.Stats().Pending, light, led, source)
	if d.storeErr != "" {
		line += "; outbox FAILING"
	}
	if d.unstored > 0 {
		line += fmt.Sprintf("; %d readings not stored since start", d.unstored)
	}
	return line
}

// unsupervised is the Supervisor of a device nobody watches.
type unsupervised struct{}

func (unsupervised) Ready() error                    { return nil }
func (unsupervised) Status(string) error             { return nil }
func (unsupervised) Watchdog() error                 { return nil }
func (unsupervised) WatchdogInterval() time.Duration { return 0 }

// onConnect runs on paho's goroutine after subscriptions are restored.
func (d *Device) onConnect() {
	d.offlineFrom.Store(0)
	signal(d.connected)
}

// onCommand runs on paho's goroutine: decode, then hand over or refuse.
func (d *Device) onCommand(m link.Message) {
	c, err := wire.ParseCommand(m.Payload)
	if err != nil {
		d.log.Warn("command refused", "topic", m.Topic, "reason", err.Error(), "payload", excerpt(m.Payload))
		return
	}
	// When the queue is full the oldest waiting command gives way: the
	// newest is the one that counts.
	in := incoming{cmd: c, retained: m.Retained}
	for range 2 {
		select {
		case d.cmds <- in:
			return
		default:
		}
		select {
		case old := <-d.cmds:
			d.log.Warn("command dropped", "led_on", old.cmd.LEDOn, "reason", "too many commands queued; a newer one replaces it")
		default:
		}
	}
	d.log.Warn("command dropped", "led_on", c.LEDOn, "reason", "too many commands queued")
}

// apply decides whether a valid command may switch the LED.
func (d *Device) apply(in incoming, now time.Time) {
	c := in.cmd
	reason := ""
	switch {
	case c.TS.IsZero() && in.retained:
		// A retained command replayed by the broker could be days old: the
		// classic "ghost switching". Without a ts its age is unknown.
		reason = "retained command without ts: its age cannot be checked"
	case c.TS.IsZero():
		// The lesson's server sends no ts; a live command is taken as now.
	case now.Sub(c.TS) > d.cfg.MaxCommandAge:
		reason = fmt.Sprintf("stale: decided %s ago, max_command_age is %s", now.Sub(c.TS).Round(time.Millisecond), d.cfg.MaxCommandAge)
	case c.TS.Sub(now) > d.cfg.MaxCommandAge:
		reason = fmt.Sprintf("ts %s is %s in the future: check the clocks of device and server", wire.FormatTime(c.TS), c.TS.Sub(now).Round(time.Millisecond))
	case c.TS.Before(d.newestCmd):
		reason = fmt.Sprintf("out of order: older than the newest applied command (%s)", wire.FormatTime(d.newestCmd))
	}
	if reason != "" {
		d.log.Warn("command ignored", "led_on", c.LEDOn, "reason", reason)
		return
	}
	if !c.TS.IsZero() {
		d.newestCmd = c.TS
	}
	d.setLED(c.LEDOn, wire.SourceCommand)
}

// sample takes one reading, stores it, and runs the fallback rule. It
// reports whether the sensor was read.
func (d *Device) sample(now time.Time) bool {
	if now.Before(d.sensorRetry) {
		return false // a failing sensor is left alone for a while
	}
	v, err := d.hw.Light()
	if err != nil {
		// Back off, doubling from one sample period up to a cap: a bus
		// that times out should not eat the loop, yet a loose cable put
		// back is noticed soon.
		d.sensorBackoff = min(max(2*d.sensorBackoff, d.samplePeriod()), maxSensorBackoff)
		d.sensorRetry = now.Add(d.sensorBackoff)
		if msg := err.Error(); msg != d.sensorErr {
			d.log.Error("sensor read failed; retrying with backoff", "err", msg, "max_backoff", maxSensorBackoff)
			d.sensorErr = msg
			d.updateState(func(s *wire.State) { s.Error = msg })
		}
		return false
	}
	d.sensorBackoff, d.sensorRetry = 0, time.Time{}
	if d.sensorErr != "" {
		d.log.Info("sensor read works again")
		d.sensorErr = ""
		d.updateState(func(s *wire.State) { s.Error = "" })
	}
	d.light = &v
	d.fallback(v, now)
	due, event, held := d.due(v, now)
	d.held = held
	if !due {
		return true
	}
	d.published, d.lastPub, d.lastPubAt = true, v, now
	if event {
		d.lastEventAt = now
	}
	seq := d.ob.NextSeq()
	d.buf = wire.Telemetry{Light: v, Seq: seq, TS: now}.AppendJSON(d.buf[:0])
	if err := d.ob.Append(seq, d.buf); err != nil {
		// A full or read-only disk: the reading is lost, counted, and the
		// LED goes on working. Logged once per kind of failure.
		d.unstored++
		d.episodeLost++
		if msg := err.Error(); msg != d.storeErr {
			d.log.Error("reading not stored; counting until the outbox works again", "seq", seq, "err", msg)
			d.storeErr = msg
		}
	} else {
		if d.storeErr != "" {
			d.log.Info("outbox stores readings again", "lost", d.episodeLost, "lost_since_start", d.unstored)
			d.storeErr, d.episodeLost = "", 0
		}
		d.log.Info("reading", "light", v, "seq", seq)
	}
	return true
}

// samplePeriod is how often the main loop reads the sensor.
func (d *Device) samplePeriod() time.Duration {
	if d.cfg.SampleEvery > 0 && d.cfg.SampleEvery < d.cfg.Interval {
		return d.cfg.SampleEvery
	}
	return d.cfg.Interval
}

// due decides whether a sample becomes a published reading, and whether it
// is an event: the first one; a heartbeat once Interval has passed; an event
// at once when the level moved by Deadband or crossed the threshold the
// server decides by, but no sooner than PublishGap after the previous event
// (held: a change waits for the gap's end). Heartbeats do not hold events
// back: darkness right after a heartbeat must not wait. The rest are not
// stored or sent: they told nothing new.
func (d *Device) due(v int, now time.Time) (due, event, held bool) {
	if !d.published {
		return true, false, false
	}
	changed := d.cfg.Deadband > 0 && abs(v-d.lastPub) >= d.cfg.Deadband ||
		(v < d.cfg.Threshold) != (d.lastPub < d.cfg.Threshold)
	if changed && now.Sub(d.lastEventAt) >= d.cfg.PublishGap {
		return true, true, false
	}
	// Half a sample period of slack: ticks are not exact, and a heartbeat
	// must not slip by a whole period because one came a microsecond early.
	// A change that goes out as a heartbeat is not held back.
	beat := now.Sub(d.lastPubAt) >= d.cfg.Interval-d.samplePeriod()/2
	return beat, false, changed && !beat
}

// window is the range of levels that would not be published as a change:
// within Deadband of the last published level and on its side of the
// threshold. The sensor is armed to wake the device outside it.
func (d *Device) window() (lo, hi int) {
	lo, hi = 0, 1000
	if db := d.cfg.Deadband; db > 0 {
		lo, hi = max(d.lastPub-db+1, 0), min(d.lastPub+db-1, 1000)
	}
	if t := d.cfg.Threshold; d.lastPub >= t {
		lo = max(lo, t)
	} else {
		hi = min(hi, t-1)
	}
	return lo, hi
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

// onAlert handles the sensor's alert: the light left the window.
func (d *Device) onAlert(w Watcher, now time.Time) {
	d.armed = false // the sensor holds its alert until it is read
	if now.Sub(d.lastSampleAt) < d.samplePeriod() {
		// Sampled a moment ago: wait for the sample period's end, so that
		// a light flickering at the window's edge costs no more than
		// polling would.
		d.alerted = true
		return
	}
	d.watchSample(w, now)
}

// watchSample samples, then arms the sensor around the level published
// last, unless the sensor failed (retried at its backoff) or a change is
// held back (sampled again when the gap ends).
func (d *Device) watchSample(w Watcher, now time.Time) {
	read := d.sample(now)
	d.alerted, d.armed, d.lastSampleAt = false, false, now
	if !read || d.held {
		return
	}
	lo, hi := d.window()
	if err := w.Watch(lo, hi); err != nil {
		// Until arming works again the sensor is read every sample period.
		if msg := err.Error(); msg != d.watchErr {
			d.log.Error("sensor cannot be armed; reading it every sample period until it can", "err", msg)
			d.watchErr = msg
		}
		return
	}
	d.armed = true
	if d.watchErr != "" {
		d.log.Info("sensor armed again")
		d.watchErr = ""
	}
}

// nextWake is when a watched device must sample without an alert: at the
// next heartbeat; sooner for a held-back change, a deferred alert, a sensor
// that could not be armed, a failing sensor's retry, and the moment the
// offline fallback is due (it decides by a sample, and a steady light sends
// no alert).
func (d *Device) nextWake() time.Time {
	period := d.lastSampleAt.Add(d.samplePeriod())
	if d.sensorErr != "" || !d.published {
		return later(d.sensorRetry, period)
	}
	next := d.lastPubAt.Add(d.cfg.Interval)
	if from := d.offlineFrom.Load(); from != 0 {
		if due := time.Unix(0, from).Add(d.cfg.FallbackAfter); due.After(d.lastSampleAt) {
			next = earlier(next, due)
		}
	}
	if d.held {
		next = earlier(next, later(d.lastEventAt.Add(d.cfg.PublishGap), period))
	} else if d.alerted || !d.armed {
		next = earlier(next, period)
	}
	return next
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

// fallback applies the server's threshold rule locally once the broker has
// been away for FallbackAfter, so the light still works offline.
func (d *Device) fallback(light int, now time.Time) {
	from := d.offlineFrom.Load()
	if from == 0 || now.Sub(time.Unix(0, from)) < d.cfg.FallbackAfter {
		return
	}
	d.setLED(light < d.cfg.Threshold, wire.SourceFallback)
}

// setLED drives the LED and records the state; unchanged LED, unchanged
// source: nothing to do.
func (d *Device) setLED(on bool, source string) {
	d.mu.Lock()
	same := d.ledKnown && d.state.LEDOn == on && d.state.Source == source
	d.mu.Unlock()
	if same {
		return
	}
	if err := d.hw.SetLED(on); err != nil {
		d.log.Error("LED not switched", "led_on", on, "err", err)
		return
	}
	d.ledKnown = true
	d.log.Info("LED", "led_on", on, "source", source)
	d.updateState(func(s *wire.State) { s.LEDOn, s.Source = on, source })
}

func (d *Device) updateState(change func(*wire.State)) {
	d.mu.Lock()
	change(&d.state)
	if d.light != nil {
		v := *d.light
		d.state.Light = &v
	}
	d.state.TS = wire.FormatTime(time.Now())
	d.dirty = true
	d.mu.Unlock()
	signal(d.stateDirty)
}

// sender is the one goroutine that publishes: the retained state first,
// then the outbox in seq order. It stops when ctx is cancelled.
func (d *Device) sender(ctx context.Context, l *link.Link) {
	retry := time.NewTimer(time.Hour)
	retry.Stop()
	defer retry.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-d.connected:
			// A new connection: the broker may have lost our retained state,
			// and whatever was in flight is unconfirmed.
			d.mu.Lock()
			d.dirty = true
			d.mu.Unlock()
			d.ob.Rewind()
		case <-d.stateDirty:
		case <-d.ob.Appended():
		case <-retry.C:
		}
		if !l.Connected() {
			continue // onConnect wakes us
		}
		err := d.publishState(l)
		if err == nil {
			err = d.drain(ctx, l)
		}
		if ctx.Err() != nil {
			return // stopping: not a failure; Run flushes once more itself
		}
		if err != nil && !errors.Is(err, link.ErrNotConnected) {
			d.log.Warn("publish failed; retrying", "err", err)
			retry.Reset(time.Second)
		}
	}
}

// publishState publishes the retained state if it changed since the broker
// last confirmed it.
func (d *Device) publishState(l *link.Link) error {
	d.mu.Lock()
	if !d.dirty {
		d.mu.Unlock()
		return nil
	}
	st := d.state
	d.dirty = false
	d.mu.Unlock()
	payload, err := json.Marshal(st)
	if err != nil {
		return err
	}
	err = l.PublishWait(link.Message{Topic: d.topic(wire.KindState), Payload: payload, Retained: true})
	if err != nil {
		d.mu.Lock()
		d.dirty = true
		d.mu.Unlock()
	}
	return err
}

// drain publishes the outbox up to its end (or the deadline, if not zero)
// and acknowledges in the outbox only what the broker confirmed. Up to
// sendWindow messages await their PUBACK at once, as a sliding window: each
// confirmation lets the next message go, so the broker always has something
// to answer (a batch-and-wait scheme stalls on Nagle's algorithm in brokers
// that leave it on, as Mosquitto does by default: about 40 ms per batch).
// On any failure it rewinds, so the next attempt starts at the oldest
// unconfirmed reading.
func (d *Device) drain(ctx context.Context, l *link.Link) error {
	topic := d.topic(wire.KindTelemetry)
	type flight struct {
		seq uint64
		del *link.Delivery
	}
	var inflight []flight
	done := false // the outbox had nothing more to give
	fail := func(err error) error {
		// What is still in flight is unconfirmed: sent again after the
		// rewind. The payloads are ours (Next gives fresh buffers), so
		// nothing needs waiting for.
		d.ob.Rewind()
		return err
	}
	for {
		if !done && len(inflight) < sendWindow && ctx.Err() == nil {
			recs, err := d.ob.Next(sendWindow - len(inflight))
			if err != nil {
				return fail(fmt.Errorf("read outbox: %w", err))
			}
			done = len(recs) == 0
			for _, r := range recs {
				inflight = append(inflight, flight{r.Seq, l.Publish(link.Message{Topic: topic, Payload: r.Payload})})
			}
		}
		if len(inflight) == 0 {
			if done {
				return nil
			}
			return errors.New("stopped before the outbox was empty")
		}
		f := inflight[0]
		inflight = inflight[1:]
		if err := f.del.WaitContext(ctx); err != nil {
			return fail(err)
		}
		if err := d.ob.Ack(f.seq); err != nil {
			return fail(fmt.Errorf("outbox ack %d: %w", f.seq, err))
		}
	}
}

// signal wakes a capacity-1 channel's reader without ever blocking.
func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// excerpt quotes at most 64 bytes of a payload for a log line.
func excerpt(p []byte) string {
	if len(p) > 64 {
		return fmt.Sprintf("%q... (%d bytes)", p[:64], len(p))
	}
	return fmt.Sprintf("%q", p)
}
