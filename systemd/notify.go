package systemd

import (
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"
)

// Notifier sends state changes to the service manager (sd_notify(3)).
// It is safe for concurrent use. The zero value and a Notifier made outside
// systemd are no-ops.
type Notifier struct {
	enabled  bool
	watchdog time.Duration // WATCHDOG_USEC; 0 when the unit has no WatchdogSec=

	mu         sync.Mutex
	lastStatus string
	statusSent bool
}

// NewNotifier reads NOTIFY_SOCKET and WATCHDOG_USEC (and WATCHDOG_PID) from
// the environment. Without NOTIFY_SOCKET every method is a no-op and
// WatchdogInterval is 0.
func NewNotifier() *Notifier {
	n := &Notifier{enabled: os.Getenv("NOTIFY_SOCKET") != ""}
	if !n.enabled {
		return n
	}
	// A malformed WATCHDOG_USEC is systemd's bug, not a reason to refuse to
	// start: run without pings and let the watchdog, if any, tell.
	if d, err := daemon.SdWatchdogEnabled(false); err == nil {
		n.watchdog = d
	}
	return n
}

// Enabled reports whether the process was started with a NOTIFY_SOCKET.
func (n *Notifier) Enabled() bool { return n != nil && n.enabled }

// Ready tells systemd that start-up (or a reload) is complete: the unit
// becomes active and "systemctl start" returns.
func (n *Notifier) Ready() error { return n.send(daemon.SdNotifyReady) }

// Status sets the one-line status shown by "systemctl status". It sends only
// when s differs from the last status sent, so a main loop may call it on
// every iteration. Newlines would end the line early in the notify protocol
// and are replaced by spaces.
func (n *Notifier) Status(s string) error {
	if !n.Enabled() {
		return nil
	}
	s = strings.NewReplacer("\r\n", " ", "\n", " ", "\r", " ").Replace(s)
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.statusSent && s == n.lastStatus {
		return nil
	}
	if err := n.sendLocked("STATUS=" + s); err != nil {
		return err
	}
	n.lastStatus, n.statusSent = s, true
	return nil
}

// Reloading tells systemd that a configuration reload has begun; call Ready
// when it is done. MONOTONIC_USEC goes with it because Type=notify-reload
// (systemd 253 and later) requires it; older versions ignore the field.
func (n *Notifier) Reloading() error {
	if !n.Enabled() {
		return nil
	}
	// SdNotifyMonotonicUsec returns "" if the clock cannot be read, and
	// "MONOTONIC_USEC=...\n" otherwise.
	return n.send(daemon.SdNotifyReloading + "\n" + daemon.SdNotifyMonotonicUsec())
}

// Stopping tells systemd that the process has begun to exit. Send it only
// then: systemd 252 answers STOPPING=1 by moving the unit to "deactivating"
// and waiting for the main process to exit, so a daemon that restarts its
// work in-process for a reload must not send it, or the reload ends in a
// stop timeout and SIGKILL.
func (n *Notifier) Stopping() error { return n.send(daemon.SdNotifyStopping) }

// Watchdog sends a keep-alive ping. Call it from the daemon's main loop,
// not from a goroutine of its own, so that a stuck loop stops the pings and
// systemd restarts the service.
func (n *Notifier) Watchdog() error {
	if n.WatchdogInterval() == 0 {
		return nil
	}
	return n.send(daemon.SdNotifyWatchdog)
}

// WatchdogInterval is how often to call Watchdog: half of WATCHDOG_USEC, as
// sd_watchdog_enabled(3) recommends. 0 means the watchdog is off.
func (n *Notifier) WatchdogInterval() time.Duration {
	if !n.Enabled() {
		return 0
	}
	return n.watchdog / 2
}

func (n *Notifier) send(state string) error {
	if !n.Enabled() {
		return nil
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.sendLocked(state)
}

// sendLocked holds n.mu so that messages reach systemd in the order the
// daemon made them (a STATUS must not overtake the READY before it).
func (n *Notifier) sendLocked(state string) error {
	if _, err := daemon.SdNotify(false, state); err != nil {
		name, _, _ := strings.Cut(state, "=")
		return fmt.Errorf("systemd: notify %s: %w", name, err)
	}
	return nil
}
