package main

// The lab's checks. They run in the guest of .ci/lab, with NIGHTLIGHT_LAB=1,
// against the nightlight binary of the amd64 .deb at /bin/nightlight, the
// gpio-sim chip (lines GPIO5 and GPIO6) and nightlight-lab serve's
// /dev/i2c-1. Elsewhere they skip: they need that guest, and CI runs them
// there as its own stage.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpioreg"
	"periph.io/x/host/v3"
)

const nightlight = "/bin/nightlight"

// lab skips t outside the lab's guest.
func lab(t *testing.T) {
	t.Helper()
	if os.Getenv("NIGHTLIGHT_LAB") != "1" {
		t.Skip("runs inside the virtual Pi lab only: bash .ci/lab (as root), which CI runs as its own stage")
	}
}

// simFile is a file of the gpio-sim line GPIO5 (the LED) or GPIO6.
func simFile(t *testing.T, line int, name string) string {
	t.Helper()
	return filepath.Join(os.Getenv("NIGHTLIGHT_LAB_SIM"), fmt.Sprintf("sim_gpio%d", line), name)
}

// led reads the LED's line as the pin drives it.
func led(t *testing.T) int {
	t.Helper()
	b, err := os.ReadFile(simFile(t, 5, "value"))
	if err != nil {
		t.Fatal(err)
	}
	return int(bytes.TrimSpace(b)[0] - '0')
}

// setLED sets the LED line's level from outside, as the last program left
// it (a released gpio-sim line keeps its value in the lab, as on a Pi).
func setLED(t *testing.T, v int) {
	t.Helper()
	pull := "pull-down"
	if v == 1 {
		pull = "pull-up"
	}
	if err := os.WriteFile(simFile(t, 5, "pull"), []byte(pull), 0); err != nil {
		t.Fatal(err)
	}
	if got := led(t); got != v {
		t.Fatalf("LED line reads %d after setting its pull for %d: is it still requested by a program?", got, v)
	}
}

// waitLED waits up to d for the LED line to read v and says how long it took.
func waitLED(t *testing.T, v int, d time.Duration, why string) time.Duration {
	t.Helper()
	start := time.Now()
	for led(t) != v {
		if time.Since(start) > d {
			t.Fatalf("%s: the LED line stayed %d for %s, want %d", why, 1-v, d, v)
		}
		time.Sleep(time.Millisecond)
	}
	return time.Since(start)
}

// ctlT sends a control command to the emulated bus.
func ctlT(t *testing.T, cmd string) string {
	t.Helper()
	out, err := control(defaultSocket, cmd)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// reset puts the emulated bus back as a freshly powered hat and ADS1115
// would be: a Grove Base Hat RPi at 0x04, light 500, no faults.
func reset(t *testing.T) {
	t.Helper()
	for _, c := range []string{"absent off", "fail 0 0", "product 4", "hat-addr 4", "mm32 off", "light 500"} {
		ctlT(t, c)
	}
}

// run runs nightlight with args and returns its output and exit status.
func run(t *testing.T, args ...string) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, nightlight, args...)
	out, err := cmd.CombinedOutput()
	code := 0
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			t.Fatalf("nightlight %s: %v", strings.Join(args, " "), err)
		}
		code = ee.ExitCode()
	}
	t.Logf("$ nightlight %s  (exit %d)\n%s", strings.Join(args, " "), code, out)
	return string(out), code
}

// mustRun runs nightlight and fails t unless it exits 0 printing want.
func mustRun(t *testing.T, want string, args ...string) string {
	t.Helper()
	out, code := run(t, args...)
	if code != 0 || !strings.Contains(out, want) {
		t.Fatalf("nightlight %s: exit %d, output %q; want exit 0 and %q", strings.Join(args, " "), code, out, want)
	}
	return out
}

// mustFail runs nightlight and fails t unless it exits 1 with a message
// matching re.
func mustFail(t *testing.T, re string, args ...string) {
	t.Helper()
	out, code := run(t, args...)
	if code != 1 || !regexp.MustCompile(re).MatchString(out) {
		t.Fatalf("nightlight %s: exit %d, output %q; want exit 1 and a message matching %q", strings.Join(args, " "), code, out, re)
	}
}

// daemon is a running nightlight daemon with its log.
type daemon struct {
	t     *testing.T
	state string // its state_dir
	cmd   *exec.Cmd
	mu    sync.Mutex
	log   bytes.Buffer
	done  chan struct{}
	err   error
}

func (d *daemon) Write(p []byte) (int, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.log.Write(p)
}

// startDaemon starts `nightlight run` with no broker to reach (the offline
// fallback takes over after a second) and stdin on /dev/null, as systemd
// starts it, and waits until it samples.
func startDaemon(t *testing.T, args ...string) *daemon {
	t.Helper()
	state := t.TempDir()
	args = append([]string{"run", "--broker", "tcp://127.0.0.1:1", "--fallback-after", "1s",
		"--state-dir", state}, args...)
	d := &daemon{t: t, state: state, done: make(chan struct{})}
	d.cmd = exec.Command(nightlight, args...)
	d.cmd.Stdout, d.cmd.Stderr = d, d
	null, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer null.Close()
	d.cmd.Stdin = null
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		d.err = d.cmd.Wait()
		close(d.done)
	}()
	t.Cleanup(func() {
		d.cmd.Process.Kill()
		<-d.done
		t.Logf("daemon log:\n%s", d.logText())
	})
	d.waitLog(`msg=sampling`, 15*time.Second)
	return d
}

func (d *daemon) logText() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.log.String()
}

// waitLog waits up to within for a line of the daemon's log matching re and
// returns it.
func (d *daemon) waitLog(re string, within time.Duration) string {
	d.t.Helper()
	rx := regexp.MustCompile(re)
	deadline := time.Now().Add(within)
	for {
		for _, l := range strings.Split(d.logText(), "\n") {
			if rx.MatchString(l) {
				return l
			}
		}
		select {
		case <-d.done:
			d.t.Fatalf("the daemon exited (%v) before logging %q:\n%s", d.err, re, d.logText())
		default:
		}
		if time.Now().After(deadline) {
			d.t.Fatalf("the daemon did not log %q within %s:\n%s", re, within, d.logText())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// stdin is what the daemon's fd 0 points at.
func (d *daemon) stdin() string {
	d.t.Helper()
	s, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/0", d.cmd.Process.Pid))
	if err != nil {
		d.t.Fatalf("fd 0 of the daemon: %v", err)
	}
	return s
}

// stop sends SIGTERM and waits for a clean exit.
func (d *daemon) stop() {
	d.t.Helper()
	d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.done:
	case <-time.After(15 * time.Second):
		d.t.Fatal("the daemon did not stop within 15s of SIGTERM")
	}
	if d.err != nil {
		d.t.Fatalf("the daemon's exit after SIGTERM: %v", d.err)
	}
}

// kinds are the two real configurations: the hat polled, the ADS1115 on
// alert, as their defaults have them.
var kinds = []struct {
	name  string
	read  []string // flags of read and led
	run   []string // flags of the daemon
	alert bool
}{
	{"grovehat", []string{"--hardware", "grovehat"}, []string{"--hardware", "grovehat", "--sample-every", "50ms"}, false},
	{"ads1115", []string{"--hardware", "ads1115"}, []string{"--hardware", "ads1115", "--alert-pin", "GPIO6", "--interval", "1h"}, true},
}

// args is a command with flags: cmd first, then the kind's flags, then more.
func args(cmd string, flags []string, more ...string) []string {
	return append(append([]string{cmd}, flags...), more...)
}

// TestRead: read prints the emulated level, and --verbose what the chip
// answers.
func TestRead(t *testing.T) {
	lab(t)
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			reset(t)
			for _, level := range []int{640, 100, 800} {
				ctlT(t, fmt.Sprintf("light %d", level))
				// One read per sample: each read is its own conversion, and
				// must be this light's, not the previous one's.
				mustRun(t, fmt.Sprintf("light: %d\n", level), args("read", k.read, "--samples", "1")...)
			}
			out := mustRun(t, "light:      800", args("read", k.read, "--verbose")...)
			t.Logf("bus transactions so far: %s", ctlT(t, "txs"))
			if k.name == "grovehat" && (!strings.Contains(out, "product id: 0x0004") || !strings.Contains(out, "millivolts: 2640")) {
				t.Errorf("read --verbose: %q lacks the hat's product id or voltage", out)
			}
			if k.name == "ads1115" && !strings.Contains(out, "addr:       0x48") {
				t.Errorf("read --verbose: %q lacks the ADS1115's address", out)
			}
		})
	}
}

// TestLED: led on|off moves the gpio-sim line, and the level stays after
// the command exits.
func TestLED(t *testing.T) {
	lab(t)
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			reset(t)
			setLED(t, 0)
			mustRun(t, "LED on", args("led", k.read, "on")...)
			if v := led(t); v != 1 {
				t.Fatalf("after led on the line reads %d", v)
			}
			mustRun(t, "LED off", args("led", k.read, "off")...)
			if v := led(t); v != 0 {
				t.Fatalf("after led off the line reads %d", v)
			}
		})
	}
}

// TestFallback: with no broker the daemon applies the threshold itself and
// the LED follows the light 100 -> 800 -> 100; SIGTERM leaves it low.
func TestFallback(t *testing.T) {
	lab(t)
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			reset(t)
			setLED(t, 0)
			ctlT(t, "light 100")
			d := startDaemon(t, k.run...)
			waitLED(t, 1, 20*time.Second, "light 100, offline fallback")
			d.waitLog(`msg=LED .*led_on=true source=fallback`, 5*time.Second)
			ctlT(t, "light 800")
			waitLED(t, 0, 10*time.Second, "light 800")
			ctlT(t, "light 100")
			waitLED(t, 1, 10*time.Second, "light 100 again")
			d.stop()
			if v := led(t); v != 0 {
				t.Fatalf("after SIGTERM the LED line reads %d, want 0 (the daemon leaves it off)", v)
			}
		})
	}
}

// TestAlertWakes: the ADS1115's ALERT/RDY, through the gpio-sim line GPIO6,
// wakes the daemon, whose heartbeat is an hour away. The time from the
// emulated change to the LED line (the daemon, offline, samples on the
// alert and applies the threshold at once) and to the daemon's log of the
// published reading (which publish_gap may hold back up to 500 ms after the
// previous one) is measured here and reported, not asserted.
func TestAlertWakes(t *testing.T) {
	lab(t)
	k := kinds[1]
	reset(t)
	setLED(t, 0)
	ctlT(t, "light 800")
	d := startDaemon(t, k.run...)
	d.waitLog(`msg=LED .*led_on=false source=fallback`, 20*time.Second)
	for i, level := range []int{100, 800, 100} {
		want := 0
		if level < 300 {
			want = 1
		}
		before := strings.Count(d.logText(), fmt.Sprintf("msg=reading component=device light=%d ", level))
		start := time.Now()
		ctlT(t, fmt.Sprintf("light %d", level))
		toLED := waitLED(t, want, 10*time.Second, fmt.Sprintf("light %d on alert", level))
		line := d.waitLogN(fmt.Sprintf("msg=reading component=device light=%d ", level), before+1, 5*time.Second)
		toReading := "unknown"
		if ts, err := logTime(line); err == nil {
			toReading = ts.Sub(start).Round(100 * time.Microsecond).String()
		}
		fmt.Printf("NIGHTLIGHT-LAB MEASURE alert change %d (light %d): to the LED line %s, to the published reading %s\n",
			i+1, level, toLED.Round(100*time.Microsecond), toReading)
	}
	d.stop()
}

// logTime is the time= of a daemon's log line.
func logTime(line string) (time.Time, error) {
	m := regexp.MustCompile(`time=(\S+)`).FindStringSubmatch(line)
	if m == nil {
		return time.Time{}, fmt.Errorf("no time= in %q", line)
	}
	return time.Parse(time.RFC3339Nano, m[1])
}

// waitLogN waits for the n-th line of the daemon's log containing s.
func (d *daemon) waitLogN(s string, n int, within time.Duration) string {
	d.t.Helper()
	deadline := time.Now().Add(within)
	for {
		seen := 0
		for _, l := range strings.Split(d.logText(), "\n") {
			if strings.Contains(l, s) {
				if seen++; seen == n {
					return l
				}
			}
		}
		if time.Now().After(deadline) {
			d.t.Fatalf("the daemon did not log %q %d times within %s", s, n, within)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestReload: SIGHUP restarts the device in-process; the LED stays as it
// was and keeps following the light, and on alert the new run's watcher gets
// the edges.
func TestReload(t *testing.T) {
	lab(t)
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			reset(t)
			setLED(t, 0)
			ctlT(t, "light 100")
			d := startDaemon(t, k.run...)
			waitLED(t, 1, 20*time.Second, "light 100 before the reload")
			d.cmd.Process.Signal(syscall.SIGHUP)
			d.waitLog(`msg=reloading`, 5*time.Second)
			d.waitLogN(`msg=sampling`, 2, 10*time.Second)
			if v := led(t); v != 1 {
				t.Fatalf("after the reload the LED line reads %d, want 1 as before", v)
			}
			ctlT(t, "light 800")
			waitLED(t, 0, 10*time.Second, "light 800 after the reload")
			ctlT(t, "light 100")
			waitLED(t, 1, 10*time.Second, "light 100 after the reload")
			d.stop()
			if v := led(t); v != 0 {
				t.Fatalf("after SIGTERM the LED line reads %d, want 0", v)
			}
		})
	}
}

// TestFailures: each failure a user can meet says what it is.
func TestFailures(t *testing.T) {
	lab(t)
	hat := kinds[0].read
	t.Run("no hat at either address", func(t *testing.T) {
		reset(t)
		ctlT(t, "absent on")
		mustFail(t, `Grove Base Hat on I2C bus 1: nothing answers at 0x04 or 0x08: seat the hat`, args("read", hat)...)
	})
	t.Run("wrong product id", func(t *testing.T) {
		reset(t)
		ctlT(t, "product 0x0007")
		mustFail(t, `not a Grove Base Hat: device at 0x04 answers product id 0x0007`, args("read", hat)...)
	})
	t.Run("hat at 0x08", func(t *testing.T) {
		reset(t)
		ctlT(t, "hat-addr 8")
		ctlT(t, "light 320")
		mustRun(t, "light: 320\n", args("read", hat)...)
		mustRun(t, "addr:       0x08", args("read", hat, "--verbose")...)
	})
	t.Run("bus error mid-read", func(t *testing.T) {
		reset(t)
		// Let the probe of the product id and firmware through (two reads
		// of two transfers each), then fail every transfer.
		ctlT(t, "fail 4 100")
		mustFail(t, `3 of 3 reads failed: grovehat: read A0 ratio: .*input/output error`, args("read", hat)...)
	})
	t.Run("ads1115 absent", func(t *testing.T) {
		reset(t)
		ctlT(t, "absent on")
		mustFail(t, `ADS1115 on I2C bus 1: nothing answers at 0x48`, args("read", kinds[1].read)...)
	})
	t.Run("pin held by another program", func(t *testing.T) {
		reset(t)
		release := holdLine(t, "GPIO5")
		defer release()
		mustFail(t, `LED pin GPIO5: taken by another program`, args("led", hat, "on")...)
	})
}

// holdLine requests a GPIO line as an output in this process, as another
// program on the Pi would, and returns what gives it back.
func holdLine(t *testing.T, name string) func() {
	t.Helper()
	if _, err := host.Init(); err != nil {
		t.Fatal(err)
	}
	p := gpioreg.ByName(name)
	if p == nil {
		t.Fatalf("no line %s", name)
	}
	if err := p.Out(gpio.Low); err != nil {
		t.Fatalf("request %s: %v", name, err)
	}
	c, ok := p.(interface{ Close() })
	if !ok {
		t.Fatalf("%s (%T) cannot be given back", name, p)
	}
	return c.Close
}

// TestMM32: a hat at 0x08 that takes the register byte of a combined
// transfer only once the transfer ends, as the MM32 boards may, reads as
// grove.py reads it.
func TestMM32(t *testing.T) {
	lab(t)
	reset(t)
	ctlT(t, "hat-addr 8")
	ctlT(t, "mm32 on")
	for _, level := range []int{320, 700} {
		ctlT(t, fmt.Sprintf("light %d", level))
		mustRun(t, fmt.Sprintf("light: %d\n", level), args("read", kinds[0].read, "--samples", "1")...)
	}
	out := mustRun(t, "product id: 0x0004", args("read", kinds[0].read, "--verbose")...)
	if !strings.Contains(out, "millivolts: 2310") || !strings.Contains(out, "raw:        2867") {
		t.Fatalf("read --verbose of the MM32 hat: %q, want millivolts 2310 and raw 2867 for light 700", out)
	}
}

// TestBesideDaemon: read beside the running daemon reads the sensor and
// leaves the daemon's LED alone; led beside it is refused; and the daemon's
// stdin is still /dev/null, also with Raspberry Pi OS's /dev/gpiochip4 ->
// gpiochip0 symlink, which makes periph find one chip twice.
func TestBesideDaemon(t *testing.T) {
	lab(t)
	for _, symlink := range []bool{false, true} {
		name := "plain"
		if symlink {
			name = "gpiochip4 symlink"
		}
		t.Run(name, func(t *testing.T) {
			reset(t)
			setLED(t, 0)
			if symlink {
				if err := os.Symlink("gpiochip0", "/dev/gpiochip4"); err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { os.Remove("/dev/gpiochip4") })
			}
			ctlT(t, "light 100")
			d := startDaemon(t, kinds[0].run...)
			waitLED(t, 1, 20*time.Second, "light 100, offline fallback")
			if in := d.stdin(); in != os.DevNull {
				t.Fatalf("the daemon's fd 0 points at %s, not %s: host initialisation closed or reused it", in, os.DevNull)
			}
			mustRun(t, "light: 100\n", args("read", kinds[0].read)...)
			mustRun(t, "light:      100", args("read", kinds[0].read, "--verbose")...)
			time.Sleep(300 * time.Millisecond) // a few of the daemon's samples
			if v := led(t); v != 1 {
				t.Fatalf("after read beside the daemon the LED line reads %d, want 1 as the daemon set it", v)
			}
			mustFail(t, `the nightlight daemon is running`, args("led", kinds[0].read, "--state-dir", d.state, "off")...)
			if v := led(t); v != 1 {
				t.Fatalf("after a refused led off the LED line reads %d, want 1", v)
			}
			if in := d.stdin(); in != os.DevNull {
				t.Fatalf("the daemon's fd 0 points at %s, not %s: host initialisation closed or reused it", in, os.DevNull)
			}
			// The daemon still drives its LED.
			ctlT(t, "light 800")
			waitLED(t, 0, 10*time.Second, "light 800 after read beside the daemon")
			d.stop()
		})
	}
}

// TestUdevRule: the package's udev rule (lib/udev/rules.d of the .deb),
// applied by udevadm to the guest's real devices (the gpio-sim chip and an
// i2c-stub adapter through i2c-dev), lets the service's user, in the groups
// the package's sysusers.d file names, open /dev/gpiochip0 and /dev/i2c-0;
// as devtmpfs made them (root only), it cannot.
func TestUdevRule(t *testing.T) {
	lab(t)
	uid, groups := sysusers(t, "/etc/nightlight.sysusers")
	for _, dev := range []struct{ node, sys, group string }{
		{"/dev/gpiochip0", "/sys/bus/gpio/devices/gpiochip0", "gpio"},
		{"/dev/i2c-0", "/sys/class/i2c-dev/i2c-0", "i2c"},
	} {
		t.Run(filepath.Base(dev.node), func(t *testing.T) {
			var st syscall.Stat_t
			if err := syscall.Stat(dev.node, &st); err != nil {
				t.Fatal(err)
			}
			if st.Mode&0o077 != 0 || st.Gid != 0 {
				t.Fatalf("%s before the rule: mode %o gid %d, want root's alone as devtmpfs makes it", dev.node, st.Mode&0o777, st.Gid)
			}
			if err := openAs(dev.node, uid, groups); !errors.Is(err, syscall.EACCES) {
				t.Fatalf("the service's user opening %s before the rule: %v, want permission denied", dev.node, err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			out, err := exec.CommandContext(ctx, "/bin/udevadm", "test", "--action=add", dev.sys).CombinedOutput()
			if err != nil {
				t.Fatalf("udevadm test %s: %v\n%s", dev.sys, err, out)
			}
			if err := syscall.Stat(dev.node, &st); err != nil {
				t.Fatal(err)
			}
			if st.Mode&0o777 != 0o660 || st.Gid != groups[dev.group] {
				t.Fatalf("%s after the rule: mode %o gid %d, want 660 and group %s (%d)\n%s", dev.node, st.Mode&0o777, st.Gid, dev.group, groups[dev.group], out)
			}
			if err := openAs(dev.node, uid, groups); err != nil {
				t.Fatalf("the service's user opening %s after the rule: %v", dev.node, err)
			}
		})
	}
}

// sysusers makes the user and groups a sysusers.d file names ("u NAME" and
// "m NAME GROUP" lines) in /etc/passwd and /etc/group, as systemd-sysusers
// would, and returns the user's uid and the groups' ids.
func sysusers(t *testing.T, path string) (uint32, map[string]uint32) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var user string
	groups := map[string]uint32{}
	next := uint32(990)
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) >= 2 && f[0] == "u":
			user = f[1]
		case len(f) >= 3 && f[0] == "m":
			groups[f[2]] = next
			next++
		}
	}
	if user == "" || len(groups) == 0 {
		t.Fatalf("%s names no user or no groups:\n%s", path, b)
	}
	const uid = 999
	passwd := fmt.Sprintf("root:x:0:0:root:/:/bin/sh\n%s:x:%d:%d::/nonexistent:/bin/false\n", user, uid, uid)
	group := fmt.Sprintf("root:x:0:\n%s:x:%d:\n", user, uid)
	for g, id := range groups {
		group += fmt.Sprintf("%s:x:%d:%s\n", g, id, user)
	}
	if err := os.WriteFile("/etc/passwd", []byte(passwd), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile("/etc/group", []byte(group), 0o644); err != nil {
		t.Fatal(err)
	}
	return uid, groups
}

// openAs opens path read-write in a child process running as uid with the
// given groups, and returns the child's error.
func openAs(path string, uid uint32, groups map[string]uint32) error {
	var gids []uint32
	for _, g := range groups {
		gids = append(gids, g)
	}
	cmd := exec.Command("/bin/sh", "-c", `exec 3<>"$1" || exit 13`, "sh", path)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uid, Gid: uid, Groups: gids}}
	out, err := cmd.CombinedOutput()
	if err == nil {
		return nil
	}
	if strings.Contains(string(out), "Permission denied") {
		return fmt.Errorf("%s: %w", strings.TrimSpace(string(out)), syscall.EACCES)
	}
	return fmt.Errorf("%v: %s", err, strings.TrimSpace(string(out)))
}
