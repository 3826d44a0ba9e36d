package device

import (
	"sync/atomic"
	"time"

	"nightlight/mqtt/outbox"
	"nightlight/mqtt/wire"
)

// Counters are a device's running totals, for whoever reports them (the
// metrics endpoint). The command keeps one for the whole process and hands
// it to every run, so the totals outlast reloads; the device only adds to
// them. Every field is atomic: reading them wakes nothing and takes no
// lock of the device's.
type Counters struct {
	ReadingsStored    atomic.Uint64 // appended to the outbox
	ReadingsUnstored  atomic.Uint64 // refused by the outbox (a full or read-only disk): lost
	ReadingsPublished atomic.Uint64 // acknowledged by the broker (a replayed reading counts again)
	SensorErrors      atomic.Uint64 // failed reads of the sensor
	Reconnects        atomic.Uint64 // connections to the broker made again after one was lost
	commands          [len(commandOutcomes)]atomic.Uint64
}

// Results of a command, as the metrics name them.
const (
	ResultApplied = "applied" // carried out
	ResultIgnored = "ignored" // valid, but not to be obeyed now (its reason says why)
	ResultRefused = "refused" // not a command: junk on the commands topic
)

// Reasons a command is not applied, as the metrics name them.
const (
	ReasonStale        = "stale"               // decided longer ago than max_command_age
	ReasonFuture       = "future"              // from further in the future than max_command_age: a clock is wrong
	ReasonOutOfOrder   = "out_of_order"        // older than a command already applied, or answering an older reading
	ReasonRetainedNoTS = "retained_without_ts" // retained, so perhaps days old, with no ts to tell
	ReasonManual       = "manual_mode"         // the server's led_on while a person decides the LED
	ReasonQueueFull    = "queue_full"          // dropped: more commands waiting than the main loop took
	ReasonInvalid      = "invalid"             // refused: not a command the contract knows
)

// CommandOutcome is one line of the commands' tally: a result, with the
// command (applied) or the reason (not applied).
type CommandOutcome struct {
	Result  string
	Command string // wire.CommandLED, CommandMode or CommandThreshold; applied only
	Reason  string // Reason...; not applied only
}

// commandOutcomes are every outcome counted; the tally lists them all, so
// that a series exists from the start at 0 (a rate over a series that
// appears only at its first increment misses that increment).
var commandOutcomes = [...]CommandOutcome{
	{Result: ResultApplied, Command: wire.CommandLED},
	{Result: ResultApplied, Command: wire.CommandMode},
	{Result: ResultApplied, Command: wire.CommandThreshold},
	{Result: ResultIgnored, Reason: ReasonStale},
	{Result: ResultIgnored, Reason: ReasonFuture},
	{Result: ResultIgnored, Reason: ReasonOutOfOrder},
	{Result: ResultIgnored, Reason: ReasonRetainedNoTS},
	{Result: ResultIgnored, Reason: ReasonManual},
	{Result: ResultIgnored, Reason: ReasonQueueFull},
	{Result: ResultRefused, Reason: ReasonInvalid},
}

// countCommand counts one outcome; one the table lacks is a bug, counted
// nowhere rather than in the wrong line.
func (c *Counters) countCommand(o CommandOutcome) {
	for i, known := range commandOutcomes {
		if known == o {
			c.commands[i].Add(1)
			return
		}
	}
}

// CommandTally is an outcome and how often it happened.
type CommandTally struct {
	CommandOutcome
	N uint64
}

// Commands returns the tally of every outcome, including those at 0.
func (c *Counters) Commands() []CommandTally {
	out := make([]CommandTally, len(commandOutcomes))
	for i, o := range commandOutcomes {
		out[i] = CommandTally{o, c.commands[i].Load()}
	}
	return out
}

// Metrics is how a running device is, for the metrics endpoint.
type Metrics struct {
	Light         int  // the newest sample
	HaveLight     bool // false before the first sample
	LEDOn         bool
	Mode          string
	Threshold     int
	SensorFailing bool
	Connected     bool
	Outbox        outbox.Stats
	OldestAge     time.Duration // how long the oldest unacknowledged reading has waited
	HaveOldest    bool          // false when the outbox holds none, or its age cannot be read
}

// Metrics reads the device's state as it is now, from any goroutine,
// without waking the main loop: the retained state under its own lock, the
// outbox under the outbox's, the rest from atomics.
func (d *Device) Metrics(now time.Time) Metrics {
	st := d.state.get()
	m := Metrics{
		LEDOn:         st.LEDOn,
		Mode:          st.Mode,
		SensorFailing: st.Error != "",
		Connected:     d.conn.Connected(),
		Outbox:        d.ob.Stats(),
	}
	if st.Threshold != nil {
		m.Threshold = *st.Threshold
	}
	if v := d.lastLight.Load(); v >= 0 {
		m.Light, m.HaveLight = int(v), true
	}
	if m.Outbox.Pending > 0 {
		if rec, ok, err := d.ob.Oldest(); err == nil && ok {
			if t, err := wire.ParseTelemetry(rec.Payload); err == nil && !t.TS.IsZero() {
				m.OldestAge, m.HaveOldest = max(now.Sub(t.TS), 0), true
			}
		}
	}
	return m
}
