// Package led drives a Grove LED (or any LED on a GPIO pin, active high)
// through a periph gpio.PinOut.
//
// The driver does not own the pin: whoever looked it up releases it. New
// drives the pin low so that the LED starts in a known state, off.
//
// On a Raspberry Pi 5 the pin comes from the GPIO character device
// (periph's gpioioctl, /dev/gpiochipN); on older Pis it may be a
// memory-mapped bcm283x pin. The driver works with either.
//
// # Wiring
//
// The Grove LED's signal line on the Grove Base Hat's D5 socket is BCM GPIO5
// (header pin 29), periph name "GPIO5". Seeed's grove.py (grove/grove_led.py)
// drives it the same way: high is on.
package led
