package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// system is one device and server pair under test.
type system struct {
	name   string        // "ours", "ours-alert" or "lesson"
	column string        // its column in the table
	ours   bool          // issue 7's targets apply
	id     string        // device id, distinct per system
	label  string        // what ran, for the table
	slack  time.Duration // timer slack of its processes; 0: the kernel's default
	device func(b broker, lightFile, stateDir string) []string
	server func(b broker) []string
	// ledLine tells whether a line the device prints says that it has just
	// switched the LED on (or off); those lines become ID/stdout events. Both
	// devices print one right after driving the pin, so both are timed the
	// same way, with no broker in between.
	ledLine func(line string, on bool) bool
}

// ledIs matches the event that shows the device's LED switched.
func (s *system) ledIs(on bool) func(event) bool {
	return func(e event) bool { return e.topic == s.id+"/stdout" && s.ledLine(e.payload, on) }
}

// lessonLED matches the lesson's "LED on" / "LED off".
func lessonLED(line string, on bool) bool {
	return line == map[bool]string{true: "LED on", false: "LED off"}[on]
}

// ourLED matches our device's log line after it drove the LED pin:
// level=INFO msg=LED component=device led_on=true source=command.
func ourLED(line string, on bool) bool {
	return strings.Contains(line, " msg=LED ") && strings.Contains(line, " led_on="+strconv.FormatBool(on)+" ")
}

// commandIs matches a command to the device with led_on = on.
func (s *system) commandIs(on bool) func(event) bool {
	return func(e event) bool { return e.topic == s.id+"/commands" && ledOnIs(e.payload, on) }
}

func ledOnIs(payload string, on bool) bool {
	var p struct {
		LEDOn *bool `json:"led_on"`
	}
	return json.Unmarshal([]byte(payload), &p) == nil && p.LEDOn != nil && *p.LEDOn == on
}

// ours is nightlight run --hardware sim --sim-light FILE and nightlight-server:
// polled, the simulation emulates a Grove Base Hat, read every sample-every;
// with alert, an ADS1115 whose ALERT/RDY wakes the daemon when the light
// leaves the deadband (--alert-pin). The sampling flags are passed only if
// this build has them; nil, nil when it cannot do alert.
func ours(ctx context.Context, o options, bins binaries, dir string, alert bool) (*system, error) {
	empty := filepath.Join(dir, "empty.yaml") // so no configuration of this machine applies
	if err := os.WriteFile(empty, nil, 0o644); err != nil {
		return nil, err
	}
	has, err := deviceFlags(ctx, bins.device)
	if err != nil {
		return nil, err
	}
	name, column, id := "ours", "ours, polled (Grove Base Hat)", "bench-ours"
	extra := []string{"--interval", o.Interval.String()}
	if alert {
		if !has["--alert-pin"] {
			return nil, nil
		}
		name, column, id = "ours-alert", "ours, on alert (ADS1115)", "bench-ours-alert"
		extra = append(extra, "--alert-pin", o.AlertPin)
	}
	var missing []string
	for _, f := range []struct{ name, value string }{
		{"sample-every", o.SampleEvery.String()},
		{"deadband", strconv.Itoa(o.Deadband)},
		{"publish-gap", o.PublishGap.String()},
	} {
		if has["--"+f.name] {
			extra = append(extra, "--"+f.name, f.value)
		} else {
			missing = append(missing, "--"+f.name)
		}
	}
	if o.Metrics && !has["--metrics-listen"] {
		return nil, fmt.Errorf("-metrics: %s run --help shows no --metrics-listen flag", bins.device)
	}
	// metrics is the endpoint's flag, on a loopback port free when the
	// program starts; nobody scrapes it.
	metrics := func() []string {
		if !o.Metrics {
			return nil
		}
		return []string{"--metrics-listen", freeAddr()}
	}
	label := "`nightlight run --hardware sim --sim-light FILE " + strings.Join(extra, " ") + "` and `nightlight-server`"
	if o.Metrics {
		label += ", both with --metrics-listen on a free loopback port, unscraped"
	}
	if len(missing) > 0 {
		label += " (this build has no " + strings.Join(missing, ", ") + ")"
	}
	if o.TimerSlack > 0 {
		label += fmt.Sprintf(", timer slack %s as their systemd units set it", o.TimerSlack)
	}
	return &system{
		name:    name,
		column:  column,
		ours:    true,
		id:      id,
		label:   label,
		slack:   o.TimerSlack,
		ledLine: ourLED,
		device: func(b broker, light, state string) []string {
			args := append([]string{bins.device, "run", "--config", empty, "--broker", b.URL(), "--id", id,
				"--hardware", "sim", "--sim-light", light, "--state-dir", state}, extra...)
			return append(args, metrics()...)
		},
		server: func(b broker) []string {
			return append([]string{bins.server, "--config", empty, "--broker", b.URL(), "--id", id,
				"--client-id", id + "-server"}, metrics()...)
		},
	}, nil
}

// freeAddr is a loopback address with a port nobody listens on now.
func freeAddr() string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "127.0.0.1:9101" // the program says what is wrong with it
	}
	defer ln.Close()
	return ln.Addr().String()
}

// deviceFlags lists the flags `nightlight run --help` shows.
func deviceFlags(ctx context.Context, bin string) (map[string]bool, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	out, _ := commandContext(ctx, bin, "run", "--help").CombinedOutput() // exit status 0 or 2: the text is what counts
	has := map[string]bool{}
	for _, f := range strings.Fields(string(out)) {
		if strings.HasPrefix(f, "-") {
			has["--"+strings.TrimLeft(f, "-")] = true
		}
	}
	if !has["--interval"] {
		return nil, fmt.Errorf("%s run --help shows no --interval flag:\n%s", bin, out)
	}
	return has, nil
}

// lesson is the lesson's device.py and server.py.
func lesson(o options, s scripts) *system {
	id := "bench-lesson"
	// -u: unbuffered output, so "LED on" arrives when it is printed, as it
	// would on the terminal the lesson runs in.
	return &system{
		name:   "lesson",
		column: "lesson",
		id:     id,
		label:  "`python3 device.py` and `python3 server.py` (the lesson's app.py files, paho-mqtt 1.6, QoS 0, a reading every 5 s)",
		device: func(b broker, light, _ string) []string {
			host, port := b.hostPort()
			return []string{o.Python, "-u", s.device, host, port, id, light}
		},
		server: func(b broker) []string {
			host, port := b.hostPort()
			return []string{o.Python, "-u", s.server, host, port, id}
		},
		ledLine: lessonLED,
	}
}

// result holds one system's figures.
type result struct {
	sys         *system
	transitions int
	missed      int             // dark steps without led_on within o.Wait
	command     []time.Duration // darkness -> first led_on true command seen
	led         []time.Duration // darkness -> the LED on (ours: ID/state; lesson: its printed line)
	window      time.Duration
	telemetry   stream
	commands    stream
	device      procFigures
	server      procFigures
}

type stream struct {
	n       int
	perHour float64
}

type procFigures struct {
	rssKB, hwmKB int64
	cpuSeconds   float64 // over the steady window
	cpuPerHour   float64
}

// running is a system's two processes and the light file they read.
type running struct {
	sys         *system
	light       string
	log         *eventLog
	dev, server *child
}

// measure starts the system, runs the dark transitions and the steady
// window, and stops it.
func measure(ctx context.Context, o options, s *system, b broker, log *eventLog, dir string) (*result, error) {
	r := &running{sys: s, light: filepath.Join(dir, s.name+"-light"), log: log}
	if _, err := setLight(r.light, o.Bright); err != nil {
		return nil, err
	}
	state := filepath.Join(dir, s.name+"-state")
	if err := os.MkdirAll(state, 0o755); err != nil {
		return nil, err
	}
	var err error
	if r.server, err = startChild(s.name+" server", s.server(b), nil, s.slack); err != nil {
		return nil, err
	}
	defer r.server.stop()
	lines := &lineWriter{line: func(l string) { log.add(s.id+"/stdout", l) }}
	started := time.Now()
	if r.dev, err = startChild(s.name+" device", s.device(b, r.light, state), lines, s.slack); err != nil {
		return nil, err
	}
	defer r.dev.stop() // before the server: deferred calls run last first
	o.progress("%s: started, waiting for the first led_on false", s.name)
	if err := r.wait(ctx, started, o.Wait+10*time.Second, "the first led_on false command", s.commandIs(false)); err != nil {
		return nil, err
	}
	res := &result{sys: s}
	if err := r.transitions(ctx, o, res); err != nil {
		return nil, err
	}
	if err := r.steady(ctx, o, res); err != nil {
		return nil, err
	}
	return res, nil
}

// transitions steps the light from bright to dark and back o.Transitions
// times. Each dark step comes o.Settle plus a random part of o.Phase after
// the LED went off, so it falls at a random point of the lesson's 5 s cycle.
func (r *running) transitions(ctx context.Context, o options, res *result) error {
	rng := rand.New(rand.NewPCG(o.Seed, o.Seed))
	for i := 1; i <= o.Transitions; i++ {
		pause := o.Settle
		if o.Phase > 0 {
			pause += time.Duration(rng.Int64N(int64(o.Phase)))
		}
		if err := sleep(ctx, pause); err != nil {
			return err
		}
		dark, err := setLight(r.light, o.Dark)
		if err != nil {
			return err
		}
		res.transitions++
		cmd, errC := r.log.waitFor(ctx, dark, o.Wait, r.sys.commandIs(true))
		led, errL := r.log.waitFor(ctx, dark, o.Wait, r.sys.ledIs(true))
		if err := ctx.Err(); err != nil {
			return err
		}
		if errC != nil || errL != nil {
			res.missed++
			o.progress("%s: transition %d/%d: no led_on within %s", r.sys.name, i, o.Transitions, o.Wait)
		} else {
			res.command = append(res.command, cmd.at.Sub(dark))
			res.led = append(res.led, led.at.Sub(dark))
			o.progress("%s: transition %d/%d: command %s, LED %s", r.sys.name, i, o.Transitions,
				ms(cmd.at.Sub(dark)), ms(led.at.Sub(dark)))
		}
		if err := r.alive(); err != nil {
			return err
		}
		bright, err := setLight(r.light, o.Bright)
		if err != nil {
			return err
		}
		if err := r.wait(ctx, bright, o.Wait, "led_on false after the light came back", r.sys.commandIs(false)); err != nil {
			return err
		}
		if err := r.wait(ctx, bright, o.Wait, "the LED off after the light came back", r.sys.ledIs(false)); err != nil {
			return err
		}
	}
	return nil
}

// steady measures messages and CPU over o.Steady at bright light, and
// memory at its end.
func (r *running) steady(ctx context.Context, o options, res *result) error {
	// One interval for the last transition's traffic to pass.
	if err := sleep(ctx, o.Interval); err != nil {
		return err
	}
	o.progress("%s: steady light for %s", r.sys.name, o.Steady)
	dev0, err0 := readUsage(r.dev.pid())
	srv0, err1 := readUsage(r.server.pid())
	start := time.Now()
	if err := sleep(ctx, o.Steady); err != nil {
		return err
	}
	dev1, err2 := readUsage(r.dev.pid())
	srv1, err3 := readUsage(r.server.pid())
	end := time.Now()
	if err := r.alive(); err != nil {
		return err
	}
	for _, err := range []error{err0, err1, err2, err3} {
		if err != nil {
			return err
		}
	}
	res.window = end.Sub(start)
	res.device = figures(dev0, dev1, res.window)
	res.server = figures(srv0, srv1, res.window)
	topic := func(t string) func(event) bool { return func(e event) bool { return e.topic == t } }
	res.telemetry = rate(r.log.between(start, end, topic(r.sys.id+"/telemetry")), res.window)
	res.commands = rate(r.log.between(start, end, topic(r.sys.id+"/commands")), res.window)
	return nil
}

func figures(before, after procUsage, window time.Duration) procFigures {
	cpu := (after.cpu - before.cpu).Seconds()
	return procFigures{rssKB: after.rssKB, hwmKB: after.hwmKB, cpuSeconds: cpu, cpuPerHour: cpu / window.Hours()}
}

// rate is the rate of a periodic stream from its arrivals: n-1 gaps over the
// time from the first to the last, so where the window's edges fall does not
// add or drop a message. With fewer than two, n over the window.
func rate(ev []event, window time.Duration) stream {
	if len(ev) < 2 {
		return stream{n: len(ev), perHour: float64(len(ev)) / window.Hours()}
	}
	span := ev[len(ev)-1].at.Sub(ev[0].at)
	return stream{n: len(ev), perHour: float64(len(ev)-1) / span.Hours()}
}

// wait is waitFor with an error that says what did not come, and what the
// two processes last wrote.
func (r *running) wait(ctx context.Context, since time.Time, timeout time.Duration, what string, match func(event) bool) error {
	_, err := r.log.waitFor(ctx, since, timeout, match)
	if err == errTimeout {
		return fmt.Errorf("no %s within %s\n%s\n%s", what, timeout, r.dev.output(), r.server.output())
	}
	return err
}

func (r *running) alive() error {
	for _, c := range []*child{r.dev, r.server} {
		if c.exited() {
			return fmt.Errorf("%s", c.output())
		}
	}
	return nil
}

// setLight writes the level the way a sensor changes: at once (write and
// rename, so no reader sees half a file). It returns when the change began.
//
// The time is taken before the rename: a device that watches the file can
// read the new level, publish it and switch its LED before the rename's
// system call has returned here, and its events must not look older than
// the change that caused them.
func setLight(file string, level int) (time.Time, error) {
	tmp := file + ".tmp"
	if err := os.WriteFile(tmp, []byte(strconv.Itoa(level)+"\n"), 0o644); err != nil {
		return time.Time{}, err
	}
	at := time.Now()
	if err := os.Rename(tmp, file); err != nil {
		return time.Time{}, err
	}
	return at, nil
}

// sleep waits d or until ctx is cancelled.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func ms(d time.Duration) string {
	if d < 10*time.Millisecond {
		return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond))
	}
	return fmt.Sprintf("%.0f ms", float64(d)/float64(time.Millisecond))
}
