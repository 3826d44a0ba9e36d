package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"nightlight/cmd/internal/cli"
	"nightlight/cmd/internal/control"
	"nightlight/mqtt/link"
	"nightlight/mqtt/mqtttest"
	"nightlight/mqtt/wire"
)

// testSettings are the daemon's defaults with simulated hardware reading
// the light from a file, a private state dir and a short interval.
func testSettings(t *testing.T, brokerURL, id string, interval time.Duration) (*settings, string) {
	t.Helper()
	s := new(settings)
	bindSettings(flag.NewFlagSet("test", flag.ContinueOnError), s)
	light := filepath.Join(t.TempDir(), "light")
	setLight(t, light, 500)
	s.ID, s.Broker, s.Hardware, s.SimLight = id, brokerURL, "sim", light
	s.StateDir = t.TempDir()
	s.Interval = interval
	return s, light
}

func setLight(t *testing.T, file string, level int) {
	t.Helper()
	setLightText(t, file, fmt.Sprintf("%d\n", level))
}

func setLightText(t *testing.T, file, text string) {
	t.Helper()
	// Write and rename, so the device never reads a half-written file.
	tmp := file + ".tmp"
	if err := os.WriteFile(tmp, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, file); err != nil {
		t.Fatal(err)
	}
}

// startDevice runs the daemon in-process until the test ends; its log goes
// to the returned buffer.
func startDevice(t *testing.T, s *settings) *mqtttest.Log {
	t.Helper()
	logs := new(mqtttest.Log)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := runDevice(ctx, s, cli.NewLogger(logs, slog.LevelDebug), nil, nil, nil)
		done <- err
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("device stopped with %v", err)
			}
		case <-time.After(15 * time.Second):
			t.Errorf("device did not stop within 15s; log:\n%s", logs.String())
		}
	})
	return logs
}

// startServer runs the control server in-process until the test ends.
func startServer(t *testing.T, brokerURL, id string) *mqtttest.Log {
	t.Helper()
	logs := new(mqtttest.Log)
	log := cli.NewLogger(logs, slog.LevelDebug)
	conn, err := link.New(link.Options{Broker: brokerURL, ClientID: "server-" + id, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := control.New(control.Config{Device: id, Threshold: wire.DefaultThreshold, Logger: log}, conn)
	if err != nil {
		t.Fatal(err)
	}
	conn.Start()
	t.Cleanup(conn.Close) // after the server's own cleanup below
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("server stopped with %v", err)
			}
		case <-time.After(15 * time.Second):
			t.Errorf("server did not stop within 15s")
		}
	})
	// Subscribed before anything else starts: a device's first reading
	// must not pass by unseen.
	logs.WaitFor(t, 10*time.Second, "msg=connected")
	return logs
}

// states follows a device's retained state topic.
func states(t *testing.T, c paho.Client, id string) <-chan paho.Message {
	return mqtttest.Messages(t, c, wire.Topic(id, wire.KindState))
}

// waitState waits for a state message that satisfies ok and returns it.
func waitState(t *testing.T, ch <-chan paho.Message, timeout time.Duration, what string, ok func(wire.State) bool) wire.State {
	t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case m := <-ch:
			s, err := wire.ParseState(m.Payload())
			if err != nil {
				t.Fatalf("bad state message %q: %v", m.Payload(), err)
			}
			if ok(s) {
				return s
			}
		case <-deadline:
			t.Fatalf("no state with %s within %s", what, timeout)
		}
	}
}

func ledIs(on bool, source string) func(wire.State) bool {
	return func(s wire.State) bool { return s.LEDOn == on && s.Source == source }
}

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// binary builds the nightlight command once per test run.
func binary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "nightlight-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "nightlight")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// TestMain runs more tests at once than go test's default of one per core.
// Nearly every test here starts a daemon and a broker and then waits on
// them (intervals, keepalives, reconnects, a killed child coming back), so
// at one per core the package spends most of its minute idle. An explicit
// -parallel wins.
func TestMain(m *testing.M) {
	flag.Parse()
	explicit := false
	flag.Visit(func(f *flag.Flag) { explicit = explicit || f.Name == "test.parallel" })
	if !explicit {
		flag.Set("test.parallel", "8")
	}
	code := m.Run()
	if binPath != "" {
		os.RemoveAll(filepath.Dir(binPath))
	}
	os.Exit(code)
}
