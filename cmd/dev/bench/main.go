// Command bench measures our device and server side by side with
// the lesson's Python device and server (IoT for Beginners, lesson 4, with
// paho-mqtt 1.6), one system at a time on the same private Mosquitto on
// loopback, both driven by the same scripted light level, and prints a
// Markdown table: darkness-to-LED latency, messages per hour, memory and CPU
// at steady light, and binary or installed size.
//
//	go run ./cmd/dev/bench [-transitions 50] [-steady 10m] [-timer-slack 1ms] [-metrics] [-tags T] [-out FILE] [-doc FILE]
//
// With -doc docs/performance.md it also writes the table into that file,
// between the lines <!-- bench: begin --> and <!-- bench: end -->, so that
// the figures there are the bench's and never edited by hand. With -metrics
// ours serve their metrics endpoint (--metrics-listen on a free loopback
// port), which nobody scrapes: the cost of having it on.
//
// With fleet first it measures the server under a fleet instead (fleet.go):
// N devices played over a few connections against a private Mosquitto, one
// to three server instances in a share group, and the broker's own ceiling
// beside them.
//
//	go run ./cmd/dev/bench fleet [-devices 10000] [-instances 1,2,3] [-tracked 10,1000,10000,100000] [-out FILE]
//
// Ours run with the timer slack their systemd units set; the lesson's
// programs as the lesson runs them. It needs mosquitto, and Debian's python3
// with python3-paho-mqtt. Linux only: memory and CPU come from /proc.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"nightlight/packaging"
)

// options are the harness's settings; defaultOptions gives the flags' defaults.
type options struct {
	Transitions int           // dark steps measured per system
	Steady      time.Duration // the steady-light window per system
	Settle      time.Duration // fixed pause after the LED went off, before the random phase
	Phase       time.Duration // random extra pause, uniform in [0, Phase): samples the lesson's 5 s cycle fairly
	Wait        time.Duration // bound on every wait for a command or an LED change
	Seed        uint64        // of the random phases; both systems get the same sequence
	Bright      int
	Dark        int
	Python      string // an interpreter with paho-mqtt 1.6
	Out         string // also write the table here
	Doc         string // also write the table into this document's region (docfile.go)

	// Ours: the device's sampling settings, passed when its flags exist.
	Interval    time.Duration
	SampleEvery time.Duration
	Deadband    int
	PublishGap  time.Duration
	AlertPin    string // ours on alert: the (simulated) GPIO of ALERT/RDY
	// TimerSlack is what our systemd units set (TimerSlackNSec), so ours run
	// here as installed; 0 leaves the kernel's default (50 us).
	TimerSlack time.Duration
	// Tags are the build tags of ours: the packages' (no demo) by default.
	Tags string
	// Metrics has ours serve their metrics endpoint (unscraped).
	Metrics bool

	Command  string    // the command line, for the table
	Progress io.Writer // one line per step; nil: quiet
}

func defaultOptions() options {
	return options{
		Transitions: 50,
		Steady:      10 * time.Minute,
		Settle:      time.Second,
		Phase:       5 * time.Second,
		Wait:        20 * time.Second,
		Seed:        1,
		Bright:      800,
		Dark:        100,
		Python:      "/usr/bin/python3",
		Interval:    5 * time.Second,
		SampleEvery: 100 * time.Millisecond,
		Deadband:    30,
		PublishGap:  500 * time.Millisecond,
		AlertPin:    "GPIO6",
		TimerSlack:  time.Millisecond,
		Tags:        packaging.ReleaseTags,
	}
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == "fleet" {
		os.Exit(fleetMain(os.Args[2:]))
	}
	o := defaultOptions()
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.IntVar(&o.Transitions, "transitions", o.Transitions, "dark transitions measured per system")
	fs.DurationVar(&o.Steady, "steady", o.Steady, "steady-light window per system (messages, CPU)")
	fs.DurationVar(&o.Settle, "settle", o.Settle, "pause after the LED went off before the next dark step, before the random phase")
	fs.DurationVar(&o.Phase, "phase", o.Phase, "random extra pause before each dark step, uniform in [0, phase)")
	fs.DurationVar(&o.Wait, "wait", o.Wait, "longest wait for a command or an LED change")
	fs.Uint64Var(&o.Seed, "seed", o.Seed, "seed of the random phases")
	fs.IntVar(&o.Bright, "bright", o.Bright, "bright light level")
	fs.IntVar(&o.Dark, "dark", o.Dark, "dark light level")
	fs.StringVar(&o.Python, "python", o.Python, "Python 3 interpreter with paho-mqtt 1.6 (Debian: python3-paho-mqtt)")
	fs.StringVar(&o.Out, "out", "", "also write the table to this file")
	fs.StringVar(&o.Doc, "doc", "", "also write the table into this Markdown file, between its lines "+docBegin+" and "+docEnd+" (e.g. docs/performance.md)")
	fs.DurationVar(&o.Interval, "interval", o.Interval, "ours: telemetry interval (heartbeat)")
	fs.DurationVar(&o.SampleEvery, "sample-every", o.SampleEvery, "ours: sensor sampling period")
	fs.IntVar(&o.Deadband, "deadband", o.Deadband, "ours: light change published at once")
	fs.DurationVar(&o.PublishGap, "publish-gap", o.PublishGap, "ours: least time between two readings published")
	fs.DurationVar(&o.TimerSlack, "timer-slack", o.TimerSlack, "ours: timer slack of our processes, as their systemd units set it (TimerSlackNSec); 0: the kernel's default")
	fs.StringVar(&o.Tags, "tags", o.Tags, "ours: build tags, as the packages build them by default; -tags '' builds ours with the demo, as before it left the daemon")
	fs.BoolVar(&o.Metrics, "metrics", o.Metrics, "ours: serve the metrics endpoint (--metrics-listen on a free loopback port), unscraped")
	if err := fs.Parse(os.Args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		os.Exit(2)
	}
	if fs.NArg() > 0 || o.Transitions < 1 || o.Steady < 10*time.Second || o.TimerSlack < 0 {
		fmt.Fprintln(os.Stderr, "bench: want -transitions 1 or more, -steady 10s or more, -timer-slack 0 or more, and no arguments")
		os.Exit(2)
	}
	if o.Doc != "" {
		// Before the minutes of measuring, not after them.
		if err := checkDoc(o.Doc); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(2)
		}
	}
	words := []string{"go run ./cmd/dev/bench"}
	for _, a := range os.Args[1:] {
		if a == "" {
			a = "''" // -tags '': shown as typed
		}
		words = append(words, a)
	}
	o.Command = strings.Join(words, " ")
	o.Progress = os.Stderr

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if _, err := run(ctx, o, os.Stdout); err != nil {
		if ctx.Err() != nil {
			err = errors.New("interrupted; the processes it started are stopped")
		}
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// run measures both systems and writes the table to out (and to o.Out).
// Every child process it starts is stopped before it returns, also when ctx
// is cancelled.
func run(ctx context.Context, o options, out io.Writer) (*report, error) {
	dir, err := os.MkdirTemp("", "nightlight-bench-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)

	o.progress("building our binaries (static, stripped)")
	bins, err := buildOurs(ctx, dir, o.Tags)
	if err != nil {
		return nil, err
	}
	py, err := checkPython(ctx, o.Python)
	if err != nil {
		return nil, err
	}
	scripts, err := writeScripts(dir)
	if err != nil {
		return nil, err
	}
	broker, err := startBroker(dir)
	if err != nil {
		return nil, err
	}
	defer broker.Stop()
	obs, err := newObserver(broker.URL())
	if err != nil {
		return nil, err
	}
	defer obs.close()

	polled, err := ours(ctx, o, bins, dir, false)
	if err != nil {
		return nil, err
	}
	systems := []*system{polled}
	alerted, err := ours(ctx, o, bins, dir, true)
	if err != nil {
		return nil, err
	}
	if alerted != nil {
		systems = append(systems, alerted)
	}
	systems = append(systems, lesson(o, scripts))
	rep := &report{opts: o, machine: describeMachine(ctx, py, broker.Bin())}
	for _, s := range systems {
		res, err := measure(ctx, o, s, broker, obs.log, dir)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", s.name, err)
		}
		rep.results = append(rep.results, res)
	}
	rep.sizes = measureSizes(ctx, bins, py)

	table := rep.markdown()
	if _, err := io.WriteString(out, table); err != nil {
		return nil, err
	}
	if o.Out != "" {
		if err := os.WriteFile(o.Out, []byte(table), 0o644); err != nil {
			return nil, err
		}
	}
	if o.Doc != "" {
		if err := writeDoc(o.Doc, rep.body()); err != nil {
			return nil, err
		}
	}
	return rep, nil
}

func (o options) progress(format string, a ...any) {
	if o.Progress != nil {
		fmt.Fprintf(o.Progress, "bench: "+format+"\n", a...)
	}
}
