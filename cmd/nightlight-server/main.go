// The runtime would otherwise re-read the cgroup's CPU limit every second to
// adjust GOMAXPROCS: a wake-up a second for a server that is idle between
// readings. The limit is read once, at start.

//go:debug updatemaxprocs=0

// Command nightlight-server is the night light's control side: it follows
// the telemetry of one device (--id ID) or every device (--id +), decides
// led_on = light < threshold for each fresh reading, and sends the command.
//
//	nightlight-server [--config FILE] [flags]
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"nightlight/cmd/internal/brokerauth"
	"nightlight/cmd/internal/cli"
	"nightlight/cmd/internal/config"
	"nightlight/cmd/internal/control"
	"nightlight/cmd/internal/metrics"
	"nightlight/cmd/internal/setting/nightlightserver"
	"nightlight/mqtt/link"
	"nightlight/mqtt/wire"
	"nightlight/systemd"
)

// version is set at build time: -ldflags "-X main.version=1.2.3".
var version = "dev"

const defaultConfigFile = "/etc/nightlight/nightlight-server.yaml"

type settings struct {
	Broker     string
	ID         string
	ShareGroup string
	ClientID   string
	Threshold  int
	MaxAge     time.Duration
	Metrics    string // host:port of the metrics endpoint; "" for none
	LogLevel   slog.Level
	Auth       brokerauth.Settings // TLS, username and password for the broker
}

// bindSettings defines the settings as flags of fs, from their definitions
// in nightlightserver.Settings, and sets s to their defaults.
func bindSettings(fs *flag.FlagSet, s *settings) {
	nightlightserver.Settings.Bind(fs, map[string]any{
		"broker":         &s.Broker,
		"id":             &s.ID,
		"share-group":    &s.ShareGroup,
		"client-id":      &s.ClientID,
		"threshold":      &s.Threshold,
		"max-age":        &s.MaxAge,
		"metrics-listen": &s.Metrics,
		"log-level":      cli.Level{L: &s.LogLevel},
	}, brokerauth.Targets(&s.Auth))
}

const usage = `Usage:
  nightlight-server [--config FILE] [flags]
  nightlight-server version

Settings: each flag is also a key of the config file (max-age -> max_age)
and an environment variable (NIGHTLIGHT_SERVER_MAX_AGE); flag > environment > file > default.
  --config FILE  (default ` + defaultConfigFile + `; a missing default file is fine)

Flags:
`

func main() {
	os.Exit(cli.Exit("nightlight-server", run(os.Args[1:], os.Stdout, os.Stderr), os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) error {
	if len(args) == 1 && args[0] == "version" {
		fmt.Fprintf(stdout, "nightlight-server %s\n", version)
		return nil
	}
	s, l, err := load(args, stderr)
	if err != nil {
		return err
	}
	cli.OneProc()
	ctx, stop := cli.SignalContext()
	defer stop()
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	notifier := systemd.NewNotifier()
	r := &reloader{args: args, stderr: stderr, notifier: notifier, hup: hup, totals: newTotals()}
	run := loaded{s: s, l: l}
	for {
		next, err := r.runOnce(ctx, run)
		if next == nil || err != nil {
			return err
		}
		run = *next
	}
}

// reloader runs the server, one run per configuration: SIGHUP
// (systemctl reload) reads the configuration again and, if it is valid,
// restarts the server on it in-process.
type reloader struct {
	args     []string
	stderr   io.Writer
	notifier *systemd.Notifier
	hup      <-chan os.Signal
	totals   *totals // the metrics' counts, across runs
}

// loaded is a configuration to run, and, after a reload, the one that ran
// before it, to go back to.
type loaded struct {
	s    *settings
	l    *config.Loaded
	prev *loaded
}

// runOnce serves with run.s until ctx is done (nil: stop) or SIGHUP brings
// a valid configuration (the next one). A configuration that does not load
// is refused with its reason in the log, and the server goes on as it was;
// one that loads but does not run (its metrics port is taken) is dropped for
// the one that ran before.
func (r *reloader) runOnce(ctx context.Context, run loaded) (*loaded, error) {
	s, l := run.s, run.l
	log := systemd.NewLogger(r.stderr, s.LogLevel)
	if l.File != "" {
		log.Info("configuration", "file", l.File)
	}
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- serve(runCtx, s, log, r.notifier, r.totals) }()
	for {
		select {
		case err := <-done:
			if err != nil && run.prev != nil && ctx.Err() == nil {
				log.Error("the reloaded configuration does not run; going back to the previous one", "err", err)
				r.notifier.Ready()
				return run.prev, nil
			}
			return nil, err
		case <-ctx.Done():
			r.notifier.Stopping()
			return nil, <-done
		case <-r.hup:
			r.notifier.Reloading()
			ns, nl, err := load(r.args, io.Discard)
			if err != nil {
				log.Error("reload refused, the running configuration stays", "err", err)
				r.notifier.Ready()
				continue
			}
			log.Info("reloading")
			cancel()
			if err := <-done; err != nil {
				return nil, err
			}
			return &loaded{s: ns, l: nl, prev: &loaded{s: s, l: l}}, nil
		}
	}
}

// load reads the settings from every source and checks them, TLS and
// password files included, so that a reload can refuse a bad one before
// it stops the running server.
func load(args []string, stderr io.Writer) (*settings, *config.Loaded, error) {
	s := new(settings)
	spec := config.Spec{
		Name:        "nightlight-server",
		EnvPrefix:   nightlightserver.Settings.EnvPrefix,
		DefaultFile: defaultConfigFile,
		Output:      stderr,
		Bind:        func(fs *flag.FlagSet) { bindSettings(fs, s) },
		Usage: func(fs *flag.FlagSet) {
			fmt.Fprint(fs.Output(), usage)
			fs.PrintDefaults()
		},
	}
	l, err := spec.Load(args)
	if err != nil {
		return nil, nil, err
	}
	if len(l.Args) > 0 {
		return nil, nil, &config.UsageError{Err: fmt.Errorf("unexpected argument %q", l.Args[0])}
	}
	if s.Threshold < wire.MinLight || s.Threshold > wire.MaxLight+1 {
		return nil, nil, config.Errorf("threshold (%s): %d is outside the light scale: use 0..1001", l.Origin("threshold"), s.Threshold)
	}
	if err := wire.ValidShareGroup(s.ShareGroup); s.ShareGroup != "" && err != nil {
		return nil, nil, config.Errorf("share_group (%s): %v", l.Origin("share-group"), err)
	}
	if s.MaxAge <= 0 {
		return nil, nil, config.Errorf("max_age (%s): %s: use a positive duration such as 30s", l.Origin("max-age"), s.MaxAge)
	}
	if err := cli.CheckListen(s.Metrics); err != nil {
		return nil, nil, config.Errorf("metrics_listen (%s): %v", l.Origin("metrics-listen"), err)
	}
	if _, err := brokerauth.Load(s.Auth, s.Broker, l.Origin); err != nil {
		return nil, nil, err
	}
	return s, l, nil
}

// serve builds the server's connection and the server on it, and runs them
// until ctx is done. t, the totals across reloads, may be nil.
func serve(ctx context.Context, s *settings, log *slog.Logger, sup control.Supervisor, t *totals) error {
	if t == nil {
		t = newTotals()
	}
	// The metrics port first: one in use is a configuration error. It
	// answers once the connection exists.
	var conn *link.Link
	var ms *metrics.Server
	if s.Metrics != "" {
		var err error
		ms, err = metrics.Listen(s.Metrics, func(w *metrics.Writer) { writeServerMetrics(w, conn, t) }, log.With("component", "metrics"))
		if err != nil {
			return config.Errorf("%v", err)
		}
		defer ms.Close()
	}
	auth, err := brokerauth.Load(s.Auth, s.Broker, nil)
	if err != nil {
		return err
	}
	for _, w := range auth.Warnings() {
		log.Warn(w)
	}
	conn, err = link.New(link.Options{
		Broker:   s.Broker,
		ClientID: s.ClientID,
		Username: auth.Username,
		Password: auth.Password,
		TLS:      auth.TLS,
		Logger:   log,
	})
	if err != nil {
		return config.Errorf("%v", err)
	}
	srv, err := control.New(control.Config{
		Device:     s.ID,
		ShareGroup: s.ShareGroup,
		Threshold:  s.Threshold,
		MaxAge:     s.MaxAge,
		Logger:     log,
		Supervisor: sup,
		Counters:   &t.ctl,
	}, conn)
	if err != nil {
		return config.Errorf("%v", err)
	}
	if ms != nil {
		ms.Serve()
	}
	conn.Start()
	defer conn.Close()
	return srv.Run(ctx)
}
