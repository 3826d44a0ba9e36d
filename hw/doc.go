// Package hw holds nightlight's hardware: one small package per part, in the
// style of periph.io/x/devices.
//
//   - grovehat: the Grove Base Hat's ADC over I2C (the light sensor on A0).
//   - grovehat/grovehatsim: a register-level emulation of the hat on a fake
//     I2C bus, so that simulated runs execute the real driver.
//   - ads1115: a light sensor on an ADS1115 channel, the second light backend.
//   - led: the Grove LED on a GPIO pin; tests and sim drive it on periph's
//     gpiotest.Pin.
//   - board: host initialisation and bus/pin opening in one place, with errors
//     that say what to do; the only package the daemon needs.
//
// Nothing here imports MQTT or systemd; cmd/internal/treetest keeps it that
// way.
package hw
