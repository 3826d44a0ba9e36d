package device

import "time"

// maxSensorBackoff caps the wait between attempts to read a failing sensor.
const maxSensorBackoff = 5 * time.Second

// sensorHealth follows a sensor that fails to read: a failing sensor is
// left alone until retryAt, with a backoff doubling from one sample period
// up to a cap, so that a bus that times out does not eat the loop, yet a
// loose cable put back is noticed soon.
type sensorHealth struct {
	err     string // the last failure; "" while the sensor reads
	retryAt time.Time
	backoff time.Duration
}

// due reports whether the sensor may be read at now.
func (h *sensorHealth) due(now time.Time) bool { return !now.Before(h.retryAt) }

// failed records a failed read at now; changed is true when the failure is
// new or different, which is when it is logged and reported.
func (h *sensorHealth) failed(err error, now time.Time, period time.Duration) (changed bool) {
	h.backoff = min(max(2*h.backoff, period), maxSensorBackoff)
	h.retryAt = now.Add(h.backoff)
	msg := err.Error()
	changed = msg != h.err
	h.err = msg
	return changed
}

// read records a good read; recovered is true when it ends a failure.
func (h *sensorHealth) read() (recovered bool) {
	recovered = h.err != ""
	*h = sensorHealth{}
	return recovered
}

// storeHealth counts the readings the outbox refused (a full or read-only
// disk): since start, and in the current run of failures. The light goes on
// working meanwhile; the failure is logged once per kind, and the recovery
// with what was lost.
type storeHealth struct {
	err      string // the last failure; "" while readings are stored
	unstored uint64 // readings lost since start
	episode  uint64 // readings lost in the current run of failures
}

// failed counts a lost reading; changed is true when the failure is new or
// different.
func (h *storeHealth) failed(err error) (changed bool) {
	h.unstored++
	h.episode++
	msg := err.Error()
	changed = msg != h.err
	h.err = msg
	return changed
}

// stored records a stored reading; when it ends a run of failures,
// recovered is true and lost is how many readings that run cost.
func (h *storeHealth) stored() (recovered bool, lost uint64) {
	if h.err == "" {
		return false, 0
	}
	lost = h.episode
	h.err, h.episode = "", 0
	return true, lost
}
