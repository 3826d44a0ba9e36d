package board

import (
	"errors"
	"fmt"
	"time"

	"periph.io/x/conn/v3/gpio"
)

// Waiting for an edge is bounded all the same, so that a pin driver on which
// neither Halt nor In unblocks a waiter still lets the watcher see a close.
const alertWaitBound = time.Minute

// closeWait bounds how long Close waits for the alert watcher to end.
const closeWait = 2 * time.Second

// watcher turns the falling edges of ALERT/RDY into wake-ups on a channel. It
// owns one goroutine, started by startAlerts and ended by stop.
type watcher struct {
	pin    gpio.PinIn
	alerts chan struct{}
	stop   chan struct{}
	done   chan struct{}
}

// startAlerts sets pin up as the ADS1115's ALERT/RDY input (open drain,
// active low: the internal pull-up holds it high, the chip pulls it low) and
// starts watching it.
func startAlerts(pin gpio.PinIn) (*watcher, error) {
	if err := pin.In(gpio.PullUp, gpio.FallingEdge); err != nil {
		return nil, err
	}
	w := &watcher{
		pin:    pin,
		alerts: make(chan struct{}, 1),
		stop:   make(chan struct{}),
		done:   make(chan struct{}),
	}
	go w.run()
	return w, nil
}

func (w *watcher) run() {
	defer close(w.done)
	for {
		edge := w.pin.WaitForEdge(alertWaitBound)
		select {
		case <-w.stop:
			return
		default:
		}
		if edge {
			select {
			case w.alerts <- struct{}{}:
			default: // one pending wake-up says it all
			}
		}
	}
}

// haltEvery is how often close repeats its wake-up of the watcher.
const haltEvery = 5 * time.Millisecond

// close ends the watcher and gives the pin's line back.
//
// Halt wakes a WaitForEdge under way on periph's GPIO character-device lines;
// In, with edge detection off, does on others (ads1115sim), as gpio.PinIn
// documents. A bcm283x pin (Pi 3/4) waits through a character-device line
// too, but its Halt wakes it only while edge detection is on, and turns it
// off (periph host v3.8.5, bcm283x/gpio.go:219-227), so a second Halt does
// nothing, and In with NoEdge halts only while it is on (gpio.go:373-378).
// Neither reaches a wait that starts just after: the watcher may be between
// two waits. And a bcm283x pin has no Close to end a wait by closing its line
// under it. So, until the watcher has ended (at most closeWait), edge
// detection is switched on again and the pin halted again, every haltEvery;
// then edge detection goes off and the line, where the driver has one to
// close, is given back.
func (w *watcher) close() error {
	close(w.stop)
	var errs []error
	if err := w.pin.Halt(); err != nil {
		errs = append(errs, err)
	}
	deadline := time.Now().Add(closeWait)
	for !w.ended(haltEvery) {
		if time.Now().After(deadline) {
			errs = append(errs, fmt.Errorf("alert pin %s: the watcher did not stop within %s", w.pin, closeWait))
			break
		}
		w.pin.In(gpio.PullUp, gpio.FallingEdge)
		w.pin.Halt()
	}
	if err := w.pin.In(gpio.PullNoChange, gpio.NoEdge); err != nil {
		errs = append(errs, err)
	}
	releasePin(w.pin)
	return errors.Join(errs...)
}

// ended waits up to d for the watcher's goroutine to end.
func (w *watcher) ended(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-w.done:
		return true
	case <-t.C:
		return false
	}
}

// Watch arms the sensor to wake the daemon: Alerts receives once the light
// level goes below lo or above hi (0 <= lo <= hi <= 1000). Light keeps it
// armed (it reads the chip's latest conversion); Inspect, or a chip that
// lost its settings, disarms it, and the next Light reads single-shot. Call
// Watch again after each sample, with the window the new level calls for.
// Only a board with an alert pin can watch: see Alerts.
func (b *Board) Watch(lo, hi int) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return errors.New("board: watch: board closed")
	}
	if err := b.sensor.watch(lo, hi); err != nil {
		if errors.Is(err, errNoWatch) {
			return fmt.Errorf("board: watch: %w", err)
		}
		return fmt.Errorf("board: %w", err)
	}
	return nil
}

// Alerts receives after Watch when the light has left the window. It is nil
// when the board has no alert pin: the sensor must then be read to be seen.
func (b *Board) Alerts() <-chan struct{} {
	return b.sensor.alerts()
}
