package board

import (
	"golang.org/x/sys/unix"
)

// keepStdio runs init, periph's host.Init, so that file descriptors 0, 1 and
// 2 are what they were whatever it does.
//
// periph host v3.8.5 closes fd 0 when /dev/gpiochip* holds one chip twice,
// as Raspberry Pi OS's /dev/gpiochip4 -> gpiochip0 symlink (udev rule
// 60-gpiochip4.rules) makes it: gpioioctl's driver closes the duplicate
// chip (gpioioctl/gpio.go:653-654), and GPIOChip.Close sets chip.fd to 0
// before closing chip.fd (gpio.go:434 and 443). The next file opened then
// takes fd 0: in the lab, periph's own /sys/class/gpio/export; a GPIO line
// request there would be lost, as periph's line code takes fd 0 for "not
// requested" (gpio.go:89 and 260).
//
// So: fds 0-2 are opened on /dev/null if they are closed (a file periph
// opens must not land on them), copies of them are kept, and after init any
// of them that no longer refers to its file is put back. A file of periph's
// that had taken fd 0 then refers to /dev/null instead: periph uses it no
// more (it is the sysfs GPIO export file, which nightlight, on GPIO
// character-device lines, never writes). The symlink lab check reproduces
// the condition.
func keepStdio(init func() error) error {
	var saved [3]int
	for fd := range saved {
		saved[fd] = -1
		if _, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0); err == unix.EBADF {
			// The lowest free descriptor: fd itself, as the lower ones are open.
			if n, err := unix.Open("/dev/null", unix.O_RDWR, 0); err == nil && n != fd {
				unix.Close(n)
			}
		}
		if c, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 3); err == nil {
			saved[fd] = c
		}
	}
	err := init()
	for fd, c := range saved {
		if c < 0 {
			continue
		}
		if !sameFile(fd, c) {
			unix.Dup3(c, fd, 0)
		}
		unix.Close(c)
	}
	return err
}

// sameFile reports whether two descriptors refer to the same file.
func sameFile(a, b int) bool {
	var sa, sb unix.Stat_t
	if unix.Fstat(a, &sa) != nil || unix.Fstat(b, &sb) != nil {
		return false
	}
	return sa.Dev == sb.Dev && sa.Ino == sb.Ino && sa.Rdev == sb.Rdev
}
