package control

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"nightlight/mqtt/link"
	"nightlight/mqtt/link/linktest"
	"nightlight/mqtt/mqtttest"
	"nightlight/mqtt/wire"
)

func startServer(t *testing.T, url, device string) *mqtttest.Log {
	t.Helper()
	logs := new(mqtttest.Log)
	conn, err := link.New(link.Options{Broker: url, ClientID: "server-under-test", Logger: slog.New(slog.NewTextHandler(logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := New(Config{Device: device, Threshold: 300, MaxAge: 30 * time.Second,
		Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))}, conn)
	if err != nil {
		t.Fatal(err)
	}
	conn.Start()
	t.Cleanup(conn.Close)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	logs.WaitFor(t, 10*time.Second, "msg=connected")
	time.Sleep(100 * time.Millisecond) // connected is logged once subscribed; let the broker settle
	return logs
}

func telemetry(light int, seq uint64, ts time.Time) []byte {
	return wire.Telemetry{Light: light, Seq: seq, TS: ts}.AppendJSON(nil)
}

// next returns the next command within timeout, or false.
func next(ch <-chan paho.Message, timeout time.Duration) (wire.Command, string, bool) {
	select {
	case m := <-ch:
		c, _ := wire.ParseCommand(m.Payload())
		return c, m.Topic(), true
	case <-time.After(timeout):
		return wire.Command{}, "", false
	}
}

// TestHistoryNeverDrivesTheLED: only fresh readings become commands; a
// replayed backlog (older than max_age, or older than the newest reading
// seen) is logged and left alone.
func TestHistoryNeverDrivesTheLED(t *testing.T) {
	b := mqtttest.Embedded(t)
	logs := startServer(t, b.URL(), wire.AllDevices)
	c := mqtttest.Client(t, b.URL(), "device-stand-in")
	cmds := mqtttest.Messages(t, c, "+/commands")
	now := time.Now()

	steps := []struct {
		name    string
		device  string
		payload []byte
		want    *bool // the command, or nil for none
		log     string
	}{
		{"fresh dark", "d1", telemetry(100, 10, now), ptr(true), "telemetry received"},
		{"replayed hour-old", "d1", telemetry(900, 3, now.Add(-time.Hour)), nil, "telemetry from history"},
		{"older than newest", "d1", telemetry(900, 9, now.Add(-time.Second)), nil, "older than the newest"},
		{"fresh bright", "d1", telemetry(900, 11, now.Add(time.Millisecond)), ptr(false), "telemetry received"},
		{"other device, own clock", "d2", telemetry(100, 1, now.Add(-2*time.Second)), ptr(true), "telemetry received"},
		{"lesson payload, no ts", "d3", []byte(`{"light": 299}`), ptr(true), "telemetry received"},
		{"junk", "d3", []byte(`{"light": "dark"}`), nil, "telemetry refused"},
		{"from the future", "d4", telemetry(100, 5, now.Add(time.Hour)), nil, "from the future"},
		{"right clock after a future one", "d4", telemetry(100, 6, now.Add(time.Second)), ptr(true), "telemetry received"},
		{"clock 10 s fast", "d5", telemetry(100, 1, now.Add(10*time.Second)), ptr(true), "telemetry received"},
		{"same fast clock, next reading", "d5", telemetry(800, 2, now.Add(11*time.Second)), ptr(false), "telemetry received"},
	}
	for _, s := range steps {
		mqtttest.Publish(t, c, s.device+"/telemetry", s.payload, false)
		wait := 5 * time.Second
		if s.want == nil {
			// The server has decided once it logs why; a wrong command
			// would be on its way by then. Commands arrive in order, so
			// one coming later still shows up at the next step, or at the
			// check after the last.
			logs.WaitFor(t, wait, s.log)
			wait = 200 * time.Millisecond
		}
		cmd, topic, ok := next(cmds, wait)
		switch {
		case s.want == nil && ok:
			t.Errorf("%s: sent %+v on %s, want no command", s.name, cmd, topic)
		case s.want != nil && !ok:
			t.Errorf("%s: no command, want led_on %v", s.name, *s.want)
		case s.want != nil && (cmd.LEDOn != *s.want || topic != s.device+"/commands" || cmd.TS.IsZero()):
			t.Errorf("%s: got %+v on %s, want led_on %v with a ts on %s/commands", s.name, cmd, topic, *s.want, s.device)
		}
		if !strings.Contains(logs.String(), s.log) {
			t.Errorf("%s: log does not say %q", s.name, s.log)
		}
	}
	if cmd, topic, ok := next(cmds, 500*time.Millisecond); ok {
		t.Errorf("after the last step: sent %+v on %s, want no command", cmd, topic)
	}
	if t.Failed() {
		fmt.Println(logs.String())
	}
}

func ptr(b bool) *bool { return &b }

func TestNewRefuses(t *testing.T) {
	for _, device := range []string{"a/b", "#", "", "a+b"} {
		if _, err := New(Config{Device: device}, linktest.New()); err == nil {
			t.Errorf("New with device %q = nil error", device)
		}
	}
}

// countingSupervisor counts the watchdog pings of a server.
type countingSupervisor struct {
	unsupervised
	wd    time.Duration
	pings atomic.Int64
}

func (c *countingSupervisor) Watchdog() error                 { c.pings.Add(1); return nil }
func (c *countingSupervisor) WatchdogInterval() time.Duration { return c.wd }

// TestWatchdogPings: the server pings at its watchdog interval, also when
// that is shorter than the second its status line waits, and also while
// readings keep its loop busy.
func TestWatchdogPings(t *testing.T) {
	sup := &countingSupervisor{wd: 50 * time.Millisecond}
	conn := linktest.New()
	srv, err := New(Config{Device: wire.AllDevices, Threshold: 300, Supervisor: sup}, conn)
	if err != nil {
		t.Fatal(err)
	}
	conn.Connect()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	defer func() { cancel(); <-done }()
	stop := time.After(time.Second)
	for seq := uint64(1); ; seq++ {
		select {
		case <-stop:
			// 20 intervals of 50 ms: far more than 1 ping a second, allowing
			// for a slow machine.
			if n := sup.pings.Load(); n < 8 {
				t.Fatalf("%d watchdog pings in 1 s with a 50 ms interval", n)
			}
			return
		default:
		}
		r := wire.Telemetry{Light: 100, Seq: seq, TS: time.Now()}
		conn.Deliver(link.Message{Topic: "busy/telemetry", Payload: r.AppendJSON(nil)})
		<-conn.Published()
		time.Sleep(time.Millisecond)
	}
}
