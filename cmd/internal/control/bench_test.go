package control

import (
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"nightlight/mqtt/link"
	"nightlight/mqtt/link/linktest"
	"nightlight/mqtt/wire"
)

// BenchmarkServerReading is the server's own cost of one reading, from
// the connection's handler to the command handed to the connection (a
// fake: no broker, no network), one device of 1,000 after another, logging
// at info as shipped. go run ./cmd/dev/bench fleet measures the whole,
// broker included.
func BenchmarkServerReading(b *testing.B) {
	conn := linktest.New()
	srv, err := New(Config{Device: wire.AllDevices, Threshold: wire.DefaultThreshold,
		Logger: slog.New(slog.NewTextHandler(discard{}, nil))}, conn)
	if err != nil {
		b.Fatal(err)
	}
	conn.Connect()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	defer func() { cancel(); <-done }()
	topics := make([]string, 1000)
	for i := range topics {
		topics[i] = wire.Topic(fmt.Sprintf("d%04d", i), wire.KindTelemetry)
	}
	buf := make([]byte, 0, 64)
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		buf = wire.Telemetry{Light: i % 1001, Seq: uint64(i + 1), TS: time.Now()}.AppendJSON(buf[:0])
		conn.Deliver(link.Message{Topic: topics[i%len(topics)], Payload: buf})
		<-conn.Published()
	}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
