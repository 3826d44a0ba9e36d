// Package cli holds what both programs' mains share: the exit path, the
// logger, and flag types for the settings.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"

	"nightlight/cmd/internal/config"
	"nightlight/systemd"
)

// Exit statuses of the contract.
const (
	ExitOK     = 0
	ExitFail   = 1
	ExitUsage  = 2
	ExitConfig = 78 // EX_CONFIG: systemd's RestartPreventExitStatus keeps a typo from restart-looping
)

// ExitCode maps an error from loading or running to the contract's exit
// status: a config.UsageError is bad usage, a config.Error a bad
// configuration, anything else a runtime failure.
func ExitCode(err error) int {
	var ue *config.UsageError
	var ce *config.Error
	switch {
	case err == nil:
		return ExitOK
	case errors.As(err, &ue):
		return ExitUsage
	case errors.As(err, &ce):
		return ExitConfig
	}
	return ExitFail
}

// Exit prints err the way a person needs it and returns the exit status of
// the contract: 0 clean stop, 1 runtime failure, 2 bad usage, 78 bad
// configuration.
func Exit(prog string, err error, stderr io.Writer) int {
	if err == nil || errors.Is(err, flag.ErrHelp) {
		return ExitOK
	}
	code := ExitCode(err)
	prefix := ""
	if systemd.UnderJournal() {
		prefix = "<3>" // journald's priority "err", as for the daemon's own error records
	}
	fmt.Fprintf(stderr, "%s%s: %v\n", prefix, prog, err)
	if code == ExitUsage {
		fmt.Fprintf(stderr, "Run '%s --help' for usage.\n", prog)
	}
	return code
}

// SignalContext is cancelled by SIGINT or SIGTERM: a clean stop.
func SignalContext() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
}

// NewLogger logs text to w at the given level.
func NewLogger(w io.Writer, level slog.Level) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level}))
}

// Level is a log level setting: debug, info, warn or error.
type Level struct{ L *slog.Level }

func (v Level) String() string {
	if v.L == nil {
		return "info"
	}
	return strings.ToLower(v.L.String())
}

// Set parses a level.
func (v Level) Set(s string) error {
	switch strings.ToLower(s) {
	case "debug":
		*v.L = slog.LevelDebug
	case "info":
		*v.L = slog.LevelInfo
	case "warn", "warning":
		*v.L = slog.LevelWarn
	case "error":
		*v.L = slog.LevelError
	default:
		return fmt.Errorf("%q is not a log level: use debug, info, warn or error", s)
	}
	return nil
}

// Bool is a yes-or-no setting: true or false (and the other spellings of
// strconv.ParseBool), given as a value like every other setting:
// --homeassistant=false, or homeassistant: false in the file.
type Bool struct{ B *bool }

func (v Bool) String() string {
	if v.B == nil {
		return "false"
	}
	return strconv.FormatBool(*v.B)
}

// Set parses true or false.
func (v Bool) Set(s string) error {
	b, err := strconv.ParseBool(s)
	if err != nil {
		return fmt.Errorf("%q is neither true nor false: write true or false", s)
	}
	*v.B = b
	return nil
}

// CheckListen says what is wrong with a listen address (host:port, the
// port a number; empty means off), if anything.
func CheckListen(addr string) error {
	if addr == "" {
		return nil
	}
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%q is not host:port: write it as 127.0.0.1:9101, or leave it empty for none", addr)
	}
	if n, err := strconv.ParseUint(port, 10, 16); err != nil || n == 0 {
		return fmt.Errorf("%q: the port must be a number from 1 to 65535, as in 127.0.0.1:9101", addr)
	}
	return nil
}

// Hex16 is a 16-bit number setting that also reads 0x-prefixed hex, for I2C
// addresses; zero prints as "auto".
type Hex16 struct{ V *uint16 }

func (h Hex16) String() string {
	if h.V == nil || *h.V == 0 {
		return "auto"
	}
	return fmt.Sprintf("0x%02x", *h.V)
}

// Set parses "auto", "0x04" or "4".
func (h Hex16) Set(s string) error {
	if s == "auto" || s == "" {
		*h.V = 0
		return nil
	}
	n, err := strconv.ParseUint(s, 0, 16)
	if err != nil {
		return fmt.Errorf("%q is not an address: write auto, or a number such as 0x04", s)
	}
	*h.V = uint16(n)
	return nil
}
