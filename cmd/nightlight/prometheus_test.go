package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"nightlight/mqtt/mqtttest"
)

// TestPrometheus: a real Prometheus scrapes the daemon, the server and
// prometheus-mqtt-exporter (configured as docs/telemetry-stores.md says),
// all three targets are up, and the series say what the setup is: light
// 120, so the LED on, the server's commands sent, one device. promtool
// check metrics passes both programs' pages. It needs Debian's prometheus
// and prometheus-mqtt-exporter and takes half a minute, so it runs in a
// stage of its own: set NIGHTLIGHT_PROMETHEUS=1 (.ci/run does).
func TestPrometheus(t *testing.T) {
	if os.Getenv("NIGHTLIGHT_PROMETHEUS") != "1" {
		t.Skip("set NIGHTLIGHT_PROMETHEUS=1 to have a real Prometheus scrape the programs (needs Debian's prometheus and prometheus-mqtt-exporter; CI's metrics stage sets it)")
	}
	for _, tool := range []string{"prometheus", "promtool", "prometheus-mqtt-exporter"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("NIGHTLIGHT_PROMETHEUS=1 but %s is missing: apt-get install prometheus prometheus-mqtt-exporter", tool)
		}
	}
	b := mqtttest.Mosquitto(t)
	dir := t.TempDir()
	light := filepath.Join(dir, "light")
	setLight(t, light, 120)
	devAddr, srvAddr, expAddr, promAddr := mqtttest.FreeAddr(t), mqtttest.FreeAddr(t), mqtttest.FreeAddr(t), mqtttest.FreeAddr(t)

	d := startDaemon(t, "--hardware", "sim", "--sim-light", light, "--id", "prom", "--broker", b.URL(),
		"--state-dir", filepath.Join(dir, "state"), "--interval", "200ms", "--metrics-listen", devAddr)
	start(t, "nightlight-server", serverBinary(t), "--config", emptyConfig(t), "--broker", b.URL(), "--metrics-listen", srvAddr)
	start(t, "prometheus-mqtt-exporter", "prometheus-mqtt-exporter", "-config", exporterConfig(t, dir, b.URL()),
		"-listen-address", host(expAddr), "-listen-port", port(expAddr))
	prom := filepath.Join(dir, "prometheus.yml")
	writeFile(t, prom, fmt.Sprintf(`global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: nightlight
    static_configs: [{targets: ["%s"]}]
  - job_name: nightlight-server
    static_configs: [{targets: ["%s"]}]
  - job_name: nightlight-mqtt
    static_configs: [{targets: ["%s"]}]
`, devAddr, srvAddr, expAddr))
	start(t, "prometheus", "prometheus", "--config.file="+prom, "--storage.tsdb.path="+filepath.Join(dir, "tsdb"),
		"--web.listen-address="+promAddr, "--log.level=warn")
	d.out.WaitFor(t, 10*time.Second, "serving metrics")

	api := "http://" + promAddr
	for _, job := range []string{"nightlight", "nightlight-server", "nightlight-mqtt"} {
		waitQuery(t, api, `up{job="`+job+`"}`, func(v float64) bool { return v == 1 })
	}
	for q, ok := range map[string]func(float64) bool{
		`nightlight_light_level`:                              func(v float64) bool { return v == 120 },
		`nightlight_led_on`:                                   func(v float64) bool { return v == 1 },
		`nightlight_mode{mode="auto"}`:                        func(v float64) bool { return v == 1 },
		`nightlight_threshold`:                                func(v float64) bool { return v == 300 },
		`nightlight_broker_connected`:                         func(v float64) bool { return v == 1 },
		`nightlight_readings_published_total`:                 func(v float64) bool { return v > 0 },
		`nightlight_commands_applied_total{command="led_on"}`: func(v float64) bool { return v > 0 },
		`nightlight_server_devices`:                           func(v float64) bool { return v == 1 },
		`nightlight_server_commands_sent_total`:               func(v float64) bool { return v > 0 },
		`nightlight_light{sensor="prom"}`:                     func(v float64) bool { return v == 120 },
	} {
		waitQuery(t, api, q, ok)
	}
	for name, addr := range map[string]string{"nightlight": devAddr, "nightlight-server": srvAddr} {
		page := httpGet(t, "http://"+addr+"/metrics")
		check := exec.Command("promtool", "check", "metrics")
		check.Stdin = strings.NewReader(page)
		if out, err := check.CombinedOutput(); err != nil {
			t.Errorf("promtool check metrics on %s's page: %v\n%s", name, err, out)
		}
	}
}

// waitQuery asks Prometheus for q until its single result satisfies ok.
func waitQuery(t *testing.T, api, q string, ok func(float64) bool) {
	t.Helper()
	var last string
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(500 * time.Millisecond) {
		resp, err := http.Get(api + "/api/v1/query?query=" + url.QueryEscape(q))
		if err != nil {
			last = err.Error()
			continue
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		last = string(body)
		var r struct {
			Data struct {
				Result []struct {
					Value [2]any `json:"value"`
				} `json:"result"`
			} `json:"data"`
		}
		if json.Unmarshal(body, &r) != nil || len(r.Data.Result) != 1 {
			continue
		}
		s, _ := r.Data.Result[0].Value[1].(string)
		if v, err := strconv.ParseFloat(s, 64); err == nil && ok(v) {
			t.Logf("%s = %s", q, s)
			return
		}
	}
	t.Fatalf("Prometheus: %s never as expected; last answer: %s", q, last)
}

// exporterConfig is the prometheus-mqtt-exporter configuration of
// docs/telemetry-stores.md, pointed at this test's broker.
func exporterConfig(t *testing.T, dir, broker string) string {
	t.Helper()
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "telemetry-stores.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(doc), "## Prometheus from MQTT")
	if ok {
		_, rest, ok = strings.Cut(rest, "```yaml\n")
	}
	yaml, _, found := strings.Cut(rest, "```")
	if !ok || !found || !strings.Contains(yaml, "tcp://127.0.0.1:1883") {
		t.Fatal("docs/telemetry-stores.md has no exporter configuration (a yaml block naming tcp://127.0.0.1:1883) under \"## Prometheus from MQTT\"")
	}
	path := filepath.Join(dir, "mqtt-exporter.yaml")
	writeFile(t, path, strings.Replace(yaml, "tcp://127.0.0.1:1883", broker, 1))
	return path
}

// serverBinary builds nightlight-server.
func serverBinary(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "nightlight-server")
	if out, err := exec.Command("go", "build", "-o", path, "../nightlight-server").CombinedOutput(); err != nil {
		t.Fatalf("go build nightlight-server: %v\n%s", err, out)
	}
	return path
}

// start runs a program until the test ends; its output is logged if the
// test failed.
func start(t *testing.T, name, path string, args ...string) {
	t.Helper()
	cmd := exec.Command(path, args...)
	out := new(mqtttest.Log)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			t.Logf("%s's output:\n%s", name, out.String())
		}
	})
}

func writeFile(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

func httpGet(t *testing.T, u string) string {
	t.Helper()
	c := &http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(body)
}

func host(addr string) string { h, _, _ := net.SplitHostPort(addr); return h }
func port(addr string) string { _, p, _ := net.SplitHostPort(addr); return p }
