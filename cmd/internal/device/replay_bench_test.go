package device

import (
	"bufio"
	"context"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"nightlight/mqtt/link"
	"nightlight/mqtt/mqtttest"
	"nightlight/mqtt/outbox"
	"nightlight/mqtt/wire"
)

// BenchmarkReplayMosquitto measures what a device does after a long outage:
// publish a backlog from the outbox into Mosquitto on loopback, with the
// sender's window, acknowledging each reading only on its PUBACK. It reports
// readings/s and the peak resident memory of this process during the replay
// (the outbox must never load the backlog whole).
//
// The backlog is 100,000 readings; NIGHTLIGHT_BENCH_BACKLOG=1000000 gives the
// memory figure docs/performance.md quotes. Run with -benchtime=1x: one iteration is
// one whole replay.
func BenchmarkReplayMosquitto(b *testing.B) {
	backlog := 100_000
	if v := os.Getenv("NIGHTLIGHT_BENCH_BACKLOG"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			b.Fatalf("NIGHTLIGHT_BENCH_BACKLOG=%q: %v", v, err)
		}
		backlog = n
	}
	broker := mqtttest.Mosquitto(b)
	const id = "bench"
	var peak atomic.Int64
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		ob, err := outbox.Open(b.TempDir(), outbox.Options{MaxBytes: 1 << 30})
		if err != nil {
			b.Fatal(err)
		}
		ts := time.Date(2026, 11, 25, 17, 43, 18, 0, time.UTC)
		buf := make([]byte, 0, 128)
		for n := 0; n < backlog; n++ {
			seq := ob.NextSeq()
			buf = wire.Telemetry{Light: 412, Seq: seq, TS: ts.Add(time.Duration(n) * 5 * time.Second)}.AppendJSON(buf[:0])
			if err := ob.Append(seq, buf); err != nil {
				b.Fatal(err)
			}
		}
		l, err := link.New(link.Options{Broker: broker.URL(), ClientID: id, Timeout: 10 * time.Second})
		if err != nil {
			b.Fatal(err)
		}
		d, err := New(Config{ID: id}, nil, ob, l)
		if err != nil {
			b.Fatal(err)
		}
		l.Start()
		for deadline := time.Now().Add(10 * time.Second); !l.Connected(); time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				b.Fatal("no connection to mosquitto")
			}
		}
		stop := make(chan struct{})
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			watchRSS(stop, &peak)
		}()
		b.StartTimer()
		start := time.Now()
		if err := d.drain(context.Background()); err != nil {
			b.Fatal(err)
		}
		elapsed := time.Since(start)
		b.StopTimer()
		close(stop)
		wg.Wait()
		if st := ob.Stats(); st.Pending != 0 {
			b.Fatalf("%d readings still pending after the replay", st.Pending)
		}
		b.ReportMetric(float64(backlog)/elapsed.Seconds(), "readings/s")
		l.Close()
		ob.Close()
	}
	b.ReportMetric(float64(peak.Load())/(1<<20), "peak-RSS-MB")
}

// watchRSS keeps the highest resident set size seen until stop closes.
func watchRSS(stop <-chan struct{}, peak *atomic.Int64) {
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for {
		if rss := residentBytes(); rss > peak.Load() {
			peak.Store(rss)
		}
		select {
		case <-stop:
			return
		case <-t.C:
		}
	}
}

// residentBytes reads VmRSS from /proc/self/status.
func residentBytes() int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if rest, ok := strings.CutPrefix(s.Text(), "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}
