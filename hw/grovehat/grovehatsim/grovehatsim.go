package grovehatsim

import (
	"errors"
	"fmt"
	"sync"

	"periph.io/x/conn/v3/i2c"
	"periph.io/x/conn/v3/i2c/i2ctest"
	"periph.io/x/conn/v3/physic"
)

// SupplyMillivolts is the emulated Grove supply (Vdda).
const SupplyMillivolts = 3300

// ErrNoAck is returned by Tx for an address no emulated device answers, as
// Linux reports a transaction nobody acknowledged.
var ErrNoAck = errors.New("grovehatsim: no acknowledge (nothing at this address)")

const (
	regProduct = 0x00
	regVendor  = 0x01
	regVersion = 0x02
	regName    = 0x03
	regRaw     = 0x10
	regVoltage = 0x20
	regVdda9   = 0x29 // voltage channel 9, wired to the supply
	regRatio   = 0x30
	regVdda    = 0x40
	regNull    = 0xFF

	vendorSeeed = 0x2886
	channels    = 8
)

// Hat is an emulated Grove Base Hat on its own fake I²C bus.
type Hat struct {
	mu       sync.Mutex
	addr     uint16
	product  uint16
	firmware int
	ratio    [channels]int
	glitch   [channels][]int // ratio reads to answer before ratio[ch]
	fail     []error         // errors for the next transactions
	reg      byte            // register selected by the last write
	late     bool            // a combined write-read answers the register selected before it
	name     int             // index into the name for register 0x03
	txs      int
}

// New returns an emulated Grove Base Hat RPi with firmware v0.2 at 0x04, all
// channels at 0.
func New() *Hat {
	return &Hat{addr: 0x04, product: 0x0004, firmware: 2, reg: regNull}
}

// SetRatio sets channel ch's level in 0.1 % of the supply; v is clamped to
// 0..1000 as the firmware clamps it. It panics on a channel outside 0..7.
func (h *Hat) SetRatio(ch, v int) {
	checkChannel(ch)
	h.mu.Lock()
	defer h.mu.Unlock()
	h.ratio[ch] = min(max(v, 0), 1000)
}

// Ratio returns channel ch's level as last set.
func (h *Hat) Ratio(ch int) int {
	checkChannel(ch)
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.ratio[ch]
}

// Glitch makes the next reads of channel ch's ratio register answer vals,
// one per read, before answering the level set with SetRatio again.
func (h *Hat) Glitch(ch int, vals ...int) {
	checkChannel(ch)
	h.mu.Lock()
	defer h.mu.Unlock()
	h.glitch[ch] = append(h.glitch[ch], vals...)
}

// SetAddr moves the hat to another I²C address.
func (h *Hat) SetAddr(addr uint16) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.addr = addr
}

// Addr returns the hat's I²C address.
func (h *Hat) Addr() uint16 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.addr
}

// SetProductID sets the product id register (0x0004 RPi, 0x0005 RPi Zero).
func (h *Hat) SetProductID(id uint16) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.product = id
}

// SetFirmware sets the firmware version register; 1 emulates v0.1.
func (h *Hat) SetFirmware(v int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.firmware = v
}

// SetLatchedSelect makes the hat take the register byte of a combined
// transaction (the register byte written, then a read after a repeated
// start) only once the transaction ends, so that its read answers the
// register selected before it. The MM32 hats of some 2022-2024 batches may
// behave so (their firmware is not published); Seeed's grove.py selects the
// register in a write of its own before each read, which works either way.
func (h *Hat) SetLatchedSelect(on bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.late = on
}

// FailNext makes the next transaction addressed to the hat fail with err;
// successive calls queue errors for successive transactions. The failed
// transaction reads nothing and leaves the register selection unchanged.
func (h *Hat) FailNext(err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.fail = append(h.fail, err)
}

// Transactions returns how many transactions reached the hat's address.
func (h *Hat) Transactions() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.txs
}

// String implements i2c.Bus.
func (h *Hat) String() string { return "grovehatsim" }

// SetSpeed implements i2c.Bus. It fails as it does on a Raspberry Pi, where
// the I²C clock is set in config.txt.
func (h *Hat) SetSpeed(physic.Frequency) error {
	return errors.New("grovehatsim: the I2C clock cannot be set at run time")
}

// Close implements i2c.BusCloser. It has no effect.
func (h *Hat) Close() error { return nil }

// Tx implements i2c.Bus.
//
// A write selects the register in its first byte; a read answers the
// selected register, two bytes little-endian (with SetLatchedSelect, the
// register selected before the transaction). Bytes read past those two
// answer 0xFF, an idle bus.
func (h *Hat) Tx(addr uint16, w, r []byte) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if addr != h.addr {
		return ErrNoAck
	}
	h.txs++
	if len(h.fail) > 0 {
		err := h.fail[0]
		h.fail = h.fail[1:]
		return err
	}
	sel := h.reg
	if len(w) > 0 {
		h.reg = w[0]
		if !h.late || len(r) == 0 {
			sel = h.reg
		}
	}
	if len(r) == 0 {
		return nil
	}
	v := h.value(sel)
	for i := range r {
		switch i {
		case 0:
			r[i] = byte(v)
		case 1:
			r[i] = byte(v >> 8)
		default:
			r[i] = 0xFF
		}
	}
	if h.firmware < 2 {
		// v0.1 forgets the register after each read.
		h.reg = regNull
	}
	return nil
}

// value answers register reg; h.mu is held.
func (h *Hat) value(reg byte) uint16 {
	v01 := h.firmware < 2
	switch {
	case reg == regProduct:
		return h.product
	case reg == regVendor:
		return vendorSeeed
	case reg == regVersion:
		return uint16(h.firmware)
	case reg == regName:
		return h.nameChar()
	case reg >= regRaw && reg < regRaw+channels:
		return uint16(raw(h.ratio[reg-regRaw]))
	case reg >= regVoltage && reg < regVoltage+channels:
		mv := millivolts(h.ratio[reg-regVoltage])
		if v01 && h.product == 0x0004 {
			mv *= 2
		}
		return uint16(mv)
	case reg >= regRatio && reg < regRatio+channels:
		if v01 {
			return 0
		}
		ch := reg - regRatio
		if g := h.glitch[ch]; len(g) > 0 {
			h.glitch[ch] = g[1:]
			return uint16(g[0])
		}
		return uint16(h.ratio[ch])
	case (reg == regVdda9 || reg == regVdda) && !v01:
		return SupplyMillivolts
	}
	return 0
}

// nameChar answers the name register: one character per read, then 0, then
// the name again, as the firmware does (its first answer is the 0 too).
func (h *Hat) nameChar() uint16 {
	name := "GROVE BASE HAT RPI"
	if h.product == 0x0005 {
		name = "GROVE BASE HAT RPI ZERO"
	}
	// Position 0 is the terminating 0 before the first pass.
	i := h.name
	h.name = (h.name + 1) % (len(name) + 1)
	if i == 0 {
		return 0
	}
	return uint16(name[i-1])
}

// millivolts is the input voltage for a ratio in 0.1 % of the supply.
func millivolts(ratio int) int {
	return (ratio*SupplyMillivolts + 500) / 1000
}

// raw is the 12-bit sample for a ratio in 0.1 % of the ADC reference.
func raw(ratio int) int {
	return min((ratio*4096+500)/1000, 4095)
}

func checkChannel(ch int) {
	if ch < 0 || ch >= channels {
		panic(fmt.Sprintf("grovehatsim: channel %d: must be 0..7", ch))
	}
}

var _ i2c.BusCloser = (*Hat)(nil)

// ReadScript turns a script of register reads, one i2ctest.IO per read (the
// register byte written, the two bytes read), into the transfers the
// grovehat driver makes for them: the register byte alone, then the
// register byte and the read. Other ops (no read, or more than one byte
// written) are kept as they are.
func ReadScript(reads ...i2ctest.IO) []i2ctest.IO {
	ops := make([]i2ctest.IO, 0, 2*len(reads))
	for _, op := range reads {
		if len(op.W) == 1 && len(op.R) > 0 {
			ops = append(ops, i2ctest.IO{Addr: op.Addr, W: []byte{op.W[0]}})
		}
		ops = append(ops, op)
	}
	return ops
}
