// Package device is the night light's daemon logic: sample the light, keep
// every reading in the outbox and publish it, obey commands by switching the
// LED, report state and status, and keep the light working when the broker
// is away.
//
// The device takes its parts; it builds none. The command hands in the
// hardware, the outbox, the connection to the broker (a Conn, which
// mqtt/link provides) and a Supervisor (systemd), each through the small
// interface declared here, so the device runs in tests without a broker, a
// board or systemd.
//
// Where things are:
//   - policy.go: the decisions, with no I/O (what to publish when, the
//     sensor's window, when to wake, which commands to obey, the fallback);
//   - sample.go: the main loop's sampling, polled or on the sensor's alert;
//   - command.go: commands from the broker, decoded on paho's goroutine and
//     applied on the main loop;
//   - state.go: the LED, the retained state and the status line;
//   - sender.go: the one goroutine that publishes;
//   - announce.go: what the sender announces besides the state (Home
//     Assistant's discovery config), and again when asked;
//   - counters.go: the totals and the state read for the metrics, without
//     waking the main loop.
//
// Goroutines: Run owns two, the main loop (sampling, commands, fallback; it
// is the only one that touches the hardware) and the sender (the only one
// that publishes). The connection's own goroutines only decode and hand
// over.
package device

import (
	"context"
	"errors"
	"log/slog"
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
	Oldest() (rec outbox.Record, ok bool, err error) // for the metrics
}

// Conn is the device's connection to the broker, built, started and closed
// by the command (a *link.Link). The device registers its subscription and
// its connection events in New, before the command starts the connection.
type Conn interface {
	Subscribe(filter string, h link.Handler)
	OnConnect(func())
	OnLost(func(error))
	Connected() bool
	Publish(link.Message) link.Delivery
	Broker() string // for the status line
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
	Interval      time.Duration // heartbeat: a reading is published at least this often
	SampleEvery   time.Duration // how often the sensor is read; 0: every Interval, the lesson's way
	Deadband      int           // a change of at least this much is published at once; 0: off
	PublishGap    time.Duration // at most one reading per this gap, however the light flickers
	Threshold     int           // the fallback rule: LED on below it (no default: 0 is a valid "never")
	FallbackAfter time.Duration // how long without the broker before the device decides itself
	MaxCommandAge time.Duration // commands older than this are not applied
	Version       string        // the daemon's, reported in the state
	Logger        *slog.Logger
	// Resume, when set, starts the device where a previous run left off
	// (a reload): the LED as it was, and the broker's absence counted from
	// when it began, so the offline fallback does not start over.
	Resume *Snapshot
	// Keeper keeps a person's choices (mode, threshold) across restarts
	// and reloads; nil keeps them for this run only.
	Keeper Keeper
	// Counters, when set, receive the device's totals; the command keeps
	// one for the process so that they outlast reloads. Nil: the device's own.
	Counters *Counters
	// Announce, when set, is published besides the state (Home
	// Assistant's discovery config).
	Announce *Announcement
	// Supervisor, when set, gets READY once Run starts (the hardware and
	// the outbox are open by then), a status line after every pass of the
	// main loop, and watchdog pings from the main loop itself (so a stuck
	// loop stops them, not just a dead process). STOPPING is the process's
	// to send, not Run's: Run also ends for an in-process reload.
	Supervisor Supervisor
}

// Defaults of the contract.
const (
	DefaultInterval      = 5 * time.Second
	DefaultFallbackAfter = 30 * time.Second
	DefaultMaxCommandAge = time.Minute
	DefaultSampleEvery   = 100 * time.Millisecond
	DefaultDeadband      = 30
	DefaultPublishGap    = 500 * time.Millisecond
)

// ErrReload, as the cause of Run's context (context.WithCancelCause), stops
// the device for a reload: the LED stays as it is and no "offline" is
// published, since the next run takes over at once.
var ErrReload = errors.New("device: reloading")

// Device is a running night light.
type Device struct {
	cfg  Config
	hw   Hardware
	ob   Outbox
	conn Conn
	log  *slog.Logger

	cmds          chan incoming // from the connection's goroutine to the main loop
	connected     chan struct{} // the sender's wake-up after each connect
	againAsked    chan struct{} // the sender's wake-up when the announcement is asked for again
	offlineFrom   atomic.Int64  // unix nanos when the link went down; 0 while up
	state         stateBox      // the retained state, shared with the sender
	counts        *Counters     // totals, shared with whoever reports them
	connectedOnce atomic.Bool   // a connection was made in this run: the next is a reconnect
	lastLight     atomic.Int64  // the newest sample, for the metrics; -1 before the first
	sentPending   int64         // the outbox's pending count in the state last confirmed; the sender's

	// Owned by the main loop.
	choices     Choices // a person's, kept across runs
	policy      policy
	samp        sampler
	sensor      sensorHealth
	storeHealth storeHealth
	light       *int   // the newest sample, nil before the first
	watchErr    string // why the sensor could not be armed, "" while it can
	ledKnown    bool   // the LED was driven since start
	buf         []byte
}

// New prepares a device on its parts and registers its subscription and
// connection events with conn; the command starts conn, then calls Run.
func New(cfg Config, hw Hardware, ob Outbox, conn Conn) (*Device, error) {
	if err := wire.ValidID(cfg.ID); err != nil {
		return nil, err
	}
	setDefault(&cfg.Interval, DefaultInterval)
	setDefault(&cfg.FallbackAfter, DefaultFallbackAfter)
	setDefault(&cfg.MaxCommandAge, DefaultMaxCommandAge)
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Supervisor == nil {
		cfg.Supervisor = unsupervised{}
	}
	if cfg.Keeper == nil {
		cfg.Keeper = new(memoryKeeper)
	}
	if cfg.Counters == nil {
		cfg.Counters = new(Counters)
	}
	d := &Device{
		cfg:        cfg,
		hw:         hw,
		ob:         ob,
		conn:       conn,
		log:        cfg.Logger,
		cmds:       make(chan incoming, 16),
		connected:  make(chan struct{}, 1),
		againAsked: make(chan struct{}, 1),
		state:      stateBox{changed: make(chan struct{}, 1)},
		counts:     cfg.Counters,
		buf:        make([]byte, 0, 128),
	}
	d.lastLight.Store(-1)
	d.choices = d.recall()
	d.policy = newPolicy(cfg, d.choices)
	c := d.choices // the state's own copy: the main loop changes d.choices
	d.state.update(nil, func(s *wire.State) { s.Mode, s.Threshold, s.Version = c.Mode, &c.Threshold, cfg.Version })
	// Offline from now, or since the previous run lost the broker, until
	// the connection says otherwise: set here, before the command starts
	// the connection, so that a quick first connect is not overwritten.
	d.offlineFrom.Store(time.Now().UnixNano())
	if r := cfg.Resume; r != nil && !r.OfflineSince.IsZero() {
		d.offlineFrom.Store(r.OfflineSince.UnixNano())
	}
	conn.Subscribe(d.topic(wire.KindCommands), d.onCommand)
	if a := cfg.Announce; a != nil && a.Again != "" {
		conn.Subscribe(a.Again, d.onAgain)
	}
	conn.OnConnect(d.onConnect)
	conn.OnLost(d.onLost)
	return d, nil
}

func setDefault(d *time.Duration, v time.Duration) {
	if *d <= 0 {
		*d = v
	}
}

func (d *Device) topic(kind string) string { return wire.Topic(d.cfg.ID, kind) }

// Run runs the device until ctx is cancelled, then stops in order: sampling,
// a last bounded flush of state and outbox, the retained "offline". The LED
// is left off, unless ctx ended for a reload (ErrReload). Cancellation is a
// clean stop: nil. The connection is the caller's to close afterwards.
func (d *Device) Run(ctx context.Context) error {
	d.begin()
	sendCtx, stopSender := context.WithCancel(context.Background())
	senderDone := make(chan struct{})
	go func() {
		defer close(senderDone)
		d.sender(sendCtx)
	}()

	d.loop(ctx)

	reload := errors.Is(context.Cause(ctx), ErrReload)
	d.log.Info("stopping", "reload", reload)
	if !reload {
		d.setLED(false, wire.SourceShutdown)
	}
	stopSender()
	<-senderDone
	d.farewell(reload)
	return nil
}

// begin sets the LED as the run starts: as the previous run left it, as a
// person chose it, or off.
func (d *Device) begin() {
	if r := d.cfg.Resume; r != nil {
		d.setLED(r.LEDOn, r.Source)
		return
	}
	if on, ok := d.policy.manual(); ok {
		d.setLED(on, wire.SourceManual)
		return
	}
	d.setLED(false, wire.SourceStartup)
}

// recall returns the choices this run starts with: those kept, unless the
// configuration changed the threshold since. A keeper that cannot give them
// is reported, and the configuration's are used.
func (d *Device) recall() Choices {
	kept, ok, err := d.cfg.Keeper.Load()
	if err != nil {
		d.log.Warn("kept choices unreadable; starting with the configuration's mode and threshold", "err", err)
	}
	c, overridden := choose(kept, ok, d.cfg.Threshold)
	if overridden {
		d.log.Info("the configuration's threshold replaces the one chosen by command", "threshold", c.Threshold, "chosen", kept.Threshold)
	}
	if ok && c.Mode != wire.ModeAuto {
		d.log.Info("a person decides the LED, as chosen before", "mode", c.Mode)
	}
	return c
}

// loop is the main loop: it samples (at every tick, polled; on the
// sensor's alert, the heartbeat or a held-back change, watched), applies
// commands, and keeps the supervisor informed, until ctx is done.
func (d *Device) loop(ctx context.Context) {
	w := d.watcher()
	wake := newWakeups(d.policy.samplePeriod(), w)
	defer wake.stop()
	if w == nil {
		d.log.Info("sampling", "every", d.policy.samplePeriod())
	} else {
		d.log.Info("sampling", "on", "sensor alert", "at_most_every", d.policy.samplePeriod(), "heartbeat", d.cfg.Interval)
	}
	sup := newSupervision(d.cfg.Supervisor)
	defer sup.stop()
	if err := sup.ready(); err != nil {
		d.log.Warn("could not tell systemd we are ready", "err", err)
	}
	d.sampleOnce(w, time.Now())
	for {
		sup.pass(time.Now(), d.statusLine)
		if w != nil {
			wake.at(d.nextWake())
		}
		select {
		case <-ctx.Done():
			return
		case now := <-wake.tick:
			d.sample(now)
		case <-wake.alerts:
			d.onAlert(w, time.Now())
		case now := <-wake.timer.C:
			d.watchSample(w, now)
		case in := <-d.cmds:
			d.apply(in, time.Now())
			sup.reportNow() // show the LED's new state now
		case <-sup.heartbeat:
		}
	}
}

// farewell makes a last bounded attempt to deliver the state and the
// outbox, then publishes the retained "offline" a clean stop owes its
// readers (the broker publishes the Will only when we vanish). A reload
// owes none: the next run takes over at once.
func (d *Device) farewell(reload bool) {
	if !d.conn.Connected() {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), shutdownFlush)
	defer cancel()
	d.publishState(ctx)
	if err := d.drain(ctx); err != nil {
		d.log.Warn("readings left in the outbox for the next start", "err", err)
	}
	if reload {
		return
	}
	offline := link.Message{Topic: d.topic(wire.KindStatus), Payload: []byte(wire.StatusOffline), Retained: true}
	if err := d.conn.Publish(offline).Wait(context.Background()); err != nil {
		d.log.Warn("could not publish offline before disconnecting", "err", err)
	}
}

// shutdownFlush bounds the last attempt to empty the outbox at stop; what is
// left stays on disk for the next start.
const shutdownFlush = 2 * time.Second
