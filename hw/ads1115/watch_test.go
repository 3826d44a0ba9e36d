package ads1115

import (
	"errors"
	"strings"
	"testing"

	"periph.io/x/conn/v3/i2c/i2ctest"
)

// watchOps is what Watch writes: Lo_thresh, Hi_thresh, then Config,
// each as the pointer byte and a big-endian value.
func watchOps(addr uint16, lo, hi, config uint16) []i2ctest.IO {
	w := func(reg byte, v uint16) i2ctest.IO {
		return i2ctest.IO{Addr: addr, W: []byte{reg, byte(v >> 8), byte(v)}}
	}
	return []i2ctest.IO{w(0x02, lo), w(0x03, hi), w(0x01, config)}
}

func TestWatchWrites(t *testing.T) {
	// Config: OS 0, MUX 1xx (AINx vs GND), PGA, MODE 0 (continuous), DR 100
	// (128 SPS), COMP_MODE 1 (window), COMP_POL 0 (active low), COMP_LAT 1,
	// COMP_QUE 01 (two conversions): 0x4095 | channel<<12 | PGA<<9.
	//
	// 3300 mV on ±4.096 V (PGA 001): a code is 0.125 mV, a level 3.3 mV =
	// 26.4 codes, and Read reports level L for codes from 26.4L-13.2 up.
	// 5000 mV on ±6.144 V (PGA 000): a code is 0.1875 mV, a level 26.67
	// codes, level L from 26.67L-13.33 up (a tie rounds up).
	tests := []struct {
		name            string
		opts            Opts
		lo, hi          int
		loT, hiT, confT uint16
	}{
		// 7907 = ceil(7906.8); 18493 = ceil(26.4*701-13.2)-1.
		{"A0 3.3V 300..700", Opts{}, 300, 700, 7907, 18493, 0x4295},
		{"A3 3.3V no bounds", Opts{Channel: 3}, 0, 1000, 0x8000, 0x7FFF, 0x7295},
		// 13187 = ceil(13186.8), 13213 = ceil(13213.2)-1: the codes of level 500.
		{"A3 3.3V 500..500", Opts{Channel: 3}, 500, 500, 13187, 13213, 0x7295},
		// 26387 = ceil(26386.8); nothing reads above 1000.
		{"A0 3.3V 1000..1000", Opts{}, 1000, 1000, 26387, 0x7FFF, 0x4295},
		// 7987 = ceil(7986.67); 18680 = 26.67*701-13.33 exactly reads 701.
		{"A0 5V 300..700", Opts{SupplyMillivolts: 5000}, 300, 700, 7987, 18679, 0x4095},
		// 14 = ceil(13.33) is the first code of level 1.
		{"A3 5V 0..0", Opts{Channel: 3, SupplyMillivolts: 5000}, 0, 0, 0x8000, 13, 0x7095},
		// 6654 = ceil(6653.33); 24013 = ceil(24013.33)-1.
		{"A3 5V 250..900 at 0x4b", Opts{Addr: 0x4B, Channel: 3, SupplyMillivolts: 5000}, 250, 900, 6654, 24013, 0x7095},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			addr := max(tt.opts.Addr, 0x48)
			ops := []i2ctest.IO{{Addr: addr, W: []byte{0x01}, R: []byte{0x85, 0x83}}}
			ops = append(ops, watchOps(addr, tt.loT, tt.hiT, tt.confT)...)
			b := &i2ctest.Playback{Ops: ops, DontPanic: true}
			d, err := New(b, &tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			if err := d.Watch(tt.lo, tt.hi); err != nil {
				t.Fatal(err)
			}
			closeBus(t, b)
		})
	}
}

// TestWatchWindowIsRead checks the thresholds against Read itself: the code
// at Lo_thresh reads as lo and the one below as lo-1 (so "below Lo_thresh"
// is "below lo"), the code at Hi_thresh reads as hi and the one above as
// hi+1.
func TestWatchWindowIsRead(t *testing.T) {
	for _, supply := range []int{3300, 5000, 1000, 2048, 250} {
		d := newQuiet(t, supply)
		for lo := 0; lo <= 1000; lo++ {
			l, h := d.window(lo, lo)
			if lo > 0 && (d.codeLevel(l) != lo || d.codeLevel(l-1) != lo-1) {
				t.Fatalf("%d mV: Lo_thresh %d for %d reads %d, one below %d", supply, l, lo, d.codeLevel(l), d.codeLevel(l-1))
			}
			if lo < 1000 && (d.codeLevel(h) != lo || d.codeLevel(h+1) != lo+1) {
				t.Fatalf("%d mV: Hi_thresh %d for %d reads %d, one above %d", supply, h, lo, d.codeLevel(h), d.codeLevel(h+1))
			}
			if h <= l {
				t.Fatalf("%d mV: level %d: Hi_thresh %d not above Lo_thresh %d", supply, lo, h, l)
			}
		}
	}

	// codeLevel is what Read reports: the same codes through a real Read.
	d := newQuiet(t, 3300)
	lo, hi := d.window(300, 700)
	var ops []i2ctest.IO
	ops = append(ops, probe)
	for _, c := range []int{lo - 1, lo, hi, hi + 1} {
		ops = append(ops, conversion(0x48, 0xC383, byte(c>>8), byte(c))...)
	}
	b := &i2ctest.Playback{Ops: ops, DontPanic: true}
	r, err := New(b, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []int{299, 300, 700, 701} {
		if l, err := r.Level(); err != nil || l != want {
			t.Errorf("Level() = %d, %v; want %d", l, err, want)
		}
	}
	closeBus(t, b)
}

// newQuiet returns a Dev for computing with, on a bus that answers only New.
func newQuiet(t *testing.T, supply int) *Dev {
	t.Helper()
	d, err := New(&i2ctest.Playback{Ops: []i2ctest.IO{probe}, DontPanic: true}, &Opts{SupplyMillivolts: supply})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestWatchRefusesBadWindow(t *testing.T) {
	b := &i2ctest.Playback{Ops: []i2ctest.IO{probe}, DontPanic: true}
	d, err := New(b, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range [][2]int{{-1, 500}, {0, 1001}, {600, 500}, {1001, 1001}} {
		err := d.Watch(w[0], w[1])
		if err == nil || !strings.HasPrefix(err.Error(), "ads1115: watch A0: window ") || !strings.Contains(err.Error(), "0 <= lo <= hi <= 1000") {
			t.Errorf("Watch(%d, %d) = %v", w[0], w[1], err)
		}
	}
	closeBus(t, b) // no transaction was attempted
}

func TestWatchBusError(t *testing.T) {
	for i, reg := range []string{"Lo_thresh", "Hi_thresh", "Config"} {
		ops := append([]i2ctest.IO{probe}, watchOps(0x48, 7907, 18493, 0x4295)...)
		b := &faultBus{Playback: i2ctest.Playback{Ops: ops[:2+i], DontPanic: true}, failAt: 1 + i}
		d, err := New(b, nil)
		if err != nil {
			t.Fatal(err)
		}
		err = d.Watch(300, 700)
		if !errors.Is(err, errNACK) || !strings.HasPrefix(err.Error(), "ads1115: watch A0: write "+reg+": ") {
			t.Errorf("bus error at %s: %v", reg, err)
		}
		closeBus(t, &b.Playback) // nothing written after the failure
	}
}

// TestReadAfterWatch plays what the daemon does: arm, wake, read (the
// single-shot sequence that stops the conversions), arm again, and halt.
func TestReadAfterWatch(t *testing.T) {
	var ops []i2ctest.IO
	ops = append(ops, probe)
	ops = append(ops, watchOps(0x48, 7907, 18493, 0x4295)...)
	ops = append(ops, conversion(0x48, 0xC383, 0x1E, 0xE2)...) // 7906, level 299
	ops = append(ops, watchOps(0x48, 0x8000, 13213, 0x4295)...)
	// Halt powers the chip down: MODE 1, comparator off, OS 0.
	ops = append(ops, i2ctest.IO{Addr: 0x48, W: []byte{0x01, 0x43, 0x83}})
	b := &i2ctest.Playback{Ops: ops, DontPanic: true}
	d, err := New(b, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Watch(300, 700); err != nil {
		t.Fatal(err)
	}
	if r, err := d.Read(); err != nil || r.Level != 299 || r.Raw != 7906 {
		t.Fatalf("Read after Watch = %+v, %v", r, err)
	}
	if err := d.Watch(0, 500); err != nil {
		t.Fatal(err)
	}
	if err := d.Halt(); err != nil {
		t.Fatal(err)
	}
	if err := d.Halt(); err != nil { // powered down already: no I/O
		t.Fatal(err)
	}
	closeBus(t, b)
}

func TestHaltBusError(t *testing.T) {
	ops := append([]i2ctest.IO{probe}, watchOps(0x48, 7907, 18493, 0x4295)...)
	ops = append(ops, i2ctest.IO{Addr: 0x48, W: []byte{0x01, 0x43, 0x83}})
	b := &faultBus{Playback: i2ctest.Playback{Ops: ops, DontPanic: true}, failAt: 4}
	d, err := New(b, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Watch(300, 700); err != nil {
		t.Fatal(err)
	}
	if err := d.Halt(); !errors.Is(err, errNACK) || !strings.HasPrefix(err.Error(), "ads1115: halt A0: ") {
		t.Fatalf("bus error at halt: %v", err)
	}
	closeBus(t, &b.Playback)
}

// TestLatest: while watching, Latest checks that the chip still is, then
// reads the Conversion register once, with no conversion started and no
// wait, and leaves the chip watching; without Watch, after Read, or after the
// chip lost its configuration (a reset), it refuses.
func TestLatest(t *testing.T) {
	cfg := i2ctest.IO{Addr: 0x48, W: []byte{0x01}, R: []byte{0x42, 0x95}} // as Watch left it
	var ops []i2ctest.IO
	ops = append(ops, probe)
	ops = append(ops, watchOps(0x48, 7907, 18493, 0x4295)...)
	ops = append(ops, cfg, i2ctest.IO{Addr: 0x48, W: []byte{0x00}, R: []byte{0x48, 0x3E}}) // 18494, level 701
	ops = append(ops, cfg, i2ctest.IO{Addr: 0x48, W: []byte{0x00}, R: []byte{0xFF, 0xF0}}) // -16: a hair below 0 V, level 0
	ops = append(ops, conversion(0x48, 0xC383, 0x1E, 0xE2)...)                             // Read: 7906, level 299
	ops = append(ops, watchOps(0x48, 7907, 18493, 0x4295)...)
	ops = append(ops, i2ctest.IO{Addr: 0x48, W: []byte{0x01}, R: []byte{0x85, 0x83}}) // reset: power-up config
	b := &i2ctest.Playback{Ops: ops, DontPanic: true}
	d, err := New(b, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Latest(); !errors.Is(err, ErrNotWatching) {
		t.Fatalf("Latest before Watch = %v, want ErrNotWatching", err)
	}
	if err := d.Watch(300, 700); err != nil {
		t.Fatal(err)
	}
	if r, err := d.Latest(); err != nil || r.Level != 701 || r.Raw != 18494 || r.Millivolts != 2312 {
		t.Fatalf("Latest = %+v, %v; want level 701, raw 18494, 2312 mV", r, err)
	}
	if r, err := d.Latest(); err != nil || r.Level != 0 || r.Raw != -16 {
		t.Fatalf("Latest = %+v, %v; want level 0, raw -16", r, err)
	}
	if r, err := d.Read(); err != nil || r.Level != 299 {
		t.Fatalf("Read = %+v, %v", r, err)
	}
	if _, err := d.Latest(); !errors.Is(err, ErrNotWatching) {
		t.Fatalf("Latest after Read = %v, want ErrNotWatching", err)
	}
	if err := d.Watch(300, 700); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Latest(); !errors.Is(err, ErrNotWatching) || !strings.Contains(err.Error(), "config 0x0583") {
		t.Fatalf("Latest after a reset = %v, want ErrNotWatching naming the config found", err)
	}
	if _, err := d.Latest(); !errors.Is(err, ErrNotWatching) { // and no more bus traffic
		t.Fatalf("Latest = %v, want ErrNotWatching", err)
	}
	closeBus(t, b)
}
