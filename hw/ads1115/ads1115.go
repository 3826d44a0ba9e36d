package ads1115

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"periph.io/x/conn/v3/i2c"
	"periph.io/x/conn/v3/physic"
)

// DefaultAddr is the ADS1115's address with ADDR tied to GND.
const DefaultAddr uint16 = 0x48

// DefaultSupplyMillivolts is the sensor supply assumed by default.
const DefaultSupplyMillivolts = 3300

// Channels is the number of single-ended inputs, AIN0..AIN3.
const Channels = 4

// rate is the conversion rate, in samples per second.
const rate = 128

// A single-shot conversion takes about one period of the rate; the
// datasheet allows the oscillator 10 % either way. Read waits a period,
// then polls the OS bit every pollEvery until the chip says it is done, for
// at most convBound in all.
const (
	convPeriod = time.Second / rate
	pollEvery  = convPeriod / 8
	convBound  = 10 * convPeriod
)

const regConfig = 0x01

// Errors New wraps; test them with errors.Is.
var (
	// ErrNotFound means nothing acknowledged at the address.
	ErrNotFound = errors.New("ads1115: no ADS1115 answers")
	// ErrChannel means a channel outside 0..3 was asked for.
	ErrChannel = errors.New("ads1115: channel must be 0..3")
)

// Opts configures New.
type Opts struct {
	// Addr is the I²C address, 0x48..0x4B; 0 means DefaultAddr.
	Addr uint16
	// Channel is the single-ended input the sensor is on, 0..3 (AIN0..AIN3).
	Channel int
	// SupplyMillivolts is the sensor's supply voltage, the full scale of the
	// level; 0 means DefaultSupplyMillivolts. At most 5500 (the chip's VDD).
	SupplyMillivolts int
}

// Reading is one conversion.
type Reading struct {
	Level      int // 0..1000, input relative to the supply
	Millivolts int // input voltage
	Raw        int // signed 16-bit conversion result
}

// Dev is a light sensor on an ADS1115 channel.
//
// Its methods are safe for concurrent use.
type Dev struct {
	bus     i2c.Bus
	addr    uint16
	channel int
	supply  physic.ElectricPotential
	pga     uint16                   // PGA field of the config register
	fsr     physic.ElectricPotential // the full-scale range it selects

	mu       sync.Mutex // held across each Read, Watch and Halt: they take several transactions
	watching bool       // Watch left the chip converting continuously
}

// New checks that an ADS1115 answers on bus and prepares single-shot reads of
// the channel. opts may be nil. The bus stays the caller's to close.
func New(bus i2c.Bus, opts *Opts) (*Dev, error) {
	if bus == nil {
		return nil, errors.New("ads1115: nil bus")
	}
	var o Opts
	if opts != nil {
		o = *opts
	}
	if o.Addr == 0 {
		o.Addr = DefaultAddr
	}
	if o.SupplyMillivolts == 0 {
		o.SupplyMillivolts = DefaultSupplyMillivolts
	}
	if o.Addr < 0x48 || o.Addr > 0x4B {
		return nil, fmt.Errorf("ads1115: address %#x: must be 0x48..0x4b", o.Addr)
	}
	if o.Channel < 0 || o.Channel >= Channels {
		return nil, fmt.Errorf("%w, not %d", ErrChannel, o.Channel)
	}
	if o.SupplyMillivolts < 0 || o.SupplyMillivolts > 5500 {
		return nil, fmt.Errorf("ads1115: supply %d mV: must be 1..5500", o.SupplyMillivolts)
	}
	// Read the config register so that a missing chip is reported now, not
	// at the first sample.
	var r [2]byte
	if err := bus.Tx(o.Addr, []byte{regConfig}, r[:]); err != nil {
		return nil, fmt.Errorf("%w at 0x%02x: %w", ErrNotFound, o.Addr, err)
	}
	supply := physic.ElectricPotential(o.SupplyMillivolts) * physic.MilliVolt
	pga, fsr := gainFor(supply)
	return &Dev{bus: bus, addr: o.Addr, channel: o.Channel, supply: supply, pga: pga, fsr: fsr}, nil
}

// Read converts the channel once: a single-shot conversion, whose end it
// learns from the chip's OS bit. After Watch, it also stops the continuous
// conversions and releases ALERT/RDY (see Watch).
func (d *Dev) Read() (Reading, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	code, err := d.convert()
	if err != nil {
		return Reading{}, fmt.Errorf("ads1115: read A%d: %w", d.channel, err)
	}
	d.watching = false
	return d.reading(code), nil
}

// convert starts a single-shot conversion (OS 1, the channel against GND,
// the PGA for the supply, 128 samples/s, comparator off), waits one
// conversion period, then reads Config until OS reads 1 (no conversion under
// way) and returns the Conversion register. periph's ads1x15 (devices v3.7.4,
// ads1x15.go, executePreparedQuery) sleeps one period and reads without
// looking at OS: a chip whose oscillator runs slow, as the datasheet
// allows, then hands back the previous conversion (0 after power-up, which
// reads as darkness).
func (d *Dev) convert() (int, error) {
	if err := d.writeReg(regConfig, cfgOS|d.config(cfgModeSingle|cfgDR128|cfgCompOff)); err != nil {
		return 0, fmt.Errorf("start a conversion: %w", err)
	}
	start := time.Now()
	time.Sleep(convPeriod)
	var r [2]byte
	for {
		if err := d.bus.Tx(d.addr, []byte{regConfig}, r[:]); err != nil {
			return 0, fmt.Errorf("read Config: %w", err)
		}
		if r[0]&(cfgOS>>8) != 0 {
			break
		}
		if time.Since(start) > convBound {
			return 0, fmt.Errorf("the conversion did not end within %s (Config %#02x%02x): check the chip's supply and wiring", convBound, r[0], r[1])
		}
		time.Sleep(pollEvery)
	}
	if err := d.bus.Tx(d.addr, []byte{regConversion}, r[:]); err != nil {
		return 0, fmt.Errorf("read Conversion: %w", err)
	}
	return int(int16(uint16(r[0])<<8 | uint16(r[1]))), nil
}

// reading is a conversion result in levels, millivolts and code.
func (d *Dev) reading(code int) Reading {
	v := physic.ElectricPotential(code) * d.fsr / (1 << 15)
	return Reading{
		Level:      d.codeLevel(code),
		Millivolts: int(roundDiv(int64(v), int64(physic.MilliVolt))),
		Raw:        code,
	}
}

// level scales an input voltage to 0..1000 of the supply, rounding half up.
func (d *Dev) level(v physic.ElectricPotential) int {
	level := (int64(v)*1000 + int64(d.supply)/2) / int64(d.supply)
	return int(min(max(level, 0), 1000))
}

// Level converts the channel once and returns its level, 0..1000.
func (d *Dev) Level() (int, error) {
	r, err := d.Read()
	return r.Level, err
}

// Addr returns the chip's I²C address.
func (d *Dev) Addr() uint16 { return d.addr }

// Channel returns the input channel, 0..3.
func (d *Dev) Channel() int { return d.channel }

// String implements conn.Resource.
func (d *Dev) String() string {
	return fmt.Sprintf("ADS1115 A%d at 0x%02x", d.channel, d.addr)
}

// Halt implements conn.Resource. Single-shot conversions leave the chip
// powered down, so there is nothing to stop unless Watch left it converting:
// then Halt powers it down and releases ALERT/RDY.
func (d *Dev) Halt() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.watching {
		return nil
	}
	if err := d.writeReg(regConfig, d.config(cfgModeSingle|cfgDR128|cfgCompOff)); err != nil {
		return fmt.Errorf("ads1115: halt A%d: power down: %w", d.channel, err)
	}
	d.watching = false
	return nil
}

// roundDiv divides rounding half away from zero.
func roundDiv(a, b int64) int64 {
	if a < 0 {
		return -((-a + b/2) / b)
	}
	return (a + b/2) / b
}
