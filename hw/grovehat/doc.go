// Package grovehat drives the ADC of Seeed's Grove Base Hat for Raspberry Pi
// (and Pi Zero) over I²C.
//
// The hat carries a small microcontroller (an STM32F030, or an MM32 on some
// 2022-2024 batches) that samples its analog sockets continuously and answers
// 16-bit little-endian registers:
//
//	0x00       product id: 0x0004 Grove Base Hat RPi, 0x0005 RPi Zero
//	0x01       vendor id 0x2886
//	0x02       firmware version: 2 for v0.2, 1 for v0.1
//	0x10 + ch  raw 12-bit sample, 0..4095
//	0x20 + ch  input voltage in mV
//	0x30 + ch  input / supply ratio in 0.1 %, 0..1000 (v0.2 and later)
//
// A read is what Seeed's grove.py does: the register byte in a transfer of
// its own, then an SMBus read-word of the same register (the register byte,
// then two bytes read after a repeated start). The MM32 boards may answer a
// combined transfer with the register selected before it; the separate
// write makes that the right one. There is no conversion to wait for.
//
// The hat answers at 0x04 (STM32) or 0x08 (MM32). With no address configured,
// New tries 0x04 then 0x08 and keeps the first whose product id is a Grove
// Base Hat's. It then reads the firmware version and refuses v0.1, whose
// ratio registers always read 0 and whose voltages are doubled.
//
// The vendor register is not checked: the product id and the firmware
// version already identify the hat, and the MM32 boards' firmware is not
// published, so a vendor check could only refuse genuine boards.
//
// # Sources
//
// Seeed's Python library grove.py (grove/adc.py) and the hat's firmware in
// Seeed-Studio/grove_stm32f030 (examples/grove_rpi_base_hat).
//
// The Dexter GrovePi+ also sits at 0x04 but speaks a different protocol; it
// is refused as a wrong product.
package grovehat
