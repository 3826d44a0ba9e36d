package board

import (
	"testing"
	"time"
)

func TestValidate(t *testing.T) {
	tests := []struct {
		cfg  Config
		want string // "" = valid
	}{
		{Config{}, ""},
		{Config{Hardware: "grovehat", Bus: "1", Addr: 0x08, Channel: 7, LEDPin: "GPIO16", Samples: 15}, ""},
		{Config{Hardware: "ads1115", Channel: 3, Addr: 0x4B, Samples: 1}, ""},
		{Config{Hardware: "sim", SimLight: "light.txt"}, ""},
		{Config{Hardware: "sim", SimLight: "light.txt", SimPeriod: -time.Second}, ""}, // period unused with a file
		{Config{Hardware: "grovehat", SimPeriod: -time.Second}, ""},                   // sim settings ignored
		{Config{Hardware: "grovhat"}, `hardware "grovhat": must be grovehat, ads1115 or sim`},
		{Config{Hardware: "GroveHat"}, `hardware "GroveHat": must be grovehat, ads1115 or sim`},
		{Config{Samples: 4}, "samples 4: must be odd, 1..15, so that the median is one read (e.g. 3)"},
		{Config{Samples: 17}, "samples 17: must be odd, 1..15, so that the median is one read (e.g. 3)"},
		{Config{Samples: -1}, "samples -1: must be odd, 1..15, so that the median is one read (e.g. 3)"},
		{Config{Channel: 8}, "channel 8: must be 0..7 for the Grove Base Hat (0 is socket A0)"},
		{Config{Hardware: "sim", Channel: -1}, "channel -1: must be 0..7 for the Grove Base Hat (0 is socket A0)"},
		{Config{Hardware: "ads1115", Channel: 4}, "channel 4: must be 0..3 for ads1115 (AIN0..AIN3)"},
		{Config{Hardware: "ads1115", Addr: 0x04}, "addr 0x4: must be 0x48..0x4b for ads1115 (ADDR pin to GND, VDD, SDA, SCL), or 0 for 0x48"},
		{Config{Addr: 0x80}, "addr 0x80: must be a 7-bit I2C address up to 0x7f, or 0 to probe 0x04 then 0x08"},
		{Config{Hardware: "sim", SimPeriod: -time.Minute}, "sim-period -1m0s: must be positive (e.g. 10m)"},
		{Config{Hardware: "ads1115", AlertPin: "GPIO6"}, ""},
		{Config{Hardware: "sim", AlertPin: "GPIO6", Channel: 3}, ""},
		{Config{Hardware: "sim", AlertPin: "GPIO6", Channel: 4}, "channel 4: must be 0..3 for ads1115 (AIN0..AIN3)"},
		{Config{Hardware: "sim", AlertPin: "GPIO6", Addr: 0x04}, "addr 0x4: must be 0x48..0x4b for ads1115 (ADDR pin to GND, VDD, SDA, SCL), or 0 for 0x48"},
		{Config{AlertPin: "GPIO6"}, "alert-pin GPIO6: the Grove Base Hat has no alert output, so it is read every sample-every; leave alert-pin empty, or use hardware ads1115 with ALERT/RDY wired to a GPIO"},
		{Config{Hardware: "ads1115", AlertPin: "GPIO5"}, "alert-pin GPIO5: it is also led-pin; wire ALERT/RDY to a free GPIO such as GPIO6"},
	}
	for _, tt := range tests {
		err := tt.cfg.Validate()
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("%+v: %v", tt.cfg, err)
		case tt.want != "" && (err == nil || err.Error() != tt.want):
			t.Errorf("%+v:\n got  %v\n want %s", tt.cfg, err, tt.want)
		}
	}
}

func TestDefaults(t *testing.T) {
	c := Config{}.withDefaults()
	want := Config{Hardware: "grovehat", Bus: "1", LEDPin: "GPIO5", Samples: 3, SimPeriod: 10 * time.Minute}
	if c != want {
		t.Fatalf("defaults %+v, want %+v", c, want)
	}
	if c := (Config{Hardware: "ads1115"}).withDefaults(); c.Addr != 0x48 {
		t.Fatalf("ads1115 default addr %#x", c.Addr)
	}
}
