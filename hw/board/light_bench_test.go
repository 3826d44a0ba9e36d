package board

import (
	"os"
	"path/filepath"
	"testing"
)

// BenchmarkLight measures one sample of the simulated boards, the board's
// share of the daemon's work per sample: "hat" is the real grovehat driver
// over the emulated hat's bus with the light read from a file (the median
// of three reads); "watched" is the emulated ADS1115 while its comparator
// is armed (one read of its latest conversion), as after an alert.
func BenchmarkLight(b *testing.B) {
	light := filepath.Join(b.TempDir(), "light")
	if err := os.WriteFile(light, []byte("500\n"), 0o644); err != nil {
		b.Fatal(err)
	}
	hat, err := Open(Config{Hardware: Sim, SimLight: light})
	if err != nil {
		b.Fatal(err)
	}
	defer hat.Close()
	watched, err := Open(Config{Hardware: Sim, SimLight: light, AlertPin: "GPIO6"})
	if err != nil {
		b.Fatal(err)
	}
	defer watched.Close()
	if err := watched.Watch(0, 1000); err != nil {
		b.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		board *Board
	}{{"hat", hat}, {"watched", watched}} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := tc.board.Light(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
