package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"nightlight/mqtt/mqtttest"
	"nightlight/mqtt/wire"
)

// TestSecuritySettings: every bad TLS or password setting stops the
// program at start with exit 78 and a message naming the key, the file and
// the fix; good ones pass check-config, which says what it will use.
func TestSecuritySettings(t *testing.T) {
	dir := t.TempDir()
	ca := mqtttest.NewCA(t, "ca")
	pair := ca.Issue(t, mqtttest.CertSpec{CommonName: "desk", Client: true})
	other := ca.Issue(t, mqtttest.CertSpec{CommonName: "other", Client: true})
	file := func(name, text string) string {
		f := filepath.Join(dir, name)
		if err := os.WriteFile(f, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return f
	}
	pw := file("pw", "s3cret\n")
	empty := file("empty", "")
	notPEM := file("ca.der", "not a certificate\n")
	missing := filepath.Join(dir, "missing.pem")
	creds := t.TempDir()
	if err := os.WriteFile(filepath.Join(creds, "mqtt-password"), []byte("from-systemd\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	const tlsBroker = "ssl://127.0.0.1:8883"
	noCreds := "CREDENTIALS_DIRECTORY="

	runCases(t, []cliCase{
		{"ca_file with tcp", nil, []string{"check-config", "--broker", "tcp://127.0.0.1:1883", "--ca-file", ca.File}, 78,
			[]string{"ca_file (flag --ca-file)", "is plaintext", "use ssl://127.0.0.1:8883"}},
		{"ca_file with tcp at start", []string{"NIGHTLIGHT_CA_FILE=" + ca.File}, []string{"run", "--hardware", "sim", "--broker", "tcp://127.0.0.1:1883"}, 78,
			[]string{"ca_file (environment NIGHTLIGHT_CA_FILE)", "use ssl://"}},
		{"missing ca_file", nil, []string{"check-config", "--broker", tlsBroker, "--ca-file", missing}, 78,
			[]string{"ca_file", missing, "no such file", "name a readable PEM file"}},
		{"ca_file not PEM", nil, []string{"check-config", "--broker", tlsBroker, "--ca-file", notPEM}, 78,
			[]string{"ca_file", notPEM, "holds no PEM certificate", "PEM form"}},
		{"cert without key", nil, []string{"check-config", "--broker", tlsBroker, "--cert-file", pair.CertFile}, 78,
			[]string{"cert_file (flag --cert-file)", "key_file is not", "set key_file"}},
		{"key without cert", nil, []string{"check-config", "--broker", tlsBroker, "--key-file", pair.KeyFile}, 78,
			[]string{"key_file (flag --key-file)", "set cert_file"}},
		{"key not matching", nil, []string{"run", "--hardware", "sim", "--broker", tlsBroker, "--cert-file", pair.CertFile, "--key-file", other.KeyFile}, 78,
			[]string{"key_file (flag --key-file)", other.KeyFile, "does not match the certificate in cert_file " + pair.CertFile}},
		{"password_file without username", nil, []string{"check-config", "--password-file", pw}, 78,
			[]string{"password_file (flag --password-file)", "set username"}},
		{"missing password_file", nil, []string{"run", "--hardware", "sim", "--username", "desk", "--password-file", missing}, 78,
			[]string{"password_file", missing, "no such file"}},
		{"empty password_file", nil, []string{"check-config", "--username", "desk", "--password-file", empty}, 78,
			[]string{"password_file", empty, "is empty"}},
		{"no password key", nil, []string{"check-config", "--password", "x"}, 2, []string{"password"}},
		{"TLS with everything", []string{noCreds},
			[]string{"check-config", "--broker", tlsBroker, "--ca-file", ca.File, "--cert-file", pair.CertFile, "--key-file", pair.KeyFile,
				"--tls-server-name", "localhost", "--username", "desk", "--password-file", pw}, 0,
			[]string{"configuration OK", "broker security: TLS, server localhost checked against ca_file " + ca.File,
				"client certificate " + pair.CertFile, "username desk, password from " + pw}},
		{"systemd credential", []string{"CREDENTIALS_DIRECTORY=" + creds, "NIGHTLIGHT_USERNAME=desk"}, []string{"check-config", "--broker", tlsBroker}, 0,
			[]string{"the system's CA pool", "password from " + filepath.Join(creds, "mqtt-password")}},
		{"warning", []string{noCreds}, []string{"check-config", "--broker", "tcp://192.0.2.1:1883"}, 0,
			[]string{"broker security: plaintext; anonymous", "warning: broker tcp://192.0.2.1:1883 is plaintext",
				"warning: connection to broker tcp://192.0.2.1:1883 is anonymous"}},
	})
}

// TestDeviceOverTLS runs the device binary against a Mosquitto that speaks
// only TLS and wants a password, with the password from password_file, from
// the systemd credential, and wrong.
func TestDeviceOverTLS(t *testing.T) {
	t.Parallel()
	if _, err := mqtttest.MosquittoPath(); err != nil && os.Getenv("NIGHTLIGHT_REQUIRE_MOSQUITTO") != "1" {
		t.Skip(err)
	}
	ca := mqtttest.NewCA(t, "nightlight-test")
	server := ca.Issue(t, mqtttest.CertSpec{CommonName: "broker", Hosts: []string{"127.0.0.1", "localhost"}})
	b := mqtttest.Mosquitto(t, mqtttest.WithTLS(ca.File, server.CertFile, server.KeyFile), mqtttest.WithUser("desk", "s3cret"))
	watcher := mqtttest.ClientWith(t, b.URL(), "watcher",
		paho.NewClientOptions().SetTLSConfig(ca.ClientTLS(t, nil)).SetUsername("desk").SetPassword("s3cret"))
	dir := t.TempDir()
	pw := filepath.Join(dir, "pw")
	creds := filepath.Join(dir, "credentials")
	os.Mkdir(creds, 0o700)
	for f, text := range map[string]string{pw: "s3cret\n", filepath.Join(creds, "mqtt-password"): "s3cret\n", filepath.Join(dir, "wrong"): "guess\n"} {
		if err := os.WriteFile(f, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}

	for _, tt := range []struct {
		name string
		env  []string
		args []string
		want string // in the log, when it must not connect
	}{
		{"password_file", []string{"CREDENTIALS_DIRECTORY="}, []string{"--ca-file", ca.File, "--username", "desk", "--password-file", pw}, ""},
		{"systemd credential", []string{"CREDENTIALS_DIRECTORY=" + creds, "NIGHTLIGHT_USERNAME=desk", "NIGHTLIGHT_CA_FILE=" + ca.File}, nil, ""},
		{"wrong password", []string{"CREDENTIALS_DIRECTORY="}, []string{"--ca-file", ca.File, "--username", "desk", "--password-file", filepath.Join(dir, "wrong")},
			"broker refused the username or password: check username and password_file"},
		{"system pool", []string{"CREDENTIALS_DIRECTORY="}, []string{"--username", "desk", "--password-file", pw},
			"broker's certificate is not signed by a CA we trust: set ca_file to the CA that signed it"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			id := "tls-" + strings.ReplaceAll(tt.name, " ", "-")
			telemetry := mqtttest.Messages(t, watcher, wire.Topic(id, wire.KindTelemetry))
			light := filepath.Join(t.TempDir(), "light")
			os.WriteFile(light, []byte("500\n"), 0o644)
			args := append([]string{"run", "--config", emptyConfig(t), "--hardware", "sim", "--sim-light", light, "--id", id,
				"--broker", b.URL(), "--state-dir", t.TempDir(), "--interval", "100ms"}, tt.args...)
			cmd := exec.Command(binary(t), args...)
			cmd.Env = append(os.Environ(), tt.env...)
			out := new(mqtttest.Log)
			cmd.Stdout, cmd.Stderr = out, out
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })

			if tt.want != "" {
				out.WaitFor(t, 15*time.Second, "cannot connect to the broker", tt.want)
			} else {
				select {
				case m := <-telemetry:
					if _, err := wire.ParseTelemetry(m.Payload()); err != nil {
						t.Errorf("telemetry %q: %v", m.Payload(), err)
					}
				case <-time.After(15 * time.Second):
					t.Fatalf("no telemetry over TLS within 15s; log:\n%s", out.String())
				}
			}
			cmd.Process.Signal(syscall.SIGTERM)
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("exit after SIGTERM: %v\n%s", err, out.String())
				}
			case <-time.After(15 * time.Second):
				t.Errorf("no exit within 15s of SIGTERM\n%s", out.String())
			}
			if strings.Contains(out.String(), "is anonymous") || strings.Contains(out.String(), "is plaintext") {
				t.Errorf("security warning for a TLS connection with a password:\n%s", out.String())
			}
		})
	}
}
