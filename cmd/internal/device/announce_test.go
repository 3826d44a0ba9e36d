package device

import (
	"sync/atomic"
	"testing"
	"time"

	"nightlight/mqtt/link"
	"nightlight/mqtt/wire"
)

// nextOther waits for the next message on a topic that is not the
// device's own.
func (h *harness) nextOther(t *testing.T, within time.Duration) link.Message {
	t.Helper()
	select {
	case m := <-h.other:
		return m
	case <-time.After(within):
		t.Fatalf("nothing announced within %s; log:\n%s", within, h.logs.String())
		return link.Message{}
	}
}

// noOther fails if anything is announced within d.
func (h *harness) noOther(t *testing.T, d time.Duration, why string) {
	t.Helper()
	select {
	case m := <-h.other:
		t.Fatalf("%s, yet %s was published (%q)", why, m.Topic, m.Payload)
	case <-time.After(d):
	}
}

// TestAnnouncement: the clearing messages go first, once per run; the
// announcement at every connect; Announced is called once, after both are
// confirmed; a live "online" on Again asks for the announcement again after
// the random wait, a retained one (an old birth replayed) does not.
func TestAnnouncement(t *testing.T) {
	var announced atomic.Int32
	an := &Announcement{
		Clear:      []link.Message{{Topic: "ha/device/old/config", Retained: true}},
		Messages:   []link.Message{{Topic: "ha/device/dev/config", Payload: []byte(`{"x":1}`), Retained: true}},
		Again:      "ha/status",
		AgainDelay: 50 * time.Millisecond,
		Announced:  func() error { announced.Add(1); return nil },
	}
	h := start(t, &fakeBoard{level: 500}, Config{Interval: time.Hour, Announce: an}, false)
	h.noOther(t, 100*time.Millisecond, "no connection yet")

	h.conn.Connect()
	if m := h.nextOther(t, 5*time.Second); m.Topic != "ha/device/old/config" || len(m.Payload) != 0 || !m.Retained {
		t.Fatalf("first published %s %q retained=%t, want the empty retained clear of the old config", m.Topic, m.Payload, m.Retained)
	}
	if m := h.nextOther(t, 5*time.Second); m.Topic != "ha/device/dev/config" || string(m.Payload) != `{"x":1}` || !m.Retained {
		t.Fatalf("then %s %q retained=%t, want the announcement, retained", m.Topic, m.Payload, m.Retained)
	}
	h.logs.WaitFor(t, 5*time.Second, "msg=announced")
	if n := announced.Load(); n != 1 {
		t.Fatalf("Announced called %d times, want once", n)
	}

	// A reconnect announces again, without clearing again.
	h.conn.Lose()
	h.conn.Connect()
	if m := h.nextOther(t, 5*time.Second); m.Topic != "ha/device/dev/config" {
		t.Fatalf("after a reconnect %s was published first, want the announcement alone", m.Topic)
	}

	// Home Assistant's birth, live: announced again; retained: not.
	if !h.conn.Deliver(link.Message{Topic: "ha/status", Payload: []byte(wire.StatusOnline), Retained: true}) {
		t.Fatal("the device does not follow the Again topic")
	}
	h.noOther(t, 300*time.Millisecond, "a retained birth message is an old one")
	h.conn.Deliver(link.Message{Topic: "ha/status", Payload: []byte(wire.StatusOffline)})
	h.noOther(t, 300*time.Millisecond, "Home Assistant went offline")
	h.conn.Deliver(link.Message{Topic: "ha/status", Payload: []byte(wire.StatusOnline)})
	if m := h.nextOther(t, 5*time.Second); m.Topic != "ha/device/dev/config" {
		t.Fatalf("after the birth message %s was published, want the announcement", m.Topic)
	}
	if n := announced.Load(); n != 1 {
		t.Fatalf("Announced called %d times in one run, want once", n)
	}
}

// TestAnnouncementRetried: an announcement the broker does not confirm is
// tried again, and Announced waits for it.
func TestAnnouncementRetried(t *testing.T) {
	var announced atomic.Int32
	an := &Announcement{
		Messages:  []link.Message{{Topic: "ha/device/dev/config", Payload: []byte(`{}`), Retained: true}},
		Announced: func() error { announced.Add(1); return nil },
	}
	h := start(t, &fakeBoard{level: 500}, Config{Interval: time.Hour, Announce: an}, false)
	h.conn.Fail(errBus)
	h.conn.Connect()
	h.logs.WaitFor(t, 5*time.Second, "publish failed; retrying", "announce ha/device/dev/config")
	if announced.Load() != 0 {
		t.Fatal("Announced called before the broker confirmed")
	}
	h.conn.Fail(nil)
	h.logs.WaitFor(t, 5*time.Second, "msg=announced")
	if announced.Load() != 1 {
		t.Fatal("Announced not called once the broker confirmed")
	}
}

// TestStateSaysPendingAndVersion: the state names the daemon's version and
// how many readings wait in the outbox; after a backlog is delivered it is
// sent again, saying none wait.
func TestStateSaysPendingAndVersion(t *testing.T) {
	h := start(t, &fakeBoard{level: 500}, Config{Interval: 20 * time.Millisecond, Version: "1.2.3"}, false)
	h.logs.WaitFor(t, 5*time.Second, "msg=reading", "seq=5")
	h.conn.Connect()
	st := h.state(t, 5*time.Second, "a backlog waiting", func(s wire.State) bool { return s.Pending != nil && *s.Pending >= 5 })
	if st.Version != "1.2.3" {
		t.Errorf("state version %q, want 1.2.3", st.Version)
	}
	h.state(t, 5*time.Second, "the backlog delivered", func(s wire.State) bool { return s.Pending != nil && *s.Pending <= 1 })
}
