package mqtttest

import (
	"bytes"
	"strings"
	"sync"
	"testing"
	"time"
)

// Log collects the log lines of programs under test: a destination for a
// slog handler or a child's output, safe for concurrent writers.
type Log struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *Log) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *Log) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// WaitFor waits until one line of the log holds every one of want, and
// returns it; the test fails with the whole log after timeout.
func (l *Log) WaitFor(t testing.TB, timeout time.Duration, want ...string) string {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		for _, line := range strings.Split(l.String(), "\n") {
			if containsAll(line, want) {
				return line
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no log line with %q within %s; log:\n%s", want, timeout, l.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// WaitCount waits until s is in the log at least n times, and returns how
// many times it is then; the test fails with the whole log after timeout.
func (l *Log) WaitCount(t testing.TB, timeout time.Duration, n int, s string) int {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		if got := strings.Count(l.String(), s); got >= n {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("%q is in the log %d times, not %d, after %s; log:\n%s", s, strings.Count(l.String(), s), n, timeout, l.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func containsAll(s string, want []string) bool {
	for _, w := range want {
		if !strings.Contains(s, w) {
			return false
		}
	}
	return true
}
