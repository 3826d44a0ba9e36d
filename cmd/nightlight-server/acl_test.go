package main

import (
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"nightlight/mqtt/mqtttest"
	"nightlight/mqtt/wire"
)

// aclFile is the ACL the fleet documentation ships: the test uses the
// file itself, so the two cannot drift apart.
const aclFile = "../../packaging/mosquitto/nightlight.acl"

// inbox keeps what a client received, by topic.
type inbox struct {
	mu  sync.Mutex
	got map[string][]string
}

func listen(t *testing.T, c paho.Client, filters ...string) *inbox {
	t.Helper()
	in := &inbox{got: map[string][]string{}}
	for _, f := range filters {
		tok := c.Subscribe(f, 1, func(_ paho.Client, m paho.Message) {
			in.mu.Lock()
			in.got[m.Topic()] = append(in.got[m.Topic()], string(m.Payload()))
			in.mu.Unlock()
		})
		// A refused subscription still completes; what it lets through is
		// what the test checks.
		if !tok.WaitTimeout(10 * time.Second) {
			t.Fatalf("subscribe %s: no answer", f)
		}
	}
	return in
}

func (in *inbox) has(topic, payload string) bool {
	in.mu.Lock()
	defer in.mu.Unlock()
	for _, p := range in.got[topic] {
		if p == payload {
			return true
		}
	}
	return false
}

// waitHas waits for payload on topic.
func (in *inbox) waitHas(t *testing.T, topic, payload string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !in.has(topic, payload) {
		if time.Now().After(deadline) {
			t.Fatalf("%q never arrived on %s", payload, topic)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestACL runs the shipped ACL in a real Mosquitto with a password per
// account. Device desk cannot publish hall's telemetry, state or status,
// read hall's commands or write anyone's commands; what it may do still
// works. Then the real server, on its own account and in a share group,
// does its job for the real device on desk's account.
func TestACL(t *testing.T) {
	serverBin, deviceBin := binaries(t)
	acl, err := filepath.Abs(aclFile)
	if err != nil {
		t.Fatal(err)
	}
	b := mqtttest.Mosquitto(t, mqtttest.WithUser("desk", "desk-pw"), mqtttest.WithUser("hall", "hall-pw"),
		mqtttest.WithUser("nightlight-server", "server-pw"), mqtttest.WithUser("homeassistant", "ha-pw"),
		mqtttest.WithConfig("acl_file "+acl))
	as := func(user, pw string) paho.Client {
		return mqtttest.ClientWith(t, b.URL(), user+"-test", paho.NewClientOptions().SetUsername(user).SetPassword(pw))
	}
	desk, hall, server := as("desk", "desk-pw"), as("hall", "hall-pw"), as("nightlight-server", "server-pw")
	serverIn := listen(t, server, "+/telemetry", "+/state", "+/status")
	hallIn := listen(t, hall, "hall/commands")
	deskIn := listen(t, desk, "desk/commands", "hall/commands", "hall/telemetry", "+/commands")

	// Each forbidden publish is followed by an allowed one on the same
	// connection; once the allowed one arrived, the forbidden one would
	// have too.
	t.Run("device publishes only its own topics", func(t *testing.T) {
		for i, topic := range []string{"hall/telemetry", "hall/state", "hall/status"} {
			bad, good := "from desk "+topic, "marker "+string(rune('a'+i))
			mqtttest.Publish(t, desk, topic, []byte(bad), false)
			mqtttest.Publish(t, desk, "desk/telemetry", []byte(good), false)
			serverIn.waitHas(t, "desk/telemetry", good)
			if serverIn.has(topic, bad) {
				t.Errorf("desk published on %s", topic)
			}
		}
		mqtttest.Publish(t, desk, "desk/state", []byte("desk state"), false)
		mqtttest.Publish(t, desk, "desk/status", []byte("online"), false)
		serverIn.waitHas(t, "desk/state", "desk state")
		serverIn.waitHas(t, "desk/status", "online")
	})
	t.Run("device writes no commands, not even its own", func(t *testing.T) {
		mqtttest.Publish(t, desk, "hall/commands", []byte(`{"led_on": true}`), false)
		mqtttest.Publish(t, desk, "desk/commands", []byte(`{"led_on": true}`), false)
		mqtttest.Publish(t, desk, "desk/telemetry", []byte("marker commands"), false)
		serverIn.waitHas(t, "desk/telemetry", "marker commands")
		time.Sleep(300 * time.Millisecond) // another subscriber: allow its delivery
		if hallIn.has("hall/commands", `{"led_on": true}`) {
			t.Error("desk wrote hall's commands")
		}
		if deskIn.has("desk/commands", `{"led_on": true}`) {
			t.Error("desk wrote its own commands")
		}
	})
	t.Run("device reads only its own commands", func(t *testing.T) {
		mqtttest.Publish(t, server, "hall/commands", []byte("for hall"), false)
		mqtttest.Publish(t, server, "hall/telemetry", []byte("not even the server writes telemetry"), false)
		mqtttest.Publish(t, server, "desk/commands", []byte("for desk"), false)
		deskIn.waitHas(t, "desk/commands", "for desk")
		hallIn.waitHas(t, "hall/commands", "for hall")
		if deskIn.has("hall/commands", "for hall") {
			t.Error("desk read hall's commands")
		}
		time.Sleep(300 * time.Millisecond)
		if serverIn.has("hall/telemetry", "not even the server writes telemetry") {
			t.Error("the server's account wrote a device's telemetry")
		}
	})
	t.Run("device announces only itself to Home Assistant", func(t *testing.T) {
		ha := as("homeassistant", "ha-pw")
		haIn := listen(t, ha, "homeassistant/#")
		mqtttest.Publish(t, desk, "homeassistant/device/hall/config", []byte("desk posing as hall"), false)
		mqtttest.Publish(t, desk, "homeassistant/device/desk/config", []byte("desk's own"), false)
		haIn.waitHas(t, "homeassistant/device/desk/config", "desk's own")
		if haIn.has("homeassistant/device/hall/config", "desk posing as hall") {
			t.Error("desk announced hall")
		}
		deskBirth := listen(t, desk, "homeassistant/status")
		mqtttest.Publish(t, ha, "homeassistant/status", []byte("online"), false)
		deskBirth.waitHas(t, "homeassistant/status", "online")
		mqtttest.Publish(t, ha, "desk/commands", []byte(`{"mode": "on"}`), false)
		deskIn.waitHas(t, "desk/commands", `{"mode": "on"}`)
	})
	t.Run("the server does its job", func(t *testing.T) {
		dir := t.TempDir()
		pw := func(name, secret string) string {
			p := filepath.Join(dir, name)
			if err := os.WriteFile(p, []byte(secret+"\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			return p
		}
		light := filepath.Join(dir, "light")
		os.WriteFile(light, []byte("100\n"), 0o644)
		startProc(t, "server", serverBin, "--broker", b.URL(), "--share-group", "fleet", "--client-id", "server-1",
			"--username", "nightlight-server", "--password-file", pw("server", "server-pw"))
		dev := startProc(t, "device", deviceBin, "--hardware", "sim", "--sim-light", light, "--id", "desk",
			"--broker", b.URL(), "--state-dir", filepath.Join(dir, "state"), "--interval", "200ms",
			"--username", "desk", "--password-file", pw("desk", "desk-pw"))
		waitLine(t, dev, 0, "msg=LED", "led_on=true", "source=command")
		serverIn.waitHas(t, wire.Topic("desk", wire.KindStatus), wire.StatusOnline)
	})
}
