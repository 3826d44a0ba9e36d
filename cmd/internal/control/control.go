// Package control is the night light's server: it follows the telemetry of
// one device or all of them, decides led_on = light < threshold for each
// fresh reading, and sends the command to that device.
//
// Replayed history never drives the LED: a reading older than MaxAge, or
// older than the newest one seen from its device, is logged and left alone.
package control

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"time"

	"nightlight/mqtt/link"
	"nightlight/mqtt/wire"
)

// Config is the server's behaviour; zero values take the defaults.
type Config struct {
	Broker    string
	ClientID  string
	Username  string
	Password  string
	TLS       *tls.Config   // for ssl:// brokers; nil: system CA pool
	Device    string        // a device id, or wire.AllDevices
	Threshold int           // LED on below it (no default: 0 is a valid "never")
	MaxAge    time.Duration // readings older than this are history
	Timeout   time.Duration
	KeepAlive time.Duration
	Logger    *slog.Logger
	// Supervisor, when set, gets READY at start, a status line and
	// watchdog pings from the main loop, and STOPPING.
	Supervisor Supervisor
}

// Supervisor is told how the server is doing (systemd's notify protocol).
type Supervisor interface {
	Ready() error
	Status(line string) error
	Stopping() error
	Watchdog() error
	WatchdogInterval() time.Duration // 0: no watchdog
}

// Defaults of the contract.
const (
	DefaultThreshold = 300
	DefaultMaxAge    = 30 * time.Second
	DefaultTimeout   = 5 * time.Second
)

// queueLen bounds readings waiting to be decided; beyond it a reading is
// dropped, since a newer one from the same device follows.
const queueLen = 1024

type reading struct {
	device string
	t      wire.Telemetry
	at     time.Time // when it arrived
}

// Server decides and commands.
type Server struct {
	cfg    Config
	log    *slog.Logger
	queue  chan reading
	newest map[string]time.Time // per device, the ts of the newest reading acted on
	cmdBuf []byte
}

// New checks the configuration.
func New(cfg Config) (*Server, error) {
	if cfg.Device != wire.AllDevices {
		if err := wire.ValidID(cfg.Device); err != nil {
			return nil, fmt.Errorf("id: %w (or + for every device)", err)
		}
	}
	if err := link.CheckBroker(cfg.Broker); err != nil {
		return nil, err
	}
	if cfg.ClientID == "" {
		return nil, fmt.Errorf("client id is empty")
	}
	if cfg.MaxAge <= 0 {
		cfg.MaxAge = DefaultMaxAge
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Supervisor == nil {
		cfg.Supervisor = unsupervised{}
	}
	return &Server{
		cfg:    cfg,
		log:    cfg.Logger,
		queue:  make(chan reading, queueLen),
		newest: map[string]time.Time{},
	}, nil
}

// Run serves until ctx is cancelled; cancellation is a clean stop.
func (s *Server) Run(ctx context.Context) error {
	filter := wire.Topic(s.cfg.Device, wire.KindTelemetry)
	l, err := link.New(link.Options{
		Broker:    s.cfg.Broker,
		ClientID:  s.cfg.ClientID,
		Username:  s.cfg.Username,
		Password:  s.cfg.Password,
		TLS:       s.cfg.TLS,
		Timeout:   s.cfg.Timeout,
		KeepAlive: s.cfg.KeepAlive,
		Subscribe: map[string]link.Handler{filter: s.onTelemetry},
		Logger:    s.log,
	})
	if err != nil {
		return err
	}
	s.log.Info("serving", "telemetry", filter, "threshold", s.cfg.Threshold, "max_age", s.cfg.MaxAge)
	l.Start()
	defer l.Close(nil)
	sup := s.cfg.Supervisor
	var heartbeat <-chan time.Time
	if wd := sup.WatchdogInterval(); wd > 0 {
		hb := time.NewTicker(wd)
		defer hb.Stop()
		heartbeat = hb.C
	}
	sup.Ready()
	defer sup.Stopping()
	for {
		sup.Watchdog()
		conn := "connected"
		if !l.Connected() {
			conn = "NOT connected"
		}
		sup.Status(fmt.Sprintf("broker %s %s; following %d device(s)", s.cfg.Broker, conn, len(s.newest)))
		select {
		case <-ctx.Done():
			return nil
		case r := <-s.queue:
			s.decideBatch(l, r)
		case <-heartbeat:
		}
	}
}

// unsupervised is the Supervisor of a server nobody watches.
type unsupervised struct{}

func (unsupervised) Ready() error                    { return nil }
func (unsupervised) Status(string) error             { return nil }
func (unsupervised) Stopping() error                 { return nil }
func (unsupervised) Watchdog() error                 { return nil }
func (unsupervised) WatchdogInterval() time.Duration { return 0 }

// onTelemetry runs on paho's goroutine: decode, then hand over.
func (s *Server) onTelemetry(m link.Message) {
	id, kind, ok := wire.SplitTopic(m.Topic)
	if !ok || kind != wire.KindTelemetry {
		s.log.Warn("telemetry refused", "topic", m.Topic, "reason", "not a device's telemetry topic")
		return
	}
	t, err := wire.ParseTelemetry(m.Payload)
	if err != nil {
		s.log.Warn("telemetry refused", "device", id, "reason", err.Error())
		return
	}
	select {
	case s.queue <- reading{device: id, t: t, at: time.Now()}:
	default:
		s.log.Warn("telemetry dropped", "device", id, "reason", "too many readings queued")
	}
}

// decideBatch takes r and whatever else is queued, filters out history,
// and commands each device once, for its newest fresh reading: a backlog a
// device replays after an outage must not flicker its LED through the past.
func (s *Server) decideBatch(l *link.Link, r reading) {
	batch := []reading{r}
	for more := true; more && len(batch) < queueLen; {
		select {
		case r := <-s.queue:
			batch = append(batch, r)
		default:
			more = false
		}
	}
	now := time.Now()
	latest := map[string]reading{}
	var order []string
	for _, r := range batch {
		if !s.fresh(r, now) {
			continue
		}
		if prev, ok := latest[r.device]; ok {
			s.log.Debug("telemetry superseded by a newer reading", "device", r.device, "seq", prev.t.Seq)
		} else {
			order = append(order, r.device)
		}
		latest[r.device] = r
	}
	for _, dev := range order {
		s.command(l, latest[dev])
	}
}

// fresh reports whether r may drive the LED, logging why not. Its age is
// measured now, not when it arrived: it may have waited in the queue.
func (s *Server) fresh(r reading, now time.Time) bool {
	t := r.t
	log := s.log.With("device", r.device, "light", t.Light)
	if t.Seq != 0 {
		log = log.With("seq", t.Seq)
	}
	ts := t.TS
	if ts.IsZero() {
		ts = r.at // the lesson's device sends no ts: a live reading is as old as its arrival
	}
	switch newest := s.newest[r.device]; {
	case now.Sub(ts) > s.cfg.MaxAge:
		log.Info("telemetry from history, not acted on", "ts", wire.FormatTime(ts), "age", now.Sub(ts).Round(time.Millisecond))
		return false
	case ts.Sub(now) > s.cfg.MaxAge:
		log.Warn("telemetry from the future, not acted on: check the device's clock", "ts", wire.FormatTime(ts), "ahead", ts.Sub(now).Round(time.Millisecond))
		return false
	case ts.Before(newest):
		log.Info("telemetry older than the newest, not acted on", "ts", wire.FormatTime(ts), "newest", wire.FormatTime(newest))
		return false
	}
	// Never ahead of our own clock: one reading from a clock that runs
	// fast must not make every later one look old.
	if ts.After(r.at) {
		ts = r.at
	}
	s.newest[r.device] = ts
	log.Info("telemetry received")
	return true
}

// command sends the decision for a fresh reading.
func (s *Server) command(l *link.Link, r reading) {
	c := wire.Command{LEDOn: r.t.Light < s.cfg.Threshold, TS: time.Now()}
	topic := wire.Topic(r.device, wire.KindCommands)
	if err := l.PublishWait(link.Message{Topic: topic, Payload: c.AppendJSON(nil)}); err != nil {
		s.log.Warn("command not sent", "device", r.device, "led_on", c.LEDOn, "err", err)
		return
	}
	s.log.Info("command sent", "device", r.device, "led_on", c.LEDOn)
}
