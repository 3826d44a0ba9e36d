package wire

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestValidID(t *testing.T) {
	for _, id := range []string{"kitchen", "pi-5_A", strings.Repeat("a", 64)} {
		if err := ValidID(id); err != nil {
			t.Errorf("ValidID(%q) = %v, want nil", id, err)
		}
	}
	for _, id := range []string{"", "a/b", "+", "#", "a b", "pi.local", "ü", strings.Repeat("a", 65)} {
		if err := ValidID(id); err == nil {
			t.Errorf("ValidID(%q) = nil, want an error", id)
		}
	}
}

func TestValidShareGroup(t *testing.T) {
	if err := ValidShareGroup("fleet-1"); err != nil {
		t.Errorf("ValidShareGroup(fleet-1) = %v, want nil", err)
	}
	for _, name := range []string{"", "a/b", "+", "#", strings.Repeat("a", 65)} {
		err := ValidShareGroup(name)
		if err == nil || !strings.Contains(err.Error(), "share group name") || strings.Contains(err.Error(), "device id") {
			t.Errorf("ValidShareGroup(%q) = %v, want an error about the share group name", name, err)
		}
	}
}

func TestSplitTopic(t *testing.T) {
	tests := []struct {
		topic, id, kind string
		ok              bool
	}{
		{"kitchen/telemetry", "kitchen", "telemetry", true},
		{"kitchen/commands", "kitchen", "commands", true},
		{"kitchen", "", "", false},
		{"a/b/telemetry", "", "", false},
		{"+/telemetry", "", "", false},
	}
	for _, tt := range tests {
		id, kind, ok := SplitTopic(tt.topic)
		if id != tt.id || kind != tt.kind || ok != tt.ok {
			t.Errorf("SplitTopic(%q) = %q, %q, %v; want %q, %q, %v", tt.topic, id, kind, ok, tt.id, tt.kind, tt.ok)
		}
	}
}

var when = time.Date(2026, 11, 25, 17, 43, 18, 123456789, time.UTC)

func TestTelemetryJSON(t *testing.T) {
	got := string(Telemetry{Light: 412, Seq: 1024, TS: when}.AppendJSON(nil))
	want := `{"light":412,"seq":1024,"ts":"2026-11-25T17:43:18.123Z"}`
	if got != want {
		t.Fatalf("AppendJSON = %s, want %s", got, want)
	}
	// The lesson's server reads payload["light"] with a general JSON parser.
	var m map[string]any
	if err := json.Unmarshal([]byte(got), &m); err != nil || m["light"] != float64(412) {
		t.Fatalf("a plain JSON reader sees %v (%v)", m, err)
	}
	back, err := ParseTelemetry([]byte(got))
	if err != nil || back.Light != 412 || back.Seq != 1024 || !back.TS.Equal(when.Truncate(time.Millisecond)) {
		t.Fatalf("ParseTelemetry(%s) = %+v, %v", got, back, err)
	}
	if got := string(Telemetry{Light: 7}.AppendJSON(nil)); got != `{"light":7}` {
		t.Errorf("without seq and ts: %s", got)
	}
}

func TestParseTelemetry(t *testing.T) {
	good := []string{`{"light": 100}`, `{"light":0}`, `{"light":1000,"seq":1,"extra":[1,{"a":2}]}`}
	for _, p := range good {
		if _, err := ParseTelemetry([]byte(p)); err != nil {
			t.Errorf("ParseTelemetry(%s) = %v, want nil", p, err)
		}
	}
	bad := []string{``, `{}`, `{"light":"100"}`, `{"light":100.5}`, `{"light":-1}`, `{"light":1001}`,
		`{"light":1,"light":2}`, `[100]`, `{"light":1,"seq":0}`, `{"light":1,"ts":"yesterday"}`}
	for _, p := range bad {
		if _, err := ParseTelemetry([]byte(p)); err == nil {
			t.Errorf("ParseTelemetry(%s) = nil, want an error", p)
		}
	}
}

func TestCommandJSON(t *testing.T) {
	for _, tc := range []struct {
		c    Command
		want string
	}{
		{LED(true), `{"led_on":true}`},
		{Command{LEDOn: true}, `{"led_on":true}`}, // a zero Kind is the lesson's command
		{Command{Kind: CommandLED, TS: when}, `{"led_on":false,"ts":"2026-11-25T17:43:18.123Z"}`},
		{Command{Kind: CommandLED, LEDOn: true, TS: when, Seq: 1024}, `{"led_on":true,"seq":1024,"ts":"2026-11-25T17:43:18.123Z"}`},
		{Command{Kind: CommandMode, Mode: ModeOff}, `{"mode":"off"}`},
		{Command{Kind: CommandThreshold, Threshold: 250}, `{"threshold":250}`},
	} {
		got := string(tc.c.AppendJSON(nil))
		if got != tc.want {
			t.Errorf("%+v: %s, want %s", tc.c, got, tc.want)
		}
		back, err := ParseCommand([]byte(got))
		want := tc.c
		if want.Kind == "" {
			want.Kind = CommandLED
		}
		want.TS = want.TS.Truncate(time.Millisecond)
		if err != nil || back != want {
			t.Errorf("ParseCommand(%s) = %+v, %v; want %+v", got, back, err, want)
		}
	}
}

// TestParseCommandRefuses lists payloads a device must refuse, each with the
// words its reason must contain, so a person reading the log knows why.
func TestParseCommandRefuses(t *testing.T) {
	tests := []struct {
		name, payload, reason string
	}{
		{"empty", ``, "not JSON"},
		{"not JSON", `on`, "not JSON"},
		{"python repr", `{'led_on': True}`, "not JSON"},
		{"missing field", `{"led": true}`, `"led_on" is missing (or "mode", or "threshold")`},
		{"two commands in one", `{"led_on": true, "mode": "on"}`, `"led_on" and "mode" in one command`},
		{"mode in capitals", `{"mode": "AUTO"}`, `"mode" must be "auto", "on" or "off", not "AUTO"`},
		{"mode a number", `{"mode": 1}`, `not the number 1`},
		{"threshold too high", `{"threshold": 1001}`, `outside 0..1000`},
		{"threshold a fraction", `{"threshold": 299.5}`, `whole number`},
		{"seq zero", `{"led_on": true, "seq": 0}`, `"seq" is 0, outside 1..`},
		{"seq negative", `{"led_on": true, "seq": -4}`, `outside 1..`},
		{"string bool", `{"led_on": "true"}`, "true or false, not a string"},
		{"number bool", `{"led_on": 1}`, "true or false, not the number 1"},
		{"null", `{"led_on": null}`, "true or false, not null"},
		{"object", `{"led_on": {"v": true}}`, "true or false, not an object"},
		{"array", `[{"led_on": true}]`, "not a JSON object"},
		{"bare bool", `true`, "not a JSON object"},
		{"duplicate key", `{"led_on": false, "led_on": true}`, "duplicate key"},
		{"trailing data", `{"led_on": true} {"led_on": false}`, "data after the object"},
		{"truncated", `{"led_on": tr`, "not JSON"},
		{"bad ts", `{"led_on": true, "ts": "now"}`, "RFC 3339"},
		{"numeric ts", `{"led_on": true, "ts": 1764092598}`, "RFC 3339"},
		{"not UTF-8", "{\"led_on\": true, \"x\": \"\xff\xfe\"}", "UTF-8"},
		{"huge", `{"led_on": true, "pad": "` + strings.Repeat("x", 1<<20) + `"}`, "more than the 1024 allowed"},
		{"deep", strings.Repeat(`{"a":`, 400) + `1` + strings.Repeat(`}`, 400), "more than the 1024 allowed"},
		{"deep but small", `{"led_on": true, "x": ` + strings.Repeat(`[`, 100) + strings.Repeat(`]`, 100) + `}`, "nested more than 8 levels"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseCommand([]byte(tt.payload))
			if err == nil || !strings.Contains(err.Error(), tt.reason) {
				t.Fatalf("ParseCommand(%.40q) = %v, want an error containing %q", tt.payload, err, tt.reason)
			}
		})
	}
}

func TestParseCommandAccepts(t *testing.T) {
	for _, p := range []string{`{"led_on": true}`, `{"led_on":false}`, ` {"led_on": true, "by": "lesson"} `,
		`{"ts":"2026-11-25T17:43:18Z","led_on":true}`, `{"led_on": true, "meta": {"a": [1, {"b": null}]}}`,
		`{"mode": "auto"}`, `{"mode":"on","ts":"2026-11-25T17:43:18Z"}`, `{"threshold": 0}`, `{"threshold": 1000}`,
		`{"led_on": false, "seq": 9007199254740992}`} {
		if _, err := ParseCommand([]byte(p)); err != nil {
			t.Errorf("ParseCommand(%s) = %v, want nil", p, err)
		}
	}
}

func BenchmarkTelemetryAppendJSON(b *testing.B) {
	buf := make([]byte, 0, 128)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		buf = Telemetry{Light: 412, Seq: uint64(i + 1), TS: when}.AppendJSON(buf[:0])
	}
}

func BenchmarkParseCommand(b *testing.B) {
	p := []byte(`{"led_on":true,"ts":"2026-11-25T17:43:18.123Z"}`)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseCommand(p); err != nil {
			b.Fatal(err)
		}
	}
}
