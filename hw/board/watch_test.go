package board

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpiotest"
	"periph.io/x/conn/v3/i2c/i2ctest"
)

// setFile replaces path's content the way tests and scripts do: write a
// temporary file and rename it into place.
func setFile(t *testing.T, path, s string) {
	t.Helper()
	tmp := path + ".tmp"
	writeFile(t, tmp, s)
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// drain forgets an alert already waiting.
func drain(b *Board) {
	select {
	case <-b.Alerts():
	default:
	}
}

// lightIs waits until Light reads level: the emulated chip converts when
// the simulation learns of the file's change, a moment after it is made.
func lightIs(t *testing.T, b *Board, level int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		v, err := b.Light()
		if err == nil && v == level {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("Light() = %d, %v after 5s; want %d", v, err, level)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func alerted(b *Board, within time.Duration) bool {
	select {
	case <-b.Alerts():
		return true
	case <-time.After(within):
		return false
	}
}

// TestSimAlert: with an alert pin, sim emulates an ADS1115 whose window
// comparator wakes the daemon when the light file leaves the window, and
// stays quiet while it does not.
func TestSimAlert(t *testing.T) {
	path := filepath.Join(t.TempDir(), "light")
	writeFile(t, path, "500\n")
	b := openSim(t, Config{SimLight: path, AlertPin: "GPIO6", Channel: 2})
	if s := b.String(); !strings.Contains(s, "simulated ADS1115 channel A2") || !strings.Contains(s, "ALERT/RDY on GPIO6") {
		t.Errorf("String() = %q", s)
	}
	if v, err := b.Light(); err != nil || v != 500 {
		t.Fatalf("Light() = %d, %v; want 500", v, err)
	}
	if err := b.Watch(471, 529); err != nil {
		t.Fatal(err)
	}
	setFile(t, path, "510\n") // inside
	lightIs(t, b, 510)
	if alerted(b, 300*time.Millisecond) {
		t.Fatal("alert for a level inside the window")
	}
	for _, tc := range []struct {
		text  string
		level int
	}{{"100\n", 100}, {"900", 900}} {
		setFile(t, path, "500\n") // back inside, then armed
		lightIs(t, b, 500)
		if err := b.Watch(471, 529); err != nil {
			t.Fatal(err)
		}
		drain(b)
		setFile(t, path, tc.text)
		if !alerted(b, 5*time.Second) {
			t.Fatalf("no alert within 5s after the light went to %d", tc.level)
		}
		if v, err := b.Light(); err != nil || v != tc.level {
			t.Fatalf("Light() after the alert = %d, %v; want %d", v, err, tc.level)
		}
	}
	// A file written in place (echo 100 > file) is seen too.
	if err := b.Watch(871, 929); err != nil {
		t.Fatal(err)
	}
	drain(b)
	writeFile(t, path, "300\n")
	if !alerted(b, 5*time.Second) {
		t.Fatal("no alert after the file was written in place")
	}
	d, err := b.Inspect()
	if err != nil || d.Light != 300 || d.Bus != "sim" || !strings.Contains(d.String(), "product id: n/a") {
		t.Fatalf("Inspect() = %+v, %v", d, err)
	}
}

// TestSimAlertCurve: without a light file the emulated chip converts the
// day/night curve on its own, and alerts when it leaves the window.
func TestSimAlertCurve(t *testing.T) {
	b := openSim(t, Config{AlertPin: "GPIO6", SimPeriod: 2 * time.Second})
	v, err := b.Light()
	if err != nil {
		t.Fatal(err)
	}
	lo, hi := max(v-5, 0), min(v+5, 1000)
	if err := b.Watch(lo, hi); err != nil {
		t.Fatal(err)
	}
	// Within a period the curve goes from day to night and back.
	if !alerted(b, 5*time.Second) {
		t.Fatal("no alert from the day/night curve")
	}
	if v, err := b.Light(); err != nil || v >= lo && v <= hi {
		t.Fatalf("Light() after the alert = %d, %v; want outside %d..%d", v, err, lo, hi)
	}
}

// TestWatchWithoutAlertPin: a polled board says so.
func TestWatchWithoutAlertPin(t *testing.T) {
	b := openSim(t, Config{SimPeriod: time.Minute})
	if b.Alerts() != nil {
		t.Error("Alerts() is not nil without an alert pin")
	}
	if err := b.Watch(0, 1000); err == nil || !strings.Contains(err.Error(), "no alert pin") {
		t.Errorf("Watch() = %v, want an error naming the missing alert pin", err)
	}
}

// TestSimAlertClose: Close ends the watcher and the file watch; nothing is
// left running, and Watch after Close fails.
func TestSimAlertClose(t *testing.T) {
	path := filepath.Join(t.TempDir(), "light")
	writeFile(t, path, "500\n")
	before := runtime.NumGoroutine()
	for range 5 {
		b, err := Open(Config{Hardware: Sim, SimLight: path, AlertPin: "GPIO6"})
		if err != nil {
			t.Fatal(err)
		}
		if err := b.Watch(0, 10); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		if err := b.Close(); err != nil {
			t.Fatal(err)
		}
		if took := time.Since(start); took > time.Second {
			t.Errorf("Close took %s", took)
		}
		if err := b.Watch(0, 10); err == nil {
			t.Error("Watch after Close worked")
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		t.Errorf("%d goroutines after 5 opens and closes, %d before", n, before)
	}
}

// edgePin is an alert pin as periph's GPIO drivers have them: edges come
// from the test, and Halt or In (edges off) unblocks a waiting WaitForEdge.
type edgePin struct {
	gpiotest.Pin
	mu      sync.Mutex
	edge    gpio.Edge
	edges   chan struct{}
	unblock chan struct{}
	halted  bool
}

func newEdgePin(name string) *edgePin {
	return &edgePin{Pin: gpiotest.Pin{N: name}, edges: make(chan struct{}, 1), unblock: make(chan struct{})}
}

func (p *edgePin) In(pull gpio.Pull, edge gpio.Edge) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if pull != gpio.PullNoChange {
		p.P = pull
	}
	p.edge = edge
	if edge == gpio.NoEdge && !p.halted {
		p.halted = true
		close(p.unblock)
	}
	return nil
}

func (p *edgePin) Halt() error { return p.In(gpio.PullNoChange, gpio.NoEdge) }

func (p *edgePin) WaitForEdge(timeout time.Duration) bool {
	select {
	case <-p.edges:
		return true
	case <-p.unblock:
		return false
	case <-time.After(timeout):
		return false
	}
}

func (p *edgePin) fall() { p.edges <- struct{}{} }

// TestOpenAlertPin: on real hardware the alert pin is looked up, set up
// with the pull-up for falling edges, watched, and let go by Close.
func TestOpenAlertPin(t *testing.T) {
	alert := newEdgePin("GPIO6")
	bus := &closeCounter{BusCloser: &i2ctest.Playback{Ops: []i2ctest.IO{
		{Addr: 0x48, W: []byte{0x01}, R: []byte{0x85, 0x83}},
	}, DontPanic: true}}
	sys := &fakeSystem{bus: bus, pins: map[string]gpio.PinIO{"GPIO5": &gpiotest.Pin{N: "GPIO5"}, "GPIO6": alert}}
	b, err := open(Config{Hardware: ADS1115, AlertPin: "GPIO6"}, sys.system(), time.Now, false)
	if err != nil {
		t.Fatal(err)
	}
	if alert.P != gpio.PullUp || alert.edge != gpio.FallingEdge {
		t.Errorf("alert pin set up with %s, %s; want PullUp, FallingEdge: ALERT/RDY is open drain, active low", alert.P, alert.edge)
	}
	if want := "ADS1115 channel A0 at I2C 1 addr 0x48, ALERT/RDY on GPIO6, LED on GPIO5"; b.String() != want {
		t.Errorf("String() = %q, want %q", b.String(), want)
	}
	alert.fall()
	if !alerted(b, 5*time.Second) {
		t.Fatal("a falling edge on the alert pin did not reach Alerts")
	}
	start := time.Now()
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > time.Second {
		t.Errorf("Close took %s: the watcher was not unblocked", took)
	}
	if bus.closes != 1 {
		t.Errorf("bus closed %d times", bus.closes)
	}
}

// TestOpenAlertPinMissing: a wrong alert pin name is explained, and the bus
// opened before is closed again.
func TestOpenAlertPinMissing(t *testing.T) {
	bus := &closeCounter{BusCloser: &i2ctest.Playback{Ops: []i2ctest.IO{
		{Addr: 0x48, W: []byte{0x01}, R: []byte{0x85, 0x83}},
	}, DontPanic: true}}
	sys := &fakeSystem{bus: bus, pins: map[string]gpio.PinIO{"GPIO5": &gpiotest.Pin{N: "GPIO5"}}, chips: []string{"/dev/gpiochip0"}}
	_, err := open(Config{Hardware: ADS1115, AlertPin: "GPIO66"}, sys.system(), time.Now, false)
	want := "alert pin GPIO66: no such pin on this machine: set alert-pin to the BCM GPIO name ALERT/RDY is wired to, such as GPIO6, or leave it empty to read the sensor every sample-every"
	if err == nil || err.Error() != want {
		t.Fatalf("open: %v\nwant %s", err, want)
	}
	if bus.closes != 1 {
		t.Errorf("bus closed %d times, want once", bus.closes)
	}
}

// TestSimAlertBadFile: a light file that cannot be read fails the sample,
// as with the emulated hat, instead of repeating the last conversion; a
// good one is read again.
func TestSimAlertBadFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "light")
	writeFile(t, path, "500\n")
	b := openSim(t, Config{SimLight: path, AlertPin: "GPIO6"})
	if err := b.Watch(471, 529); err != nil {
		t.Fatal(err)
	}
	setFile(t, path, "dark\n")
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, err := b.Light()
		if err != nil {
			if !strings.Contains(err.Error(), `holds "dark"`) {
				t.Fatalf("Light() error %q, want the light file's content named", err)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("a bad light file still gives readings after 5s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	setFile(t, path, "42\n")
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if v, err := b.Light(); err == nil && v == 42 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no reading of 42 within 5s after the file was fixed")
		}
	}
}

// bcmPin waits for edges as periph's bcm283x pins do (host v3.8.5,
// bcm283x/gpio.go): it has no Close; Halt wakes a wait under way only while
// edge detection is on, and turns it off; In with NoEdge halts only while it
// is on; In with an edge turns it on. A wait that starts after a Halt lasts
// its whole timeout. gate, when set, holds WaitForEdge before its wait
// starts: the watcher between two waits.
type bcmPin struct {
	gpiotest.Pin
	mu        sync.Mutex
	usingEdge bool
	wake      chan struct{}
	gate      chan struct{}
	entered   chan struct{}
}

func newBCMPin() *bcmPin {
	return &bcmPin{Pin: gpiotest.Pin{N: "GPIO6"}, wake: make(chan struct{}),
		gate: make(chan struct{}), entered: make(chan struct{}, 1)}
}

func (p *bcmPin) halt() {
	if p.usingEdge {
		close(p.wake)
		p.wake = make(chan struct{})
		p.usingEdge = false
	}
}

func (p *bcmPin) Halt() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.halt()
	return nil
}

func (p *bcmPin) In(pull gpio.Pull, edge gpio.Edge) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if edge == gpio.NoEdge {
		p.halt()
		return nil
	}
	p.usingEdge = true
	return nil
}

func (p *bcmPin) WaitForEdge(timeout time.Duration) bool {
	select {
	case p.entered <- struct{}{}:
	default:
	}
	<-p.gate
	p.mu.Lock()
	wake := p.wake
	p.mu.Unlock()
	select {
	case <-wake:
	case <-time.After(timeout):
	}
	return false
}

// TestCloseBCMPin: closing the watcher of a bcm283x-like pin (a reload, or
// SIGTERM) ends its goroutine at once, even when the close comes while the
// watcher is between two waits: no stray wait of up to alertWaitBound is
// left on the pin for the next run's watcher to compete with.
func TestCloseBCMPin(t *testing.T) {
	p := newBCMPin()
	w, err := startAlerts(p)
	if err != nil {
		t.Fatal(err)
	}
	<-p.entered // the watcher is about to wait, not yet waiting
	closed := make(chan error, 1)
	start := time.Now()
	go func() { closed <- w.close() }()
	time.Sleep(50 * time.Millisecond) // close's first Halt and In came and went
	close(p.gate)                     // the wait starts now
	select {
	case err := <-closed:
		if err != nil {
			t.Fatalf("close: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("close did not return within 5s")
	}
	select {
	case <-w.done:
	default:
		t.Fatal("close returned with the watcher still waiting")
	}
	t.Logf("close took %s", time.Since(start).Round(time.Millisecond))
}
