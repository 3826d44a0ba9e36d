package board

import (
	"os"
	"os/exec"
	"testing"

	"golang.org/x/sys/unix"
)

// TestKeepStdio: whatever the host's initialisation does to fds 0-2 (here,
// as periph v3.8.5 does with a duplicate GPIO chip, it closes fd 0 and the
// next file opened takes it), they are what they were afterwards. It runs in
// a child process, whose descriptors it may change.
func TestKeepStdio(t *testing.T) {
	if os.Getenv("NIGHTLIGHT_STDIO_CHILD") == "1" {
		stdioChild()
		return
	}
	for _, mode := range []string{"reused", "closed"} {
		cmd := exec.Command(os.Args[0], "-test.run=^TestKeepStdio$")
		cmd.Env = append(os.Environ(), "NIGHTLIGHT_STDIO_CHILD=1", "NIGHTLIGHT_STDIO_MODE="+mode)
		null, err := os.Open(os.DevNull)
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stdin = null
		out, err := cmd.CombinedOutput()
		null.Close()
		if err != nil {
			t.Errorf("fd 0 %s during host initialisation: %v\n%s", mode, err, out)
		}
	}
}

// stdioChild closes fd 0 inside keepStdio and, in mode "reused", opens a
// file that takes it, then exits 0 only if fd 0 is /dev/null again.
func stdioChild() {
	var keep *os.File
	err := keepStdio(func() error {
		unix.Close(0)
		if os.Getenv("NIGHTLIGHT_STDIO_MODE") == "reused" {
			f, err := os.Open("/proc/self/status")
			if err != nil {
				return err
			}
			if f.Fd() != 0 {
				os.Stderr.WriteString("the reopened file did not take fd 0\n")
				os.Exit(3)
			}
			keep = f
		}
		return nil
	})
	_ = keep
	if err != nil {
		os.Stderr.WriteString(err.Error() + "\n")
		os.Exit(2)
	}
	if s, err := os.Readlink("/proc/self/fd/0"); err != nil || s != os.DevNull {
		os.Stderr.WriteString("fd 0 is " + s + " after keepStdio\n")
		os.Exit(1)
	}
	os.Exit(0)
}
