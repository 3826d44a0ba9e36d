package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"nightlight/cmd/internal/brokerauth"
	"nightlight/mqtt/homeassistant"
	"nightlight/mqtt/link"
)

// runForget takes the device out of every reader's view for good: it
// clears, on the broker, the retained Home Assistant discovery config (under
// the prefix and id recorded and the configured ones) and the retained
// state, status and any retained command of the device, then the record of
// what was announced. The package's removal runs it once the daemon is
// stopped. It waits at most --timeout for the broker, and says what is
// left when the broker cannot be reached.
func runForget(args []string, stdout, stderr io.Writer) error {
	timeout := 10 * time.Second
	s, l, err := load("forget", args, stderr, func(fs *flag.FlagSet) {
		fs.DurationVar(&timeout, "timeout", timeout, "give up after this long without an answer from the broker")
	})
	if err != nil {
		return err
	}
	if err := noArgs(l); err != nil {
		return err
	}
	// The daemon would announce itself again at once.
	if err := checkDaemon(s.StateDir, "it would announce itself again at once: stop it first with \"sudo systemctl stop nightlight\""); err != nil {
		return err
	}
	auth, err := brokerauth.Load(s.Auth, s.Broker, l.Origin)
	if err != nil {
		return err
	}
	record := filepath.Join(s.StateDir, announcedFile)
	prev, err := loadRecord(record)
	if err != nil {
		fmt.Fprintf(stderr, "nightlight forget: %v; clearing what the configuration names\n", err)
	}
	msgs := homeassistant.Forget(prev, s.ID, s.HAPrefix)
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := clearRetained(ctx, s, auth, msgs, timeout); err != nil {
		return err
	}
	if err := os.Remove(record); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("cleared on the broker, but the record %s stays: %w", record, err)
	}
	for _, m := range msgs {
		fmt.Fprintf(stdout, "cleared %s\n", m.Topic)
	}
	return nil
}

// clearRetained publishes an empty retained message on each topic and
// waits for the broker's acknowledgements, all within ctx.
func clearRetained(ctx context.Context, s *settings, auth *brokerauth.Auth, msgs []homeassistant.Message, timeout time.Duration) error {
	l, err := link.New(link.Options{
		Broker:   s.Broker,
		ClientID: s.ID, // the daemon's: a broker's ACL may grant its topics by client id
		Username: auth.Username,
		Password: auth.Password,
		TLS:      auth.TLS,
		Timeout:  timeout,
	})
	if err != nil {
		return err
	}
	up := make(chan struct{}, 1)
	l.OnConnect(func() {
		select {
		case up <- struct{}{}:
		default:
		}
	})
	l.Start()
	defer l.Close()
	select {
	case <-up:
	case <-ctx.Done():
		why := ""
		if e := l.LastError(); e != nil {
			why = ": " + e.Error()
		}
		return fmt.Errorf("broker %s not reached within %s%s; nothing was cleared: run nightlight forget again once it can be reached", s.Broker, timeout, why)
	}
	for _, m := range msgs {
		if err := l.Publish(link.Message{Topic: m.Topic, Retained: true}).Wait(ctx); err != nil {
			return fmt.Errorf("clear %s: %w; run nightlight forget again", m.Topic, err)
		}
	}
	return nil
}
