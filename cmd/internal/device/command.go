package device

import (
	"fmt"
	"time"

	"nightlight/mqtt/link"
	"nightlight/mqtt/wire"
)

// incoming is a decoded command on its way to the main loop.
type incoming struct {
	cmd      wire.Command
	retained bool
}

// onCommand runs on the connection's goroutine: decode, then hand over or
// refuse. When the queue is full the oldest waiting command gives way: the
// newest is the one that counts.
func (d *Device) onCommand(m link.Message) {
	c, err := wire.ParseCommand(m.Payload)
	if err != nil {
		d.log.Warn("command refused", "topic", m.Topic, "reason", err.Error(), "payload", excerpt(m.Payload))
		return
	}
	in := incoming{cmd: c, retained: m.Retained}
	for range 2 {
		select {
		case d.cmds <- in:
			return
		default:
		}
		select {
		case old := <-d.cmds:
			d.log.Warn("command dropped", "led_on", old.cmd.LEDOn, "reason", "too many commands queued; a newer one replaces it")
		default:
		}
	}
	d.log.Warn("command dropped", "led_on", c.LEDOn, "reason", "too many commands queued")
}

// apply switches the LED for a command the policy accepts, on the main loop.
func (d *Device) apply(in incoming, now time.Time) {
	if reason := d.policy.command(in.cmd, in.retained, now); reason != "" {
		d.log.Warn("command ignored", "led_on", in.cmd.LEDOn, "reason", reason)
		return
	}
	d.setLED(in.cmd.LEDOn, wire.SourceCommand)
}

// onConnect runs on the connection's goroutine after the subscriptions are
// restored: the broker is back, and the sender has work.
func (d *Device) onConnect() {
	d.offlineFrom.Store(0)
	signal(d.connected)
}

// onLost runs on the connection's goroutine: the broker's absence starts.
func (d *Device) onLost(error) {
	d.offlineFrom.CompareAndSwap(0, time.Now().UnixNano())
}

// signal wakes a capacity-1 channel's reader without ever blocking.
func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// excerpt quotes at most 64 bytes of a payload for a log line.
func excerpt(p []byte) string {
	if len(p) > 64 {
		return fmt.Sprintf("%q... (%d bytes)", p[:64], len(p))
	}
	return fmt.Sprintf("%q", p)
}
