package ads1115sim_test

import (
	"fmt"
	"log"
	"time"

	"periph.io/x/conn/v3/gpio"

	"nightlight/hw/ads1115"
	"nightlight/hw/ads1115/ads1115sim"
)

func Example() {
	light := 1650 // millivolts on AIN0: level 500 of a 3.3 V supply
	chip := ads1115sim.New(0, func(ch int) (int, error) {
		if ch != 0 {
			return 0, nil // nothing connected
		}
		return light, nil
	})

	// The real driver, on the emulated bus.
	d, err := ads1115.New(chip, nil)
	if err != nil {
		log.Fatal(err)
	}
	r, err := d.Read()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(d, r.Level)

	// Sleep until the light leaves 400..600.
	alert := chip.Alert()
	if err := alert.In(gpio.PullUp, gpio.FallingEdge); err != nil {
		log.Fatal(err)
	}
	if err := d.Watch(400, 600); err != nil {
		log.Fatal(err)
	}
	light = 990 // dusk
	if err := chip.Convert(); err != nil {
		log.Fatal(err)
	}
	fmt.Println(alert.WaitForEdge(time.Second), alert.Read())

	// A read stops the conversions and releases ALERT/RDY.
	if r, err = d.Read(); err != nil {
		log.Fatal(err)
	}
	fmt.Println(r.Level, alert.Read())
	// Output:
	// ADS1115 A0 at 0x48 500
	// true Low
	// 300 High
}
