package link

import (
	"errors"
	"strings"
	"testing"
	"time"

	"nightlight/mqtt/mqtttest"
)

func TestCheckBroker(t *testing.T) {
	for _, ok := range []string{"tcp://127.0.0.1:1883", "ssl://broker.example:8883", "mqtt://h:1"} {
		if err := CheckBroker(ok); err != nil {
			t.Errorf("CheckBroker(%q) = %v", ok, err)
		}
	}
	for bad, says := range map[string]string{
		"127.0.0.1:1883":        "tcp://host:1883",
		"http://127.0.0.1:1883": `scheme "http"`,
		"tcp://127.0.0.1":       "no port",
		"":                      "not a URL",
	} {
		err := CheckBroker(bad)
		if err == nil || !strings.Contains(err.Error(), says) {
			t.Errorf("CheckBroker(%q) = %v, want it to say %q", bad, err, says)
		}
	}
}

// TestResubscribeAfterRestart: the subscription and the birth message come
// back by themselves after the broker restarts.
func TestResubscribeAfterRestart(t *testing.T) {
	mqtttest.ForEach(t, func(t *testing.T, b mqtttest.Broker) {
		got := make(chan Message, 16)
		connects := make(chan struct{}, 16)
		l, err := New(Options{
			Broker:     b.URL(),
			ClientID:   "resub",
			Timeout:    2 * time.Second,
			MaxBackoff: 500 * time.Millisecond,
			Birth:      &Message{Topic: "resub/status", Payload: []byte("online"), Retained: true},
		})
		if err != nil {
			t.Fatal(err)
		}
		l.Subscribe("resub/in", func(m Message) { got <- m })
		l.OnConnect(func() { connects <- struct{}{} })
		if err := l.PublishWait(Message{Topic: "resub/x", Payload: []byte("early")}); !errors.Is(err, ErrNotConnected) {
			t.Fatalf("publish before Start = %v, want ErrNotConnected", err)
		}
		l.Start()
		defer l.Close()
		for round := 1; round <= 2; round++ {
			select {
			case <-connects:
			case <-time.After(15 * time.Second):
				t.Fatalf("round %d: no connect", round)
			}
			c := mqtttest.Client(t, b.URL(), "sender")
			status := mqtttest.Messages(t, c, "resub/status")
			select {
			case m := <-status:
				if string(m.Payload()) != "online" || !m.Retained() {
					t.Fatalf("round %d: status %q retained=%v", round, m.Payload(), m.Retained())
				}
			case <-time.After(5 * time.Second):
				t.Fatalf("round %d: no retained birth message", round)
			}
			mqtttest.Publish(t, c, "resub/in", []byte("hello"), false)
			select {
			case m := <-got:
				if string(m.Payload) != "hello" {
					t.Fatalf("round %d: got %q", round, m.Payload)
				}
			case <-time.After(5 * time.Second):
				t.Fatalf("round %d: subscription not (re)stored", round)
			}
			if err := l.PublishWait(Message{Topic: "resub/out", Payload: []byte("x")}); err != nil {
				t.Fatalf("round %d: publish: %v", round, err)
			}
			c.Disconnect(50)
			if round == 1 {
				b.Stop()
				b.Start()
			}
		}
	})
}
