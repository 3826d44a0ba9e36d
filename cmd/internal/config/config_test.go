package config

import (
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

type testSettings struct {
	Broker   string
	Interval time.Duration
	StateDir string
	Verbose  bool
}

func testSpec(t *testing.T, s *testSettings, env map[string]string, fileText *string) Spec {
	t.Helper()
	dir := t.TempDir()
	def := filepath.Join(dir, "default.yaml")
	if fileText != nil {
		if err := os.WriteFile(def, []byte(*fileText), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return Spec{
		Name:        "test",
		EnvPrefix:   "NL_",
		DefaultFile: def,
		Output:      io.Discard,
		Getenv:      func(k string) string { return env[k] },
		Bind: func(fs *flag.FlagSet) {
			fs.StringVar(&s.Broker, "broker", "tcp://default:1883", "")
			fs.DurationVar(&s.Interval, "interval", 5*time.Second, "")
			fs.StringVar(&s.StateDir, "state-dir", "/var/lib/x", "")
			fs.BoolVar(&s.Verbose, "verbose", false, "")
		},
	}
}

func ptr(s string) *string { return &s }

func TestPrecedence(t *testing.T) {
	file := "broker: tcp://file:1883\ninterval: 7s\nstate_dir: /from/file\n"
	env := map[string]string{"NL_INTERVAL": "9s", "NL_STATE_DIR": "/from/env"}
	var s testSettings
	spec := testSpec(t, &s, env, &file)
	l, err := spec.Load([]string{"--state-dir", "/from/flag"})
	if err != nil {
		t.Fatal(err)
	}
	if s.Broker != "tcp://file:1883" || s.Interval != 9*time.Second || s.StateDir != "/from/flag" || s.Verbose {
		t.Fatalf("got %+v: want broker from file, interval from env, state dir from flag, verbose default", s)
	}
	for key, want := range map[string]string{
		"broker":    "config file " + spec.DefaultFile + " line 1",
		"interval":  "environment NL_INTERVAL",
		"state-dir": "flag --state-dir",
		"verbose":   "default",
	} {
		if got := l.Origin(key); got != want {
			t.Errorf("Origin(%s) = %q, want %q", key, got, want)
		}
	}
}

func TestDefaultsWithoutFile(t *testing.T) {
	var s testSettings
	spec := testSpec(t, &s, nil, nil) // the default file does not exist: fine
	l, err := spec.Load(nil)
	if err != nil {
		t.Fatal(err)
	}
	if l.File != "" || s.Broker != "tcp://default:1883" || s.Interval != 5*time.Second {
		t.Fatalf("got %+v, file %q", s, l.File)
	}
}

func TestInterleavedArgs(t *testing.T) {
	var s testSettings
	spec := testSpec(t, &s, nil, nil)
	l, err := spec.Load([]string{"on", "--verbose", "extra", "--interval=1s"})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(l.Args, " ") != "on extra" || !s.Verbose || s.Interval != time.Second {
		t.Fatalf("args %q, settings %+v", l.Args, s)
	}
}

// TestErrors checks that every bad input is refused with the right kind of
// error (which decides the exit status) and a message that names the
// culprit and the fix.
func TestErrors(t *testing.T) {
	tests := []struct {
		name string
		file *string
		env  map[string]string
		args []string
		kind error // *Error or *UsageError
		want []string
	}{
		{"unknown key", ptr("intervall: 5s\n"), nil, nil, &Error{}, []string{"line 1", `unknown key "intervall"`, "did you mean interval?"}},
		{"unknown key far from any", ptr("colour: red\n"), nil, nil, &Error{}, []string{"known keys are broker, interval, state_dir, verbose"}},
		{"dashed key", ptr("state-dir: /x\n"), nil, nil, &Error{}, []string{`unknown key "state-dir"`, "did you mean state_dir?"}},
		{"bad value", ptr("broker: tcp://b:1883\ninterval: fast\n"), nil, nil, &Error{}, []string{"line 2", "interval", `"fast"`}},
		{"empty value", ptr("interval:\n"), nil, nil, &Error{}, []string{"line 1", "interval needs a single value", "interval: 5s"}},
		{"list value", ptr("broker:\n  - a\n  - b\n"), nil, nil, &Error{}, []string{"broker needs a single value"}},
		{"duplicate key", ptr("interval: 1s\ninterval: 2s\n"), nil, nil, &Error{}, []string{"line 2", "already set on line 1"}},
		{"not a mapping", ptr("- interval\n"), nil, nil, &Error{}, []string{"key: value"}},
		{"not YAML", ptr("interval: [1s\n"), nil, nil, &Error{}, []string{"not valid YAML"}},
		{"config key in file", ptr("config: /etc/other.yaml\n"), nil, nil, &Error{}, []string{`unknown key "config"`}},
		{"missing named file", nil, nil, []string{"--config", "/nonexistent/n.yaml"}, &Error{}, []string{"/nonexistent/n.yaml does not exist", "leave out --config"}},
		{"missing file named in env", nil, map[string]string{"NL_CONFIG": "/nonexistent/e.yaml"}, nil, &Error{}, []string{"/nonexistent/e.yaml does not exist"}},
		{"bad env", nil, map[string]string{"NL_INTERVAL": "soon"}, nil, &Error{}, []string{`environment NL_INTERVAL: "soon" is not valid`, "5s"}},
		{"unknown flag", nil, nil, []string{"--colour", "red"}, &UsageError{}, []string{"colour"}},
		{"bad flag value", nil, nil, []string{"--interval", "soon"}, &UsageError{}, []string{"soon"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var s testSettings
			spec := testSpec(t, &s, tt.env, tt.file)
			_, err := spec.Load(tt.args)
			if !isKind(err, tt.kind) {
				t.Fatalf("error %v (%T), want a %T", err, err, tt.kind)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
		})
	}
}

func TestHelp(t *testing.T) {
	var s testSettings
	spec := testSpec(t, &s, nil, nil)
	if _, err := spec.Load([]string{"--help"}); !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("--help: %v, want flag.ErrHelp", err)
	}
}

// isKind reports whether err is, or wraps, an error of kind's type and no
// error of the other kind: the exit status depends on which (cli.ExitCode).
func isKind(err, kind error) bool {
	var ue *UsageError
	var ce *Error
	isUsage, isConfig := errors.As(err, &ue), errors.As(err, &ce)
	switch kind.(type) {
	case *UsageError:
		return isUsage && !isConfig
	case *Error:
		return isConfig && !isUsage
	}
	return false
}
