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

// close ends the watcher and gives the pin's line back: Halt unblocks a
// waiting WaitForEdge on periph's GPIO character-device lines, In (edge
// detection off) does on others, as periph's gpio.PinIn documents. Neither
// wakes a wait that starts just after (the watcher may have been between two
// waits, and a bcm283x pin ignores a second Halt), so if the watcher has not
// ended soon, the line is closed under it, which fails its wait.
func (w *watcher) close() error {
	close(w.stop)
	errs := []error{w.pin.Halt(), w.pin.In(gpio.PullNoChange, gpio.NoEdge)}
	if !w.ended(100 * time.Millisecond) {
		releasePin(w.pin)
		if !w.ended(closeWait) {
			errs = append(errs, fmt.Errorf("alert pin %s: the watcher did not stop within %s", w.pin, closeWait))
		}
		return errors.Join(errs...)
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
	if b.watch == nil {
		return errors.New("board: watch: no alert pin is set, so the sensor can only be read")
	}
	if err := b.ads.Watch(lo, hi); err != nil {
		return fmt.Errorf("board: %w", err)
	}
	return nil
}

// Alerts receives after Watch when the light has left the window. It is nil
// when the board has no alert pin: the sensor must then be read to be seen.
func (b *Board) Alerts() <-chan struct{} {
	if b.watch == nil {
		return nil
	}
	return b.watch.alerts
}
