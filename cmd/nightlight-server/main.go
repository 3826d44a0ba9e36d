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
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"nightlight/cmd/internal/brokerauth"
	"nightlight/cmd/internal/cli"
	"nightlight/cmd/internal/config"
	"nightlight/cmd/internal/control"
	"nightlight/cmd/internal/setting/nightlightserver"
	"nightlight/mqtt/link"
	"nightlight/mqtt/wire"
	"nightlight/systemd"
)

// version is set at build time: -ldflags "-X main.version=1.2.3".
var version = "dev"

const defaultConfigFile = "/etc/nightlight/nightlight-server.yaml"

type settings struct {
	Broker    string
	ID        string
	ClientID  string
	Threshold int
	MaxAge    time.Duration
	LogLevel  slog.Level
	Auth      brokerauth.Settings // TLS, username and password for the broker
}

// bindSettings defines the settings as flags of fs, from their definitions
// in nightlightserver.Settings, and sets s to their defaults.
func bindSettings(fs *flag.FlagSet, s *settings) {
	nightlightserver.Settings.Bind(fs, map[string]any{
		"broker":    &s.Broker,
		"id":        &s.ID,
		"client-id": &s.ClientID,
		"threshold": &s.Threshold,
		"max-age":   &s.MaxAge,
		"log-level": cli.Level{L: &s.LogLevel},
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
		return err
	}
	if len(l.Args) > 0 {
		return &config.UsageError{Err: fmt.Errorf("unexpected argument %q", l.Args[0])}
	}
	if s.Threshold < wire.MinLight || s.Threshold > wire.MaxLight+1 {
		return config.Errorf("threshold (%s): %d is outside the light scale: use 0..1001", l.Origin("threshold"), s.Threshold)
	}
	if s.MaxAge <= 0 {
		return config.Errorf("max_age (%s): %s: use a positive duration such as 30s", l.Origin("max-age"), s.MaxAge)
	}
	auth, err := brokerauth.Load(s.Auth, s.Broker, l.Origin)
	if err != nil {
		return err
	}
	log := systemd.NewLogger(stderr, s.LogLevel)
	for _, w := range auth.Warnings() {
		log.Warn(w)
	}
	conn, err := link.New(link.Options{
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
		Threshold:  s.Threshold,
		MaxAge:     s.MaxAge,
		Logger:     log,
		Supervisor: systemd.NewNotifier(),
	}, conn)
	if err != nil {
		return config.Errorf("%v", err)
	}
	cli.OneProc()
	ctx, stop := cli.SignalContext()
	defer stop()
	conn.Start()
	defer conn.Close()
	return srv.Run(ctx)
}
