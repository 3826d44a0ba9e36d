package main

import (
	"fmt"
	"strings"
	"time"
)

// fleetReport is everything the fleet table shows.
type fleetReport struct {
	opts    fleetOptions
	machine machine
	ceiling capacity
	runs    []*instancesResult
	memory  []memoryPoint
}

// The targets of issue 16, checked in the table (never in a test).
const (
	targetFleetP99       = 20 * time.Millisecond
	targetBytesPerDevice = 200
)

func per1000(cpu time.Duration, readings int) string {
	if readings == 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f ms", float64(cpu)/float64(time.Millisecond)*1000/float64(readings))
}

func (r *fleetReport) markdown() string {
	var b strings.Builder
	p := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	m, o := r.machine, r.opts
	p("### Fleet figures\n\n")
	p("- Machine: %s, %d cores, %s, %s\n", m.cpu, m.cores, m.kernel, m.os)
	p("- Software: %s, %s; nightlight-server built as the packages build it\n", m.goVersion, m.mosquitto)
	p("- Date: %s\n", m.date.Format("2006-01-02 15:04 UTC"))
	p("- Command: `%s`\n", o.Command)
	p("- Load: %d devices played over %d publisher connections and one command receiver, a reading every %s each, for %s per column; "+
		"capacity: %d readings of fresh devices, sent as fast as they are answered with at most %d unanswered. Servers in one share group ($share/bench/+/telemetry).\n\n",
		o.Devices, o.Conns, o.Interval, o.Window, o.Blast, blastWindow)
	if o.ServerCPU > 0 {
		p("- Each server instance held to %.0f%% of one core (a cgroup's CPU quota), as on a small machine of its own.\n\n", 100*o.ServerCPU)
	}
	p("| | broker alone (reflector) |")
	for _, run := range r.runs {
		p(" %d instance(s) |", run.k)
	}
	p("\n|---|---|%s\n", strings.Repeat("---|", len(r.runs)))
	row := func(name, ceiling string, f func(*instancesResult) string) {
		p("| %s | %s |", name, ceiling)
		for _, run := range r.runs {
			p(" %s |", f(run))
		}
		p("\n")
	}
	row("readings sent (per second)", "-", func(x *instancesResult) string {
		return fmt.Sprintf("%d (%.0f/s)", x.sent, x.readingsPerSecSent)
	})
	row("readings answered", "-", func(x *instancesResult) string { return fmt.Sprint(x.answered) })
	row("reading → command, p50", "-", func(x *instancesResult) string { return ms(x.p50) })
	row("reading → command, p99", "-", func(x *instancesResult) string { return ms(x.p99) })
	row("reading → command, max", "-", func(x *instancesResult) string { return ms(x.max) })
	row("server CPU per 1,000 readings (all instances)", "-", func(x *instancesResult) string { return per1000(x.serverCPU, x.sent) })
	row("broker CPU per 1,000 readings (and their commands)", per1000(r.ceiling.brokerCPU, r.ceiling.answered),
		func(x *instancesResult) string { return per1000(x.brokerCPU, x.sent) })
	capText := func(c capacity) string {
		return fmt.Sprintf("%.0f/s (%d of %d answered)", c.perSecond, c.answered, c.sent)
	}
	row("capacity: readings answered per second", capText(r.ceiling), func(x *instancesResult) string { return capText(x.capacity) })
	row("capacity as a share of the broker's ceiling", "100%", func(x *instancesResult) string {
		if r.ceiling.perSecond == 0 {
			return "-"
		}
		return fmt.Sprintf("%.0f%%", 100*x.capacity.perSecond/r.ceiling.perSecond)
	})
	row("server resident memory, VmRSS per instance", "-", func(x *instancesResult) string {
		var s []string
		for _, kb := range x.rssKB {
			s = append(s, fmt.Sprintf("%.1f MB", mb(kb)))
		}
		return strings.Join(s, ", ")
	})
	p("\n| devices tracked by one server | VmRSS | per device added since the row before |\n|---|---|---|\n")
	for i, pt := range r.memory {
		per := "-"
		if i > 0 {
			prev := r.memory[i-1]
			per = fmt.Sprintf("%.0f bytes", float64(pt.rssKB-prev.rssKB)*1024/float64(pt.devices-prev.devices))
		}
		p("| %d | %.1f MB | %s |\n", pt.devices, mb(pt.rssKB), per)
	}
	p("\nTargets:\n")
	for _, t := range r.targets() {
		p("- %s\n", t)
	}
	return b.String()
}

// targets says which of issue 16's targets the run met.
func (r *fleetReport) targets() []string {
	var lines []string
	for _, x := range r.runs {
		lines = append(lines, fmt.Sprintf("%d instance(s), %d devices every %s: p99 under %s: %s (%s); server CPU per reading below the broker's: %s (%s vs %s per 1,000)",
			x.k, x.devices, r.opts.Interval, ms(targetFleetP99), verdict(x.p99 > 0 && x.p99 < targetFleetP99), ms(x.p99),
			verdict(x.serverCPU < x.brokerCPU), per1000(x.serverCPU, x.sent), per1000(x.brokerCPU, x.sent)))
		if len(x.exited) > 0 {
			lines = append(lines, fmt.Sprintf("%d instance(s): %d server(s) EXITED during the run", x.k, len(x.exited)))
		}
	}
	// The last two rows: the smaller ones are dominated by the runtime's
	// and the connection's own start-up growth.
	if n := len(r.memory); n >= 2 {
		first, last := r.memory[n-2], r.memory[n-1]
		per := float64(last.rssKB-first.rssKB) * 1024 / float64(last.devices-first.devices)
		lines = append(lines, fmt.Sprintf("memory per tracked device under %d bytes (from %d to %d devices): %s (%.0f bytes)",
			targetBytesPerDevice, first.devices, last.devices, verdict(per < targetBytesPerDevice), per))
	}
	for i, x := range r.runs {
		if i == 0 || r.runs[0].capacity.perSecond == 0 {
			continue
		}
		gain := x.capacity.perSecond / r.runs[0].capacity.perSecond
		lines = append(lines, fmt.Sprintf("%d instances carry measurably more than one (over 10%% more): %s (%.2fx)", x.k, verdict(gain > 1.1), gain))
	}
	return lines
}

func verdict(ok bool) string {
	if ok {
		return "met"
	}
	return "NOT met"
}
