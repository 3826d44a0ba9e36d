package link

import (
	"strings"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/eclipse/paho.mqtt.golang/packets"
)

// noResendStore is paho's memory store, except that it does not offer paho
// our publishes to resend after a reconnect (paho's resume, the only caller
// of All with a clean session).
//
// They need no resend from paho: a reading is acknowledged in the outbox
// only on a PUBACK on the connection it went out on, and the device resends
// every other one itself, in seq order, after each reconnect. And paho's
// resend is unsafe: it marks each stored publish as a duplicate while the
// same packet may be going out on the new connection, handed over by a
// Publish call that was waiting for it, and the connection's writer writes
// into the packet as it sends it: a data race in paho (its issue #703),
// which the race detector reports and which could send a torn header.
//
// What this costs: a publish written on a connection that died before its
// PUBACK keeps its message id until the process ends (paho frees an id only
// on its PUBACK, and completes such tokens only on a final disconnect). That
// is at most the send window per connection lost with readings in flight,
// out of 65,535 ids.
type noResendStore struct {
	*paho.MemoryStore
}

func newNoResendStore() noResendStore { return noResendStore{paho.NewMemoryStore()} }

// outbound is paho's prefix of the keys of packets it sends.
const outbound = "o."

// All lists the stored packets other than outbound publishes.
func (s noResendStore) All() []string {
	keys := s.MemoryStore.All()
	kept := keys[:0]
	for _, k := range keys {
		if _, pub := s.MemoryStore.Get(k).(*packets.PublishPacket); pub && strings.HasPrefix(k, outbound) {
			continue
		}
		kept = append(kept, k)
	}
	return kept
}
