package board

import (
	"errors"
	"io/fs"
	"strings"
	"testing"
	"time"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpiotest"
	"periph.io/x/conn/v3/i2c"
	"periph.io/x/conn/v3/i2c/i2ctest"

	"nightlight/hw/grovehat/grovehatsim"
)

// fakeSystem is a machine for openReal: a bus (or an error opening it), pins
// by name, and device files that exist, or do not, or refuse to open.
type fakeSystem struct {
	initErr error
	bus     i2c.BusCloser
	busErr  error
	pins    map[string]gpio.PinIO
	missing map[string]bool // device files that do not exist
	denied  map[string]bool // device files that cannot be opened
	chips   []string        // /dev/gpiochip* present
	opened  []string        // bus names opened
}

func (f *fakeSystem) system() system {
	return system{
		init: func() error { return f.initErr },
		openBus: func(name string) (i2c.BusCloser, error) {
			f.opened = append(f.opened, name)
			if f.busErr != nil {
				return nil, f.busErr
			}
			return f.bus, nil
		},
		pinByName: func(name string) gpio.PinIO {
			if p, ok := f.pins[name]; ok {
				return p
			}
			return nil
		},
		stat: func(path string) error {
			if f.missing[path] {
				return fs.ErrNotExist
			}
			return nil
		},
		openRW: func(path string) error {
			if f.denied[path] {
				return &fs.PathError{Op: "open", Path: path, Err: fs.ErrPermission}
			}
			return nil
		},
		glob: func(string) ([]string, error) { return f.chips, nil },
	}
}

// busyPin is a gpiotest.Pin whose Out fails, as a GPIO line held by another
// program does.
type busyPin struct {
	*gpiotest.Pin
	err error
}

func (p *busyPin) Out(gpio.Level) error { return p.err }

// closeCounter counts Close calls on a bus and checks a playback's script.
type closeCounter struct {
	i2c.BusCloser
	closes int
}

func (c *closeCounter) Close() error {
	c.closes++
	return c.BusCloser.Close()
}

func hatOps(reads ...uint16) []i2ctest.IO {
	ops := []i2ctest.IO{
		{Addr: 0x04, W: []byte{0x00}, R: []byte{0x04, 0x00}},
		{Addr: 0x04, W: []byte{0x02}, R: []byte{0x02, 0x00}},
	}
	for _, v := range reads {
		ops = append(ops, i2ctest.IO{Addr: 0x04, W: []byte{0x30}, R: []byte{byte(v), byte(v >> 8)}})
	}
	return ops
}

func TestOpenGroveHat(t *testing.T) {
	ops := hatOps(300, 900, 310)              // one sample: median 310
	ops = append(ops, hatOps(0, 0, 0)[2:]...) // Inspect: one sample
	ops = append(ops,
		i2ctest.IO{Addr: 0x04, W: []byte{0x30}, R: []byte{0, 0}},       // Inspect: ratio
		i2ctest.IO{Addr: 0x04, W: []byte{0x20}, R: []byte{0, 0}},       // millivolts
		i2ctest.IO{Addr: 0x04, W: []byte{0x10}, R: []byte{0x01, 0x00}}, // raw
	)
	bus := &closeCounter{BusCloser: &i2ctest.Playback{Ops: grovehatsim.ReadScript(ops...), DontPanic: true}}
	pin := &gpiotest.Pin{N: "GPIO5"}
	sys := &fakeSystem{bus: bus, pins: map[string]gpio.PinIO{"GPIO5": pin}}
	b, err := open(Config{}, sys.system(), time.Now, false)
	if err != nil {
		t.Fatal(err)
	}
	if want := "Grove Base Hat (product 0x0004, firmware 2) at I2C 1 addr 0x04, LED on GPIO5"; b.String() != want {
		t.Fatalf("String() = %q\nwant %q", b.String(), want)
	}
	if len(sys.opened) != 1 || sys.opened[0] != "1" {
		t.Fatalf("buses opened: %q", sys.opened)
	}
	if v, err := b.Light(); err != nil || v != 310 {
		t.Fatalf("Light() = %d, %v", v, err)
	}
	d, err := b.Inspect()
	if err != nil {
		t.Fatal(err)
	}
	if d.Kind != "grovehat" || d.Raw != 1 || d.Bus != "1" || d.Addr != 0x04 || d.ProductID != 0x0004 {
		t.Fatalf("Inspect() = %+v", d)
	}
	if err := b.SetLED(true); err != nil || pin.Read() != gpio.High {
		t.Fatal("SetLED", err)
	}
	// Close leaves the LED off and closes the bus, whose playback proves
	// that every scripted transaction took place.
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if pin.Read() != gpio.Low || bus.closes != 1 {
		t.Fatalf("after Close: pin %s, bus closed %d times", pin.Read(), bus.closes)
	}
}

func TestOpenADS1115(t *testing.T) {
	conv := func(hi, lo byte) []i2ctest.IO {
		return []i2ctest.IO{
			{Addr: 0x49, W: []byte{0x01, 0xD3, 0x83}},            // AIN1, ±4.096 V, single shot, 128 SPS
			{Addr: 0x49, W: []byte{0x01}, R: []byte{0xD3, 0x83}}, // OS 1: done
			{Addr: 0x49, W: []byte{0x00}, R: []byte{hi, lo}},
		}
	}
	ops := []i2ctest.IO{{Addr: 0x49, W: []byte{0x01}, R: []byte{0x85, 0x83}}}
	ops = append(ops, conv(0x33, 0x90)...) // 500
	ops = append(ops, conv(0x33, 0x90)...) // 500
	ops = append(ops, conv(0x67, 0x20)...) // 1000
	bus := &closeCounter{BusCloser: &i2ctest.Playback{Ops: ops, DontPanic: true}}
	sys := &fakeSystem{bus: bus, pins: map[string]gpio.PinIO{"GPIO5": &gpiotest.Pin{N: "GPIO5"}}}
	b, err := open(Config{Hardware: "ads1115", Addr: 0x49, Channel: 1}, sys.system(), time.Now, false)
	if err != nil {
		t.Fatal(err)
	}
	if want := "ADS1115 channel A1 at I2C 1 addr 0x49, LED on GPIO5"; b.String() != want {
		t.Fatalf("String() = %q", b.String())
	}
	if v, err := b.Light(); err != nil || v != 500 {
		t.Fatalf("Light() = %d, %v", v, err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	d := Details{Kind: "ads1115", Light: 500, Ratio: 500, Millivolts: 1650, Raw: 13200, Addr: 0x49, Bus: "1", LEDPin: "GPIO5"}
	if s := d.String(); !strings.Contains(s, "product id: n/a\n") || !strings.HasSuffix(s, "led pin:    GPIO5") {
		t.Fatalf("Details.String():\n%s", s)
	}
}

// TestOpenFailures drives openReal through each failure and checks that the
// error is the explained one, and that a bus opened before the failure is
// closed again.
func TestOpenFailures(t *testing.T) {
	busy := errors.New("GPIOLine.Out(): line_request ioctl: device or resource busy")
	tests := []struct {
		name    string
		cfg     Config
		sys     func() (*fakeSystem, *grovehatsim.Hat)
		want    string // prefix of the message
		closeIt bool   // the bus was opened and must be closed
	}{
		{
			name: "host init",
			sys:  func() (*fakeSystem, *grovehatsim.Hat) { return &fakeSystem{initErr: errors.New("boom")}, nil },
			want: "periph host drivers: initialisation failed (boom)",
		},
		{
			name: "I2C not enabled",
			sys: func() (*fakeSystem, *grovehatsim.Hat) {
				return &fakeSystem{busErr: errors.New("i2creg: no bus found; did you forget to call Init()?"),
					missing: map[string]bool{"/dev/i2c-1": true}}, nil
			},
			want: "I2C bus 1 (/dev/i2c-1): device missing, I2C is not enabled: enable I2C with \"sudo raspi-config nonint do_i2c 0\" and reboot",
		},
		{
			name: "no permission on the bus",
			sys: func() (*fakeSystem, *grovehatsim.Hat) {
				return &fakeSystem{busErr: errors.New("sysfs-i2c: are you member of group 'plugdev'? open /dev/i2c-1: permission denied"),
					denied: map[string]bool{"/dev/i2c-1": true}}, nil
			},
			want: "I2C bus 1 (/dev/i2c-1): permission denied: add the user to group i2c",
		},
		{
			name: "hat not found",
			sys: func() (*fakeSystem, *grovehatsim.Hat) {
				h := grovehatsim.New()
				h.SetAddr(0x20)
				return &fakeSystem{}, h
			},
			want:    "Grove Base Hat on I2C bus 1: nothing answers at 0x04 or 0x08: seat the hat",
			closeIt: true,
		},
		{
			name: "wrong product id",
			sys: func() (*fakeSystem, *grovehatsim.Hat) {
				h := grovehatsim.New()
				h.SetProductID(0x0201)
				return &fakeSystem{}, h
			},
			want:    "Grove Base Hat on I2C bus 1: not a Grove Base Hat: device at 0x04 answers product id 0x0201",
			closeIt: true,
		},
		{
			name: "old firmware",
			sys: func() (*fakeSystem, *grovehatsim.Hat) {
				h := grovehatsim.New()
				h.SetFirmware(1)
				return &fakeSystem{}, h
			},
			want:    "Grove Base Hat on I2C bus 1: firmware v0.1 has no ratio registers",
			closeIt: true,
		},
		{
			name:    "ADS1115 not found",
			cfg:     Config{Hardware: "ads1115"},
			sys:     func() (*fakeSystem, *grovehatsim.Hat) { return &fakeSystem{}, grovehatsim.New() },
			want:    "ADS1115 on I2C bus 1: nothing answers at 0x48",
			closeIt: true,
		},
		{
			name: "pin unknown",
			cfg:  Config{LEDPin: "GPIO99"},
			sys: func() (*fakeSystem, *grovehatsim.Hat) {
				return &fakeSystem{chips: []string{"/dev/gpiochip0"}}, grovehatsim.New()
			},
			want:    "LED pin GPIO99: no such pin on this machine",
			closeIt: true,
		},
		{
			name: "no permission on gpiochip",
			sys: func() (*fakeSystem, *grovehatsim.Hat) {
				return &fakeSystem{chips: []string{"/dev/gpiochip0", "/dev/gpiochip4"},
					denied: map[string]bool{"/dev/gpiochip0": true}}, grovehatsim.New()
			},
			want:    "LED pin GPIO5 (/dev/gpiochip0): permission denied: add the user to group gpio",
			closeIt: true,
		},
		{
			name:    "no GPIO at all",
			sys:     func() (*fakeSystem, *grovehatsim.Hat) { return &fakeSystem{}, grovehatsim.New() },
			want:    "LED pin GPIO5: no such pin, and no GPIO character device",
			closeIt: true,
		},
		{
			name: "pin busy",
			sys: func() (*fakeSystem, *grovehatsim.Hat) {
				p := &busyPin{Pin: &gpiotest.Pin{N: "GPIO5"}, err: busy}
				return &fakeSystem{pins: map[string]gpio.PinIO{"GPIO5": p}}, grovehatsim.New()
			},
			want:    "LED pin GPIO5: taken by another program",
			closeIt: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sys, hat := tt.sys()
			var bus *closeCounter
			if hat != nil {
				bus = &closeCounter{BusCloser: hat}
				sys.bus = bus
			}
			_, err := open(tt.cfg, sys.system(), time.Now, false)
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error %v is not an *Error", err)
			}
			if !strings.HasPrefix(err.Error(), tt.want) {
				t.Fatalf("\n got  %s\n want %s...", err, tt.want)
			}
			if tt.closeIt && bus.closes != 1 {
				t.Fatalf("bus closed %d times after the failure, want 1", bus.closes)
			}
		})
	}
}

func TestI2CDevPath(t *testing.T) {
	for in, want := range map[string]string{
		"1": "/dev/i2c-1", "I2C1": "/dev/i2c-1", "/dev/i2c-20": "/dev/i2c-20", "spi0": "", "": "",
	} {
		if got := i2cDevPath(in); got != want {
			t.Errorf("i2cDevPath(%q) = %q, want %q", in, got, want)
		}
	}
}

// A pin wrapped as periph's aliases are: Close releases the real one.
type aliasPin struct {
	gpio.PinIO
	real gpio.PinIO
}

func (a *aliasPin) Real() gpio.PinIO { return a.real }

type closablePin struct {
	*gpiotest.Pin
	closed int
}

func (c *closablePin) Close() { c.closed++ }

func TestReleasePin(t *testing.T) {
	real := &closablePin{Pin: &gpiotest.Pin{N: "GPIO5"}}
	releasePin(&aliasPin{PinIO: real, real: real})
	if real.closed != 1 {
		t.Fatalf("real pin closed %d times", real.closed)
	}
	releasePin(&gpiotest.Pin{}) // no Close: nothing to do
	self := &aliasPin{PinIO: &gpiotest.Pin{}}
	self.real = self
	releasePin(self) // must not loop
	releasePin(nil)
}

// outCounter is a pin that counts the levels driven on it.
type outCounter struct {
	gpiotest.Pin
	outs int
}

func (p *outCounter) Out(l gpio.Level) error {
	p.outs++
	return p.Pin.Out(l)
}

// TestOpenSensor: a board opened for the sensor alone reads it and never
// touches the LED pin, which the running daemon holds; SetLED says why it
// cannot.
func TestOpenSensor(t *testing.T) {
	bus := &closeCounter{BusCloser: &i2ctest.Playback{Ops: grovehatsim.ReadScript(hatOps(420)...), DontPanic: true}}
	pin := &outCounter{Pin: gpiotest.Pin{N: "GPIO5", L: gpio.High}}
	sys := &fakeSystem{bus: bus, pins: map[string]gpio.PinIO{"GPIO5": pin, "GPIO6": pin}}
	b, err := open(Config{Samples: 1, AlertPin: ""}, sys.system(), time.Now, true)
	if err != nil {
		t.Fatal(err)
	}
	if v, err := b.Light(); err != nil || v != 420 {
		t.Fatalf("Light() = %d, %v", v, err)
	}
	if err := b.SetLED(false); err == nil || !strings.Contains(err.Error(), "sensor alone") {
		t.Fatalf("SetLED on a sensor-only board: %v", err)
	}
	if strings.Contains(b.String(), "LED") {
		t.Errorf("String() = %q names an LED it did not open", b.String())
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if pin.outs != 0 || pin.Read() != gpio.High || bus.closes != 1 {
		t.Fatalf("the LED pin was driven %d times (now %s); bus closed %d times", pin.outs, pin.Read(), bus.closes)
	}
}

// TestOpenLEDOn: a board opened with LEDOn (a daemon's reload) drives the
// LED high from the start, never low on the way.
func TestOpenLEDOn(t *testing.T) {
	bus := &closeCounter{BusCloser: &i2ctest.Playback{Ops: grovehatsim.ReadScript(hatOps()...), DontPanic: true}}
	pin := &gpiotest.Pin{N: "GPIO5", L: gpio.High} // lit by the previous run
	lows := 0
	sys := &fakeSystem{bus: bus, pins: map[string]gpio.PinIO{"GPIO5": &countingPin{Pin: pin, lows: &lows}}}
	b, err := open(Config{LEDOn: true}, sys.system(), time.Now, false)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Release()
	if !b.LED() || pin.Read() != gpio.High || lows != 0 {
		t.Fatalf("after Open with LEDOn: LED() %t, pin %s, driven low %d times", b.LED(), pin.Read(), lows)
	}
}

// countingPin counts how often it is driven low.
type countingPin struct {
	*gpiotest.Pin
	lows *int
}

func (p *countingPin) Out(l gpio.Level) error {
	if l == gpio.Low {
		*p.lows++
	}
	return p.Pin.Out(l)
}
