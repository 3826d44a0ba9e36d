// Package systemd is how the nightlight daemons talk to the service manager
// and the journal.
//
// Notifier sends sd_notify(3) messages through github.com/coreos/go-systemd's
// daemon package: READY=1 once the daemon can do its work, STATUS= lines that
// follow its state, WATCHDOG=1 pings from the main loop, RELOADING=1/READY=1
// around a SIGHUP reload and STOPPING=1 on shutdown. Outside systemd (no
// NOTIFY_SOCKET) every method is a no-op, so the daemon calls them
// unconditionally.
//
// NewLogger picks a log/slog handler: under journald each line starts with
// the syslog priority as "<N>" (sd-daemon(3)), so journalctl -p filters and
// colours records by level; elsewhere it is slog's text handler.
//
// The unit files that go with this package live beside it in this directory.
package systemd
