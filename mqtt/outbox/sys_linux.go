//go:build linux

package outbox

import (
	"errors"
	"os"
	"syscall"
)

// datasync flushes a file's data and the metadata needed to read it back
// (its size) but not its timestamps: one device write fewer than fsync on
// ext4 and f2fs, which matters for SD card wear.
func datasync(f *os.File) error {
	sc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := sc.Control(func(fd uintptr) {
		for {
			serr = syscall.Fdatasync(int(fd))
			if !errors.Is(serr, syscall.EINTR) {
				return
			}
		}
	}); err != nil {
		return err
	}
	if serr != nil {
		return &os.PathError{Op: "fdatasync", Path: f.Name(), Err: serr}
	}
	return nil
}

// bootIDFile holds the kernel's random id of the running boot: the same
// for every process until the machine restarts.
const bootIDFile = "/proc/sys/kernel/random/boot_id"

// readBootID is the default Options.BootID.
func readBootID() (string, error) {
	b, err := os.ReadFile(bootIDFile)
	return string(b), err
}
