//go:build !linux

package board

// keepStdio runs init: periph's GPIO character-device driver, whose chip
// handling can close fd 0, runs on Linux only.
func keepStdio(init func() error) error { return init() }
