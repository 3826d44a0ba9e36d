package systemd

import (
	"context"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"sync"

	"github.com/coreos/go-systemd/v22/journal"
)

// Syslog priorities as journald reads them from a "<N>" line prefix
// (sd-daemon(3)); journalctl -p filters on them.
const (
	prioError   = 3
	prioWarning = 4
	prioInfo    = 6
	prioDebug   = 7
)

// UnderJournal reports whether stderr is connected to journald: systemd sets
// JOURNAL_STREAM to the device and inode of the stream it hands the service,
// and only a match with stderr's own proves that stderr still goes there
// (a shell started from the service inherits the variable, not the stream).
func UnderJournal() bool {
	ok, err := journal.StderrIsJournalStream()
	return err == nil && ok
}

// NewLogger returns the daemon's logger writing to w (normally os.Stderr):
// under journald a JournalHandler, so records carry their priority and no
// timestamp of their own; elsewhere slog's text handler.
func NewLogger(w io.Writer, level slog.Level) *slog.Logger {
	opts := &slog.HandlerOptions{Level: level}
	if UnderJournal() {
		return slog.New(NewJournalHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// Priority is the syslog priority of a slog level: errors 3, warnings 4,
// info 6, debug 7. Levels between slog's named ones round down in severity
// to the named level below them (INFO+2 is still info).
func Priority(l slog.Level) int {
	switch {
	case l >= slog.LevelError:
		return prioError
	case l >= slog.LevelWarn:
		return prioWarning
	case l >= slog.LevelInfo:
		return prioInfo
	default:
		return prioDebug
	}
}

// JournalHandler writes one line per record for journald's stream
// transport: "<N>message key=value ...", where N is the record's syslog
// priority. It leaves out the time (journald stamps every line) and the level
// (N is the level); attributes are formatted and quoted as slog's
// TextHandler does. Newlines in the message are escaped so that one record
// stays one journal entry.
type JournalHandler struct {
	out   *journalLine
	inner slog.Handler
}

// journalLine is shared by a handler and those derived from it with
// WithAttrs and WithGroup, so that their lines never interleave.
type journalLine struct {
	mu     sync.Mutex
	w      io.Writer
	prefix []byte // "<N>message", set by Handle just before the inner handler writes
}

// Write receives the attributes of one record from the inner TextHandler,
// which makes exactly one Write per record (its documented behaviour).
func (o *journalLine) Write(p []byte) (int, error) {
	buf := make([]byte, 0, len(o.prefix)+1+len(p))
	buf = append(buf, o.prefix...)
	if attrs := strings.TrimRight(string(p), "\n"); attrs != "" {
		buf = append(buf, ' ')
		buf = append(buf, attrs...)
	}
	buf = append(buf, '\n')
	if _, err := o.w.Write(buf); err != nil {
		return 0, err
	}
	return len(p), nil
}

// NewJournalHandler returns a JournalHandler writing to w. opts may be nil;
// its ReplaceAttr, if any, sees every attribute except the time, level and
// message, which the handler places itself.
func NewJournalHandler(w io.Writer, opts *slog.HandlerOptions) *JournalHandler {
	var o slog.HandlerOptions
	if opts != nil {
		o = *opts
	}
	user := o.ReplaceAttr
	o.ReplaceAttr = func(groups []string, a slog.Attr) slog.Attr {
		if len(groups) == 0 {
			switch a.Key {
			case slog.TimeKey, slog.LevelKey, slog.MessageKey:
				return slog.Attr{}
			}
		}
		if user != nil {
			return user(groups, a)
		}
		return a
	}
	out := &journalLine{w: w}
	return &JournalHandler{out: out, inner: slog.NewTextHandler(out, &o)}
}

// Enabled implements slog.Handler.
func (h *JournalHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.inner.Enabled(ctx, l)
}

// Handle implements slog.Handler.
func (h *JournalHandler) Handle(ctx context.Context, r slog.Record) error {
	h.out.mu.Lock()
	defer h.out.mu.Unlock()
	prefix := make([]byte, 0, 8+len(r.Message))
	prefix = append(prefix, '<')
	prefix = strconv.AppendInt(prefix, int64(Priority(r.Level)), 10)
	prefix = append(prefix, '>')
	prefix = append(prefix, escapeMessage(r.Message)...)
	h.out.prefix = prefix
	return h.inner.Handle(ctx, r)
}

// WithAttrs implements slog.Handler.
func (h *JournalHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return &JournalHandler{out: h.out, inner: h.inner.WithAttrs(as)}
}

// WithGroup implements slog.Handler.
func (h *JournalHandler) WithGroup(name string) slog.Handler {
	return &JournalHandler{out: h.out, inner: h.inner.WithGroup(name)}
}

var messageEscaper = strings.NewReplacer("\n", `\n`, "\r", `\r`)

func escapeMessage(s string) string {
	if !strings.ContainsAny(s, "\n\r") {
		return s
	}
	return messageEscaper.Replace(s)
}
