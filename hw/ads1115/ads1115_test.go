package ads1115

import (
	"errors"
	"strings"
	"testing"
	"time"

	"periph.io/x/conn/v3/i2c/i2ctest"

	"nightlight/hw/ads1115/ads1115sim"
)

var errNACK = errors.New("sysfs-i2c: remote I/O error")

// nackBus fails every transaction, as an empty address does.
type nackBus struct{ i2ctest.Playback }

func (*nackBus) Tx(uint16, []byte, []byte) error { return errNACK }

// faultBus plays a script byte for byte and fails the op at index failAt
// after checking and consuming it.
type faultBus struct {
	i2ctest.Playback
	failAt int
}

func (f *faultBus) Tx(addr uint16, w, r []byte) error {
	f.Lock()
	n := f.Count
	f.Unlock()
	if err := f.Playback.Tx(addr, w, r); err != nil {
		return err
	}
	if n == f.failAt {
		return errNACK
	}
	return nil
}

// probe is New's check that the chip answers: a read of the config register
// (0x8583 is its power-on value).
var probe = i2ctest.IO{Addr: 0x48, W: []byte{0x01}, R: []byte{0x85, 0x83}}

// conversion is one single-shot read: write the config register (OS=1
// start, MUX, PGA, MODE=single, DR=128 SPS, comparator off), read it back
// with OS 1 (done), then read the conversion register, big-endian.
func conversion(addr uint16, config uint16, hi, lo byte) []i2ctest.IO {
	return []i2ctest.IO{
		{Addr: addr, W: []byte{0x01, byte(config >> 8), byte(config)}},
		{Addr: addr, W: []byte{0x01}, R: []byte{byte(config >> 8), byte(config)}},
		{Addr: addr, W: []byte{0x00}, R: []byte{hi, lo}},
	}
}

func closeBus(t *testing.T, b *i2ctest.Playback) {
	t.Helper()
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestRead(t *testing.T) {
	// AIN0 vs GND = MUX 100, ±4.096 V = PGA 001: config 0xC383.
	var ops []i2ctest.IO
	ops = append(ops, probe)
	ops = append(ops, conversion(0x48, 0xC383, 0x33, 0x90)...) // 13200 = 1650 mV
	ops = append(ops, conversion(0x48, 0xC383, 0x00, 0x00)...) // 0
	ops = append(ops, conversion(0x48, 0xC383, 0x67, 0x20)...) // 26400 = 3300 mV
	ops = append(ops, conversion(0x48, 0xC383, 0x7F, 0xFF)...) // full scale, above the supply
	ops = append(ops, conversion(0x48, 0xC383, 0xFF, 0xF0)...) // -16, just below 0 V
	ops = append(ops, conversion(0x48, 0xC383, 0x0F, 0x78)...) // 3960 = 495 mV
	b := &i2ctest.Playback{Ops: ops, DontPanic: true}
	d, err := New(b, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []Reading{
		{Level: 500, Millivolts: 1650, Raw: 13200},
		{Level: 0, Millivolts: 0, Raw: 0},
		{Level: 1000, Millivolts: 3300, Raw: 26400},
		{Level: 1000, Millivolts: 4096, Raw: 32767},
		{Level: 0, Millivolts: -2, Raw: -16},
		{Level: 150, Millivolts: 495, Raw: 3960},
	}
	for i, w := range want {
		var got Reading
		if i%2 == 0 {
			got, err = d.Read()
		} else {
			got.Level, err = d.Level()
			got.Millivolts, got.Raw = w.Millivolts, w.Raw
		}
		if err != nil {
			t.Fatal(err)
		}
		if got != w {
			t.Errorf("read %d = %+v, want %+v", i, got, w)
		}
	}
	if d.String() != "ADS1115 A0 at 0x48" || d.Addr() != 0x48 || d.Channel() != 0 || d.Halt() != nil {
		t.Errorf("identity: %s", d)
	}
	closeBus(t, b)
}

func TestOpts(t *testing.T) {
	tests := []struct {
		name   string
		opts   Opts
		config uint16
		hi, lo byte
		level  int
	}{
		// AIN3 = MUX 111: config 0xF383. 13200 of 3300 mV.
		{"A3 at 0x49", Opts{Addr: 0x49, Channel: 3}, 0xF383, 0x33, 0x90, 500},
		// 5 V supply: ±6.144 V = PGA 000: config 0xC183. 16000 = 3000 mV of 5000.
		{"5 V supply", Opts{SupplyMillivolts: 5000}, 0xC183, 0x3E, 0x80, 600},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			addr := max(tt.opts.Addr, 0x48)
			ops := []i2ctest.IO{{Addr: addr, W: []byte{0x01}, R: []byte{0x85, 0x83}}}
			ops = append(ops, conversion(addr, tt.config, tt.hi, tt.lo)...)
			b := &i2ctest.Playback{Ops: ops, DontPanic: true}
			d, err := New(b, &tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			if l, err := d.Level(); err != nil || l != tt.level {
				t.Fatalf("Level() = %d, %v; want %d", l, err, tt.level)
			}
			closeBus(t, b)
		})
	}
}

func TestErrors(t *testing.T) {
	if _, err := New(&nackBus{}, nil); !errors.Is(err, ErrNotFound) || !errors.Is(err, errNACK) {
		t.Fatalf("nothing at 0x48: %v", err)
	}
	for _, o := range []Opts{{Channel: 4}, {Channel: -1}} {
		if _, err := New(&nackBus{}, &o); !errors.Is(err, ErrChannel) {
			t.Errorf("%+v: %v, want ErrChannel", o, err)
		}
	}
	for _, o := range []Opts{{Addr: 0x47}, {Addr: 0x4C}, {SupplyMillivolts: 6000}, {SupplyMillivolts: -1}} {
		if _, err := New(&nackBus{}, &o); err == nil || errors.Is(err, ErrNotFound) {
			t.Errorf("%+v: %v, want a refusal before any I/O", o, err)
		}
	}
	if _, err := New(nil, nil); err == nil {
		t.Error("New(nil) succeeded")
	}

	// A bus error at the conversion read.
	ops := append([]i2ctest.IO{probe}, conversion(0x48, 0xC383, 0, 0)...)
	b := &faultBus{Playback: i2ctest.Playback{Ops: ops, DontPanic: true}, failAt: 3}
	d, err := New(b, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = d.Read()
	if !errors.Is(err, errNACK) || !strings.HasPrefix(err.Error(), "ads1115: read A0: ") {
		t.Fatalf("bus error mid-read: %v", err)
	}
	closeBus(t, &b.Playback)
}

// TestSlowConversion: a chip whose single-shot conversion outlasts its
// nominal period still reads the conversion just started, not the previous
// one, because Read waits for the OS bit. A conversion that never ends is
// an error within a bound.
func TestSlowConversion(t *testing.T) {
	mv := 0
	chip := ads1115sim.New(0x48, func(int) (int, error) { return mv, nil })
	d, err := New(chip, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, slow := range []int{10, 300} {
		chip.SetSlowness(slow)
		for _, c := range []struct{ mv, level int }{{1650, 500}, {3300, 1000}, {330, 100}} {
			mv = c.mv
			if v, err := d.Level(); err != nil || v != c.level {
				t.Fatalf("%d %% slow, input %d mV: Level() = %d, %v; want %d", slow, c.mv, v, err, c.level)
			}
		}
	}
	chip.SetSlowness(100000) // a conversion of 7.8 s: the chip is stuck
	start := time.Now()
	_, err = d.Read()
	if err == nil || !strings.Contains(err.Error(), "the conversion did not end within") {
		t.Fatalf("stuck conversion: %v", err)
	}
	if took := time.Since(start); took > time.Second {
		t.Fatalf("stuck conversion: Read took %s", took)
	}
}
