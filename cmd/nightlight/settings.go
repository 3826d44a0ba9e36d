package main

import (
	"flag"
	"fmt"
	"log/slog"
	"time"

	"nightlight/cmd/internal/brokerauth"
	"nightlight/cmd/internal/cli"
	"nightlight/cmd/internal/config"
	"nightlight/cmd/internal/setting/nightlight"
	"nightlight/hw/board"
	"nightlight/mqtt/homeassistant"
	"nightlight/mqtt/link"
	"nightlight/mqtt/outbox"
	"nightlight/mqtt/wire"
)

// settings are the device daemon's: each is a flag, a key of
// /etc/nightlight/nightlight.yaml and a NIGHTLIGHT_ environment variable,
// defined (name, default, help) in nightlight.Settings.
type settings struct {
	Broker        string
	ID            string
	Hardware      string
	Interval      time.Duration
	SampleEvery   time.Duration
	Deadband      int
	PublishGap    time.Duration
	StateDir      string
	SimLight      string
	SimPeriod     time.Duration
	Bus           string
	Addr          uint16
	Channel       int
	LEDPin        string
	AlertPin      string
	Samples       int
	Threshold     int
	FallbackAfter time.Duration
	MaxCommandAge time.Duration
	KeepAlive     time.Duration
	OutboxSync    string
	OutboxMaxMB   int
	HomeAssistant bool   // announce to Home Assistant
	HAPrefix      string // its discovery prefix
	MetricsListen string // host:port of the metrics endpoint; "" for none
	LogLevel      slog.Level
	Auth          brokerauth.Settings // TLS, username and password for the broker
}

const defaultConfigFile = "/etc/nightlight/nightlight.yaml"

// bindSettings defines the settings as flags of fs, from their definitions
// in nightlight.Settings, and sets s to their defaults.
func bindSettings(fs *flag.FlagSet, s *settings) {
	nightlight.Settings.Bind(fs, map[string]any{
		"broker":               &s.Broker,
		"id":                   &s.ID,
		"hardware":             &s.Hardware,
		"interval":             &s.Interval,
		"sample-every":         &s.SampleEvery,
		"deadband":             &s.Deadband,
		"publish-gap":          &s.PublishGap,
		"state-dir":            &s.StateDir,
		"sim-light":            &s.SimLight,
		"sim-period":           &s.SimPeriod,
		"i2c-bus":              &s.Bus,
		"i2c-addr":             cli.Hex16{V: &s.Addr},
		"channel":              &s.Channel,
		"led-pin":              &s.LEDPin,
		"alert-pin":            &s.AlertPin,
		"samples":              &s.Samples,
		"threshold":            &s.Threshold,
		"fallback-after":       &s.FallbackAfter,
		"max-command-age":      &s.MaxCommandAge,
		"keepalive":            &s.KeepAlive,
		"outbox-sync":          &s.OutboxSync,
		"outbox-max-mb":        &s.OutboxMaxMB,
		"homeassistant":        cli.Bool{B: &s.HomeAssistant},
		"homeassistant-prefix": &s.HAPrefix,
		"metrics-listen":       &s.MetricsListen,
		"log-level":            cli.Level{L: &s.LogLevel},
	}, brokerauth.Targets(&s.Auth))
}

// check validates what the flag parsers cannot, naming the key and the fix.
func (s *settings) check(l *config.Loaded) error {
	bad := func(key, format string, a ...any) error {
		return config.Errorf("%s (%s): %s", config.KeyName(key), l.Origin(key), fmt.Sprintf(format, a...))
	}
	if err := wire.ValidID(s.ID); err != nil {
		return bad("id", "%v", err)
	}
	if s.Interval < 10*time.Millisecond {
		return bad("interval", "%s is too short: use 10ms or more (the lesson uses 5s)", s.Interval)
	}
	// sample_every at or above interval is fine: the sensor is then read
	// every interval, as with 0.
	if s.SampleEvery < 0 || s.SampleEvery > 0 && s.SampleEvery < time.Millisecond {
		return bad("sample-every", "%s: use 1ms or more, or 0 to read the sensor only every interval", s.SampleEvery)
	}
	if s.Deadband < 0 || s.Deadband > wire.MaxLight {
		return bad("deadband", "%d is outside the light scale: use 0 (off) to 1000", s.Deadband)
	}
	if s.PublishGap < 0 {
		return bad("publish-gap", "%s: use 0 (no limit) or a positive duration such as 500ms", s.PublishGap)
	}
	if s.StateDir == "" {
		return bad("state-dir", "is empty: name a directory the daemon may write, e.g. /var/lib/nightlight")
	}
	if s.Threshold < wire.MinLight || s.Threshold > wire.MaxLight+1 {
		return bad("threshold", "%d is outside the light scale: use 0..1001", s.Threshold)
	}
	if s.FallbackAfter <= 0 {
		return bad("fallback-after", "%s: use a positive duration such as 30s", s.FallbackAfter)
	}
	if s.MaxCommandAge <= 0 {
		return bad("max-command-age", "%s: use a positive duration such as 1m", s.MaxCommandAge)
	}
	if s.KeepAlive < time.Second {
		return bad("keepalive", "%s is too short: use 1s or more (default %s)", s.KeepAlive, link.DefaultKeepAlive)
	}
	if _, err := s.syncMode(); err != nil {
		return bad("outbox-sync", "%v", err)
	}
	if s.OutboxMaxMB < 1 {
		return bad("outbox-max-mb", "%d: use at least 1", s.OutboxMaxMB)
	}
	if err := homeassistant.CheckPrefix(s.HAPrefix); err != nil {
		return bad("homeassistant-prefix", "%v", err)
	}
	if err := cli.CheckListen(s.MetricsListen); err != nil {
		return bad("metrics-listen", "%v", err)
	}
	// Reads the TLS and password files, so a bad one stops the start.
	if _, err := brokerauth.Load(s.Auth, s.Broker, l.Origin); err != nil {
		return err
	}
	if err := s.board().Validate(); err != nil {
		return config.Errorf("%v", err)
	}
	return nil
}

func (s *settings) syncMode() (outbox.SyncMode, error) {
	for _, m := range []outbox.SyncMode{outbox.SyncGrouped, outbox.SyncAlways} {
		if s.OutboxSync == m.String() {
			return m, nil
		}
	}
	return 0, fmt.Errorf("%q: use %s or %s", s.OutboxSync, outbox.SyncGrouped, outbox.SyncAlways)
}

// oneShotBoard is the board of read and led: they do not watch the sensor,
// and on real hardware the running daemon holds the alert pin.
func (s *settings) oneShotBoard() board.Config {
	c := s.board()
	if c.Hardware != board.Sim {
		c.AlertPin = ""
	}
	return c
}

func (s *settings) board() board.Config {
	return board.Config{
		Hardware:  s.Hardware,
		Bus:       s.Bus,
		Addr:      s.Addr,
		Channel:   s.Channel,
		LEDPin:    s.LEDPin,
		AlertPin:  s.AlertPin,
		Samples:   s.Samples,
		SimLight:  s.SimLight,
		SimPeriod: s.SimPeriod,
	}
}
