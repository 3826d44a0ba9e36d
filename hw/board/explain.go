package board

import (
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"syscall"

	"nightlight/hw/ads1115"
	"nightlight/hw/grovehat"
)

// Error is a hardware failure explained for a person, on one line: the
// device, what is wrong, and what to do about it. Err is the failure as the
// driver reported it, for errors.Is and errors.As.
type Error struct {
	Device  string // e.g. "I2C bus 1 (/dev/i2c-1)"
	Problem string // e.g. "permission denied"
	Fix     string // e.g. `add the user to group i2c: ...`
	Err     error
}

func (e *Error) Error() string {
	return oneLine(e.Device + ": " + e.Problem + ": " + e.Fix)
}

func (e *Error) Unwrap() error { return e.Err }

// part is the step of Open that failed.
type part int

const (
	partHost     part = iota // host.Init
	partBus                  // opening the I2C bus
	partHat                  // finding the Grove Base Hat
	partADS                  // finding the ADS1115
	partPin                  // looking the LED pin up by name
	partLED                  // driving the LED pin
	partAlertPin             // looking the ADS1115's alert pin up by name
	partAlert                // setting the alert pin up for edge detection
)

// fact is what the machine showed about the device file involved.
type fact int

const (
	factNone    fact = iota // nothing learnt
	factMissing             // the device file does not exist
	factDenied              // the device file exists but cannot be opened
)

// failure is a failed step of Open with the facts needed to explain it.
// Open gathers the facts; explain only words them, so that every message
// can be tested without hardware.
type failure struct {
	part part
	name string // bus or pin name as configured
	addr uint16 // configured I2C address, 0 when probed
	dev  string // device file involved, e.g. /dev/i2c-1, /dev/gpiochip0
	fact fact
	err  error
}

// Fixes that recur.
const (
	fixI2CEnable = `enable I2C with "sudo raspi-config nonint do_i2c 0" and reboot (no I2C on this machine? use --hardware sim)`
	fixI2CGroup  = `add the user to group i2c with "sudo usermod -aG i2c $USER" (or the service's user), then log in again or restart the service`
	fixGPIOGroup = `add the user to group gpio with "sudo usermod -aG gpio $USER" (or the service's user), then log in again or restart the service`
)

// explain turns a failure into an *Error.
func explain(f failure) *Error {
	e := &Error{Err: f.err}
	switch f.part {
	case partHost:
		e.Device = "periph host drivers"
		e.Problem = "initialisation failed (" + errText(f.err) + ")"
		e.Fix = "run on a Raspberry Pi with Linux, or use --hardware sim"

	case partBus:
		e.Device = "I2C bus " + f.name
		if f.dev != "" {
			e.Device += " (" + f.dev + ")"
		}
		switch {
		case f.fact == factMissing || isMissing(f.err):
			e.Problem = "device missing, I2C is not enabled"
			e.Fix = fixI2CEnable
		case f.fact == factDenied || isDenied(f.err):
			e.Problem = "permission denied"
			e.Fix = fixI2CGroup
		case f.dev == "":
			e.Problem = "no such bus (" + errText(f.err) + ")"
			e.Fix = `set bus to N for /dev/i2c-N; the Raspberry Pi's header bus is 1`
		default:
			e.Problem = errText(f.err)
			e.Fix = `check that "i2cdetect -y ` + strings.TrimPrefix(f.dev, "/dev/i2c-") + `" works`
		}

	case partHat, partADS:
		explainChip(e, f)

	case partPin, partAlertPin, partLED, partAlert:
		explainPin(e, f)
	}
	return e
}

// explainChip words a failure to find the sensor's chip.
func explainChip(e *Error, f failure) {
	switch f.part {
	case partHat:
		e.Device = "Grove Base Hat on I2C bus " + f.name
		switch {
		case errors.Is(f.err, grovehat.ErrNotFound):
			e.Problem = "nothing answers at " + hatAddrs(f.addr)
			e.Fix = `seat the hat fully on the 40-pin header and check that "i2cdetect -y ` + f.name + `" shows ` +
				hatShows(f.addr) + ` (a Dexter GrovePi+ is a different board and is not supported)`
		case errors.Is(f.err, grovehat.ErrWrongProduct):
			e.Problem = strings.TrimPrefix(errText(f.err), grovehat.ErrWrongProduct.Error()+": ")
			e.Problem = "not a Grove Base Hat: " + e.Problem
			e.Fix = "use a Seeed Grove Base Hat for Raspberry Pi (a GrovePi+ is not one), or set addr to the hat's address"
		case errors.Is(f.err, grovehat.ErrOldFirmware):
			e.Problem = "firmware v0.1 has no ratio registers, the light would always read 0"
			e.Fix = "update the hat firmware to v0.2 or later (Seeed wiki: Grove Base Hat for Raspberry Pi, firmware update)"
		default:
			e.Problem = errText(f.err)
			e.Fix = "check the hat is seated, then try again"
		}

	case partADS:
		e.Device = "ADS1115 on I2C bus " + f.name
		if errors.Is(f.err, ads1115.ErrNotFound) {
			e.Problem = fmt.Sprintf("nothing answers at 0x%02x", f.addr)
			e.Fix = `check its wiring (VDD, GND, SDA, SCL) and ADDR pin (GND 0x48, VDD 0x49, SDA 0x4a, SCL 0x4b); "i2cdetect -y ` +
				f.name + `" should show it`
		} else {
			e.Problem = errText(f.err)
			e.Fix = "check the ADS1115's wiring and the addr and channel settings"
		}
	}
}

// explainPin words a failure to find or drive the LED or alert pin.
func explainPin(e *Error, f failure) {
	switch f.part {
	case partPin, partAlertPin:
		e.Device = pinLabel(f.part) + " " + f.name
		switch f.fact {
		case factDenied:
			e.Device += " (" + f.dev + ")"
			e.Problem = "permission denied"
			e.Fix = fixGPIOGroup
		case factMissing:
			e.Problem = "no such pin, and no GPIO character device (/dev/gpiochip*) on this machine"
			e.Fix = "run on a Raspberry Pi, or use --hardware sim"
		case factNone:
			e.Problem = "no such pin on this machine"
			e.Fix = `set led-pin to a BCM GPIO name such as GPIO5 (the hat's D5 socket)`
			if f.part == partAlertPin {
				e.Fix = `set alert-pin to the BCM GPIO name ALERT/RDY is wired to, such as GPIO6, or leave it empty to read the sensor every sample-every`
			}
		}

	case partLED, partAlert:
		e.Device = pinLabel(f.part) + " " + f.name
		switch {
		case isBusy(f.err):
			e.Problem = "taken by another program"
			e.Fix = `stop that program ("gpioinfo" names the consumer of ` + f.name + `), or wire ` + pinWired(f.part) + ` to another pin and set ` + pinSetting(f.part)
		case isDenied(f.err):
			e.Problem = "permission denied"
			e.Fix = fixGPIOGroup
		case f.part == partAlert:
			e.Problem = "cannot watch it for edges (" + errText(f.err) + ")"
			e.Fix = "check that the pin can detect edges (a header GPIO of the Pi), or leave alert-pin empty to read the sensor every sample-every"
		default:
			e.Problem = errText(f.err)
			e.Fix = "check the pin name and that no other program drives it"
		}
	}
}

// pinLabel names the pin a part is about.
func pinLabel(p part) string {
	if p == partAlertPin || p == partAlert {
		return "alert pin"
	}
	return "LED pin"
}

// pinWired names what is wired to the pin a part is about.
func pinWired(p part) string {
	if p == partAlertPin || p == partAlert {
		return "ALERT/RDY"
	}
	return "the LED"
}

// pinSetting names the setting of the pin a part is about.
func pinSetting(p part) string {
	if p == partAlertPin || p == partAlert {
		return "alert-pin"
	}
	return "led-pin"
}

// hatAddrs words the addresses tried for the hat.
func hatAddrs(addr uint16) string {
	if addr == 0 {
		return "0x04 or 0x08"
	}
	return fmt.Sprintf("0x%02x", addr)
}

// hatShows words what i2cdetect should show for the hat.
func hatShows(addr uint16) string {
	if addr == 0 {
		return "04 or 08"
	}
	return fmt.Sprintf("%02x", addr)
}

// periph's host drivers report with %v, so errors.Is cannot see through them:
// the texts of the errno values are matched as well.

func isMissing(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOENT) ||
		contains(err, "no such file or directory")
}

func isDenied(err error) bool {
	return errors.Is(err, fs.ErrPermission) ||
		contains(err, "permission denied") || contains(err, "operation not permitted")
}

func isBusy(err error) bool {
	return errors.Is(err, syscall.EBUSY) || contains(err, "resource busy")
}

func contains(err error, s string) bool {
	return err != nil && strings.Contains(strings.ToLower(err.Error()), s)
}

func errText(err error) string {
	if err == nil {
		return "unknown error"
	}
	return err.Error()
}

// oneLine keeps a message on one line whatever a driver put in it.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
