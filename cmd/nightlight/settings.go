package main

import (
	"flag"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"nightlight/cmd/internal/brokerauth"
	"nightlight/cmd/internal/cli"
	"nightlight/cmd/internal/config"
	"nightlight/cmd/internal/device"
	"nightlight/hw/board"
	"nightlight/mqtt/link"
	"nightlight/mqtt/outbox"
	"nightlight/mqtt/wire"
)

// settings are the device daemon's: each is a flag, a key of
// /etc/nightlight/nightlight.yaml and a NIGHTLIGHT_ environment variable.
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
	LogLevel      slog.Level
	Auth          brokerauth.Settings // TLS, username and password for the broker
}

const defaultConfigFile = "/etc/nightlight/nightlight.yaml"

func defaultID() string {
	h, err := os.Hostname()
	if err != nil {
		return ""
	}
	h, _, _ = strings.Cut(h, ".") // pi.local -> pi: a dot is no use in a topic
	return h
}

func defaultStateDir() string {
	// systemd's StateDirectory= hands the directory over in $STATE_DIRECTORY.
	if d, _, _ := strings.Cut(os.Getenv("STATE_DIRECTORY"), ":"); d != "" {
		return d
	}
	return "/var/lib/nightlight"
}

func bindSettings(fs *flag.FlagSet, s *settings) {
	fs.StringVar(&s.Broker, "broker", "tcp://127.0.0.1:1883", "MQTT broker: tcp://host:1883 or ssl://host:8883")
	fs.StringVar(&s.ID, "id", defaultID(), "device id in the topics ID/telemetry, ID/commands, ...: letters, digits, - and _")
	fs.StringVar(&s.Hardware, "hardware", "grovehat", "light sensor and LED: grovehat, ads1115 or sim")
	fs.DurationVar(&s.Interval, "interval", device.DefaultInterval, "heartbeat: a reading is published at least this often")
	fs.DurationVar(&s.SampleEvery, "sample-every", device.DefaultSampleEvery, "how often the sensor is read; 0: only every interval, as the lesson does")
	fs.IntVar(&s.Deadband, "deadband", device.DefaultDeadband, "a change of the light level by this much is published at once (0: off); crossing threshold always is")
	fs.DurationVar(&s.PublishGap, "publish-gap", device.DefaultPublishGap, "at most one reading per this gap, however the light flickers")
	fs.StringVar(&s.StateDir, "state-dir", defaultStateDir(), "directory of the outbox and sequence state")
	fs.StringVar(&s.SimLight, "sim-light", "", "sim only: file holding the light level 0..1000, re-read at every sample, or with alert-pin when it changes (default: a day/night curve)")
	fs.DurationVar(&s.SimPeriod, "sim-period", 10*time.Minute, "sim only: length of the simulated day/night cycle")
	fs.StringVar(&s.Bus, "i2c-bus", "1", "I2C bus of the sensor")
	s.Addr = 0
	fs.Var(cli.Hex16{V: &s.Addr}, "i2c-addr", "I2C address of the ADC: auto (Grove Base Hat: 0x04, then 0x08; ADS1115: 0x48) or a number such as 0x08")
	fs.IntVar(&s.Channel, "channel", 0, "analog channel of the light sensor (0 = socket A0)")
	fs.StringVar(&s.LEDPin, "led-pin", "GPIO5", "GPIO of the LED (socket D5 = GPIO5)")
	fs.StringVar(&s.AlertPin, "alert-pin", "", "ads1115 (and sim): GPIO the ADC's ALERT/RDY is wired to; the sensor then wakes the daemon when the light changes instead of being read every sample-every (default: none, polled)")
	fs.IntVar(&s.Samples, "samples", 3, "sensor reads combined (median) into one reading")
	fs.IntVar(&s.Threshold, "threshold", wire.DefaultThreshold, "offline fallback: LED on below this light level, as the server decides")
	fs.DurationVar(&s.FallbackAfter, "fallback-after", device.DefaultFallbackAfter, "how long without the broker before the device applies the threshold itself")
	fs.DurationVar(&s.MaxCommandAge, "max-command-age", device.DefaultMaxCommandAge, "commands decided longer ago than this are not applied")
	fs.DurationVar(&s.KeepAlive, "keepalive", link.DefaultKeepAlive, "MQTT keepalive: a link that silently stops passing packets is noticed within twice this")
	fs.StringVar(&s.OutboxSync, "outbox-sync", "grouped", "when readings reach the disk: grouped (within a second unless delivered by then) or always (every reading)")
	fs.IntVar(&s.OutboxMaxMB, "outbox-max-mb", 64, "disk budget of the outbox in MiB; beyond it the oldest readings are dropped")
	s.LogLevel = slog.LevelInfo
	fs.Var(cli.Level{L: &s.LogLevel}, "log-level", "debug, info, warn or error")
	brokerauth.Bind(fs, &s.Auth)
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
	switch s.OutboxSync {
	case "grouped":
		return outbox.SyncGrouped, nil
	case "always":
		return outbox.SyncAlways, nil
	}
	return 0, fmt.Errorf("%q: use grouped or always", s.OutboxSync)
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
