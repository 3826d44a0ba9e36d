package grovehatsim_test

import (
	"errors"
	"sync"
	"testing"

	"nightlight/hw/grovehat"
	"nightlight/hw/grovehat/grovehatsim"
)

func TestDriverReadsWhatIsSet(t *testing.T) {
	h := grovehatsim.New()
	d, err := grovehat.New(h, nil)
	if err != nil {
		t.Fatal(err)
	}
	if d.Addr() != 0x04 || d.ProductID() != grovehat.ProductRPi || d.Firmware() != 2 {
		t.Fatalf("found %s", d)
	}
	tests := []struct{ set, ratio, mv, raw int }{
		{0, 0, 0, 0},
		{300, 300, 990, 1229},
		{500, 500, 1650, 2048},
		{1000, 1000, 3300, 4095},
		{1500, 1000, 3300, 4095}, // clamped as the firmware clamps
		{-5, 0, 0, 0},
	}
	for _, tt := range tests {
		h.SetRatio(3, tt.set)
		ratio, err1 := d.Ratio(3)
		mv, err2 := d.Millivolts(3)
		raw, err3 := d.Raw(3)
		if err := errors.Join(err1, err2, err3); err != nil {
			t.Fatal(err)
		}
		if ratio != tt.ratio || mv != tt.mv || raw != tt.raw {
			t.Errorf("SetRatio(%d): ratio %d mV %d raw %d; want %d %d %d", tt.set, ratio, mv, raw, tt.ratio, tt.mv, tt.raw)
		}
	}
	if v, _ := d.Ratio(0); v != 0 {
		t.Errorf("untouched channel reads %d", v)
	}
}

func TestProbeAndIdentity(t *testing.T) {
	h := grovehatsim.New()
	h.SetAddr(0x08)
	h.SetProductID(grovehat.ProductRPiZero)
	h.SetFirmware(3)
	d, err := grovehat.New(h, nil)
	if err != nil {
		t.Fatal(err)
	}
	if d.Addr() != 0x08 || d.ProductID() != grovehat.ProductRPiZero || d.Firmware() != 3 {
		t.Fatalf("found %s", d)
	}
	// 0x04 was tried first and not acknowledged: 2 reads of 2 transfers
	// each reached the hat.
	if n := h.Transactions(); n != 4 {
		t.Errorf("transactions at the hat = %d, want 4", n)
	}

	h.SetProductID(0x0102)
	if _, err := grovehat.New(h, nil); !errors.Is(err, grovehat.ErrWrongProduct) {
		t.Fatalf("wrong product: %v, want ErrWrongProduct", err)
	}

	h.SetAddr(0x30)
	if _, err := grovehat.New(h, nil); !errors.Is(err, grovehat.ErrNotFound) || !errors.Is(err, grovehatsim.ErrNoAck) {
		t.Fatalf("moved away: %v, want ErrNotFound wrapping ErrNoAck", err)
	}
}

func TestFirmwareV01(t *testing.T) {
	h := grovehatsim.New()
	h.SetFirmware(1)
	h.SetRatio(0, 500)
	if _, err := grovehat.New(h, nil); !errors.Is(err, grovehat.ErrOldFirmware) {
		t.Fatalf("v0.1: %v, want ErrOldFirmware", err)
	}
	// What a driver that did not check would see: ratio 0, doubled voltage.
	h.SetFirmware(2)
	d, err := grovehat.New(h, nil)
	if err != nil {
		t.Fatal(err)
	}
	h.SetFirmware(1)
	if v, _ := d.Ratio(0); v != 0 {
		t.Errorf("v0.1 ratio = %d, want 0", v)
	}
	if v, _ := d.Millivolts(0); v != 3300 {
		t.Errorf("v0.1 millivolts = %d, want 3300 (doubled)", v)
	}
}

func TestFailNextAndGlitch(t *testing.T) {
	h := grovehatsim.New()
	d, err := grovehat.New(h, nil)
	if err != nil {
		t.Fatal(err)
	}
	h.SetRatio(0, 400)
	boom := errors.New("boom")
	h.FailNext(boom)
	if _, err := d.Ratio(0); !errors.Is(err, boom) {
		t.Fatalf("error = %v, want boom", err)
	}
	h.Glitch(0, 999, 3)
	for _, want := range []int{999, 3, 400, 400} {
		if v, err := d.Ratio(0); err != nil || v != want {
			t.Fatalf("Ratio = %d, %v; want %d", v, err, want)
		}
	}
}

func TestRegisters(t *testing.T) {
	h := grovehatsim.New()
	read := func(reg byte) uint16 {
		t.Helper()
		var r [2]byte
		if err := h.Tx(0x04, []byte{reg}, r[:]); err != nil {
			t.Fatal(err)
		}
		return uint16(r[0]) | uint16(r[1])<<8
	}
	if v := read(0x01); v != 0x2886 {
		t.Errorf("vendor = %#x", v)
	}
	if v := read(0x40); v != 3300 {
		t.Errorf("vdda = %d", v)
	}
	if v := read(0x29); v != 3300 {
		t.Errorf("voltage 9 = %d", v)
	}
	if v := read(0x77); v != 0 {
		t.Errorf("unknown register = %d", v)
	}
	// The name register answers one character per read, 0 first.
	var name []byte
	for i := 0; i < 40; i++ {
		c := read(0x03)
		if c == 0 && len(name) > 0 {
			break
		}
		if c != 0 {
			name = append(name, byte(c))
		}
	}
	if string(name) != "GROVE BASE HAT RPI" {
		t.Errorf("name = %q", name)
	}
	// v0.2 keeps the register selected: a read without a write repeats it.
	h.SetRatio(1, 123)
	var r [2]byte
	if err := h.Tx(0x04, []byte{0x31}, nil); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		if err := h.Tx(0x04, nil, r[:]); err != nil || r[0] != 123 {
			t.Fatalf("repeated read = %v, %v", r, err)
		}
	}
	if err := h.SetSpeed(400000); err == nil {
		t.Error("SetSpeed succeeded; it fails on a Pi")
	}
	if err := h.Close(); err != nil || h.String() != "grovehatsim" {
		t.Error("Close or String")
	}
}

// TestConcurrent is meant for -race: levels set from one goroutine while the
// driver reads from another.
func TestConcurrent(t *testing.T) {
	h := grovehatsim.New()
	d, err := grovehat.New(h, nil)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; i <= 1000; i += 10 {
			h.SetRatio(0, i)
		}
	}()
	for i := 0; i < 100; i++ {
		if v, err := d.Ratio(0); err != nil || v < 0 || v > 1000 {
			t.Fatalf("Ratio = %d, %v", v, err)
		}
	}
	wg.Wait()
	if v, _ := d.Ratio(0); v != 1000 {
		t.Fatalf("final Ratio = %d", v)
	}
}
