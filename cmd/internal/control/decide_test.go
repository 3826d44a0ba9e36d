package control

import (
	"strings"
	"testing"
	"time"

	"nightlight/mqtt/wire"
)

var t0 = time.Date(2026, 12, 1, 18, 0, 0, 0, time.UTC)

// at is a reading of device taken ts after t0 (ts -1: none, as the
// lesson's device sends) that arrived at t0.
func at(device string, light int, seq uint64, ts time.Duration) reading {
	r := reading{device: device, t: wire.Telemetry{Light: light, Seq: seq}, at: t0}
	if ts != -1 {
		r.t.TS = t0.Add(ts)
	}
	return r
}

// named gives r a payload id.
func named(r reading, id string) reading { r.t.Device = id; return r }

// TestDecide: batches of readings through the server's decision, in
// sequence, each decided at t0 plus a second.
func TestDecide(t *testing.T) {
	type want struct {
		device string
		ledOn  bool
		seq    uint64
	}
	type batch struct {
		in     []reading
		orders []want
		notes  []string // the notes' messages, in order
	}
	received := "telemetry received"
	for _, tc := range []struct {
		name    string
		batches []batch
	}{
		{"dark and bright by the threshold", []batch{
			{[]reading{at("d1", 299, 1, 0)}, []want{{"d1", true, 1}}, []string{received}},
			{[]reading{at("d1", 300, 2, time.Millisecond)}, []want{{"d1", false, 2}}, []string{received}},
		}},
		{"the lesson's reading, no ts, is as old as its arrival", []batch{
			{[]reading{at("d3", 100, 0, -1)}, []want{{"d3", true, 0}}, []string{received}},
		}},
		{"history is logged, never commanded", []batch{
			{[]reading{at("d1", 100, 10, 0)}, []want{{"d1", true, 10}}, []string{received}},
			{[]reading{at("d1", 900, 3, -time.Hour)}, nil, []string{"telemetry from history"}},
			{[]reading{at("d1", 900, 9, -time.Second)}, nil, []string{"older than the newest"}},
		}},
		{"a replayed backlog: one command for the newest fresh reading", []batch{
			{[]reading{at("d1", 100, 1, -time.Hour), at("d1", 100, 2, -2*time.Second), at("d1", 900, 3, -time.Second), at("d1", 100, 4, 0)},
				[]want{{"d1", true, 4}},
				[]string{"telemetry from history", received, received, "superseded", received, "superseded"}},
		}},
		{"devices are decided apart, in the order they came", []batch{
			{[]reading{at("b", 900, 1, 0), at("a", 100, 1, 0), at("b", 100, 2, time.Millisecond)},
				[]want{{"b", true, 2}, {"a", true, 1}},
				[]string{received, received, received, "superseded"}},
		}},
		{"a payload naming another device drives nothing, and is not its newest", []batch{
			{[]reading{named(at("d6", 100, 7, 0), "d7")}, nil, []string{"names another device"}},
			{[]reading{at("d6", 900, 6, -time.Millisecond), named(at("d6", 100, 8, time.Millisecond), "d6")},
				[]want{{"d6", true, 8}}, []string{received, received, "superseded"}},
		}},
		{"a seq that goes back with a newer ts: a device counting from 1 again", []batch{
			{[]reading{at("d8", 100, 5000, 0)}, []want{{"d8", true, 5000}}, []string{received}},
			{[]reading{at("d8", 900, 1, time.Second)}, []want{{"d8", false, 1}}, []string{received}},
		}},
		{"readings of one device arriving out of order (a shared subscription): the older is history", []batch{
			{[]reading{at("d9", 900, 11, 0)}, []want{{"d9", false, 11}}, []string{received}},
			{[]reading{at("d9", 100, 10, -5*time.Millisecond)}, nil, []string{"older than the newest"}},
		}},
		{"a clock far ahead is refused, and does not poison the next", []batch{
			{[]reading{at("d4", 100, 5, time.Hour)}, nil, []string{"from the future"}},
			{[]reading{at("d4", 100, 6, time.Second)}, []want{{"d4", true, 6}}, []string{received}},
		}},
		{"a clock a little ahead: newest is capped at arrival", []batch{
			{[]reading{at("d5", 100, 1, 10*time.Second)}, []want{{"d5", true, 1}}, []string{received}},
			{[]reading{at("d5", 800, 2, 11*time.Second)}, []want{{"d5", false, 2}}, []string{received}},
			{[]reading{at("d5", 800, 3, time.Second)}, []want{{"d5", false, 3}}, []string{received}},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := newDecider(wire.DefaultThreshold, DefaultMaxAge)
			for i, b := range tc.batches {
				orders, notes := d.decide(b.in, t0.Add(time.Second))
				var got []want
				for _, o := range orders {
					got = append(got, want{o.device, o.ledOn, o.answer.Seq})
				}
				if len(got) != len(b.orders) {
					t.Fatalf("batch %d: orders %+v, want %+v", i, got, b.orders)
				}
				for j := range got {
					if got[j] != b.orders[j] {
						t.Errorf("batch %d: order %d is %+v, want %+v", i, j, got[j], b.orders[j])
					}
				}
				if len(notes) != len(b.notes) {
					t.Fatalf("batch %d: %d notes %+v, want %q", i, len(notes), notes, b.notes)
				}
				for j, n := range notes {
					if !strings.Contains(n.msg, b.notes[j]) {
						t.Errorf("batch %d: note %d says %q, want %q", i, j, n.msg, b.notes[j])
					}
				}
			}
		})
	}
}

// TestDecideWarnsOnlyAboutClocks: history is routine; a clock in the
// future, and a payload naming another device, are what an operator must
// look at.
func TestDecideWarnsOnlyAboutClocks(t *testing.T) {
	d := newDecider(wire.DefaultThreshold, DefaultMaxAge)
	_, notes := d.decide([]reading{at("a", 1, 1, -time.Hour), at("b", 1, 1, time.Hour), at("c", 1, 1, 0), named(at("e", 1, 1, 0), "f")}, t0)
	for i, want := range []bool{false, true, false, true} {
		if notes[i].warn != want {
			t.Errorf("note %q: warn %v, want %v", notes[i].msg, notes[i].warn, want)
		}
	}
	if d.devices() != 1 {
		t.Errorf("following %d devices, want 1 (only fresh readings count)", d.devices())
	}
}

// TestDecideByTheDevicesThreshold: a device that reports its own threshold
// in its state is decided by it; one that reports none by the server's.
func TestDecideByTheDevicesThreshold(t *testing.T) {
	d := newDecider(wire.DefaultThreshold, DefaultMaxAge)
	own := 500
	d.learn("hall", &own)
	orders, _ := d.decide([]reading{at("hall", 400, 1, 0), at("desk", 400, 1, 0)}, t0)
	if !orders[0].ledOn || orders[1].ledOn {
		t.Errorf("light 400: hall (threshold 500) led_on %v, desk (the server's 300) led_on %v; want true, false", orders[0].ledOn, orders[1].ledOn)
	}
	d.learn("hall", nil) // a state without a threshold: back to the server's
	orders, _ = d.decide([]reading{at("hall", 400, 2, time.Millisecond)}, t0)
	if orders[0].ledOn {
		t.Error("hall still decided by its old threshold after a state without one")
	}
}
