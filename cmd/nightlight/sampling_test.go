package main

import (
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"nightlight/mqtt/mqtttest"
	"nightlight/mqtt/wire"
)

// TestSampling: the sensor is read often, but only news is published: the
// first reading, a heartbeat every interval, a move by deadband or across
// the threshold at once, and never more than one per publish_gap. The same
// holds for a sensor that wakes the daemon (an ADS1115 with ALERT/RDY on a
// GPIO, emulated) as for one read every sample_every (the Grove Base Hat).
func TestSampling(t *testing.T) {
	t.Parallel() // mostly waiting: overlaps the other long tests
	b := mqtttest.Embedded(t)
	watcher := mqtttest.Client(t, b.URL(), "watcher")
	for _, mode := range []struct{ name, alertPin string }{{"polled", ""}, {"on alert", "GPIO6"}} {
		t.Run(mode.name, func(t *testing.T) {
			t.Parallel()
			testSampling(t, b, watcher, mode.alertPin)
		})
	}
}

func testSampling(t *testing.T, b mqtttest.Broker, watcher paho.Client, alertPin string) {
	suffix := ""
	if alertPin != "" {
		suffix = "-alert"
	}
	settingsFor := func(t *testing.T, url, id string, interval time.Duration) (*settings, string) {
		s, light := testSettings(t, url, id+suffix, interval)
		s.AlertPin = alertPin
		return s, light
	}

	t.Run("steady light: heartbeats only", func(t *testing.T) {
		const id = "steady"
		tel := mqtttest.Messages(t, watcher, id+suffix+"/telemetry")
		s, _ := settingsFor(t, b.URL(), id, time.Second)
		s.SampleEvery = 20 * time.Millisecond
		logs := startDevice(t, s)
		// The daemon says how it samples, and it is the way asked for.
		mode := "every=20ms"
		if alertPin != "" {
			mode = `on="sensor alert"`
		}
		logs.WaitFor(t, 10*time.Second, "msg=sampling", mode)
		time.Sleep(3500 * time.Millisecond) // 175 samples
		// The first reading and one heartbeat a second: 4, give or take
		// one for scheduling; never one per sample.
		if n := len(tel); n < 3 || n > 5 {
			t.Errorf("%d readings published in 3.5 s of steady light at interval 1s, want about 4", n)
		}
	})

	t.Run("darkness at once", func(t *testing.T) {
		const id = "dusk"
		tel := mqtttest.Messages(t, watcher, id+suffix+"/telemetry")
		st := states(t, watcher, id+suffix)
		startServer(t, b.URL(), id+suffix)
		s, light := settingsFor(t, b.URL(), id, time.Minute) // no heartbeat in sight
		s.SampleEvery = 20 * time.Millisecond
		setLight(t, light, 800)
		startDevice(t, s)
		<-tel // the first reading
		waitState(t, st, 10*time.Second, "led_on false from the server", ledIs(false, wire.SourceCommand))
		setLight(t, light, 100)
		select {
		case m := <-tel:
			if r, _ := wire.ParseTelemetry(m.Payload()); r.Light != 100 {
				t.Fatalf("published %s, want the dark reading", m.Payload())
			}
		case <-time.After(10 * time.Second):
			t.Fatal("darkness was not published before the heartbeat")
		}
		waitState(t, st, 10*time.Second, "led_on true", ledIs(true, wire.SourceCommand))
	})

	t.Run("a heartbeat does not hold darkness back", func(t *testing.T) {
		const id = "afterbeat"
		tel := mqtttest.Messages(t, watcher, id+suffix+"/telemetry")
		s, light := settingsFor(t, b.URL(), id, 2*time.Second)
		s.SampleEvery = 20 * time.Millisecond
		s.PublishGap = 1500 * time.Millisecond
		startDevice(t, s)
		<-tel // the first reading
		<-tel // a heartbeat, 2 s later
		beat := time.Now()
		setLight(t, light, 100)
		select {
		case m := <-tel:
			r, _ := wire.ParseTelemetry(m.Payload())
			// The publish gap limits changes following changes, not a
			// change following a heartbeat.
			if took := time.Since(beat); r.Light != 100 || took >= s.PublishGap {
				t.Errorf("after a heartbeat, darkness published after %s (%s), want before publish_gap %s", took, m.Payload(), s.PublishGap)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("darkness not published")
		}
	})

	t.Run("flicker is rate limited", func(t *testing.T) {
		const id = "flicker"
		tel := mqtttest.Messages(t, watcher, id+suffix+"/telemetry")
		s, light := settingsFor(t, b.URL(), id, time.Minute)
		s.SampleEvery = 10 * time.Millisecond
		s.PublishGap = 200 * time.Millisecond
		startDevice(t, s)
		<-tel
		start := time.Now()
		for i := 0; time.Since(start) < 2*time.Second; i++ {
			setLight(t, light, 100+700*(i%2))
			time.Sleep(15 * time.Millisecond)
		}
		time.Sleep(100 * time.Millisecond)
		// 2 s at one per 200 ms is 10; a flickering light changes at every
		// sample, so without the gap it would be about 200.
		if n := len(tel); n > 12 || n < 5 {
			t.Errorf("%d readings published in 2 s of flicker with publish_gap 200ms, want about 10", n)
		}
	})

	t.Run("the lesson's way", func(t *testing.T) {
		const id = "lesson"
		tel := mqtttest.Messages(t, watcher, id+suffix+"/telemetry")
		s, light := settingsFor(t, b.URL(), id, 500*time.Millisecond)
		s.SampleEvery = 0 // read only every interval
		startDevice(t, s)
		<-tel
		setLight(t, light, 100)
		start := time.Now()
		<-tel
		// The change waits for the next interval, as in the lesson.
		if took := time.Since(start); took > time.Second {
			t.Errorf("next reading after %s, want within the 500ms interval", took)
		}
		time.Sleep(2 * time.Second)
		if n := len(tel); n < 3 || n > 5 {
			t.Errorf("%d readings in 2 s at interval 500ms without sample_every, want 4", n)
		}
	})
}
