//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package main

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// TestCheckDaemon: led refuses while a process holds the state directory's
// lock, as the daemon's outbox does, and goes ahead when none does.
func TestCheckDaemon(t *testing.T) {
	dir := t.TempDir()
	if err := checkDaemon(dir, "a reason"); err != nil {
		t.Fatalf("no daemon: %v", err)
	}
	if err := checkDaemon(filepath.Join(dir, "missing"), "a reason"); err != nil {
		t.Fatalf("no state directory: %v", err)
	}
	held, err := os.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	if err := syscall.Flock(int(held.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		t.Fatal(err)
	}
	if err := checkDaemon(dir, "a reason"); !errors.Is(err, errDaemonRunning) {
		t.Fatalf("daemon holding %s: %v", dir, err)
	}
	syscall.Flock(int(held.Fd()), syscall.LOCK_UN)
	if err := checkDaemon(dir, "a reason"); err != nil {
		t.Fatalf("after the daemon let go: %v", err)
	}
}
