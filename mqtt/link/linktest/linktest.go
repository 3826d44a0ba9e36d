// Package linktest is a connection to no broker, for testing code that
// takes a link.Link through a small interface of its own (the device's and
// the server's Conn), as periph's i2ctest stands in for a bus.
//
// A Conn records subscriptions and what is published. The test drives it:
// Connect and Lose raise the connection events, Deliver hands a message to
// the handler whose filter matches its topic, and Fail makes publishes fail.
// While up, a publish is acknowledged at once.
package linktest

import (
	"context"
	"errors"
	"strings"
	"sync"

	"nightlight/mqtt/link"
)

// Conn is a fake link. Its zero value is not ready: use New.
type Conn struct {
	mu         sync.Mutex
	subs       []subscription
	connectFns []func()
	lostFns    []func(error)
	up         bool
	fail       error
	published  chan link.Message
}

type subscription struct {
	filter string
	h      link.Handler
}

// published holds this many messages for Published's reader; a test that
// publishes more without reading them fails loudly rather than block.
const publishedCap = 4096

// New returns a Conn that is down, as a link before it connects.
func New() *Conn {
	return &Conn{published: make(chan link.Message, publishedCap)}
}

// Broker names the fake broker.
func (c *Conn) Broker() string { return "fake://linktest" }

// Subscribe registers h for messages whose topic matches filter.
func (c *Conn) Subscribe(filter string, h link.Handler) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.subs = append(c.subs, subscription{filter, h})
}

// OnConnect registers f, called by Connect.
func (c *Conn) OnConnect(f func()) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.connectFns = append(c.connectFns, f)
}

// OnLost registers f, called by Lose.
func (c *Conn) OnLost(f func(error)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.lostFns = append(c.lostFns, f)
}

// Connected reports whether the fake is up.
func (c *Conn) Connected() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.up
}

// Publish records m (a copy) and returns its Delivery: acknowledged while
// up, ErrNotConnected while down, or the error Fail set.
func (c *Conn) Publish(m link.Message) link.Delivery {
	c.mu.Lock()
	up, fail := c.up, c.fail
	c.mu.Unlock()
	if !up {
		return delivery{link.ErrNotConnected}
	}
	if fail != nil {
		return delivery{fail}
	}
	m.Payload = append([]byte(nil), m.Payload...)
	select {
	case c.published <- m:
	default:
		panic("linktest: more than 4096 published messages nobody read")
	}
	return delivery{}
}

// Published receives every message published while up, in order.
func (c *Conn) Published() <-chan link.Message { return c.published }

// Connect brings the fake up and calls the OnConnect functions, in the
// caller's goroutine, as a link does once subscribed.
func (c *Conn) Connect() {
	c.mu.Lock()
	c.up = true
	fns := c.connectFns
	c.mu.Unlock()
	for _, f := range fns {
		f()
	}
}

// Lose takes the fake down and calls the OnLost functions.
func (c *Conn) Lose() {
	c.mu.Lock()
	c.up = false
	fns := c.lostFns
	c.mu.Unlock()
	for _, f := range fns {
		f(errors.New("linktest: connection lost"))
	}
}

// Fail makes every later publish fail with err, as an unconfirmed delivery
// does (wrapping link.ErrUnconfirmed); nil makes them succeed again.
func (c *Conn) Fail(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err != nil {
		err = errors.Join(link.ErrUnconfirmed, err)
	}
	c.fail = err
}

// Deliver hands m to every handler whose filter matches m.Topic, in the
// caller's goroutine, and reports whether one did.
func (c *Conn) Deliver(m link.Message) bool {
	c.mu.Lock()
	subs := c.subs
	c.mu.Unlock()
	found := false
	for _, s := range subs {
		if Match(s.filter, m.Topic) {
			s.h(m)
			found = true
		}
	}
	return found
}

// Match reports whether an MQTT topic filter ("+" one level, "#" the rest)
// matches topic.
func Match(filter, topic string) bool {
	f, t := strings.Split(filter, "/"), strings.Split(topic, "/")
	for i, level := range f {
		switch {
		case level == "#":
			return true
		case i >= len(t):
			return false
		case level != "+" && level != t[i]:
			return false
		}
	}
	return len(f) == len(t)
}

type delivery struct{ err error }

func (d delivery) Wait(context.Context) error { return d.err }
