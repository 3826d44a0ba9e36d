package led_test

import (
	"errors"
	"strings"
	"sync"
	"testing"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpiotest"

	"nightlight/hw/led"
)

// failingPin is a gpiotest.Pin whose next Out can be made to fail, as a
// GPIO line held by another program does.
type failingPin struct {
	*gpiotest.Pin
	err error // returned, once, by the next Out, which then changes nothing
}

func (p *failingPin) Out(l gpio.Level) error {
	if err := p.err; err != nil {
		p.err = nil
		return err
	}
	return p.Pin.Out(l)
}

func TestNewDrivesLow(t *testing.T) {
	// gpiotest.Pin keeps only the last level, so the pin starts high (left on
	// by a previous program): reading low after New proves New drove it low.
	p := &gpiotest.Pin{N: "GPIO5", L: gpio.High}
	d, err := led.New(p, nil)
	if err != nil {
		t.Fatal(err)
	}
	if p.Read() != gpio.Low || d.On() {
		t.Fatalf("after New: pin %s, On() %t; want driven low and off", p.Read(), d.On())
	}
	if s := d.String(); s != "LED on GPIO5" {
		t.Fatalf("String() = %q", s)
	}
	if d.Pin() != gpio.PinOut(p) {
		t.Fatal("Pin() is not the pin given")
	}
}

// levelsPin records every level driven on it.
type levelsPin struct {
	*gpiotest.Pin
	driven []gpio.Level
}

func (p *levelsPin) Out(l gpio.Level) error {
	p.driven = append(p.driven, l)
	return p.Pin.Out(l)
}

// TestNewOn: a program that takes a lit LED over (a daemon's reload) opens
// it on, and the pin is never driven low on the way: no blink.
func TestNewOn(t *testing.T) {
	p := &levelsPin{Pin: &gpiotest.Pin{N: "GPIO5", L: gpio.High}}
	d, err := led.New(p, &led.Opts{On: true})
	if err != nil {
		t.Fatal(err)
	}
	if !d.On() || p.Read() != gpio.High {
		t.Fatalf("after New with On: pin %s, On() %t; want high and on", p.Read(), d.On())
	}
	for _, l := range p.driven {
		if l == gpio.Low {
			t.Fatalf("the pin was driven %v: the LED blinked", p.driven)
		}
	}
}

func TestSet(t *testing.T) {
	p := &gpiotest.Pin{N: "GPIO5"}
	d, err := led.New(p, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, on := range []bool{true, true, false, true} {
		if err := d.Set(on); err != nil {
			t.Fatal(err)
		}
		if d.On() != on || p.Read() != gpio.Level(on) {
			t.Fatalf("Set(%t): On() %t, pin %s", on, d.On(), p.Read())
		}
	}
	if err := d.Halt(); err != nil || p.Read() != gpio.Low || d.On() {
		t.Fatalf("Halt: %v, pin %s", err, p.Read())
	}
}

func TestErrors(t *testing.T) {
	busy := errors.New("line_request ioctl: device or resource busy")
	p := &failingPin{Pin: &gpiotest.Pin{N: "GPIO5"}, err: busy}
	if _, err := led.New(p, nil); !errors.Is(err, busy) || !strings.HasPrefix(err.Error(), "led: drive GPIO5 low: ") {
		t.Fatalf("New error = %v", err)
	}
	if _, err := led.New(nil, nil); err == nil {
		t.Fatal("New(nil) succeeded")
	}

	d, err := led.New(p, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Set(true); err != nil {
		t.Fatal(err)
	}
	p.err = busy
	if err := d.Set(false); !errors.Is(err, busy) || !strings.HasPrefix(err.Error(), "led: turn GPIO5 off: ") {
		t.Fatalf("Set error = %v", err)
	}
	if !d.On() || p.Read() != gpio.High {
		t.Fatalf("a failed Set changed On() to %t or the pin to %s", d.On(), p.Read())
	}
}

// TestConcurrent is meant for -race.
func TestConcurrent(t *testing.T) {
	p := &gpiotest.Pin{N: "GPIO5"}
	d, err := led.New(p, nil)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 50; j++ {
				_ = d.Set(j%2 == 0)
				_ = d.On()
			}
		}()
	}
	wg.Wait()
	if d.On() != bool(p.Read()) {
		t.Fatalf("On() %t but pin %s", d.On(), p.Read())
	}
}
