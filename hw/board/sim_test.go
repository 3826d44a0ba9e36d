package board

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpiotest"

	"nightlight/hw/grovehat/grovehatsim"
)

func openSim(t *testing.T, cfg Config) *Board {
	t.Helper()
	cfg.Hardware = Sim
	b, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

func writeFile(t *testing.T, path, s string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestSimLightFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "light")
	writeFile(t, path, "640\n")
	b := openSim(t, Config{SimLight: path})
	for _, s := range []string{"640\n", " 12 ", "0", "1000"} {
		writeFile(t, path, s)
		got, err := b.Light()
		if err != nil {
			t.Fatal(err)
		}
		if want := strings.TrimSpace(s); want != strconv.Itoa(got) {
			t.Fatalf("file %q: Light() = %d", s, got)
		}
	}
	// The level went through the emulated hat's ratio register and the
	// grovehat driver: three reads per sample by default, each a register
	// select and a read.
	before := simHatOf(b).Transactions()
	if _, err := b.Light(); err != nil {
		t.Fatal(err)
	}
	if n := simHatOf(b).Transactions() - before; n != 6 {
		t.Fatalf("%d bus transactions per sample, want 6", n)
	}
	if !strings.HasSuffix(b.String(), "light from file "+path) {
		t.Fatalf("String() = %q", b.String())
	}
}

func TestSimLightFileErrors(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "light")
	b := openSim(t, Config{SimLight: path})
	tests := []struct {
		content *string
		want    string
	}{
		{nil, "sim: light file " + path + " does not exist: create it holding a whole number 0..1000 (e.g. echo 500 > " + path + ")"},
		{ptr("abc"), `sim: light file ` + path + ` holds "abc": write a whole number 0..1000`},
		{ptr(""), `sim: light file ` + path + ` holds "": write a whole number 0..1000`},
		{ptr("1001"), `sim: light file ` + path + ` holds "1001": write a whole number 0..1000`},
		{ptr("-1"), `sim: light file ` + path + ` holds "-1": write a whole number 0..1000`},
		{ptr("12.5"), `sim: light file ` + path + ` holds "12.5": write a whole number 0..1000`},
		{ptr(strings.Repeat("x", 100)), `sim: light file ` + path + ` holds "xxxxxxxxxxxxxxxxxxxx...": write a whole number 0..1000`},
	}
	for _, tt := range tests {
		os.Remove(path)
		if tt.content != nil {
			writeFile(t, path, *tt.content)
		}
		_, err := b.Light()
		if err == nil || err.Error() != tt.want {
			t.Errorf("\n got  %v\n want %s", err, tt.want)
		}
	}
	// A directory cannot be read as a file.
	b2 := openSim(t, Config{SimLight: dir})
	if _, err := b2.Light(); err == nil || !strings.Contains(err.Error(), "is a directory") {
		t.Errorf("directory: %v", err)
	}
}

// TestSimCurve walks an injected clock through two periods and checks that
// the level is bright by day, dark by night, and crosses 300 both ways once
// per period.
func TestSimCurve(t *testing.T) {
	const period = 10 * time.Minute
	b := openSim(t, Config{SimPeriod: period})
	var mu sync.Mutex
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	b.now = func() time.Time { mu.Lock(); defer mu.Unlock(); return now }

	const steps = 120 // per period
	var ups, downs, lo, hi = 0, 0, 1000, 0
	prev := -1
	for i := 0; i < 2*steps; i++ {
		v, err := b.Light()
		if err != nil {
			t.Fatal(err)
		}
		lo, hi = min(lo, v), max(hi, v)
		if prev >= 0 {
			if prev < 300 && v >= 300 {
				ups++
			}
			if prev >= 300 && v < 300 {
				downs++
			}
			if d := v - prev; d > 150 || d < -150 {
				t.Fatalf("step %d: %d -> %d is not smooth", i, prev, v)
			}
		}
		prev = v
		mu.Lock()
		now = now.Add(period / steps)
		mu.Unlock()
	}
	if ups != 2 || downs != 2 {
		t.Errorf("crossed 300 up %d and down %d times in 2 periods, want 2 and 2", ups, downs)
	}
	if hi < 800 || hi > 900 || lo < 50 || lo > 100 {
		t.Errorf("range %d..%d, want day 800..900 and night 50..100", lo, hi)
	}
	if !strings.Contains(b.String(), "light from a 10m0s day/night curve") {
		t.Errorf("String() = %q", b.String())
	}
}

func TestCurve(t *testing.T) {
	p := time.Hour
	at := func(frac float64) int { return curve(time.Unix(0, int64(frac*float64(p))), p) }
	if v := at(0); v < 440 || v > 480 {
		t.Errorf("dawn = %d", v)
	}
	if v := at(0.25); v != simDay {
		t.Errorf("noon = %d", v)
	}
	if v := at(0.75); v != simNight {
		t.Errorf("midnight = %d", v)
	}
	if a, b := at(0.25), at(1.25); a != b {
		t.Errorf("not periodic: %d %d", a, b)
	}
	if v := curve(time.Unix(-1800, 0), p); v != at(0.5) {
		t.Errorf("before the epoch: %d", v)
	}
}

func TestMedianFiltersGlitch(t *testing.T) {
	path := filepath.Join(t.TempDir(), "light")
	writeFile(t, path, "200")
	b := openSim(t, Config{SimLight: path})
	simHatOf(b).Glitch(0, 1000) // one read of the three says full light
	if v, err := b.Light(); err != nil || v != 200 {
		t.Fatalf("Light() = %d, %v; want 200 despite a glitch", v, err)
	}
	// A failed read is a glitch too: the two others decide.
	simHatOf(b).FailNext(errors.New("remote I/O error"))
	if v, err := b.Light(); err != nil || v != 200 {
		t.Fatalf("Light() = %d, %v; want 200 despite a failed read", v, err)
	}
	// Two failures out of three fail the sample.
	boom := errors.New("remote I/O error")
	simHatOf(b).FailNext(boom)
	simHatOf(b).FailNext(boom)
	if _, err := b.Light(); !errors.Is(err, boom) || !strings.Contains(err.Error(), "2 of 3 reads failed") {
		t.Fatalf("Light() error = %v", err)
	}
	// With one read per sample, nothing is filtered.
	b1 := openSim(t, Config{SimLight: path, Samples: 1})
	simHatOf(b1).Glitch(0, 1000)
	if v, _ := b1.Light(); v != 1000 {
		t.Fatalf("Samples 1: Light() = %d, want the glitch", v)
	}
}

func TestMedian(t *testing.T) {
	tests := []struct {
		in   []int
		want int
	}{
		{[]int{5}, 5},
		{[]int{3, 1, 2}, 2},
		{[]int{1000, 200, 201}, 201},
		{[]int{100, 300}, 200},
		{[]int{9, 1, 8, 2, 7}, 7},
	}
	for _, tt := range tests {
		if got := median(append([]int(nil), tt.in...)); got != tt.want {
			t.Errorf("median(%v) = %d, want %d", tt.in, got, tt.want)
		}
	}
}

func TestSimLEDAndClose(t *testing.T) {
	b := openSim(t, Config{LEDPin: "GPIO16"})
	if b.LED() || simPinOf(b).Read() != gpio.Low {
		t.Fatal("LED not off at start")
	}
	if err := b.SetLED(true); err != nil {
		t.Fatal(err)
	}
	if !b.LED() || simPinOf(b).Read() != gpio.High {
		t.Fatal("SetLED(true) did not light the pin")
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if b.LED() || simPinOf(b).Read() != gpio.Low {
		t.Fatal("Close left the LED on")
	}
	if err := b.Close(); err != nil {
		t.Fatal("second Close:", err)
	}
	if _, err := b.Light(); err == nil {
		t.Fatal("Light after Close succeeded")
	}
	if err := b.SetLED(true); err == nil {
		t.Fatal("SetLED after Close succeeded")
	}
	if _, err := b.Inspect(); err == nil {
		t.Fatal("Inspect after Close succeeded")
	}

	b2 := openSim(t, Config{})
	if err := b2.SetLED(true); err != nil {
		t.Fatal(err)
	}
	if err := b2.Release(); err != nil {
		t.Fatal(err)
	}
	if !b2.LED() || simPinOf(b2).Read() != gpio.High {
		t.Fatal("Release turned the LED off")
	}
	if err := b2.Close(); err != nil || simPinOf(b2).Read() != gpio.High {
		t.Fatal("Close after Release acted again", err)
	}
}

func TestSimInspect(t *testing.T) {
	path := filepath.Join(t.TempDir(), "light")
	writeFile(t, path, "500")
	b := openSim(t, Config{SimLight: path, Addr: 0x08, Channel: 2})
	d, err := b.Inspect()
	if err != nil {
		t.Fatal(err)
	}
	want := Details{Kind: "sim", Light: 500, Ratio: 500, Millivolts: 1650, Raw: 2048,
		ProductID: 0x0004, Firmware: 2, Addr: 0x08, Bus: "sim", LEDPin: "GPIO5"}
	if d != want {
		t.Fatalf("Inspect() = %+v\nwant %+v", d, want)
	}
	wantText := `kind:       sim
light:      500
ratio:      500
millivolts: 1650
raw:        2048
product id: 0x0004
firmware:   2
addr:       0x08
bus:        sim
led pin:    GPIO5`
	if s := d.String(); s != wantText {
		t.Fatalf("Details.String():\n%s\nwant:\n%s", s, wantText)
	}
	if s, want := b.String(), "simulated Grove Base Hat (product 0x0004, firmware 2) at addr 0x08, LED on GPIO5 (simulated), light from file "+path; s != want {
		t.Fatalf("String() = %q\nwant %q", s, want)
	}
}

// TestSimConcurrent is meant for -race: sampling and the LED from two
// goroutines, as the daemon does.
func TestSimConcurrent(t *testing.T) {
	b := openSim(t, Config{SimPeriod: time.Minute})
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		for i := 0; i < 20; i++ {
			if _, err := b.Light(); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	go func() {
		defer wg.Done()
		for i := 0; i < 20; i++ {
			if err := b.SetLED(i%2 == 0); err != nil {
				t.Error(err)
				return
			}
			_ = b.LED()
		}
	}()
	wg.Wait()
}

func TestOpenValidates(t *testing.T) {
	if _, err := Open(Config{Hardware: "grovhat"}); err == nil || err.Error() != `hardware "grovhat": must be grovehat, ads1115 or sim` {
		t.Fatalf("Open: %v", err)
	}
}

func ptr(s string) *string { return &s }

// simHatOf is the emulated hat of a board opened with sim and no alert pin.
func simHatOf(b *Board) *grovehatsim.Hat { return b.sensor.(*simHat).sim }

// simPinOf is the fake LED pin of a board opened with sim.
func simPinOf(b *Board) *gpiotest.Pin { return b.pin.(*gpiotest.Pin) }
