//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"syscall"
)

// errDaemonRunning is the refusal of a command that must not run beside
// the daemon (led, forget).
var errDaemonRunning = errors.New("the nightlight daemon is running")

// checkDaemon tells whether a nightlight daemon runs on stateDir: while it
// runs, its outbox holds an exclusive lock on the directory (mqtt/outbox,
// lockDir), which the kernel drops when the process ends. The lock is only
// tested, not kept: a daemon starting a moment later wins, as it should.
// No directory means no daemon; one that cannot be opened (the service's
// /var/lib/nightlight is not readable by other users) cannot tell, and says
// so. why says what the daemon's running means for the command, and what
// to do.
func checkDaemon(stateDir, why string) error {
	d, err := os.Open(stateDir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		return fmt.Errorf("cannot tell whether the nightlight daemon is running (state directory: %w): run as root (sudo), or stop it first with \"sudo systemctl stop nightlight\"", err)
	}
	defer d.Close()
	for {
		err = syscall.Flock(int(d.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if !errors.Is(err, syscall.EINTR) {
			break
		}
	}
	switch {
	case errors.Is(err, syscall.EWOULDBLOCK):
		return fmt.Errorf("%w (it holds %s): %s", errDaemonRunning, stateDir, why)
	case err != nil:
		return fmt.Errorf("cannot tell whether the nightlight daemon is running (lock %s: %w)", stateDir, err)
	}
	return syscall.Flock(int(d.Fd()), syscall.LOCK_UN)
}
