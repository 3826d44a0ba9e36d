package ads1115sim

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"periph.io/x/conn/v3/i2c"
	"periph.io/x/conn/v3/physic"
)

// DefaultAddr is the chip's address with ADDR tied to GND.
const DefaultAddr uint16 = 0x48

// ErrNoAck is returned by Tx for an address no emulated device answers, as
// Linux reports a transaction nobody acknowledged.
var ErrNoAck = errors.New("ads1115sim: no acknowledge (nothing at this address)")

// Register pointers.
const (
	regConversion = 0x00
	regConfig     = 0x01
	regLoThresh   = 0x02
	regHiThresh   = 0x03
)

// Config register fields.
const (
	cfgOS       = 1 << 15 // write 1: start a single-shot conversion; read 1: not converting
	cfgMode     = 1 << 8  // 1: single-shot, powered down between conversions
	cfgCompMode = 1 << 4  // 1: window comparator
	cfgCompPol  = 1 << 3  // 1: ALERT/RDY active high
	cfgCompLat  = 1 << 2  // 1: latching
	cfgCompQue  = 0b11    // the COMP_QUE field; 11 turns the comparator off

	powerUpConfig = 0x8583
)

// fullScale is the PGA's full-scale range in millivolts, by PGA field.
var fullScale = [8]int{6144, 4096, 2048, 1024, 512, 256, 256, 256}

// differential is the (positive, negative) inputs of MUX 000..011.
var differential = [4][2]int{{0, 1}, {0, 3}, {1, 3}, {2, 3}}

// Chip emulates an ADS1115 on an I2C bus. Safe for concurrent use.
type Chip struct {
	addr  uint16
	input func(ch int) (millivolts int, err error)
	alert *Pin

	mu       sync.Mutex
	ptr      byte
	config   uint16 // OS is not kept: it is derived from MODE when read
	lo, hi   int16
	conv     int16
	asserted bool // the comparator's output, before COMP_POL

	slow      int       // percent by which a single-shot conversion outlasts its period
	pending   bool      // a single-shot conversion is under way
	pendCode  int16     // its result
	pendUntil time.Time // when it completes
}

// dataRates are the samples per second of the config register's DR field.
var dataRates = [8]int{8, 16, 32, 64, 128, 250, 475, 860}

// SetSlowness makes single-shot conversions take percent longer than the
// period of the data rate (1/128 s at 128 samples/s): the datasheet allows
// the internal oscillator 10 % either way. While a conversion is under way
// Config's OS bit reads 0 and the Conversion register holds the previous
// result. 0, the default, completes each conversion at once.
func (c *Chip) SetSlowness(percent int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.slow = max(percent, 0)
}

// settle completes a single-shot conversion whose time has come; c.mu is
// held.
func (c *Chip) settle() {
	if c.pending && !time.Now().Before(c.pendUntil) {
		c.pending = false
		c.converted(c.pendCode)
	}
}

// New returns a chip at addr (0 means 0x48) whose four inputs are given by
// input: the voltage in millivolts on channel ch, or an error (a broken
// input makes the bus transaction fail, as a real bus error would surface).
//
// input is called with the chip locked, so it must not call the chip.
func New(addr uint16, input func(ch int) (millivolts int, err error)) *Chip {
	if addr == 0 {
		addr = DefaultAddr
	}
	return &Chip{
		addr:   addr,
		input:  input,
		alert:  newPin(fmt.Sprintf("ADS1115(0x%02x) ALERT/RDY", addr)),
		config: powerUpConfig &^ cfgOS,
		lo:     -1 << 15,
		hi:     1<<15 - 1,
	}
}

// Alert is the GPIO that ALERT/RDY is wired to, as the Pi sees it.
func (c *Chip) Alert() *Pin { return c.alert }

// String implements i2c.Bus.
func (c *Chip) String() string { return "ads1115sim" }

// SetSpeed implements i2c.Bus. It fails as it does on a Raspberry Pi, where
// the I²C clock is set in config.txt.
func (c *Chip) SetSpeed(physic.Frequency) error {
	return errors.New("ads1115sim: the I2C clock cannot be set at run time")
}

// Close implements i2c.BusCloser. It has no effect.
func (c *Chip) Close() error { return nil }

// Tx implements i2c.Bus.
//
// A write is the pointer byte (0x00..0x03), alone or followed by a 16-bit
// big-endian value for that register. A read answers the register the
// pointer selects, two bytes big-endian; bytes read past those two answer
// 0xFF, an idle bus. What a real chip would take in a way no driver should
// rely on (a pointer byte above 0x03, a write of the Conversion register, a
// write of other than 1 or 3 bytes) fails with an error that says so, and
// changes nothing.
func (c *Chip) Tx(addr uint16, w, r []byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if addr != c.addr {
		return ErrNoAck
	}
	c.settle()
	if len(w) > 0 {
		reg := w[0]
		switch {
		case reg > regHiThresh:
			return fmt.Errorf("ads1115sim: pointer byte %#02x: only 0x00..0x03 select a register", reg)
		case len(w) == 3 && reg == regConversion:
			return errors.New("ads1115sim: the Conversion register (0x00) is read-only")
		case len(w) == 3:
			if err := c.write(reg, uint16(w[1])<<8|uint16(w[2])); err != nil {
				return err
			}
		case len(w) != 1:
			return fmt.Errorf("ads1115sim: write of %d bytes: want a pointer byte, alone or with a 16-bit value", len(w))
		}
		c.ptr = reg
	}
	if len(r) > 0 {
		v := c.read(c.ptr)
		for i := range r {
			r[i] = 0xFF
		}
		r[0] = byte(v >> 8)
		if len(r) > 1 {
			r[1] = byte(v)
		}
	}
	return nil
}

// Convert is the chip taking conversions of its input now. The simulation
// calls it whenever the input may have changed; in continuous mode it runs the
// comparator on the new conversion (one Convert counts as enough
// conversions to satisfy COMP_QUE) and asserts ALERT/RDY per COMP_MODE/POL/LAT.
//
// In single-shot mode the chip is powered down and Convert does nothing. An
// input error is returned and changes nothing.
func (c *Chip) Convert() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.config&cfgMode != 0 {
		return nil
	}
	code, err := c.sample(c.config)
	if err != nil {
		return err
	}
	c.converted(code)
	return nil
}

// read answers register reg; c.mu is held.
func (c *Chip) read(reg byte) uint16 {
	switch reg {
	case regConversion:
		if c.config&cfgCompLat != 0 && !c.rdyMode() {
			c.asserted = false
			c.drive()
		}
		return uint16(c.conv)
	case regConfig:
		if c.config&cfgMode != 0 && !c.pending {
			return c.config | cfgOS // powered down: no conversion under way
		}
		return c.config
	case regLoThresh:
		return uint16(c.lo)
	default:
		return uint16(c.hi)
	}
}

// write sets register reg (not the Conversion register); c.mu is held.
func (c *Chip) write(reg byte, v uint16) error {
	switch reg {
	case regLoThresh:
		c.lo = int16(v)
	case regHiThresh:
		c.hi = int16(v)
	case regConfig:
		continuous := v&cfgMode == 0
		if !continuous && v&cfgOS == 0 {
			c.setConfig(v)
			return nil
		}
		// A conversion starts: sample first, so that a broken input fails
		// the transaction with nothing changed.
		code, err := c.sample(v)
		if err != nil {
			return err
		}
		c.pending = false
		c.setConfig(v)
		if !continuous && c.rdyMode() {
			// Conversion-ready in single-shot: the pin shows OS, which
			// drops while the conversion runs.
			c.alert.drive(c.pulledLow(false))
		}
		if !continuous && c.slow > 0 {
			period := time.Second / time.Duration(dataRates[v>>5&0b111])
			c.pending, c.pendCode = true, code
			c.pendUntil = time.Now().Add(period * time.Duration(100+c.slow) / 100)
			return nil
		}
		c.converted(code)
	}
	c.drive()
	return nil
}

// setConfig stores a config value; c.mu is held.
func (c *Chip) setConfig(v uint16) {
	c.config = v &^ cfgOS
	if c.compOff() {
		c.asserted = false
	}
	c.drive()
}

// sample converts the input selected by config's MUX at its PGA; c.mu is
// held.
func (c *Chip) sample(config uint16) (int16, error) {
	mux := int(config>>12) & 0b111
	var mv int
	if mux >= 4 {
		ch := mux - 4
		v, err := c.input(ch)
		if err != nil {
			return 0, fmt.Errorf("ads1115sim: input AIN%d: %w", ch, err)
		}
		mv = v
	} else {
		p, n := differential[mux][0], differential[mux][1]
		vp, err := c.input(p)
		if err != nil {
			return 0, fmt.Errorf("ads1115sim: input AIN%d: %w", p, err)
		}
		vn, err := c.input(n)
		if err != nil {
			return 0, fmt.Errorf("ads1115sim: input AIN%d: %w", n, err)
		}
		mv = vp - vn
	}
	fsr := fullScale[config>>9&0b111]
	code := roundDiv(int64(mv)*(1<<15), int64(fsr))
	return int16(min(max(code, -1<<15), 1<<15-1)), nil
}

// converted stores a conversion result and runs the comparator on it; c.mu
// is held.
func (c *Chip) converted(code int16) {
	c.conv = code
	switch {
	case c.compOff():
	case c.rdyMode():
		if c.config&cfgMode == 0 {
			// The conversion-ready pulse (about 8 µs on the chip).
			c.alert.drive(c.pulledLow(true))
			c.alert.drive(c.pulledLow(false))
		}
	case c.config&cfgCompMode != 0: // window
		if code > c.hi || code < c.lo {
			c.asserted = true
		} else if c.config&cfgCompLat == 0 {
			c.asserted = false
		}
	default: // traditional, with hysteresis
		if code > c.hi {
			c.asserted = true
		} else if code < c.lo && c.config&cfgCompLat == 0 {
			c.asserted = false
		}
	}
	c.drive()
}

// drive sets the pin to what the chip outputs now; c.mu is held.
func (c *Chip) drive() {
	switch {
	case c.compOff():
		c.alert.drive(false)
	case c.rdyMode():
		// Single-shot: asserted while idle, which is always between
		// transactions. Continuous: released between pulses.
		c.alert.drive(c.pulledLow(c.config&cfgMode != 0))
	default:
		c.alert.drive(c.pulledLow(c.asserted))
	}
}

// pulledLow reports whether the open-drain output pulls the line low when
// the comparator output is asserted; c.mu is held.
func (c *Chip) pulledLow(asserted bool) bool {
	activeHigh := c.config&cfgCompPol != 0
	return asserted != activeHigh
}

// compOff reports whether COMP_QUE turns the comparator off; c.mu is held.
func (c *Chip) compOff() bool { return c.config&cfgCompQue == cfgCompQue }

// rdyMode reports whether the thresholds make ALERT/RDY a conversion-ready
// signal: Hi_thresh's MSB 1 and Lo_thresh's MSB 0. c.mu is held.
func (c *Chip) rdyMode() bool { return c.hi < 0 && c.lo >= 0 }

// roundDiv divides rounding half away from zero.
func roundDiv(a, b int64) int64 {
	if a < 0 {
		return -((-a + b/2) / b)
	}
	return (a + b/2) / b
}

var _ i2c.BusCloser = (*Chip)(nil)
