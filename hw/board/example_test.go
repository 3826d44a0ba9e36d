package board_test

import (
	"fmt"
	"log"
	"os"
	"path/filepath"

	"nightlight/hw/board"
)

func Example() {
	// The light level a simulated run sees: write another number to change it.
	dir, err := os.MkdirTemp("", "nightlight")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	light := filepath.Join(dir, "light")
	if err := os.WriteFile(light, []byte("120\n"), 0o644); err != nil {
		log.Fatal(err)
	}

	b, err := board.Open(board.Config{Hardware: board.Sim, SimLight: light})
	if err != nil {
		log.Fatal(err) // on real hardware: one line saying what to do
	}
	defer b.Close() // leaves the LED off

	level, err := b.Light()
	if err != nil {
		log.Fatal(err)
	}
	if err := b.SetLED(level < 300); err != nil {
		log.Fatal(err)
	}
	fmt.Println(level, b.LED())
	// Output: 120 true
}
