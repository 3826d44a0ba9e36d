package main

import (
	"bytes"
	"flag"
	"strings"
	"testing"

	"nightlight/cmd/internal/setting/nightlight"
)

// TestSettingsAreTheDefinitions holds the daemon's flags to the definitions
// the configuration file, the man page and the documentation are made
// from: the FlagSet that bindSettings fills, and what --help prints for
// each command that takes the settings.
func TestSettingsAreTheDefinitions(t *testing.T) {
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	bindSettings(fs, new(settings))
	if err := nightlight.Settings.Check(fs); err != nil {
		t.Errorf("flags and definitions disagree:\n%v", err)
	}
	for _, cmd := range []string{"run", "read", "led", "check-config"} {
		var stdout, stderr bytes.Buffer
		if err := dispatch([]string{cmd, "--help"}, &stdout, &stderr); err != flag.ErrHelp {
			t.Fatalf("%s --help: %v", cmd, err)
		}
		help := stderr.String()
		for _, s := range nightlight.Settings.Settings() {
			if !strings.Contains(help, "\n  -"+s.Name+" ") || !strings.Contains(help, "\t"+s.Usage()) {
				t.Errorf("nightlight %s --help does not show --%s as defined: %q", cmd, s.Name, s.Usage())
			}
		}
	}
}
