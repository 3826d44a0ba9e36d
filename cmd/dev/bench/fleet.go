package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"nightlight/mqtt/mosquitto"
	"nightlight/mqtt/wire"
	"nightlight/packaging"
)

// fleetOptions are the settings of `bench fleet`.
type fleetOptions struct {
	Devices   int           // devices of the steady phase
	Interval  time.Duration // each device's reading interval in the steady phase
	Window    time.Duration // the steady phase's length, per number of instances
	Instances []int         // numbers of server instances measured
	Blast     int           // readings of the capacity phase (one per device)
	Tracked   []int         // device counts of the memory phase
	Conns     int           // publisher connections of the generator
	ServerCPU float64       // each server instance's CPU, as a share of one core (a cgroup's quota); 0: no limit
	Wait      time.Duration // bound on waiting for the answers of a phase
	Out       string
	Command   string
	Progress  io.Writer
}

func defaultFleetOptions() fleetOptions {
	return fleetOptions{Devices: 10000, Interval: 5 * time.Second, Window: 30 * time.Second, Instances: []int{1, 2, 3},
		Blast: 30000, Tracked: []int{10, 1000, 10000, 100000}, Conns: 4, Wait: 60 * time.Second}
}

// fleetMain is `go run ./cmd/dev/bench fleet [flags]`.
func fleetMain(args []string) int {
	o := defaultFleetOptions()
	fs := flag.NewFlagSet("bench fleet", flag.ContinueOnError)
	fs.IntVar(&o.Devices, "devices", o.Devices, "devices of the steady phase")
	fs.DurationVar(&o.Interval, "interval", o.Interval, "each device's reading interval in the steady phase")
	fs.DurationVar(&o.Window, "window", o.Window, "length of the steady phase, per number of instances")
	instances := fs.String("instances", "1,2,3", "numbers of server instances to measure, comma-separated")
	fs.IntVar(&o.Blast, "blast", o.Blast, "readings sent as fast as the broker takes them, to find the capacity")
	tracked := fs.String("tracked", "10,1000,10000,100000", "device counts at which the server's memory is read")
	fs.IntVar(&o.Conns, "conns", o.Conns, "publisher connections the devices are played over")
	fs.Float64Var(&o.ServerCPU, "server-cpu", 0, "hold each server instance to this share of one core (0.25: a quarter), as on a machine of its own; needs root")
	fs.DurationVar(&o.Wait, "wait", o.Wait, "longest wait for a phase's answers")
	fs.StringVar(&o.Out, "out", "", "also write the table to this file")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	var err1, err2 error
	o.Instances, err1 = intList(*instances)
	o.Tracked, err2 = intList(*tracked)
	if err := errors.Join(err1, err2); err != nil || fs.NArg() > 0 || o.Devices < 1 || o.Conns < 1 || o.Blast < 1 || o.Interval <= 0 || o.Window < time.Second || o.ServerCPU < 0 || o.ServerCPU > 64 {
		msg := "bench fleet: want -devices, -conns and -blast of 1 or more, a positive -interval, -window 1s or more, -server-cpu from 0 to 64, lists of whole numbers, and no arguments"
		if err != nil {
			msg += ": " + err.Error()
		}
		fmt.Fprintln(os.Stderr, msg)
		return 2
	}
	o.Command = strings.Join(append([]string{"go run ./cmd/dev/bench fleet"}, args...), " ")
	o.Progress = os.Stderr
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if _, err := runFleet(ctx, o, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "bench fleet:", err)
		return 1
	}
	return 0
}

func intList(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 || n > maxFleet/2 {
			return nil, fmt.Errorf("%q: want whole numbers 1..%d", f, maxFleet/2)
		}
		out = append(out, n)
	}
	return out, nil
}

func (o fleetOptions) progress(format string, a ...any) {
	if o.Progress != nil {
		fmt.Fprintf(o.Progress, "bench fleet: "+format+"\n", a...)
	}
}

// fleetRun is one run's broker, generator and binaries.
type fleetRun struct {
	o     fleetOptions
	empty string
	bins  binaries
	b     broker
	gen   *fleetGen
	next  int // the next unused device index
}

// runFleet measures and writes the table to out (and o.Out).
func runFleet(ctx context.Context, o fleetOptions, out io.Writer) (*fleetReport, error) {
	dir, err := os.MkdirTemp("", "nightlight-fleet-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	r := &fleetRun{o: o, empty: filepath.Join(dir, "empty.yaml")}
	if err := os.WriteFile(r.empty, nil, 0o644); err != nil {
		return nil, err
	}
	o.progress("building nightlight-server as the packages build it")
	if r.bins, err = buildOurs(ctx, dir, packaging.ReleaseTags); err != nil {
		return nil, err
	}
	// Mosquitto queues at most 1000 QoS 1 messages for a client that is
	// behind, and drops the rest: a server (or the command receiver) that
	// takes a burst of a fleet's readings needs more (docs/fleets.md).
	mb, err := mosquitto.Start(mosquitto.Config{Dir: dir, Extra: []string{"max_queued_messages " + strconv.Itoa(maxFleet)}})
	if err != nil {
		return nil, err
	}
	r.b = broker{mb}
	defer r.b.Stop()
	if r.gen, err = newFleetGen(r.b.URL(), o.Conns); err != nil {
		return nil, err
	}
	defer r.gen.close()
	rep := &fleetReport{opts: o, machine: describeMachine(ctx, python{}, r.b.Bin())}
	if rep.ceiling, err = r.brokerCeiling(ctx); err != nil {
		return nil, fmt.Errorf("the broker's ceiling: %w", err)
	}
	for _, k := range o.Instances {
		res, err := r.instances(ctx, k)
		if err != nil {
			return nil, fmt.Errorf("%d instance(s): %w", k, err)
		}
		rep.runs = append(rep.runs, res)
	}
	if rep.memory, err = r.memory(ctx); err != nil {
		return nil, fmt.Errorf("memory: %w", err)
	}
	table := rep.markdown()
	if _, err := io.WriteString(out, table); err != nil {
		return nil, err
	}
	if o.Out != "" {
		if err := os.WriteFile(o.Out, []byte(table), 0o644); err != nil {
			return nil, err
		}
	}
	return rep, nil
}

// take reserves n fresh device indexes: a device the servers have not seen.
func (r *fleetRun) take(n int) (lo, hi int, err error) {
	if r.next+n > maxFleet {
		return 0, 0, fmt.Errorf("more than %d devices in one run: lower -blast, -devices or -tracked", maxFleet)
	}
	lo = r.next
	r.next += n
	return lo, r.next, nil
}

// blastWindow bounds the readings unanswered during a blast: below the
// 1024 a server queues, so none is dropped for want of room.
const blastWindow = 500

// capacity is a blast's outcome.
type capacity struct {
	sent, answered int
	perSecond      float64
	brokerCPU      time.Duration
}

// blast sends n readings of n fresh devices at once and measures how fast
// they are answered.
func (r *fleetRun) blast(ctx context.Context, n int) (capacity, error) {
	lo, hi, err := r.take(n)
	if err != nil {
		return capacity{}, err
	}
	r.gen.reset()
	before, err := readUsage(r.b.PID())
	if err != nil {
		return capacity{}, err
	}
	start := time.Now()
	if err := r.gen.blast(ctx, lo, hi, 1, blastWindow, r.o.Wait); err != nil {
		return capacity{}, err
	}
	got, last := r.gen.waitAnswered(ctx, n, r.o.Wait)
	after, err := readUsage(r.b.PID())
	if err != nil {
		return capacity{}, err
	}
	c := capacity{sent: n, answered: got, brokerCPU: after.cpu - before.cpu}
	if d := last.Sub(start); got > 0 && d > 0 {
		c.perSecond = float64(got) / d.Seconds()
	}
	return c, nil
}

// brokerCeiling measures the broker alone: a reflector that answers each
// reading with a command at once, with no decision and no logging, in
// place of the server.
func (r *fleetRun) brokerCeiling(ctx context.Context) (capacity, error) {
	r.o.progress("the broker's own ceiling: %d readings and their commands through a bare reflector", r.o.Blast)
	ref := paho.NewClient(paho.NewClientOptions().AddBroker(r.b.URL()).SetClientID("fleet-reflector").
		SetCleanSession(true).SetOrderMatters(false).SetConnectTimeout(10 * time.Second))
	if t := ref.Connect(); !t.WaitTimeout(15*time.Second) || t.Error() != nil {
		return capacity{}, fmt.Errorf("reflector: connect: %v", t.Error())
	}
	defer ref.Disconnect(250)
	t := ref.Subscribe(wire.Topic(wire.AllDevices, wire.KindTelemetry), 1, func(c paho.Client, m paho.Message) {
		id, _, _ := wire.SplitTopic(m.Topic())
		rd, err := wire.ParseTelemetry(m.Payload())
		if err != nil {
			return
		}
		cmd := wire.Command{Kind: wire.CommandLED, LEDOn: rd.Light < wire.DefaultThreshold, Seq: rd.Seq, TS: time.Now()}
		c.Publish(wire.Topic(id, wire.KindCommands), 1, false, cmd.AppendJSON(nil)) // not waited for: paho completes it
	})
	if !t.WaitTimeout(15*time.Second) || t.Error() != nil {
		return capacity{}, fmt.Errorf("reflector: subscribe: %v", t.Error())
	}
	return r.blast(ctx, r.o.Blast)
}
