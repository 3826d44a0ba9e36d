package systemd

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
)

func TestJournalHandler(t *testing.T) {
	tests := []struct {
		name string
		log  func(l *slog.Logger)
		want string
	}{
		{"debug", func(l *slog.Logger) { l.Debug("sampled", "light", 412) }, "<7>sampled light=412\n"},
		{"info", func(l *slog.Logger) { l.Info("connected", "broker", "tcp://127.0.0.1:1883") }, "<6>connected broker=tcp://127.0.0.1:1883\n"},
		{"warn", func(l *slog.Logger) { l.Warn("broker unreachable", "err", errors.New("connection refused")) }, "<4>broker unreachable err=\"connection refused\"\n"},
		{"error", func(l *slog.Logger) { l.Error("outbox full") }, "<3>outbox full\n"},
		{"above error", func(l *slog.Logger) { l.Log(nil, slog.LevelError+4, "worse") }, "<3>worse\n"},
		{"between info and warn", func(l *slog.Logger) { l.Log(nil, slog.LevelInfo+2, "notice") }, "<6>notice\n"},
		{"below debug", func(l *slog.Logger) { l.Log(nil, slog.LevelDebug-4, "trace") }, "<7>trace\n"},
		{"newline in message", func(l *slog.Logger) { l.Info("two\nlines") }, "<6>two\\nlines\n"},
		{"newline in value", func(l *slog.Logger) { l.Info("bad payload", "payload", "a\nb") }, "<6>bad payload payload=\"a\\nb\"\n"},
		{"with attrs", func(l *slog.Logger) { l.With("component", "outbox").Warn("torn tail", "lost", 2) }, "<4>torn tail component=outbox lost=2\n"},
		{"with group", func(l *slog.Logger) { l.WithGroup("mqtt").Info("sent", "qos", 1) }, "<6>sent mqtt.qos=1\n"},
		{"group attr", func(l *slog.Logger) { l.Info("state", slog.Group("led", "on", true)) }, "<6>state led.on=true\n"},
		{"user keys time and level are not the record's", func(l *slog.Logger) { l.Info("x", slog.Group("g", "time", 1, "level", 2)) }, "<6>x g.time=1 g.level=2\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			tt.log(slog.New(NewJournalHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug - 4})))
			if got := buf.String(); got != tt.want {
				t.Errorf("got  %q\nwant %q", got, tt.want)
			}
		})
	}
}

func TestJournalHandlerLevel(t *testing.T) {
	var buf bytes.Buffer
	l := slog.New(NewJournalHandler(&buf, &slog.HandlerOptions{Level: slog.LevelWarn}))
	l.Info("dropped")
	l.Warn("kept")
	if got := buf.String(); got != "<4>kept\n" {
		t.Errorf("got %q", got)
	}
}

// TestJournalHandlerConcurrent checks that derived handlers share one lock:
// every line is whole and carries its own priority.
func TestJournalHandlerConcurrent(t *testing.T) {
	var buf bytes.Buffer
	root := slog.New(NewJournalHandler(&buf, nil))
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l := root.With("g", g)
			for i := 0; i < 100; i++ {
				if i%2 == 0 {
					l.Warn("w", "i", i)
				} else {
					l.Info("i", "i", i)
				}
			}
		}()
	}
	wg.Wait()
	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	if len(lines) != 800 {
		t.Fatalf("%d lines, want 800", len(lines))
	}
	for _, line := range lines {
		if !strings.HasPrefix(line, "<4>w g=") && !strings.HasPrefix(line, "<6>i g=") {
			t.Fatalf("mixed-up line %q", line)
		}
	}
}

func TestUnderJournal(t *testing.T) {
	var st syscall.Stat_t
	if err := syscall.Fstat(int(os.Stderr.Fd()), &st); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		stream string
		want   bool
	}{
		{"", false},
		{fmt.Sprintf("%d:%d", st.Dev, st.Ino), true},
		{fmt.Sprintf("%d:%d", st.Dev, st.Ino+1), false},
		{"garbage", false},
	}
	for _, tt := range tests {
		t.Setenv("JOURNAL_STREAM", tt.stream)
		if got := UnderJournal(); got != tt.want {
			t.Errorf("JOURNAL_STREAM=%q: UnderJournal() = %v, want %v", tt.stream, got, tt.want)
		}
	}
}

func TestNewLoggerPicksHandler(t *testing.T) {
	var st syscall.Stat_t
	if err := syscall.Fstat(int(os.Stderr.Fd()), &st); err != nil {
		t.Fatal(err)
	}

	t.Setenv("JOURNAL_STREAM", fmt.Sprintf("%d:%d", st.Dev, st.Ino))
	var buf bytes.Buffer
	NewLogger(&buf, slog.LevelInfo).Warn("hello", "k", "v")
	if got := buf.String(); got != "<4>hello k=v\n" {
		t.Errorf("under journald: got %q", got)
	}

	t.Setenv("JOURNAL_STREAM", "")
	buf.Reset()
	NewLogger(&buf, slog.LevelInfo).Warn("hello", "k", "v")
	got := buf.String()
	if !strings.HasPrefix(got, "time=") || !strings.HasSuffix(got, " level=WARN msg=hello k=v\n") {
		t.Errorf("on a terminal: got %q, want slog's text format", got)
	}
}
