// Package link owns a program's connection to its MQTT broker: connecting and
// reconnecting with a capped backoff, restoring subscriptions after every
// reconnect, the online/offline status with its Last Will, and publishing
// with bounded waits and an honest answer to "did the broker acknowledge it?".
//
// It wraps github.com/eclipse/paho.mqtt.golang and keeps its sharp edges
// inside: no wait on a paho token is unbounded, no handler blocks paho, and a
// token that completes after the connection was replaced is not taken as
// proof of delivery (paho's README says it proves nothing).
package link

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
)

// Defaults for Options fields left zero.
const (
	DefaultTimeout = 10 * time.Second
	// DefaultKeepAlive: a dead link is noticed within 30 s. Above 10 s paho
	// checks the link every 5 s, at or below every KeepAlive/4; each check
	// wakes the process, so 15 s costs one wake-up per 5 s and 10 s two.
	DefaultKeepAlive  = 15 * time.Second
	DefaultMaxBackoff = 10 * time.Second
)

// ErrNotConnected is returned by Publish while there is no connection.
var ErrNotConnected = errors.New("link: not connected to the broker")

// ErrUnconfirmed means the broker may or may not have the message: the
// connection was lost or replaced before its acknowledgement arrived, or the
// wait timed out. The caller keeps the message and sends it again.
var ErrUnconfirmed = errors.New("link: delivery not confirmed by the broker")

// Message is an MQTT message as this package sends and receives it. Every
// message we publish is QoS 1.
type Message struct {
	Topic    string
	Payload  []byte
	Retained bool
}

// Handler receives a message from a subscription. It runs on paho's
// goroutine, so it must return quickly and must not publish and wait.
type Handler func(Message)

// Delivery is a message on its way to the broker. Wait tells whether the
// broker acknowledged it.
type Delivery interface {
	// Wait waits at most the link's timeout, or until ctx is done, for the
	// broker's acknowledgement. It returns nil only when the PUBACK arrived
	// on the connection the message was sent on; ErrUnconfirmed (wrapped)
	// when that cannot be known, ErrNotConnected when it was never sent.
	Wait(ctx context.Context) error
}

// Options configures a Link.
type Options struct {
	Broker     string        // tcp://host:1883 or ssl://host:8883
	ClientID   string        // unique per broker; the device id for a device
	Username   string        // optional
	Password   string        // optional
	TLS        *tls.Config   // for ssl:// brokers; nil: the system's CA pool, server name from the URL
	Timeout    time.Duration // bounds each connect attempt, publish and subscribe wait
	KeepAlive  time.Duration // whole seconds; a link that stops passing packets is noticed within 2x this (paho checks every K/4 up to 10 s and every 5 s above, pings after K of silence, gives up K/2 later)
	MaxBackoff time.Duration // the cap of the reconnect backoff
	Birth      *Message      // published on every connect once subscribed, before the OnConnect functions run (retained "online")
	Will       *Message      // the Last Will the broker publishes if we vanish
	Logger     *slog.Logger
}

// Link is a connection to a broker that keeps itself up.
type Link struct {
	opts   Options
	log    *slog.Logger
	client paho.Client

	// gen counts connection attempts and losses. A publish remembers the
	// generation it was sent on; a token that completes in a later one
	// proves nothing. connected changes together with gen, under mu, so a
	// slow onConnect cannot mark a connection up that was lost meanwhile.
	gen       atomic.Uint64
	connected atomic.Bool

	closing   chan struct{} // closed by Close: ends subscribe retries
	closeOnce sync.Once

	// lastErr is why the newest connection attempt failed, nil once
	// connected; it is logged when its explanation changes, not per retry.
	mu      sync.Mutex
	lastErr *ConnectError

	// Set before Start by Subscribe, OnConnect and OnLost; read-only after.
	subs       []subscription
	connectFns []func()
	lostFns    []func(error)
	started    atomic.Bool
	startOnce  sync.Once
}

type subscription struct {
	filter string
	h      Handler
}

// New checks the options and prepares a link; Start connects it.
func New(opts Options) (*Link, error) {
	if err := CheckBroker(opts.Broker); err != nil {
		return nil, err
	}
	if opts.ClientID == "" {
		return nil, errors.New("link: client id is empty: give each program a client id unique on its broker")
	}
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	if opts.KeepAlive <= 0 {
		opts.KeepAlive = DefaultKeepAlive
	}
	if opts.MaxBackoff <= 0 {
		opts.MaxBackoff = DefaultMaxBackoff
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	l := &Link{opts: opts, log: log, closing: make(chan struct{})}

	po := paho.NewClientOptions().
		AddBroker(opts.Broker).
		SetClientID(opts.ClientID).
		SetUsername(opts.Username).
		SetPassword(opts.Password).
		SetCleanSession(true).
		SetStore(newNoResendStore()).
		// Handlers run concurrently and never block each other; ordering of
		// telemetry is the caller's job (it sends in seq order and waits).
		SetOrderMatters(false).
		SetKeepAlive(opts.KeepAlive).
		SetPingTimeout(opts.KeepAlive / 2).
		SetConnectTimeout(opts.Timeout).
		SetWriteTimeout(opts.Timeout).
		SetAutoReconnect(true).
		SetConnectRetry(true).
		SetConnectRetryInterval(time.Second).
		SetMaxReconnectInterval(opts.MaxBackoff).
		SetConnectionAttemptHandler(l.onAttempt).
		SetConnectionNotificationHandler(l.onNotification).
		SetOnConnectHandler(l.onConnect).
		SetConnectionLostHandler(l.onLost).
		SetCustomOpenConnectionFn(dial)
	if opts.TLS != nil {
		po.SetTLSConfig(opts.TLS)
	}
	if opts.Will != nil {
		po.SetBinaryWill(opts.Will.Topic, opts.Will.Payload, 1, opts.Will.Retained)
	}
	l.client = paho.NewClient(po)
	return l, nil
}

// CheckBroker validates a broker URL and says how to write one.
func CheckBroker(broker string) error {
	u, err := url.Parse(broker)
	if err != nil || u.Host == "" {
		return fmt.Errorf("broker %q is not a URL: write it as tcp://host:1883 or ssl://host:8883", broker)
	}
	switch u.Scheme {
	case "tcp", "mqtt", "ssl", "tls", "mqtts":
	default:
		return fmt.Errorf("broker %q: scheme %q is not supported: use tcp:// or ssl://", broker, u.Scheme)
	}
	if u.Port() == "" {
		return fmt.Errorf("broker %q has no port: add :1883 (tcp) or :8883 (ssl)", broker)
	}
	return nil
}

// Subscribe makes the link subscribe filter at QoS 1 on every connect and
// hand its messages to h. Call it before Start.
func (l *Link) Subscribe(filter string, h Handler) {
	l.mustNotHaveStarted("Subscribe")
	l.subs = append(l.subs, subscription{filter, h})
}

// OnConnect makes the link call f after every (re)connect, once the
// subscriptions and the birth message are done. f runs on paho's goroutine
// and must not block. Call it before Start.
func (l *Link) OnConnect(f func()) {
	l.mustNotHaveStarted("OnConnect")
	l.connectFns = append(l.connectFns, f)
}

// OnLost makes the link call f when the connection is lost. f runs on
// paho's goroutine and must not block. Call it before Start.
func (l *Link) OnLost(f func(error)) {
	l.mustNotHaveStarted("OnLost")
	l.lostFns = append(l.lostFns, f)
}

// mustNotHaveStarted panics when a registration comes after Start: paho's
// goroutines read the registrations without a lock, so a late one would be
// a data race, and it would miss the connections made before it.
func (l *Link) mustNotHaveStarted(what string) {
	if l.started.Load() {
		panic("link: " + what + " called after Start")
	}
}

// Start begins connecting in the background and returns at once. The link
// retries until Close, so a broker that is down at start is not an error.
func (l *Link) Start() {
	l.startOnce.Do(func() {
		l.started.Store(true)
		l.log.Info("connecting", "broker", l.opts.Broker, "client_id", l.opts.ClientID)
		// With ConnectRetry the token completes only once connected (or on
		// Close); nothing waits on it.
		l.client.Connect()
	})
}

// Broker is the URL of the broker the link connects to.
func (l *Link) Broker() string { return l.opts.Broker }

// Connected reports whether the link is up now.
func (l *Link) Connected() bool { return l.connected.Load() }

func (l *Link) onAttempt(_ *url.URL, cfg *tls.Config) *tls.Config {
	l.gen.Add(1)
	return cfg
}

// LastError says why the newest connection attempt failed, with an
// explanation a user can act on (a *ConnectError); nil before the first
// failure and once connected.
func (l *Link) LastError() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.lastErr == nil {
		return nil
	}
	return l.lastErr
}

// onNotification explains failed connection attempts. paho retries every
// second or so; the log says it once per different reason.
func (l *Link) onNotification(_ paho.Client, n paho.ConnectionNotification) {
	f, ok := n.(paho.ConnectionNotificationFailed)
	if !ok || f.Reason == nil {
		return
	}
	ce := &ConnectError{Broker: l.opts.Broker, Explanation: Explain(l.opts.Broker, f.Reason), Err: f.Reason}
	l.mu.Lock()
	changed := l.lastErr == nil || l.lastErr.Explanation != ce.Explanation
	l.lastErr = ce
	l.mu.Unlock()
	if changed {
		l.log.Warn("cannot connect to the broker; retrying", "broker", l.opts.Broker, "reason", ce.Explanation, "err", f.Reason)
	}
}

func (l *Link) onConnect(c paho.Client) {
	// paho calls this on a goroutine of its own, so bounded waits are fine.
	gen := l.gen.Load()
	for _, sub := range l.subs {
		if !l.subscribe(c, gen, sub.filter, sub.h) {
			return // the connection is gone or the link closing; the next connect starts over
		}
	}
	// Birth after the subscriptions, so "online" means "listening".
	if b := l.opts.Birth; b != nil {
		t := c.Publish(b.Topic, 1, b.Retained, b.Payload)
		if err := l.wait(t, "publish "+b.Topic); err != nil {
			l.log.Warn("birth message not confirmed", "topic", b.Topic, "err", err)
		}
	}
	l.mu.Lock()
	up := l.gen.Load() == gen && c.IsConnectionOpen()
	if up {
		l.connected.Store(true)
		l.lastErr = nil
	}
	l.mu.Unlock()
	if !up {
		return // lost, or a newer connection took over, meanwhile
	}
	l.log.Info("connected", "broker", l.opts.Broker)
	for _, f := range l.connectFns {
		f()
	}
}

// subscribe subscribes filter on connection gen, retrying with a backoff
// (paho offers no retry, and a Disconnect would end the link for good) until
// the broker answers, the connection is lost, or the link closes. A broker
// that refuses the subscription (an ACL) is reported, not retried.
func (l *Link) subscribe(c paho.Client, gen uint64, filter string, h Handler) bool {
	backoff := time.Second
	for {
		t := c.Subscribe(filter, 1, func(_ paho.Client, m paho.Message) {
			h(Message{Topic: m.Topic(), Payload: m.Payload(), Retained: m.Retained()})
		})
		err := l.wait(t, "subscribe "+filter)
		if err == nil {
			if code, ok := t.(*paho.SubscribeToken).Result()[filter]; ok && code >= 0x80 {
				l.log.Error("the broker refused the subscription: allow this client to subscribe to it in the broker's ACL",
					"topic", filter, "client_id", l.opts.ClientID)
			}
			return true
		}
		if l.gen.Load() != gen || !c.IsConnectionOpen() {
			return false
		}
		l.log.Error("subscription failed; retrying", "topic", filter, "err", err, "in", backoff)
		select {
		case <-time.After(backoff):
		case <-l.closing:
			return false
		}
		backoff = min(2*backoff, l.opts.MaxBackoff)
	}
}

func (l *Link) onLost(_ paho.Client, err error) {
	l.mu.Lock()
	l.gen.Add(1) // whatever was in flight is unconfirmed now
	l.connected.Store(false)
	l.mu.Unlock()
	l.log.Warn("connection lost; reconnecting", "broker", l.opts.Broker, "err", err)
	for _, f := range l.lostFns {
		f(err)
	}
}

func (l *Link) wait(t paho.Token, what string) error {
	if !t.WaitTimeout(l.opts.Timeout) {
		return fmt.Errorf("link: %s: no answer from the broker within %s", what, l.opts.Timeout)
	}
	if err := t.Error(); err != nil {
		return fmt.Errorf("link: %s: %w", what, err)
	}
	return nil
}

// delivery is a Delivery of a message sent on connection gen.
type delivery struct {
	l     *Link
	gen   uint64
	token paho.Token
}

// undelivered is the Delivery of a message that was never sent.
type undelivered struct{ err error }

func (u undelivered) Wait(context.Context) error { return u.err }

// Publish sends m at QoS 1 without waiting; the Delivery's Wait tells
// whether the broker acknowledged it. While disconnected it fails at once
// with ErrNotConnected, so the caller keeps its message and controls the
// order.
func (l *Link) Publish(m Message) Delivery {
	if !l.connected.Load() {
		return undelivered{ErrNotConnected}
	}
	gen := l.gen.Load()
	return &delivery{l: l, gen: gen, token: l.client.Publish(m.Topic, 1, m.Retained, m.Payload)}
}

func (d *delivery) Wait(ctx context.Context) error {
	timer := time.NewTimer(d.l.opts.Timeout)
	defer timer.Stop()
	select {
	case <-d.token.Done():
	case <-timer.C:
		return fmt.Errorf("%w: no answer from the broker within %s", ErrUnconfirmed, d.l.opts.Timeout)
	case <-ctx.Done():
		return fmt.Errorf("%w: %v", ErrUnconfirmed, context.Cause(ctx))
	}
	if err := d.token.Error(); err != nil {
		return fmt.Errorf("%w: %v", ErrUnconfirmed, err)
	}
	if d.l.gen.Load() != d.gen {
		return fmt.Errorf("%w: the connection was replaced before the acknowledgement", ErrUnconfirmed)
	}
	return nil
}

// PublishWait publishes m and waits for its acknowledgement.
func (l *Link) PublishWait(m Message) error { return l.Publish(m).Wait(context.Background()) }

// Close ends the link: a clean disconnect, bounded by 250 ms, after which
// the broker does not publish the Will. A program that owes its readers a
// last word (a retained "offline") publishes it before.
func (l *Link) Close() {
	l.closeOnce.Do(func() { close(l.closing) })
	l.mu.Lock()
	l.connected.Store(false)
	l.mu.Unlock()
	l.client.Disconnect(250)
	l.log.Info("disconnected", "broker", l.opts.Broker)
}
