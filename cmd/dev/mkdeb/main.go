// Command mkdeb builds nightlight's Debian packages: nightlight and
// nightlight-server for amd64, arm64 and armhf (ARMv6, so the Pi Zero and 1
// run it), from the module it is run in.
//
//	go run ./cmd/dev/mkdeb -version 0.3.1 -out dist
//	go run ./cmd/dev/mkdeb -version 0.3.1 -out dist -arch arm64 -pkg nightlight
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"

	"nightlight/packaging"
)

func main() {
	version := flag.String("version", "", "upstream version, e.g. 0.3.1 (required); the binaries report it")
	revision := flag.String("revision", "1", "Debian revision: the packages are VERSION-REVISION")
	out := flag.String("out", "dist", "directory for the .deb files")
	arch := flag.String("arch", "", "comma-separated Debian architectures (default amd64,arm64,armhf)")
	pkg := flag.String("pkg", "", "comma-separated packages (default nightlight,nightlight-server)")
	maint := flag.String("maintainer", packaging.DefaultMaintainer, "Maintainer field")
	flag.Parse()
	if *version == "" || flag.NArg() > 0 {
		fmt.Fprintln(os.Stderr, "usage: go run ./cmd/dev/mkdeb -version X [-out DIR] [-arch LIST] [-pkg LIST]")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	_, err := packaging.Build(ctx, packaging.Options{
		Version:    *version,
		Revision:   *revision,
		OutDir:     *out,
		Arches:     list(*arch),
		Packages:   list(*pkg),
		Maintainer: *maint,
		Log:        os.Stderr,
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "mkdeb:", err)
		os.Exit(1)
	}
}

func list(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}
