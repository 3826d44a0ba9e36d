// Package mqtttest gives tests real brokers to talk through: the embedded
// one, always, and Mosquitto, the reference broker, when it is installed.
// Each can be stopped and started again on the same port, to test reconnects.
// Mosquitto takes options for a TLS listener, passwords and any other
// configuration line; NewCA makes the certificates for it.
//
// Set NIGHTLIGHT_REQUIRE_MOSQUITTO=1 (CI does) to turn a missing mosquitto
// into a test failure instead of a skip.
package mqtttest

import (
	"errors"
	"net"
	"os"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"nightlight/mqtt/broker"
	"nightlight/mqtt/mosquitto"
)

// Broker is a broker under a test's control.
type Broker interface {
	URL() string
	Stop()  // stops the broker; its clients see the connection drop
	Start() // starts it again on the same port
}

// ForEach runs f as a subtest against every broker, "embedded" and
// "mosquitto", the two in parallel: each has a broker of its own.
func ForEach(t *testing.T, f func(t *testing.T, b Broker)) {
	t.Run("embedded", func(t *testing.T) {
		t.Parallel()
		f(t, Embedded(t))
	})
	t.Run("mosquitto", func(t *testing.T) {
		t.Parallel()
		f(t, Mosquitto(t))
	})
}

// FreeAddr returns a loopback address with a port nobody listens on now.
func FreeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

type embedded struct {
	t    testing.TB
	addr string
	mu   sync.Mutex
	b    *broker.Broker
}

// Embedded starts the embedded broker on a free loopback port; it stops when
// the test ends.
func Embedded(t testing.TB) Broker {
	e := &embedded{t: t, addr: FreeAddr(t)}
	e.Start()
	t.Cleanup(e.Stop)
	return e
}

func (e *embedded) URL() string { return "tcp://" + e.addr }

func (e *embedded) Start() {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.b != nil {
		return
	}
	var err error
	deadline := time.Now().Add(5 * time.Second)
	for {
		// The port may linger for a moment after Stop.
		if e.b, err = broker.Start(e.addr, nil); err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil {
		e.t.Fatalf("start embedded broker: %v", err)
	}
}

func (e *embedded) Stop() {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.b != nil {
		e.b.Close()
		e.b = nil
	}
}

// MosquittoPath finds the mosquitto binary, which Debian puts in /usr/sbin,
// outside an ordinary user's PATH.
func MosquittoPath() (string, error) { return mosquitto.Path() }

// MosquittoOption changes the configuration of a Mosquitto a test starts.
type MosquittoOption func(*mosquitto.Config)

// WithTLS makes the listener speak TLS with the server certificate and key
// in certFile and keyFile (PEM); caFile is the CA Mosquitto checks client
// certificates against. URL then returns an ssl:// URL.
func WithTLS(caFile, certFile, keyFile string) MosquittoOption {
	return func(c *mosquitto.Config) {
		c.TLS = &mosquitto.TLS{CAFile: caFile, CertFile: certFile, KeyFile: keyFile}
	}
}

// WithUser turns anonymous access off and lets user in with password, from
// a password file made by mosquitto_passwd.
func WithUser(user, password string) MosquittoOption {
	return func(c *mosquitto.Config) { c.Users = append(c.Users, mosquitto.User{Name: user, Password: password}) }
}

// WithConfig adds lines to mosquitto.conf, such as "require_certificate true".
func WithConfig(lines ...string) MosquittoOption {
	return func(c *mosquitto.Config) { c.Extra = append(c.Extra, lines...) }
}

// Mosquitto starts a private Mosquitto (mqtt/mosquitto) on a free loopback
// port, with no persistence and, unless options say otherwise, plaintext and
// anonymous access; it stops when the test ends. Without mosquitto the test
// is skipped, or failed under NIGHTLIGHT_REQUIRE_MOSQUITTO=1.
func Mosquitto(t testing.TB, opts ...MosquittoOption) Broker {
	t.Helper()
	cfg := mosquitto.Config{Dir: t.TempDir()}
	for _, o := range opts {
		o(&cfg)
	}
	b, err := mosquitto.Start(cfg)
	if errors.Is(err, mosquitto.ErrNotInstalled) {
		if os.Getenv("NIGHTLIGHT_REQUIRE_MOSQUITTO") == "1" {
			t.Fatalf("NIGHTLIGHT_REQUIRE_MOSQUITTO=1 but %v", err)
		}
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Stop)
	return &mosquittoBroker{t: t, b: b}
}

// mosquittoBroker is a mosquitto.Broker as a test's Broker: a failure to
// start again fails the test.
type mosquittoBroker struct {
	t testing.TB
	b *mosquitto.Broker
}

func (m *mosquittoBroker) URL() string { return m.b.URL() }
func (m *mosquittoBroker) Stop()       { m.b.Stop() }

func (m *mosquittoBroker) Start() {
	if err := m.b.Start(); err != nil {
		m.t.Fatal(err)
	}
}

// Client connects a plain paho client, as a test's stand-in for another
// program (the lesson's Python scripts speak exactly like this). It
// disconnects when the test ends.
func Client(t testing.TB, url, id string) paho.Client {
	t.Helper()
	return ClientWith(t, url, id, nil)
}

// ClientWith is Client with more options: o may carry a TLS configuration
// and credentials (its broker, client id and timeouts are set here).
func ClientWith(t testing.TB, url, id string, o *paho.ClientOptions) paho.Client {
	t.Helper()
	if o == nil {
		o = paho.NewClientOptions()
	}
	c := paho.NewClient(o.AddBroker(url).SetClientID(id).
		SetCleanSession(true).SetConnectTimeout(5 * time.Second))
	tok := c.Connect()
	if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("test client %s: connect to %s: %v", id, url, tok.Error())
	}
	t.Cleanup(func() { c.Disconnect(100) })
	return c
}

// Messages subscribes c to filter and returns a channel of what arrives.
func Messages(t testing.TB, c paho.Client, filter string) <-chan paho.Message {
	t.Helper()
	ch := make(chan paho.Message, 1024)
	tok := c.Subscribe(filter, 1, func(_ paho.Client, m paho.Message) {
		select {
		case ch <- m:
		default:
			t.Errorf("test subscriber on %s: buffer full, message dropped", filter)
		}
	})
	if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("subscribe %s: %v", filter, tok.Error())
	}
	return ch
}

// Publish sends payload on topic at QoS 1 and waits for the broker.
func Publish(t testing.TB, c paho.Client, topic string, payload []byte, retained bool) {
	t.Helper()
	tok := c.Publish(topic, 1, retained, payload)
	if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("publish %s: %v", topic, tok.Error())
	}
}
