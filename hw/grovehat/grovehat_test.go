package grovehat

import (
	"errors"
	"strings"
	"testing"

	"periph.io/x/conn/v3/i2c/i2ctest"

	"nightlight/hw/grovehat/grovehatsim"
)

// errNACK stands for what Linux reports when no device acknowledges.
var errNACK = errors.New("sysfs-i2c: remote I/O error")

// faultBus plays a script byte for byte and fails the transactions listed in
// fail after checking and consuming them, the way a device that does not
// acknowledge still sees the bytes go out on the wire.
type faultBus struct {
	i2ctest.Playback
	fail map[int]error // scripted op index -> error returned for it
}

func (f *faultBus) Tx(addr uint16, w, r []byte) error {
	f.Lock()
	n := f.Count
	f.Unlock()
	if err := f.Playback.Tx(addr, w, r); err != nil {
		return err
	}
	if err := f.fail[n]; err != nil {
		clear(r)
		return err
	}
	return nil
}

// newBus plays ops, one per register read, as the transfers the driver
// makes (grovehatsim.ReadScript); fail is keyed by read, and fails its
// second transfer.
func newBus(fail map[int]error, ops ...i2ctest.IO) *faultBus {
	f := map[int]error{}
	for k, err := range fail {
		f[2*k+1] = err
	}
	return &faultBus{Playback: i2ctest.Playback{Ops: grovehatsim.ReadScript(ops...), DontPanic: true}, fail: f}
}

// closeBus proves every scripted op was consumed.
func closeBus(t *testing.T, b *faultBus) {
	t.Helper()
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
}

func op(addr uint16, reg byte, lo, hi byte) i2ctest.IO {
	return i2ctest.IO{Addr: addr, W: []byte{reg}, R: []byte{lo, hi}}
}

// found is the script of a hat answering at addr: product id, then firmware 2.
func found(addr uint16) []i2ctest.IO {
	return []i2ctest.IO{op(addr, 0x00, 0x04, 0x00), op(addr, 0x02, 0x02, 0x00)}
}

func TestReadA0(t *testing.T) {
	ops := append(found(0x04),
		op(0x04, 0x30, 0xE8, 0x03), // ratio A0 = 1000
		op(0x04, 0x30, 0x2C, 0x01), // ratio A0 = 300
		op(0x04, 0x20, 0x9A, 0x06), // voltage A0 = 1690 mV
		op(0x04, 0x10, 0x31, 0x08), // raw A0 = 2097
	)
	b := newBus(nil, ops...)
	d, err := New(b, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []int{1000, 300} {
		got, err := d.Ratio(0)
		if err != nil || got != want {
			t.Fatalf("Ratio(0) = %d, %v; want %d", got, err, want)
		}
	}
	if mv, err := d.Millivolts(0); err != nil || mv != 1690 {
		t.Fatalf("Millivolts(0) = %d, %v", mv, err)
	}
	if raw, err := d.Raw(0); err != nil || raw != 2097 {
		t.Fatalf("Raw(0) = %d, %v", raw, err)
	}
	if d.Addr() != 0x04 || d.ProductID() != ProductRPi || d.Firmware() != 2 {
		t.Fatalf("got addr %#x product %#x firmware %d", d.Addr(), d.ProductID(), d.Firmware())
	}
	if s, want := d.String(), "Grove Base Hat RPi (product 0x0004, firmware 2) at 0x04"; s != want {
		t.Fatalf("String() = %q, want %q", s, want)
	}
	if err := d.Halt(); err != nil {
		t.Fatal(err)
	}
	closeBus(t, b)
}

func TestChannels(t *testing.T) {
	var ops []i2ctest.IO
	ops = append(ops, found(0x04)...)
	for ch := 0; ch < Channels; ch++ {
		ops = append(ops, op(0x04, byte(0x30+ch), byte(ch), 0))
	}
	b := newBus(nil, ops...)
	d, err := New(b, &Opts{})
	if err != nil {
		t.Fatal(err)
	}
	for ch := 0; ch < Channels; ch++ {
		if got, err := d.Ratio(ch); err != nil || got != ch {
			t.Fatalf("Ratio(%d) = %d, %v", ch, got, err)
		}
	}
	// Out-of-range channels never reach the bus: the script has no op for them.
	for _, ch := range []int{-1, 8, 0x30} {
		if _, err := d.Ratio(ch); !errors.Is(err, ErrChannel) {
			t.Errorf("Ratio(%d) error = %v, want ErrChannel", ch, err)
		}
		if _, err := d.Millivolts(ch); !errors.Is(err, ErrChannel) {
			t.Errorf("Millivolts(%d) error = %v, want ErrChannel", ch, err)
		}
		if _, err := d.Raw(ch); !errors.Is(err, ErrChannel) {
			t.Errorf("Raw(%d) error = %v, want ErrChannel", ch, err)
		}
	}
	closeBus(t, b)
}

func TestNew(t *testing.T) {
	grovePi := op(0x04, 0x00, 0x01, 0x02) // something else at 0x04 (a GrovePi+, say)
	tests := []struct {
		name    string
		opts    *Opts
		ops     []i2ctest.IO
		fail    map[int]error
		addr    uint16 // want, when no error
		product uint16
		err     error    // want errors.Is
		msg     []string // want in the message
	}{
		{
			name: "0x04 answers", ops: found(0x04), addr: 0x04, product: ProductRPi,
		},
		{
			name: "Pi Zero hat",
			ops:  []i2ctest.IO{op(0x04, 0x00, 0x05, 0x00), op(0x04, 0x02, 0x03, 0x00)},
			addr: 0x04, product: ProductRPiZero,
		},
		{
			name: "0x04 NACKs, 0x08 answers",
			ops:  append([]i2ctest.IO{op(0x04, 0x00, 0, 0)}, found(0x08)...),
			fail: map[int]error{0: errNACK},
			addr: 0x08, product: ProductRPi,
		},
		{
			name: "0x04 answers a wrong id, 0x08 answers",
			ops:  append([]i2ctest.IO{grovePi}, found(0x08)...),
			addr: 0x08, product: ProductRPi,
		},
		{
			name: "configured 0x08 is the only address tried",
			opts: &Opts{Addr: 0x08}, ops: found(0x08), addr: 0x08, product: ProductRPi,
		},
		{
			name: "nothing at 0x04 or 0x08",
			ops:  []i2ctest.IO{op(0x04, 0x00, 0, 0), op(0x08, 0x00, 0, 0)},
			fail: map[int]error{0: errNACK, 1: errNACK},
			err:  ErrNotFound, msg: []string{"0x04 and 0x08", "remote I/O error"},
		},
		{
			name: "nothing at the configured address",
			opts: &Opts{Addr: 0x10}, ops: []i2ctest.IO{op(0x10, 0x00, 0, 0)},
			fail: map[int]error{0: errNACK},
			err:  ErrNotFound, msg: []string{"at 0x10:"},
		},
		{
			name: "wrong product id at 0x04, nothing at 0x08",
			ops:  []i2ctest.IO{grovePi, op(0x08, 0x00, 0, 0)},
			fail: map[int]error{1: errNACK},
			err:  ErrWrongProduct, msg: []string{"at 0x04", "0x0201"},
		},
		{
			name: "wrong product id at the configured address",
			opts: &Opts{Addr: 0x04}, ops: []i2ctest.IO{grovePi},
			err: ErrWrongProduct,
		},
		{
			name: "firmware v0.1",
			ops:  []i2ctest.IO{op(0x04, 0x00, 0x04, 0x00), op(0x04, 0x02, 0x01, 0x00)},
			err:  ErrOldFirmware, msg: []string{"update the hat firmware", "firmware 1"},
		},
		{
			name: "firmware v0.1 at 0x08 after a NACK at 0x04",
			ops:  []i2ctest.IO{op(0x04, 0x00, 0, 0), op(0x08, 0x00, 0x04, 0x00), op(0x08, 0x02, 0x01, 0x00)},
			fail: map[int]error{0: errNACK},
			err:  ErrOldFirmware, msg: []string{"at 0x08"},
		},
		{
			name: "bus error reading the firmware version",
			ops:  []i2ctest.IO{op(0x04, 0x00, 0x04, 0x00), op(0x04, 0x02, 0, 0)},
			fail: map[int]error{1: errNACK},
			err:  errNACK, msg: []string{"read firmware version at 0x04"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newBus(tt.fail, tt.ops...)
			d, err := New(b, tt.opts)
			if tt.err == nil {
				if err != nil {
					t.Fatal(err)
				}
				if d.Addr() != tt.addr || d.ProductID() != tt.product {
					t.Fatalf("found %s, want addr %#x product %#x", d, tt.addr, tt.product)
				}
			} else {
				if !errors.Is(err, tt.err) {
					t.Fatalf("error = %v, want %v", err, tt.err)
				}
				for _, m := range tt.msg {
					if !strings.Contains(err.Error(), m) {
						t.Errorf("error %q does not contain %q", err, m)
					}
				}
				if !strings.HasPrefix(err.Error(), "grovehat: ") {
					t.Errorf("error %q lacks the package prefix", err)
				}
			}
			closeBus(t, b)
		})
	}
}

func TestBusErrorMidRead(t *testing.T) {
	ops := append(found(0x04),
		op(0x04, 0x30, 0xF4, 0x01), // 500
		op(0x04, 0x30, 0, 0),       // fails
		op(0x04, 0x30, 0xF5, 0x01), // 501: the next read works again
	)
	b := newBus(map[int]error{3: errNACK}, ops...)
	d, err := New(b, nil)
	if err != nil {
		t.Fatal(err)
	}
	if v, err := d.Ratio(0); err != nil || v != 500 {
		t.Fatalf("Ratio(0) = %d, %v", v, err)
	}
	_, err = d.Ratio(0)
	if !errors.Is(err, errNACK) {
		t.Fatalf("error = %v, want the bus error wrapped", err)
	}
	if want := "grovehat: read A0 ratio: "; !strings.HasPrefix(err.Error(), want) {
		t.Fatalf("error %q does not start with %q", err, want)
	}
	if v, err := d.Ratio(0); err != nil || v != 501 {
		t.Fatalf("Ratio(0) after the error = %d, %v", v, err)
	}
	closeBus(t, b)
}

func TestValueOutOfRange(t *testing.T) {
	ops := append(found(0x04),
		op(0x04, 0x31, 0xE9, 0x03), // ratio 1001
		op(0x04, 0x11, 0xFF, 0xFF), // raw 65535
	)
	b := newBus(nil, ops...)
	d, err := New(b, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Ratio(1); !errors.Is(err, ErrValue) {
		t.Fatalf("Ratio(1) error = %v, want ErrValue", err)
	}
	if _, err := d.Raw(1); !errors.Is(err, ErrValue) {
		t.Fatalf("Raw(1) error = %v, want ErrValue", err)
	}
	closeBus(t, b)
}

func TestNewBadArgs(t *testing.T) {
	if _, err := New(nil, nil); err == nil {
		t.Fatal("New(nil) succeeded")
	}
	b := newBus(nil)
	if _, err := New(b, &Opts{Addr: 0x80}); err == nil {
		t.Fatal("New with a 10-bit address succeeded")
	}
	closeBus(t, b)
}

// TestLatchedSelect: a hat that takes the register byte of a combined
// transfer only once it ends (as MM32 boards may) is found and read right,
// because each read selects its register in a transfer of its own first.
func TestLatchedSelect(t *testing.T) {
	hat := grovehatsim.New()
	hat.SetAddr(AddrMM32)
	hat.SetLatchedSelect(true)
	hat.SetRatio(0, 420)
	hat.SetRatio(1, 10)
	d, err := New(hat, nil)
	if err != nil {
		t.Fatalf("New on an MM32-like hat: %v", err)
	}
	if d.Addr() != AddrMM32 || d.ProductID() != ProductRPi || d.Firmware() != 2 {
		t.Fatalf("found addr %#x product %#x firmware %d", d.Addr(), d.ProductID(), d.Firmware())
	}
	for _, ch := range []int{0, 1, 0} {
		want := map[int]int{0: 420, 1: 10}[ch]
		if v, err := d.Ratio(ch); err != nil || v != want {
			t.Fatalf("Ratio(%d) = %d, %v; want %d", ch, v, err, want)
		}
	}
}
