package main

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
)

// event is one thing the harness saw, stamped when it arrived: an MQTT
// message, or a line the lesson's device printed (topic ID/stdout).
type event struct {
	at      time.Time
	topic   string
	payload string
}

// eventLog holds every event of the run in arrival order.
type eventLog struct {
	mu      sync.Mutex
	events  []event
	changed chan struct{} // closed and replaced at every add
}

func newEventLog() *eventLog { return &eventLog{changed: make(chan struct{})} }

func (l *eventLog) add(topic, payload string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.events = append(l.events, event{at: time.Now(), topic: topic, payload: payload})
	close(l.changed)
	l.changed = make(chan struct{})
}

// find returns the first event at or after since that matches, and a
// channel closed when more events arrive.
func (l *eventLog) find(since time.Time, match func(event) bool) (event, bool, <-chan struct{}) {
	l.mu.Lock()
	defer l.mu.Unlock()
	i := sort.Search(len(l.events), func(i int) bool { return !l.events[i].at.Before(since) })
	for ; i < len(l.events); i++ {
		if match(l.events[i]) {
			return l.events[i], true, nil
		}
	}
	return event{}, false, l.changed
}

var errTimeout = errors.New("timed out")

// waitFor waits at most timeout for the first event at or after since
// that matches.
func (l *eventLog) waitFor(ctx context.Context, since time.Time, timeout time.Duration, match func(event) bool) (event, error) {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		e, ok, more := l.find(since, match)
		if ok {
			return e, nil
		}
		select {
		case <-more:
		case <-deadline.C:
			return event{}, errTimeout
		case <-ctx.Done():
			return event{}, ctx.Err()
		}
	}
}

// between returns the events in [from, to) that match.
func (l *eventLog) between(from, to time.Time, match func(event) bool) []event {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []event
	for _, e := range l.events {
		if !e.at.Before(from) && e.at.Before(to) && match(e) {
			out = append(out, e)
		}
	}
	return out
}

const probeTopic = "nightlight-bench/probe"

// observer is a Go paho client that records every message on the broker.
type observer struct {
	c   paho.Client
	log *eventLog
}

func newObserver(url string) (*observer, error) {
	o := &observer{log: newEventLog()}
	handler := func(_ paho.Client, m paho.Message) { o.log.add(m.Topic(), string(m.Payload())) }
	opts := paho.NewClientOptions().AddBroker(url).SetClientID("nightlight-bench-observer").
		SetCleanSession(true).SetOrderMatters(false).SetConnectTimeout(5 * time.Second).
		SetAutoReconnect(true).
		// Subscribe on every connect, so a reconnect does not lose the feed.
		SetOnConnectHandler(func(c paho.Client) { c.Subscribe("#", 1, handler) })
	o.c = paho.NewClient(opts)
	tok := o.c.Connect()
	if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		return nil, fmt.Errorf("observer: connect to %s: %v", url, tok.Error())
	}
	// The subscription is asynchronous: it works once our own probe comes back.
	for start := time.Now(); ; {
		sent := time.Now()
		o.c.Publish(probeTopic, 1, false, "probe").WaitTimeout(time.Second)
		_, err := o.log.waitFor(context.Background(), sent, 200*time.Millisecond,
			func(e event) bool { return e.topic == probeTopic })
		if err == nil {
			break
		}
		if time.Since(start) > 10*time.Second {
			o.close()
			return nil, fmt.Errorf("observer: subscription to %s did not start within 10s", url)
		}
	}
	return o, nil
}

func (o *observer) close() { o.c.Disconnect(250) }
