package mqtttest

import (
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// Proxy forwards TCP connections to a broker, so a test can cut one
// client's way to the broker while the broker and its other clients stay up:
// Down is a broker that is gone (connections reset, new ones refused),
// Freeze a network that silently stops passing packets (no FIN, no RST).
type Proxy struct {
	t      testing.TB
	addr   string
	target string

	mu     sync.Mutex
	ln     net.Listener
	conns  map[net.Conn]bool
	frozen bool
	thaw   chan struct{} // closed when a freeze ends
	wg     sync.WaitGroup
}

// NewProxy listens on a free loopback port and forwards to the broker at
// brokerURL; it stops when the test ends.
func NewProxy(t testing.TB, brokerURL string) *Proxy {
	p := &Proxy{t: t, addr: FreeAddr(t), target: strings.TrimPrefix(brokerURL, "tcp://"),
		conns: map[net.Conn]bool{}, thaw: make(chan struct{})}
	p.Up()
	t.Cleanup(func() {
		p.Thaw() // a frozen pipe would wait forever
		p.Down()
		p.wg.Wait()
	})
	return p
}

// URL is the address clients use instead of the broker's.
func (p *Proxy) URL() string { return "tcp://" + p.addr }

// Up starts accepting and forwarding again.
func (p *Proxy) Up() {
	p.mu.Lock()
	up := p.ln != nil
	p.mu.Unlock()
	if up {
		return
	}
	// Listen without the lock: the port may take a moment to be free, and
	// the pipes must not wait for it.
	var ln net.Listener
	var err error
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if ln, err = net.Listen("tcp", p.addr); err == nil || time.Now().After(deadline) {
			break
		}
	}
	if err != nil {
		p.t.Fatalf("proxy: %v", err)
	}
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	p.wg.Add(1)
	go p.accept(ln)
}

// Down closes the listener and every forwarded connection.
func (p *Proxy) Down() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln == nil {
		return
	}
	p.ln.Close()
	p.ln = nil
	for c := range p.conns {
		c.Close()
	}
}

// Freeze stops forwarding bytes in both directions without closing
// anything; Thaw resumes.
func (p *Proxy) Freeze() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.frozen {
		p.frozen = true
		p.thaw = make(chan struct{})
	}
}

// Thaw ends a Freeze.
func (p *Proxy) Thaw() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.frozen {
		p.frozen = false
		close(p.thaw)
	}
}

func (p *Proxy) accept(ln net.Listener) {
	defer p.wg.Done()
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		b, err := net.DialTimeout("tcp", p.target, 5*time.Second)
		if err != nil {
			c.Close()
			continue
		}
		p.mu.Lock()
		if p.ln != ln { // Down came while we dialled: this one is gone too
			p.mu.Unlock()
			c.Close()
			b.Close()
			continue
		}
		p.conns[c], p.conns[b] = true, true
		p.mu.Unlock()
		p.wg.Add(2)
		go p.pipe(c, b)
		go p.pipe(b, c)
	}
}

// pipe copies from src to dst, waiting out freezes; it closes both ends when
// either fails.
func (p *Proxy) pipe(dst, src net.Conn) {
	defer p.wg.Done()
	defer func() {
		dst.Close()
		src.Close()
		p.mu.Lock()
		delete(p.conns, dst)
		delete(p.conns, src)
		p.mu.Unlock()
	}()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			p.mu.Lock()
			frozen, thaw := p.frozen, p.thaw
			p.mu.Unlock()
			if frozen {
				<-thaw // hold the bytes, as a dead link would
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return // EOF or a closed connection: either way the pipe is done
		}
	}
}
