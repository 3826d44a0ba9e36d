//go:build nodemo

package main

import (
	"errors"
	"io"

	"nightlight/cmd/internal/config"
)

// runDemo says where the demo is: the packages build the daemon without it,
// so that it carries neither the embedded broker nor the server.
func runDemo([]string, io.Writer, io.Writer) error {
	return &config.UsageError{Err: errors.New("this nightlight is built without the demo, as the packages are: " +
		"run it from the source tree with: go run ./cmd/nightlight demo")}
}
