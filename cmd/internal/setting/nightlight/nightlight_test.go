package nightlight

import "testing"

func TestStateDir(t *testing.T) {
	t.Setenv("STATE_DIRECTORY", "/run/a:/run/b")
	if got := stateDir(); got != "/run/a" {
		t.Errorf("stateDir() with $STATE_DIRECTORY /run/a:/run/b = %q, want the first", got)
	}
	if got := Settings.Lookup("state-dir").DefaultText(); got != "/run/a" {
		t.Errorf("state_dir defaults to %q under systemd, want $STATE_DIRECTORY's first", got)
	}
	t.Setenv("STATE_DIRECTORY", "")
	if got := stateDir(); got != DefaultStateDir {
		t.Errorf("stateDir() without $STATE_DIRECTORY = %q, want %s", got, DefaultStateDir)
	}
}
