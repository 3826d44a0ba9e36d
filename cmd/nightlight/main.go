// The runtime would otherwise re-read the cgroup's CPU limit every second to
// adjust GOMAXPROCS: a wake-up a second, most of the CPU this daemon spends at
// steady light when its sensor wakes it. The limit is read once, at start.

//go:debug updatemaxprocs=0

// Command nightlight is the night light's device daemon: it reads the light
// sensor, publishes telemetry over MQTT, obeys commands by switching the LED,
// and keeps every reading in an on-disk outbox while the broker is away.
//
//	nightlight [run] [--config FILE] [flags]  the device daemon (default command)
//	nightlight demo                            broker + server + simulated device in one process
//	nightlight read                            read the light sensor once and print it
//	nightlight led on|off                      drive the LED directly
//	nightlight check-config [--config FILE]    validate the configuration and exit
//	nightlight forget [--timeout D]            clear the device's retained messages for good
//	nightlight version
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"

	"nightlight/cmd/internal/brokerauth"
	"nightlight/cmd/internal/cli"
	"nightlight/cmd/internal/config"
	"nightlight/cmd/internal/device"
	"nightlight/cmd/internal/metrics"
	"nightlight/cmd/internal/setting/nightlight"
	"nightlight/hw/board"
	"nightlight/mqtt/link"
	"nightlight/mqtt/outbox"
	"nightlight/mqtt/wire"
)

// version is set at build time: -ldflags "-X main.version=1.2.3".
var version = "dev"

func main() {
	os.Exit(cli.Exit("nightlight", dispatch(os.Args[1:], os.Stdout, os.Stderr), os.Stderr))
}

const usage = `Usage:
  nightlight [run] [--config FILE] [flags]  the device daemon (default command)
  nightlight demo [--duration D]             broker + server + simulated device in one process
  nightlight read [--verbose] [flags]        read the light sensor once and print it
  nightlight led on|off [flags]              drive the LED directly
  nightlight check-config [--config FILE]    validate the configuration and exit
  nightlight forget [--timeout D] [flags]    clear the device's retained messages on the broker
                                             (Home Assistant's config, state, status) for good
  nightlight version

Settings: each flag is also a key of the config file (state-dir -> state_dir)
and an environment variable (NIGHTLIGHT_STATE_DIR); flag > environment > file > default.
  --config FILE  (default ` + defaultConfigFile + `; a missing default file is fine)
`

func dispatch(args []string, stdout, stderr io.Writer) error {
	cmd := "run"
	if len(args) > 0 && len(args[0]) > 0 && args[0][0] != '-' {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "run":
		return runDaemon(args, stderr)
	case "demo":
		return runDemo(args, stdout, stderr)
	case "read":
		return runRead(args, stdout, stderr)
	case "led":
		return runLED(args, stdout, stderr)
	case "check-config":
		return runCheck(args, stdout, stderr)
	case "forget":
		return runForget(args, stdout, stderr)
	case "version":
		fmt.Fprintf(stdout, "nightlight %s\n", version)
		return nil
	case "help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	return &config.UsageError{Err: fmt.Errorf("unknown command %q: use run, demo, read, led, check-config, forget or version", cmd)}
}

// load reads the settings from every source and checks them; extra binds
// command-specific flags that are not settings.
func load(cmdName string, args []string, stderr io.Writer, extra func(*flag.FlagSet)) (*settings, *config.Loaded, error) {
	s := new(settings)
	spec := config.Spec{
		Name:        "nightlight " + cmdName,
		EnvPrefix:   nightlight.Settings.EnvPrefix,
		DefaultFile: defaultConfigFile,
		Output:      stderr,
		Bind: func(fs *flag.FlagSet) {
			bindSettings(fs, s)
			if extra != nil {
				extra(fs)
			}
		},
		Usage: func(fs *flag.FlagSet) {
			fmt.Fprint(fs.Output(), usage, "\nFlags of 'nightlight "+cmdName+"':\n")
			fs.PrintDefaults()
		},
	}
	l, err := spec.Load(args)
	if err != nil {
		return nil, nil, err
	}
	if err := s.check(l); err != nil {
		return nil, nil, err
	}
	return s, l, nil
}

func noArgs(l *config.Loaded) error {
	if len(l.Args) > 0 {
		return &config.UsageError{Err: fmt.Errorf("unexpected argument %q", l.Args[0])}
	}
	return nil
}

// runDevice opens the hardware and the outbox, runs the device until ctx is
// done, and closes what it opened in reverse order. sup and resume may be
// nil; t, the daemon's totals across reloads, too (a run of its own then).
// When ctx ends with device.ErrReload as its cause the LED is left as it
// is, and the returned snapshot hands its state to the next run.
func runDevice(ctx context.Context, s *settings, log *slog.Logger, sup device.Supervisor, resume *device.Snapshot, t *totals) (*device.Snapshot, error) {
	if t == nil {
		t = newTotals()
	}
	// The metrics port first: one in use is a configuration error, found
	// before the hardware is touched. It answers once the device exists.
	var d *device.Device
	ms, err := listenMetrics(s, log, func(w *metrics.Writer) { writeDeviceMetrics(w, d, t) })
	if err != nil {
		return nil, err
	}
	if ms != nil {
		defer ms.Close()
	}
	auth, err := brokerauth.Load(s.Auth, s.Broker, nil)
	if err != nil {
		return nil, err
	}
	for _, w := range auth.Warnings() {
		log.Warn(w)
	}
	bc := s.board()
	if resume != nil {
		bc.LEDOn = resume.LEDOn // taken over as the previous run left it: no blink
	}
	b, err := board.Open(bc)
	if err != nil {
		return nil, err
	}
	defer func() {
		if errors.Is(context.Cause(ctx), device.ErrReload) {
			b.Release() // the LED stays as it is for the next run
		} else {
			b.Close()
		}
	}()
	log.Info("hardware", "board", b.String())
	ob, err := openOutbox(s, log)
	if err != nil {
		return nil, err
	}
	defer func() {
		st := ob.Stats()
		t.ended(st.Dropped, st.Damaged)
		if err := ob.Close(); err != nil {
			log.Error("outbox close", "err", err)
		}
	}()
	l, err := newLink(s, auth, log)
	if err != nil {
		return nil, config.Errorf("%v", err)
	}
	an, err := announcement(s, b.String(), log.With("component", "homeassistant"))
	if err != nil {
		return nil, config.Errorf("%v", err)
	}
	cfg := deviceConfig(s, log)
	cfg.Counters, cfg.Announce, cfg.Supervisor, cfg.Resume = &t.dev, an, sup, resume
	d, err = device.New(cfg, b, ob, l)
	if err != nil {
		return nil, config.Errorf("%v", err)
	}
	if ms != nil {
		ms.Serve()
	}
	log.Info("starting", "id", s.ID, "broker", s.Broker, "interval", s.Interval, "version", version)
	l.Start()
	defer l.Close()
	if err := d.Run(ctx); err != nil {
		return nil, err
	}
	snap := d.Snapshot()
	return &snap, nil
}

// listenMetrics binds the metrics endpoint, when metrics_listen is set; a
// port in use is a configuration error. write answers each scrape.
func listenMetrics(s *settings, log *slog.Logger, write func(*metrics.Writer)) (*metrics.Server, error) {
	if s.MetricsListen == "" {
		return nil, nil
	}
	ms, err := metrics.Listen(s.MetricsListen, write, log.With("component", "metrics"))
	if err != nil {
		return nil, config.Errorf("%v", err)
	}
	return ms, nil
}

// deviceConfig is the device's behaviour from the settings.
func deviceConfig(s *settings, log *slog.Logger) device.Config {
	return device.Config{
		ID:            s.ID,
		Interval:      s.Interval,
		SampleEvery:   s.SampleEvery,
		Deadband:      s.Deadband,
		PublishGap:    s.PublishGap,
		Threshold:     s.Threshold,
		FallbackAfter: s.FallbackAfter,
		MaxCommandAge: s.MaxCommandAge,
		Version:       version,
		Logger:        log.With("component", "device"),
		Keeper:        device.FileKeeper(filepath.Join(s.StateDir, choicesFile)),
	}
}

// openOutbox opens the outbox in the state directory.
func openOutbox(s *settings, log *slog.Logger) (*outbox.Outbox, error) {
	mode, _ := s.syncMode() // checked by load
	ob, err := outbox.Open(s.StateDir, outbox.Options{
		Sync:     mode,
		MaxBytes: int64(s.OutboxMaxMB) << 20,
		Logger:   log.With("component", "outbox"),
	})
	if err != nil {
		return nil, fmt.Errorf("state_dir %s: %w", s.StateDir, err)
	}
	return ob, nil
}

// newLink prepares the device's connection, with its retained status as
// birth and Last Will.
func newLink(s *settings, auth *brokerauth.Auth, log *slog.Logger) (*link.Link, error) {
	return link.New(link.Options{
		Broker:    s.Broker,
		ClientID:  s.ID,
		Username:  auth.Username,
		Password:  auth.Password,
		TLS:       auth.TLS,
		KeepAlive: s.KeepAlive,
		Birth:     statusMessage(s.ID, wire.StatusOnline),
		Will:      statusMessage(s.ID, wire.StatusOffline),
		Logger:    log.With("component", "link"),
	})
}

// choicesFile, in the state directory beside the outbox, keeps a person's
// mode and threshold across restarts and reloads.
const choicesFile = "choices.json"

// statusMessage is the device's retained status: online as the birth
// message of every connection, offline as its Last Will.
func statusMessage(id, status string) *link.Message {
	return &link.Message{Topic: wire.Topic(id, wire.KindStatus), Payload: []byte(status), Retained: true}
}

func runRead(args []string, stdout, stderr io.Writer) error {
	var verbose bool
	s, l, err := load("read", args, stderr, func(fs *flag.FlagSet) {
		fs.BoolVar(&verbose, "verbose", false, "print every register of the sensor, not just the light level")
	})
	if err != nil {
		return err
	}
	if err := noArgs(l); err != nil {
		return err
	}
	// The sensor alone: the daemon may be running and holding the LED.
	b, err := board.OpenSensor(s.oneShotBoard())
	if err != nil {
		return err
	}
	defer b.Close()
	if verbose {
		d, err := b.Inspect()
		if err != nil {
			return err
		}
		fmt.Fprintln(stdout, d.String())
		return nil
	}
	v, err := b.Light()
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "light: %d\n", v)
	return nil
}

func runLED(args []string, stdout, stderr io.Writer) error {
	s, l, err := load("led", args, stderr, nil)
	if err != nil {
		return err
	}
	if len(l.Args) != 1 || (l.Args[0] != "on" && l.Args[0] != "off") {
		return &config.UsageError{Err: errors.New("say which: nightlight led on, or nightlight led off")}
	}
	on := l.Args[0] == "on"
	// The daemon decides the LED while it runs; a second driver would be
	// undone at its next decision, or go unnoticed by it.
	if err := checkDaemon(s.StateDir, "it drives the LED: stop it first with \"sudo systemctl stop nightlight\" (it switches the LED off), or take the LED over with {\"mode\": \"on\"} on its commands topic"); err != nil {
		return err
	}
	b, err := board.Open(s.oneShotBoard())
	if err != nil {
		return err
	}
	// Release, not Close: the LED is meant to stay as set after we exit.
	defer b.Release()
	if err := b.SetLED(on); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "LED %s (%s)\n", l.Args[0], b.String())
	return nil
}

func runCheck(args []string, stdout, stderr io.Writer) error {
	s, l, err := load("check-config", args, stderr, nil)
	if err != nil {
		return err
	}
	if err := noArgs(l); err != nil {
		return err
	}
	file := l.File
	if file == "" {
		file = "none (defaults, environment and flags only)"
	}
	fmt.Fprintf(stdout, "configuration OK\n  file: %s\n  id: %s\n  broker: %s\n  hardware: %s\n  interval: %s\n  state_dir: %s\n",
		file, s.ID, s.Broker, s.Hardware, s.Interval, s.StateDir)
	auth, err := brokerauth.Load(s.Auth, s.Broker, l.Origin)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "  broker security: %s\n", auth)
	for _, w := range auth.Warnings() {
		fmt.Fprintf(stdout, "warning: %s\n", w)
	}
	return nil
}
