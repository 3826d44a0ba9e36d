// Package homeassistant makes a night light known to Home Assistant through
// MQTT discovery: one retained message on <prefix>/device/<id>/config
// declares the device and all its entities (Home Assistant's device-based
// discovery, since 2024.11), each on a topic the device already publishes
// (ID/telemetry, ID/state, ID/status) or a command it already obeys
// (ID/commands). One message per device, not one per entity: the entities
// share the device, its availability and origin, and appear, change and
// go as a unit, with no half-announced device after a broken connection.
//
// It is pure: a Device in, topics and payloads out; the daemon publishes
// them. What was announced is kept as a Record, so that the next start can
// take back what no longer holds: a config under an old id or prefix, or
// an entity no longer offered. The keys and templates follow Home
// Assistant's MQTT documentation; the end-to-end test in cmd/nightlight
// checks them against its schemas and renders the templates with Jinja2.
package homeassistant

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"nightlight/mqtt/wire"
)

// DefaultPrefix is Home Assistant's default discovery prefix.
const DefaultPrefix = "homeassistant"

// Device is what is announced about one night light.
type Device struct {
	Prefix   string        // discovery prefix
	ID       string        // the device id: its topics, and the device's name in Home Assistant
	Model    string        // the hardware's kind, e.g. "Grove Base Hat"
	Hardware string        // the board as the daemon describes it: Home Assistant's hardware version
	Version  string        // the daemon's version
	URL      string        // the project's home page, linked from the device; "" for none
	Interval time.Duration // the heartbeat: the light level expires after three are missed
}

// Message is a retained message to publish; an empty payload takes back
// what its topic held.
type Message struct {
	Topic   string
	Payload []byte
}

// ConfigTopic is where the config of device id is announced.
func ConfigTopic(prefix, id string) string { return prefix + "/device/" + id + "/config" }

// StatusTopic is where Home Assistant says "online" when it starts (its
// birth message) and "offline" when it stops.
func StatusTopic(prefix string) string { return prefix + "/status" }

// CheckPrefix says what is wrong with a discovery prefix, if anything.
func CheckPrefix(p string) error {
	switch {
	case p == "":
		return errors.New("is empty: use homeassistant, the default of Home Assistant's MQTT integration, or the prefix set there")
	case strings.ContainsAny(p, "+#\x00"):
		return fmt.Errorf("%q holds an MQTT wildcard (+ or #): use the plain prefix set in Home Assistant, e.g. homeassistant", p)
	case strings.HasPrefix(p, "/") || strings.HasSuffix(p, "/") || strings.Contains(p, "//"):
		return fmt.Errorf("%q has an empty topic level: write it without leading, trailing or double slashes, e.g. homeassistant", p)
	}
	return nil
}

// ExpireAfter is how long Home Assistant shows the light level after the
// last reading: three heartbeats, in whole seconds, at least one.
func ExpireAfter(interval time.Duration) int {
	return max(1, int(math.Ceil(3*interval.Seconds())))
}

// component is one entity of the device: its platform and its options
// beside unique_id and platform.
type component struct {
	platform string
	options  map[string]any
}

// components are the entities offered now, by their key in the config. A
// key, once published, names that entity for good: Home Assistant derives
// nothing from it, but a renamed key is a new entity and the old one would
// be left behind (the Record's retired list takes it back).
func components(d Device) map[string]component {
	telemetry, state, commands := wire.Topic(d.ID, wire.KindTelemetry), wire.Topic(d.ID, wire.KindState), wire.Topic(d.ID, wire.KindCommands)
	return map[string]component{
		"light": {"sensor", map[string]any{
			"name": "Light level", "icon": "mdi:brightness-6",
			"state_topic": telemetry, "value_template": "{{ value_json.light }}",
			"state_class": "measurement", "suggested_display_precision": 0,
			"expire_after": ExpireAfter(d.Interval),
		}},
		"led": {"binary_sensor", map[string]any{
			"name": "LED", "icon": "mdi:lightbulb",
			"state_topic": state, "value_template": "{{ 'ON' if value_json.led_on else 'OFF' }}",
			"json_attributes_topic": state, "json_attributes_template": "{{ {'source': value_json.source} | tojson }}",
		}},
		"mode": {"select", map[string]any{
			"name": "Mode", "icon": "mdi:account-switch",
			"options":     []string{wire.ModeAuto, wire.ModeOn, wire.ModeOff},
			"state_topic": state, "value_template": "{{ value_json.mode }}",
			"command_topic": commands, "command_template": `{"mode": "{{ value }}"}`,
		}},
		"threshold": {"number", map[string]any{
			"name": "Threshold", "icon": "mdi:brightness-percent", "entity_category": "config",
			"min": wire.MinLight, "max": wire.MaxLight, "step": 1, "mode": "box",
			"state_topic": state, "value_template": "{{ value_json.threshold }}",
			"command_topic": commands, "command_template": `{"threshold": {{ value | int }}}`,
		}},
		"pending": {"sensor", map[string]any{
			"name": "Readings waiting", "icon": "mdi:tray-full", "entity_category": "diagnostic",
			"state_topic": state, "value_template": "{{ value_json.pending }}",
			"state_class": "measurement", "unit_of_measurement": "readings",
		}},
		"sensor_error": {"sensor", map[string]any{
			"name": "Sensor error", "icon": "mdi:alert-circle-outline", "entity_category": "diagnostic",
			// Home Assistant refuses a state over 255 characters; the
			// error's full text is in the daemon's log.
			"state_topic": state, "value_template": "{{ value_json.error | default('none') | truncate(250) }}",
		}},
		"version": {"sensor", map[string]any{
			"name": "Version", "icon": "mdi:information-outline", "entity_category": "diagnostic",
			"state_topic": state, "value_template": "{{ value_json.version }}",
		}},
	}
}

// Components are the entities offered now: key -> platform.
func Components(d Device) map[string]string {
	out := map[string]string{}
	for k, c := range components(d) {
		out[k] = c.platform
	}
	return out
}

// UniqueID is the unique_id of a component of device id.
func UniqueID(id, key string) string { return "nightlight_" + id + "_" + key }

// Config is the discovery config of d. Each retired component (key ->
// platform: offered before, no longer) is announced with its platform
// alone, which Home Assistant takes as "remove this entity".
func Config(d Device, retired map[string]string) ([]byte, error) {
	if err := wire.ValidID(d.ID); err != nil {
		return nil, err
	}
	if err := CheckPrefix(d.Prefix); err != nil {
		return nil, fmt.Errorf("homeassistant: prefix %w", err)
	}
	cmps := map[string]any{}
	for key, platform := range retired {
		cmps[key] = map[string]any{"platform": platform}
	}
	for key, c := range components(d) {
		opts := map[string]any{"platform": c.platform, "unique_id": UniqueID(d.ID, key)}
		for k, v := range c.options {
			opts[k] = v
		}
		cmps[key] = opts
	}
	dev := map[string]any{"identifiers": []string{"nightlight_" + d.ID}, "name": d.ID}
	origin := map[string]any{"name": "nightlight"}
	set := func(m map[string]any, k, v string) {
		if v != "" {
			m[k] = v
		}
	}
	set(dev, "model", d.Model)
	set(dev, "hw_version", d.Hardware)
	set(dev, "sw_version", d.Version)
	set(dev, "configuration_url", d.URL)
	set(origin, "sw_version", d.Version)
	set(origin, "support_url", d.URL)
	return json.Marshal(map[string]any{
		"device":             dev,
		"origin":             origin,
		"availability_topic": wire.Topic(d.ID, wire.KindStatus),
		"qos":                1,
		"components":         cmps,
	})
}
