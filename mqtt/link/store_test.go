package link

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eclipse/paho.mqtt.golang/packets"

	"nightlight/mqtt/mqtttest"
)

// TestNoResendStore: paho's resume finds nothing of our publishes to
// resend, and the rest as it is.
func TestNoResendStore(t *testing.T) {
	s := newNoResendStore()
	s.Open()
	defer s.Close()
	pub := packets.NewControlPacket(packets.Publish).(*packets.PublishPacket)
	pub.Qos, pub.MessageID = 1, 7
	s.Put("o.7", pub)
	sub := packets.NewControlPacket(packets.Subscribe).(*packets.SubscribePacket)
	sub.MessageID = 8
	s.Put("o.8", sub)
	in := packets.NewControlPacket(packets.Publish).(*packets.PublishPacket)
	in.Qos, in.MessageID = 2, 9
	s.Put("i.9", in)
	keys := s.All()
	slices.Sort(keys)
	if !slices.Equal(keys, []string{"i.9", "o.8"}) {
		t.Fatalf("All() = %v, want [i.9 o.8]: everything but outbound publishes", keys)
	}
	if s.Get("o.7") != pub {
		t.Fatal("the publish is hidden from resume, not from Get")
	}
	s.Del("o.7")
	if s.Get("o.7") != nil {
		t.Fatal("Del did not delete")
	}
}

// TestPublishThroughRestarts publishes without pause while the broker is
// stopped and started under the link, which runs paho's resume each time.
// With -race it caught paho's resend marking as duplicate a packet that the
// connection's writer was sending (paho issue #703).
func TestPublishThroughRestarts(t *testing.T) {
	b := mqtttest.Embedded(t)
	var connects atomic.Int64
	l, err := New(Options{
		Broker:     b.URL(),
		ClientID:   "restarts",
		Timeout:    2 * time.Second,
		MaxBackoff: 200 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	l.OnConnect(func() { connects.Add(1) })
	l.Start()
	defer l.Close()

	stop := make(chan struct{})
	var wg sync.WaitGroup
	var confirmed atomic.Int64
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				if l.Publish(Message{Topic: "restarts/x", Payload: []byte("x")}).Wait(context.Background()) == nil {
					confirmed.Add(1)
				} else {
					time.Sleep(time.Millisecond)
				}
			}
		}()
	}
	deadline := time.Now().Add(30 * time.Second)
	for round := int64(1); round <= 5; round++ {
		for connects.Load() < round {
			if time.Now().After(deadline) {
				close(stop)
				wg.Wait()
				t.Fatalf("round %d: no connection within 30s", round)
			}
			time.Sleep(5 * time.Millisecond)
		}
		time.Sleep(50 * time.Millisecond) // publishes in flight
		b.Stop()
		b.Start()
	}
	for connects.Load() < 6 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	close(stop)
	wg.Wait()
	if confirmed.Load() == 0 {
		t.Fatal("no publish was confirmed")
	}
}
