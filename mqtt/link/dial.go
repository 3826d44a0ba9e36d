package link

import (
	"bufio"
	"context"
	"crypto/tls"
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
func dial(u *url.URL, o paho.ClientOptions) (net.Conn, error) {
	d := o.Dialer
	if d == nil {
		d = &net.Dialer{Timeout: o.ConnectTimeout}
	}
	c, err := proxy.FromEnvironmentUsing(d).Dial("tcp", u.Host)
	if err != nil {
		return nil, err
	}
	c = newAckingConn(c)
	switch u.Scheme {
	case "ssl", "tls", "mqtts":
		cfg := &tls.Config{}
		if o.TLSConfig != nil {
			cfg = o.TLSConfig.Clone()
		}
		if cfg.ServerName == "" {
			cfg.ServerName = u.Hostname()
		}
		tc := tls.Client(c, cfg)
		ctx, cancel := context.WithTimeout(context.Background(), o.ConnectTimeout)
		defer cancel()
		if err := tc.HandshakeContext(ctx); err != nil {
			c.Close()
			return nil, err
		}
		return tc, nil
	}
	return c, nil
}

// ackingConn reads through a buffer, and after every read from the socket
// asks the kernel to acknowledge at once (TCP_QUICKACK, which Linux forgets
// again by itself, hence once per read). The buffer turns paho's reads of a
// byte or two at a time into one read per burst of packets, so the extra
// call still leaves fewer system calls than before.
// quickAcks is off only in the benchmark that shows what it is for.
var quickAcks = true

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
