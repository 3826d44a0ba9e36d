package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// child is a process the harness started and must stop.
type child struct {
	name string
	cmd  *exec.Cmd
	out  *tail
	done chan struct{} // closed when the process has exited
}

// startChild runs argv with the harness's environment minus NIGHTLIGHT_
// variables (so a setting of this shell cannot change what is measured).
// Its output is kept for error messages and also goes to also, if set. A
// slack above zero is the child's timer slack, as systemd's TimerSlackNSec
// gives it: every thread inherits it from the one that forked.
func startChild(name string, argv []string, also io.Writer, slack time.Duration) (*child, error) {
	c := &child{name: name, out: &tail{max: 64 << 10}, done: make(chan struct{})}
	c.cmd = exec.Command(argv[0], argv[1:]...)
	c.cmd.Env = hermeticEnv()
	var w io.Writer = c.out
	if also != nil {
		w = io.MultiWriter(c.out, also)
	}
	c.cmd.Stdout, c.cmd.Stderr = w, w
	if err := startWithSlack(c.cmd, slack); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	go func() { c.cmd.Wait(); close(c.done) }()
	return c, nil
}

// startWithSlack starts cmd from a thread whose timer slack is slack for
// the moment, which the child inherits (and keeps across exec).
func startWithSlack(cmd *exec.Cmd, slack time.Duration) error {
	if slack <= 0 {
		return cmd.Start()
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	old, err := unix.PrctlRetInt(unix.PR_GET_TIMERSLACK, 0, 0, 0, 0)
	if err != nil {
		return fmt.Errorf("read timer slack: %w", err)
	}
	if err := unix.Prctl(unix.PR_SET_TIMERSLACK, uintptr(slack.Nanoseconds()), 0, 0, 0); err != nil {
		return fmt.Errorf("set timer slack: %w", err)
	}
	defer unix.Prctl(unix.PR_SET_TIMERSLACK, uintptr(old), 0, 0, 0)
	return cmd.Start()
}

func hermeticEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "NIGHTLIGHT_") {
			env = append(env, kv)
		}
	}
	return env
}

func (c *child) pid() int { return c.cmd.Process.Pid }

func (c *child) exited() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// stop asks the process to stop (SIGTERM), kills it after 5 s, and waits
// at most 2 s more. Safe to call twice.
func (c *child) stop() {
	if c == nil || c.exited() {
		return
	}
	c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.done:
		return
	case <-time.After(5 * time.Second):
	}
	c.cmd.Process.Kill()
	select {
	case <-c.done:
	case <-time.After(2 * time.Second):
	}
}

// output is the end of what the process wrote, for error messages.
func (c *child) output() string {
	state := "running"
	if c.exited() {
		state = "exited: " + c.cmd.ProcessState.String()
	}
	return fmt.Sprintf("%s (%s), last output:\n%s", c.name, state, c.out.String())
}

// tail keeps the last max bytes written to it.
type tail struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if over := len(t.buf) - t.max; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
	}
	return len(p), nil
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.buf)
}

// lineWriter calls line for each complete line written to it, as it arrives.
type lineWriter struct {
	mu   sync.Mutex
	part []byte
	line func(string)
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.part = append(w.part, p...)
	for {
		i := bytes.IndexByte(w.part, '\n')
		if i < 0 {
			return len(p), nil
		}
		w.line(strings.TrimRight(string(w.part[:i]), "\r"))
		w.part = w.part[i+1:]
	}
}

// procUsage is what /proc says about a process at one moment.
type procUsage struct {
	cpu   time.Duration // time on a processor, summed over the threads alive
	rssKB int64         // VmRSS
	hwmKB int64         // VmHWM: peak resident set
}

// readUsage reads a process's CPU time from each thread's schedstat, in
// nanoseconds: /proc/PID/stat gives it in 10 ms ticks, too coarse for a
// daemon that uses a few ms a minute. A thread that exits is no longer
// counted; the daemons' threads, Go's and the lesson's paho loop, live as
// long as the process.
func readUsage(pid int) (procUsage, error) {
	var u procUsage
	tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	if err != nil {
		return u, err
	}
	for _, t := range tasks {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/schedstat", pid, t.Name()))
		if errors.Is(err, fs.ErrNotExist) {
			continue // exited meanwhile
		}
		if err != nil {
			return u, err
		}
		// Time on a processor (ns), time waiting to run (ns), time slices.
		f := strings.Fields(string(b))
		if len(f) != 3 {
			return u, fmt.Errorf("/proc/%d/task/%s/schedstat: unexpected format %q", pid, t.Name(), b)
		}
		ns, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			return u, fmt.Errorf("/proc/%d/task/%s/schedstat: %w", pid, t.Name(), err)
		}
		u.cpu += time.Duration(ns)
	}
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return u, err
	}
	for _, line := range strings.Split(string(status), "\n") {
		key, val, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(val), " kB"), 10, 64)
		switch key {
		case "VmRSS":
			u.rssKB = kb
		case "VmHWM":
			u.hwmKB = kb
		}
	}
	return u, nil
}
