package led

import (
	"errors"
	"fmt"
	"sync"

	"periph.io/x/conn/v3/gpio"
)

// Dev is an LED on a GPIO pin.
//
// Its methods are safe for concurrent use.
type Dev struct {
	pin gpio.PinOut

	mu sync.Mutex
	on bool
}

// Opts are the LED's options.
type Opts struct {
	// On is the state New puts the LED in: a program that takes the LED
	// over from another (a daemon's reload) keeps it as it was, with no
	// blink. The zero value, and nil Opts, start it off.
	On bool
}

// New drives pin to the state opts asks (low: LED off, by default) and
// returns the LED on it.
func New(pin gpio.PinOut, opts *Opts) (*Dev, error) {
	if pin == nil {
		return nil, errors.New("led: nil pin")
	}
	on := opts != nil && opts.On
	d := &Dev{pin: pin, on: on}
	if err := pin.Out(gpio.Level(on)); err != nil {
		return nil, fmt.Errorf("led: drive %s %s: %w", pin.Name(), map[bool]string{true: "high", false: "low"}[on], err)
	}
	return d, nil
}

// Set turns the LED on or off. After an error, On keeps reporting the last
// state that was set successfully.
func (d *Dev) Set(on bool) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.pin.Out(gpio.Level(on)); err != nil {
		state := "off"
		if on {
			state = "on"
		}
		return fmt.Errorf("led: turn %s %s: %w", d.pin.Name(), state, err)
	}
	d.on = on
	return nil
}

// On reports whether the LED was last set on.
func (d *Dev) On() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.on
}

// Pin returns the pin the LED is on.
func (d *Dev) Pin() gpio.PinOut { return d.pin }

// String implements conn.Resource.
func (d *Dev) String() string {
	// The pin's Name, not its String: some drivers' String is multi-line JSON.
	return "LED on " + d.pin.Name()
}

// Halt implements conn.Resource: it turns the LED off.
func (d *Dev) Halt() error { return d.Set(false) }
