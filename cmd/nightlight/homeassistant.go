package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"path/filepath"
	"time"

	"nightlight/cmd/internal/device"
	"nightlight/cmd/internal/smallfile"
	"nightlight/hw/board"
	"nightlight/mqtt/homeassistant"
	"nightlight/mqtt/link"
)

// projectURL is the project's home page, linked from the device in Home
// Assistant; set at build time (-ldflags "-X main.projectURL=https://...").
// Without one no link is announced: Home Assistant refuses an empty URL.
var projectURL = ""

// announcedFile, in the state directory, records what the device announced
// last (homeassistant.Record), so that a start can take back what no longer
// holds.
const announcedFile = "homeassistant.json"

// announceAgainWithin bounds the random wait before announcing again after
// Home Assistant's birth message, so that a fleet's answers are spread out.
const announceAgainWithin = 3 * time.Second

// announcement is what this run announces to Home Assistant, and what it
// takes back of an earlier run's announcement: under another id or prefix,
// or everything when announcing is now off. Nil when there is nothing to
// publish or record.
func announcement(s *settings, hardware string, log *slog.Logger) (*device.Announcement, error) {
	path := filepath.Join(s.StateDir, announcedFile)
	prev, err := loadRecord(path)
	if err != nil {
		log.Warn("what was announced before is unknown: nothing of it is taken back", "err", err)
	}
	var dev *homeassistant.Device
	if s.HomeAssistant {
		dev = &homeassistant.Device{Prefix: s.HAPrefix, ID: s.ID, Model: model(s), Hardware: hardware,
			Version: version, URL: projectURL, Interval: s.Interval}
	}
	plan, err := homeassistant.Plan(prev, s.ID, dev)
	if err != nil {
		return nil, err
	}
	a := &device.Announcement{AgainDelay: announceAgainWithin}
	for _, m := range plan.Clear {
		a.Clear = append(a.Clear, link.Message{Topic: m.Topic, Payload: m.Payload, Retained: true})
	}
	if c := plan.Config; c != nil {
		a.Messages = []link.Message{{Topic: c.Topic, Payload: c.Payload, Retained: true}}
		a.Again = homeassistant.StatusTopic(s.HAPrefix)
	}
	next, err := json.Marshal(plan.Next)
	if err != nil {
		return nil, err
	}
	if prev == nil || !sameRecord(prev, next) {
		a.Announced = func() error { return device.SaveFile(path, append(next, '\n')) }
	}
	if len(a.Clear) == 0 && len(a.Messages) == 0 && a.Announced == nil {
		return nil, nil
	}
	return a, nil
}

// sameRecord reports whether prev encodes as next does.
func sameRecord(prev *homeassistant.Record, next []byte) bool {
	b, err := json.Marshal(prev)
	return err == nil && bytes.Equal(b, next)
}

// maxRecordFile bounds the record of the last announcement: a few hundred
// bytes.
const maxRecordFile = 64 << 10

// loadRecord reads what was announced last; nil, nil when nothing was.
func loadRecord(path string) (*homeassistant.Record, error) {
	data, err := smallfile.Read(path, maxRecordFile, "Home Assistant record")
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	r, err := homeassistant.ParseRecord(data)
	if err != nil {
		return nil, fmt.Errorf("%s %w: remove it; the next start announces afresh", path, err)
	}
	return r, nil
}

// model names the hardware for Home Assistant's device page.
func model(s *settings) string {
	switch {
	case s.Hardware == board.GroveHat:
		return "Grove Base Hat"
	case s.Hardware == board.ADS1115:
		return "ADS1115"
	case s.AlertPin != "":
		return "simulated ADS1115"
	}
	return "simulated Grove Base Hat"
}
