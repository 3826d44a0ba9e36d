package grovehatsim_test

import (
	"fmt"
	"log"

	"nightlight/hw/grovehat"
	"nightlight/hw/grovehat/grovehatsim"
)

func Example() {
	hat := grovehatsim.New() // a Grove Base Hat RPi, firmware v0.2, at 0x04
	hat.SetRatio(0, 250)     // dusk on A0

	// The real driver, on the emulated bus.
	d, err := grovehat.New(hat, nil)
	if err != nil {
		log.Fatal(err)
	}
	light, err := d.Ratio(0)
	if err != nil {
		log.Fatal(err)
	}
	mv, err := d.Millivolts(0)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(d, light, mv)
	// Output: Grove Base Hat RPi (product 0x0004, firmware 2) at 0x04 250 825
}
