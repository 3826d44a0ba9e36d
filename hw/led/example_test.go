package led_test

import (
	"log"

	"periph.io/x/conn/v3/gpio/gpioreg"
	"periph.io/x/host/v3"

	"nightlight/hw/led"
)

func Example() {
	if _, err := host.Init(); err != nil {
		log.Fatal(err)
	}
	pin := gpioreg.ByName("GPIO5") // the hat's D5 socket
	if pin == nil {
		log.Fatal("no pin GPIO5")
	}
	l, err := led.New(pin, nil) // starts off
	if err != nil {
		log.Fatal(err)
	}
	if err := l.Set(true); err != nil {
		log.Fatal(err)
	}
}
