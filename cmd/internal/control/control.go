// Package control is the night light's server: it follows the telemetry of
// one device or all of them, decides led_on = light < threshold for each
// fresh reading, and sends the command to that device. The threshold is the
// device's own, from its retained state, or the server's for a device that
// reports none; the command names the reading it answers (its seq).
//
// The decision is decider's (decide.go), with no I/O; the Server feeds it
// from the connection and sends what it decides. Like the device, the
// server takes its connection (a Conn, which mqtt/link provides) from the
// command that built it.
package control

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"nightlight/mqtt/link"
	"nightlight/mqtt/wire"
)

// Conn is the server's connection to the broker, built, started and closed
// by the command (a *link.Link). The server subscribes in New, before the
// command starts the connection.
type Conn interface {
	Subscribe(filter string, h link.Handler)
	Connected() bool
	Publish(link.Message) link.Delivery
	Broker() string // for the status line
}

// Supervisor is told how the server is doing (systemd's notify protocol).
// STOPPING is the process's to send, not Run's: Run also ends for a
// reload.
type Supervisor interface {
	Ready() error
	Status(line string) error
	Watchdog() error
	WatchdogInterval() time.Duration // 0: no watchdog
}

// Config is the server's behaviour; zero values take the defaults.
type Config struct {
	Device string // a device id, or wire.AllDevices
	// ShareGroup, when set, subscribes the telemetry as a shared
	// subscription, $share/ShareGroup/ID/telemetry: the broker hands each
	// reading to one of the group's servers, so instances split the
	// devices. The devices' states are followed by every instance.
	ShareGroup string
	Threshold  int           // LED on below it (no default: 0 is a valid "never")
	MaxAge     time.Duration // readings older than this are history
	Logger     *slog.Logger
	// Supervisor, when set, gets READY at start, a status line and
	// watchdog pings from the main loop.
	Supervisor Supervisor
	// Counters, when set, receive the server's totals; the command keeps
	// one for the process so that they outlast reloads. Nil: the server's own.
	Counters *Counters
}

// DefaultMaxAge is the age beyond which a reading is history.
const DefaultMaxAge = 30 * time.Second

// confirmGrace bounds the wait, at a stop, for the acknowledgements of the
// commands still in flight.
const confirmGrace = 2 * time.Second

// queueLen bounds readings waiting to be decided; beyond it a reading is
// dropped, since a newer one from the same device follows.
const queueLen = 1024

// Server decides and commands.
type Server struct {
	cfg     Config
	conn    Conn
	log     *slog.Logger
	queue   chan reading // from the connection's goroutine to Run
	states  chan learned // likewise
	decider *decider     // Run's own
	sent    chan sent    // from Run to its confirm goroutine
}

// learned is a device's threshold from its retained state.
type learned struct {
	device    string
	threshold *int
}

// New checks the configuration and subscribes the server to the telemetry
// it follows; the command starts conn, then calls Run.
func New(cfg Config, conn Conn) (*Server, error) {
	if cfg.Device != wire.AllDevices {
		if err := wire.ValidID(cfg.Device); err != nil {
			return nil, fmt.Errorf("control: id: %w (or + for every device)", err)
		}
	}
	if err := wire.ValidID(cfg.ShareGroup); cfg.ShareGroup != "" && err != nil {
		return nil, fmt.Errorf("control: share group: %w", err)
	}
	if cfg.MaxAge <= 0 {
		cfg.MaxAge = DefaultMaxAge
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Supervisor == nil {
		cfg.Supervisor = unsupervised{}
	}
	if cfg.Counters == nil {
		cfg.Counters = new(Counters)
	}
	s := &Server{
		cfg:     cfg,
		conn:    conn,
		log:     cfg.Logger,
		queue:   make(chan reading, queueLen),
		states:  make(chan learned, queueLen),
		sent:    make(chan sent, queueLen),
		decider: newDecider(cfg.Threshold, cfg.MaxAge),
	}
	conn.Subscribe(s.filter(), s.onTelemetry)
	// Every instance follows every state: a device's threshold must be
	// known wherever its next reading lands.
	conn.Subscribe(wire.Topic(cfg.Device, wire.KindState), s.onState)
	return s, nil
}

// filter is the telemetry subscription, shared when the server is one of a
// group.
func (s *Server) filter() string {
	f := wire.Topic(s.cfg.Device, wire.KindTelemetry)
	if s.cfg.ShareGroup != "" {
		f = "$share/" + s.cfg.ShareGroup + "/" + f
	}
	return f
}

// Run serves until ctx is cancelled; cancellation is a clean stop. The
// connection is the caller's to close afterwards. Run is called once.
func (s *Server) Run(ctx context.Context) error {
	s.log.Info("serving", "telemetry", s.filter(), "threshold", s.cfg.Threshold, "max_age", s.cfg.MaxAge)
	sup := s.cfg.Supervisor
	var heartbeat <-chan time.Time
	every := time.Second // the watchdog and the status line, at most this often
	if wd := sup.WatchdogInterval(); wd > 0 {
		hb := time.NewTicker(wd)
		defer hb.Stop()
		heartbeat = hb.C
		every = min(every, wd)
	}
	// The acknowledgements of the last commands are waited for a moment
	// after a stop, not abandoned at once: the connection is still open.
	confirmCtx, cancel := context.WithCancel(context.Background())
	confirmed := make(chan struct{})
	go s.confirm(confirmCtx, confirmed)
	defer func() {
		close(s.sent)
		grace := time.NewTimer(confirmGrace)
		defer grace.Stop()
		select {
		case <-confirmed:
		case <-grace.C:
			cancel() // the waits left return at once
			<-confirmed
		}
		cancel()
	}()
	sup.Ready()
	var told time.Time
	for {
		// The watchdog and the status line at most once a second (or per
		// watchdog interval, if shorter): under a fleet's load, once per
		// batch would be a syscall per reading.
		if now := time.Now(); now.Sub(told) >= every {
			sup.Watchdog()
			sup.Status(s.statusLine())
			told = now
		}
		select {
		case <-ctx.Done():
			return nil
		case r := <-s.queue:
			s.decideBatch(r)
		case l := <-s.states:
			s.decider.learn(l.device, l.threshold)
		case <-heartbeat:
			// A tick always pings: the throttle above, measured from
			// when the loop last woke, could skip one that came a little
			// early and leave systemd a whole WATCHDOG_USEC without one.
			told = time.Time{}
		}
	}
}

func (s *Server) statusLine() string {
	conn := "connected"
	if !s.conn.Connected() {
		conn = "NOT connected"
	}
	return fmt.Sprintf("broker %s %s; following %d device(s)", s.conn.Broker(), conn, s.decider.devices())
}

// unsupervised is the Supervisor of a server nobody watches.
type unsupervised struct{}

func (unsupervised) Ready() error                    { return nil }
func (unsupervised) Status(string) error             { return nil }
func (unsupervised) Watchdog() error                 { return nil }
func (unsupervised) WatchdogInterval() time.Duration { return 0 }

// onTelemetry runs on the connection's goroutine: decode, then hand over.
func (s *Server) onTelemetry(m link.Message) {
	id, kind, ok := wire.SplitTopic(m.Topic)
	if !ok || kind != wire.KindTelemetry {
		s.log.Warn("telemetry refused", "topic", m.Topic, "reason", "not a device's telemetry topic")
		return
	}
	t, err := wire.ParseTelemetry(m.Payload)
	if err != nil {
		s.cfg.Counters.ReadingsRefused.Add(1)
		s.log.Warn("telemetry refused", "device", id, "reason", err.Error())
		return
	}
	s.cfg.Counters.ReadingsReceived.Add(1)
	select {
	case s.queue <- reading{device: id, t: t, at: time.Now()}:
	default:
		s.log.Warn("telemetry dropped", "device", id, "reason", "too many readings queued")
	}
}

// onState runs on the connection's goroutine: a device's retained state
// says its threshold, which decides its LED from then on. A state that
// cannot be read is left alone: the threshold stays as it was.
func (s *Server) onState(m link.Message) {
	id, kind, ok := wire.SplitTopic(m.Topic)
	if !ok || kind != wire.KindState || len(m.Payload) == 0 {
		return // not a device's state, or a retained state being cleared
	}
	st, err := wire.ParseState(m.Payload)
	if err != nil {
		s.log.Debug("state not understood; its threshold is not used", "device", id, "err", err)
		return
	}
	select {
	case s.states <- learned{id, st.Threshold}:
	default:
		s.log.Warn("state dropped", "device", id, "reason", "too many states queued")
	}
}

// decideBatch takes r and whatever else is queued, has the decider judge
// them, logs its notes and sends its orders.
func (s *Server) decideBatch(r reading) {
	batch := []reading{r}
	for more := true; more && len(batch) < queueLen; {
		select {
		case r := <-s.queue:
			batch = append(batch, r)
		default:
			more = false
		}
	}
	orders, notes := s.decider.decide(batch, time.Now())
	s.cfg.Counters.Devices.Store(int64(s.decider.devices()))
	for _, n := range notes {
		s.cfg.Counters.countStale(n.stale)
		if n.refused {
			s.cfg.Counters.ReadingsRefused.Add(1)
		}
		level := slog.LevelDebug
		if n.warn {
			level = slog.LevelWarn
		}
		if s.log.Enabled(context.Background(), level) {
			s.log.Log(context.Background(), level, n.msg, n.args()...)
		}
	}
	for _, o := range orders {
		s.command(o)
	}
}

// command sends an order and hands its delivery to confirm, so that the
// next batch need not wait for this one's acknowledgement.
func (s *Server) command(o order) {
	c := wire.Command{Kind: wire.CommandLED, LEDOn: o.ledOn, TS: time.Now(), Seq: o.answer.Seq}
	// A fresh buffer each time: the connection may still hold the last one
	// when its wait timed out.
	m := link.Message{Topic: wire.Topic(o.device, wire.KindCommands), Payload: c.AppendJSON(make([]byte, 0, 96))}
	s.sent <- sent{d: s.conn.Publish(m), device: o.device, ledOn: c.LEDOn, threshold: s.decider.thresholdOf(o.device)}
}

// sent is a command on its way to the broker.
type sent struct {
	d         link.Delivery
	device    string
	ledOn     bool
	threshold int
}

// confirm waits for each command's acknowledgement in turn and logs the
// ones that failed; it ends when s.sent is closed. Once ctx is done the
// waits return at once: the commands still unconfirmed are logged as not
// sent.
func (s *Server) confirm(ctx context.Context, done chan<- struct{}) {
	defer close(done)
	for x := range s.sent {
		if err := x.d.Wait(ctx); err != nil {
			s.cfg.Counters.CommandsFailed.Add(1)
			s.log.Warn("command not sent", "device", x.device, "led_on", x.ledOn, "err", err)
			continue
		}
		s.cfg.Counters.CommandsSent.Add(1)
		if s.log.Enabled(ctx, slog.LevelDebug) { // the arguments alone would allocate, per command
			s.log.Debug("command sent", "device", x.device, "led_on", x.ledOn, "threshold", x.threshold)
		}
	}
}
