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
)

// runDemo runs the whole loop in one process: the embedded broker, the
// server, and a device on simulated hardware whose light follows a fast
// day/night curve, so the LED visibly follows the light both ways.
func runDemo(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("nightlight demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	duration := fs.Duration("duration", 0, "stop after this long (default: run until Ctrl-C)")
	interval := fs.Duration("interval", 500*time.Millisecond, "telemetry interval of the simulated device")
	period := fs.Duration("period", 10*time.Second, "length of the simulated day/night cycle")
	listen := fs.String("listen", "127.0.0.1:0", "address of the embedded broker (port 0: any free port)")
	id := fs.String("id", "nightlight-demo", "device id")
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return err
		}
		return &config.UsageError{Err: err}
	}
	if fs.NArg() > 0 {
		return &config.UsageError{Err: fmt.Errorf("unexpected argument %q", fs.Arg(0))}
	}

	log := cli.NewLogger(stdout, slog.LevelInfo)
	ctx, stop := cli.SignalContext()
	defer stop()
	if *duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, *duration)
		defer cancel()
	}

	// The broker's own chatter is for debugging it, not for the demo.
	b, err := broker.Start(*listen, cli.NewLogger(stderr, slog.LevelWarn).With("component", "broker"))
	if err != nil {
		return err
	}
	defer b.Close()
	fmt.Fprintf(stdout, "nightlight demo: broker on %s; watch it with: mosquitto_sub -h 127.0.0.1 -p %s -t '#' -v\n",
		b.URL(), b.Addr()[len("127.0.0.1:"):])
	fmt.Fprintf(stdout, "the simulated light follows a %s day/night cycle; the server switches the LED on below %d. Ctrl-C stops.\n",
		*period, control.DefaultThreshold)

	srv, err := control.New(control.Config{
		Broker:    b.URL(),
		ClientID:  "nightlight-server-demo",
		Device:    *id,
		Threshold: control.DefaultThreshold,
		Logger:    log.With("component", "server"),
	})
	if err != nil {
		return err
	}
	srvDone := make(chan error, 1)
	go func() { srvDone <- srv.Run(ctx) }()

	dir, err := os.MkdirTemp("", "nightlight-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	s := new(settings)
	bindSettings(flag.NewFlagSet("defaults", flag.ContinueOnError), s)
	s.ID, s.Broker, s.Hardware, s.StateDir = *id, b.URL(), "sim", dir
	s.Interval, s.SimPeriod = *interval, *period
	_, devErr := runDevice(ctx, s, log, nil, nil)
	stop()
	srvErr := <-srvDone
	if devErr != nil {
		return devErr
	}
	return srvErr
}
