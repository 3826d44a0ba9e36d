package main

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
)

// instancesResult is what one number of server instances achieved.
type instancesResult struct {
	k                  int
	devices            int
	sent, answered     int
	p50, p99, max      time.Duration
	serverCPU          time.Duration // all instances, steady phase
	brokerCPU          time.Duration // steady phase
	capacity           capacity
	rssKB              []int64 // per instance, at the end
	exited             []string
	readingsPerSecSent float64
}

// startServers starts k instances of the server in one share group and
// waits until each is connected; stop stops them.
func (r *fleetRun) startServers(ctx context.Context, k int, tag string) (servers []*child, stop func(), err error) {
	var cleanups []func()
	stop = func() {
		for _, s := range servers {
			s.stop()
		}
		for _, c := range cleanups {
			c()
		}
	}
	for i := range k {
		name := fmt.Sprintf("bench-server-%s-%d", tag, i+1)
		c, err := startChild(name, []string{r.bins.server, "--config", r.empty, "--broker", r.b.URL(), "--id", "+",
			"--share-group", "bench", "--client-id", name}, nil, 0)
		if err != nil {
			stop()
			return nil, nil, err
		}
		servers = append(servers, c)
		if r.o.ServerCPU > 0 {
			undo, err := cpuLimit(c.pid(), name, r.o.ServerCPU)
			if err != nil {
				stop()
				return nil, nil, err
			}
			cleanups = append(cleanups, undo)
		}
	}
	deadline := time.Now().Add(20 * time.Second)
	for _, s := range servers {
		for !strings.Contains(s.out.String(), "msg=connected") {
			if s.exited() || time.Now().After(deadline) || ctx.Err() != nil {
				stop()
				return nil, nil, fmt.Errorf("%s did not connect: %s", s.name, s.output())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	return servers, stop, nil
}

// cpuOf sums the CPU time of processes.
func cpuOf(pids ...int) (time.Duration, error) {
	var total time.Duration
	for _, pid := range pids {
		u, err := readUsage(pid)
		if err != nil {
			return 0, err
		}
		total += u.cpu
	}
	return total, nil
}

func pids(cs []*child) []int {
	var p []int
	for _, c := range cs {
		p = append(p, c.pid())
	}
	return p
}

// instances measures k servers: the steady phase (latency, CPU per
// reading), then the capacity blast.
func (r *fleetRun) instances(ctx context.Context, k int) (*instancesResult, error) {
	o := r.o
	o.progress("%d instance(s): %d devices, a reading every %s each, for %s", k, o.Devices, o.Interval, o.Window)
	servers, stop, err := r.startServers(ctx, k, fmt.Sprint(k))
	if err != nil {
		return nil, err
	}
	defer stop()
	lo, hi, err := r.take(o.Devices)
	if err != nil {
		return nil, err
	}
	res := &instancesResult{k: k, devices: o.Devices}
	r.gen.reset()
	sCPU0, err := cpuOf(pids(servers)...)
	if err != nil {
		return nil, err
	}
	bCPU0, err := cpuOf(r.b.PID())
	if err != nil {
		return nil, err
	}
	start := time.Now()
	if err := r.gen.steady(ctx, lo, hi, o.Interval, o.Window); err != nil {
		return nil, err
	}
	elapsed := time.Since(start)
	res.sent = int(r.gen.sent.Load())
	r.gen.waitAnswered(ctx, res.sent, 5*time.Second)
	sCPU1, err := cpuOf(pids(servers)...)
	if err != nil {
		return nil, err
	}
	bCPU1, err := cpuOf(r.b.PID())
	if err != nil {
		return nil, err
	}
	w := r.gen.take()
	res.answered, res.serverCPU, res.brokerCPU = w.answered, sCPU1-sCPU0, bCPU1-bCPU0
	res.readingsPerSecSent = float64(res.sent) / elapsed.Seconds()
	res.p50, res.p99 = percentile(w.lat, 0.5), percentile(w.lat, 0.99)
	if len(w.lat) > 0 {
		res.max = slices.Max(w.lat)
	}
	o.progress("%d instance(s): %d sent, %d answered, p50 %s, p99 %s; capacity blast of %d", k, res.sent, res.answered, ms(res.p50), ms(res.p99), o.Blast)
	if res.capacity, err = r.blast(ctx, o.Blast); err != nil {
		return nil, err
	}
	for _, s := range servers {
		if s.exited() {
			res.exited = append(res.exited, s.output())
			continue
		}
		u, err := readUsage(s.pid())
		if err != nil {
			return nil, err
		}
		res.rssKB = append(res.rssKB, u.rssKB)
	}
	return res, nil
}

// memoryPoint is one server's resident memory with n devices tracked.
type memoryPoint struct {
	devices int
	rssKB   int64
}

// memory has one server track more and more devices (one reading each)
// and reads its resident memory at each count.
func (r *fleetRun) memory(ctx context.Context) ([]memoryPoint, error) {
	servers, stop, err := r.startServers(ctx, 1, "memory")
	if err != nil {
		return nil, err
	}
	s := servers[0]
	defer stop()
	var points []memoryPoint
	tracked := 0
	for _, n := range r.o.Tracked {
		if n <= tracked {
			continue
		}
		r.o.progress("memory: one server tracking %d devices", n)
		// The blast's window keeps the server's queue from overflowing,
		// so every device is tracked.
		c, err := r.blast(ctx, n-tracked)
		if err != nil {
			return nil, err
		}
		if c.answered < c.sent {
			return nil, fmt.Errorf("%d of %d readings unanswered: the server does not track every device, so its memory says nothing", c.sent-c.answered, c.sent)
		}
		tracked = n
		time.Sleep(2 * time.Second) // let a garbage collection settle
		u, err := readUsage(s.pid())
		if err != nil {
			return nil, fmt.Errorf("%w: %s", err, s.output())
		}
		points = append(points, memoryPoint{devices: n, rssKB: u.rssKB})
	}
	return points, nil
}
