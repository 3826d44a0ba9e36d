package setting_test

import (
	"strings"
	"testing"

	"nightlight/cmd/internal/config"
	"nightlight/cmd/internal/setting"
	"nightlight/cmd/internal/setting/nightlight"
	"nightlight/cmd/internal/setting/nightlightserver"
	"nightlight/mqtt/wire"
)

// TestDefinitions checks what the documents made from the definitions rely
// on: unique names, a help line, sentences, and a rule in words for every
// default that depends on the machine.
func TestDefinitions(t *testing.T) {
	for _, p := range []*config.Program{&nightlight.Settings, &nightlightserver.Settings} {
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

// TestThresholdIsWires: both programs default to the threshold of the wire
// contract.
func TestThresholdIsWires(t *testing.T) {
	for _, p := range []*config.Program{&nightlight.Settings, &nightlightserver.Settings} {
		if got := p.Lookup("threshold").Default; got != wire.DefaultThreshold {
			t.Errorf("%s: threshold defaults to %v, want wire.DefaultThreshold, %d", p.Name, got, wire.DefaultThreshold)
		}
	}
}

func TestHostName(t *testing.T) {
	h := setting.HostName()
	if strings.Contains(h, ".") {
		t.Errorf("HostName() = %q: a dot is no use in a topic", h)
	}
	if got := nightlight.Settings.Lookup("id").DefaultText(); got != h {
		t.Errorf("the device id defaults to %q, want the host name %q", got, h)
	}
	if got, want := nightlightserver.Settings.Lookup("client-id").DefaultText(), "nightlight-server-"+h; got != want {
		t.Errorf("the server's client id defaults to %q, want %q", got, want)
	}
}
