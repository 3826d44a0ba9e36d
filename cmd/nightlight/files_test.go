package main

import (
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"nightlight/cmd/internal/device"
	"nightlight/hw/board"
	"nightlight/mqtt/mqtttest"
)

// TestFilesThatLie points every file either program reads at files that
// are not what they should be: one far over its bound (sparse, so it costs
// no disk), a device that never ends (/dev/zero), a named pipe nobody
// writes (which must not hang the program), and a directory. Each must be
// refused with a clear error naming the file, quickly, and without reading
// more than the file's bound into memory. The server reads its
// configuration, password and TLS files through the same loaders
// (config.Spec, brokerauth.Load) as the device, tested here.
func TestFilesThatLie(t *testing.T) {
	dir := t.TempDir()
	ca := mqtttest.NewCA(t, "ca")
	pair := ca.Issue(t, mqtttest.CertSpec{CommonName: "device", Client: true})
	empty := filepath.Join(dir, "empty.yaml")
	if err := os.WriteFile(empty, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("CREDENTIALS_DIRECTORY", "")
	daemon := func(args ...string) func(string) error {
		return func(path string) error {
			full := []string{"--id", "files", "--hardware", "sim", "--state-dir", t.TempDir()}
			for _, a := range args {
				full = append(full, strings.ReplaceAll(a, "PATH", path))
			}
			if !strings.Contains(strings.Join(args, " "), "--config") {
				full = append(full, "--config", empty)
			}
			_, _, err := load("run", full, io.Discard, nil)
			return err
		}
	}
	inputs := []struct {
		name string
		read func(path string) error
		says string // what the error names
	}{
		{"configuration", daemon("--config", "PATH"), "config file"},
		{"password file", daemon("--username", "u", "--password-file", "PATH"), "password file"},
		{"CA file", daemon("--broker", "ssl://127.0.0.1:8883", "--ca-file", "PATH"), "CA file"},
		{"certificate file", daemon("--broker", "ssl://127.0.0.1:8883", "--ca-file", ca.File, "--cert-file", "PATH", "--key-file", pair.KeyFile), "certificate file"},
		{"key file", daemon("--broker", "ssl://127.0.0.1:8883", "--ca-file", ca.File, "--cert-file", pair.CertFile, "--key-file", "PATH"), "key file"},
		{"simulated light file", func(path string) error {
			b, err := board.Open(board.Config{Hardware: board.Sim, SimLight: path})
			if err != nil {
				return err
			}
			defer b.Close()
			_, err = b.Light()
			return err
		}, "light file"},
		{"kept choices", func(path string) error { _, _, err := device.FileKeeper(path).Load(); return err }, "kept choices"},
	}
	liars := []struct {
		name  string
		make  func(t *testing.T) string
		wants string
	}{
		{"oversized", func(t *testing.T) string {
			p := filepath.Join(t.TempDir(), "huge")
			f, err := os.Create(p)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if err := f.Truncate(1 << 30); err != nil { // sparse: a GiB of nothing
				t.Fatal(err)
			}
			return p
		}, "limit"},
		{"endless device", func(t *testing.T) string { return "/dev/zero" }, "is a device"},
		{"named pipe", func(t *testing.T) string {
			p := filepath.Join(t.TempDir(), "fifo")
			if err := syscall.Mkfifo(p, 0o644); err != nil {
				t.Skipf("mkfifo: %v", err)
			}
			return p
		}, "is a named pipe"},
		{"directory", func(t *testing.T) string { return t.TempDir() }, "is a directory"},
	}
	for _, in := range inputs {
		for _, l := range liars {
			t.Run(in.name+"/"+l.name, func(t *testing.T) {
				path := l.make(t)
				var before, after runtime.MemStats
				runtime.GC()
				runtime.ReadMemStats(&before)
				done := make(chan error, 1)
				go func() { done <- in.read(path) }()
				var err error
				select {
				case err = <-done:
				case <-time.After(10 * time.Second):
					t.Fatalf("reading %s did not return within 10 s", path)
				}
				runtime.ReadMemStats(&after)
				if err == nil {
					t.Fatalf("%s accepted", path)
				}
				for _, want := range []string{in.says, path, l.wants} {
					if !strings.Contains(err.Error(), want) {
						t.Errorf("error %q does not say %q", err, want)
					}
				}
				// The largest bound is 1 MiB (a CA bundle); the test's own
				// loaders allocate a little besides.
				if grown := after.TotalAlloc - before.TotalAlloc; grown > 4<<20 {
					t.Errorf("refusing %s allocated %d bytes: the file was read beyond its bound", path, grown)
				}
			})
		}
	}
}
