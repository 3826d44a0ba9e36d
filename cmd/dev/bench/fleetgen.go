package main

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"nightlight/mqtt/wire"
)

// fleetGen plays many devices over a few MQTT connections: each publisher
// connection sends the readings of its share of the devices, one receiver
// connection takes every command (+/commands) and matches it to the
// reading it answers, which gives the reading-to-command latency.
type fleetGen struct {
	pubs []paho.Client
	recv paho.Client
	acks chan paho.Token // publishes awaiting their PUBACK, bounded: back-pressure

	mu       sync.Mutex
	devices  []devState // by device index
	lat      []time.Duration
	answered int
	sent     atomic.Int64

	ackDone chan struct{}
	ackErr  atomic.Value // the first publish that failed
}

// devState is a device's newest reading and whether it was answered.
type devState struct {
	seq      uint64
	at       time.Time
	answered bool
}

// deviceName is device i's id: f0000042.
func deviceName(i int) string { return fmt.Sprintf("f%07d", i) }

// deviceIndex parses a deviceName back, -1 for anything else.
func deviceIndex(id string) int {
	if len(id) != 8 || id[0] != 'f' {
		return -1
	}
	n, err := strconv.Atoi(id[1:])
	if err != nil {
		return -1
	}
	return n
}

const maxFleet = 1 << 20 // device indexes 0..maxFleet-1

func newFleetGen(url string, conns int) (*fleetGen, error) {
	g := &fleetGen{devices: make([]devState, maxFleet), acks: make(chan paho.Token, 8192), ackDone: make(chan struct{})}
	connect := func(id string) (paho.Client, error) {
		c := paho.NewClient(paho.NewClientOptions().AddBroker(url).SetClientID(id).SetCleanSession(true).
			SetOrderMatters(false).SetConnectTimeout(10 * time.Second).SetWriteTimeout(10 * time.Second).SetMaxResumePubInFlight(0))
		if t := c.Connect(); !t.WaitTimeout(15*time.Second) || t.Error() != nil {
			return nil, fmt.Errorf("fleet generator: connect %s: %v", id, t.Error())
		}
		return c, nil
	}
	var err error
	if g.recv, err = connect("fleet-commands"); err != nil {
		return nil, err
	}
	t := g.recv.Subscribe(wire.Topic(wire.AllDevices, wire.KindCommands), 1, g.onCommand)
	if !t.WaitTimeout(15*time.Second) || t.Error() != nil {
		g.recv.Disconnect(100)
		return nil, fmt.Errorf("fleet generator: subscribe to the commands: %v", t.Error())
	}
	for i := range conns {
		c, err := connect(fmt.Sprintf("fleet-devices-%d", i))
		if err != nil {
			g.close()
			return nil, err
		}
		g.pubs = append(g.pubs, c)
	}
	go g.waitAcks()
	return g, nil
}

// waitAcks waits for each publish's PUBACK in turn; it ends when acks is
// closed.
func (g *fleetGen) waitAcks() {
	defer close(g.ackDone)
	for t := range g.acks {
		if !t.WaitTimeout(30*time.Second) || t.Error() != nil {
			err := t.Error()
			if err == nil {
				err = errors.New("no PUBACK within 30 s")
			}
			g.ackErr.CompareAndSwap(nil, err)
		}
	}
}

func (g *fleetGen) close() {
	for _, c := range g.pubs {
		c.Disconnect(250)
	}
	if g.recv != nil {
		g.recv.Disconnect(250)
	}
	select {
	case <-g.ackDone:
	default:
		close(g.acks)
		select {
		case <-g.ackDone:
		case <-time.After(35 * time.Second):
		}
	}
}

// onCommand runs on paho's goroutine: match the command to its reading.
func (g *fleetGen) onCommand(_ paho.Client, m paho.Message) {
	now := time.Now()
	id, _, _ := wire.SplitTopic(m.Topic())
	i := deviceIndex(id)
	c, err := wire.ParseCommand(m.Payload())
	if i < 0 || err != nil {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	d := &g.devices[i]
	if c.Seq == d.seq && !d.answered {
		d.answered = true
		g.answered++
		g.lat = append(g.lat, now.Sub(d.at))
	}
}

// publish sends device i's reading seq on connection c.
func (g *fleetGen) publish(c paho.Client, i int, seq uint64, light int) error {
	if err, _ := g.ackErr.Load().(error); err != nil {
		return fmt.Errorf("fleet generator: a reading was not acknowledged by the broker: %w", err)
	}
	now := time.Now()
	g.mu.Lock()
	g.devices[i] = devState{seq: seq, at: now}
	g.mu.Unlock()
	var buf [64]byte
	p := wire.Telemetry{Light: light, Seq: seq, TS: now}.AppendJSON(buf[:0])
	g.acks <- c.Publish(wire.Topic(deviceName(i), wire.KindTelemetry), 1, false, p)
	g.sent.Add(1)
	return nil
}

// window is what the receiver saw since reset.
type window struct {
	answered int
	lat      []time.Duration
}

func (g *fleetGen) reset() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.answered, g.lat = 0, nil
	g.sent.Store(0)
}

func (g *fleetGen) take() window {
	g.mu.Lock()
	defer g.mu.Unlock()
	w := window{answered: g.answered, lat: g.lat}
	g.answered, g.lat = 0, nil
	return w
}

func (g *fleetGen) answeredCount() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.answered
}

// steady plays devices lo..hi-1, each sending a reading every interval,
// spread evenly over it, for d; each device's seqs count from 1.
func (g *fleetGen) steady(ctx context.Context, lo, hi int, interval, d time.Duration) error {
	n := hi - lo
	start := time.Now()
	sent := 0
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		elapsed := time.Since(start)
		if elapsed >= d {
			return nil
		}
		due := int(float64(n) * elapsed.Seconds() / interval.Seconds())
		for ; sent < due; sent++ {
			i := lo + sent%n
			if err := g.publish(g.pubs[sent%len(g.pubs)], i, uint64(sent/n)+1, (sent*37)%1001); err != nil {
				return err
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}

// blast sends one reading of each device lo..hi-1 as fast as they are
// answered, with at most window readings unanswered at any time, spread
// over the publisher connections. The window keeps the backlog within what
// a server queues, so that what is measured is how fast readings are
// answered, not how many a flood drops.
// A full window that gets no answer for stall ends the blast with an error.
func (g *fleetGen) blast(ctx context.Context, lo, hi int, seq uint64, window int, stall time.Duration) error {
	var wg sync.WaitGroup
	errs := make(chan error, len(g.pubs))
	for k, c := range g.pubs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := lo + k; i < hi; i += len(g.pubs) {
				answered, since := g.answeredCount(), time.Now()
				for int(g.sent.Load())-answered >= window {
					if ctx.Err() != nil {
						errs <- ctx.Err()
						return
					}
					if now := g.answeredCount(); now != answered {
						answered, since = now, time.Now()
					} else if time.Since(since) > stall {
						errs <- fmt.Errorf("no answer for %s with %d readings unanswered: is every server still running? (-wait sets this bound)", stall, window)
						return
					}
					time.Sleep(100 * time.Microsecond)
				}
				if err := g.publish(c, i, seq, i%1001); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	return <-errs
}

// waitAnswered waits until want readings are answered, or for at most
// limit; it returns when the last answer came.
func (g *fleetGen) waitAnswered(ctx context.Context, want int, limit time.Duration) (int, time.Time) {
	deadline := time.Now().Add(limit)
	last, lastN := time.Now(), -1
	for {
		n := g.answeredCount()
		if n != lastN {
			last, lastN = time.Now(), n
		}
		// Done when all arrived, at the limit, or after 3 s without one.
		if n >= want || time.Now().After(deadline) || time.Since(last) > 3*time.Second || ctx.Err() != nil {
			return n, last
		}
		time.Sleep(5 * time.Millisecond)
	}
}
