package cli

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"strings"
	"testing"

	"nightlight/cmd/internal/config"
)

// TestExit checks the exit statuses of the contract and what a person sees.
func TestExit(t *testing.T) {
	t.Setenv("JOURNAL_STREAM", "") // plain messages, not journald's
	for _, tt := range []struct {
		name string
		err  error
		code int
		want []string
	}{
		{"clean stop", nil, 0, nil},
		{"help", flag.ErrHelp, 0, nil},
		{"runtime failure", errors.New("sensor gone"), 1, []string{"prog: sensor gone\n"}},
		{"bad usage", &config.UsageError{Err: errors.New("unknown command")}, 2, []string{"prog: unknown command\n", "Run 'prog --help' for usage."}},
		{"bad configuration", config.Errorf("interval: too short"), 78, []string{"prog: interval: too short\n"}},
		{"wrapped configuration", fmt.Errorf("reload: %w", config.Errorf("bad")), 78, []string{"prog: reload: bad\n"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			if got := Exit("prog", tt.err, &out); got != tt.code {
				t.Errorf("Exit = %d, want %d", got, tt.code)
			}
			for _, w := range tt.want {
				if !strings.Contains(out.String(), w) {
					t.Errorf("printed %q, want it to say %q", out.String(), w)
				}
			}
			if tt.want == nil && out.Len() > 0 {
				t.Errorf("printed %q, want nothing", out.String())
			}
		})
	}
}

func TestExitCode(t *testing.T) {
	if ExitCode(nil) != 0 || ExitCode(errors.New("x")) != 1 || ExitCode(config.Errorf("x")) != 78 || ExitCode(&config.UsageError{Err: errors.New("x")}) != 2 {
		t.Fatal("exit codes do not follow the contract")
	}
}
