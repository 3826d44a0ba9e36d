package device

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"nightlight/cmd/internal/smallfile"
	"nightlight/mqtt/wire"
)

// Choices are what a person chose on the commands topic: who decides the
// LED, and the device's threshold. They outlast restarts and reloads.
type Choices struct {
	Mode      string `json:"mode"`
	Threshold int    `json:"threshold"`
	// Configured is the configuration's threshold when Threshold was
	// chosen: when the configuration changes it later, the configuration,
	// being newer, wins.
	Configured int `json:"configured_threshold"`
}

// Keeper keeps the Choices across runs. Load reports ok false when nothing
// was kept yet.
type Keeper interface {
	Load() (c Choices, ok bool, err error)
	Save(Choices) error
}

// choose returns the choices a run starts with: those kept, unless the
// configuration's threshold changed since they were made, in which case the
// configuration's threshold wins (the mode stays).
func choose(kept Choices, ok bool, configured int) (c Choices, overridden bool) {
	if !ok {
		return Choices{Mode: wire.ModeAuto, Threshold: configured, Configured: configured}, false
	}
	if kept.Configured != configured {
		return Choices{Mode: kept.Mode, Threshold: configured, Configured: configured}, kept.Threshold != configured
	}
	return kept, false
}

// FileKeeper keeps the Choices in a small JSON file, written whole to a
// temporary file, synced and renamed over the old one, so that a crash or
// power cut leaves the old choices or the new, never half of each.
type FileKeeper string

// maxChoicesFile bounds what Load reads: the file is under 100 bytes.
const maxChoicesFile = smallfile.MaxChoices

// Load reads the file; a missing file is not an error.
func (f FileKeeper) Load() (Choices, bool, error) {
	var c Choices
	data, err := smallfile.Read(string(f), maxChoicesFile, "device: kept choices")
	if errors.Is(err, fs.ErrNotExist) {
		return c, false, nil
	}
	if err != nil {
		return c, false, fmt.Errorf("%w; remove it to start with the configuration's", err)
	}
	if err := json.Unmarshal(data, &c); err != nil || !wire.ValidMode(c.Mode) || c.Threshold < wire.MinLight || c.Threshold > wire.MaxLight+1 {
		return Choices{}, false, fmt.Errorf("device: kept choices %s are damaged (%q): remove the file to start with the configuration's", f, data[:min(len(data), 80)])
	}
	return c, true, nil
}

// Save writes c durably.
func (f FileKeeper) Save(c Choices) error {
	data, err := json.Marshal(c)
	if err != nil {
		return err
	}
	if err := SaveFile(string(f), data); err != nil {
		return fmt.Errorf("device: keep choices: %w", err)
	}
	return nil
}

// SaveFile replaces the file at path with data durably: written whole to a
// temporary file beside it, synced, renamed over it, and the directory
// synced, so that a crash or power cut leaves the old content or the new,
// never half of each.
func SaveFile(path string, data []byte) error {
	tmp := path + ".tmp"
	if err := writeSynced(tmp, data); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	dir, err := os.Open(filepath.Dir(path))
	if err != nil {
		return err
	}
	defer dir.Close()
	return dir.Sync()
}

func writeSynced(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o640)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// memoryKeeper keeps choices for a device that has nowhere to keep them.
type memoryKeeper struct {
	c  Choices
	ok bool
}

func (m *memoryKeeper) Load() (Choices, bool, error) { return m.c, m.ok, nil }
func (m *memoryKeeper) Save(c Choices) error         { m.c, m.ok = c, true; return nil }
