package link

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/url"
	"syscall"

	paho "github.com/eclipse/paho.mqtt.golang"
	"golang.org/x/net/proxy"
)

// dial opens the connection paho speaks MQTT over: TCP (through a proxy the
// environment names, as paho's own dialer does), TLS on top for ssl://.
//
// It is paho's dialer but for one thing: the TCP connection acknowledges
// what it reads at once (see ackingConn). Mosquitto leaves Nagle's algorithm
// on by default, so after it sends us a small packet (the PUBACK of a
// reading) it holds the next one (the server's command) until we ACK the
// first; a Linux receiver delays that ACK up to 40 ms, and the command waited
// that long on every reading.
//
// One ConnectTimeout bounds the dial, a proxy's negotiation and the TLS
// handshake together, as paho's tls.DialWithDialer does.
func dial(u *url.URL, o paho.ClientOptions) (net.Conn, error) {
	secure := false
	switch u.Scheme {
	case "tcp", "mqtt":
	case "ssl", "tls", "mqtts":
		secure = true
	default:
		return nil, fmt.Errorf("scheme %q is not supported: use tcp:// or ssl://", u.Scheme)
	}
	ctx := context.Background()
	if o.ConnectTimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, o.ConnectTimeout)
		defer cancel()
	}
	d := o.Dialer
	if d == nil {
		d = &net.Dialer{}
	}
	var c net.Conn
	var err error
	switch pd := proxy.FromEnvironmentUsing(d).(type) {
	case proxy.ContextDialer:
		c, err = pd.DialContext(ctx, "tcp", u.Host)
	default:
		c, err = pd.Dial("tcp", u.Host)
	}
	if err != nil {
		return nil, err
	}
	c = newAckingConn(c)
	if !secure {
		return c, nil
	}
	cfg := &tls.Config{}
	if o.TLSConfig != nil {
		cfg = o.TLSConfig.Clone()
	}
	if cfg.ServerName == "" {
		cfg.ServerName = u.Hostname()
	}
	tc := tls.Client(c, cfg)
	if err := tc.HandshakeContext(ctx); err != nil {
		c.Close()
		return nil, err
	}
	return tc, nil
}

// quickAcks is off only in the benchmark that shows what it is for.
var quickAcks = true

// ackingConn reads through a buffer, and after every read from the socket
// asks the kernel to acknowledge at once (TCP_QUICKACK, which Linux forgets
// again by itself, hence once per read). The buffer turns paho's reads of a
// byte or two at a time into one read per burst of packets, so the extra
// call still leaves fewer system calls than before. A connection through a
// SOCKS proxy has no socket of ours to set, and is left as it is.
type ackingConn struct {
	net.Conn
	r *bufio.Reader
}

func newAckingConn(c net.Conn) net.Conn {
	if !quickAcks {
		return c
	}
	sc, ok := c.(interface {
		SyscallConn() (syscall.RawConn, error)
	})
	if !ok {
		return c // a proxy's connection: leave it as it is
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return c
	}
	return &ackingConn{Conn: c, r: bufio.NewReaderSize(quickAckReader{c, raw}, 4096)}
}

func (c *ackingConn) Read(p []byte) (int, error) { return c.r.Read(p) }

type quickAckReader struct {
	c   net.Conn
	raw syscall.RawConn
}

func (q quickAckReader) Read(p []byte) (int, error) {
	n, err := q.c.Read(p)
	if n > 0 {
		quickAck(q.raw)
	}
	return n, err
}
