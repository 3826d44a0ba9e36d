package ads1115sim

import (
	"fmt"
	"sync"
	"time"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/pin"
)

// Pin is the Pi's GPIO input that ALERT/RDY is wired to. It implements
// gpio.PinIn.
//
// The line reads Low while the chip pulls it low and High while the chip
// releases it, as the pull-up holds it; with gpio.PullDown set, a released
// line reads Low too.
//
// Edge detection follows periph's gpio.PinIn contract: after In with an
// edge other than gpio.NoEdge, WaitForEdge returns true at once if a
// matching edge happened since its last return, else waits for one. Edges
// that happen while nobody waits collapse into one, as they may on Linux.
// WaitForEdge returns false on its timeout, and when Halt or In is called
// while it waits (Halt as on periph's GPIO character-device lines).
type Pin struct {
	name string

	mu      sync.Mutex
	low     bool // the chip pulls the line low
	pull    gpio.Pull
	edge    gpio.Edge
	pending bool          // a matching edge happened since WaitForEdge last returned
	wake    chan struct{} // closed and replaced to wake the waiters
}

func newPin(name string) *Pin {
	return &Pin{name: name, pull: gpio.Float, wake: make(chan struct{})}
}

// String implements conn.Resource.
func (p *Pin) String() string { return p.name }

// Name implements pin.Pin.
func (p *Pin) Name() string { return p.name }

// Number implements pin.Pin: -1, for no real GPIO number, as periph's
// pin.INVALID.
func (p *Pin) Number() int { return -1 }

// Function implements pin.Pin.
func (p *Pin) Function() string { return string(gpio.IN) }

// Halt implements conn.Resource: it makes a WaitForEdge under way return
// false. Edge detection stays as set.
func (p *Pin) Halt() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.wakeWaiters()
	return nil
}

// In implements gpio.PinIn. It sets the pull (gpio.PullNoChange keeps it)
// and the edges WaitForEdge waits for, forgets the edges seen so far, and
// makes a WaitForEdge under way return false.
func (p *Pin) In(pull gpio.Pull, edge gpio.Edge) error {
	switch pull {
	case gpio.Float, gpio.PullDown, gpio.PullUp, gpio.PullNoChange:
	default:
		return fmt.Errorf("ads1115sim: %s: unknown pull %d", p.name, pull)
	}
	switch edge {
	case gpio.NoEdge, gpio.RisingEdge, gpio.FallingEdge, gpio.BothEdges:
	default:
		return fmt.Errorf("ads1115sim: %s: unknown edge %d", p.name, edge)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if pull != gpio.PullNoChange {
		p.pull = pull
	}
	p.edge = edge
	p.pending = false
	p.wakeWaiters()
	return nil
}

// Read implements gpio.PinIn.
func (p *Pin) Read() gpio.Level {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.level()
}

// WaitForEdge implements gpio.PinIn. A timeout below 0 waits without limit;
// 0 does not wait. Without edge detection (In with gpio.NoEdge, or no In
// yet) it returns false at once, as there is nothing to wait for.
func (p *Pin) WaitForEdge(timeout time.Duration) bool {
	p.mu.Lock()
	if p.pending {
		p.pending = false
		p.mu.Unlock()
		return true
	}
	wake := p.wake
	idle := p.edge == gpio.NoEdge
	p.mu.Unlock()
	if idle || timeout == 0 {
		return false
	}

	var expired <-chan time.Time
	if timeout > 0 {
		t := time.NewTimer(timeout)
		defer t.Stop()
		expired = t.C
	}
	select {
	case <-wake: // an edge, Halt or In
	case <-expired:
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	edge := p.pending
	p.pending = false
	return edge
}

// Pull implements gpio.PinIn: the pull last set by In, gpio.Float before.
func (p *Pin) Pull() gpio.Pull {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.pull
}

// DefaultPull implements gpio.PinIn. It is gpio.PullNoChange: the default
// depends on which of the Pi's GPIOs the board uses.
func (p *Pin) DefaultPull() gpio.Pull { return gpio.PullNoChange }

// drive is the chip pulling the line low (true) or releasing it (false).
func (p *Pin) drive(low bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	before := p.level()
	p.low = low
	after := p.level()
	if before == after {
		return
	}
	if p.edge == gpio.BothEdges ||
		(p.edge == gpio.FallingEdge && after == gpio.Low) ||
		(p.edge == gpio.RisingEdge && after == gpio.High) {
		p.pending = true
		p.wakeWaiters()
	}
}

// level is the line's level; p.mu is held.
func (p *Pin) level() gpio.Level {
	return gpio.Level(!p.low && p.pull != gpio.PullDown)
}

// wakeWaiters makes every WaitForEdge under way look at the pin again; p.mu
// is held.
func (p *Pin) wakeWaiters() {
	close(p.wake)
	p.wake = make(chan struct{})
}

var (
	_ gpio.PinIn = (*Pin)(nil)
	_ pin.Pin    = (*Pin)(nil)
)
