package main

import (
	"bytes"
	"flag"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"nightlight/cmd/internal/cli"
	"nightlight/cmd/internal/setting/nightlightserver"
	"nightlight/mqtt/mqtttest"
	"nightlight/mqtt/wire"
)

// TestSettingsAreTheDefinitions holds the server's flags, and what --help
// prints, to the definitions the configuration file, the man page and the
// documentation are made from.
func TestSettingsAreTheDefinitions(t *testing.T) {
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	bindSettings(fs, new(settings))
	if err := nightlightserver.Settings.Check(fs); err != nil {
		t.Errorf("flags and definitions disagree:\n%v", err)
	}
	var stdout, stderr bytes.Buffer
	if err := run([]string{"--help"}, &stdout, &stderr); err != flag.ErrHelp {
		t.Fatalf("--help: %v", err)
	}
	for _, s := range nightlightserver.Settings.Settings() {
		if !strings.Contains(stderr.String(), "\n  -"+s.Name+" ") || !strings.Contains(stderr.String(), "\t"+s.Usage()) {
			t.Errorf("nightlight-server --help does not show --%s as defined: %q", s.Name, s.Usage())
		}
	}
}

// TestSecuritySettings: the server has the device's security settings, with
// the same checks, exit status 78 and messages.
func TestSecuritySettings(t *testing.T) {
	empty := filepath.Join(t.TempDir(), "empty.yaml")
	os.WriteFile(empty, nil, 0o644)
	t.Setenv("NIGHTLIGHT_SERVER_CONFIG", empty)
	t.Setenv("CREDENTIALS_DIRECTORY", "")
	ca := mqtttest.NewCA(t, "ca")
	pair := ca.Issue(t, mqtttest.CertSpec{CommonName: "server", Client: true})
	for _, tt := range []struct {
		name string
		env  []string
		args []string
		want []string
	}{
		{"ca_file with tcp", nil, []string{"--broker", "tcp://127.0.0.1:1883", "--ca-file", ca.File},
			[]string{"ca_file (flag --ca-file)", "use ssl://127.0.0.1:8883"}},
		{"environment", []string{"NIGHTLIGHT_SERVER_CERT_FILE", pair.CertFile}, []string{"--broker", "ssl://127.0.0.1:8883"},
			[]string{"cert_file (environment NIGHTLIGHT_SERVER_CERT_FILE)", "set key_file"}},
		{"missing password_file", nil, []string{"--username", "server", "--password-file", filepath.Join(t.TempDir(), "none")},
			[]string{"password_file (flag --password-file)", "no such file"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			for i := 0; i < len(tt.env); i += 2 {
				t.Setenv(tt.env[i], tt.env[i+1])
			}
			var stdout, stderr bytes.Buffer
			code := cli.Exit("nightlight-server", run(tt.args, &stdout, &stderr), &stderr)
			if code != 78 {
				t.Errorf("exit status %d, want 78", code)
			}
			for _, w := range tt.want {
				if !strings.Contains(stderr.String(), w) {
					t.Errorf("stderr %q does not say %q", stderr.String(), w)
				}
			}
		})
	}
}

// TestServerOverTLS runs the server binary against a Mosquitto that speaks
// only TLS and wants a client certificate, with a password as well: it
// connects and answers a reading with a command.
func TestServerOverTLS(t *testing.T) {
	if _, err := mqtttest.MosquittoPath(); err != nil && os.Getenv("NIGHTLIGHT_REQUIRE_MOSQUITTO") != "1" {
		t.Skip(err)
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "nightlight-server")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	ca := mqtttest.NewCA(t, "nightlight-test")
	server := ca.Issue(t, mqtttest.CertSpec{CommonName: "broker", Hosts: []string{"127.0.0.1", "localhost"}})
	client := ca.Issue(t, mqtttest.CertSpec{CommonName: "control", Client: true})
	b := mqtttest.Mosquitto(t, mqtttest.WithTLS(ca.File, server.CertFile, server.KeyFile), mqtttest.WithUser("control", "s3cret"),
		mqtttest.WithConfig("require_certificate true"))
	watcher := mqtttest.ClientWith(t, b.URL(), "watcher",
		paho.NewClientOptions().SetTLSConfig(ca.ClientTLS(t, &client)).SetUsername("control").SetPassword("s3cret"))
	const id = "tls-desk"
	commands := mqtttest.Messages(t, watcher, wire.Topic(id, wire.KindCommands))
	creds := filepath.Join(dir, "credentials")
	os.Mkdir(creds, 0o700)
	os.WriteFile(filepath.Join(creds, "mqtt-password"), []byte("s3cret\n"), 0o600)
	empty := filepath.Join(dir, "empty.yaml")
	os.WriteFile(empty, nil, 0o644)

	cmd := exec.Command(bin, "--config", empty, "--broker", b.URL(), "--id", id, "--ca-file", ca.File,
		"--cert-file", client.CertFile, "--key-file", client.KeyFile, "--tls-server-name", "localhost")
	cmd.Env = append(os.Environ(), "CREDENTIALS_DIRECTORY="+creds, "NIGHTLIGHT_SERVER_USERNAME=control", "JOURNAL_STREAM=")
	out := new(mqtttest.Log)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })

	deadline := time.After(15 * time.Second)
	tick := time.NewTicker(200 * time.Millisecond) // until the server is subscribed
	defer tick.Stop()
	seq := uint64(0)
wait:
	for {
		select {
		case m := <-commands:
			c, err := wire.ParseCommand(m.Payload())
			if err != nil || !c.LEDOn {
				t.Fatalf("command %q (%v), want led_on true for a dark reading", m.Payload(), err)
			}
			break wait
		case <-tick.C:
			seq++
			r := wire.Telemetry{Light: 100, Seq: seq, TS: time.Now()}
			mqtttest.Publish(t, watcher, wire.Topic(id, wire.KindTelemetry), r.AppendJSON(nil), false)
		case <-deadline:
			t.Fatalf("no command over TLS within 15s; log:\n%s", out.String())
		}
	}
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Errorf("exit after SIGTERM: %v\n%s", err, out.String())
	}
	if strings.Contains(out.String(), "level=WARN") {
		t.Errorf("warnings for a TLS connection with a client certificate and a password:\n%s", out.String())
	}
}

// TestReload: SIGHUP (systemctl reload) reads the configuration again; a
// valid one is applied in-process (here: a new threshold decides the next
// reading), a bad one is refused with its reason and the server goes on.
//
// It runs on Mosquitto: the embedded broker (mochi-mqtt v2.7.9) has a race
// when a client id connects again at once, as a reload does. The old
// connection's goroutine removes the client from its table by id
// (server.go, attachClient: s.Clients.Delete(cl.ID)) after the new
// connection with the same id has added itself, and messages for the new
// connection's subscriptions are then dropped: "no command" now and then.
func TestReload(t *testing.T) {
	b := mqtttest.Mosquitto(t)
	dir := t.TempDir()
	bin := filepath.Join(dir, "nightlight-server")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	conf := filepath.Join(dir, "server.yaml")
	write := func(text string) {
		if err := os.WriteFile(conf, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("threshold: 300\n")
	const id = "reloaded"
	c := mqtttest.Client(t, b.URL(), "device-stand-in")
	commands := mqtttest.Messages(t, c, wire.Topic(id, wire.KindCommands))
	cmd := exec.Command(bin, "--config", conf, "--broker", b.URL(), "--id", id)
	cmd.Env = append(os.Environ(), "JOURNAL_STREAM=", "NOTIFY_SOCKET=")
	out := new(mqtttest.Log)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	out.WaitFor(t, 10*time.Second, "msg=connected")
	seq := uint64(0)
	decide := func(light int) bool {
		t.Helper()
		seq++
		r := wire.Telemetry{Light: light, Seq: seq, TS: time.Now()}
		mqtttest.Publish(t, c, wire.Topic(id, wire.KindTelemetry), r.AppendJSON(nil), false)
		select {
		case m := <-commands:
			got, err := wire.ParseCommand(m.Payload())
			if err != nil {
				t.Fatalf("command %q: %v", m.Payload(), err)
			}
			return got.LEDOn
		case <-time.After(10 * time.Second):
			t.Fatalf("no command for light %d; log:\n%s", light, out.String())
			return false
		}
	}
	if decide(400) {
		t.Fatal("light 400 with threshold 300: led_on true")
	}

	write("threshold: 500\n")
	cmd.Process.Signal(syscall.SIGHUP)
	out.WaitFor(t, 10*time.Second, "msg=reloading")
	out.WaitFor(t, 10*time.Second, "threshold=500")
	// Subscribed again: the link logs connected once its subscriptions are
	// made. A fixed pause was not enough on a busy machine.
	out.WaitCount(t, 10*time.Second, 2, "msg=connected")
	if !decide(400) {
		t.Fatal("light 400 after reloading threshold 500: led_on false")
	}

	write("threshold: lots\n")
	cmd.Process.Signal(syscall.SIGHUP)
	out.WaitFor(t, 10*time.Second, "reload refused, the running configuration stays", "threshold")
	if !decide(450) {
		t.Fatal("after a refused reload the server no longer decides by threshold 500")
	}

	// A configuration that loads but does not run: its metrics port is
	// taken. The server goes back to the one that ran, and stays up.
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	write("threshold: 200\nmetrics_listen: " + taken.Addr().String() + "\n")
	cmd.Process.Signal(syscall.SIGHUP)
	out.WaitFor(t, 10*time.Second, "the reloaded configuration does not run; going back to the previous one")
	out.WaitCount(t, 10*time.Second, 3, "msg=connected") // on the previous configuration
	if !decide(450) {
		t.Fatal("after going back, the server no longer decides by threshold 500")
	}
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Errorf("exit after SIGTERM: %v\n%s", err, out.String())
	}
}
