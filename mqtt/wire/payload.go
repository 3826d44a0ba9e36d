package wire

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"
	"unicode/utf8"
)

// MaxPayload bounds every payload we decode. The largest legitimate one, a
// state message, is under 200 bytes; anything near this limit is junk or an
// attack and is refused before it is parsed.
const MaxPayload = 1024

// TimeLayout is how every ts field is written: RFC 3339, UTC, milliseconds.
const TimeLayout = "2006-01-02T15:04:05.000Z"

// Light levels are the hat's ratio, a whole number in this range.
const (
	MinLight = 0
	MaxLight = 1000
)

// DefaultThreshold is the lesson's rule: the LED is on below this light
// level. The server decides by it, and the device's offline fallback too.
const DefaultThreshold = 300

// Telemetry is one light reading, published on ID/telemetry.
type Telemetry struct {
	Light int       // 0..1000, the lesson's "light"
	Seq   uint64    // rises by one per reading; 0 when absent (the lesson sends none)
	TS    time.Time // when the reading was taken; zero when absent
	// Device is the device id the payload names ("id"), optional: the
	// topic says who sent a reading (a broker's ACL vouches for it), and a
	// server refuses a reading whose payload names another device.
	Device string
}

// AppendJSON appends the reading as JSON to b. It allocates nothing when b
// has room, because it runs once per reading on the device.
func (t Telemetry) AppendJSON(b []byte) []byte {
	b = append(b, `{"light":`...)
	b = strconv.AppendInt(b, int64(t.Light), 10)
	if t.Seq != 0 {
		b = append(b, `,"seq":`...)
		b = strconv.AppendUint(b, t.Seq, 10)
	}
	if !t.TS.IsZero() {
		b = append(b, `,"ts":"`...)
		b = t.TS.UTC().AppendFormat(b, TimeLayout)
		b = append(b, '"')
	}
	if t.Device != "" {
		b = append(b, `,"id":`...)
		b = strconv.AppendQuote(b, t.Device)
	}
	return append(b, '}')
}

// ParseTelemetry decodes a reading. Only "light" is required, so the lesson's
// {"light": N} is a valid reading; "id", when present, must be a valid
// device id; unknown fields are ignored.
func ParseTelemetry(p []byte) (Telemetry, error) {
	if t, ok := parseCanonicalTelemetry(p); ok {
		return t, nil
	}
	return parseTelemetryStrict(p)
}

// parseTelemetryStrict is ParseTelemetry without its fast path.
func parseTelemetryStrict(p []byte) (Telemetry, error) {
	var t Telemetry
	var haveLight bool
	err := walkObject(p, func(key string, dec *json.Decoder) error {
		var err error
		switch key {
		case "light":
			var n int64
			n, err = intValue(dec, key, MinLight, MaxLight)
			t.Light, haveLight = int(n), true
		case "seq":
			var n int64
			n, err = intValue(dec, key, 1, 1<<53)
			t.Seq = uint64(n)
		case "ts":
			t.TS, err = timeValue(dec, key)
		case "id":
			t.Device, err = idValue(dec)
		default:
			err = skipValue(dec)
		}
		return err
	})
	if err == nil && !haveLight {
		err = errors.New(`"light" is missing`)
	}
	return t, err
}

// Modes say who decides a device's LED.
const (
	ModeAuto = "auto" // the server, by the threshold rule: the lesson's way
	ModeOn   = "on"   // a person: on, whatever the server says
	ModeOff  = "off"  // a person: off, whatever the server says
)

// ValidMode reports whether m is a mode.
func ValidMode(m string) bool { return m == ModeAuto || m == ModeOn || m == ModeOff }

// Command kinds: what a command on ID/commands asks.
const (
	CommandLED       = "led_on"    // switch the LED: the lesson's command, the server's
	CommandMode      = "mode"      // hand the LED to a person (on, off) or back to the server (auto)
	CommandThreshold = "threshold" // the device's own threshold, for the server and the fallback
)

// Command is published on ID/commands. It asks exactly one thing, named by
// Kind: LEDOn for CommandLED, Mode for CommandMode, Threshold for
// CommandThreshold.
type Command struct {
	Kind      string
	LEDOn     bool
	Mode      string
	Threshold int
	TS        time.Time // when it was decided; zero when absent (the lesson sends none)
	Seq       uint64    // the reading it answers (a server's led_on); 0 when absent
}

// LED is the command to switch the LED, as the lesson's server sends it.
func LED(on bool) Command { return Command{Kind: CommandLED, LEDOn: on} }

// AppendJSON appends the command as JSON to b.
func (c Command) AppendJSON(b []byte) []byte {
	switch c.Kind {
	case CommandMode:
		b = append(b, `{"mode":`...)
		b = strconv.AppendQuote(b, c.Mode)
	case CommandThreshold:
		b = append(b, `{"threshold":`...)
		b = strconv.AppendInt(b, int64(c.Threshold), 10)
	default:
		b = append(b, `{"led_on":`...)
		b = strconv.AppendBool(b, c.LEDOn)
	}
	if c.Seq != 0 {
		b = append(b, `,"seq":`...)
		b = strconv.AppendUint(b, c.Seq, 10)
	}
	if !c.TS.IsZero() {
		b = append(b, `,"ts":"`...)
		b = c.TS.UTC().AppendFormat(b, TimeLayout)
		b = append(b, '"')
	}
	return append(b, '}')
}

// ParseCommand decodes a command strictly: a JSON object of at most
// MaxPayload bytes of valid UTF-8, with no duplicate keys, holding exactly
// one of "led_on" (true or false), "mode" ("auto", "on" or "off") and
// "threshold" (a whole number 0..1000), and optionally "ts" (an RFC 3339
// time) and "seq" (the reading answered). Anything else is an error that
// says what was wrong, because a device must never guess what junk on its
// commands topic meant. Unknown keys are skipped, as consumers must.
func ParseCommand(p []byte) (Command, error) {
	var c Command
	var kinds []string
	err := walkObject(p, func(key string, dec *json.Decoder) error {
		var err error
		switch key {
		case CommandLED:
			c.LEDOn, err = boolValue(dec, key)
			kinds = append(kinds, key)
		case CommandMode:
			c.Mode, err = modeValue(dec)
			kinds = append(kinds, key)
		case CommandThreshold:
			var n int64
			n, err = intValue(dec, key, MinLight, MaxLight)
			c.Threshold = int(n)
			kinds = append(kinds, key)
		case "ts":
			c.TS, err = timeValue(dec, key)
		case "seq":
			var n int64
			n, err = intValue(dec, key, 1, 1<<53)
			c.Seq = uint64(n)
		default:
			err = skipValue(dec)
		}
		return err
	})
	switch {
	case err != nil:
	case len(kinds) == 0:
		err = errors.New(`"led_on" is missing (or "mode", or "threshold")`)
	case len(kinds) > 1:
		err = fmt.Errorf("%q and %q in one command: send one command for each", kinds[0], kinds[1])
	default:
		c.Kind = kinds[0]
	}
	return c, err
}

func idValue(dec *json.Decoder) (string, error) {
	tok, err := dec.Token()
	if err != nil {
		return "", fmt.Errorf("not JSON: %w", err)
	}
	id, ok := tok.(string)
	if !ok {
		return "", fmt.Errorf(`"id" must be a device id string, not %s`, describe(tok))
	}
	if err := ValidID(id); err != nil {
		return "", fmt.Errorf(`"id": %w`, err)
	}
	return id, nil
}

func modeValue(dec *json.Decoder) (string, error) {
	tok, err := dec.Token()
	if err != nil {
		return "", fmt.Errorf("not JSON: %w", err)
	}
	m, ok := tok.(string)
	if !ok || !ValidMode(m) {
		what := describe(tok)
		if ok {
			what = strconv.Quote(m)
		}
		return "", fmt.Errorf(`"mode" must be "auto", "on" or "off", not %s`, what)
	}
	return m, nil
}

// Sources of the LED state, as reported in State.Source.
const (
	SourceStartup  = "startup"  // the daemon's defined state at start: off
	SourceCommand  = "command"  // a command from the server
	SourceFallback = "fallback" // the device's own threshold rule while the broker is away
	SourceManual   = "manual"   // a person, by mode on or off
	SourceShutdown = "shutdown" // the daemon's defined state at stop: off
)

// State is the device's retained report of its LED, published on ID/state
// at every connect and every change.
type State struct {
	LEDOn     bool   `json:"led_on"`
	Light     *int   `json:"light,omitempty"` // the newest reading; absent before the first
	TS        string `json:"ts"`
	Source    string `json:"source"`
	Error     string `json:"error,omitempty"`     // why the sensor cannot be read, while it cannot
	Mode      string `json:"mode,omitempty"`      // who decides the LED: auto, on or off
	Threshold *int   `json:"threshold,omitempty"` // the device's threshold
	Pending   *int64 `json:"pending,omitempty"`   // readings in the outbox not yet acknowledged by the broker, when the state was sent
	Version   string `json:"version,omitempty"`   // the daemon's version
}

// ParseState decodes a state message.
func ParseState(p []byte) (State, error) {
	var s State
	if len(p) > MaxPayload {
		return s, fmt.Errorf("payload is %d bytes, more than the %d allowed", len(p), MaxPayload)
	}
	if err := json.Unmarshal(p, &s); err != nil {
		return s, fmt.Errorf("not a state message: %w", err)
	}
	return s, nil
}

// FormatTime writes t as a ts field value.
func FormatTime(t time.Time) string { return t.UTC().Format(TimeLayout) }

// walkObject checks the payload's size and encoding, then calls field once
// per key of its top-level JSON object, positioned before the key's value.
func walkObject(p []byte, field func(key string, dec *json.Decoder) error) error {
	if len(p) > MaxPayload {
		return fmt.Errorf("payload is %d bytes, more than the %d allowed", len(p), MaxPayload)
	}
	if !utf8.Valid(p) {
		return errors.New("payload is not valid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(p))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return fmt.Errorf("not JSON: %w", err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return fmt.Errorf("not a JSON object: starts with %s", describe(tok))
	}
	seen := make(map[string]bool, 4)
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return fmt.Errorf("not JSON: %w", err)
		}
		key := tok.(string) // inside an object the decoder yields only string keys
		if seen[key] {
			return fmt.Errorf("duplicate key %q", key)
		}
		seen[key] = true
		if err := field(key, dec); err != nil {
			return err
		}
	}
	if _, err := dec.Token(); err != nil {
		return fmt.Errorf("not JSON: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("not JSON: data after the object")
	}
	return nil
}

func boolValue(dec *json.Decoder, key string) (bool, error) {
	tok, err := dec.Token()
	if err != nil {
		return false, fmt.Errorf("not JSON: %w", err)
	}
	b, ok := tok.(bool)
	if !ok {
		return false, fmt.Errorf("%q must be true or false, not %s", key, describe(tok))
	}
	return b, nil
}

func intValue(dec *json.Decoder, key string, min, max int64) (int64, error) {
	tok, err := dec.Token()
	if err != nil {
		return 0, fmt.Errorf("not JSON: %w", err)
	}
	num, ok := tok.(json.Number)
	if !ok {
		return 0, fmt.Errorf("%q must be a whole number, not %s", key, describe(tok))
	}
	n, err := strconv.ParseInt(string(num), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%q must be a whole number, not %s", key, num)
	}
	if n < min || n > max {
		return 0, fmt.Errorf("%q is %d, outside %d..%d", key, n, min, max)
	}
	return n, nil
}

func timeValue(dec *json.Decoder, key string) (time.Time, error) {
	tok, err := dec.Token()
	if err != nil {
		return time.Time{}, fmt.Errorf("not JSON: %w", err)
	}
	s, ok := tok.(string)
	if !ok {
		return time.Time{}, fmt.Errorf("%q must be an RFC 3339 time string, not %s", key, describe(tok))
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is %q, not an RFC 3339 time such as 2026-11-25T17:43:18.123Z", key, s)
	}
	return t, nil
}

// maxDepth bounds the nesting of a value we skip. Ours are flat; a deep
// structure inside a small payload is an attack on the parser, not data.
const maxDepth = 8

// skipValue reads past one value of an unknown key, refusing deep nesting.
func skipValue(dec *json.Decoder) error {
	depth := 0
	for {
		tok, err := dec.Token()
		if err != nil {
			return fmt.Errorf("not JSON: %w", err)
		}
		if d, ok := tok.(json.Delim); ok {
			if d == '{' || d == '[' {
				depth++
				if depth > maxDepth {
					return fmt.Errorf("nested more than %d levels deep", maxDepth)
				}
			} else {
				depth--
			}
		}
		if depth == 0 {
			return nil
		}
	}
}

// describe names a JSON token's type for error messages.
func describe(tok json.Token) string {
	switch v := tok.(type) {
	case json.Delim:
		if v == '{' {
			return "an object"
		}
		return "an array"
	case bool:
		return "a boolean"
	case json.Number:
		return "the number " + string(v)
	case string:
		return "a string"
	case nil:
		return "null"
	}
	return fmt.Sprintf("%v", tok)
}
