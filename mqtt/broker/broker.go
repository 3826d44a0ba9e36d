// Package broker runs an embedded MQTT broker (mochi-mqtt) for the demo and
// the tests. It is a small seam on purpose: mochi's maintenance is uncertain,
// and Mosquitto remains the reference broker for real deployments.
package broker

import (
	"fmt"
	"log/slog"

	mochi "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/hooks/auth"
)

// Broker is a running embedded broker that accepts anonymous clients.
type Broker struct {
	srv  *mochi.Server
	addr string
}

// Start listens on addr ("127.0.0.1:0" picks a free port) and serves until
// Close. logger may be nil.
func Start(addr string, logger *slog.Logger) (*Broker, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	srv := mochi.New(&mochi.Options{InlineClient: false, Logger: logger})
	if err := srv.AddHook(new(auth.AllowHook), nil); err != nil {
		return nil, fmt.Errorf("broker: %w", err)
	}
	tcp, err := listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("broker: listen on %s: %w (is another broker using the port?)", addr, err)
	}
	if err := srv.AddListener(tcp); err != nil {
		tcp.Close(nil)
		return nil, fmt.Errorf("broker: %w", err)
	}
	if err := srv.Serve(); err != nil {
		srv.Close()
		return nil, fmt.Errorf("broker: %w", err)
	}
	return &Broker{srv: srv, addr: tcp.Address()}, nil
}

// Addr is the host:port the broker listens on.
func (b *Broker) Addr() string { return b.addr }

// URL is the broker's address as a client's broker setting.
func (b *Broker) URL() string { return "tcp://" + b.addr }

// Close stops listening, closes every client's connection, and stops.
func (b *Broker) Close() error { return b.srv.Close() }
