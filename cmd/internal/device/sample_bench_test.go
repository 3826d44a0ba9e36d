package device

import (
	"path/filepath"
	"testing"
	"time"

	"nightlight/mqtt/link/linktest"
	"nightlight/mqtt/outbox"
	"nightlight/mqtt/wire"
)

// BenchmarkSample measures the main loop's own work per sample, on hardware
// that costs nothing (the board's share is hw/board's BenchmarkLight):
// "steady" is the common case, a sample that tells nothing new; "published"
// also encodes the reading and appends it to the outbox.
func BenchmarkSample(b *testing.B) {
	ob, err := outbox.Open(filepath.Join(b.TempDir(), "outbox"), outbox.Options{MaxBytes: 1 << 30})
	if err != nil {
		b.Fatal(err)
	}
	defer ob.Close()
	for _, tc := range []struct {
		name     string
		interval time.Duration // time.Nanosecond: every sample is a heartbeat
	}{{"steady", time.Hour}, {"published", time.Nanosecond}} {
		b.Run(tc.name, func(b *testing.B) {
			hw := &fakeBoard{level: 500}
			d, err := New(Config{ID: "bench", Interval: tc.interval, SampleEvery: time.Nanosecond / 2,
				Threshold: wire.DefaultThreshold}, hw, ob, linktest.New())
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
