package main

import (
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

var (
	storedLine  = regexp.MustCompile(`msg=reading .*seq=(\d+)`)
	appliedLine = regexp.MustCompile(`msg="command applied" .*answers_seq=(\d+)`)
	ledLine     = regexp.MustCompile(`msg=LED .*led_on=(true|false)`)
	lostLine    = regexp.MustCompile(`outbox stores readings again.* lost=(\d+)`)
)

// numbers are the first group of every match of re in s, as numbers.
func numbers(re *regexp.Regexp, s string) []uint64 {
	var out []uint64
	for _, m := range re.FindAllStringSubmatch(s, -1) {
		n, _ := strconv.ParseUint(m[1], 10, 64)
		out = append(out, n)
	}
	return out
}

// heal gives every device a last light level and waits until every LED
// agrees with it.
func (s *soak) heal() {
	s.logf("faults over: %v; every device's light turns over", s.faults)
	for i := range s.devices {
		// The other side of the threshold: the LED must change to agree.
		if s.level[i] < 300 {
			s.setLight(i, 900)
		} else {
			s.setLight(i, 100)
		}
	}
	healed := time.Now()
	for i, d := range s.devices {
		want := s.level[i] < 300
		for {
			leds := ledLine.FindAllStringSubmatch(d.current().out.String(), -1)
			if len(leds) > 0 && leds[len(leds)-1][1] == strconv.FormatBool(want) {
				break
			}
			if time.Since(healed) > convergeBound {
				s.t.Errorf("%s: light %d, but its LED is not led_on=%v %s after the faults ended", d.name, s.level[i], want, convergeBound)
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	s.logf("every LED agrees with its device's light within %s of the end of the faults", time.Since(healed).Round(time.Millisecond))
}

// check holds the soak to its promises and reports what it checked.
func (s *soak) check() {
	for _, p := range append(append([]*soakProc{}, s.servers...), s.devices...) {
		for _, e := range p.exited(s.kills[p]) {
			s.t.Errorf("exited on its own: %s", e)
		}
	}
	var readings, dups, lost, notStored, applied, refused int
	for _, d := range s.devices {
		var stored []uint64
		var logs strings.Builder
		for _, run := range d.runs {
			out := run.out.String()
			logs.WriteString(out)
			stored = append(stored, numbers(storedLine, out)...)
			if a := numbers(appliedLine, out); !slices.IsSorted(a) {
				s.t.Errorf("%s obeyed a command answering an older reading than one it had obeyed: answers_seq %v", d.name, a)
			}
		}
		for _, n := range numbers(lostLine, logs.String()) {
			notStored += int(n)
		}
		applied += len(numbers(appliedLine, logs.String()))
		refused += strings.Count(logs.String(), "out of order: answers reading")
		got := s.waitDelivered(s.obs, d.name, stored)
		du, lo := s.checkDevice(d.name, stored, got)
		dups, lost = dups+du, lost+lo
		readings += len(stored)
	}
	s.logf("checked: %d readings stored by %d devices, %d lost, %d duplicates dropped by seq; %d readings not stored while the disk was full (counted by the device); %d commands obeyed, %d late answers refused",
		readings, soakDevices, lost, dups, notStored, applied, refused)
	kinds := make([]string, 0, len(s.faults))
	for k, n := range s.faults {
		kinds = append(kinds, fmt.Sprintf("%s %d", k, n))
	}
	sort.Strings(kinds)
	s.logf("faults injected: %s", strings.Join(kinds, ", "))
}

// waitDelivered waits until the observer has every stored seq of device.
func (s *soak) waitDelivered(obs *observer, device string, stored []uint64) []uint64 {
	deadline := time.Now().Add(30 * time.Second)
	for {
		got := map[uint64]bool{}
		for _, q := range obs.of(device) {
			got[q] = true
		}
		missing := slices.ContainsFunc(stored, func(q uint64) bool { return !got[q] })
		if !missing || time.Now().After(deadline) {
			return obs.of(device)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// checkDevice: every stored seq arrived; first arrivals in order; the seqs
// are 1..max without a hole. It returns the duplicates and the lost.
func (s *soak) checkDevice(device string, stored, got []uint64) (int, int) {
	seen := map[uint64]bool{}
	var last uint64
	dups := 0
	for _, q := range got {
		if seen[q] {
			dups++
			continue
		}
		if q < last {
			s.t.Errorf("%s: seq %d first arrived after %d: out of order", device, q, last)
		}
		seen[q], last = true, q
	}
	lost := 0
	for _, q := range stored {
		if !seen[q] {
			if lost++; lost <= 5 {
				s.t.Errorf("%s: seq %d was stored but never arrived", device, q)
			}
		}
		seen[q] = true
	}
	if lost > 0 {
		s.t.Errorf("%s: %d of %d stored readings lost", device, lost, len(stored))
	}
	top := last
	for q := range seen {
		top = max(top, q)
	}
	for q := uint64(1); q <= top; q++ {
		if !seen[q] {
			s.t.Errorf("%s: seq %d is missing: a gap, though the machine never went down", device, q)
			break
		}
	}
	return dups, lost
}
