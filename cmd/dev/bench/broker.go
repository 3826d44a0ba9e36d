package main

import (
	"net"

	"nightlight/mqtt/mosquitto"
)

// broker is the private Mosquitto both systems talk through, started as the
// tests start theirs (mqtt/mosquitto): a free loopback port, no
// persistence, anonymous access.
type broker struct{ *mosquitto.Broker }

func startBroker(dir string) (broker, error) {
	b, err := mosquitto.Start(mosquitto.Config{Dir: dir})
	return broker{b}, err
}

// hostPort splits the broker's address, for the lesson's programs, which
// take a host and a port.
func (b broker) hostPort() (string, string) {
	h, p, _ := net.SplitHostPort(b.Addr())
	return h, p
}
