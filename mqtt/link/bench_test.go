package link

import (
	"strconv"
	"testing"
	"time"

	"nightlight/mqtt/mqtttest"
)

// BenchmarkReply is a reading's round trip through Mosquitto as the device
// sees it: publish a reading (QoS 1), a server (a Link too, as in
// nightlight-server) answers with a command (QoS 1), the command arrives. Mosquitto sends the reading's PUBACK and then
// the command; with Nagle's algorithm on (its default) the command waits for
// our ACK of the PUBACK, and so does the next reading to the server. "acking"
// is the link as it is; "delayed-acks" leaves the ACKs to the kernel, which
// delays them up to 40 ms.
func BenchmarkReply(b *testing.B) {
	m := mqtttest.Mosquitto(b)
	for _, mode := range []struct {
		name  string
		quick bool
	}{{"acking", true}, {"delayed-acks", false}} {
		b.Run(mode.name, func(b *testing.B) {
			defer func(old bool) { quickAcks = old }(quickAcks)
			quickAcks = mode.quick
			id := "reply-" + mode.name
			var server *Link
			server = start(b, Options{Broker: m.URL(), ClientID: id + "-server"}, id+"/telemetry",
				func(msg Message) { server.Publish(Message{Topic: id + "/commands", Payload: msg.Payload}) })
			got := make(chan string, 1)
			l := start(b, Options{Broker: m.URL(), ClientID: id}, id+"/commands",
				func(msg Message) { got <- string(msg.Payload) })
			b.ResetTimer()
			for i := range b.N {
				want := strconv.Itoa(i)
				l.Publish(Message{Topic: id + "/telemetry", Payload: []byte(want)})
				select {
				case p := <-got:
					if p != want {
						b.Fatalf("command %q, want %q", p, want)
					}
				case <-time.After(5 * time.Second):
					b.Fatalf("no command for reading %d", i)
				}
			}
		})
	}
}

// start starts a link subscribed to filter and waits until it is
// connected; it closes when the benchmark ends.
func start(b *testing.B, o Options, filter string, h Handler) *Link {
	b.Helper()
	l, err := New(o)
	if err != nil {
		b.Fatal(err)
	}
	connected := make(chan struct{}, 1)
	l.OnConnect(func() {
		select {
		case connected <- struct{}{}:
		default:
		}
	})
	l.Subscribe(filter, h)
	l.Start()
	b.Cleanup(l.Close)
	select {
	case <-connected:
	case <-time.After(10 * time.Second):
		b.Fatalf("%s did not connect", o.ClientID)
	}
	return l
}
