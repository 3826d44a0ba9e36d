package control

import "sync/atomic"

// Counters are the server's running totals, for whoever reports them (the
// metrics endpoint). The command keeps one for the whole process and hands
// it to every run, so the totals outlast reloads. Every field is atomic:
// reading them wakes nothing and takes no lock of the server's.
type Counters struct {
	ReadingsReceived atomic.Uint64 // telemetry that is a reading
	ReadingsRefused  atomic.Uint64 // telemetry that is not a reading (junk), or names another device than its topic
	CommandsSent     atomic.Uint64 // acknowledged by the broker
	CommandsFailed   atomic.Uint64 // not acknowledged: the log says why
	Devices          atomic.Int64  // devices whose readings were acted on since the run began
	stale            [len(StaleReasons)]atomic.Uint64
}

// StaleReasons are the reasons a reading drives no LED, in the order
// Stale reports them.
var StaleReasons = [...]string{StaleHistory, StaleFuture, StaleOlder}

func (c *Counters) countStale(reason string) {
	for i, r := range StaleReasons {
		if r == reason {
			c.stale[i].Add(1)
		}
	}
}

// Stale returns how many readings drove no LED, by reason (StaleReasons).
func (c *Counters) Stale() [len(StaleReasons)]uint64 {
	var out [len(StaleReasons)]uint64
	for i := range c.stale {
		out[i] = c.stale[i].Load()
	}
	return out
}
