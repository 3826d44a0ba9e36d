package board

import (
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"testing"

	"nightlight/hw/ads1115"
	"nightlight/hw/grovehat"
)

// TestExplain is the table of every hardware failure's message: one line
// naming the device, the cause and the fix.
func TestExplain(t *testing.T) {
	nack := errors.New("sysfs-i2c: remote I/O error")
	tests := []struct {
		name string
		f    failure
		want string
	}{
		{
			name: "host init",
			f:    failure{part: partHost, err: errors.New("bcm283x-gpio: boom")},
			want: `periph host drivers: initialisation failed (bcm283x-gpio: boom): run on a Raspberry Pi with Linux, or use --hardware sim`,
		},
		{
			name: "I2C not enabled",
			f: failure{part: partBus, name: "1", dev: "/dev/i2c-1", fact: factMissing,
				err: errors.New("i2creg: no bus found; did you forget to call Init()?")},
			want: `I2C bus 1 (/dev/i2c-1): device missing, I2C is not enabled: enable I2C with "sudo raspi-config nonint do_i2c 0" and reboot (no I2C on this machine? use --hardware sim)`,
		},
		{
			name: "I2C not enabled, seen in the error only",
			f: failure{part: partBus, name: "1", dev: "/dev/i2c-1",
				err: errors.New("sysfs-i2c: bus #1 is not configured: open /dev/i2c-1: no such file or directory")},
			want: `I2C bus 1 (/dev/i2c-1): device missing, I2C is not enabled: enable I2C with "sudo raspi-config nonint do_i2c 0" and reboot (no I2C on this machine? use --hardware sim)`,
		},
		{
			name: "no permission on /dev/i2c-1",
			f: failure{part: partBus, name: "1", dev: "/dev/i2c-1", fact: factDenied,
				err: errors.New("sysfs-i2c: are you member of group 'plugdev'? open /dev/i2c-1: permission denied")},
			want: `I2C bus 1 (/dev/i2c-1): permission denied: add the user to group i2c with "sudo usermod -aG i2c $USER" (or the service's user), then log in again or restart the service`,
		},
		{
			name: "no permission, seen in the error only",
			f: failure{part: partBus, name: "I2C1", dev: "/dev/i2c-1",
				err: fmt.Errorf("open: %w", fs.ErrPermission)},
			want: `I2C bus I2C1 (/dev/i2c-1): permission denied: add the user to group i2c with "sudo usermod -aG i2c $USER" (or the service's user), then log in again or restart the service`,
		},
		{
			name: "unknown bus name",
			f:    failure{part: partBus, name: "spi0", err: errors.New(`i2creg: can't open unknown bus: "spi0"`)},
			want: `I2C bus spi0: no such bus (i2creg: can't open unknown bus: "spi0"): set bus to N for /dev/i2c-N; the Raspberry Pi's header bus is 1`,
		},
		{
			name: "other bus failure",
			f:    failure{part: partBus, name: "1", dev: "/dev/i2c-1", err: errors.New("sysfs-i2c: inappropriate ioctl")},
			want: `I2C bus 1 (/dev/i2c-1): sysfs-i2c: inappropriate ioctl: check that "i2cdetect -y 1" works`,
		},
		{
			name: "hat not found",
			f: failure{part: partHat, name: "1",
				err: fmt.Errorf("%w at 0x04 and 0x08: %w", grovehat.ErrNotFound, nack)},
			want: `Grove Base Hat on I2C bus 1: nothing answers at 0x04 or 0x08: seat the hat fully on the 40-pin header and check that "i2cdetect -y 1" shows 04 or 08 (a Dexter GrovePi+ is a different board and is not supported)`,
		},
		{
			name: "hat not found at the configured address",
			f: failure{part: partHat, name: "1", addr: 0x10,
				err: fmt.Errorf("%w at 0x10: %w", grovehat.ErrNotFound, nack)},
			want: `Grove Base Hat on I2C bus 1: nothing answers at 0x10: seat the hat fully on the 40-pin header and check that "i2cdetect -y 1" shows 10 (a Dexter GrovePi+ is a different board and is not supported)`,
		},
		{
			name: "wrong product id",
			f: failure{part: partHat, name: "1",
				err: fmt.Errorf("%w: device at 0x04 answers product id 0x0201, want 0x0004 or 0x0005", grovehat.ErrWrongProduct)},
			want: `Grove Base Hat on I2C bus 1: not a Grove Base Hat: device at 0x04 answers product id 0x0201, want 0x0004 or 0x0005: use a Seeed Grove Base Hat for Raspberry Pi (a GrovePi+ is not one), or set addr to the hat's address`,
		},
		{
			name: "old firmware",
			f: failure{part: partHat, name: "1",
				err: fmt.Errorf("%w (hat at 0x04 reports firmware 1)", grovehat.ErrOldFirmware)},
			want: `Grove Base Hat on I2C bus 1: firmware v0.1 has no ratio registers, the light would always read 0: update the hat firmware to v0.2 or later (Seeed wiki: Grove Base Hat for Raspberry Pi, firmware update)`,
		},
		{
			name: "ADS1115 not found",
			f: failure{part: partADS, name: "1", addr: 0x48,
				err: fmt.Errorf("%w at 0x48: %w", ads1115.ErrNotFound, nack)},
			want: `ADS1115 on I2C bus 1: nothing answers at 0x48: check its wiring (VDD, GND, SDA, SCL) and ADDR pin (GND 0x48, VDD 0x49, SDA 0x4a, SCL 0x4b); "i2cdetect -y 1" should show it`,
		},
		{
			name: "pin name unknown",
			f:    failure{part: partPin, name: "GPIO99"},
			want: `LED pin GPIO99: no such pin on this machine: set led-pin to a BCM GPIO name such as GPIO5 (the hat's D5 socket)`,
		},
		{
			name: "no GPIO at all",
			f:    failure{part: partPin, name: "GPIO5", fact: factMissing},
			want: `LED pin GPIO5: no such pin, and no GPIO character device (/dev/gpiochip*) on this machine: run on a Raspberry Pi, or use --hardware sim`,
		},
		{
			name: "no permission on /dev/gpiochip0",
			f:    failure{part: partPin, name: "GPIO5", dev: "/dev/gpiochip0", fact: factDenied},
			want: `LED pin GPIO5 (/dev/gpiochip0): permission denied: add the user to group gpio with "sudo usermod -aG gpio $USER" (or the service's user), then log in again or restart the service`,
		},
		{
			name: "pin busy",
			f: failure{part: partLED, name: "GPIO5",
				err: errors.New("led: drive GPIO5 low: GPIOLine.Out(): line_request ioctl: device or resource busy")},
			want: `LED pin GPIO5: taken by another program: stop that program ("gpioinfo" names the consumer of GPIO5), or wire the LED to another pin and set led-pin`,
		},
		{
			name: "pin not permitted",
			f: failure{part: partLED, name: "GPIO5",
				err: errors.New("led: drive GPIO5 low: line_request ioctl: operation not permitted")},
			want: `LED pin GPIO5: permission denied: add the user to group gpio with "sudo usermod -aG gpio $USER" (or the service's user), then log in again or restart the service`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := explain(tt.f)
			got := e.Error()
			if got != tt.want {
				t.Errorf("\n got  %s\n want %s", got, tt.want)
			}
			if strings.ContainsAny(got, "\n\r") {
				t.Errorf("message is not one line: %q", got)
			}
			if e.Device == "" || e.Problem == "" || e.Fix == "" {
				t.Errorf("device %q, problem %q, fix %q: all three are needed", e.Device, e.Problem, e.Fix)
			}
			if tt.f.err != nil && !errors.Is(e, tt.f.err) {
				t.Errorf("the driver's error is not wrapped")
			}
		})
	}
}

func TestOneLine(t *testing.T) {
	e := explain(failure{part: partLED, name: "GPIO5", err: errors.New("{\n  \"Line\": 5\n}")})
	if strings.Contains(e.Error(), "\n") {
		t.Fatalf("multi-line driver text leaked: %q", e.Error())
	}
}
