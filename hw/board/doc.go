// Package board opens nightlight's hardware in one place: the light sensor
// (a Grove Base Hat's ADC, or an ADS1115) and the LED, or a simulation of
// them.
//
// For real hardware Open initialises periph's host drivers (host.Init, which
// includes the GPIO character-device driver a Raspberry Pi 5 needs), opens
// the I2C bus by name (i2creg.Open) and the LED pin by name (gpioreg.ByName).
// When any of that fails, the error is an *Error whose one-line message names
// the device, what is wrong and what to do: enable I2C, join group i2c or
// gpio, seat the hat, update its firmware, free the pin.
//
// For sim Open puts an emulated Grove Base Hat (grovehatsim) on a fake bus
// and runs the real grovehat driver against it; the LED is periph's fake pin,
// a gpiotest.Pin. The light level comes from a file re-read at every sample,
// or else from a smooth day/night curve. With an alert pin, sim emulates an
// ADS1115 (ads1115sim) instead, whose input follows the light file as it
// changes (inotify on Linux).
//
// OpenSensor opens the sensor alone, without the LED or alert pin, for a
// one-shot read beside the running daemon. Host initialisation keeps file
// descriptors 0-2 as they were, whatever periph does with them.
//
// Inside, the board holds one sensor adapter for its configuration: the
// hat, the ADS1115 read on demand, the ADS1115 watching with its alert pin,
// or the simulation of the hat or of the ADS1115 (sensor.go, simsensor.go).
//
// Board.Light combines a few reads by median so that one glitch does not flip
// the LED; while the ADS1115 watches, it reads the chip's latest conversion
// once. Nothing here logs. Goroutines: with an alert pin, one watches the
// pin for edges (Alerts), and in sim one feeds the emulated chip; Close ends
// both.
package board
