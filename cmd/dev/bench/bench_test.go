package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"nightlight/mqtt/mosquitto"
)

// TestHarness runs a short version of the benchmark, so the harness cannot
// rot. The figures are reported, never gated: it checks only that the table
// is complete and the numbers are sane. It runs both systems for about two
// minutes, so the everyday test command leaves it out; CI runs it with
// NIGHTLIGHT_BENCH_HARNESS=1.
func TestHarness(t *testing.T) {
	if os.Getenv("NIGHTLIGHT_BENCH_HARNESS") != "1" {
		t.Skip("runs both systems for about two minutes: set NIGHTLIGHT_BENCH_HARNESS=1 to run it (CI does)")
	}
	if _, err := mosquitto.Path(); err != nil {
		missingTool(t, err)
	}
	o := defaultOptions()
	if _, err := checkPython(context.Background(), o.Python); err != nil {
		missingTool(t, err)
	}
	o.Transitions, o.Steady = 4, 20*time.Second
	o.Metrics = true // so that -metrics cannot rot either
	o.Command = "NIGHTLIGHT_BENCH_HARNESS=1 go test ./cmd/dev/bench"
	o.Progress = testLog{t}
	// And -doc, into a document of its own.
	o.Doc = filepath.Join(t.TempDir(), "performance.md")
	if err := os.WriteFile(o.Doc, []byte("# Performance\n\n"+docBegin+"\n"+docEnd+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	var out bytes.Buffer
	rep, err := run(ctx, o, &out)
	if err != nil {
		t.Fatal(err)
	}
	table := out.String()
	t.Logf("\n%s", table)

	for _, want := range []string{
		"Machine: ", "Date: ", "Command: `NIGHTLIGHT_BENCH_HARNESS=1 go test ./cmd/dev/bench`",
		"| darkness → LED on, p50 |", "| darkness → LED on, p99 |", "| darkness → LED on, max |",
		"| darkness → `led_on: true` command, p50 |", "| darkness → `led_on: true` command, p99 |",
		"| dark transitions measured (missed) |",
		"| telemetry messages per hour, steady light |", "| command messages per hour, steady light |",
		"| device resident memory, VmRSS (peak VmHWM) |", "| server resident memory, VmRSS (peak VmHWM) |",
		"| device CPU seconds per hour, steady light |", "| server CPU seconds per hour, steady light |",
		"| device program |", "| server program |", "| MQTT library installed |", "| interpreter installed |",
		"| ours, polled (Grove Base Hat) |", "| ours, on alert (ADS1115) |", "| lesson |",
		"darkness-to-LED p99 under 300 ms: ", "no more than 720 per hour: ", "memory under 15 MB: ", "CPU under 1 s per hour",
	} {
		if !strings.Contains(table, want) {
			t.Errorf("the table has no %q", want)
		}
	}
	if doc, err := os.ReadFile(o.Doc); err != nil {
		t.Error(err)
	} else if !strings.Contains(string(doc), docBegin+"\n\n"+rep.body()) {
		t.Errorf("-doc wrote\n%s\nwant the table between the markers", doc)
	}
	if len(rep.results) != 3 {
		t.Fatalf("%d systems measured, want 3: ours polled, ours on alert, the lesson", len(rep.results))
	}
	for _, r := range rep.results {
		checkSane(t, r, o.Transitions)
	}
	s := rep.sizes
	if s.device <= 0 || s.server <= 0 || s.deviceScript <= 0 || s.serverScript <= 0 {
		t.Errorf("sizes: %+v", s)
	}
}

func checkSane(t *testing.T, r *result, transitions int) {
	t.Helper()
	name := r.sys.name
	if r.transitions != transitions || len(r.led) != transitions-r.missed || len(r.command) != len(r.led) || len(r.led) == 0 {
		t.Errorf("%s: %d transitions, %d missed, %d LED and %d command latencies", name, r.transitions, r.missed, len(r.led), len(r.command))
	}
	for i := range r.led {
		if r.led[i] <= 0 || r.command[i] <= 0 {
			t.Errorf("%s: transition %d: LED after %s, command after %s; want both > 0", name, i+1, r.led[i], r.command[i])
		}
	}
	if r.telemetry.n <= 0 || r.commands.n <= 0 || r.telemetry.perHour <= 0 || r.commands.perHour <= 0 {
		t.Errorf("%s: telemetry %+v, commands %+v; want messages", name, r.telemetry, r.commands)
	}
	for proc, p := range map[string]procFigures{"device": r.device, "server": r.server} {
		if p.rssKB <= 0 || p.hwmKB < p.rssKB || p.cpuSeconds < 0 {
			t.Errorf("%s %s: %+v", name, proc, p)
		}
	}
}

// missingTool skips, or fails under NIGHTLIGHT_REQUIRE_MOSQUITTO=1 (CI), as
// the broker tests do.
func missingTool(t *testing.T, err error) {
	t.Helper()
	if os.Getenv("NIGHTLIGHT_REQUIRE_MOSQUITTO") == "1" {
		t.Fatalf("NIGHTLIGHT_REQUIRE_MOSQUITTO=1 but %v", err)
	}
	t.Skip(err)
}

type testLog struct{ t *testing.T }

func (l testLog) Write(p []byte) (int, error) {
	l.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func TestPercentile(t *testing.T) {
	ms := func(n ...int) []time.Duration {
		var d []time.Duration
		for _, v := range n {
			d = append(d, time.Duration(v)*time.Millisecond)
		}
		return d
	}
	hundred := make([]int, 100)
	for i := range hundred {
		hundred[i] = 100 - i
	}
	for _, c := range []struct {
		d    []time.Duration
		q    float64
		want time.Duration
	}{
		{nil, 0.99, 0},
		{ms(7), 0.5, 7 * time.Millisecond},
		{ms(4, 1, 3, 2), 0.5, 2 * time.Millisecond},
		{ms(4, 1, 3, 2), 0.99, 4 * time.Millisecond},
		{ms(hundred...), 0.99, 99 * time.Millisecond},
		{ms(hundred...), 1, 100 * time.Millisecond},
	} {
		if got := percentile(c.d, c.q); got != c.want {
			t.Errorf("percentile(%v, %v) = %v, want %v", c.d, c.q, got, c.want)
		}
	}
}

func TestRate(t *testing.T) {
	at := func(s ...float64) []event {
		var ev []event
		t0 := time.Unix(0, 0)
		for _, v := range s {
			ev = append(ev, event{at: t0.Add(time.Duration(v * float64(time.Second)))})
		}
		return ev
	}
	for _, c := range []struct {
		ev   []event
		want float64
	}{
		{nil, 0},
		{at(3), 60},             // one in a minute
		{at(1, 6, 11, 16), 720}, // every 5 s, wherever the window's edges are
		{at(0.5, 5.5, 10.5, 15.5, 20.5), 720},
	} {
		if got := rate(c.ev, time.Minute).perHour; got != c.want {
			t.Errorf("rate of %d events = %v per hour, want %v", len(c.ev), got, c.want)
		}
	}
}

func TestLineWriter(t *testing.T) {
	var got []string
	w := &lineWriter{line: func(l string) { got = append(got, l) }}
	for _, p := range []string{"Light level: 800\nLED", " on\r\n", "LED off\nhalf"} {
		w.Write([]byte(p))
	}
	if want := []string{"Light level: 800", "LED on", "LED off"}; strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("lines %q, want %q", got, want)
	}
}

func TestReadUsage(t *testing.T) {
	u, err := readUsage(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if u.rssKB <= 0 || u.hwmKB < u.rssKB || u.cpu <= 0 {
		t.Errorf("own usage %+v", u)
	}
	// Work shows up: spin until 20 ms more are counted.
	for deadline := time.Now().Add(10 * time.Second); ; {
		v, err := readUsage(os.Getpid())
		if err != nil {
			t.Fatal(err)
		}
		if v.cpu-u.cpu >= 20*time.Millisecond {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("CPU time %v, then %v after 10 s of spinning", u.cpu, v.cpu)
		}
		for i := 0; i < 1e6; i++ {
			spin += i
		}
	}
}

var spin int // keeps the spinning loop from being optimised away

// TestLEDLines: the lines that time the LED, ours and the lesson's.
func TestLEDLines(t *testing.T) {
	ours := `time=2026-11-29T22:20:19.561Z level=INFO msg=LED component=device led_on=true source=command`
	for _, tc := range []struct {
		match func(string, bool) bool
		line  string
		on    bool
		want  bool
	}{
		{ourLED, ours, true, true},
		{ourLED, ours, false, false},
		{ourLED, strings.Replace(ours, "led_on=true", "led_on=false", 1), false, true},
		{ourLED, `time=2026-11-29T22:20:19.561Z level=ERROR msg="LED not switched" component=device led_on=true err=busy`, true, false},
		{ourLED, `time=2026-11-29T22:20:19.561Z level=INFO msg=reading component=device light=100 seq=7`, true, false},
		{lessonLED, "LED on", true, true},
		{lessonLED, "LED off", false, true},
		{lessonLED, "LED on", false, false},
		{lessonLED, "Telemetry sent: {\"light\": 100}", true, false},
	} {
		if got := tc.match(tc.line, tc.on); got != tc.want {
			t.Errorf("%q on=%v: %v, want %v", tc.line, tc.on, got, tc.want)
		}
	}
}

// TestTimerSlack: a child started with a slack has it, in its first thread
// and (inherited) in the threads it makes.
func TestTimerSlack(t *testing.T) {
	for _, slack := range []time.Duration{time.Millisecond, 3 * time.Millisecond} {
		var out bytes.Buffer
		c, err := startChild("cat", []string{"/bin/cat", "/proc/self/timerslack_ns"}, &out, slack)
		if err != nil {
			t.Fatal(err)
		}
		select {
		case <-c.done:
		case <-time.After(10 * time.Second):
			c.stop()
			t.Fatal("cat did not exit")
		}
		if got, want := strings.TrimSpace(out.String()), strconv.FormatInt(slack.Nanoseconds(), 10); got != want {
			t.Errorf("slack %s: the child's timer slack is %q ns, want %s", slack, got, want)
		}
	}
	// The harness's thread that started it gets its own slack back.
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		t.Fatal(err)
	}
	for _, task := range tasks {
		b, err := os.ReadFile("/proc/" + task.Name() + "/timerslack_ns")
		if err != nil {
			t.Fatal(err)
		}
		if strings.TrimSpace(string(b)) == "3000000" {
			t.Errorf("thread %s of the harness kept the child's timer slack", task.Name())
		}
	}
}

// TestTimerSlackAsUnits: the harness runs ours with the timer slack that
// their systemd units set.
func TestTimerSlackAsUnits(t *testing.T) {
	for _, unit := range []string{"nightlight.service", "nightlight-server.service"} {
		b, err := os.ReadFile(filepath.Join("..", "..", "..", "systemd", unit))
		if err != nil {
			t.Fatal(err)
		}
		var set string
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "TimerSlackNSec="); ok {
				set = v
			}
		}
		d, err := time.ParseDuration(set)
		if err != nil {
			t.Fatalf("%s: TimerSlackNSec=%q: %v (want a value like 1ms)", unit, set, err)
		}
		if want := defaultOptions().TimerSlack; d != want {
			t.Errorf("%s sets TimerSlackNSec=%s, the harness runs ours with %s", unit, d, want)
		}
	}
}
