package board

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpioreg"
	"periph.io/x/conn/v3/i2c"
	"periph.io/x/conn/v3/i2c/i2creg"
	"periph.io/x/host/v3"
)

// system is what opening real hardware needs from the machine. Open uses
// the host's; tests use fakes.
type system struct {
	init      func() error
	openBus   func(name string) (i2c.BusCloser, error)
	pinByName func(name string) gpio.PinIO

	// For explaining failures: stat reports on a device file, openRW tries to
	// open it read-write, glob lists device files.
	stat   func(path string) error
	openRW func(path string) error
	glob   func(pattern string) ([]string, error)
}

func hostSystem() system {
	return system{
		init: func() error {
			return keepStdio(func() error {
				_, err := host.Init()
				return err
			})
		},
		openBus:   i2creg.Open,
		pinByName: func(name string) gpio.PinIO { return gpioreg.ByName(name) },
		stat: func(path string) error {
			_, err := os.Stat(path)
			return err
		},
		openRW: func(path string) error {
			f, err := os.OpenFile(path, os.O_RDWR, 0)
			if err != nil {
				return err
			}
			return f.Close()
		},
		glob: filepath.Glob,
	}
}

// i2cDevPath returns the device file of a periph I2C bus name ("1", "I2C1"
// or "/dev/i2c-1"), or "" when the name is none of those.
func i2cDevPath(bus string) string {
	n := bus
	switch {
	case strings.HasPrefix(bus, "/dev/i2c-"):
		n = strings.TrimPrefix(bus, "/dev/i2c-")
	case strings.HasPrefix(bus, "I2C"):
		n = strings.TrimPrefix(bus, "I2C")
	}
	if _, err := strconv.Atoi(n); err != nil {
		return ""
	}
	return "/dev/i2c-" + n
}

// fileFact tells whether a device file is missing or cannot be opened.
func (s system) fileFact(path string) fact {
	if path == "" {
		return factNone
	}
	if err := s.stat(path); errors.Is(err, fs.ErrNotExist) {
		return factMissing
	}
	if err := s.openRW(path); errors.Is(err, fs.ErrPermission) {
		return factDenied
	}
	return factNone
}

// gpioFact looks at the GPIO character devices when a pin name was not
// found: none at all, or one that cannot be opened, explains it.
func (s system) gpioFact() (string, fact) {
	chips, _ := s.glob("/dev/gpiochip*")
	if len(chips) == 0 {
		return "", factMissing
	}
	for _, c := range chips {
		if err := s.openRW(c); errors.Is(err, fs.ErrPermission) {
			return c, factDenied
		}
	}
	return "", factNone
}
