package board

import (
	"fmt"
	"sync/atomic"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpiotest"

	"nightlight/hw/ads1115"
	"nightlight/hw/ads1115/ads1115sim"
	"nightlight/hw/grovehat"
	"nightlight/hw/grovehat/grovehatsim"
	"nightlight/hw/led"
)

// simHat is the light sensor on an emulated Grove Base Hat: the level, from
// the light file or the day/night curve, is set on the emulated channel
// before each sample, which the real grovehat driver then reads.
type simHat struct {
	hatSensor
	sim   *grovehatsim.Hat
	level func() (int, error)
}

func (s *simHat) light(n int) (int, error) {
	level, err := s.level()
	if err != nil {
		return 0, err
	}
	s.sim.SetRatio(s.ch, level)
	return s.hatSensor.light(n)
}

// simADS is the light sensor on an emulated ADS1115 whose ALERT/RDY wakes the
// daemon. The emulated chip converts when the light file changes (or, for
// the curve, every simConvertEvery), fed by input.
type simADS struct {
	watchingADS
	chip  *ads1115sim.Chip
	file  atomic.Pointer[simReading] // the light file as last read; nil for the curve
	input *siminput
}

// simReading is the simulated sensor's level, or why there is none.
type simReading struct {
	level int
	err   error
}

func (s *simADS) light(n int) (int, error) {
	if r := s.file.Load(); r != nil && r.err != nil {
		// A light file that cannot be read is a failing sensor, also for
		// the emulated chip, which would go on showing its last conversion.
		return 0, r.err
	}
	return s.watchingADS.light(n)
}

func (s *simADS) stop() error {
	s.input.stop()
	return s.watchingADS.stop()
}

// openSim emulates the configured sensor and drives a fake LED pin.
func (b *Board) openSim() error {
	cfg := b.cfg
	src := "a " + cfg.SimPeriod.String() + " day/night curve"
	if cfg.SimLight != "" {
		src = "file " + cfg.SimLight
	}
	var what string
	if cfg.AlertPin != "" {
		s, err := b.openSimADS()
		if err != nil {
			return err
		}
		b.sensor, b.bus = s, s.chip
		what = fmt.Sprintf("simulated ADS1115 channel A%d at addr 0x%02x, ALERT/RDY on %s", cfg.Channel, s.ads.Addr(), cfg.AlertPin)
	} else {
		sim := grovehatsim.New()
		if cfg.Addr != 0 {
			sim.SetAddr(cfg.Addr)
		}
		hat, err := grovehat.New(sim, &grovehat.Opts{Addr: cfg.Addr})
		if err != nil {
			return fmt.Errorf("sim: %w", err)
		}
		b.sensor, b.bus = &simHat{hatSensor{hat, cfg.Channel}, sim, b.simLevel}, sim
		what = fmt.Sprintf("simulated Grove Base Hat (product 0x%04x, firmware %d) at addr 0x%02x", hat.ProductID(), hat.Firmware(), hat.Addr())
	}
	if !b.sensorOnly {
		// Num -1: no real pin number, as periph's pin.INVALID.
		pin := &gpiotest.Pin{N: cfg.LEDPin, Num: -1, Fn: string(gpio.OUT)}
		l, err := led.New(pin, &led.Opts{On: cfg.LEDOn})
		if err != nil {
			b.sensor.stop()
			return fmt.Errorf("sim: %w", err)
		}
		b.led, b.pin = l, pin
		what += ", LED on " + cfg.LEDPin + " (simulated)"
	}
	b.desc = what + ", light from " + src
	return nil
}

// openSimADS emulates an ADS1115 with the light sensor on its channel and
// ALERT/RDY wired to AlertPin, and runs the real ads1115 driver on it.
func (b *Board) openSimADS() (*simADS, error) {
	cfg := b.cfg
	s := &simADS{}
	// The light file is read when it changes, not at every conversion: on
	// a Pi the chip converts without costing the daemon anything, and so
	// should the simulation.
	refresh := func() {
		v, err := b.simLevel()
		s.file.Store(&simReading{v, err})
	}
	s.chip = ads1115sim.New(cfg.Addr, func(ch int) (int, error) {
		if ch != cfg.Channel {
			return 0, nil // nothing connected
		}
		r := simReading{}
		if cfg.SimLight != "" {
			if p := s.file.Load(); p != nil {
				r = *p
			}
		} else {
			r.level, r.err = b.simLevel() // the curve: computed, no I/O
		}
		return (r.level*ads1115.DefaultSupplyMillivolts + 500) / 1000, r.err
	})
	ads, err := ads1115.New(s.chip, &ads1115.Opts{Addr: cfg.Addr, Channel: cfg.Channel})
	if err != nil {
		return nil, fmt.Errorf("sim: %w", err)
	}
	w, err := startAlerts(s.chip.Alert())
	if err != nil {
		return nil, fmt.Errorf("sim: alert pin: %w", err)
	}
	s.watchingADS = watchingADS{adsSensor{ads}, w}
	if cfg.SimLight != "" {
		// Watch first, then read: a change in between is not missed.
		s.input = startFileWatch(cfg.SimLight, func() error {
			refresh()
			return s.chip.Convert()
		})
		refresh()
		s.chip.Convert()
	} else {
		s.input = startTicking(s.chip.Convert)
	}
	return s, nil
}
