package board

import (
	"errors"
	"fmt"
	"slices"

	"nightlight/hw/ads1115"
	"nightlight/hw/grovehat"
)

// sensor is the light sensor as the board uses it. Each configuration has
// its adapter: the Grove Base Hat (hatSensor), the ADS1115 read on demand
// (adsSensor) or watching with its alert pin (watchingADS), and their
// simulations (simHat, simADS). The board holds its lock around every call.
type sensor interface {
	// light takes one sample, 0..1000, combining n reads where the sensor
	// is read on demand.
	light(n int) (int, error)
	// inspect fills in what `read --verbose` shows of the sensor, after a
	// sample.
	inspect(d *Details) error
	// watch arms the sensor to alert outside lo..hi; alerts receives then.
	// Sensors that cannot watch return errNoWatch and a nil channel.
	watch(lo, hi int) error
	alerts() <-chan struct{}
	// stop ends what the sensor runs (watcher, simulation) and leaves the
	// chip idle; the bus is the board's to close.
	stop() error
}

// errNoWatch is watch's answer from a sensor without an alert pin.
var errNoWatch = errors.New("no alert pin is set, so the sensor can only be read")

// sampleMedian reads n times and returns the median of the reads that
// worked. A minority of failed reads is tolerated, so that one glitch does
// not flip the LED.
func sampleMedian(n int, read func() (int, error)) (int, error) {
	vals := make([]int, 0, n)
	var last error
	failed := 0
	for range n {
		v, err := read()
		if err != nil {
			failed, last = failed+1, err
			continue
		}
		vals = append(vals, v)
	}
	if len(vals) <= n/2 {
		return 0, fmt.Errorf("board: light: %d of %d reads failed: %w", failed, n, last)
	}
	return median(vals), nil
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

// hatSensor is the light sensor on a Grove Base Hat's analog channel.
type hatSensor struct {
	hat *grovehat.Dev
	ch  int
}

func (s *hatSensor) light(n int) (int, error) {
	return sampleMedian(n, func() (int, error) { return s.hat.Ratio(s.ch) })
}

func (s *hatSensor) inspect(d *Details) error {
	var errs [3]error
	d.Ratio, errs[0] = s.hat.Ratio(s.ch)
	d.Millivolts, errs[1] = s.hat.Millivolts(s.ch)
	d.Raw, errs[2] = s.hat.Raw(s.ch)
	if err := errors.Join(errs[:]...); err != nil {
		return fmt.Errorf("board: %w", err)
	}
	d.ProductID, d.Firmware, d.Addr = s.hat.ProductID(), s.hat.Firmware(), s.hat.Addr()
	return nil
}

func (s *hatSensor) watch(lo, hi int) error  { return errNoWatch }
func (s *hatSensor) alerts() <-chan struct{} { return nil }
func (s *hatSensor) stop() error             { return nil }

// adsSensor is the light sensor on an ADS1115 channel, read with single-shot
// conversions.
type adsSensor struct {
	ads *ads1115.Dev
}

func (s *adsSensor) light(n int) (int, error) {
	return sampleMedian(n, s.ads.Level)
}

func (s *adsSensor) inspect(d *Details) error {
	r, err := s.ads.Read()
	if err != nil {
		return fmt.Errorf("board: %w", err)
	}
	d.Ratio, d.Millivolts, d.Raw, d.Addr = r.Level, r.Millivolts, r.Raw, s.ads.Addr()
	return nil
}

func (s *adsSensor) watch(lo, hi int) error  { return errNoWatch }
func (s *adsSensor) alerts() <-chan struct{} { return nil }
func (s *adsSensor) stop() error             { return nil }

// watchingADS is an ADS1115 whose ALERT/RDY wakes the daemon (Watch).
//
// While it watches, a sample is one read of its latest conversion: the chip
// converts 128 times a second on its own, and its comparator wants two
// conversions in a row beyond the window before it alerts, which filters
// glitches as the median does. It stays armed, and no conversion is waited
// for. Inspect, or a chip that lost its settings, disarms it, and the next
// sample reads single-shot until Watch arms it again.
type watchingADS struct {
	adsSensor
	w *watcher
}

func (s *watchingADS) light(n int) (int, error) {
	r, err := s.ads.Latest()
	switch {
	case err == nil:
		return r.Level, nil
	case !errors.Is(err, ads1115.ErrNotWatching):
		return 0, fmt.Errorf("board: light: %w", err)
	}
	return s.adsSensor.light(n)
}

func (s *watchingADS) watch(lo, hi int) error  { return s.ads.Watch(lo, hi) }
func (s *watchingADS) alerts() <-chan struct{} { return s.w.alerts }

// stop ends the watcher, then powers the chip down and lets ALERT/RDY go.
func (s *watchingADS) stop() error {
	var errs []error
	if err := s.w.close(); err != nil {
		errs = append(errs, fmt.Errorf("board: %w", err))
	}
	if err := s.ads.Halt(); err != nil {
		errs = append(errs, fmt.Errorf("board: %w", err))
	}
	return errors.Join(errs...)
}
