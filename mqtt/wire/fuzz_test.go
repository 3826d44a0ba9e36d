package wire

import (
	"testing"
	"unicode/utf8"
)

// FuzzParseCommand: whatever arrives on the commands topic, the decoder
// returns (never panics), and what it accepts is small, valid UTF-8 and
// survives a round trip through our own encoder unchanged.
func FuzzParseCommand(f *testing.F) {
	for _, seed := range []string{
		`{"led_on": true}`, `{"led_on":false,"ts":"2026-11-25T17:43:18.123Z"}`,
		`{"led_on": 1}`, `{"led_on": true, "led_on": false}`, `[true]`, ``, "\xff",
		`{"led_on": true, "x": [[[[[[[[[1]]]]]]]]]}`, `{"led_on": true}{}`,
		`{"mode": "on"}`, `{"threshold": 300, "ts": "2026-11-25T17:43:18.123Z"}`, `{"led_on": true, "seq": 7}`,
		`{"mode": "auto", "threshold": 1}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, p []byte) {
		c, err := ParseCommand(p)
		if err != nil {
			return
		}
		if len(p) > MaxPayload || !utf8.Valid(p) {
			t.Fatalf("accepted %q: too large or not UTF-8", p)
		}
		back, err := ParseCommand(c.AppendJSON(nil))
		want := c
		want.TS = c.TS.UTC().Truncate(1e6)
		if err != nil || back.Kind != want.Kind || back.LEDOn != want.LEDOn || back.Mode != want.Mode ||
			back.Threshold != want.Threshold || back.Seq != want.Seq || !back.TS.Equal(want.TS) {
			t.Fatalf("round trip of %q: %+v -> %+v (%v)", p, c, back, err)
		}
	})
}

// FuzzParseTelemetry: the server's decoder of readings from any device.
func FuzzParseTelemetry(f *testing.F) {
	for _, seed := range []string{`{"light": 100}`, `{"light":412,"seq":1024,"ts":"2026-11-25T17:43:18.123Z"}`,
		`{"light": -1}`, `{"light": 1e3}`, `{"light": 9223372036854775808}`, `{"light": 5, "id": "desk"}`, `{"light": 5, "id": "a/b"}`,
		`{"light":0}`, `{"light":007}`, `{"light":1000,"seq":9007199254740992}`, `{"light":1,"seq":9007199254740993}`,
		`{"light":412,"seq":1024,"ts":"2026-11-25T17:43:18.123Z","id":"desk"}`, `{"light":1,"ts":"2026-13-25T17:43:18.123Z"}`,
		`{"light":1,"ts":"2026-11-25T17:43:18.123Z"} `, `{"light":1,"id":""}`, `{"light":1001}`, `{"light":1,"seq":0}`} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, p []byte) {
		// The fast path accepts only what the strict decoder accepts, and
		// reads it the same.
		if fast, ok := parseCanonicalTelemetry(p); ok {
			strict, err := parseTelemetryStrict(p)
			if err != nil || fast.Light != strict.Light || fast.Seq != strict.Seq || !fast.TS.Equal(strict.TS) || fast.Device != strict.Device {
				t.Fatalf("%q: fast path %+v, strict %+v (%v)", p, fast, strict, err)
			}
		}
		r, err := ParseTelemetry(p)
		if err != nil {
			return
		}
		if r.Light < MinLight || r.Light > MaxLight {
			t.Fatalf("accepted light %d from %q", r.Light, p)
		}
		back, err := ParseTelemetry(r.AppendJSON(nil))
		if err != nil || back.Light != r.Light || back.Seq != r.Seq || back.Device != r.Device {
			t.Fatalf("round trip of %q: %+v -> %+v (%v)", p, r, back, err)
		}
	})
}
