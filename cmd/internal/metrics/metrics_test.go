package metrics

import (
	"io"
	"math"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestWriter: the text format as Prometheus documents it: HELP and TYPE
// before the samples, labels in braces, escapes in help and label values,
// whole numbers without an exponent.
func TestWriter(t *testing.T) {
	var w Writer
	w.Value("nightlight_led_on", Gauge, "Whether the LED is on.", Bool(true))
	w.Family("nightlight_commands_ignored_total", Counter, "Commands not applied.\nBy reason \\ cause.",
		One(3, "reason", "stale"), One(0, "reason", `odd "quoted"`+"\n"+`back\slash`))
	w.Value("big_total", Counter, "A large count.", 12345678901)
	w.Value("ratio", Gauge, "A fraction.", 0.25)
	w.Value("nan", Gauge, "Not a number.", math.NaN())
	w.Value("inf", Gauge, "Infinite.", math.Inf(1))
	want := `# HELP nightlight_led_on Whether the LED is on.
# TYPE nightlight_led_on gauge
nightlight_led_on 1
# HELP nightlight_commands_ignored_total Commands not applied.\nBy reason \\ cause.
# TYPE nightlight_commands_ignored_total counter
nightlight_commands_ignored_total{reason="stale"} 3
nightlight_commands_ignored_total{reason="odd \"quoted\"\nback\\slash"} 0
# HELP big_total A large count.
# TYPE big_total counter
big_total 12345678901
# HELP ratio A fraction.
# TYPE ratio gauge
ratio 0.25
# HELP nan Not a number.
# TYPE nan gauge
nan NaN
# HELP inf Infinite.
# TYPE inf gauge
inf +Inf
`
	if got := string(w.Bytes()); got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
}

func TestProcess(t *testing.T) {
	var w Writer
	Process(&w, time.Now())
	for _, name := range []string{"process_cpu_seconds_total", "process_resident_memory_bytes", "process_open_fds",
		"process_start_time_seconds", "go_goroutines", "go_memstats_heap_alloc_bytes"} {
		if !strings.Contains(string(w.Bytes()), "\n"+name+" ") {
			t.Errorf("no %s in\n%s", name, w.Bytes())
		}
	}
}

func get(t *testing.T, method, url string) (int, string, string) {
	t.Helper()
	req, _ := http.NewRequest(method, url, nil)
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("Content-Type"), string(body)
}

// TestServer: the metrics at /metrics with the format's content type,
// written at each scrape; other paths and methods refused with a hint; a
// port in use refused at Listen, naming the fix; Close returns promptly,
// and the port is free again.
func TestServer(t *testing.T) {
	scrapes := 0
	s, err := Listen("127.0.0.1:0", func(w *Writer) {
		scrapes++
		w.Value("scrapes_total", Counter, "Scrapes.", float64(scrapes))
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if scrapes != 0 {
		t.Fatal("written before any scrape")
	}
	s.Serve()
	base := "http://" + s.Addr()
	for i := 1; i <= 2; i++ {
		code, ct, body := get(t, "GET", base+Path)
		if code != 200 || ct != ContentType || !strings.Contains(body, "scrapes_total "+string(rune('0'+i))) {
			t.Fatalf("scrape %d: %d %q %q", i, code, ct, body)
		}
	}
	if code, _, body := get(t, "GET", base+"/"); code != 404 || !strings.Contains(body, Path) {
		t.Errorf("GET /: %d %q, want 404 naming %s", code, body, Path)
	}
	if code, _, _ := get(t, "POST", base+Path); code != 405 {
		t.Errorf("POST %s: %d, want 405", Path, code)
	}

	_, err = Listen(s.Addr(), func(*Writer) {}, nil)
	if err == nil || !strings.Contains(err.Error(), "metrics_listen") || !strings.Contains(err.Error(), "free port") {
		t.Errorf("a port in use: %v, want an error naming metrics_listen and the fix", err)
	}

	start := time.Now()
	s.Close()
	if d := time.Since(start); d > stopWait {
		t.Errorf("Close took %s", d)
	}
	ln, err := net.Listen("tcp", s.Addr())
	if err != nil {
		t.Fatalf("the port is not free after Close: %v", err)
	}
	ln.Close()

	unserved, err := Listen("127.0.0.1:0", func(*Writer) {}, nil)
	if err != nil {
		t.Fatal(err)
	}
	unserved.Close() // never served: returns at once
}
