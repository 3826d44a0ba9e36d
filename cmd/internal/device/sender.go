package device

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"nightlight/mqtt/link"
	"nightlight/mqtt/wire"
)

// sendWindow is how many telemetry messages may await their PUBACK at once.
const sendWindow = 64

// sender is the one goroutine that publishes: the announcement, the
// retained state, then the outbox in seq order. It stops when ctx is
// cancelled.
func (d *Device) sender(ctx context.Context) {
	retry := time.NewTimer(time.Hour)
	retry.Stop()
	defer retry.Stop()
	an := newAnnouncer()
	defer an.again.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-d.connected:
			// A new connection: the broker may have lost our retained
			// messages, and whatever was in flight is unconfirmed.
			d.state.markDirty()
			d.ob.Rewind()
			an.due = true
		case <-d.againAsked:
			an.askedAgain(d.cfg.Announce.AgainDelay)
			continue
		case <-an.again.C:
			an.due = true
		case <-d.state.changed:
		case <-d.ob.Appended():
		case <-retry.C:
		}
		if !d.conn.Connected() {
			continue // onConnect wakes us
		}
		err := d.send(ctx, an)
		if ctx.Err() != nil {
			return // stopping: not a failure; Run flushes once more itself
		}
		if err != nil && !errors.Is(err, link.ErrNotConnected) {
			d.log.Warn("publish failed; retrying", "err", err)
			retry.Reset(time.Second)
		}
	}
}

// send publishes what is due: the announcement, the state, the outbox,
// and the state once more when the drain changed how many readings it says
// are waiting.
func (d *Device) send(ctx context.Context, an *announcer) error {
	if err := d.announce(ctx, an); err != nil {
		return err
	}
	if err := d.publishState(ctx); err != nil {
		return err
	}
	if err := d.drain(ctx); err != nil {
		return err
	}
	if d.ob.Stats().Pending != d.sentPending {
		d.state.markDirty()
		return d.publishState(ctx)
	}
	return nil
}

// publishState publishes the retained state if it changed since the broker
// last confirmed it.
func (d *Device) publishState(ctx context.Context) error {
	st, ok := d.state.take()
	if !ok {
		return nil
	}
	pending := d.ob.Stats().Pending
	st.Pending = &pending
	payload, err := json.Marshal(st)
	if err != nil {
		return err
	}
	m := link.Message{Topic: d.topic(wire.KindState), Payload: payload, Retained: true}
	if err := d.conn.Publish(m).Wait(ctx); err != nil {
		d.state.markDirty()
		return err
	}
	d.sentPending = pending
	return nil
}

// drain publishes the outbox up to its end, or until ctx is done, and
// acknowledges in the outbox only what the broker confirmed. Up to
// sendWindow messages await their PUBACK at once, as a sliding window: each
// confirmation lets the next message go, so the broker always has something
// to answer (a batch-and-wait scheme stalls on Nagle's algorithm in brokers
// that leave it on, as Mosquitto does by default: about 40 ms per batch).
// On any failure it rewinds, so the next attempt starts at the oldest
// unconfirmed reading.
func (d *Device) drain(ctx context.Context) error {
	topic := d.topic(wire.KindTelemetry)
	type flight struct {
		seq uint64
		del link.Delivery
	}
	var inflight []flight
	done := false // the outbox had nothing more to give
	fail := func(err error) error {
		// What is still in flight is unconfirmed: sent again after the
		// rewind. The payloads are ours (Next gives fresh buffers), so
		// nothing needs waiting for.
		d.ob.Rewind()
		return err
	}
	for {
		if !done && len(inflight) < sendWindow && ctx.Err() == nil {
			recs, err := d.ob.Next(sendWindow - len(inflight))
			if err != nil {
				return fail(fmt.Errorf("read outbox: %w", err))
			}
			done = len(recs) == 0
			for _, r := range recs {
				inflight = append(inflight, flight{r.Seq, d.conn.Publish(link.Message{Topic: topic, Payload: r.Payload})})
			}
		}
		if len(inflight) == 0 {
			if done {
				return nil
			}
			return errors.New("stopped before the outbox was empty")
		}
		f := inflight[0]
		inflight = inflight[1:]
		if err := f.del.Wait(ctx); err != nil {
			return fail(err)
		}
		if err := d.ob.Ack(f.seq); err != nil {
			return fail(fmt.Errorf("outbox ack %d: %w", f.seq, err))
		}
		d.counts.ReadingsPublished.Add(1)
	}
}
