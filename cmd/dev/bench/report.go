package main

import (
	"context"
	"fmt"
	"math"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"
)

// report is everything the table shows.
type report struct {
	opts    options
	machine machine
	results []*result // ours (polled, then on alert when the build can), then the lesson's
	sizes   sizes
}

type machine struct {
	cpu, kernel, os string
	cores           int
	date            time.Time
	goVersion       string
	mosquitto       string
	python, paho    string
}

// describeMachine says what the figures were measured on.
func describeMachine(ctx context.Context, py python, mosquittoBin string) machine {
	m := machine{cpu: "unknown CPU", cores: runtime.NumCPU(), date: time.Now().UTC(),
		python: py.version, paho: py.paho}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.cpu = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.kernel = "Linux " + strings.TrimSpace(string(b))
	}
	if b, err := os.ReadFile("/etc/os-release"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "PRETTY_NAME="); ok {
				m.os = strings.Trim(v, `"`)
			}
		}
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if out, err := commandContext(ctx, "go", "env", "GOVERSION").Output(); err == nil {
		m.goVersion = strings.TrimSpace(string(out))
	}
	// mosquitto -h prints its version first and exits with status 3.
	out, _ := commandContext(ctx, mosquittoBin, "-h").CombinedOutput()
	m.mosquitto, _, _ = strings.Cut(string(out), "\n")
	return m
}

type sizes struct {
	device, server             int64 // our static, stripped binaries, bytes
	deviceScript, serverScript int64 // the lesson's, bytes
	paho                       pkg
	interpreter                []pkg
}

// pkg is a Debian package and its Installed-Size.
type pkg struct {
	name string
	kib  int64 // -1: not installed, or no dpkg
}

func measureSizes(ctx context.Context, bins binaries, py python) sizes {
	s := sizes{deviceScript: int64(len(lessonDevice)), serverScript: int64(len(lessonServer))}
	if fi, err := os.Stat(bins.device); err == nil {
		s.device = fi.Size()
	}
	if fi, err := os.Stat(bins.server); err == nil {
		s.server = fi.Size()
	}
	s.paho = installedSize(ctx, "python3-paho-mqtt")
	// The interpreter: Debian's python3 and the packages of the version it
	// points to that hold the interpreter and its standard library.
	for _, name := range []string{"python3", "python3-minimal", "libpython3-stdlib", "python" + py.minor,
		"python" + py.minor + "-minimal", "libpython" + py.minor + "-minimal", "libpython" + py.minor + "-stdlib"} {
		s.interpreter = append(s.interpreter, installedSize(ctx, name))
	}
	return s
}

func installedSize(ctx context.Context, name string) pkg {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	out, err := commandContext(ctx, "dpkg-query", "-W", "-f=${Installed-Size}", name).Output()
	kib, perr := strconv.ParseInt(strings.TrimSpace(string(out)), 10, 64)
	if err != nil || perr != nil {
		return pkg{name: name, kib: -1}
	}
	return pkg{name: name, kib: kib}
}

// Targets of issue 7, for ours.
const (
	targetP99        = 300 * time.Millisecond
	targetPerHour    = 720
	targetRSSBytes   = 15e6
	targetCPUPerHour = 1.0
)

// markdown renders the report as a Markdown section: a heading, then body.
func (r *report) markdown() string {
	return "## nightlight and the lesson's Python programs, measured side by side\n\n" + r.body()
}

// body is the report without its heading, as docs/performance.md shows it
// (-doc writes it there, under the document's own heading): what was
// measured on which machine, the table, and the targets.
func (r *report) body() string {
	o, m := r.opts, r.machine
	var b strings.Builder
	p := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	p("- Machine: %s, %d cores; %s; %s\n", m.cpu, m.cores, m.os, m.kernel)
	p("- Date: %s\n", m.date.Format("2006-01-02 15:04 MST"))
	p("- Command: `%s`\n", o.Command)
	p("- Software: %s, %s, Python %s, paho-mqtt %s\n", m.goVersion, m.mosquitto, m.python, m.paho)
	tags := o.Tags
	if tags == "" {
		tags = "none (the demo included)"
	}
	p("- Ours built static and stripped as the packages are, build tags: %s\n", tags)
	for _, res := range r.results {
		p("- %s: %s\n", capitalize(res.sys.column), res.sys.label)
	}
	p("- Light: %d (bright) and %d (dark), written to the file every device reads; each dark step %s + uniform(0, %s) after the LED went off (seed %d); steady window %s at %d. One system at a time, on one private Mosquitto on loopback.\n\n",
		o.Bright, o.Dark, o.Settle, o.Phase, o.Seed, o.Steady, o.Bright)

	p("| measure |")
	for _, res := range r.results {
		p(" %s |", res.sys.column)
	}
	p(" target (ours) |\n|---|%s---|\n", strings.Repeat("---:|", len(r.results)))
	row := func(label, target string, cell func(*result) string) {
		p("| %s |", label)
		for _, res := range r.results {
			p(" %s |", cell(res))
		}
		p(" %s |\n", target)
	}
	for _, q := range []struct {
		name   string
		pct    float64
		target string
	}{{"p50", 0.50, ""}, {"p99", 0.99, "< 300 ms"}, {"max", 1, ""}} {
		row("darkness → LED on, "+q.name, q.target, func(r *result) string { return ms(percentile(r.led, q.pct)) })
	}
	for _, q := range []struct {
		name string
		pct  float64
	}{{"p50", 0.50}, {"p99", 0.99}} {
		row("darkness → `led_on: true` command, "+q.name, "", func(r *result) string { return ms(percentile(r.command, q.pct)) })
	}
	row("dark transitions measured (missed)", "", transitions)
	row("telemetry messages per hour, steady light", "≤ 720", func(r *result) string { return perHour(r.telemetry) })
	row("command messages per hour, steady light", "", func(r *result) string { return perHour(r.commands) })
	row("device resident memory, VmRSS (peak VmHWM)", "< 15 MB", func(r *result) string { return memory(r.device) })
	row("server resident memory, VmRSS (peak VmHWM)", "", func(r *result) string { return memory(r.server) })
	row("device CPU seconds per hour, steady light", "< 1 s", func(r *result) string { return cpu(r.device) })
	row("server CPU seconds per hour, steady light", "", func(r *result) string { return cpu(r.server) })
	s := r.sizes
	ourCell := func(ours, lesson string) func(*result) string {
		return func(r *result) string {
			if r.sys.ours {
				return ours
			}
			return lesson
		}
	}
	row("device program", "", ourCell(fmt.Sprintf("%.1f MB (static, stripped)", float64(s.device)/1e6), kb(s.deviceScript)+" (device.py)"))
	row("server program", "", ourCell(fmt.Sprintf("%.1f MB (static, stripped)", float64(s.server)/1e6), kb(s.serverScript)+" (server.py)"))
	row("MQTT library installed", "", ourCell("inside the binaries", installed([]pkg{s.paho})))
	row("interpreter installed", "", ourCell("none", installed(s.interpreter)))

	p("\nLED on: when the device prints that it drove the pin (ours: its log line `msg=LED led_on=true`; the lesson's: `LED on`); ")
	p("the command: when the observer (a Go paho client on the same broker) receives it. ")
	p("Messages per hour: from the arrivals in the window, (n-1) over the time from the first to the last. ")
	p("CPU: time on a processor over the window, summed over the process's threads (/proc/PID/task/*/schedstat, in ns). MB: 10^6 bytes; installed sizes: dpkg's Installed-Size.\n\n")
	p("Targets (ours, issue 7):\n\n")
	for _, t := range r.targets() {
		p("- %s\n", t)
	}
	p("\n")
	return b.String()
}

// lesson is the lesson's result.
func (r *report) lesson() *result {
	for _, res := range r.results {
		if !res.sys.ours {
			return res
		}
	}
	return &result{sys: &system{}}
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// targets says, for each target of issue 7 and each of our systems,
// whether it is met.
func (r *report) targets() []string {
	les := r.lesson()
	verdict := func(ok bool) string {
		if ok {
			return "met"
		}
		return "NOT met"
	}
	var lines []string
	for _, ours := range r.results {
		if !ours.sys.ours {
			continue
		}
		p99 := percentile(ours.led, 0.99)
		tel := math.Round(ours.telemetry.perHour)
		lines = append(lines,
			fmt.Sprintf("%s, darkness-to-LED p99 under 300 ms: %s (%s over %d transitions, %d missed; the lesson: %s)",
				ours.sys.column, verdict(ours.missed == 0 && len(ours.led) > 0 && p99 < targetP99), ms(p99), len(ours.led), ours.missed, ms(percentile(les.led, 0.99))),
			fmt.Sprintf("%s, telemetry at steady light no more than 720 per hour: %s (%.0f; the lesson: %.0f)",
				ours.sys.column, verdict(tel <= targetPerHour), tel, les.telemetry.perHour),
			fmt.Sprintf("%s, device resident memory under 15 MB: %s (peak %.1f MB; the lesson: %.1f MB)",
				ours.sys.column, verdict(float64(ours.device.hwmKB)*1024 < targetRSSBytes), mb(ours.device.hwmKB), mb(les.device.hwmKB)),
			fmt.Sprintf("%s, device CPU under 1 s per hour at steady light: %s (%.2f s; the lesson: %.2f s)",
				ours.sys.column, verdict(ours.device.cpuPerHour < targetCPUPerHour), ours.device.cpuPerHour, les.device.cpuPerHour),
		)
	}
	return lines
}

// percentile is the nearest-rank percentile: the smallest sample with at
// least q of the samples at or below it. 0 for no samples.
func percentile(d []time.Duration, q float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	i := int(math.Ceil(q*float64(len(s)))) - 1
	return s[max(0, min(i, len(s)-1))]
}

func transitions(r *result) string { return fmt.Sprintf("%d (%d)", len(r.led), r.missed) }

func perHour(s stream) string { return fmt.Sprintf("%.0f (n=%d)", s.perHour, s.n) }

func memory(p procFigures) string {
	return fmt.Sprintf("%.1f MB (%.1f)", mb(p.rssKB), mb(p.hwmKB))
}

func cpu(p procFigures) string { return fmt.Sprintf("%.2f s", p.cpuPerHour) }

// mb is /proc's and dpkg's kB (KiB) in MB of 10^6 bytes, the unit of the targets.
func mb(kib int64) float64 { return float64(kib) * 1024 / 1e6 }

func kb(bytes int64) string { return fmt.Sprintf("%.1f kB", float64(bytes)/1e3) }

// installed is the sum of the packages' sizes and their names.
func installed(pkgs []pkg) string {
	var sum int64
	var names []string
	for _, p := range pkgs {
		if p.kib < 0 {
			names = append(names, p.name+" not installed")
			continue
		}
		sum += p.kib
		names = append(names, fmt.Sprintf("%s %.1f", p.name, mb(p.kib)))
	}
	return fmt.Sprintf("%.1f MB (%s)", mb(sum), strings.Join(names, ", "))
}
