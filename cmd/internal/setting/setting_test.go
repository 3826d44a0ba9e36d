package setting

import (
	"strings"
	"testing"

	"nightlight/cmd/internal/config"
	"nightlight/cmd/internal/control"
	"nightlight/cmd/internal/device"
	"nightlight/mqtt/wire"
)

// TestDefinitions checks what the documents made from the definitions rely
// on: unique names, a help line, sentences, and a rule in words for every
// default that depends on the machine.
func TestDefinitions(t *testing.T) {
	for _, p := range []*config.Program{&Nightlight, &Server} {
		seen := map[string]bool{}
		for _, sec := range p.Sections {
			if sec.Title == "" || len(sec.Settings) == 0 {
				t.Errorf("%s: section %q needs a title and settings", p.Name, sec.Title)
			}
			for _, s := range sec.Settings {
				where := p.Name + " " + s.Name
				if seen[s.Name] {
					t.Errorf("%s: defined twice", where)
				}
				seen[s.Name] = true
				if s.Name != strings.ToLower(s.Name) || strings.ContainsAny(s.Name, "_ ") {
					t.Errorf("%s: a flag name is lower case, words joined by -", where)
				}
				if s.Help == "" || strings.Contains(s.Help, "\n") || strings.HasSuffix(s.Help, ".") {
					t.Errorf("%s: help %q must be one line, without a full stop", where, s.Help)
				}
				if s.Doc != "" && (strings.Contains(s.Doc, "\n") || !strings.HasSuffix(s.Doc, ".")) {
					t.Errorf("%s: doc %q must be sentences on one line, ending with a full stop", where, s.Doc)
				}
				if s.Dynamic != nil && (s.DefaultIs == "" || s.Example == "" || s.Default != nil) {
					t.Errorf("%s: a default that depends on the machine needs DefaultIs and Example, and no Default", where)
				}
				if s.Dynamic == nil && s.Example != "" {
					t.Errorf("%s: Example is only for a default that depends on the machine", where)
				}
				s.DefaultText() // panics on a default of the wrong type
			}
		}
	}
}

// TestThresholdAgrees: the threshold is part of the wire contract, and both
// programs' packages must default to wire's until they use it themselves.
func TestThresholdAgrees(t *testing.T) {
	if device.DefaultThreshold != wire.DefaultThreshold || control.DefaultThreshold != wire.DefaultThreshold {
		t.Errorf("thresholds: device %d, control %d, wire %d: they must be one", device.DefaultThreshold, control.DefaultThreshold, wire.DefaultThreshold)
	}
}

func TestDynamicDefaults(t *testing.T) {
	if strings.Contains(hostName(), ".") {
		t.Errorf("hostName() = %q: a dot is no use in a topic", hostName())
	}
	if err := wire.ValidID(Nightlight.Lookup("id").DefaultText()); hostName() != "" && err != nil {
		t.Errorf("the default id is not a valid id: %v", err)
	}
	t.Setenv("STATE_DIRECTORY", "/run/a:/run/b")
	if got := stateDir(); got != "/run/a" {
		t.Errorf("stateDir() with $STATE_DIRECTORY /run/a:/run/b = %q, want the first", got)
	}
	t.Setenv("STATE_DIRECTORY", "")
	if got := stateDir(); got != DefaultStateDir {
		t.Errorf("stateDir() without $STATE_DIRECTORY = %q, want %s", got, DefaultStateDir)
	}
	if got, want := Server.Lookup("client-id").DefaultText(), "nightlight-server-"+hostName(); got != want {
		t.Errorf("server client id %q, want %q", got, want)
	}
}
