package link

import (
	"io"
	"net"
	"net/url"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
)

// TestDialReads: the connection paho gets for tcp:// is the acking one, and
// paho's way of reading (a byte, then a length, then the rest) gets every
// byte in order through its buffer, across the peer's separate writes.
func TestDialReads(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	want := []byte("\x30\x05hello\x30\x05world")
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		for _, part := range [][]byte{want[:3], want[3:9], want[9:]} {
			c.Write(part)
			time.Sleep(10 * time.Millisecond)
		}
	}()
	o := paho.NewClientOptions().SetConnectTimeout(5 * time.Second)
	c, err := dial(&url.URL{Scheme: "tcp", Host: ln.Addr().String()}, *o)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, ok := c.(*ackingConn); !ok {
		t.Fatalf("dial returned a %T, want *ackingConn", c)
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	var got []byte
	for len(got) < len(want) {
		n := 1
		if len(got)%7 == 2 {
			n = 5 // the rest of a packet
		}
		b := make([]byte, n)
		if _, err := io.ReadFull(c, b); err != nil {
			t.Fatalf("after %q: %v", got, err)
		}
		got = append(got, b...)
	}
	if string(got) != string(want) {
		t.Fatalf("read %q, want %q", got, want)
	}
}
