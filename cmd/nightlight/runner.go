package main

import (
	"context"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"nightlight/cmd/internal/cli"
	"nightlight/cmd/internal/config"
	"nightlight/cmd/internal/device"
	"nightlight/systemd"
)

// runDaemon runs the device until SIGINT or SIGTERM. SIGHUP reloads: the
// configuration is read again from every source and, if it is valid, the
// device is restarted with it in-process (the outbox and its seq carry over,
// so no reading is lost); if it is not, the error is logged and the running
// device goes on untouched.
func runDaemon(args []string, stderr io.Writer) error {
	s, l, err := load("run", args, stderr, nil)
	if err != nil {
		return err
	}
	if err := noArgs(l); err != nil {
		return err
	}
	cli.OneProc()
	d := &runner{args: args, stderr: stderr, notifier: systemd.NewNotifier(), hup: make(chan os.Signal, 1), totals: newTotals()}
	ctx, stop := cli.SignalContext()
	defer stop()
	signal.Notify(d.hup, syscall.SIGHUP)
	defer signal.Stop(d.hup)
	return d.serve(ctx, s, l)
}

// runner runs the device, one run per configuration, until a stop signal:
// a reload ends one run and starts the next in the same process.
type runner struct {
	args     []string
	stderr   io.Writer
	notifier *systemd.Notifier
	hup      chan os.Signal
	totals   *totals // the metrics' counts, across runs
}

// deviceRun is one run of the device: its configuration, and what the previous
// run handed over.
type deviceRun struct {
	s      *settings
	l      *config.Loaded
	resume *device.Snapshot // the LED and connection state of the previous run
	prev   *settings        // the configuration before the last reload, to go back to
}

// serve runs the device on s and again on each configuration a reload
// brings, until ctx is done or a run fails.
func (d *runner) serve(ctx context.Context, s *settings, l *config.Loaded) error {
	r := deviceRun{s: s, l: l}
	for {
		next, err := d.runOnce(ctx, r)
		if err != nil || next == nil {
			return err
		}
		if ctx.Err() != nil {
			return nil // stopped while reloading: no new run
		}
		r = *next
	}
}

// runOnce runs the device on r until it ends. It returns the next run (a
// reload, or the previous configuration when a reloaded one does not run),
// or nil when the daemon is to stop.
func (d *runner) runOnce(ctx context.Context, r deviceRun) (*deviceRun, error) {
	log := systemd.NewLogger(d.stderr, r.s.LogLevel)
	if r.l.File != "" {
		log.Info("configuration", "file", r.l.File)
	}
	runCtx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	type result struct {
		snap *device.Snapshot
		err  error
	}
	done := make(chan result, 1)
	go func() {
		snap, err := runDevice(runCtx, r.s, log, d.notifier, r.resume, d.totals)
		done <- result{snap, err}
	}()
	for {
		select {
		case res := <-done:
			if res.err != nil && r.prev != nil && ctx.Err() == nil {
				// A reloaded configuration that passed the checks but does
				// not run (the hardware it names is not there): go back to
				// the one that ran.
				log.Error("the reloaded configuration does not run; going back to the previous one", "err", res.err)
				d.notifier.Ready()
				return &deviceRun{s: r.prev, l: r.l, resume: r.resume}, nil
			}
			return nil, res.err
		case <-ctx.Done():
			d.notifier.Stopping()
			return nil, (<-done).err // the device stops on the same signal
		case <-d.hup:
			next := d.reload(log, r)
			if next == nil {
				continue
			}
			cancel(device.ErrReload)
			res := <-done
			if res.err != nil {
				return nil, res.err
			}
			next.resume = res.snap
			return next, nil
		}
	}
}

// reload reads the configuration again. A bad one is refused (nil) and the
// running one stays.
func (d *runner) reload(log *slog.Logger, r deviceRun) *deviceRun {
	d.notifier.Reloading()
	ns, nl, err := load("run", d.args, io.Discard, nil)
	if err == nil {
		err = noArgs(nl)
	}
	if err != nil {
		log.Error("reload refused, the running configuration stays", "err", err)
		d.notifier.Ready()
		return nil
	}
	log.Info("reloading")
	return &deviceRun{s: ns, l: nl, prev: r.s}
}
