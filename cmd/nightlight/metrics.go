package main

import (
	"runtime"
	"sync/atomic"
	"time"

	"nightlight/cmd/internal/device"
	"nightlight/cmd/internal/metrics"
	"nightlight/mqtt/wire"
)

// totals are the daemon's counts over its whole life, across reloads: the
// device's Counters, and what the outboxes of ended runs dropped and cut
// (an outbox counts only since it was opened, and each run opens it).
type totals struct {
	dev     device.Counters
	dropped atomic.Uint64
	damaged atomic.Uint64
	start   time.Time
}

func newTotals() *totals { return &totals{start: time.Now()} }

// ended adds a run's outbox counts to the totals, once the run is over.
func (t *totals) ended(dropped, damaged uint64) {
	t.dropped.Add(dropped)
	t.damaged.Add(damaged)
}

// writeDeviceMetrics writes what a scrape asks for, read now from d and t:
// nothing is kept between scrapes.
func writeDeviceMetrics(w *metrics.Writer, d *device.Device, t *totals) {
	m := d.Metrics(time.Now())
	const g, c = metrics.Gauge, metrics.Counter
	if m.HaveLight {
		w.Value("nightlight_light_level", g, "The newest light level read from the sensor, 0 (dark) to 1000 (bright).", float64(m.Light))
	}
	w.Value("nightlight_led_on", g, "Whether the LED is on (1) or off (0).", metrics.Bool(m.LEDOn))
	w.Family("nightlight_mode", g, "Who decides the LED: 1 for the mode in force (auto: the server; on, off: a person).",
		metrics.One(metrics.Bool(m.Mode == wire.ModeAuto), "mode", wire.ModeAuto),
		metrics.One(metrics.Bool(m.Mode == wire.ModeOn), "mode", wire.ModeOn),
		metrics.One(metrics.Bool(m.Mode == wire.ModeOff), "mode", wire.ModeOff))
	w.Value("nightlight_threshold", g, "The device's threshold: the LED goes on below this light level.", float64(m.Threshold))
	w.Value("nightlight_sensor_failing", g, "Whether the sensor's last read failed (1); the log says why.", metrics.Bool(m.SensorFailing))
	w.Value("nightlight_sensor_errors_total", c, "Failed reads of the light sensor.", float64(t.dev.SensorErrors.Load()))
	w.Value("nightlight_readings_stored_total", c, "Readings stored in the outbox.", float64(t.dev.ReadingsStored.Load()))
	w.Value("nightlight_readings_published_total", c, "Readings the broker acknowledged; one sent again after a reconnect counts again.", float64(t.dev.ReadingsPublished.Load()))
	w.Family("nightlight_readings_dropped_total", c, "Readings lost: not_stored, refused by the outbox (a full or read-only disk); outbox_full, the oldest unsent dropped by outbox_max_mb.",
		metrics.One(float64(t.dev.ReadingsUnstored.Load()), "reason", "not_stored"),
		metrics.One(float64(t.dropped.Load()+m.Outbox.Dropped), "reason", "outbox_full"))
	w.Value("nightlight_outbox_damaged_bytes_total", c, "Bytes of damaged outbox data cut off (a torn write after a power cut, corruption).", float64(t.damaged.Load()+m.Outbox.Damaged))
	w.Value("nightlight_outbox_readings", g, "Readings in the outbox the broker has not acknowledged yet.", float64(m.Outbox.Pending))
	w.Value("nightlight_outbox_bytes", g, "Disk space of the readings in the outbox, in bytes.", float64(m.Outbox.PendingBytes))
	age := 0.0
	if m.HaveOldest {
		age = m.OldestAge.Seconds()
	}
	w.Value("nightlight_outbox_oldest_age_seconds", g, "How long the oldest reading in the outbox has waited for the broker; 0 when none waits.", age)
	w.Value("nightlight_broker_connected", g, "Whether the device is connected to the broker.", metrics.Bool(m.Connected))
	w.Value("nightlight_broker_reconnects_total", c, "Connections to the broker made again after one was lost.", float64(t.dev.Reconnects.Load()))
	writeCommandMetrics(w, t.dev.Commands())
	w.Family("nightlight_build_info", g, "The daemon's version and the Go release it was built with.",
		metrics.One(1, "version", version, "goversion", runtime.Version()))
	metrics.Process(w, t.start)
}

// writeCommandMetrics writes the commands' tally, every outcome from 0.
func writeCommandMetrics(w *metrics.Writer, tally []device.CommandTally) {
	var applied, ignored, refused []metrics.Sample
	for _, o := range tally {
		switch o.Result {
		case device.ResultApplied:
			applied = append(applied, metrics.One(float64(o.N), "command", o.Command))
		case device.ResultIgnored:
			ignored = append(ignored, metrics.One(float64(o.N), "reason", o.Reason))
		default:
			refused = append(refused, metrics.One(float64(o.N), "reason", o.Reason))
		}
	}
	w.Family("nightlight_commands_applied_total", metrics.Counter, "Commands carried out, by command.", applied...)
	w.Family("nightlight_commands_ignored_total", metrics.Counter, "Valid commands not carried out, by reason (the log says more).", ignored...)
	w.Family("nightlight_commands_refused_total", metrics.Counter, "Messages on the commands topic that are not commands.", refused...)
}
