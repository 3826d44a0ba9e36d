// Package ads1115sim emulates a TI ADS1115 at the register level on a fake
// I²C bus, with its ALERT/RDY output as a GPIO input pin, so that a simulated
// nightlight runs the real ads1115 driver (its single-shot reads and Watch)
// unchanged.
//
// A Chip is an i2c.BusCloser holding one ADS1115. It answers at its address
// and does not acknowledge any other. It has the chip's four registers,
// selected by the pointer byte of each write and big-endian:
//
//	0x00 Conversion  read-only, 0x0000 at power-up; the last conversion in
//	                 two's complement, clamped to 0x8000..0x7FFF
//	0x01 Config      0x8583 at power-up; OS reads 1 when powered down
//	                 (single-shot), 0 while converting continuously
//	0x02 Lo_thresh   0x8000 at power-up
//	0x03 Hi_thresh   0x7FFF at power-up
//
// The inputs are a function of the channel, in millivolts; the chip converts
// them with the PGA's full-scale range (±6.144 V for PGA 000 down to ±0.256 V
// for 101..111). Differential MUX settings convert the difference of their
// two inputs.
//
// Time is the caller's: a conversion takes no time (unless SetSlowness makes
// single-shot ones take longer than their period, with OS reading 0 and the
// previous result in the Conversion register meanwhile) and happens
//
//   - at a Config write with MODE 1 (single-shot) and OS 1;
//   - at a Config write with MODE 0 (continuous), as the chip starts
//     converting at once;
//   - at each Convert while in continuous mode, which stands for the
//     conversions the chip takes while the input stays as it is. One Convert
//     is enough to satisfy any COMP_QUE setting.
//
// So a latch cleared by reading the Conversion register in continuous mode
// asserts again at the next Convert if the input is still beyond the
// thresholds, where a chip would within a conversion period.
//
// A real chip in continuous mode ignores OS and finishes its ongoing
// conversion with the old settings before a new Config applies; the
// emulation converts with the new settings at once. For the ads1115 driver,
// which keeps channel and PGA, the result is the same.
//
// The comparator runs on every conversion unless COMP_QUE is 11, as the
// datasheet describes it: in window mode (COMP_MODE 1) it asserts ALERT/RDY
// while a conversion is above Hi_thresh or below Lo_thresh; in traditional
// mode it asserts above Hi_thresh and deasserts only below Lo_thresh. With
// COMP_LAT 1 an assertion stays until the Conversion register is read (the
// SMBus alert response is not emulated). COMP_POL 0 asserts by pulling the
// pin low, COMP_POL 1 by releasing it (the pin is open drain). COMP_QUE 11
// turns the comparator off and releases the pin. With Hi_thresh's MSB 1 and
// Lo_thresh's MSB 0, ALERT/RDY is a conversion-ready signal instead: a
// pulse at each continuous conversion, asserted while idle in single-shot
// mode.
//
// The pin reads High while released, as with the pull-up the board enables
// (In with gpio.PullUp), unless the pin is set to gpio.PullDown. Its edges
// follow periph's gpio.PinIn contract; see Pin.
//
// A Chip is safe for concurrent use: a simulation can call Convert from one
// goroutine while a driver reads from another and a third waits on the pin.
//
// Datasheet: https://www.ti.com/product/ADS1115 (SBAS444).
package ads1115sim
