package main

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"nightlight/mqtt/mqtttest"
)

// setUpSoak starts the broker (persistent, so that the observer's queue
// survives its restarts), the observer, the servers and the devices.
func setUpSoak(t *testing.T, seed uint64) *soak {
	serverBin, deviceBin := binaries(t)
	dir := t.TempDir()
	s := &soak{t: t, rng: rand.New(rand.NewPCG(seed, 16)), faults: map[string]int{}, kills: map[*soakProc]int{}}
	s.broker = mqtttest.Mosquitto(t, mqtttest.WithConfig("persistence true", "persistence_location "+dir+"/",
		"max_queued_messages 100000"))
	s.obs = observe(t, s.broker.URL()) // the session exists before any reading
	for j := range soakServers {
		p := mqtttest.NewProxy(t, s.broker.URL())
		s.srvProxy = append(s.srvProxy, p)
		name := fmt.Sprintf("soak-server-%d", j+1)
		s.servers = append(s.servers, &soakProc{name: name, bin: serverBin,
			args: []string{"--broker", p.URL(), "--id", "+", "--share-group", "soak", "--client-id", name}})
	}
	for i := range soakDevices {
		id := fmt.Sprintf("soak-%d", i)
		state := filepath.Join(dir, id)
		if err := os.Mkdir(state, 0o755); err != nil {
			t.Fatal(err)
		}
		if i == 0 && mountSmallDisk(t, state) {
			s.diskDir = state
		}
		p := mqtttest.NewProxy(t, s.broker.URL())
		s.devProxy = append(s.devProxy, p)
		s.lights = append(s.lights, filepath.Join(dir, id+".light"))
		s.level = append(s.level, 0)
		s.setLight(i, 500)
		s.devices = append(s.devices, &soakProc{name: id, bin: deviceBin, args: []string{"--hardware", "sim",
			"--sim-light", s.lights[i], "--id", id, "--broker", p.URL(), "--state-dir", state,
			"--interval", "100ms", "--keepalive", "2s", "--log-level", "debug"}})
	}
	s.start = time.Now()
	for _, p := range append(append([]*soakProc{}, s.servers...), s.devices...) {
		p.start(t)
	}
	for _, p := range s.devices {
		p.current().out.WaitFor(t, 15*time.Second, "msg=connected")
	}
	return s
}

// mountSmallDisk mounts a 256k tmpfs on dir, for the disk-full fault;
// without root the soak goes on without that fault (CI runs as root, and
// NIGHTLIGHT_REQUIRE_ROOT_TESTS=1 makes it a failure).
func mountSmallDisk(t *testing.T, dir string) bool {
	if os.Geteuid() != 0 {
		if os.Getenv("NIGHTLIGHT_REQUIRE_ROOT_TESTS") == "1" {
			t.Fatal("NIGHTLIGHT_REQUIRE_ROOT_TESTS=1 but not root: the disk-full fault mounts a tmpfs")
		}
		t.Log("not root: no disk-full fault in this soak")
		return false
	}
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size=256k"); err != nil {
		t.Fatalf("mount a 256k tmpfs: %v", err)
	}
	t.Cleanup(func() { syscall.Unmount(dir, syscall.MNT_DETACH) })
	return true
}

// run injects faults, one at a time, until d has passed, changing lights
// in between so that commands keep flowing.
func (s *soak) run(d time.Duration) {
	kinds := []string{"broker restart", "device link down", "device link frozen", "server link down",
		"device SIGKILL", "server SIGKILL"}
	if s.diskDir != "" {
		kinds = append(kinds, "device disk full")
	}
	for time.Since(s.start) < d {
		for range 1 + s.rng.IntN(3) {
			i := s.rng.IntN(soakDevices)
			level := []int{100, 900}[s.rng.IntN(2)]
			s.setLight(i, level)
			s.pause(200*time.Millisecond, time.Second)
		}
		kind := kinds[s.rng.IntN(len(kinds))]
		s.faults[kind]++
		s.inject(kind)
		s.pause(500*time.Millisecond, 3*time.Second)
	}
}

// inject applies one fault, waits, and heals it.
func (s *soak) inject(kind string) {
	i, j := s.rng.IntN(soakDevices), s.rng.IntN(soakServers)
	hold := func() time.Duration { return time.Second + time.Duration(s.rng.Int64N(int64(4*time.Second))) }
	switch kind {
	case "broker restart":
		s.logf("fault: broker stopped")
		s.broker.Stop()
		time.Sleep(hold())
		s.broker.Start()
		s.logf("healed: broker started")
	case "device link down", "device link frozen", "server link down":
		p, who := s.devProxy[i], s.devices[i].name
		if kind == "server link down" {
			p, who = s.srvProxy[j], s.servers[j].name
		}
		s.logf("fault: %s of %s", kind, who)
		if kind == "device link frozen" {
			p.Freeze()
			time.Sleep(hold())
			p.Thaw()
		} else {
			p.Down()
			time.Sleep(hold())
			p.Up()
		}
		s.logf("healed: %s's link", who)
	case "device SIGKILL", "server SIGKILL":
		p := s.devices[i]
		if kind == "server SIGKILL" {
			p = s.servers[j]
		}
		s.logf("fault: %s SIGKILLed", p.name)
		p.current().kill(s.t)
		s.kills[p]++
		s.pause(200*time.Millisecond, 2*time.Second)
		p.start(s.t)
		s.logf("healed: %s started again", p.name)
	case "device disk full":
		// Long enough for the outbox to need a new page of the tmpfs (56
		// readings of 72 bytes fill one): before that an append still fits.
		s.fillDisk(7*time.Second + time.Duration(s.rng.Int64N(int64(3*time.Second))))
	}
}

// fillDisk fills device 0's state directory for a while, then frees it.
func (s *soak) fillDisk(hold time.Duration) {
	filler := filepath.Join(s.diskDir, "filler")
	f, err := os.Create(filler)
	if err != nil {
		s.t.Fatal(err)
	}
	chunk := make([]byte, 4096)
	for {
		if _, err := f.Write(chunk); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				s.t.Fatalf("filling the disk: %v", err)
			}
			break
		}
	}
	f.Close()
	s.logf("fault: %s's disk full", s.devices[0].name)
	time.Sleep(hold)
	if err := os.Remove(filler); err != nil {
		s.t.Fatal(err)
	}
	s.logf("healed: %s's disk has room", s.devices[0].name)
}
