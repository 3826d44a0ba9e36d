package outbox_test

import (
	"fmt"
	"log"
	"os"

	"nightlight/mqtt/outbox"
)

// Example shows the two sides: the sampler appends every reading, and the
// publisher, after each (re)connect, rewinds and publishes what Next returns,
// acknowledging each record when the broker's PUBACK for it arrives.
func Example() {
	dir, err := os.MkdirTemp("", "outbox-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	ob, err := outbox.Open(dir, outbox.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer ob.Close()

	for _, light := range []int{412, 415, 409} {
		seq := ob.NextSeq()
		if err := ob.Append(seq, fmt.Appendf(nil, `{"light":%d,"seq":%d}`, light, seq)); err != nil {
			log.Print(err) // the reading is lost; the outbox is unchanged
		}
	}

	ob.Rewind() // connected
	recs, err := ob.Next(100)
	if err != nil {
		log.Fatal(err)
	}
	for _, r := range recs {
		fmt.Printf("publish %d %s\n", r.Seq, r.Payload)
		if r.Seq != 2 { // no PUBACK for 2 before the connection drops
			ob.Ack(r.Seq)
		}
	}
	ob.Rewind() // reconnected: what was not acknowledged comes again
	recs, _ = ob.Next(100)
	for _, r := range recs {
		fmt.Printf("again %d\n", r.Seq)
		ob.Ack(r.Seq)
	}
	fmt.Printf("pending %d, acked up to %d\n", ob.Stats().Pending, ob.Stats().AckedSeq)
	// Output:
	// publish 1 {"light":412,"seq":1}
	// publish 2 {"light":415,"seq":2}
	// publish 3 {"light":409,"seq":3}
	// again 2
	// pending 0, acked up to 3
}
