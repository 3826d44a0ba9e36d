package ads1115_test

import (
	"fmt"
	"log"

	"periph.io/x/conn/v3/i2c/i2creg"
	"periph.io/x/host/v3"

	"nightlight/hw/ads1115"
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

	// A light sensor on AIN0, powered from 3.3 V, ADS1115 at 0x48.
	sensor, err := ads1115.New(bus, &ads1115.Opts{Channel: 0})
	if err != nil {
		log.Fatal(err)
	}
	r, err := sensor.Read()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s: level %d/1000 (%d mV)\n", sensor, r.Level, r.Millivolts)
}
