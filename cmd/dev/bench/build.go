package main

import (
	"context"
	_ "embed"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// The lesson's programs travel inside the harness, so it runs from any
// directory of the module.
var (
	//go:embed lesson/device.py
	lessonDevice []byte
	//go:embed lesson/server.py
	lessonServer []byte
)

type binaries struct{ device, server string }

type scripts struct{ device, server string }

// buildOurs builds both programs as the .debs ship them: static
// (CGO_ENABLED=0: no C library mapped, 1.4 MB less resident), stripped,
// without paths of the build machine, and with the packages' tags (no
// demo) unless tags says otherwise.
func buildOurs(ctx context.Context, dir, tags string) (binaries, error) {
	b := binaries{device: filepath.Join(dir, "nightlight"), server: filepath.Join(dir, "nightlight-server")}
	for out, pkg := range map[string]string{b.device: "nightlight/cmd/nightlight", b.server: "nightlight/cmd/nightlight-server"} {
		ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
		c := commandContext(ctx, "go", "build", "-trimpath", "-tags", tags, "-ldflags", "-s -w", "-o", out, pkg)
		c.Env = append(c.Env, "CGO_ENABLED=0")
		msg, err := c.CombinedOutput()
		cancel()
		if err != nil {
			return b, fmt.Errorf("go build %s: %v\n%s", pkg, err, msg)
		}
	}
	return b, nil
}

func writeScripts(dir string) (scripts, error) {
	s := scripts{device: filepath.Join(dir, "device.py"), server: filepath.Join(dir, "server.py")}
	if err := os.WriteFile(s.device, lessonDevice, 0o644); err != nil {
		return s, err
	}
	return s, os.WriteFile(s.server, lessonServer, 0o644)
}

// python describes the interpreter that runs the lesson.
type python struct {
	version string // 3.11.2
	minor   string // 3.11: names its Debian packages
	paho    string // 1.6.1
}

// checkPython makes sure the interpreter can run the lesson's scripts.
func checkPython(ctx context.Context, bin string) (python, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	out, err := commandContext(ctx, bin, "-c",
		"import sys, paho.mqtt; print('%d.%d.%d' % sys.version_info[:3], '%d.%d' % sys.version_info[:2], paho.mqtt.__version__)").CombinedOutput()
	f := strings.Fields(string(out))
	if err != nil || len(f) != 3 {
		return python{}, fmt.Errorf("%s cannot run the lesson's scripts, which need paho-mqtt 1.6 (Debian: apt-get install python3-paho-mqtt): %v\n%s", bin, err, out)
	}
	if !strings.HasPrefix(f[2], "1.") {
		return python{}, fmt.Errorf("%s has paho-mqtt %s; the lesson's scripts are for 1.6 (Debian: python3-paho-mqtt)", bin, f[2])
	}
	return python{version: f[0], minor: f[1], paho: f[2]}, nil
}

// commandContext is exec.CommandContext with a bounded wait for the
// output after the process is killed, and no NIGHTLIGHT_ settings.
func commandContext(ctx context.Context, name string, args ...string) *exec.Cmd {
	c := exec.CommandContext(ctx, name, args...)
	c.Env = hermeticEnv()
	c.WaitDelay = 5 * time.Second
	return c
}
