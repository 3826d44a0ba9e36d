package main

import (
	"runtime"
	"time"

	"nightlight/cmd/internal/control"
	"nightlight/cmd/internal/metrics"
	"nightlight/mqtt/link"
)

// totals are the server's counts over its whole life, across reloads.
type totals struct {
	ctl   control.Counters
	start time.Time
}

func newTotals() *totals { return &totals{start: time.Now()} }

// writeServerMetrics writes what a scrape asks for, read now from the
// counters and the connection: nothing is kept between scrapes.
func writeServerMetrics(w *metrics.Writer, conn *link.Link, t *totals) {
	const g, c = metrics.Gauge, metrics.Counter
	w.Value("nightlight_server_readings_received_total", c, "Readings received from devices.", float64(t.ctl.ReadingsReceived.Load()))
	w.Value("nightlight_server_readings_refused_total", c, "Messages on telemetry topics that are not readings, or name another device than their topic.", float64(t.ctl.ReadingsRefused.Load()))
	stale := t.ctl.Stale()
	var samples []metrics.Sample
	for i, reason := range control.StaleReasons {
		samples = append(samples, metrics.One(float64(stale[i]), "reason", reason))
	}
	w.Family("nightlight_server_readings_stale_total", c, "Readings that drove no LED: history (older than max_age, replayed from an outbox), future (a device's clock is wrong), older (than one already acted on).", samples...)
	w.Value("nightlight_server_commands_sent_total", c, "Commands the broker acknowledged.", float64(t.ctl.CommandsSent.Load()))
	w.Value("nightlight_server_commands_failed_total", c, "Commands the broker did not acknowledge; the log says why.", float64(t.ctl.CommandsFailed.Load()))
	w.Value("nightlight_server_devices", g, "Devices whose readings were acted on since the server (re)started.", float64(t.ctl.Devices.Load()))
	w.Value("nightlight_server_broker_connected", g, "Whether the server is connected to the broker.", metrics.Bool(conn.Connected()))
	w.Family("nightlight_server_build_info", g, "The server's version and the Go release it was built with.",
		metrics.One(1, "version", version, "goversion", runtime.Version()))
	metrics.Process(w, t.start)
}
