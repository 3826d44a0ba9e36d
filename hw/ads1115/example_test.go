package ads1115_test

import (
	"fmt"
	"log"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpioreg"
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

func ExampleDev_Watch() {
	if _, err := host.Init(); err != nil {
		log.Fatal(err)
	}
	bus, err := i2creg.Open("1")
	if err != nil {
		log.Fatal(err)
	}
	defer bus.Close()
	sensor, err := ads1115.New(bus, nil)
	if err != nil {
		log.Fatal(err)
	}

	// ALERT/RDY wired to GPIO23, held high by the Pi's pull-up.
	alert := gpioreg.ByName("GPIO23")
	if alert == nil {
		log.Fatal("no GPIO23")
	}
	if err := alert.In(gpio.PullUp, gpio.FallingEdge); err != nil {
		log.Fatal(err)
	}
	for {
		r, err := sensor.Read() // also stops the last Watch and releases ALERT/RDY
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("level %d\n", r.Level)
		if err := sensor.Watch(max(r.Level-50, 0), min(r.Level+50, 1000)); err != nil {
			log.Fatal(err)
		}
		alert.WaitForEdge(-1) // sleeps until the light moves by more than 50
	}
}
