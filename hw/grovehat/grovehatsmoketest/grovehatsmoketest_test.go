package grovehatsmoketest

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"periph.io/x/conn/v3/i2c/i2creg"
	"periph.io/x/conn/v3/i2c/i2ctest"
	"periph.io/x/host/v3"

	"nightlight/hw/grovehat"
	"nightlight/hw/grovehat/grovehatsim"
)

var (
	record = flag.Bool("record", false, "record a real Grove Base Hat's I2C traffic (needs the hardware)")
	busFlg = flag.String("bus", "1", "I2C bus to record on")
	addr   = flag.Uint("addr", 0, "hat address; 0 probes 0x04 then 0x08")
	ch     = flag.Int("ch", 0, "analog channel to read")
	rounds = flag.Int("n", 3, "rounds of ratio, millivolts and raw to record")
	out    = flag.String("out", "", "with -record: store the session in this file (testdata/NAME.json joins the tests)")
	board  = flag.String("board", "", "with -out: what is recorded (hat version and batch, Pi, OS)")
)

// TestHardware records a real hat. It runs only with -record, on a Pi with
// the hat; elsewhere it is skipped.
func TestHardware(t *testing.T) {
	if !*record {
		t.Skip("needs a Grove Base Hat: go test ./hw/grovehat/grovehatsmoketest -run Hardware -v -args -record")
	}
	if _, err := host.Init(); err != nil {
		t.Fatal(err)
	}
	bus, err := i2creg.Open(*busFlg)
	if err != nil {
		t.Fatal(err)
	}
	defer bus.Close()
	ops, readings, err := Record(bus, &grovehat.Opts{Addr: uint16(*addr)}, *ch, *rounds)
	if werr := WriteGo(os.Stdout, ops); werr != nil {
		t.Error(werr)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("A%d: %+v", *ch, readings)
	if *out != "" {
		if *board == "" {
			t.Fatal("-out needs -board: say which hat, Pi and OS were recorded")
		}
		rec := Recording{Board: *board, Addr: uint16(*addr), Channel: *ch, Ops: ops, Readings: readings}
		if err := Save(*out, rec); err != nil {
			t.Fatal(err)
		}
		if err := Play(rec); err != nil {
			t.Fatalf("the recording does not play back: %v", err)
		}
		t.Logf("stored in %s; commit it and TestRecordings plays it back", *out)
	}
}

// TestRecordings plays back every session stored in testdata/.
func TestRecordings(t *testing.T) {
	files, err := filepath.Glob("testdata/*.json")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no recordings in testdata/")
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			rec, err := Load(f)
			if err != nil {
				t.Fatal(err)
			}
			if len(rec.Ops) == 0 || len(rec.Readings) == 0 {
				t.Fatalf("%s holds %d transfers and %d readings", f, len(rec.Ops), len(rec.Readings))
			}
			if err := Play(rec); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestPlayCatchesChanges: a playback fails when the driver reads otherwise
// than recorded, or reads something else.
func TestPlayCatchesChanges(t *testing.T) {
	hat := grovehatsim.New()
	hat.SetRatio(0, 250)
	ops, readings, err := Record(hat, nil, 0, 1)
	if err != nil {
		t.Fatal(err)
	}
	rec := Recording{Board: "emulated", Ops: ops, Readings: readings}
	if err := Play(rec); err != nil {
		t.Fatal(err)
	}
	changed := rec
	changed.Readings = []Reading{{Ratio: 251, Millivolts: readings[0].Millivolts, Raw: readings[0].Raw}}
	if err := Play(changed); err == nil {
		t.Error("a different reading played back without error")
	}
	short := rec
	short.Ops = rec.Ops[:len(rec.Ops)-1]
	if err := Play(short); err == nil {
		t.Error("a recording missing its last transfer played back without error")
	}
}

// TestRecordPlayback records the emulated hat and plays the recording back
// through the driver: what Record captures is a valid playback script.
func TestRecordPlayback(t *testing.T) {
	hat := grovehatsim.New()
	hat.SetAddr(0x08)
	hat.SetRatio(2, 640)
	ops, readings, err := Record(hat, nil, 2, 2)
	if err != nil {
		t.Fatal(err)
	}
	want := Reading{Ratio: 640, Millivolts: 2112, Raw: 2621}
	if len(readings) != 2 || readings[0] != want || readings[1] != want {
		t.Fatalf("readings %+v, want 2 x %+v", readings, want)
	}
	// Only what reached the bus successfully is recorded: the NACK at 0x04
	// is not. Each read is two transfers: the register alone, then the
	// register and the read.
	if len(ops) != 2*(2+2*3) || ops[0].Addr != 0x08 {
		t.Fatalf("recorded %d ops starting at %#x", len(ops), ops[0].Addr)
	}

	pb := &i2ctest.Playback{Ops: ops, DontPanic: true}
	d, err := grovehat.New(pb, &grovehat.Opts{Addr: 0x08})
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		r, _ := d.Ratio(2)
		mv, _ := d.Millivolts(2)
		raw, _ := d.Raw(2)
		if got := (Reading{r, mv, raw}); got != want {
			t.Fatalf("played back %+v, want %+v", got, want)
		}
	}
	if err := pb.Close(); err != nil {
		t.Fatal(err)
	}

	var b strings.Builder
	if err := WriteGo(&b, ops[:4]); err != nil {
		t.Fatal(err)
	}
	wantGo := "[]i2ctest.IO{\n" +
		"\t{Addr: 0x08, W: []byte{0x00}, R: nil},\n" +
		"\t{Addr: 0x08, W: []byte{0x00}, R: []byte{0x04, 0x00}},\n" +
		"\t{Addr: 0x08, W: []byte{0x02}, R: nil},\n" +
		"\t{Addr: 0x08, W: []byte{0x02}, R: []byte{0x02, 0x00}},\n" +
		"}\n"
	if b.String() != wantGo {
		t.Fatalf("WriteGo:\n%s\nwant:\n%s", b.String(), wantGo)
	}
	if s := goBytes(nil); s != "nil" {
		t.Fatal(s)
	}
}

func TestRecordError(t *testing.T) {
	hat := grovehatsim.New()
	hat.SetFirmware(1)
	ops, _, err := Record(hat, nil, 0, 1)
	if err == nil || len(ops) != 4 {
		t.Fatalf("v0.1: %v after %d ops", err, len(ops))
	}
}
