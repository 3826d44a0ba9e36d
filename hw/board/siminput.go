package board

import (
	"sync"
	"time"
)

// simConvertEvery is how often the emulated ADS1115 converts when nothing
// tells it that its input changed: the day/night curve, and a light file on
// a system without file change notifications. It costs the simulation a
// wake-up per period; a real chip converts without the Pi's help.
const simConvertEvery = 100 * time.Millisecond

// siminput drives the emulated ADS1115's conversions: at once when the light
// file changes, where the system can tell (Linux), else every
// simConvertEvery. It owns one goroutine, ended by stop.
type siminput struct {
	stopOnce sync.Once
	quit     chan struct{}
	done     chan struct{}
	closeFn  func() error // unblocks the goroutine's wait, if it waits on a file
}

// startTicking converts every simConvertEvery.
func startTicking(convert func() error) *siminput {
	s := &siminput{quit: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		t := time.NewTicker(simConvertEvery)
		defer t.Stop()
		for {
			select {
			case <-s.quit:
				return
			case <-t.C:
				convert() // a bad light file shows at the next sample
			}
		}
	}()
	return s
}

// stop ends the goroutine, waiting for it at most closeWait: a light file
// that blocks a read (a FIFO nobody writes) must not hang Close.
func (s *siminput) stop() {
	s.stopOnce.Do(func() {
		close(s.quit)
		if s.closeFn != nil {
			s.closeFn()
		}
		t := time.NewTimer(closeWait)
		defer t.Stop()
		select {
		case <-s.done:
		case <-t.C:
		}
	})
}
