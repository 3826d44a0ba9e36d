package systemd_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"nightlight/systemd"
)

// The shape of a daemon's main loop under systemd: READY once it can work,
// STATUS as its state changes, a watchdog ping on every pass of the loop,
// RELOADING/READY around a SIGHUP, STOPPING once it is about to exit.
func ExampleNotifier() {
	log := systemd.NewLogger(os.Stderr, slog.LevelInfo)
	n := systemd.NewNotifier()

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)

	tick := time.NewTicker(5 * time.Second)
	defer tick.Stop()
	// Wake at least as often as the watchdog wants a ping.
	var watchdog <-chan time.Time
	if d := n.WatchdogInterval(); d > 0 {
		t := time.NewTicker(d)
		defer t.Stop()
		watchdog = t.C
	}

	n.Ready()
	for readings := 0; ; {
		n.Watchdog()
		n.Status(fmt.Sprintf("%d readings", readings))
		select {
		case <-ctx.Done():
			n.Stopping()
			log.Info("stopping")
			return
		case <-hup:
			n.Reloading()
			log.Info("reloading") // read the configuration again
			n.Ready()
		case <-tick.C:
			readings++
		case <-watchdog:
		}
	}
}
