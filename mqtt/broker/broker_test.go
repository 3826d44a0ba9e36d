package broker

import (
	"fmt"
	"net"
	"sync"
	"testing"
	"time"
)

// churn connects and disconnects clean-session clients to addr until stop
// closes: each one leaving makes the broker delete it from its client list,
// under that list's write lock.
func churn(addr string, stop <-chan struct{}, wg *sync.WaitGroup, worker int) {
	defer wg.Done()
	for k := 0; ; k++ {
		select {
		case <-stop:
			return
		default:
		}
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			return // the listener is closed
		}
		id := fmt.Sprintf("churn-%d-%d", worker, k)
		body := append([]byte{0, 4, 'M', 'Q', 'T', 'T', 4, 2, 0, 60, 0, byte(len(id))}, id...)
		_ = c.SetDeadline(time.Now().Add(time.Second))
		_, _ = c.Write(append([]byte{0x10, byte(len(body))}, body...)) // CONNECT
		_, _ = c.Read(make([]byte, 4))                                 // CONNACK
		_, _ = c.Write([]byte{0xe0, 0})                                // DISCONNECT
		_ = c.Close()
	}
}

// closes runs Close and fails the test if it has not returned within a
// minute.
func closes(t *testing.T, b *Broker, what string) {
	t.Helper()
	closed := make(chan error, 1)
	go func() { closed <- b.Close() }()
	select {
	case err := <-closed:
		if err != nil {
			t.Fatalf("%s: Close: %v", what, err)
		}
	case <-time.After(time.Minute):
		t.Fatalf("%s: Close did not return within a minute", what)
	}
	l, err := net.Listen("tcp", b.Addr())
	if err != nil {
		t.Fatalf("%s: the port is still taken after Close: %v", what, err)
	}
	l.Close()
}

// TestCloseWithASilentConnection: a peer that connects and never sends
// CONNECT (a port scan, a health check) does not hold the broker open.
func TestCloseWithASilentConnection(t *testing.T) {
	b, err := Start("127.0.0.1:0", nil)
	if err != nil {
		t.Fatal(err)
	}
	c, err := net.Dial("tcp", b.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	closes(t, b, "a silent connection open")
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if n, err := c.Read(make([]byte, 1)); err == nil {
		t.Fatalf("the silent connection is still open after Close (read %d bytes)", n)
	}
}

// TestCloseWhileClientsLeave closes brokers while clients come and go, and
// shows every Close returns, with the port then free.
func TestCloseWhileClientsLeave(t *testing.T) {
	for round := range 20 {
		b, err := Start("127.0.0.1:0", nil)
		if err != nil {
			t.Fatal(err)
		}
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for w := range 4 {
			wg.Add(1)
			go churn(b.Addr(), stop, &wg, w)
		}
		time.Sleep(10 * time.Millisecond)
		closes(t, b, fmt.Sprintf("round %d", round))
		close(stop)
		wg.Wait()
	}
}
