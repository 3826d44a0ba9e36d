package control

import (
	"time"

	"nightlight/mqtt/wire"
)

// reading is a device's telemetry as it arrived.
type reading struct {
	device string
	t      wire.Telemetry
	at     time.Time // when it arrived
}

// decider is the server's decision, with no I/O, no clock and no
// goroutines: which readings are fresh enough to drive a LED, and the
// command for each device. Replayed history never drives the LED: a reading
// older than maxAge, or older than the newest one seen from its device, is
// left alone.
//
// Topic and payload: the topic says who sent a reading, since the broker's
// ACL lets a device publish only under its own id. What a payload may say
// against it:
//   - an "id" naming another device: refused with a warning, whole (a
//     device configured with someone else's id, or a bridge that remaps
//     topics, must be looked at, and its readings drive nobody's LED);
//   - a seq below one already seen: nothing more to check, it is history by
//     its ts (older than the newest: left alone) or a device whose state
//     was wiped and counts from 1 again (its ts is new: acted on). With a
//     shared subscription an instance sees only some of a device's seqs,
//     so gaps say nothing either. Ordering is by ts, and the device
//     refuses a command that answers a seq older than one it obeyed.
//
// Its memory is per device one entry of newest (a few dozen bytes: the id
// and a Unix time), and one of thresholds for a device that reports its
// own; decide reuses its buffers, so a reading allocates nothing here.
type decider struct {
	threshold  int // for devices that report none
	maxAge     time.Duration
	newest     map[string]int64 // per device, the ts (Unix ns) of the newest reading acted on
	thresholds map[string]int   // per device, the threshold it reports in its state

	// decide's buffers: what it returns is valid until its next call.
	latest map[string]int
	orders []order
	notes  []note
}

func newDecider(threshold int, maxAge time.Duration) *decider {
	return &decider{threshold: threshold, maxAge: maxAge, newest: map[string]int64{}, thresholds: map[string]int{},
		latest: map[string]int{}}
}

// learn takes a device's threshold from its retained state; nil (a device
// that reports none, as the lesson's) falls back to the server's own.
func (d *decider) learn(device string, threshold *int) {
	if threshold == nil {
		delete(d.thresholds, device)
		return
	}
	d.thresholds[device] = *threshold
}

// thresholdOf is the threshold a device's LED is decided by.
func (d *decider) thresholdOf(device string) int {
	if t, ok := d.thresholds[device]; ok {
		return t
	}
	return d.threshold
}

// order is a command to send: the decision for a device's newest fresh
// reading.
type order struct {
	device string
	ledOn  bool
	answer wire.Telemetry // the reading it answers
}

// note is what the server logs about one reading: received, superseded,
// or why it drives nothing. The log line's arguments are made only when it
// is written (args), since most notes are routine and not logged.
type note struct {
	warn    bool   // the device should be looked at (its clock, its id), not just history
	refused bool   // not a reading this device may send: its payload names another device
	stale   string // why the reading drives nothing (Stale...), as the metrics name it; "" when it drives
	msg     string
	r       reading
	extra   []any // the details of msg
}

// args are the log line's: device, light, seq and the details.
func (n note) args() []any { return append(about(n.r.device, n.r.t), n.extra...) }

// Why a reading drives no LED, as the metrics name it.
const (
	StaleHistory = "history" // taken longer ago than max_age: replayed from an outbox
	StaleFuture  = "future"  // taken further in the future than max_age: the device's clock is wrong
	StaleOlder   = "older"   // older than a reading of the same device already acted on
)

// noteSuperseded is the note of a fresh reading that a newer one of the
// same device replaced in its batch: worth a debug line only.
const noteSuperseded = "telemetry superseded by a newer reading"

// decide takes a batch of readings (those that waited together) and
// returns one order per device, for its newest fresh reading, in the order
// the devices first appear: a backlog a device replays after an outage must
// not flicker its LED through the past. Ages are measured at now, not at
// arrival: a reading may have waited in the queue. The slices returned are
// valid until the next call.
func (d *decider) decide(batch []reading, now time.Time) (orders []order, notes []note) {
	latest := d.latest // device -> index in orders
	clear(latest)
	orders, notes = d.orders[:0], d.notes[:0]
	for _, r := range batch {
		n, fresh := d.judge(r, now)
		notes = append(notes, n)
		if !fresh {
			continue
		}
		o := order{device: r.device, ledOn: r.t.Light < d.thresholdOf(r.device), answer: r.t}
		if i, ok := latest[r.device]; ok {
			notes = append(notes, note{msg: noteSuperseded, r: reading{device: orders[i].device, t: orders[i].answer}})
			orders[i] = o
			continue
		}
		latest[r.device] = len(orders)
		orders = append(orders, o)
	}
	d.orders, d.notes = orders, notes
	return orders, notes
}

// judge reports whether r may drive the LED, and remembers it as its
// device's newest when it may.
func (d *decider) judge(r reading, now time.Time) (note, bool) {
	ts := r.t.TS
	if ts.IsZero() {
		ts = r.at // the lesson's device sends no ts: a live reading is as old as its arrival
	}
	newest, seen := d.newest[r.device]
	switch {
	case r.t.Device != "" && r.t.Device != r.device:
		return note{warn: true, refused: true, msg: "telemetry refused: its payload names another device than its topic; check that device's id",
			r: r, extra: []any{"payload_id", r.t.Device}}, false
	case now.Sub(ts) > d.maxAge:
		return note{stale: StaleHistory, msg: noteHistory, r: r,
			extra: []any{"ts", wire.FormatTime(ts), "age", now.Sub(ts).Round(time.Millisecond)}}, false
	case ts.Sub(now) > d.maxAge:
		return note{warn: true, stale: StaleFuture, msg: "telemetry from the future, not acted on: check the device's clock",
			r: r, extra: []any{"ts", wire.FormatTime(ts), "ahead", ts.Sub(now).Round(time.Millisecond)}}, false
	case seen && ts.UnixNano() < newest:
		return note{stale: StaleOlder, msg: noteOlder, r: r,
			extra: []any{"ts", wire.FormatTime(ts), "newest", wire.FormatTime(time.Unix(0, newest))}}, false
	}
	// Never ahead of our own clock: one reading from a clock that runs
	// fast must not make every later one look old.
	if ts.After(r.at) {
		ts = r.at
	}
	d.newest[r.device] = ts.UnixNano()
	return note{msg: noteReceived, r: r}, true
}

// The notes of the routine outcomes, which the server logs at debug level:
// a fleet's readings would flood the log at info.
const (
	noteReceived = "telemetry received"
	noteHistory  = "telemetry from history, not acted on"
	noteOlder    = "telemetry older than the newest, not acted on"
)

// about names a reading in a log line.
func about(device string, t wire.Telemetry) []any {
	args := []any{"device", device, "light", t.Light}
	if t.Seq != 0 {
		args = append(args, "seq", t.Seq)
	}
	return args
}

// devices is how many devices the decider follows.
func (d *decider) devices() int { return len(d.newest) }
