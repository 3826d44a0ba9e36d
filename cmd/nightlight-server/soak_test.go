package main

import (
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"nightlight/mqtt/mqtttest"
	"nightlight/mqtt/wire"
)

// The fleet soak: several real devices and two servers in a share group
// under a random, seeded and logged schedule of faults, then checks.
// NIGHTLIGHT_SOAK=1 runs it (CI does, for two minutes);
// NIGHTLIGHT_SOAK_DURATION and NIGHTLIGHT_SOAK_SEED set its length and
// repeat a schedule.
const (
	soakDevices = 4
	soakServers = 2
	// convergeBound is how long after the last fault healed every LED must
	// agree with its device's newest reading: a device's reconnect backoff
	// is at most 10 s, plus a reading interval and the round trip.
	convergeBound = 20 * time.Second
)

// soakProc is a daemon of the soak, restarted after each kill; exits it
// did not cause are failures.
type soakProc struct {
	name string
	bin  string
	args []string
	mu   sync.Mutex
	runs []*proc // every process, the current last
}

func (s *soakProc) start(t *testing.T) {
	p := startProc(t, s.name, s.bin, s.args...)
	s.mu.Lock()
	s.runs = append(s.runs, p)
	s.mu.Unlock()
}

func (s *soakProc) current() *proc {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.runs[len(s.runs)-1]
}

// exited lists the runs that ended without being killed by the test.
func (s *soakProc) exited(killed int) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for i, p := range s.runs {
		select {
		case <-p.done:
			if i >= killed {
				out = append(out, fmt.Sprintf("%s (run %d): %s", s.name, i+1, p.cmd.ProcessState))
			}
		default:
		}
	}
	return out
}

// observer takes every device's telemetry on a persistent session, so
// that what the broker queued for it survives the broker's restarts.
type observer struct {
	mu   sync.Mutex
	seqs map[string][]uint64
}

func observe(t *testing.T, url string) *observer {
	o := &observer{seqs: map[string][]uint64{}}
	handler := func(_ paho.Client, m paho.Message) {
		id, _, _ := wire.SplitTopic(m.Topic())
		r, err := wire.ParseTelemetry(m.Payload())
		if err != nil {
			t.Errorf("bad telemetry %q on %s: %v", m.Payload(), m.Topic(), err)
			return
		}
		o.mu.Lock()
		o.seqs[id] = append(o.seqs[id], r.Seq)
		o.mu.Unlock()
	}
	opts := paho.NewClientOptions().AddBroker(url).SetClientID("soak-observer").SetCleanSession(false).
		SetAutoReconnect(true).SetMaxReconnectInterval(time.Second).SetConnectRetry(true).SetOrderMatters(true).
		SetOnConnectHandler(func(c paho.Client) { c.Subscribe(wire.Topic(wire.AllDevices, wire.KindTelemetry), 1, handler) })
	c := paho.NewClient(opts)
	if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("observer: %v", tok.Error())
	}
	t.Cleanup(func() { c.Disconnect(100) })
	return o
}

func (o *observer) of(id string) []uint64 {
	o.mu.Lock()
	defer o.mu.Unlock()
	return slices.Clone(o.seqs[id])
}

// soak is one run's parts and tallies.
type soak struct {
	t        *testing.T
	rng      *rand.Rand
	start    time.Time
	broker   mqtttest.Broker
	obs      *observer
	devices  []*soakProc
	servers  []*soakProc
	devProxy []*mqtttest.Proxy
	srvProxy []*mqtttest.Proxy
	lights   []string
	level    []int // the light level each device was last given
	diskDir  string
	faults   map[string]int
	kills    map[*soakProc]int // how many runs the test killed
}

func (s *soak) logf(format string, a ...any) {
	s.t.Logf("%7.1fs "+format, append([]any{time.Since(s.start).Seconds()}, a...)...)
}

func (s *soak) pause(lo, hi time.Duration) {
	time.Sleep(lo + time.Duration(s.rng.Int64N(int64(hi-lo))))
}

func (s *soak) setLight(i, level int) {
	tmp := s.lights[i] + ".tmp"
	if err := os.WriteFile(tmp, []byte(strconv.Itoa(level)+"\n"), 0o644); err != nil {
		s.t.Fatal(err)
	}
	if err := os.Rename(tmp, s.lights[i]); err != nil {
		s.t.Fatal(err)
	}
	s.level[i] = level
}

// TestFleetSoak runs soakDevices real devices (simulated hardware reading
// light files) and soakServers servers in one share group on a real
// Mosquitto, while a seeded schedule restarts the broker, partitions
// devices' and servers' links (mqtttest's proxy: down, or frozen),
// SIGKILLs and restarts devices and servers, and fills a device's disk (a
// tmpfs, as root). Then: no stored reading lost, each device's seqs
// contiguous (the machine never went down) and first arriving in order, no
// daemon exited on its own, every LED agrees with its device's newest
// reading within convergeBound once all is healed, and no device obeyed a
// command answering an older reading than one it had obeyed.
func TestFleetSoak(t *testing.T) {
	if os.Getenv("NIGHTLIGHT_SOAK") != "1" {
		t.Skip("the fleet soak runs for minutes: set NIGHTLIGHT_SOAK=1 to run it (CI does, for 2 minutes; NIGHTLIGHT_SOAK_DURATION=15m for a long one)")
	}
	duration := 2 * time.Minute
	if v := os.Getenv("NIGHTLIGHT_SOAK_DURATION"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 10*time.Second {
			t.Fatalf("NIGHTLIGHT_SOAK_DURATION=%q: want a duration of 10s or more", v)
		}
		duration = d
	}
	seed := uint64(time.Now().UnixNano())
	if v := os.Getenv("NIGHTLIGHT_SOAK_SEED"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			t.Fatalf("NIGHTLIGHT_SOAK_SEED=%q: want a whole number", v)
		}
		seed = n
	}
	t.Logf("seed %d (NIGHTLIGHT_SOAK_SEED=%d repeats the schedule), %s of faults", seed, seed, duration)
	s := setUpSoak(t, seed)
	s.run(duration)
	s.heal()
	s.check()
}
