package device

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	"nightlight/mqtt/link"
	"nightlight/mqtt/wire"
)

// Announcement is what a device announces about itself, retained, besides
// its state and status: Home Assistant's discovery config, which package
// homeassistant makes. The sender publishes it at every connect (a broker
// without persistence forgets retained messages when it restarts), and
// again when a message on Again says "online" (Home Assistant's birth
// message: it restarted), after a random wait of up to AgainDelay so that
// a fleet does not answer all at once.
type Announcement struct {
	// Clear is published once, before the first announcement of the run:
	// empty retained messages that take back what an earlier run announced
	// under another id or prefix.
	Clear []link.Message
	// Messages are the announcement; none when announcing is off (Clear
	// may still take back an earlier one).
	Messages   []link.Message
	Again      string
	AgainDelay time.Duration
	// Announced, when set, is called on the sender's goroutine once the
	// broker has confirmed Clear and Messages for the first time in the
	// run, so that the command can record what is announced now.
	Announced func() error
}

// announcer is the sender's progress with the Announcement.
type announcer struct {
	due      bool // publish Messages at the next chance
	cleared  bool // Clear confirmed
	recorded bool // Announced called
	again    *time.Timer
}

func newAnnouncer() *announcer {
	a := &announcer{again: time.NewTimer(time.Hour)}
	a.again.Stop()
	return a
}

// onAgain runs on the connection's goroutine: the message on Announcement.Again.
// A retained "online" is an old birth message the broker replays at every
// subscription: the announcement at connect covers it.
func (d *Device) onAgain(m link.Message) {
	if m.Retained || string(m.Payload) != wire.StatusOnline {
		return
	}
	signal(d.againAsked)
}

// askedAgain starts the random wait before announcing again.
func (a *announcer) askedAgain(max time.Duration) {
	wait := time.Duration(0)
	if max > 0 {
		wait = rand.N(max)
	}
	a.again.Reset(wait)
}

// announce publishes what is due of the Announcement and waits for the
// broker's confirmation of each message.
func (d *Device) announce(ctx context.Context, a *announcer) error {
	an := d.cfg.Announce
	if an == nil || !a.due {
		return nil
	}
	if !a.cleared {
		for _, m := range an.Clear {
			if err := d.conn.Publish(m).Wait(ctx); err != nil {
				return fmt.Errorf("clear %s: %w", m.Topic, err)
			}
		}
		a.cleared = true
	}
	for _, m := range an.Messages {
		if err := d.conn.Publish(m).Wait(ctx); err != nil {
			return fmt.Errorf("announce %s: %w", m.Topic, err)
		}
	}
	a.due = false
	if !a.recorded {
		a.recorded = true
		if an.Announced != nil {
			if err := an.Announced(); err != nil {
				d.log.Warn("what was announced is not recorded: the next start clears and announces again", "err", err)
			}
		}
		if len(an.Messages) > 0 {
			d.log.Info("announced", "topic", an.Messages[0].Topic)
		}
	}
	return nil
}
