// Package grovehatsmoketest records a real Grove Base Hat's I²C traffic, so
// that what the hat actually answers can become an i2ctest.Playback script
// for the grovehat tests (as periph's bmxx80/bmx280smoketest does for the
// BMx280).
//
// On a Raspberry Pi with the hat, run
//
//	go test ./hw/grovehat/grovehatsmoketest -run Hardware -v -args -record -bus 1 -ch 0 \
//		-out testdata/NAME.json -board "Grove Base Hat v1.0, STM32, 2021; Pi 4, Raspberry Pi OS 12"
//
// It prints the []i2ctest.IO it recorded and, with -out, stores the session
// as a Recording in JSON. Every recording in testdata/ is played back by
// TestRecordings on every test run (Play): the driver must make exactly the
// recorded transfers and read what the hat answered. Commit the file and
// the real board joins the tests. Without -record the hardware test is
// skipped, never passed, so CI without a hat proves nothing about one.
package grovehatsmoketest

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"periph.io/x/conn/v3/i2c"
	"periph.io/x/conn/v3/i2c/i2ctest"

	"nightlight/hw/grovehat"
)

// Reading is what one round of Record read from the channel.
type Reading struct {
	Ratio, Millivolts, Raw int
}

// Record runs the grovehat driver on bus through an i2ctest.Record: New (the
// probe), then n rounds of Ratio, Millivolts and Raw of channel ch. It
// returns the recorded transactions and what the driver read; on an error the
// transactions up to it are returned too.
func Record(bus i2c.Bus, opts *grovehat.Opts, ch, n int) ([]i2ctest.IO, []Reading, error) {
	rec := &i2ctest.Record{Bus: bus}
	ops := func() []i2ctest.IO {
		rec.Lock()
		defer rec.Unlock()
		return append([]i2ctest.IO(nil), rec.Ops...)
	}
	d, err := grovehat.New(rec, opts)
	if err != nil {
		return ops(), nil, err
	}
	var readings []Reading
	for range n {
		var r Reading
		var errs [3]error
		r.Ratio, errs[0] = d.Ratio(ch)
		r.Millivolts, errs[1] = d.Millivolts(ch)
		r.Raw, errs[2] = d.Raw(ch)
		if err := errors.Join(errs[:]...); err != nil {
			return ops(), readings, err
		}
		readings = append(readings, r)
	}
	return ops(), readings, nil
}

// Recording is one recorded session with a hat, as stored in testdata/.
type Recording struct {
	Board    string       // what was recorded: the hat's version and batch, the Pi and its OS
	Addr     uint16       // the address asked for; 0 probed 0x04, then 0x08
	Channel  int          // the analog channel read
	Ops      []i2ctest.IO // the transfers, as the bus saw them
	Readings []Reading    // what the driver read in each round
}

// Save writes rec to path as indented JSON.
func Save(path string, rec Recording) error {
	b, err := json.MarshalIndent(rec, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// Load reads a Recording that Save wrote.
func Load(path string) (Recording, error) {
	var rec Recording
	b, err := os.ReadFile(path)
	if err != nil {
		return rec, err
	}
	if err := json.Unmarshal(b, &rec); err != nil {
		return rec, fmt.Errorf("grovehatsmoketest: %s: %w", path, err)
	}
	return rec, nil
}

// Play runs the driver as Record did on a playback of rec's transfers: it
// must make exactly those transfers, all of them, and read rec's readings.
func Play(rec Recording) error {
	pb := &i2ctest.Playback{Ops: rec.Ops, DontPanic: true}
	d, err := grovehat.New(pb, &grovehat.Opts{Addr: rec.Addr})
	if err != nil {
		return fmt.Errorf("grovehatsmoketest: play %s: %w", rec.Board, err)
	}
	for i, want := range rec.Readings {
		var got Reading
		var errs [3]error
		got.Ratio, errs[0] = d.Ratio(rec.Channel)
		got.Millivolts, errs[1] = d.Millivolts(rec.Channel)
		got.Raw, errs[2] = d.Raw(rec.Channel)
		if err := errors.Join(errs[:]...); err != nil {
			return fmt.Errorf("grovehatsmoketest: play %s, round %d: %w", rec.Board, i+1, err)
		}
		if got != want {
			return fmt.Errorf("grovehatsmoketest: play %s, round %d: read %+v, recorded %+v", rec.Board, i+1, got, want)
		}
	}
	if err := pb.Close(); err != nil {
		return fmt.Errorf("grovehatsmoketest: play %s: %w", rec.Board, err)
	}
	return nil
}

// WriteGo writes ops as a Go []i2ctest.IO literal, ready for an
// i2ctest.Playback.
func WriteGo(w io.Writer, ops []i2ctest.IO) error {
	var b strings.Builder
	b.WriteString("[]i2ctest.IO{\n")
	for _, op := range ops {
		fmt.Fprintf(&b, "\t{Addr: 0x%02x, W: %s, R: %s},\n", op.Addr, goBytes(op.W), goBytes(op.R))
	}
	b.WriteString("}\n")
	_, err := io.WriteString(w, b.String())
	return err
}

func goBytes(p []byte) string {
	if p == nil {
		return "nil"
	}
	s := make([]string, len(p))
	for i, c := range p {
		s[i] = fmt.Sprintf("0x%02x", c)
	}
	return "[]byte{" + strings.Join(s, ", ") + "}"
}
