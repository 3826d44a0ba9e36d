package wire

import (
	"bytes"
	"time"
)

// parseCanonicalTelemetry reads a reading written exactly as AppendJSON
// writes it: {"light":N[,"seq":N][,"ts":"..."][,"id":"..."]}, no spaces,
// no other key, numbers without leading zeros. That is every reading our
// devices send, so a server under a fleet decodes most readings here,
// without encoding/json's tokens (about 30 allocations a reading). ok is
// false for anything else, which ParseTelemetry's strict decoder then
// judges: this never accepts what that one refuses, nor reads it
// differently (FuzzParseTelemetry holds the two together).
func parseCanonicalTelemetry(p []byte) (t Telemetry, ok bool) {
	p, ok = bytes.CutPrefix(p, []byte(`{"light":`))
	if !ok {
		return t, false
	}
	var n uint64
	if n, p, ok = canonicalUint(p, 4); !ok || n > MaxLight {
		return t, false
	}
	t.Light = int(n)
	if rest, found := bytes.CutPrefix(p, []byte(`,"seq":`)); found {
		if n, p, ok = canonicalUint(rest, 16); !ok || n < 1 || n > 1<<53 {
			return t, false
		}
		t.Seq = n
	}
	if rest, found := bytes.CutPrefix(p, []byte(`,"ts":"`)); found {
		if len(rest) < len(TimeLayout)+1 || rest[len(TimeLayout)] != '"' {
			return t, false
		}
		ts, err := time.Parse(TimeLayout, string(rest[:len(TimeLayout)]))
		if err != nil {
			return t, false
		}
		t.TS, p = ts, rest[len(TimeLayout)+1:]
	}
	if rest, found := bytes.CutPrefix(p, []byte(`,"id":"`)); found {
		end := bytes.IndexByte(rest, '"')
		if end < 0 {
			return t, false
		}
		if t.Device = string(rest[:end]); ValidID(t.Device) != nil {
			return t, false
		}
		p = rest[end+1:]
	}
	return t, len(p) == 1 && p[0] == '}'
}

// canonicalUint reads a decimal number of at most max digits, without a
// leading zero (but "0" itself), from the start of p.
func canonicalUint(p []byte, max int) (n uint64, rest []byte, ok bool) {
	i := 0
	for i < len(p) && i <= max && p[i] >= '0' && p[i] <= '9' {
		n = n*10 + uint64(p[i]-'0')
		i++
	}
	if i == 0 || i > max || i > 1 && p[0] == '0' {
		return 0, p, false
	}
	return n, p[i:], true
}
