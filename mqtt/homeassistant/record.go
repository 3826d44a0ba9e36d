package homeassistant

import (
	"encoding/json"
	"fmt"
	"maps"

	"nightlight/mqtt/wire"
)

// Record is what a device announced last, kept in its state directory: the
// id it ran under, and the prefix and entities it announced (none when
// announcing was off).
type Record struct {
	ID         string            `json:"id"`
	Prefix     string            `json:"prefix,omitempty"`     // "" when nothing was announced
	Components map[string]string `json:"components,omitempty"` // key -> platform
	// Retired are entities announced once and no longer offered: every
	// config names them with their platform alone, which removes them from
	// a Home Assistant that was away when they went.
	Retired map[string]string `json:"retired,omitempty"`
}

// Start is what a start publishes before its first announcement, and the
// Record to keep once the broker has it.
type Start struct {
	Clear  []Message // empty payloads, taking back what no longer holds
	Config *Message  // the discovery config; nil when announcing is off
	Next   Record
}

// Plan compares what was announced last (prev; nil when nothing is
// recorded) with what runs now: device id, and d, the announcement (nil
// when announcing is off). A device whose id changed takes back its old
// config and its old id's retained state and status, so that neither Home
// Assistant nor any other reader keeps a ghost; a changed prefix, or
// announcing turned off, takes back the old config; an entity no longer
// offered is retired.
func Plan(prev *Record, id string, d *Device) (Start, error) {
	var s Start
	s.Next = Record{ID: id}
	if prev != nil && prev.ID != "" && prev.ID != id {
		s.Clear = append(s.Clear,
			Message{Topic: wire.Topic(prev.ID, wire.KindState)},
			Message{Topic: wire.Topic(prev.ID, wire.KindStatus)})
	}
	moved := prev != nil && prev.Prefix != "" && (d == nil || prev.ID != id || prev.Prefix != d.Prefix)
	if moved {
		s.Clear = append(s.Clear, Message{Topic: ConfigTopic(prev.Prefix, prev.ID)})
	}
	if d == nil {
		return s, nil
	}
	if d.ID != id {
		return s, fmt.Errorf("homeassistant: announcing %q for device %q", d.ID, id)
	}
	now := Components(*d)
	retired := map[string]string{}
	if prev != nil && !moved {
		maps.Copy(retired, prev.Retired)
		maps.Copy(retired, prev.Components)
	}
	for k := range now {
		delete(retired, k)
	}
	payload, err := Config(*d, retired)
	if err != nil {
		return s, err
	}
	s.Config = &Message{Topic: ConfigTopic(d.Prefix, id), Payload: payload}
	s.Next.Prefix, s.Next.Components = d.Prefix, now
	if len(retired) > 0 {
		s.Next.Retired = retired
	}
	return s, nil
}

// Forget is what takes a device out of every reader's view for good (the
// package's removal): the discovery config under the recorded prefix and
// id and under the current ones, and the retained state, status and any
// retained command of both ids.
func Forget(prev *Record, id, prefix string) []Message {
	var out []Message
	seen := map[string]bool{}
	add := func(topic string) {
		if !seen[topic] {
			seen[topic] = true
			out = append(out, Message{Topic: topic})
		}
	}
	ids := []string{id}
	if prev != nil && prev.ID != "" {
		if prev.Prefix != "" {
			add(ConfigTopic(prev.Prefix, prev.ID))
		}
		ids = append(ids, prev.ID)
	}
	if prefix != "" {
		add(ConfigTopic(prefix, id))
	}
	for _, i := range ids {
		add(wire.Topic(i, wire.KindState))
		add(wire.Topic(i, wire.KindStatus))
		add(wire.Topic(i, wire.KindCommands))
	}
	return out
}

// maxRecord bounds a Record's file: ours is under 500 bytes.
const maxRecord = 16 << 10

// ParseRecord decodes a Record; a file that is not one is an error that
// says what to do.
func ParseRecord(data []byte) (*Record, error) {
	if len(data) > maxRecord {
		return nil, fmt.Errorf("is %d bytes, more than a record holds", len(data))
	}
	var r Record
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("is not a record of what was announced: %w", err)
	}
	if r.ID != "" && wire.ValidID(r.ID) != nil || r.Prefix != "" && CheckPrefix(r.Prefix) != nil {
		return nil, fmt.Errorf("names an id or prefix no device could have (%q, %q)", r.ID, r.Prefix)
	}
	return &r, nil
}
