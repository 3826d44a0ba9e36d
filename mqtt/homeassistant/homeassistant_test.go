package homeassistant

import (
	"encoding/json"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"
)

func testDevice() Device {
	return Device{Prefix: DefaultPrefix, ID: "kitchen", Model: "Grove Base Hat", Hardware: "Grove Base Hat at 0x08",
		Version: "1.2.3", URL: "https://example.org/nightlight", Interval: 5 * time.Second}
}

func decode(t *testing.T, payload []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(payload, &m); err != nil {
		t.Fatalf("config is not JSON: %v\n%s", err, payload)
	}
	return m
}

// TestConfig: the config's device, origin and availability, and each
// entity's topics; every entity has a platform and a unique id of its own.
func TestConfig(t *testing.T) {
	p, err := Config(testDevice(), nil)
	if err != nil {
		t.Fatal(err)
	}
	c := decode(t, p)
	dev := c["device"].(map[string]any)
	if dev["name"] != "kitchen" || dev["model"] != "Grove Base Hat" || dev["sw_version"] != "1.2.3" ||
		dev["hw_version"] != "Grove Base Hat at 0x08" || dev["configuration_url"] != "https://example.org/nightlight" {
		t.Errorf("device %v", dev)
	}
	if ids := dev["identifiers"].([]any); len(ids) != 1 || ids[0] != "nightlight_kitchen" {
		t.Errorf("identifiers %v", ids)
	}
	if o := c["origin"].(map[string]any); o["name"] != "nightlight" || o["sw_version"] != "1.2.3" || o["support_url"] != "https://example.org/nightlight" {
		t.Errorf("origin %v", o)
	}
	if c["availability_topic"] != "kitchen/status" {
		t.Errorf("availability_topic %v", c["availability_topic"])
	}
	want := map[string]struct{ platform, state, command string }{
		"light":        {"sensor", "kitchen/telemetry", ""},
		"led":          {"binary_sensor", "kitchen/state", ""},
		"mode":         {"select", "kitchen/state", "kitchen/commands"},
		"threshold":    {"number", "kitchen/state", "kitchen/commands"},
		"pending":      {"sensor", "kitchen/state", ""},
		"sensor_error": {"sensor", "kitchen/state", ""},
		"version":      {"sensor", "kitchen/state", ""},
	}
	cmps := c["components"].(map[string]any)
	if got := slices.Sorted(maps.Keys(cmps)); !slices.Equal(got, slices.Sorted(maps.Keys(want))) {
		t.Fatalf("components %v, want %v", got, slices.Sorted(maps.Keys(want)))
	}
	uids := map[any]bool{}
	for key, w := range want {
		o := cmps[key].(map[string]any)
		if o["platform"] != w.platform || o["state_topic"] != w.state || w.command != "" && o["command_topic"] != w.command {
			t.Errorf("%s: platform %v state %v command %v, want %+v", key, o["platform"], o["state_topic"], o["command_topic"], w)
		}
		if uids[o["unique_id"]] || !strings.HasPrefix(o["unique_id"].(string), "nightlight_kitchen_") {
			t.Errorf("%s: unique_id %v repeated or not the device's", key, o["unique_id"])
		}
		uids[o["unique_id"]] = true
	}
	if e := cmps["light"].(map[string]any)["expire_after"]; e != 15.0 {
		t.Errorf("light expires after %v, want 15 (three 5s heartbeats)", e)
	}

	// Without a URL no link is announced: Home Assistant refuses an empty one.
	d := testDevice()
	d.URL = ""
	c = decode(t, mustConfig(t, d, nil))
	if _, ok := c["device"].(map[string]any)["configuration_url"]; ok {
		t.Error("configuration_url announced without a URL")
	}
	if _, ok := c["origin"].(map[string]any)["support_url"]; ok {
		t.Error("support_url announced without a URL")
	}
}

func mustConfig(t *testing.T, d Device, retired map[string]string) []byte {
	t.Helper()
	p, err := Config(d, retired)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestConfigRefuses(t *testing.T) {
	for name, d := range map[string]Device{
		"bad id":      {Prefix: "homeassistant", ID: "kitchen/light"},
		"wildcard id": {Prefix: "homeassistant", ID: "+"},
		"no prefix":   {Prefix: "", ID: "kitchen"},
		"bad prefix":  {Prefix: "home/#", ID: "kitchen"},
	} {
		if _, err := Config(d, nil); err == nil {
			t.Errorf("%s: Config(%+v) did not refuse", name, d)
		}
	}
}

func TestCheckPrefix(t *testing.T) {
	for p, ok := range map[string]bool{
		"homeassistant": true, "ha": true, "site/ha": true,
		"": false, "ha/": false, "/ha": false, "a//b": false, "ha/+": false, "#": false,
	} {
		if err := CheckPrefix(p); (err == nil) != ok {
			t.Errorf("CheckPrefix(%q) = %v, want ok %t", p, err, ok)
		}
	}
}

func TestExpireAfter(t *testing.T) {
	for in, want := range map[time.Duration]int{
		5 * time.Second: 15, time.Minute: 180, 1500 * time.Millisecond: 5, 100 * time.Millisecond: 1, 10 * time.Millisecond: 1,
	} {
		if got := ExpireAfter(in); got != want {
			t.Errorf("ExpireAfter(%s) = %d, want %d", in, got, want)
		}
	}
}

func topics(ms []Message) []string {
	var out []string
	for _, m := range ms {
		if len(m.Payload) != 0 {
			out = append(out, "NOT EMPTY "+m.Topic)
			continue
		}
		out = append(out, m.Topic)
	}
	return out
}

// TestPlan: what a start takes back and records, by what was recorded.
func TestPlan(t *testing.T) {
	d := testDevice()
	now := Components(d)
	withOld := maps.Clone(now)
	withOld["old_sensor"] = "sensor"
	tests := []struct {
		name        string
		prev        *Record
		id          string
		announce    *Device
		clear       []string
		retired     map[string]string
		recordEmpty bool // nothing announced is recorded
	}{
		{name: "first start", id: "kitchen", announce: &d},
		{name: "same again", prev: &Record{ID: "kitchen", Prefix: "homeassistant", Components: now}, id: "kitchen", announce: &d},
		{name: "renamed", prev: &Record{ID: "pantry", Prefix: "homeassistant", Components: now}, id: "kitchen", announce: &d,
			clear: []string{"pantry/state", "pantry/status", "homeassistant/device/pantry/config"}},
		{name: "new prefix", prev: &Record{ID: "kitchen", Prefix: "ha", Components: now}, id: "kitchen", announce: &d,
			clear: []string{"ha/device/kitchen/config"}},
		{name: "turned off", prev: &Record{ID: "kitchen", Prefix: "homeassistant", Components: now}, id: "kitchen",
			clear: []string{"homeassistant/device/kitchen/config"}, recordEmpty: true},
		{name: "off, and renamed", prev: &Record{ID: "pantry"}, id: "kitchen",
			clear: []string{"pantry/state", "pantry/status"}, recordEmpty: true},
		{name: "off before and now", prev: &Record{ID: "kitchen"}, id: "kitchen", recordEmpty: true},
		{name: "an entity no longer offered", prev: &Record{ID: "kitchen", Prefix: "homeassistant", Components: withOld}, id: "kitchen", announce: &d,
			retired: map[string]string{"old_sensor": "sensor"}},
		{name: "retired stays retired", prev: &Record{ID: "kitchen", Prefix: "homeassistant", Components: now, Retired: map[string]string{"old_sensor": "sensor"}}, id: "kitchen", announce: &d,
			retired: map[string]string{"old_sensor": "sensor"}},
		{name: "retired offered again", prev: &Record{ID: "kitchen", Prefix: "homeassistant", Components: now, Retired: map[string]string{"light": "sensor"}}, id: "kitchen", announce: &d},
		{name: "renamed: no stubs in the new device", prev: &Record{ID: "pantry", Prefix: "homeassistant", Components: withOld}, id: "kitchen", announce: &d,
			clear: []string{"pantry/state", "pantry/status", "homeassistant/device/pantry/config"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := Plan(tc.prev, tc.id, tc.announce)
			if err != nil {
				t.Fatal(err)
			}
			if got := topics(s.Clear); !slices.Equal(got, tc.clear) {
				t.Errorf("clears %v, want %v", got, tc.clear)
			}
			if tc.recordEmpty {
				if s.Config != nil || s.Next.Prefix != "" || s.Next.Components != nil || s.Next.ID != tc.id {
					t.Errorf("announcing off: config %v, record %+v", s.Config, s.Next)
				}
				return
			}
			if s.Config == nil || s.Config.Topic != "homeassistant/device/kitchen/config" {
				t.Fatalf("config %+v", s.Config)
			}
			if !maps.Equal(s.Next.Retired, tc.retired) || !maps.Equal(s.Next.Components, now) || s.Next.Prefix != "homeassistant" || s.Next.ID != "kitchen" {
				t.Errorf("record %+v, want components %v retired %v", s.Next, now, tc.retired)
			}
			cmps := decode(t, s.Config.Payload)["components"].(map[string]any)
			for key, platform := range tc.retired {
				stub, ok := cmps[key].(map[string]any)
				if !ok || len(stub) != 1 || stub["platform"] != platform {
					t.Errorf("retired %s announced as %v, want its platform alone", key, cmps[key])
				}
			}
			if len(cmps) != len(now)+len(tc.retired) {
				t.Errorf("%d components announced, want %d offered and %d retired", len(cmps), len(now), len(tc.retired))
			}
		})
	}
	if _, err := Plan(nil, "kitchen", &Device{Prefix: "homeassistant", ID: "pantry"}); err == nil {
		t.Error("Plan announced another device's config under this id")
	}
}

func TestForget(t *testing.T) {
	got := topics(Forget(&Record{ID: "pantry", Prefix: "ha"}, "kitchen", "homeassistant"))
	want := []string{"ha/device/pantry/config", "homeassistant/device/kitchen/config",
		"kitchen/state", "kitchen/status", "kitchen/commands", "pantry/state", "pantry/status", "pantry/commands"}
	if !slices.Equal(got, want) {
		t.Errorf("Forget = %v, want %v", got, want)
	}
	got = topics(Forget(&Record{ID: "kitchen", Prefix: "homeassistant"}, "kitchen", "homeassistant"))
	want = []string{"homeassistant/device/kitchen/config", "kitchen/state", "kitchen/status", "kitchen/commands"}
	if !slices.Equal(got, want) {
		t.Errorf("Forget, nothing renamed = %v, want %v", got, want)
	}
	if got := topics(Forget(nil, "kitchen", "")); !slices.Equal(got, []string{"kitchen/state", "kitchen/status", "kitchen/commands"}) {
		t.Errorf("Forget with announcing off and no record = %v", got)
	}
}

func TestParseRecord(t *testing.T) {
	r, err := ParseRecord([]byte(`{"id":"kitchen","prefix":"homeassistant","components":{"light":"sensor"}}`))
	if err != nil || r.ID != "kitchen" || r.Components["light"] != "sensor" {
		t.Fatalf("ParseRecord = %+v, %v", r, err)
	}
	for _, bad := range []string{`not json`, `{"id":"a/b"}`, `{"id":"k","prefix":"#"}`, `[1]`, strings.Repeat(" ", maxRecord+1)} {
		if _, err := ParseRecord([]byte(bad)); err == nil {
			t.Errorf("ParseRecord(%.20q) accepted", bad)
		}
	}
}
