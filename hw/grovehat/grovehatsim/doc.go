// Package grovehatsim emulates a Grove Base Hat at the register level on a
// fake I²C bus, so that a simulated nightlight runs the real grovehat driver.
//
// A Hat is an i2c.BusCloser holding one hat. It answers the registers the
// hat's firmware answers (product id, vendor id, firmware version, name, raw,
// voltage, ratio and supply registers, little-endian) at its address and does
// not acknowledge any other address. Firmware 1 is emulated as v0.1: ratio
// and supply registers read 0 and, on the RPi product, voltages are doubled.
//
// The light level of a channel is set as its ratio (0..1000); the raw sample
// and the voltage are derived from it for a 3300 mV supply, as the firmware
// derives them from each other, to within rounding.
//
// A Hat is safe for concurrent use: a test or a simulation can set levels
// from one goroutine while a driver reads from another.
package grovehatsim
