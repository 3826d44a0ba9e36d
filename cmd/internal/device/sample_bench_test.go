package device

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"nightlight/hw/board"
	"nightlight/mqtt/outbox"
)

// BenchmarkSample measures the main loop's work per sample on the simulated
// board (the real grovehat driver over an emulated bus, the light read from
// a file): "steady" is the common case, a sample that tells nothing new;
// "published" also encodes the reading and appends it to the outbox;
// "watched" is a sample of the emulated ADS1115 while its comparator is
// armed (one read of its latest conversion), as after an alert.
func BenchmarkSample(b *testing.B) {
	dir := b.TempDir()
	light := filepath.Join(dir, "light")
	if err := os.WriteFile(light, []byte("500\n"), 0o644); err != nil {
		b.Fatal(err)
	}
	hw, err := board.Open(board.Config{Hardware: board.Sim, SimLight: light})
	if err != nil {
		b.Fatal(err)
	}
	defer hw.Close()
	ob, err := outbox.Open(filepath.Join(dir, "outbox"), outbox.Options{MaxBytes: 1 << 30})
	if err != nil {
		b.Fatal(err)
	}
	defer ob.Close()

	watched, err := board.Open(board.Config{Hardware: board.Sim, SimLight: light, AlertPin: "GPIO6"})
	if err != nil {
		b.Fatal(err)
	}
	defer watched.Close()
	if err := watched.Watch(0, 1000); err != nil {
		b.Fatal(err)
	}

	for _, tc := range []struct {
		name     string
		hw       Hardware
		interval time.Duration // 0: every sample is a heartbeat
	}{{"steady", hw, time.Hour}, {"published", hw, time.Nanosecond}, {"watched", watched, time.Hour}} {
		b.Run(tc.name, func(b *testing.B) {
			d, err := New(Config{ID: "bench", Broker: "tcp://127.0.0.1:1883", Interval: tc.interval,
				SampleEvery: time.Nanosecond / 2, Threshold: DefaultThreshold}, tc.hw, ob)
			if err != nil {
				b.Fatal(err)
			}
			now := time.Now()
			d.sample(now) // the first reading is always published
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				now = now.Add(time.Millisecond)
				d.sample(now)
			}
		})
	}
}
