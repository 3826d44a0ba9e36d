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
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"nightlight/mqtt/broker"
)

// Broker is a broker under a test's control.
type Broker interface {
	URL() string
	Stop()  // stops the broker; its clients see the connection drop
	Start() // starts it again on the same port
}

// ForEach runs f as a subtest against every broker: "embedded" and
// "mosquitto".
func ForEach(t *testing.T, f func(t *testing.T, b Broker)) {
	t.Run("embedded", func(t *testing.T) { f(t, Embedded(t)) })
	t.Run("mosquitto", func(t *testing.T) { f(t, Mosquitto(t)) })
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

type mosquitto struct {
	t      testing.TB
	bin    string
	conf   string
	scheme string
	addr   string
	mu     sync.Mutex
	cmd    *exec.Cmd
	out    *bytes.Buffer
}

// MosquittoPath finds the mosquitto binary, which Debian puts in /usr/sbin,
// outside an ordinary user's PATH.
func MosquittoPath() (string, error) {
	if p, err := exec.LookPath("mosquitto"); err == nil {
		return p, nil
	}
	if _, err := os.Stat("/usr/sbin/mosquitto"); err == nil {
		return "/usr/sbin/mosquitto", nil
	}
	return "", fmt.Errorf("mosquitto is not installed (Debian: apt-get install mosquitto)")
}

// MosquittoOption changes the configuration of a Mosquitto a test starts.
type MosquittoOption func(*mosquittoConf)

type mosquittoConf struct {
	scheme   string   // of URL: tcp or ssl
	listener []string // lines that configure the listener (TLS files)
	users    [][2]string
	extra    []string
}

// WithTLS makes the listener speak TLS with the server certificate and key
// in certFile and keyFile (PEM); caFile is the CA Mosquitto checks client
// certificates against. URL then returns an ssl:// URL.
func WithTLS(caFile, certFile, keyFile string) MosquittoOption {
	return func(c *mosquittoConf) {
		c.scheme = "ssl"
		c.listener = append(c.listener, "cafile "+caFile, "certfile "+certFile, "keyfile "+keyFile)
	}
}

// WithUser turns anonymous access off and lets user in with password, from
// a password file made by mosquitto_passwd.
func WithUser(user, password string) MosquittoOption {
	return func(c *mosquittoConf) { c.users = append(c.users, [2]string{user, password}) }
}

// WithConfig adds lines to mosquitto.conf, such as "require_certificate true".
func WithConfig(lines ...string) MosquittoOption {
	return func(c *mosquittoConf) { c.extra = append(c.extra, lines...) }
}

// Mosquitto starts a private Mosquitto on a free loopback port, with no
// persistence and, unless options say otherwise, plaintext and anonymous
// access; it stops when the test ends. Without mosquitto the test is
// skipped, or failed under NIGHTLIGHT_REQUIRE_MOSQUITTO=1.
func Mosquitto(t testing.TB, opts ...MosquittoOption) Broker {
	t.Helper()
	bin, err := MosquittoPath()
	if err != nil {
		missingMosquitto(t, err)
	}
	c := mosquittoConf{scheme: "tcp"}
	for _, o := range opts {
		o(&c)
	}
	dir := t.TempDir()
	m := &mosquitto{t: t, bin: bin, scheme: c.scheme, addr: FreeAddr(t)}
	_, port, _ := net.SplitHostPort(m.addr)
	m.conf = filepath.Join(dir, "mosquitto.conf")
	conf := []string{"listener " + port + " 127.0.0.1"}
	if os.Geteuid() == 0 {
		// Started as root, Mosquitto becomes user mosquitto before it reads
		// the TLS and password files, which are in the test's private
		// temporary directory.
		conf = append(conf, "user root")
	}
	conf = append(conf, c.listener...)
	if len(c.users) > 0 {
		pw := filepath.Join(dir, "passwords")
		for i, u := range c.users {
			writePassword(t, bin, pw, i == 0, u[0], u[1])
		}
		conf = append(conf, "allow_anonymous false", "password_file "+pw)
	} else if !slices.ContainsFunc(c.extra, func(l string) bool { return strings.HasPrefix(l, "allow_anonymous") }) {
		conf = append(conf, "allow_anonymous true")
	}
	conf = append(conf, "persistence false", "log_dest stderr", "log_type error", "log_type warning")
	conf = append(conf, c.extra...)
	if err := os.WriteFile(m.conf, []byte(strings.Join(conf, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	m.Start()
	t.Cleanup(m.Stop)
	return m
}

func missingMosquitto(t testing.TB, err error) {
	t.Helper()
	if os.Getenv("NIGHTLIGHT_REQUIRE_MOSQUITTO") == "1" {
		t.Fatalf("NIGHTLIGHT_REQUIRE_MOSQUITTO=1 but %v", err)
	}
	t.Skip(err)
}

// writePassword adds user to Mosquitto's password file with
// mosquitto_passwd, which comes with mosquitto; create starts a new file.
func writePassword(t testing.TB, mosquittoBin, file string, create bool, user, password string) {
	t.Helper()
	bin, err := exec.LookPath("mosquitto_passwd")
	if err != nil {
		// Debian puts it in /usr/bin next to the clients, mosquitto in /usr/sbin.
		for _, dir := range []string{filepath.Dir(mosquittoBin), "/usr/bin"} {
			if p := filepath.Join(dir, "mosquitto_passwd"); fileExists(p) {
				bin, err = p, nil
				break
			}
		}
	}
	if err != nil {
		missingMosquitto(t, fmt.Errorf("mosquitto_passwd is not installed (Debian: apt-get install mosquitto)"))
	}
	args := []string{"-b", file, user, password}
	if create {
		args = append([]string{"-c"}, args...)
	}
	if out, err := exec.Command(bin, args...).CombinedOutput(); err != nil {
		t.Fatalf("mosquitto_passwd %s: %v\n%s", user, err, out)
	}
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

func (m *mosquitto) URL() string { return m.scheme + "://" + m.addr }

func (m *mosquitto) Start() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.cmd != nil {
		return
	}
	deadline := time.Now().Add(10 * time.Second)
	for attempt := 1; ; attempt++ {
		m.out = new(bytes.Buffer)
		m.cmd = exec.Command(m.bin, "-c", m.conf)
		m.cmd.Stdout, m.cmd.Stderr = m.out, m.out
		if err := m.cmd.Start(); err != nil {
			m.t.Fatalf("start mosquitto: %v", err)
		}
		exited := make(chan struct{})
		go func(c *exec.Cmd) { c.Wait(); close(exited) }(m.cmd)
		if waitListening(m.addr, exited, 5*time.Second) {
			return
		}
		m.cmd.Process.Kill()
		<-exited
		m.cmd = nil
		if time.Now().After(deadline) {
			m.t.Fatalf("mosquitto did not start listening on %s (attempt %d): %s", m.addr, attempt, m.out)
		}
		time.Sleep(100 * time.Millisecond) // the port may linger after a stop
	}
}

func (m *mosquitto) Stop() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.cmd == nil {
		return
	}
	m.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { m.cmd.Process.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		m.cmd.Process.Kill()
		<-done
	}
	m.cmd = nil
}

// waitListening reports whether addr accepts connections before the timeout
// or before the process exits.
func waitListening(addr string, exited <-chan struct{}, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return false
		default:
		}
		if c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond); err == nil {
			c.Close()
			return true
		}
		time.Sleep(20 * time.Millisecond)
	}
	return false
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
