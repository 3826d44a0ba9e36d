package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// mosquitto is the private broker both systems talk through. It is started
// the way mqtt/mqtttest starts one for tests (which this dev tool does not
// import, to keep package testing out of it): a free loopback port, no
// persistence, anonymous access.
type mosquitto struct {
	bin  string
	addr string // 127.0.0.1:port
	proc *child
}

// mosquittoPath finds the binary, which Debian puts in /usr/sbin, outside an
// ordinary user's PATH.
func mosquittoPath() (string, error) {
	if p, err := exec.LookPath("mosquitto"); err == nil {
		return p, nil
	}
	if _, err := os.Stat("/usr/sbin/mosquitto"); err == nil {
		return "/usr/sbin/mosquitto", nil
	}
	return "", fmt.Errorf("mosquitto is not installed (Debian: apt-get install mosquitto)")
}

func startMosquitto(ctx context.Context, dir string) (*mosquitto, error) {
	bin, err := mosquittoPath()
	if err != nil {
		return nil, err
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		m, err := tryMosquitto(bin, dir)
		if err == nil || time.Now().After(deadline) {
			return m, err
		}
		// Another program may have taken the free port meanwhile.
		if err := sleep(ctx, 100*time.Millisecond); err != nil {
			return nil, err
		}
	}
}

func tryMosquitto(bin, dir string) (*mosquitto, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	_, port, _ := net.SplitHostPort(addr)
	conf := []string{"listener " + port + " 127.0.0.1", "allow_anonymous true", "persistence false",
		"log_dest stderr", "log_type error", "log_type warning"}
	if os.Geteuid() == 0 {
		conf = append(conf, "user root") // else it drops to user mosquitto, who may not read our directory
	}
	file := filepath.Join(dir, "mosquitto.conf")
	if err := os.WriteFile(file, []byte(strings.Join(conf, "\n")+"\n"), 0o644); err != nil {
		return nil, err
	}
	proc, err := startChild("mosquitto", []string{bin, "-c", file}, nil, 0)
	if err != nil {
		return nil, err
	}
	if !waitListening(addr, proc.done, 5*time.Second) {
		proc.stop()
		return nil, fmt.Errorf("mosquitto did not listen on %s: %s", addr, proc.output())
	}
	return &mosquitto{bin: bin, addr: addr, proc: proc}, nil
}

func (m *mosquitto) url() string { return "tcp://" + m.addr }

func (m *mosquitto) hostPort() (string, string) {
	h, p, _ := net.SplitHostPort(m.addr)
	return h, p
}

func (m *mosquitto) stop() { m.proc.stop() }

// freeAddr returns a loopback address with a port nobody listens on now.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// waitListening reports whether addr accepts connections before the
// timeout, or before the process exits.
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
