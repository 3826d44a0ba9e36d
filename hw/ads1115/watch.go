package ads1115

import (
	"errors"
	"fmt"
	"sort"

	"periph.io/x/conn/v3/physic"
)

// Registers and config register fields, from the ADS1115 datasheet (TI
// SBAS444, "Register Map").
const (
	regConversion = 0x00
	regLoThresh   = 0x02
	regHiThresh   = 0x03

	cfgOS         = 1 << 15     // OS: write 1 to start a single-shot conversion; reads 1 when none is under way
	cfgMuxAIN0    = 0b100 << 12 // MUX 100: AIN0 against GND; AINx is 100+x
	cfgModeSingle = 1 << 8      // MODE 1: single-shot, powered down between conversions
	cfgDR128      = 0b100 << 5  // DR 100: 128 samples/s
	cfgCompWindow = 1 << 4      // COMP_MODE 1: window comparator
	cfgCompLatch  = 1 << 2      // COMP_LAT 1: ALERT/RDY stays asserted until the Conversion register is read
	cfgCompQueTwo = 0b01        // COMP_QUE 01: assert after two conversions beyond the window
	cfgCompOff    = 0b11        // COMP_QUE 11: comparator off, ALERT/RDY released (high impedance)

	minCode = -1 << 15 // 0x8000, the most negative conversion result
	maxCode = 1<<15 - 1
)

// fullScales are the PGA's full-scale ranges, indexed by the config
// register's PGA field (110 and 111 repeat 0.256 V).
var fullScales = [...]physic.ElectricPotential{
	6144 * physic.MilliVolt,
	4096 * physic.MilliVolt,
	2048 * physic.MilliVolt,
	1024 * physic.MilliVolt,
	512 * physic.MilliVolt,
	256 * physic.MilliVolt,
}

// gainFor returns the PGA field (shifted into place) and the full-scale
// range of the smallest range that covers supply (the choice periph's
// ads1x15 PinForChannel makes for the same maximum voltage), for
// single-shot reads and Watch's thresholds alike.
func gainFor(supply physic.ElectricPotential) (uint16, physic.ElectricPotential) {
	for i := len(fullScales) - 1; i > 0; i-- {
		if fullScales[i] >= supply {
			return uint16(i) << 9, fullScales[i]
		}
	}
	return 0, fullScales[0]
}

// Watch starts continuous conversions of the channel with the window
// comparator: ALERT/RDY (open drain, active low, latching) is pulled low once
// conversions are below lo or above hi, in levels 0..1000 as Read gives them.
// A Read afterwards (a single-shot conversion) stops the conversions and
// releases ALERT/RDY; call Watch again to re-arm.
//
// The window is exact in Read's terms: Lo_thresh is the smallest conversion
// result that Read reports as level lo or more, Hi_thresh the largest it
// reports as hi or less, so a conversion alerts if and only if Read would
// report it outside lo..hi. lo 0 writes Lo_thresh 0x8000 and hi 1000 writes
// Hi_thresh 0x7FFF: no bound on that side, even for the slightly negative
// results a single-ended input near 0 V can give.
//
// Watch writes Lo_thresh, Hi_thresh, then Config: MUX AINx against GND, the
// same PGA as Read, continuous mode, 128 samples/s, window comparator, active
// low, latching, asserting after two consecutive conversions beyond the
// window (about 16 ms): one noisy conversion does not wake anyone. A latched
// ALERT/RDY is not released by Watch: Read first.
//
// From the datasheet (TI SBAS444, read for this): the register pointers
// 0x00..0x03 and the config fields used here; the comparator asserts when a
// conversion exceeds Hi_thresh or falls below Lo_thresh (both compares
// strict, the thresholds two's complement codes in the conversion format, to
// be rewritten if the PGA changes); a latched assertion is cleared only by
// reading the Conversion register (or an SMBus alert response); COMP_QUE 11
// disables the comparator and releases the pin; Hi_thresh must exceed
// Lo_thresh, and Hi_thresh's MSB 1 with Lo_thresh's MSB 0 would turn the pin
// into a conversion-ready signal, which thresholds computed here never do.
// In continuous mode a new Config takes effect after the ongoing conversion
// and writing OS has no effect while a conversion is ongoing, so the first
// Read after Watch gets the last continuous conversion, of the same channel
// at the same PGA: a valid reading, at most one conversion period old.
func (d *Dev) Watch(lo, hi int) error {
	if lo < 0 || hi > 1000 || lo > hi {
		return fmt.Errorf("ads1115: watch A%d: window %d..%d: need 0 <= lo <= hi <= 1000", d.channel, lo, hi)
	}
	loCode, hiCode := d.window(lo, hi)
	d.mu.Lock()
	defer d.mu.Unlock()
	writes := []struct {
		name string
		reg  byte
		v    uint16
	}{
		{"Lo_thresh", regLoThresh, uint16(loCode)},
		{"Hi_thresh", regHiThresh, uint16(hiCode)},
		{"Config", regConfig, d.config(cfgDR128 | cfgCompWindow | cfgCompLatch | cfgCompQueTwo)},
	}
	for _, w := range writes {
		if err := d.writeReg(w.reg, w.v); err != nil {
			return fmt.Errorf("ads1115: watch A%d: write %s: %w", d.channel, w.name, err)
		}
	}
	d.watching = true
	return nil
}

// window returns the threshold codes for levels lo..hi: the first code Read
// reports as lo or more and the last it reports as hi or less. Read's level
// never decreases as the code grows, so a binary search over all 65536 codes
// finds them.
func (d *Dev) window(lo, hi int) (loCode, hiCode int) {
	const n = maxCode - minCode + 1
	loCode = minCode + sort.Search(n, func(i int) bool { return d.codeLevel(minCode+i) >= lo })
	hiCode = minCode + sort.Search(n, func(i int) bool { return d.codeLevel(minCode+i) > hi }) - 1
	return min(loCode, maxCode), hiCode
}

// codeLevel is the level Read reports for a conversion result.
func (d *Dev) codeLevel(code int) int {
	return d.level(physic.ElectricPotential(code) * d.fsr / (1 << 15))
}

// config returns a config register value for the channel at Read's PGA,
// with the given mode, rate and comparator bits. OS stays 0: no single-shot
// conversion is started.
func (d *Dev) config(bits uint16) uint16 {
	return (cfgMuxAIN0 + uint16(d.channel)<<12) | d.pga | bits
}

// writeReg writes a 16-bit register: the pointer byte, then big-endian.
func (d *Dev) writeReg(reg byte, v uint16) error {
	return d.bus.Tx(d.addr, []byte{reg, byte(v >> 8), byte(v)}, nil)
}

// ErrNotWatching is Latest's answer when Watch is not in force.
var ErrNotWatching = errors.New("ads1115: not watching: the chip is not converting continuously")

// Latest returns the last conversion the chip made while watching, without
// stopping it or waiting: a read of the Config register, to be sure the chip
// is still converting as Watch left it, then of the Conversion register,
// where Read starts a conversion and sleeps for it. Reading the Conversion
// register also lets a latched ALERT/RDY go; the chip asserts it again two
// conversions later if the input is still beyond the window. Errors with
// ErrNotWatching when Watch is not in force: never called, stopped by Read
// or Halt, or undone behind our back (a chip reset by a supply glitch powers
// up in single-shot mode with its comparator off, and another program's
// single-shot read stops it too).
func (d *Dev) Latest() (Reading, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.watching {
		return Reading{}, fmt.Errorf("ads1115: latest A%d: %w", d.channel, ErrNotWatching)
	}
	var r [2]byte
	if err := d.bus.Tx(d.addr, []byte{regConfig}, r[:]); err != nil {
		return Reading{}, fmt.Errorf("ads1115: latest A%d: read Config: %w", d.channel, err)
	}
	// OS reads back 1 when no conversion is under way; the rest must be
	// what Watch wrote.
	if got, want := (uint16(r[0])<<8|uint16(r[1]))&^cfgOS, d.config(cfgDR128|cfgCompWindow|cfgCompLatch|cfgCompQueTwo); got != want {
		d.watching = false
		return Reading{}, fmt.Errorf("ads1115: latest A%d: config %#04x, not %#04x as armed: %w", d.channel, got, want, ErrNotWatching)
	}
	if err := d.bus.Tx(d.addr, []byte{regConversion}, r[:]); err != nil {
		return Reading{}, fmt.Errorf("ads1115: latest A%d: read Conversion: %w", d.channel, err)
	}
	return d.reading(int(int16(uint16(r[0])<<8 | uint16(r[1])))), nil
}
