package main

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"nightlight/mqtt/mosquitto"
)

// TestFleet runs a short version of the fleet benchmark, so that it cannot
// rot. The figures are reported, never gated: it checks that the table is
// complete and that every reading of the steady phases was answered. CI
// runs it with NIGHTLIGHT_BENCH_FLEET=1.
func TestFleet(t *testing.T) {
	if os.Getenv("NIGHTLIGHT_BENCH_FLEET") != "1" {
		t.Skip("plays a fleet for about a minute: set NIGHTLIGHT_BENCH_FLEET=1 to run it (CI does)")
	}
	if _, err := mosquitto.Path(); err != nil {
		missingTool(t, err)
	}
	o := defaultFleetOptions()
	o.Devices, o.Window, o.Instances, o.Blast, o.Tracked = 1000, 10*time.Second, []int{1, 2}, 5000, []int{10, 1000, 10000}
	o.Command = "NIGHTLIGHT_BENCH_FLEET=1 go test -run '^TestFleet$' ./cmd/dev/bench"
	o.Progress = testLog{t}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var out bytes.Buffer
	rep, err := runFleet(ctx, o, &out)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("\n%s", out.String())
	for _, want := range []string{"Machine: ", "Date: ", "Command: `" + o.Command + "`",
		"| reading → command, p99 |", "| server CPU per 1,000 readings (all instances) |",
		"| broker CPU per 1,000 readings (and their commands) |", "| capacity: readings answered per second |",
		"| devices tracked by one server | VmRSS |", "memory per tracked device under 200 bytes", "2 instances carry measurably more"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the table has no %q", want)
		}
	}
	if rep.ceiling.answered != o.Blast {
		t.Errorf("the reflector answered %d of %d readings", rep.ceiling.answered, o.Blast)
	}
	for _, r := range rep.runs {
		if r.sent == 0 || r.answered != r.sent || r.p99 <= 0 || r.serverCPU <= 0 || r.capacity.answered != o.Blast || len(r.exited) > 0 {
			t.Errorf("%d instance(s): %d sent, %d answered, p99 %s, CPU %s, capacity %d of %d, exited %v",
				r.k, r.sent, r.answered, r.p99, r.serverCPU, r.capacity.answered, o.Blast, r.exited)
		}
	}
	if len(rep.memory) != len(o.Tracked) {
		t.Errorf("memory read at %d device counts, want %d", len(rep.memory), len(o.Tracked))
	}
}
