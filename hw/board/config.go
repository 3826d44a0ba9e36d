package board

import (
	"fmt"
	"time"
)

// Hardware kinds Config.Hardware accepts.
const (
	GroveHat = "grovehat" // Grove Base Hat ADC, light sensor on an analog socket
	ADS1115  = "ads1115"  // light sensor on an ADS1115 channel
	Sim      = "sim"      // emulated Grove Base Hat (or ADS1115, with AlertPin) and a fake LED pin
)

// Defaults applied to zero Config fields.
const (
	DefaultHardware  = GroveHat
	DefaultBus       = "1"
	DefaultADS1115   = 0x48
	DefaultLEDPin    = "GPIO5"
	DefaultSamples   = 3
	MaxSamples       = 15
	DefaultSimPeriod = 10 * time.Minute
)

// Config says which hardware to open and how to sample it. Zero fields take
// their defaults.
type Config struct {
	Hardware string // "grovehat" | "ads1115" | "sim"; "" means grovehat
	Bus      string // periph I2C bus name, default "1"
	Addr     uint16 // 0 = probe (grovehat) / default 0x48 (ads1115)
	Channel  int    // analog channel, default 0 (A0)
	LEDPin   string // periph pin name, default "GPIO5"
	Samples  int    // reads combined per sample by median, default 3 (odd, 1..15)
	// AlertPin is the GPIO the ADS1115's ALERT/RDY output is wired to (ads1115
	// and sim only): the board then watches the light with the chip's window
	// comparator (Watch, Alerts) instead of being read at every sample. With
	// sim it emulates an ADS1115 instead of a Grove Base Hat. "" = polled.
	AlertPin string
	// LEDOn opens the LED on instead of off: a daemon reloading in-process
	// takes the LED over as the previous run left it, with no blink.
	LEDOn     bool
	SimLight  string        // sim only: file holding the level 0..1000, re-read at every sample (with AlertPin: when it changes)
	SimPeriod time.Duration // sim only, no SimLight: period of the day/night curve, default 10m
}

// withDefaults returns c with its zero fields set to their defaults.
func (c Config) withDefaults() Config {
	if c.Hardware == "" {
		c.Hardware = DefaultHardware
	}
	if c.Bus == "" {
		c.Bus = DefaultBus
	}
	if c.Addr == 0 && c.Hardware == ADS1115 {
		c.Addr = DefaultADS1115
	}
	if c.LEDPin == "" {
		c.LEDPin = DefaultLEDPin
	}
	if c.Samples == 0 {
		c.Samples = DefaultSamples
	}
	if c.SimPeriod == 0 {
		c.SimPeriod = DefaultSimPeriod
	}
	return c
}

// Validate checks c after defaults. Its message names the setting, what is
// wrong and what to write instead, on one line. Sim settings are ignored
// unless Hardware is sim.
func (c Config) Validate() error {
	c = c.withDefaults()
	switch c.Hardware {
	case GroveHat, ADS1115, Sim:
	default:
		return fmt.Errorf("hardware %q: must be grovehat, ads1115 or sim", c.Hardware)
	}
	switch {
	case c.Hardware == ADS1115, c.Hardware == Sim && c.AlertPin != "":
		if c.Addr != 0 && (c.Addr < 0x48 || c.Addr > 0x4B) {
			return fmt.Errorf("addr %#x: must be 0x48..0x4b for ads1115 (ADDR pin to GND, VDD, SDA, SCL), or 0 for 0x48", c.Addr)
		}
		if c.Channel < 0 || c.Channel > 3 {
			return fmt.Errorf("channel %d: must be 0..3 for ads1115 (AIN0..AIN3)", c.Channel)
		}
	default:
		if c.Addr > 0x7F {
			return fmt.Errorf("addr %#x: must be a 7-bit I2C address up to 0x7f, or 0 to probe 0x04 then 0x08", c.Addr)
		}
		if c.Channel < 0 || c.Channel > 7 {
			return fmt.Errorf("channel %d: must be 0..7 for the Grove Base Hat (0 is socket A0)", c.Channel)
		}
	}
	if c.AlertPin != "" && c.Hardware == GroveHat {
		return fmt.Errorf("alert-pin %s: the Grove Base Hat has no alert output, so it is read every sample-every; leave alert-pin empty, or use hardware ads1115 with ALERT/RDY wired to a GPIO", c.AlertPin)
	}
	if c.AlertPin != "" && c.AlertPin == c.LEDPin {
		return fmt.Errorf("alert-pin %s: it is also led-pin; wire ALERT/RDY to a free GPIO such as GPIO6", c.AlertPin)
	}
	if c.Samples < 1 || c.Samples > MaxSamples || c.Samples%2 == 0 {
		return fmt.Errorf("samples %d: must be odd, 1..%d, so that the median is one read (e.g. 3)", c.Samples, MaxSamples)
	}
	if c.Hardware == Sim && c.SimLight == "" && c.SimPeriod < 0 {
		return fmt.Errorf("sim-period %s: must be positive (e.g. 10m)", c.SimPeriod)
	}
	return nil
}
