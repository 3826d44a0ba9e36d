package ads1115sim_test

import (
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"periph.io/x/conn/v3/gpio"

	"nightlight/hw/ads1115"
	"nightlight/hw/ads1115/ads1115sim"
)

// wait bounds every wait for something that should happen at once.
const wait = 5 * time.Second

// inputs are the four channels' voltages in millivolts, settable while the
// chip converts.
type inputs struct {
	mv  [4]atomic.Int64
	bad atomic.Pointer[error] // when set, every input fails with it
}

func (in *inputs) set(ch, mv int) { in.mv[ch].Store(int64(mv)) }

func (in *inputs) get(ch int) (int, error) {
	if err := in.bad.Load(); err != nil {
		return 0, *err
	}
	return int(in.mv[ch].Load()), nil
}

func newChip(t *testing.T) (*ads1115sim.Chip, *inputs) {
	t.Helper()
	in := &inputs{}
	return ads1115sim.New(0, in.get), in
}

// tx does one transaction at 0x48, failing the test on an error.
func tx(t *testing.T, c *ads1115sim.Chip, w ...byte) uint16 {
	t.Helper()
	var r [2]byte
	if err := c.Tx(0x48, w, r[:]); err != nil {
		t.Fatalf("Tx(% x): %v", w, err)
	}
	return uint16(r[0])<<8 | uint16(r[1])
}

func writeReg(t *testing.T, c *ads1115sim.Chip, reg byte, v uint16) {
	t.Helper()
	if err := c.Tx(0x48, []byte{reg, byte(v >> 8), byte(v)}, nil); err != nil {
		t.Fatalf("write %#x = %#04x: %v", reg, v, err)
	}
}

func convert(t *testing.T, c *ads1115sim.Chip) {
	t.Helper()
	if err := c.Convert(); err != nil {
		t.Fatal(err)
	}
}

// alerted reports whether a falling edge happened since the last look.
func alerted(c *ads1115sim.Chip) bool { return c.Alert().WaitForEdge(0) }

func TestDriverReads(t *testing.T) {
	tests := []struct {
		supply, ch, mv   int
		level, raw, read int // read: the millivolts Read reports
	}{
		{3300, 0, 0, 0, 0, 0},
		{3300, 0, 990, 300, 7920, 990},
		{3300, 1, 1650, 500, 13200, 1650},
		{3300, 3, 3300, 1000, 26400, 3300},
		{3300, 0, 4500, 1000, 32767, 4096}, // beyond ±4.096 V: clamped
		{3300, 2, -5, 0, -40, -5},          // slightly negative reads 0
		{5000, 0, 1500, 300, 8000, 1500},
		{5000, 3, 2501, 500, 13339, 2501},
		{2048, 0, 1024, 500, 16384, 1024},
		{1000, 1, 250, 250, 8000, 250},
	}
	for _, tt := range tests {
		c, in := newChip(t)
		for ch := range 4 {
			in.set(ch, 777) // the other channels must not be read
		}
		in.set(tt.ch, tt.mv)
		d, err := ads1115.New(c, &ads1115.Opts{Channel: tt.ch, SupplyMillivolts: tt.supply})
		if err != nil {
			t.Fatal(err)
		}
		r, err := d.Read()
		if err != nil {
			t.Fatal(err)
		}
		if want := (ads1115.Reading{Level: tt.level, Millivolts: tt.read, Raw: tt.raw}); r != want {
			t.Errorf("%d mV on A%d of %d mV: %+v, want %+v", tt.mv, tt.ch, tt.supply, r, want)
		}
	}
}

func TestNotFound(t *testing.T) {
	c, _ := newChip(t)
	_, err := ads1115.New(c, &ads1115.Opts{Addr: 0x49})
	if !errors.Is(err, ads1115.ErrNotFound) || !errors.Is(err, ads1115sim.ErrNoAck) {
		t.Fatalf("nothing at 0x49: %v, want ErrNotFound wrapping ErrNoAck", err)
	}
	if c := ads1115sim.New(0x4A, nil); c.Tx(0x48, []byte{1}, nil) != ads1115sim.ErrNoAck || c.Tx(0x4A, []byte{1}, nil) != nil {
		t.Error("a chip at 0x4a answers at 0x48, or not at 0x4a")
	}
}

func TestInputError(t *testing.T) {
	c, in := newChip(t)
	d, err := ads1115.New(c, nil)
	if err != nil {
		t.Fatal(err)
	}
	broken := errors.New("sensor unplugged")
	in.bad.Store(&broken)
	if _, err := d.Read(); !errors.Is(err, broken) {
		t.Fatalf("Read with a broken input: %v", err)
	}
	if err := d.Watch(0, 500); !errors.Is(err, broken) {
		t.Fatalf("Watch with a broken input: %v", err)
	}
	in.bad.Store(nil)
	if err := d.Watch(0, 500); err != nil {
		t.Fatal(err)
	}
	in.bad.Store(&broken)
	if err := c.Convert(); !errors.Is(err, broken) {
		t.Fatalf("Convert with a broken input: %v", err)
	}
}

// TestWatch runs the daemon's cycle on the real driver: arm, sleep until
// ALERT/RDY falls, read (which releases it), arm again.
func TestWatch(t *testing.T) {
	c, in := newChip(t)
	pin := c.Alert()
	if err := pin.In(gpio.PullUp, gpio.FallingEdge); err != nil {
		t.Fatal(err)
	}
	d, err := ads1115.New(c, &ads1115.Opts{Channel: 1})
	if err != nil {
		t.Fatal(err)
	}
	in.set(1, 1650) // level 500
	if err := d.Watch(400, 600); err != nil {
		t.Fatal(err)
	}
	for _, mv := range []int{1650, 1320, 1980, 1700} { // 500, 400, 600, 515
		in.set(1, mv)
		convert(t, c)
		if alerted(c) || pin.Read() != gpio.High {
			t.Fatalf("%d mV inside the window: alert", mv)
		}
	}

	for _, tt := range []struct{ mv, level int }{{1200, 364}, {2300, 697}} {
		in.set(1, tt.mv)
		convert(t, c)
		if !pin.WaitForEdge(wait) || pin.Read() != gpio.Low {
			t.Fatalf("%d mV outside the window: no alert", tt.mv)
		}
		in.set(1, 1650)
		convert(t, c)
		if pin.Read() != gpio.Low {
			t.Fatal("back inside the window: released, want latched")
		}
		in.set(1, tt.mv)
		r, err := d.Read()
		if err != nil || r.Level != tt.level {
			t.Fatalf("Read after the alert = %+v, %v; want level %d", r, err, tt.level)
		}
		if pin.Read() != gpio.High {
			t.Fatal("Read left ALERT/RDY low")
		}
		convert(t, c) // powered down: no conversion, no alert
		if alerted(c) || pin.Read() != gpio.High {
			t.Fatal("alert after Read")
		}
		if err := d.Watch(400, 600); err != nil {
			t.Fatal(err)
		}
		if !alerted(c) {
			t.Fatal("armed outside the window: no alert")
		}
		if _, err := d.Read(); err != nil {
			t.Fatal(err)
		}
		in.set(1, 1650)
		if err := d.Watch(400, 600); err != nil {
			t.Fatal(err)
		}
	}

	// Halt powers the chip down and releases the pin.
	in.set(1, 0)
	convert(t, c)
	if !alerted(c) {
		t.Fatal("no alert at 0 mV")
	}
	if err := d.Halt(); err != nil {
		t.Fatal(err)
	}
	if pin.Read() != gpio.High || tx(t, c, 0x01)&0x0103 != 0x0103 {
		t.Fatalf("after Halt: pin %s, config %#04x", pin.Read(), tx(t, c, 0x01))
	}
}

// TestWatchEdges checks the window edges against Read, millivolt by
// millivolt: the chip alerts exactly when Read reports a level outside it.
func TestWatchEdges(t *testing.T) {
	for _, supply := range []int{3300, 5000} {
		c, in := newChip(t)
		if err := c.Alert().In(gpio.PullUp, gpio.FallingEdge); err != nil {
			t.Fatal(err)
		}
		d, err := ads1115.New(c, &ads1115.Opts{SupplyMillivolts: supply})
		if err != nil {
			t.Fatal(err)
		}
		lo, hi := 400, 600
		edges := []int{lo * supply / 1000, hi * supply / 1000}
		for _, e := range edges {
			seen := map[bool]bool{}
			for mv := e - 4; mv <= e+4; mv++ {
				in.set(0, supply/2)
				if err := d.Watch(lo, hi); err != nil {
					t.Fatal(err)
				}
				in.set(0, mv)
				convert(t, c)
				alert := alerted(c)
				r, err := d.Read()
				if err != nil {
					t.Fatal(err)
				}
				if outside := r.Level < lo || r.Level > hi; alert != outside {
					t.Errorf("%d mV of %d: level %d (raw %d), alert %t", mv, supply, r.Level, r.Raw, alert)
				}
				seen[alert] = true
			}
			if !seen[true] || !seen[false] {
				t.Errorf("%d mV of %d: the edge is not crossed", e, supply)
			}
		}
	}
}

// TestWatchUsesReadGain checks that Watch programs the PGA that periph's
// ads1x15 chose for Read: thresholds are codes, meaningful at one gain only.
func TestWatchUsesReadGain(t *testing.T) {
	for _, supply := range []int{5500, 5000, 4096, 3300, 2000, 1024, 600, 256, 100} {
		c, _ := newChip(t)
		d, err := ads1115.New(c, &ads1115.Opts{SupplyMillivolts: supply})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := d.Read(); err != nil {
			t.Fatal(err)
		}
		readPGA := tx(t, c, 0x01) >> 9 & 7
		if err := d.Watch(0, 1000); err != nil {
			t.Fatal(err)
		}
		if watchPGA := tx(t, c, 0x01) >> 9 & 7; watchPGA != readPGA {
			t.Errorf("%d mV: Watch PGA %03b, Read PGA %03b", supply, watchPGA, readPGA)
		}
	}
}

func TestRegisters(t *testing.T) {
	c, in := newChip(t)
	in.set(0, 1000)
	in.set(1, 400)
	in.set(2, -300)
	in.set(3, 2500)
	steps := []struct {
		name  string
		write []byte // a whole write, pointer first; nil: none
		read  int    // register read next, selected by its pointer byte; -1: no pointer byte
		want  uint16
	}{
		{"power-up Config", []byte{0x01}, 0x01, 0x8583},
		{"power-up Conversion", []byte{0x00}, 0x00, 0x0000},
		{"power-up Lo_thresh", []byte{0x02}, 0x02, 0x8000},
		{"power-up Hi_thresh", []byte{0x03}, 0x03, 0x7FFF},
		{"Lo_thresh is read/write", []byte{0x02, 0x12, 0x34}, 0x02, 0x1234},
		{"Hi_thresh is read/write", []byte{0x03, 0xAB, 0xCD}, 0x03, 0xABCD},
		{"Config without OS: no conversion", []byte{0x01, 0x43, 0x83}, 0x00, 0x0000},
		{"Config reads OS 1 when powered down", nil, 0x01, 0xC383},
		// AIN0 1000 mV at ±4.096 V: 8000.
		{"single-shot AIN0", []byte{0x01, 0xC3, 0x83}, 0x00, 8000},
		// AIN3 2500 mV at ±2.048 V: clamped.
		{"single-shot AIN3 clamped", []byte{0x01, 0xF5, 0x83}, 0x00, 0x7FFF},
		// AIN2 -300 mV at ±0.256 V: clamped to 0x8000.
		{"single-shot AIN2 negative clamped", []byte{0x01, 0xEB, 0x83}, 0x00, 0x8000},
		// AIN2 -300 mV at ±6.144 V: -1600.
		{"single-shot AIN2 negative", []byte{0x01, 0xE1, 0x83}, 0x00, uint16(0x10000 - 1600)},
		// AIN0-AIN1 = 600 mV at ±1.024 V: 19200.
		{"differential AIN0-AIN1", []byte{0x01, 0x87, 0x83}, 0x00, 19200},
		// AIN2-AIN3 = -2800 mV at ±4.096 V: -22400.
		{"differential AIN2-AIN3", []byte{0x01, 0xB3, 0x83}, 0x00, uint16(0x10000 - 22400)},
		{"continuous: converts at once", []byte{0x01, 0x52, 0x83}, 0x00, 3200},
		{"Config reads OS 0 while converting", nil, 0x01, 0x5283},
		{"the pointer stays", nil, -1, 0x5283},
	}
	for _, s := range steps {
		if s.write != nil {
			if err := c.Tx(0x48, s.write, nil); err != nil {
				t.Fatalf("%s: %v", s.name, err)
			}
		}
		var w []byte
		if s.read >= 0 {
			w = []byte{byte(s.read)}
		}
		var r [3]byte
		if err := c.Tx(0x48, w, r[:]); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		if got := uint16(r[0])<<8 | uint16(r[1]); got != s.want || r[2] != 0xFF {
			t.Errorf("%s: register %#x = %#04x (then %#02x), want %#04x", s.name, s.read, got, r[2], s.want)
		}
	}

	in.set(1, 800)
	convert(t, c)
	if v := tx(t, c, 0x00); v != 6400 {
		t.Errorf("continuous: Convert took %d, want 6400", v)
	}

	for _, w := range [][]byte{{0x04}, {0x00, 0x12, 0x34}, {0x01, 0x85}, {0x01, 0x85, 0x83, 0x00}} {
		if err := c.Tx(0x48, w, nil); err == nil {
			t.Errorf("Tx(% x) succeeded", w)
		}
	}
	if v := tx(t, c, 0x01); v != 0x5283 {
		t.Errorf("refused writes changed Config to %#04x", v)
	}
	if err := c.SetSpeed(400000); err == nil {
		t.Error("SetSpeed succeeded; it fails on a Pi")
	}
	if c.Close() != nil || c.String() != "ads1115sim" {
		t.Error("Close or String")
	}
}

// TestComparator plays conversions through each comparator setting and
// checks the line after each: L low, H high.
func TestComparator(t *testing.T) {
	// Thresholds 1000 and 2000 codes: 125 and 250 mV at ±4.096 V. Config
	// 0x4200: AIN0, ±4.096 V, continuous; plus the comparator bits.
	const below, inside, above = 100, 200, 300
	tests := []struct {
		name   string
		comp   uint16
		mv     []int
		levels string
	}{
		{"window", 0x10, []int{inside, below, inside, above, inside}, "HLHLH"},
		{"window latching", 0x14, []int{inside, below, inside, inside}, "HLLL"},
		{"window active high", 0x18, []int{inside, above, inside}, "LHL"},
		{"window assert after four", 0x12, []int{above, inside}, "LH"},
		{"traditional", 0x00, []int{below, above, inside, below, inside, above}, "HLLHHL"},
		{"traditional latching", 0x04, []int{above, below, inside}, "LLL"},
		{"traditional active high", 0x08, []int{inside, above, inside, below}, "LHHL"},
		{"comparator off", 0x13, []int{below, above}, "HH"},
		{"comparator off, active high", 0x1B, []int{below, above}, "HH"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, in := newChip(t)
			writeReg(t, c, 0x02, 1000)
			writeReg(t, c, 0x03, 2000)
			in.set(0, inside)
			writeReg(t, c, 0x01, 0x4280|tt.comp)
			var got []byte
			for _, mv := range tt.mv {
				in.set(0, mv)
				convert(t, c)
				got = append(got, "LH"[b2i(c.Alert().Read() == gpio.High)])
			}
			if string(got) != tt.levels {
				t.Errorf("levels %s, want %s", got, tt.levels)
			}
		})
	}
}

func TestLatchReleasedByConversionRead(t *testing.T) {
	c, in := newChip(t)
	pin := c.Alert()
	writeReg(t, c, 0x02, 1000)
	writeReg(t, c, 0x03, 2000)
	in.set(0, 200)
	writeReg(t, c, 0x01, 0x4295) // window, latching, continuous
	in.set(0, 50)
	convert(t, c)
	for _, reg := range []byte{0x01, 0x02, 0x03} {
		tx(t, c, reg)
		if pin.Read() != gpio.Low {
			t.Fatalf("reading register %#x released the latch", reg)
		}
	}
	if v := tx(t, c, 0x00); v != 400 || pin.Read() != gpio.High {
		t.Fatalf("Conversion read %d, pin %s: want 400 and released", v, pin.Read())
	}
	convert(t, c) // still below: asserts again
	if pin.Read() != gpio.Low {
		t.Fatal("no new assertion after the latch was cleared")
	}
	writeReg(t, c, 0x01, 0x4297) // COMP_QUE 11
	if pin.Read() != gpio.High {
		t.Fatal("COMP_QUE 11 did not release the pin")
	}
	convert(t, c)
	if pin.Read() != gpio.High {
		t.Fatal("comparator off, yet asserted")
	}
}

func TestConversionReady(t *testing.T) {
	c, in := newChip(t)
	pin := c.Alert()
	if err := pin.In(gpio.PullUp, gpio.BothEdges); err != nil {
		t.Fatal(err)
	}
	in.set(0, 100)
	writeReg(t, c, 0x02, 0x0000) // Lo_thresh MSB 0
	writeReg(t, c, 0x03, 0x8000) // Hi_thresh MSB 1
	writeReg(t, c, 0x01, 0x4280) // continuous, COMP_QUE 00
	pin.WaitForEdge(0)
	convert(t, c)
	if !pin.WaitForEdge(0) || pin.Read() != gpio.High {
		t.Fatal("continuous: no ready pulse, or the pin stayed low")
	}
	writeReg(t, c, 0x01, 0xC380) // single-shot, started
	pin.WaitForEdge(0)
	if pin.Read() != gpio.Low {
		t.Fatal("single-shot: conversion done, yet ALERT/RDY released")
	}
}

func TestPullDown(t *testing.T) {
	c, _ := newChip(t)
	pin := c.Alert()
	if pin.Read() != gpio.High || pin.Pull() != gpio.Float {
		t.Fatalf("power-up: %s, pull %s", pin.Read(), pin.Pull())
	}
	if err := pin.In(gpio.PullDown, gpio.NoEdge); err != nil || pin.Read() != gpio.Low {
		t.Fatalf("released with a pull-down: %s, %v", pin.Read(), err)
	}
	if err := pin.In(gpio.PullNoChange, gpio.NoEdge); err != nil || pin.Pull() != gpio.PullDown {
		t.Fatalf("PullNoChange changed the pull to %s, %v", pin.Pull(), err)
	}
	if pin.In(gpio.Pull(42), gpio.NoEdge) == nil || pin.In(gpio.PullUp, gpio.Edge(42)) == nil {
		t.Error("In accepted an unknown pull or edge")
	}
	if pin.Number() != -1 || pin.Name() != "ADS1115(0x48) ALERT/RDY" || pin.String() != pin.Name() || pin.Function() != string(gpio.IN) {
		t.Errorf("identity: %d %q %q %q", pin.Number(), pin.Name(), pin, pin.Function())
	}
}

// assertAlert and releaseAlert make the chip pull ALERT/RDY low or release
// it: a latching window comparator, and a Conversion register read.
func assertAlert(t *testing.T, c *ads1115sim.Chip) {
	t.Helper()
	writeReg(t, c, 0x02, 0x7FFF) // everything is below
	writeReg(t, c, 0x01, 0x4295)
}

func releaseAlert(t *testing.T, c *ads1115sim.Chip) {
	t.Helper()
	tx(t, c, 0x00)
	writeReg(t, c, 0x01, 0x4383) // powered down, comparator off
}

func TestEdges(t *testing.T) {
	tests := []struct {
		edge         gpio.Edge
		falls, rises bool
	}{
		{gpio.FallingEdge, true, false},
		{gpio.RisingEdge, false, true},
		{gpio.BothEdges, true, true},
		{gpio.NoEdge, false, false},
	}
	for _, tt := range tests {
		c, _ := newChip(t)
		pin := c.Alert()
		if err := pin.In(gpio.PullUp, tt.edge); err != nil {
			t.Fatal(err)
		}
		assertAlert(t, c)
		if got := pin.WaitForEdge(0); got != tt.falls {
			t.Errorf("%s: falling edge seen %t", tt.edge, got)
		}
		if pin.WaitForEdge(0) {
			t.Errorf("%s: one edge seen twice", tt.edge)
		}
		releaseAlert(t, c)
		if got := pin.WaitForEdge(0); got != tt.rises {
			t.Errorf("%s: rising edge seen %t", tt.edge, got)
		}
	}

	// Edges while nobody waits collapse into one; In forgets them.
	c, _ := newChip(t)
	pin := c.Alert()
	if err := pin.In(gpio.PullUp, gpio.BothEdges); err != nil {
		t.Fatal(err)
	}
	assertAlert(t, c)
	releaseAlert(t, c)
	if !pin.WaitForEdge(-1) || pin.WaitForEdge(0) {
		t.Error("two edges: want one WaitForEdge true, then false")
	}
	assertAlert(t, c)
	if err := pin.In(gpio.PullUp, gpio.BothEdges); err != nil {
		t.Fatal(err)
	}
	if pin.WaitForEdge(0) {
		t.Error("an edge from before In")
	}
}

func TestWaitForEdgeTimeout(t *testing.T) {
	c, _ := newChip(t)
	pin := c.Alert()
	if pin.WaitForEdge(-1) {
		t.Fatal("no edge detection set, yet an edge")
	}
	if err := pin.In(gpio.PullUp, gpio.FallingEdge); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if pin.WaitForEdge(20 * time.Millisecond) {
		t.Fatal("an edge out of nothing")
	}
	if d := time.Since(start); d < 20*time.Millisecond || d > wait {
		t.Fatalf("WaitForEdge(20ms) took %s", d)
	}
}

// TestWaitForEdgeWakes blocks a waiter without timeout and wakes it from
// another goroutine: by an edge (true), Halt or In (false).
func TestWaitForEdgeWakes(t *testing.T) {
	wakers := []struct {
		name string
		wake func(*testing.T, *ads1115sim.Chip)
		want bool
	}{
		{"edge", assertAlert, true},
		{"Halt", func(t *testing.T, c *ads1115sim.Chip) { _ = c.Alert().Halt() }, false},
		{"In", func(t *testing.T, c *ads1115sim.Chip) { _ = c.Alert().In(gpio.PullUp, gpio.NoEdge) }, false},
	}
	for _, w := range wakers {
		t.Run(w.name, func(t *testing.T) {
			c, _ := newChip(t)
			pin := c.Alert()
			if err := pin.In(gpio.PullUp, gpio.FallingEdge); err != nil {
				t.Fatal(err)
			}
			got := make(chan bool, 1)
			go func() { got <- pin.WaitForEdge(-1) }()
			// Halt and In wake only a waiter already waiting, and nothing
			// tells when the goroutine has started to: wake until it
			// answers. An edge is remembered, so once is enough.
			deadline := time.After(wait)
			for {
				w.wake(t, c)
				select {
				case g := <-got:
					if g != w.want {
						t.Fatalf("WaitForEdge = %t, want %t", g, w.want)
					}
					return
				case <-time.After(time.Millisecond):
				case <-deadline:
					t.Fatalf("the waiter still waits after %s", wait)
				}
			}
		})
	}
}

// TestConcurrent is meant for -race: the simulation converts while the
// driver reads and watches and a goroutine waits on the pin.
func TestConcurrent(t *testing.T) {
	c, in := newChip(t)
	pin := c.Alert()
	if err := pin.In(gpio.PullUp, gpio.FallingEdge); err != nil {
		t.Fatal(err)
	}
	d, err := ads1115.New(c, nil)
	if err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			in.set(0, i%3300)
			_ = c.Convert()
		}
	}()
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
				pin.WaitForEdge(time.Millisecond)
			}
		}
	}()
	for range 20 {
		if err := d.Watch(300, 700); err != nil {
			t.Fatal(err)
		}
		r, err := d.Read()
		if err != nil || r.Level < 0 || r.Level > 1000 {
			t.Fatalf("Read = %+v, %v", r, err)
		}
	}
	close(stop)
	_ = pin.Halt()
	wg.Wait()
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}
