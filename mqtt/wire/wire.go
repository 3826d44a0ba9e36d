// Package wire is nightlight's MQTT contract: topic names and the JSON
// payloads that travel on them, with their encoders and strict decoders.
//
// It is wire-compatible with the "connect your device to the internet" lesson
// of Microsoft's IoT for Beginners: the lesson's device sends {"light": N} on
// ID/telemetry and its server answers {"led_on": true} on ID/commands. Our
// payloads add fields (seq, ts) but never rename or retype the lesson's.
//
// The package knows nothing of any MQTT client library, so the contract can be
// tested and reused without a broker.
package wire

import (
	"errors"
	"fmt"
	"strings"
)

// Topic kinds, the last level of every nightlight topic.
const (
	KindTelemetry = "telemetry"
	KindCommands  = "commands"
	KindState     = "state"
	KindStatus    = "status"
)

// Status payloads published retained on ID/status; StatusOffline is also the
// Last Will, so a device that vanishes is marked offline by the broker.
const (
	StatusOnline  = "online"
	StatusOffline = "offline"
)

// AllDevices is the device id a server uses to follow every device.
const AllDevices = "+"

// maxIDLen bounds a device id; MQTT allows longer topics, but an id this long
// is a mistake, not a name.
const maxIDLen = 64

// Topic returns the topic of the given kind for device id.
func Topic(id, kind string) string { return id + "/" + kind }

// ValidID reports whether id can name a device: 1 to 64 letters, digits,
// '-' or '_'. Anything else could escape its topic ('/', '+', '#').
func ValidID(id string) error {
	if id == "" {
		return errors.New("device id is empty: set id to a name such as kitchen-light")
	}
	return validLevel("device id", id)
}

// ValidShareGroup checks the name of a shared subscription's group, which
// stands as a topic level ($share/NAME/...) as a device id does, by the same
// rules.
func ValidShareGroup(name string) error {
	if name == "" {
		return errors.New("share group name is empty: give a name such as nightlight, or leave share_group out")
	}
	return validLevel("share group name", name)
}

// validLevel checks a name that stands as a level of a topic: what says
// what the name is, in the error.
func validLevel(what, name string) error {
	if len(name) > maxIDLen {
		return fmt.Errorf("%s %q is %d characters long: use at most %d", what, name, len(name), maxIDLen)
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return fmt.Errorf("%s %q contains %q: use only letters, digits, '-' and '_'", what, name, r)
		}
	}
	return nil
}

// SplitTopic returns the device id and kind of a nightlight topic such as
// "kitchen/telemetry"; ok is false for any other shape.
func SplitTopic(topic string) (id, kind string, ok bool) {
	id, kind, ok = strings.Cut(topic, "/")
	if !ok || strings.Contains(kind, "/") || ValidID(id) != nil {
		return "", "", false
	}
	return id, kind, true
}
