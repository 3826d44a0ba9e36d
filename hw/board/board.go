package board

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/i2c"

	"nightlight/hw/ads1115"
	"nightlight/hw/grovehat"
	"nightlight/hw/led"
)

// Board is the light sensor and the LED, opened together.
//
// The sensor is one of five adapters (see sensor): the Grove Base Hat, the
// ADS1115 read on demand or watching with its alert pin, and the
// simulations of the hat and of the ADS1115.
//
// Its methods are safe for concurrent use: the daemon may sample from one
// goroutine and drive the LED from another.
type Board struct {
	cfg        Config
	desc       string
	sensorOnly bool // OpenSensor: no LED, no alert pin
	now        func() time.Time

	mu     sync.Mutex
	closed bool
	sensor sensor
	led    *led.Dev      // nil when opened by OpenSensor
	pin    gpio.PinIO    // the LED's, released by Close
	bus    i2c.BusCloser // opened here, closed by Close
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
// The LED starts off, or on with Config.LEDOn. Close releases what Open
// opened.
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
	what, err := b.openChip(bus)
	if err != nil {
		return err
	}
	if b.sensorOnly {
		b.bus, b.desc = bus, what
		return nil
	}
	if b.pin, b.led, err = openLED(sys, cfg.LEDPin, cfg.LEDOn); err != nil {
		return err
	}
	if cfg.AlertPin != "" {
		s := b.sensor.(*adsSensor)
		alert := sys.pinByName(cfg.AlertPin)
		if alert == nil {
			f := failure{part: partAlertPin, name: cfg.AlertPin}
			f.dev, f.fact = sys.gpioFact()
			return explain(f)
		}
		w, err := startAlerts(alert)
		if err != nil {
			return explain(failure{part: partAlert, name: cfg.AlertPin, err: err})
		}
		b.sensor = &watchingADS{*s, w}
		what += ", ALERT/RDY on " + cfg.AlertPin
	}
	b.bus = bus
	b.desc = what + ", LED on " + cfg.LEDPin
	return nil
}

// openChip finds the configured chip on bus and makes it the board's sensor.
func (b *Board) openChip(bus i2c.Bus) (string, error) {
	cfg := b.cfg
	switch cfg.Hardware {
	case ADS1115:
		ads, err := ads1115.New(bus, &ads1115.Opts{Addr: cfg.Addr, Channel: cfg.Channel})
		if err != nil {
			return "", explain(failure{part: partADS, name: cfg.Bus, addr: cfg.Addr, err: err})
		}
		b.sensor = &adsSensor{ads}
		return fmt.Sprintf("ADS1115 channel A%d at I2C %s addr 0x%02x", cfg.Channel, cfg.Bus, ads.Addr()), nil
	default:
		hat, err := grovehat.New(bus, &grovehat.Opts{Addr: cfg.Addr})
		if err != nil {
			return "", explain(failure{part: partHat, name: cfg.Bus, addr: cfg.Addr, err: err})
		}
		b.sensor = &hatSensor{hat, cfg.Channel}
		return fmt.Sprintf("Grove Base Hat (product 0x%04x, firmware %d) at I2C %s addr 0x%02x",
			hat.ProductID(), hat.Firmware(), cfg.Bus, hat.Addr()), nil
	}
}

// openLED looks the LED pin up by name and drives it: low, or high when on.
func openLED(sys system, name string, on bool) (gpio.PinIO, *led.Dev, error) {
	pin := sys.pinByName(name)
	if pin == nil {
		f := failure{part: partPin, name: name}
		f.dev, f.fact = sys.gpioFact()
		return nil, nil, explain(f)
	}
	l, err := led.New(pin, &led.Opts{On: on})
	if err != nil {
		return nil, nil, explain(failure{part: partLED, name: name, err: err})
	}
	return pin, l, nil
}

// Light takes one sample: the median of Samples reads, 0..1000, or, while
// the ADS1115 watches, its latest conversion.
//
// A minority of failed reads is tolerated, so that one glitch does not flip
// the LED; the median is then taken over the reads that worked.
func (b *Board) Light() (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return 0, errors.New("board: light: board closed")
	}
	return b.sensor.light(b.cfg.Samples)
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
	if b.cfg.Hardware == Sim {
		d.Bus = "sim"
	}
	var err error
	if d.Light, err = b.sensor.light(b.cfg.Samples); err != nil {
		return Details{}, err
	}
	if err := b.sensor.inspect(&d); err != nil {
		return Details{}, err
	}
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
	if err := b.sensor.stop(); err != nil {
		errs = append(errs, err)
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
