package main

import (
	"bytes"
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"nightlight/mqtt/mqtttest"
	"nightlight/mqtt/wire"
)

// TestDemo runs the demo as a person would: its live view shows the LED
// switching both ways on the server's commands, and --log shows the
// readings, the server's decisions and the LED in the programs' own logs.
func TestDemo(t *testing.T) {
	t.Parallel() // mostly waiting: overlaps the other long tests
	bin := binary(t)
	demo := func(t *testing.T, args ...string) string {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, bin, append([]string{"demo", "--duration", "6s", "--period", "2s", "--interval", "200ms"}, args...)...)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Run(); err != nil {
			t.Fatalf("demo: %v\n%s", err, out.String())
		}
		return out.String()
	}
	expect := func(t *testing.T, text string, patterns ...string) {
		for _, p := range patterns {
			if !regexp.MustCompile(p).MatchString(text) {
				t.Errorf("demo output has no line matching %s", p)
			}
		}
		if t.Failed() {
			t.Logf("demo output:\n%s", text)
		}
	}
	t.Run("live view", func(t *testing.T) {
		t.Parallel()
		text := demo(t)
		expect(t, text,
			`(?m)^\d\d:\d\d:\d\d\.\d  light +\d+ ▕[█▌ │]+▏ LED ● on   server: led_on=true$`,
			`(?m)^\d\d:\d\d:\d\d\.\d  light +\d+ ▕[█▌ │]+▏ LED ○ off  server: led_on=false$`)
		if strings.Contains(text, "level=") {
			t.Errorf("log lines in the live view:\n%s", text)
		}
	})
	t.Run("logs", func(t *testing.T) {
		t.Parallel()
		text := demo(t, "--log")
		expect(t, text,
			`msg=reading component=device light=\d+ seq=\d+`,
			`msg="telemetry received" component=server device=nightlight-demo light=\d+ seq=\d+`,
			`msg="command sent" component=server device=nightlight-demo led_on=true`,
			`msg="command sent" component=server device=nightlight-demo led_on=false`,
			`msg=LED component=device led_on=true source=command`,
			`msg=LED component=device led_on=false source=command`)
		// Both directions: on, then off again after it, from the server's commands.
		on := strings.Index(text, "led_on=true source=command")
		if on < 0 || !strings.Contains(text[on:], "led_on=false source=command") {
			t.Errorf("the LED did not go on and then off again")
		}
	})
}

func run(t *testing.T, env []string, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command(binary(t), args...)
	cmd.Env = append(os.Environ(), hermetic(t))
	cmd.Env = append(cmd.Env, env...)
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return string(out), 0
	case errors.As(err, &exit):
		return string(out), exit.ExitCode()
	}
	t.Fatalf("run %v: %v", args, err)
	return "", 0
}

// TestCommandLine checks exit statuses and messages of the contract.
func TestCommandLine(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	light := filepath.Join(dir, "light")
	os.WriteFile(light, []byte("123\n"), 0o644)
	good := filepath.Join(dir, "good.yaml")
	os.WriteFile(good, []byte("hardware: sim\nid: kitchen\ninterval: 2s\n"), 0o644)
	typo := filepath.Join(dir, "typo.yaml")
	os.WriteFile(typo, []byte("hardware: sim\nintervall: 2s\n"), 0o644)
	badID := filepath.Join(dir, "badid.yaml")
	os.WriteFile(badID, []byte("id: kitchen/light\n"), 0o644)
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()

	runCases(t, []cliCase{
		{"version", nil, []string{"version"}, 0, []string{"nightlight dev"}},
		{"help", nil, []string{"--help"}, 0, []string{"Usage:", "-state-dir", "NIGHTLIGHT_STATE_DIR"}},
		{"unknown command", nil, []string{"blink"}, 2, []string{`unknown command "blink"`}},
		{"unknown flag", nil, []string{"--intervall", "5s"}, 2, []string{"intervall", "--help"}},
		{"check good file", nil, []string{"check-config", "--config", good}, 0, []string{"configuration OK", "id: kitchen", "interval: 2s"}},
		{"check flag beats file", nil, []string{"check-config", "--config", good, "--interval", "3s"}, 0, []string{"interval: 3s"}},
		{"check env beats file", []string{"NIGHTLIGHT_INTERVAL=4s"}, []string{"check-config", "--config", good}, 0, []string{"interval: 4s"}},
		{"missing named file", nil, []string{"check-config", "--config", filepath.Join(dir, "nope.yaml")}, 78, []string{"nope.yaml does not exist"}},
		{"typo in file", nil, []string{"run", "--config", typo}, 78, []string{"line 2", `unknown key "intervall"`, "did you mean interval?"}},
		{"bad id", nil, []string{"check-config", "--config", badID}, 78, []string{"id (config file", "contains '/'"}},
		{"bad hardware", nil, []string{"check-config", "--hardware", "grovhat"}, 78, []string{"grovhat"}},
		{"bad duration", nil, []string{"check-config", "--interval", "0s"}, 78, []string{"interval", "too short"}},
		{"metrics port in use", nil, []string{"run", "--config", good, "--sim-light", light, "--state-dir", filepath.Join(dir, "st"), "--metrics-listen", busy.Addr().String()},
			78, []string{"metrics_listen " + busy.Addr().String(), "address already in use", "choose a free port"}},
		{"metrics address without port", nil, []string{"check-config", "--metrics-listen", "9101"}, 78, []string{"metrics_listen", "host:port"}},
		{"discovery prefix with a wildcard", nil, []string{"check-config", "--homeassistant-prefix", "ha/#"}, 78, []string{"homeassistant_prefix", "wildcard"}},
		{"homeassistant neither true nor false", []string{"NIGHTLIGHT_HOMEASSISTANT=maybe"}, []string{"check-config"}, 78, []string{"NIGHTLIGHT_HOMEASSISTANT", "neither true nor false: write true or false"}},
		{"read sim", nil, []string{"read", "--hardware", "sim", "--sim-light", light}, 0, []string{"light: 123"}},
		{"led on sim", nil, []string{"led", "on", "--hardware", "sim"}, 0, []string{"LED on"}},
		{"led off sim", nil, []string{"led", "--hardware", "sim", "off"}, 0, []string{"LED off"}},
		{"led without state", nil, []string{"led", "--hardware", "sim"}, 2, []string{"nightlight led on"}},
		{"bad sim file", nil, []string{"read", "--hardware", "sim", "--sim-light", filepath.Join(dir, "none")}, 1, []string{"none"}},
	})
}

// cliCase is one run of the binary: environment, arguments, the exit status
// of the contract and what the output must say.
type cliCase struct {
	name string
	env  []string
	args []string
	code int
	want []string
}

func runCases(t *testing.T, cases []cliCase) {
	t.Helper()
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			out, code := run(t, tt.env, tt.args...)
			if code != tt.code {
				t.Errorf("exit status %d, want %d", code, tt.code)
			}
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("output does not say %q", w)
				}
			}
			if t.Failed() {
				t.Logf("output:\n%s", out)
			}
		})
	}
}

// TestSIGTERM: a clean stop publishes the retained "offline", leaves the LED
// off (and says so in the state), and exits 0.
func TestSIGTERM(t *testing.T) {
	t.Parallel()
	b := mqtttest.Embedded(t)
	const id = "sigterm"
	watcher := mqtttest.Client(t, b.URL(), "watcher")
	status := mqtttest.Messages(t, watcher, wire.Topic(id, wire.KindStatus))
	st := states(t, watcher, id)
	dir := t.TempDir()
	light := filepath.Join(dir, "light")
	os.WriteFile(light, []byte("500\n"), 0o644)

	cmd := exec.Command(binary(t), "run", "--config", emptyConfig(t), "--hardware", "sim", "--sim-light", light, "--id", id,
		"--broker", b.URL(), "--state-dir", dir, "--interval", "100ms")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill() // a failed wait below must not leave it running
	waitPayload(t, status, "online")
	lesson := mqtttest.Client(t, b.URL(), "commander")
	mqtttest.Publish(t, lesson, id+"/commands", []byte(`{"led_on": true}`), false)
	waitState(t, st, 5*time.Second, "led_on true", ledIs(true, wire.SourceCommand))

	cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v\n%s", err, out.String())
		}
	case <-time.After(15 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("no exit within 15s of SIGTERM\n%s", out.String())
	}
	waitState(t, st, 5*time.Second, "the LED off at shutdown", ledIs(false, wire.SourceShutdown))
	waitPayload(t, status, "offline")
}

func waitPayload(t *testing.T, ch <-chan paho.Message, want string) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case m := <-ch:
			if string(m.Payload()) == want {
				return
			}
		case <-deadline:
			t.Fatalf("no %q within 10s", want)
		}
	}
}

// emptyConfig is an empty config file, so a test never reads the machine's
// /etc/nightlight/nightlight.yaml.
func emptyConfig(t *testing.T) string {
	t.Helper()
	f := filepath.Join(t.TempDir(), "empty.yaml")
	if err := os.WriteFile(f, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	return f
}

// hermetic points the default configuration at an empty file; a --config
// flag still wins.
func hermetic(t *testing.T) string { return "NIGHTLIGHT_CONFIG=" + emptyConfig(t) }
