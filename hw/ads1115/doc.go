// Package ads1115 reads a light sensor (such as the Grove light sensor) on one
// single-ended channel of a TI ADS1115 ADC and scales it to the same 0..1000
// level as the Grove Base Hat's ratio.
//
// # Scaling
//
// The hat's ratio is the sensor's output voltage relative to the sensor's
// supply, in 0.1 %. This package computes the same thing:
//
//	level = round(1000 * V_in / V_supply), clamped to 0..1000
//
// where V_supply is Opts.SupplyMillivolts (3300 by default: the sensor powered
// from the Pi's 3.3 V rail, as on the hat). The ADC's programmable gain is set
// to the smallest full-scale range that covers V_supply (±4.096 V for 3.3 V,
// ±6.144 V for 5 V), so the ADC's own full scale does not enter the level. A
// slightly negative reading near 0 V gives level 0.
//
// Each read is a single-shot conversion at 128 samples/s (the chip's default
// rate, good noise rejection): the driver writes the config register, waits
// one conversion period (about 7.8 ms), then reads the config register until
// its OS bit says the conversion is done (at most ten periods) and reads the
// conversion register. periph's ads1x15 sleeps one period and reads without
// looking at OS, so a chip whose oscillator runs slow (the datasheet allows
// 10 %) hands it the previous conversion; this driver does its own
// single-shot reads for that reason, with the register layout and the gain
// choice of ads1x15.
//
// # Sleeping at steady light: Watch
//
// Instead of being read every so often, the chip can watch the light itself.
// Watch(lo, hi) sets its window comparator and starts continuous conversions
// (128 samples/s); once two conversions in a row read below lo or above hi
// (in levels, exactly as Read would report them), the chip pulls its
// ALERT/RDY pin low and keeps it low. The daemon sleeps on a falling edge of
// that pin, then reads the level with Latest: one read of the last
// conversion, which releases the pin and leaves the chip converting. It then
// calls Watch again around the new level. Read, a single-shot conversion,
// stops the conversions and releases the pin too.
//
// ALERT/RDY is an open-drain output: wire it to a free GPIO of the Pi, with a
// pull-up. The board enables the Pi's internal pull-up on that GPIO (In with
// gpio.PullUp) and waits for gpio.FallingEdge; an external 10 kΩ to 3.3 V
// works too. Never pull it up to 5 V: the Pi's GPIOs take 3.3 V at most.
//
// Halt stops conversions that Watch started and releases the pin.
//
// Package ads1115sim emulates the chip and its ALERT/RDY pin, so that this
// driver runs unchanged in simulations and tests.
//
// # Datasheet
//
// https://www.ti.com/product/ADS1115
package ads1115
