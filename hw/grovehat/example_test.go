package grovehat_test

import (
	"fmt"
	"log"

	"periph.io/x/conn/v3/i2c/i2creg"
	"periph.io/x/host/v3"

	"nightlight/hw/grovehat"
)

func Example() {
	if _, err := host.Init(); err != nil {
		log.Fatal(err)
	}
	bus, err := i2creg.Open("1")
	if err != nil {
		log.Fatal(err)
	}
	defer bus.Close()

	// Probe 0x04 then 0x08; a driver never closes the bus it is given.
	hat, err := grovehat.New(bus, &grovehat.Opts{})
	if err != nil {
		log.Fatal(err)
	}
	light, err := hat.Ratio(0) // the Grove light sensor on A0
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s: light %d/1000\n", hat, light)
}
