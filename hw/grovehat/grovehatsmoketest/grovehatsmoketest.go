// Package grovehatsmoketest records a real Grove Base Hat's I²C traffic, so
// that what the hat actually answers can become an i2ctest.Playback script
// for the grovehat tests (as periph's bmxx80/bmx280smoketest does for the
// BMx280).
//
// On a Raspberry Pi with the hat, run
//
//	go test ./hw/grovehat/grovehatsmoketest -run Hardware -v -args -record -bus 1 -ch 0
//
// and paste the printed []i2ctest.IO into a test. Without -record the hardware
// test is skipped, never passed, so CI without a hat proves nothing about one.
package grovehatsmoketest

import (
	"errors"
	"fmt"
	"io"
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
