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
		d.counts.countCommand(CommandOutcome{Result: ResultRefused, Reason: ReasonInvalid})
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
			d.counts.countCommand(CommandOutcome{Result: ResultIgnored, Reason: ReasonQueueFull})
			d.log.Warn("command dropped", append(what(old.cmd), "reason", "too many commands queued; a newer one replaces it")...)
		default:
		}
	}
	d.counts.countCommand(CommandOutcome{Result: ResultIgnored, Reason: ReasonQueueFull})
	d.log.Warn("command dropped", append(what(c), "reason", "too many commands queued")...)
}

// apply carries out a command the policy accepts, on the main loop: the
// server's led_on switches the LED; a mode hands the LED to a person or
// back to the server; a threshold changes the device's. Mode and threshold
// are kept across restarts.
func (d *Device) apply(in incoming, now time.Time) {
	c := in.cmd
	out := d.policy.command(c, in.retained, now)
	if out.apply {
		d.counts.countCommand(CommandOutcome{Result: ResultApplied, Command: c.Kind})
	} else {
		d.counts.countCommand(CommandOutcome{Result: ResultIgnored, Reason: out.code})
	}
	switch {
	case out.apply:
	case out.quiet:
		d.log.Debug("command ignored", append(what(c), "reason", out.reason)...)
		return
	default:
		d.log.Warn("command ignored", append(what(c), "reason", out.reason)...)
		return
	}
	switch c.Kind {
	case wire.CommandMode:
		d.log.Info("mode", "mode", c.Mode)
		d.keep(func(ch *Choices) { ch.Mode = c.Mode })
		if on, ok := d.policy.manual(); ok {
			d.setLED(on, wire.SourceManual)
		}
	case wire.CommandThreshold:
		d.log.Info("threshold", "threshold", c.Threshold)
		d.keep(func(ch *Choices) { ch.Threshold, ch.Configured = c.Threshold, d.cfg.Threshold })
	default:
		d.log.Debug("command applied", what(c)...)
		d.setLED(c.LEDOn, wire.SourceCommand)
	}
}

// keep changes the choices, keeps them and reports them in the state.
func (d *Device) keep(change func(*Choices)) {
	change(&d.choices)
	if err := d.cfg.Keeper.Save(d.choices); err != nil {
		d.log.Error("choice not kept: it holds until the daemon stops", "err", err)
	}
	c := d.choices
	d.state.update(d.light, func(s *wire.State) { s.Mode, s.Threshold = c.Mode, &c.Threshold })
}

// what names a command in a log line.
func what(c wire.Command) []any {
	var args []any
	switch c.Kind {
	case wire.CommandMode:
		args = []any{"mode", c.Mode}
	case wire.CommandThreshold:
		args = []any{"threshold", c.Threshold}
	default:
		args = []any{"led_on", c.LEDOn}
	}
	if c.Seq != 0 {
		args = append(args, "answers_seq", c.Seq)
	}
	return args
}

// onConnect runs on the connection's goroutine after the subscriptions are
// restored: the broker is back, and the sender has work.
func (d *Device) onConnect() {
	if !d.connectedOnce.CompareAndSwap(false, true) {
		d.counts.Reconnects.Add(1)
	}
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
