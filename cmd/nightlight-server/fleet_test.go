package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"nightlight/mqtt/mqtttest"
	"nightlight/mqtt/wire"
)

// The binaries the fleet tests run, built once per test process.
var built struct {
	once           sync.Once
	dir            string
	server, device string
	err            error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if built.dir != "" {
		os.RemoveAll(built.dir)
	}
	os.Exit(code)
}

// binaries builds nightlight-server and nightlight.
func binaries(t *testing.T) (server, device string) {
	t.Helper()
	if _, err := mqtttest.MosquittoPath(); err != nil && os.Getenv("NIGHTLIGHT_REQUIRE_MOSQUITTO") != "1" {
		t.Skip(err)
	}
	built.once.Do(func() {
		if built.dir, built.err = os.MkdirTemp("", "nightlight-fleet-"); built.err != nil {
			return
		}
		built.server, built.device = filepath.Join(built.dir, "nightlight-server"), filepath.Join(built.dir, "nightlight")
		for out, pkg := range map[string]string{built.server: ".", built.device: "nightlight/cmd/nightlight"} {
			if msg, err := exec.Command("go", "build", "-o", out, pkg).CombinedOutput(); err != nil {
				built.err = fmt.Errorf("go build %s: %v\n%s", pkg, err, msg)
				return
			}
		}
	})
	if built.err != nil {
		t.Fatal(built.err)
	}
	return built.server, built.device
}

// proc is a program the test started; it is killed when the test ends.
type proc struct {
	name string
	cmd  *exec.Cmd
	out  *mqtttest.Log
	done chan struct{}
}

func startProc(t *testing.T, name, bin string, args ...string) *proc {
	t.Helper()
	empty := filepath.Join(t.TempDir(), "empty.yaml")
	os.WriteFile(empty, nil, 0o644)
	p := &proc{name: name, cmd: exec.Command(bin, append([]string{"--config", empty}, args...)...), out: new(mqtttest.Log), done: make(chan struct{})}
	p.cmd.Env = append(os.Environ(), "JOURNAL_STREAM=", "NOTIFY_SOCKET=")
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		p.cmd.Process.Kill()
		<-p.done
		if t.Failed() {
			t.Logf("%s's output:\n%s", p.name, p.out.String())
		}
	})
	return p
}

func (p *proc) kill(t *testing.T) {
	t.Helper()
	p.cmd.Process.Signal(syscall.SIGKILL)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		t.Fatalf("%s did not die of SIGKILL", p.name)
	}
}

// startServers starts n servers of one share group, each with its own
// client id, at debug level so that the test sees which reading each took;
// urls gives each its broker (a proxy, or the broker itself).
func startServers(t *testing.T, bin string, urls ...string) []*proc {
	t.Helper()
	var servers []*proc
	for i, u := range urls {
		name := fmt.Sprintf("server-%d", i+1)
		servers = append(servers, startProc(t, name, bin, "--broker", u, "--id", "+", "--share-group", "fleet",
			"--client-id", name, "--log-level", "debug"))
	}
	for _, s := range servers {
		s.out.WaitFor(t, 15*time.Second, "msg=connected")
	}
	return servers
}

var receivedLine = regexp.MustCompile(`msg="telemetry received" device=(\S+) light=\d+ seq=(\d+)`)

// took lists the seqs of device's readings a server's log says it took.
func took(p *proc, device string) map[uint64]bool {
	seqs := map[uint64]bool{}
	for _, m := range receivedLine.FindAllStringSubmatch(p.out.String(), -1) {
		if m[1] == device {
			n, _ := strconv.ParseUint(m[2], 10, 64)
			seqs[n] = true
		}
	}
	return seqs
}

// commands follows every device's commands, by device: the seq each
// command answered, in arrival order.
type commands struct {
	mu  sync.Mutex
	got map[string][]wire.Command
}

func followCommands(t *testing.T, c paho.Client) *commands {
	cs := &commands{got: map[string][]wire.Command{}}
	tok := c.Subscribe(wire.Topic(wire.AllDevices, wire.KindCommands), 1, func(_ paho.Client, m paho.Message) {
		id, _, _ := wire.SplitTopic(m.Topic())
		cmd, err := wire.ParseCommand(m.Payload())
		if err != nil {
			t.Errorf("a server sent %q on %s: %v", m.Payload(), m.Topic(), err)
			return
		}
		cs.mu.Lock()
		cs.got[id] = append(cs.got[id], cmd)
		cs.mu.Unlock()
	})
	if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("subscribe to the commands: %v", tok.Error())
	}
	return cs
}

// answered reports whether device got a command answering seq.
func (cs *commands) answered(device string, seq uint64) bool {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	for _, c := range cs.got[device] {
		if c.Seq == seq {
			return true
		}
	}
	return false
}

// waitFor waits at most within for a command to device answering seq.
func (cs *commands) waitFor(device string, seq uint64, within time.Duration) bool {
	deadline := time.Now().Add(within)
	for !cs.answered(device, seq) {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
	return true
}

// waitAnswered waits until every device got a command answering seq.
func (cs *commands) waitAnswered(t *testing.T, devices []string, seq uint64, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		var missing []string
		for _, d := range devices {
			if !cs.answered(d, seq) {
				missing = append(missing, d)
			}
		}
		if len(missing) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %s no command answers reading %d of %v", within, seq, missing)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// publishReading publishes one reading of device, taken now.
func publishReading(t *testing.T, c paho.Client, device string, light int, seq uint64) {
	t.Helper()
	r := wire.Telemetry{Light: light, Seq: seq, TS: time.Now()}
	mqtttest.Publish(t, c, wire.Topic(device, wire.KindTelemetry), r.AppendJSON(nil), false)
}

// TestSharedSubscription: three servers in one share group on each broker.
// The readings of one device are spread over all three, every reading gets
// its answer, and once one server is SIGKILLed the other two carry every
// device on: each device's newest reading is answered.
func TestSharedSubscription(t *testing.T) {
	serverBin, _ := binaries(t)
	mqtttest.ForEach(t, func(t *testing.T, b mqtttest.Broker) {
		servers := startServers(t, serverBin, b.URL(), b.URL(), b.URL())
		client := mqtttest.Client(t, b.URL(), "devices")
		cmds := followCommands(t, client)

		const n = 60
		for seq := uint64(1); seq <= n; seq++ {
			publishReading(t, client, "desk", int(seq%2)*900, seq)
			cmds.waitAnswered(t, []string{"desk"}, seq, 10*time.Second)
		}
		total := 0
		for _, s := range servers {
			got := len(took(s, "desk"))
			total += got
			if got == 0 {
				t.Errorf("%s took none of desk's %d readings: the group does not share them", s.name, n)
			}
			t.Logf("%s took %d of desk's readings", s.name, got)
		}
		if total != n {
			t.Errorf("the servers took %d readings of desk between them, want %d: each reading goes to one of the group", total, n)
		}

		servers[1].kill(t)
		devices := make([]string, 10)
		for i := range devices {
			devices[i] = fmt.Sprintf("room-%d", i)
		}
		for seq := uint64(1); seq <= 5; seq++ {
			for _, d := range devices {
				publishReading(t, client, d, 100, seq)
			}
		}
		cmds.waitAnswered(t, devices, 5, 10*time.Second)
		for _, s := range []*proc{servers[0], servers[2]} {
			select {
			case <-s.done:
				t.Errorf("%s exited: %s", s.name, s.cmd.ProcessState)
			default:
			}
		}
	})
}

// TestSharedLateAnswer: with a shared subscription two servers may decide
// two readings of one device, and the answer to the older can arrive
// last. Here it is made to: server A's link is frozen (mqtttest's proxy)
// while a dark reading waits in it; the servers B and C answer the bright
// readings that follow; when A's link thaws, A decides what waited for it,
// still fresh, and sends its command. The device (the real daemon) refuses
// that command, which answers an older reading than one it obeyed, and its
// LED stays off.
func TestSharedLateAnswer(t *testing.T) {
	serverBin, deviceBin := binaries(t)
	mqtttest.ForEach(t, func(t *testing.T, b mqtttest.Broker) {
		const id = "late"
		proxy := mqtttest.NewProxy(t, b.URL())
		startServers(t, serverBin, proxy.URL(), b.URL(), b.URL())
		client := mqtttest.Client(t, b.URL(), "devices")
		cmds := followCommands(t, client)
		dir := t.TempDir()
		light := filepath.Join(dir, "light")
		os.WriteFile(light, []byte("500\n"), 0o644)
		// The daemon's own reading every hour: the test's readings drive it.
		dev := startProc(t, "device", deviceBin, "--hardware", "sim", "--sim-light", light, "--id", id,
			"--broker", b.URL(), "--state-dir", filepath.Join(dir, "state"), "--interval", "1h")
		dev.out.WaitFor(t, 15*time.Second, "msg=connected")

		// Dark: the LED goes on.
		mark := len(dev.out.String())
		seq := uint64(1000)
		publishReading(t, client, id, 100, seq)
		waitLine(t, dev, mark, "msg=LED", "led_on=true", "source=command")

		proxy.Freeze()
		// Dark readings until one stays unanswered: it waits in A's link.
		var stuck uint64
		for stuck == 0 {
			seq++
			if seq > 1030 {
				t.Fatal("30 readings and none went to the frozen server")
			}
			publishReading(t, client, id, 100, seq)
			if !cmds.waitFor(id, seq, time.Second) {
				stuck = seq
			}
		}
		// Bright readings until B or C answers one, and the device obeys.
		mark = len(dev.out.String())
		var answered uint64
		for answered == 0 {
			seq++
			if seq > 1060 {
				t.Fatal("30 bright readings and none answered by the servers not frozen")
			}
			publishReading(t, client, id, 900, seq)
			if cmds.waitFor(id, seq, time.Second) {
				answered = seq
			}
		}
		waitLine(t, dev, mark, "msg=LED", "led_on=false", "source=command")
		mark = len(dev.out.String())
		proxy.Thaw()
		// A decides the newest of what waited for it (the dark reading, or
		// a bright one that followed it into the frozen link, all older
		// than the one answered): its command comes late and is refused.
		refused := waitLine(t, dev, mark, "command ignored", "out of order: answers reading", fmt.Sprintf("older than reading %d already answered", answered))
		t.Logf("dark reading %d waited in the frozen server; %d answered first; the device: %s", stuck, answered, refused)
		time.Sleep(500 * time.Millisecond)
		if after := dev.out.String()[mark:]; strings.Contains(after, "led_on=true source=command") {
			t.Errorf("the device switched the LED on after the late answer:\n%s", after)
		}
	})
}

// waitLine waits for a line of p's output, written after its first mark
// bytes, that holds every one of want, and returns it.
func waitLine(t *testing.T, p *proc, mark int, want ...string) string {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		for _, line := range strings.Split(p.out.String()[mark:], "\n") {
			all := true
			for _, w := range want {
				all = all && strings.Contains(line, w)
			}
			if all {
				return line
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s wrote no line with %q within 15 s; since the mark:\n%s", p.name, want, p.out.String()[mark:])
		}
		time.Sleep(20 * time.Millisecond)
	}
}
