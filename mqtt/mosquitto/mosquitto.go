// Package mosquitto starts private Mosquitto brokers, the reference broker,
// for the tests (through mqtt/mqtttest) and the benchmark harness: on a free
// loopback port, with no persistence, and, unless the configuration says
// otherwise, plaintext and anonymous access. A broker can be stopped and
// started again on the same port, to test reconnects.
package mosquitto

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Config is what a broker is started with.
type Config struct {
	Dir string // a private directory for its configuration and password files; required

	// TLS, when set, makes the listener speak TLS with the server
	// certificate and key in CertFile and KeyFile (PEM); CAFile is the CA
	// client certificates are checked against. URL then is ssl://.
	TLS *TLS

	// Users turns anonymous access off and lets each user in with its
	// password, from a password file made by mosquitto_passwd.
	Users []User

	// Extra lines for mosquitto.conf, such as "require_certificate true".
	Extra []string
}

// TLS are the files of a TLS listener.
type TLS struct{ CAFile, CertFile, KeyFile string }

// User is a username and its password.
type User struct{ Name, Password string }

// ErrNotInstalled means there is no mosquitto to start.
var ErrNotInstalled = errors.New("mosquitto is not installed (Debian: apt-get install mosquitto)")

// Path finds the mosquitto binary, which Debian puts in /usr/sbin, outside
// an ordinary user's PATH.
func Path() (string, error) {
	if p, err := exec.LookPath("mosquitto"); err == nil {
		return p, nil
	}
	if _, err := os.Stat("/usr/sbin/mosquitto"); err == nil {
		return "/usr/sbin/mosquitto", nil
	}
	return "", ErrNotInstalled
}

// Broker is a private Mosquitto.
type Broker struct {
	bin    string
	conf   string
	scheme string
	addr   string

	mu   sync.Mutex
	cmd  *exec.Cmd
	out  *tail
	done chan struct{} // closed when the process has exited
}

// Start writes the configuration into cfg.Dir and starts the broker on a
// free loopback port.
func Start(cfg Config) (*Broker, error) {
	bin, err := Path()
	if err != nil {
		return nil, err
	}
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	b := &Broker{bin: bin, scheme: "tcp", addr: addr, conf: filepath.Join(cfg.Dir, "mosquitto.conf")}
	if cfg.TLS != nil {
		b.scheme = "ssl"
	}
	lines, err := b.config(cfg)
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(b.conf, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		return nil, fmt.Errorf("mosquitto: write its configuration: %w", err)
	}
	return b, b.Start()
}

// config returns the lines of mosquitto.conf for cfg.
func (b *Broker) config(cfg Config) ([]string, error) {
	_, port, _ := net.SplitHostPort(b.addr)
	conf := []string{"listener " + port + " 127.0.0.1"}
	if os.Geteuid() == 0 {
		// Started as root, Mosquitto becomes user mosquitto before it reads
		// the TLS and password files, which are in a private directory.
		conf = append(conf, "user root")
	}
	if t := cfg.TLS; t != nil {
		conf = append(conf, "cafile "+t.CAFile, "certfile "+t.CertFile, "keyfile "+t.KeyFile)
	}
	if len(cfg.Users) > 0 {
		pw := filepath.Join(cfg.Dir, "passwords")
		for i, u := range cfg.Users {
			if err := writePassword(b.bin, pw, i == 0, u); err != nil {
				return nil, err
			}
		}
		conf = append(conf, "allow_anonymous false", "password_file "+pw)
	} else if !slices.ContainsFunc(cfg.Extra, func(l string) bool { return strings.HasPrefix(l, "allow_anonymous") }) {
		conf = append(conf, "allow_anonymous true")
	}
	conf = append(conf, "persistence false", "log_dest stderr", "log_type error", "log_type warning")
	return append(conf, cfg.Extra...), nil
}

// writePassword adds u to Mosquitto's password file with mosquitto_passwd,
// which comes with mosquitto; create starts a new file.
func writePassword(mosquittoBin, file string, create bool, u User) error {
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
		return fmt.Errorf("%w: mosquitto_passwd is missing", ErrNotInstalled)
	}
	args := []string{"-b", file, u.Name, u.Password}
	if create {
		args = append([]string{"-c"}, args...)
	}
	if out, err := exec.Command(bin, args...).CombinedOutput(); err != nil {
		return fmt.Errorf("mosquitto_passwd %s: %v\n%s", u.Name, err, out)
	}
	return nil
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// URL is the broker's address as a client's broker setting.
func (b *Broker) URL() string { return b.scheme + "://" + b.addr }

// Addr is its host:port.
func (b *Broker) Addr() string { return b.addr }

// Bin is the mosquitto binary it runs.
func (b *Broker) Bin() string { return b.bin }

// PID is the process id of the running broker; 0 while stopped.
func (b *Broker) PID() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.cmd == nil {
		return 0
	}
	return b.cmd.Process.Pid
}

// Start starts the broker again after Stop, on the same port; it does
// nothing while it runs. A port that lingers after a stop is retried for
// up to 10 s.
func (b *Broker) Start() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.cmd != nil {
		return nil
	}
	deadline := time.Now().Add(10 * time.Second)
	for attempt := 1; ; attempt++ {
		b.out = &tail{max: 64 << 10}
		b.cmd = exec.Command(b.bin, "-c", b.conf)
		b.cmd.Stdout, b.cmd.Stderr = b.out, b.out
		if err := b.cmd.Start(); err != nil {
			b.cmd = nil
			return fmt.Errorf("mosquitto: start: %w", err)
		}
		b.done = make(chan struct{})
		go func(c *exec.Cmd, done chan struct{}) { c.Wait(); close(done) }(b.cmd, b.done)
		if waitListening(b.addr, b.done, 5*time.Second) {
			return nil
		}
		b.cmd.Process.Kill()
		<-b.done
		b.cmd = nil
		if time.Now().After(deadline) {
			return fmt.Errorf("mosquitto did not start listening on %s (attempt %d): %s", b.addr, attempt, b.out)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Stop stops the broker (SIGTERM, then SIGKILL after 5 s); its clients see
// the connection drop.
func (b *Broker) Stop() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.cmd == nil {
		return
	}
	b.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-b.done:
	case <-time.After(5 * time.Second):
		b.cmd.Process.Kill()
		<-b.done
	}
	b.cmd = nil
}

// Output is the end of what the broker printed, for error messages.
func (b *Broker) Output() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.out == nil {
		return ""
	}
	return b.out.String()
}

// freeAddr returns a loopback address with a port nobody listens on now.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("mosquitto: find a free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().String(), nil
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

// tail keeps the last max bytes written to it; safe for concurrent use.
type tail struct {
	mu  sync.Mutex
	max int
	b   []byte
}

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if over := len(t.b) - t.max; over > 0 {
		t.b = t.b[over:]
	}
	return len(p), nil
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.b)
}
