//go:build !nodemo

// The demo ships in builds from source (go run ./cmd/nightlight demo), not in
// the packages: they build with -tags nodemo, which leaves the embedded
// broker and the server out of the daemon (demo_off.go).

package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"nightlight/cmd/internal/cli"
	"nightlight/cmd/internal/config"
	"nightlight/cmd/internal/control"
	"nightlight/mqtt/broker"
	"nightlight/mqtt/link"
	"nightlight/mqtt/wire"
)

// demoOptions are the demo's flags.
type demoOptions struct {
	duration, interval, period time.Duration
	listen, id                 string
	log                        bool
}

func parseDemo(args []string, stderr io.Writer) (demoOptions, error) {
	var o demoOptions
	fs := flag.NewFlagSet("nightlight demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.DurationVar(&o.duration, "duration", 0, "stop after this long (default: run until Ctrl-C)")
	fs.DurationVar(&o.interval, "interval", 500*time.Millisecond, "telemetry interval of the simulated device")
	fs.DurationVar(&o.period, "period", 10*time.Second, "length of the simulated day/night cycle")
	fs.StringVar(&o.listen, "listen", "127.0.0.1:0", "address of the embedded broker (port 0: any free port)")
	fs.StringVar(&o.id, "id", "nightlight-demo", "device id")
	fs.BoolVar(&o.log, "log", false, "print the programs' raw logs instead of the live view")
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return o, err
		}
		return o, &config.UsageError{Err: err}
	}
	if fs.NArg() > 0 {
		return o, &config.UsageError{Err: fmt.Errorf("unexpected argument %q", fs.Arg(0))}
	}
	if err := wire.ValidID(o.id); err != nil {
		return o, &config.UsageError{Err: fmt.Errorf("--id: %w", err)}
	}
	return o, nil
}

// runDemo runs the whole loop in one process: the embedded broker, the
// server, and a device on simulated hardware whose light follows a fast
// day/night curve, so the LED visibly follows the light both ways. A live
// view, itself an MQTT client of the broker, shows each change on one line;
// --log shows the programs' logs instead.
func runDemo(args []string, stdout, stderr io.Writer) error {
	o, err := parseDemo(args, stderr)
	if err != nil {
		return err
	}
	ctx, stop := cli.SignalContext()
	defer stop()
	if o.duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, o.duration)
		defer cancel()
	}
	// The logs: all of them with --log; otherwise only what went wrong.
	log := cli.NewLogger(stderr, slog.LevelWarn)
	if o.log {
		log = cli.NewLogger(stdout, slog.LevelDebug) // the server's reading and command lines are debug
	}

	// The broker's own chatter (a warning for each connection still open as
	// it closes) is for debugging it, not for the demo.
	b, err := broker.Start(o.listen, cli.NewLogger(stderr, slog.LevelError).With("component", "broker"))
	if err != nil {
		return err
	}
	defer b.Close()
	fmt.Fprintf(stdout, "nightlight demo: broker on %s; watch it with: mosquitto_sub -h 127.0.0.1 -p %s -t '#' -v\n",
		b.URL(), b.Addr()[len("127.0.0.1:"):])
	fmt.Fprintf(stdout, "the simulated light follows a %s day/night cycle; the server switches the LED on below %d. Ctrl-C stops.\n",
		o.period, wire.DefaultThreshold)

	if !o.log {
		v, err := startView(b.URL(), o.id, stdout)
		if err != nil {
			return err
		}
		defer v.close()
	}
	srvDone, err := startDemoServer(ctx, b.URL(), o.id, log.With("component", "server"))
	if err != nil {
		return err
	}
	devErr := runDemoDevice(ctx, b.URL(), o, log)
	stop()
	srvErr := <-srvDone
	if devErr != nil {
		return devErr
	}
	return srvErr
}

// startDemoServer runs the server until ctx is done; its result arrives on
// the returned channel once it has stopped and disconnected.
func startDemoServer(ctx context.Context, url, id string, log *slog.Logger) (<-chan error, error) {
	conn, err := link.New(link.Options{Broker: url, ClientID: "nightlight-server-demo", Logger: log})
	if err != nil {
		return nil, err
	}
	srv, err := control.New(control.Config{Device: id, Threshold: wire.DefaultThreshold, Logger: log}, conn)
	if err != nil {
		return nil, err
	}
	conn.Start()
	done := make(chan error, 1)
	go func() {
		err := srv.Run(ctx)
		conn.Close()
		done <- err
	}()
	return done, nil
}

// runDemoDevice runs the daemon's own device, on simulated hardware and a
// throwaway state directory, until ctx is done.
func runDemoDevice(ctx context.Context, url string, o demoOptions, log *slog.Logger) error {
	dir, err := os.MkdirTemp("", "nightlight-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	s := new(settings)
	bindSettings(flag.NewFlagSet("defaults", flag.ContinueOnError), s)
	s.ID, s.Broker, s.Hardware, s.StateDir = o.id, url, "sim", dir
	s.Interval, s.SimPeriod = o.interval, o.period
	_, err = runDevice(ctx, s, log, nil, nil, nil)
	return err
}
