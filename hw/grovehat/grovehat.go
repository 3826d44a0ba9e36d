package grovehat

import (
	"errors"
	"fmt"

	"periph.io/x/conn/v3/i2c"
)

// Addresses the hat is known to answer at.
const (
	// AddrSTM32 is the address of hats built on an STM32F030.
	AddrSTM32 uint16 = 0x04
	// AddrMM32 is the address of hats built on an MM32 (some 2022-2024 batches).
	AddrMM32 uint16 = 0x08
)

// Product ids answered by register 0x00.
const (
	ProductRPi     uint16 = 0x0004
	ProductRPiZero uint16 = 0x0005
)

// Channels is the number of analog channels the registers address.
const Channels = 8

// MinFirmware is the oldest firmware version with ratio registers (v0.2).
const MinFirmware = 2

const (
	regProduct  = 0x00
	regFirmware = 0x02
	regRaw      = 0x10
	regVoltage  = 0x20
	regRatio    = 0x30
)

// Errors New and the read methods wrap; test them with errors.Is.
var (
	// ErrNotFound means no device answered at the address(es) tried.
	ErrNotFound = errors.New("grovehat: no Grove Base Hat answers")
	// ErrWrongProduct means a device answered with another product id.
	ErrWrongProduct = errors.New("grovehat: not a Grove Base Hat")
	// ErrOldFirmware means the hat runs firmware v0.1, which has no ratio
	// registers: update the hat's firmware.
	ErrOldFirmware = errors.New("grovehat: firmware too old, update the hat firmware to v0.2 or later")
	// ErrChannel means a channel outside 0..7 was asked for.
	ErrChannel = errors.New("grovehat: channel must be 0..7")
	// ErrValue means a register held a value outside its range, a sign of a
	// corrupted transfer.
	ErrValue = errors.New("grovehat: register value out of range")
)

// Opts configures New.
type Opts struct {
	// Addr is the hat's I²C address; 0 probes AddrSTM32 then AddrMM32.
	Addr uint16
}

// Dev is a Grove Base Hat found on an I²C bus.
//
// Its methods are safe for concurrent use: a Dev holds no mutable state and
// each read is a single bus transaction.
type Dev struct {
	c        i2c.Dev
	product  uint16
	firmware int
}

// New finds the hat on bus and checks its product id and firmware version.
//
// opts may be nil. The bus stays the caller's to close.
func New(bus i2c.Bus, opts *Opts) (*Dev, error) {
	if bus == nil {
		return nil, errors.New("grovehat: nil bus")
	}
	addrs := []uint16{AddrSTM32, AddrMM32}
	if opts != nil && opts.Addr != 0 {
		if opts.Addr > 0x7F {
			return nil, fmt.Errorf("grovehat: address %#x is not a 7-bit I2C address", opts.Addr)
		}
		addrs = []uint16{opts.Addr}
	}
	var (
		lastErr  error  // last bus error while probing
		wrong    uint16 // address of a device with another product id
		wrongPID uint16
	)
	for _, addr := range addrs {
		d := &Dev{c: i2c.Dev{Bus: bus, Addr: addr}}
		pid, err := d.read(regProduct)
		if err != nil {
			lastErr = err
			continue
		}
		if pid != ProductRPi && pid != ProductRPiZero {
			if wrong == 0 {
				wrong, wrongPID = addr, pid
			}
			continue
		}
		fw, err := d.read(regFirmware)
		if err != nil {
			return nil, fmt.Errorf("grovehat: read firmware version at %s: %w", hex2(addr), err)
		}
		if fw < MinFirmware {
			return nil, fmt.Errorf("%w (hat at %s reports firmware %d)", ErrOldFirmware, hex2(addr), fw)
		}
		d.product, d.firmware = pid, int(fw)
		return d, nil
	}
	if wrong != 0 {
		return nil, fmt.Errorf("%w: device at %s answers product id %#04x, want %#04x or %#04x",
			ErrWrongProduct, hex2(wrong), wrongPID, ProductRPi, ProductRPiZero)
	}
	return nil, fmt.Errorf("%w at %s: %w", ErrNotFound, addrList(addrs), lastErr)
}

// Ratio returns channel ch's input voltage relative to the Grove supply, in
// 0.1 % (0..1000). For the Grove light sensor it is the light level.
func (d *Dev) Ratio(ch int) (int, error) {
	return d.readChannel("ratio", regRatio, ch, 1000)
}

// Millivolts returns channel ch's input voltage in mV.
func (d *Dev) Millivolts(ch int) (int, error) {
	return d.readChannel("voltage", regVoltage, ch, 0xFFFF)
}

// Raw returns channel ch's raw 12-bit ADC sample (0..4095).
func (d *Dev) Raw(ch int) (int, error) {
	return d.readChannel("raw value", regRaw, ch, 4095)
}

// ProductID returns the product id the hat answered: ProductRPi or
// ProductRPiZero.
func (d *Dev) ProductID() uint16 { return d.product }

// Firmware returns the hat's firmware version (2 for v0.2).
func (d *Dev) Firmware() int { return d.firmware }

// Addr returns the I²C address the hat answers at.
func (d *Dev) Addr() uint16 { return d.c.Addr }

// Name returns the product's name.
func (d *Dev) Name() string {
	if d.product == ProductRPiZero {
		return "Grove Base Hat RPi Zero"
	}
	return "Grove Base Hat RPi"
}

// String implements conn.Resource.
func (d *Dev) String() string {
	return fmt.Sprintf("%s (product %#04x, firmware %d) at %s", d.Name(), d.product, d.firmware, hex2(d.c.Addr))
}

// Halt implements conn.Resource. The hat samples on its own; there is
// nothing to stop.
func (d *Dev) Halt() error { return nil }

func (d *Dev) readChannel(what string, base byte, ch, max int) (int, error) {
	if ch < 0 || ch >= Channels {
		return 0, fmt.Errorf("%w, not %d", ErrChannel, ch)
	}
	v, err := d.read(base + byte(ch))
	if err != nil {
		return 0, fmt.Errorf("grovehat: read A%d %s: %w", ch, what, err)
	}
	if int(v) > max {
		return 0, fmt.Errorf("%w: A%d %s %d, max %d", ErrValue, ch, what, v, max)
	}
	return int(v), nil
}

// read reads one 16-bit little-endian register as Seeed's grove.py does
// (grove/adc.py, read_register; its commit a4a5c9b for issue 64): the
// register byte in a transfer of its own, then the register byte again and
// the read after a repeated start (an SMBus read-word). The MM32 hats of
// some 2022-2024 batches, whose firmware is not published, may take the
// register byte of a combined transfer only after it and answer the
// register selected before; selecting it first reads the right one either
// way, and repeating it in the read keeps a transfer of another program
// between the two from changing what is read.
func (d *Dev) read(reg byte) (uint16, error) {
	if err := d.c.Tx([]byte{reg}, nil); err != nil {
		return 0, err
	}
	var r [2]byte
	if err := d.c.Tx([]byte{reg}, r[:]); err != nil {
		return 0, err
	}
	return uint16(r[0]) | uint16(r[1])<<8, nil
}

func hex2(a uint16) string { return fmt.Sprintf("0x%02x", a) }

func addrList(addrs []uint16) string {
	s := ""
	for i, a := range addrs {
		if i > 0 {
			s += " and "
		}
		s += hex2(a)
	}
	return s
}
