package main

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"

	"periph.io/x/conn/v3/i2c"
	"periph.io/x/conn/v3/physic"

	"nightlight/hw/ads1115/ads1115sim"
	"nightlight/hw/grovehat/grovehatsim"
)

// bench is the lab's I²C bus 1: an emulated Grove Base Hat (at 0x04 unless
// moved) and an emulated ADS1115 at 0x48 (whose single-shot conversions
// take four times their nominal period), both with the light sensor on their first channel, and the
// faults the lab can inject. It implements
// i2c.Bus, which the CUSE server serves as /dev/i2c-1.
//
// Its errors are the kernel's: EREMOTEIO for an address nobody
// acknowledges (as the Raspberry Pi's I²C controller reports a NACK), EIO
// for a failed transfer.
type bench struct {
	hat   *grovehatsim.Hat
	ads   *ads1115sim.Chip
	level atomic.Int64 // the light level, 0..1000

	mu     sync.Mutex
	absent bool // nothing answers, at any address
	skip   int  // transactions to let through before failing
	fail   int  // transactions to fail, after skip
	txs    int
}

func newBench() *bench {
	b := &bench{hat: grovehatsim.New()}
	b.ads = ads1115sim.New(0x48, func(ch int) (int, error) {
		if ch != 0 {
			return 0, nil // nothing connected
		}
		// The sensor powered from 3.3 V, as the ads1115 driver assumes.
		return (int(b.level.Load())*3300 + 500) / 1000, nil
	})
	// A single-shot conversion that takes four times its nominal period
	// (31 ms at 128 samples/s): a read that waits the nominal time instead
	// of polling the OS bit gets the previous conversion, every time. The
	// datasheet allows 10 % slow, which the lab's I2C round trips (about a
	// millisecond under TCG) would hide by chance.
	b.ads.SetSlowness(300)
	return b
}

// setLight sets the light level on both sensors; the ADS1115, if it
// converts continuously, converts it at once and runs its comparator.
func (b *bench) setLight(v int) error {
	if v < 0 || v > 1000 {
		return fmt.Errorf("light %d: want 0..1000", v)
	}
	b.level.Store(int64(v))
	b.hat.SetRatio(0, v)
	return b.ads.Convert()
}

func (b *bench) Tx(addr uint16, w, r []byte) error {
	b.mu.Lock()
	b.txs++
	failed := false
	switch {
	case b.skip > 0:
		b.skip--
	case b.fail > 0:
		b.fail--
		failed = true
	}
	absent := b.absent
	b.mu.Unlock()
	if failed {
		return syscall.EIO
	}
	var err error
	switch {
	case absent:
		return syscall.EREMOTEIO
	case addr == 0x48:
		err = b.ads.Tx(addr, w, r)
	default:
		err = b.hat.Tx(addr, w, r)
	}
	if errors.Is(err, grovehatsim.ErrNoAck) || errors.Is(err, ads1115sim.ErrNoAck) {
		return syscall.EREMOTEIO
	}
	return err
}

func (b *bench) String() string                    { return "lab bench" }
func (b *bench) SetSpeed(f physic.Frequency) error { return b.hat.SetSpeed(f) }

// command carries out one control command and says what it did. The
// commands:
//
//	light N            the light level on both sensors, 0..1000
//	product ID         the hat's product id register (e.g. 0x0007)
//	hat-addr ADDR      the hat answers at ADDR (0x04 or 0x08)
//	mm32 on|off        the hat answers a combined write-read with the
//	                   register selected before it, as MM32 boards may
//	absent on|off      nothing answers, at any address (hat and ADS1115 unplugged)
//	fail SKIP COUNT    let SKIP transactions through, then fail COUNT with EIO
//	ads-slow PERCENT   the ADS1115's single-shot conversions take PERCENT
//	                   longer than the data rate's period (0: none)
//	txs                how many transactions the bus has seen
func (b *bench) command(line string) (string, error) {
	f := strings.Fields(line)
	if len(f) == 0 {
		return "", errors.New("empty command")
	}
	if f[0] == "txs" {
		b.mu.Lock()
		defer b.mu.Unlock()
		return strconv.Itoa(b.txs), nil
	}
	arg := func(i int) (int, error) {
		if len(f) <= i {
			return 0, fmt.Errorf("%s: missing argument", f[0])
		}
		n, err := strconv.ParseInt(f[i], 0, 32)
		if err != nil {
			return 0, fmt.Errorf("%s: %q is not a number", f[0], f[i])
		}
		return int(n), nil
	}
	on := func() (bool, error) {
		if len(f) != 2 || (f[1] != "on" && f[1] != "off") {
			return false, fmt.Errorf("%s: say on or off", f[0])
		}
		return f[1] == "on", nil
	}
	switch f[0] {
	case "light":
		v, err := arg(1)
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("light %d", v), b.setLight(v)
	case "product", "hat-addr":
		v, err := arg(1)
		if err != nil {
			return "", err
		}
		if f[0] == "product" {
			b.hat.SetProductID(uint16(v))
			return fmt.Sprintf("product 0x%04x", v), nil
		}
		b.hat.SetAddr(uint16(v))
		return fmt.Sprintf("hat at 0x%02x", v), nil
	case "mm32", "absent":
		v, err := on()
		if err != nil {
			return "", err
		}
		if f[0] == "mm32" {
			b.hat.SetLatchedSelect(v)
		} else {
			b.mu.Lock()
			b.absent = v
			b.mu.Unlock()
		}
		return fmt.Sprintf("%s %t", f[0], v), nil
	case "fail":
		skip, err := arg(1)
		if err != nil {
			return "", err
		}
		count, err := arg(2)
		if err != nil {
			return "", err
		}
		b.mu.Lock()
		b.skip, b.fail = skip, count
		b.mu.Unlock()
		return fmt.Sprintf("fail %d after %d", count, skip), nil
	case "ads-slow":
		v, err := arg(1)
		if err != nil {
			return "", err
		}
		b.ads.SetSlowness(v)
		return fmt.Sprintf("ads1115 conversions %d%% slow", v), nil
	}
	return "", fmt.Errorf("unknown command %q: use light, product, hat-addr, mm32, absent, fail, ads-slow or txs", f[0])
}

var _ i2c.Bus = (*bench)(nil)
