package broker

import (
	"fmt"
	"log/slog"
	"net"
	"sync"

	"github.com/mochi-mqtt/server/v2/listeners"
)

// tcpListener is the broker's TCP listener. It takes the place of mochi's
// own (listeners.TCP) because, in mochi v2.7.9, closing that one can hang
// the caller for good, three ways:
//
//   - it lists the clients to disconnect with Clients.GetByListener, which
//     takes the clients' read lock and then, inside, again: a client leaving
//     in between queues for the write lock, and the two wait for each other;
//   - a connection that never sends CONNECT is not on that list, and
//     Server.Close waits for it as long as the peer keeps it open;
//   - a connection accepted just before is still starting when Server.Close
//     waits for the clients (a WaitGroup Add racing its Wait).
//
// This one owns its connections: Close stops accepting, closes every
// connection it accepted, and waits until each one's establish call has
// returned. Server.Close, after that, has nothing left to wait for.
type tcpListener struct {
	id  string
	ln  net.Listener
	log *slog.Logger

	mu      sync.Mutex
	closed  bool
	conns   map[net.Conn]struct{}
	serving sync.WaitGroup // one per accepted connection, until establish returns
}

var _ listeners.Listener = (*tcpListener)(nil)

// listen opens addr; the broker's AddListener then calls Init and Serve.
func listen(id, addr string) (*tcpListener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	return &tcpListener{id: id, ln: ln, log: slog.New(slog.DiscardHandler), conns: map[net.Conn]struct{}{}}, nil
}

func (l *tcpListener) ID() string       { return l.id }
func (l *tcpListener) Address() string  { return l.ln.Addr().String() }
func (l *tcpListener) Protocol() string { return "tcp" }

func (l *tcpListener) Init(log *slog.Logger) error {
	l.log = log
	return nil
}

// Serve accepts connections until Close and hands each to establish, which
// serves the client until it leaves.
func (l *tcpListener) Serve(establish listeners.EstablishFn) {
	for {
		conn, err := l.ln.Accept()
		if err != nil {
			return // closed
		}
		if !l.track(conn) {
			_ = conn.Close()
			return
		}
		go func() {
			defer l.serving.Done()
			defer l.untrack(conn)
			if err := establish(l.id, conn); err != nil {
				l.log.Debug("client connection ended", "listener", l.id, "remote", conn.RemoteAddr(), "error", err)
			}
		}()
	}
}

func (l *tcpListener) track(conn net.Conn) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return false
	}
	l.conns[conn] = struct{}{}
	l.serving.Add(1)
	return true
}

func (l *tcpListener) untrack(conn net.Conn) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.conns, conn)
}

// Close stops accepting, closes every connection and waits for their
// establish calls to return. mochi's closer is not called: it is the listing
// that can deadlock, and the connections are closed here already. Calling
// Close again does nothing.
func (l *tcpListener) Close(listeners.CloseFn) {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return
	}
	l.closed = true
	err := l.ln.Close()
	for conn := range l.conns {
		_ = conn.Close()
	}
	l.mu.Unlock()
	if err != nil {
		l.log.Debug("closing the listener", "listener", l.id, "error", fmt.Errorf("close %s: %w", l.Address(), err))
	}
	l.serving.Wait()
}
