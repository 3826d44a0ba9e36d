package board

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpiotest"
	"periph.io/x/conn/v3/i2c"

	"nightlight/hw/ads1115"
	"nightlight/hw/ads1115/ads1115sim"
	"nightlight/hw/grovehat"
	"nightlight/hw/grovehat/grovehatsim"
	"nightlight/hw/led"
)

// Board is the light sensor and the LED, opened together.
//
// Its methods are safe for concurrent use: the daemon may sample from one
// goroutine and drive the LED from another.
type Board struct {
	cfg        Config
	desc       string
	sensorOnly bool // OpenSensor: no LED, no alert pin

	mu     sync.Mutex
	closed bool
	hat    *grovehat.Dev // grovehat and sim
	ads    *ads1115.Dev  // ads1115
	led    *led.Dev
	bus    i2c.BusCloser // opened here, closed by Close
	pin    gpio.PinIO    // looked up here, released by Close
	watch  *watcher      // ALERT/RDY, when AlertPin is set

	// Sim only.
	simHat   *grovehatsim.Hat
	simADS   *ads1115sim.Chip           // instead of simHat when AlertPin is set
	simFile  atomic.Pointer[simReading] // simADS: the light file as last read
	simInput *siminput                  // drives simADS's conversions
	simPin   *gpiotest.Pin
	now      func() time.Time
}

// Details is what `nightlight read --verbose` shows.
type Details struct {
	Kind       string // "grovehat", "ads1115" or "sim"
	Light      int    // one sample, 0..1000
	Ratio      int    // one read of the channel's ratio (grovehat, sim) or level (ads1115)
	Millivolts int
	Raw        int
	ProductID  uint16 // Grove Base Hat only
	Firmware   int    // Grove Base Hat only
	Addr       uint16
	Bus        string
	LEDPin     string
}

// String prints d one field per line.
func (d Details) String() string {
	var b strings.Builder
	line := func(k string, v any) { fmt.Fprintf(&b, "%-11s %v\n", k+":", v) }
	line("kind", d.Kind)
	line("light", d.Light)
	line("ratio", d.Ratio)
	line("millivolts", d.Millivolts)
	line("raw", d.Raw)
	if d.ProductID == 0 { // an ADS1115, real or simulated
		line("product id", "n/a")
		line("firmware", "n/a")
	} else {
		line("product id", fmt.Sprintf("0x%04x", d.ProductID))
		line("firmware", d.Firmware)
	}
	line("addr", fmt.Sprintf("0x%02x", d.Addr))
	line("bus", d.Bus)
	line("led pin", d.LEDPin)
	return strings.TrimSuffix(b.String(), "\n")
}

// Open validates cfg, opens the hardware it names and finds the sensor on it.
// For real hardware it initialises periph's host drivers, opens the I2C bus
// and looks the LED pin up by name; every failure is an *Error saying what to
// do. For sim it emulates a Grove Base Hat on a fake bus, runs the real
// grovehat driver on it, and drives a fake LED pin.
//
// The LED starts off. Close releases what Open opened.
func Open(cfg Config) (*Board, error) {
	return open(cfg, hostSystem(), time.Now, false)
}

// OpenSensor opens the sensor as Open does, but neither the LED pin nor, on
// real hardware, the alert pin: for a one-shot read beside the running
// daemon, which holds them. Opening the LED would drive it low, and on a
// GPIO character device (a Pi 5) be refused as busy. SetLED on such a
// board fails; Close and Release leave the pins alone.
func OpenSensor(cfg Config) (*Board, error) {
	if cfg.Hardware != Sim {
		cfg.AlertPin = ""
	}
	return open(cfg, hostSystem(), time.Now, true)
}

func open(cfg Config, sys system, now func() time.Time, sensorOnly bool) (*Board, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	b := &Board{cfg: cfg, now: now, sensorOnly: sensorOnly}
	var err error
	if cfg.Hardware == Sim {
		err = b.openSim()
	} else {
		err = b.openReal(sys)
	}
	if err != nil {
		return nil, err
	}
	return b, nil
}

func (b *Board) openSim() error {
	if b.cfg.AlertPin != "" {
		return b.openSimADS()
	}
	cfg := b.cfg
	b.simHat = grovehatsim.New()
	if cfg.Addr != 0 {
		b.simHat.SetAddr(cfg.Addr)
	}
	hat, err := grovehat.New(b.simHat, &grovehat.Opts{Addr: cfg.Addr})
	if err != nil {
		return fmt.Errorf("sim: %w", err)
	}
	l, err := b.openSimLED()
	if err != nil {
		return err
	}
	b.hat, b.led, b.bus = hat, l, b.simHat
	if l != nil {
		b.pin = b.simPin
	}
	src := "a " + cfg.SimPeriod.String() + " day/night curve"
	if cfg.SimLight != "" {
		src = "file " + cfg.SimLight
	}
	b.desc = fmt.Sprintf("simulated Grove Base Hat (product 0x%04x, firmware %d) at addr 0x%02x, LED on %s (simulated), light from %s",
		hat.ProductID(), hat.Firmware(), hat.Addr(), cfg.LEDPin, src)
	return nil
}

// openSimLED drives a fake LED pin; a sensor-only board has none.
func (b *Board) openSimLED() (*led.Dev, error) {
	if b.sensorOnly {
		return nil, nil
	}
	// Num -1: no real pin number, as periph's pin.INVALID.
	b.simPin = &gpiotest.Pin{N: b.cfg.LEDPin, Num: -1, Fn: string(gpio.OUT)}
	l, err := led.New(b.simPin)
	if err != nil {
		return nil, fmt.Errorf("sim: %w", err)
	}
	return l, nil
}

// openSimADS emulates an ADS1115 with the light sensor on its channel and
// ALERT/RDY wired to AlertPin, and runs the real ads1115 driver on it.
func (b *Board) openSimADS() (err error) {
	cfg := b.cfg
	// The light file is read when it changes, not at every conversion: on
	// a Pi the chip converts without costing the daemon anything, and so
	// should the simulation.
	refresh := func() {
		v, err := b.simLevel()
		b.simFile.Store(&simReading{v, err})
	}
	chip := ads1115sim.New(cfg.Addr, func(ch int) (int, error) {
		if ch != cfg.Channel {
			return 0, nil // nothing connected
		}
		r := simReading{}
		if cfg.SimLight != "" {
			if p := b.simFile.Load(); p != nil {
				r = *p
			}
		} else {
			r.level, r.err = b.simLevel() // the curve: computed, no I/O
		}
		return (r.level*ads1115.DefaultSupplyMillivolts + 500) / 1000, r.err
	})
	ads, err := ads1115.New(chip, &ads1115.Opts{Addr: cfg.Addr, Channel: cfg.Channel})
	if err != nil {
		return fmt.Errorf("sim: %w", err)
	}
	l, err := b.openSimLED()
	if err != nil {
		return err
	}
	if b.watch, err = startAlerts(chip.Alert()); err != nil {
		return fmt.Errorf("sim: alert pin: %w", err)
	}
	defer func() {
		if err != nil {
			b.watch.close()
		}
	}()
	src := "a " + cfg.SimPeriod.String() + " day/night curve"
	if cfg.SimLight != "" {
		src = "file " + cfg.SimLight
		// Watch first, then read: a change in between is not missed.
		b.simInput = startFileWatch(cfg.SimLight, func() error {
			refresh()
			return chip.Convert()
		})
		refresh()
		chip.Convert()
	} else {
		b.simInput = startTicking(chip.Convert)
	}
	b.simADS, b.ads, b.led, b.bus = chip, ads, l, chip
	if l != nil {
		b.pin = b.simPin
	}
	b.desc = fmt.Sprintf("simulated ADS1115 channel A%d at addr 0x%02x, ALERT/RDY on %s, LED on %s (simulated), light from %s",
		cfg.Channel, ads.Addr(), cfg.AlertPin, cfg.LEDPin, src)
	return nil
}

// simReading is the simulated sensor's level, or why there is none.
type simReading struct {
	level int
	err   error
}

func (b *Board) openReal(sys system) (err error) {
	cfg := b.cfg
	if err := sys.init(); err != nil {
		return explain(failure{part: partHost, err: err})
	}
	bus, err := sys.openBus(cfg.Bus)
	if err != nil {
		f := failure{part: partBus, name: cfg.Bus, dev: i2cDevPath(cfg.Bus), err: err}
		f.fact = sys.fileFact(f.dev)
		return explain(f)
	}
	defer func() {
		if err != nil {
			bus.Close()
		}
	}()

	var what string
	switch cfg.Hardware {
	case GroveHat:
		hat, err := grovehat.New(bus, &grovehat.Opts{Addr: cfg.Addr})
		if err != nil {
			return explain(failure{part: partHat, name: cfg.Bus, addr: cfg.Addr, err: err})
		}
		b.hat = hat
		what = fmt.Sprintf("Grove Base Hat (product 0x%04x, firmware %d) at I2C %s addr 0x%02x",
			hat.ProductID(), hat.Firmware(), cfg.Bus, hat.Addr())
	case ADS1115:
		ads, err := ads1115.New(bus, &ads1115.Opts{Addr: cfg.Addr, Channel: cfg.Channel})
		if err != nil {
			return explain(failure{part: partADS, name: cfg.Bus, addr: cfg.Addr, err: err})
		}
		b.ads = ads
		what = fmt.Sprintf("ADS1115 channel A%d at I2C %s addr 0x%02x", cfg.Channel, cfg.Bus, ads.Addr())
	}

	if b.sensorOnly {
		b.bus, b.desc = bus, what
		return nil
	}
	pin := sys.pinByName(cfg.LEDPin)
	if pin == nil {
		f := failure{part: partPin, name: cfg.LEDPin}
		f.dev, f.fact = sys.gpioFact()
		return explain(f)
	}
	l, err := led.New(pin)
	if err != nil {
		return explain(failure{part: partLED, name: cfg.LEDPin, err: err})
	}
	if cfg.AlertPin != "" {
		alert := sys.pinByName(cfg.AlertPin)
		if alert == nil {
			f := failure{part: partAlertPin, name: cfg.AlertPin}
			f.dev, f.fact = sys.gpioFact()
			return explain(f)
		}
		if b.watch, err = startAlerts(alert); err != nil {
			return explain(failure{part: partAlert, name: cfg.AlertPin, err: err})
		}
		what += ", ALERT/RDY on " + cfg.AlertPin
	}
	b.led, b.bus, b.pin = l, bus, pin
	b.desc = what + ", LED on " + cfg.LEDPin
	return nil
}

// Light takes one sample: the median of Samples reads, 0..1000.
//
// A minority of failed reads is tolerated, so that one glitch does not flip
// the LED; the median is then taken over the reads that worked.
func (b *Board) Light() (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return 0, errors.New("board: light: board closed")
	}
	return b.light()
}

// light is Light with b.mu held.
//
// While the ADS1115 watches (Watch), a sample is one read of its latest
// conversion: the chip converts 128 times a second on its own, and its
// comparator wants two conversions in a row beyond the window before it
// alerts, which filters glitches as the median does. It stays armed, and no
// conversion is waited for.
func (b *Board) light() (int, error) {
	if r := b.simFile.Load(); r != nil && r.err != nil {
		// A light file that cannot be read is a failing sensor, also for
		// the emulated chip, which would go on showing its last conversion.
		return 0, r.err
	}
	if b.watch != nil {
		r, err := b.ads.Latest()
		switch {
		case err == nil:
			return r.Level, nil
		case !errors.Is(err, ads1115.ErrNotWatching):
			return 0, fmt.Errorf("board: light: %w", err)
		}
	}
	if b.simHat != nil {
		level, err := b.simLevel()
		if err != nil {
			return 0, err
		}
		b.simHat.SetRatio(b.cfg.Channel, level)
	}
	vals := make([]int, 0, b.cfg.Samples)
	var errs []error
	for range b.cfg.Samples {
		v, err := b.read()
		if err != nil {
			errs = append(errs, err)
			continue
		}
		vals = append(vals, v)
	}
	if len(vals) <= b.cfg.Samples/2 {
		return 0, fmt.Errorf("board: light: %d of %d reads failed: %w", len(errs), b.cfg.Samples, errs[len(errs)-1])
	}
	return median(vals), nil
}

// read reads the light level once.
func (b *Board) read() (int, error) {
	if b.ads != nil {
		return b.ads.Level()
	}
	return b.hat.Ratio(b.cfg.Channel)
}

// median returns the middle of vals, or the mean of the two middle values
// when there is an even number of them. vals is sorted in place.
func median(vals []int) int {
	slices.Sort(vals)
	n := len(vals)
	if n%2 == 1 {
		return vals[n/2]
	}
	return (vals[n/2-1] + vals[n/2]) / 2
}

// SetLED turns the LED on or off.
func (b *Board) SetLED(on bool) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return errors.New("board: led: board closed")
	}
	if b.led == nil {
		return errors.New("board: led: the board was opened for the sensor alone (OpenSensor)")
	}
	if err := b.led.Set(on); err != nil {
		return fmt.Errorf("board: %w", err)
	}
	return nil
}

// LED reports whether the LED was last set on.
func (b *Board) LED() bool {
	return b.led != nil && b.led.On()
}

// Inspect takes one sample and reads everything else there is to show about
// the sensor.
func (b *Board) Inspect() (Details, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return Details{}, errors.New("board: inspect: board closed")
	}
	d := Details{Kind: b.cfg.Hardware, Bus: b.cfg.Bus, LEDPin: b.cfg.LEDPin}
	if b.simHat != nil || b.simADS != nil {
		d.Bus = "sim"
	}
	var err error
	if d.Light, err = b.light(); err != nil {
		return Details{}, err
	}
	if b.ads != nil {
		r, err := b.ads.Read()
		if err != nil {
			return Details{}, fmt.Errorf("board: %w", err)
		}
		d.Ratio, d.Millivolts, d.Raw, d.Addr = r.Level, r.Millivolts, r.Raw, b.ads.Addr()
		return d, nil
	}
	ch := b.cfg.Channel
	var errs [3]error
	d.Ratio, errs[0] = b.hat.Ratio(ch)
	d.Millivolts, errs[1] = b.hat.Millivolts(ch)
	d.Raw, errs[2] = b.hat.Raw(ch)
	if err := errors.Join(errs[:]...); err != nil {
		return Details{}, fmt.Errorf("board: %w", err)
	}
	d.ProductID, d.Firmware, d.Addr = b.hat.ProductID(), b.hat.Firmware(), b.hat.Addr()
	return d, nil
}

// String describes the board, e.g. "Grove Base Hat (product 0x0004, firmware
// 2) at I2C 1 addr 0x04, LED on GPIO5".
func (b *Board) String() string { return b.desc }

// Close turns the LED off, releases the LED pin and closes the I2C bus it
// opened. Calling it again, or after Release, does nothing.
func (b *Board) Close() error { return b.close(true) }

// Release closes the I2C bus and stops the alert watcher like Close, but
// leaves the LED as it was set and its line requested until the process
// ends: for a reload, whose next run takes the LED over, and for a one-shot
// command such as `nightlight led on`, whose effect should outlast the
// process. On a Raspberry Pi the level stays after exit with either of
// periph's pin drivers: a bcm283x pin driven through /dev/gpiomem is a
// register the process wrote, and a GPIO character-device line (the Pi 5's,
// or a bcm283x pin without /dev/gpiomem) given back to the kernel keeps the
// value last driven, as the Pi's pin controllers do. (Stock gpio-sim drops
// it to the line's pull instead; the lab patches that.)
func (b *Board) Release() error { return b.close(false) }

func (b *Board) close(ledOff bool) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil
	}
	b.closed = true
	var errs []error
	if b.simInput != nil {
		b.simInput.stop()
	}
	if b.watch != nil {
		if err := b.watch.close(); err != nil {
			errs = append(errs, fmt.Errorf("board: %w", err))
		}
		// Power the chip down and let ALERT/RDY go.
		if err := b.ads.Halt(); err != nil {
			errs = append(errs, fmt.Errorf("board: %w", err))
		}
	}
	if ledOff && b.led != nil {
		if err := b.led.Set(false); err != nil {
			errs = append(errs, fmt.Errorf("board: leave the LED off: %w", err))
		}
		releasePin(b.pin)
	}
	if err := b.bus.Close(); err != nil {
		errs = append(errs, fmt.Errorf("board: close I2C bus %s: %w", b.cfg.Bus, err))
	}
	return errors.Join(errs...)
}

// releasePin gives the pin's line back to the kernel when its driver holds
// one (periph's gpioioctl lines have a Close without a result).
func releasePin(p gpio.PinIn) {
	for p != nil {
		switch c := p.(type) {
		case interface{ Close() }:
			c.Close()
			return
		case io.Closer:
			c.Close()
			return
		case gpio.RealPin:
			if r := c.Real(); r != p {
				p = r
				continue
			}
			return
		default:
			return
		}
	}
}
