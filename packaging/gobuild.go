package packaging

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

func moduleDir(ctx context.Context) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("packaging: go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", errors.New("packaging: not inside the nightlight module: run from its directory")
	}
	return filepath.Dir(gomod), nil
}

// ReleaseTags are the build tags of the shipped programs: nodemo leaves the
// demo, with its embedded broker and server, out of the daemon.
const ReleaseTags = "nodemo"

// goBuild makes a static, stripped binary whose paths do not depend on the
// machine that built it.
func (b *builder) goBuild(ctx context.Context, a Arch, p Package, out string) error {
	fmt.Fprintf(b.o.Log, "building %s for %s\n", p.Name, a.Deb)
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-tags", ReleaseTags,
		"-ldflags", "-s -w -X main.version="+b.o.Version,
		"-o", out, p.Cmd)
	cmd.Dir = b.o.ModuleDir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+a.GOARCH)
	cmd.Env = append(cmd.Env, a.Env...)
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go build %s: %w\n%s", p.Cmd, err, stderr.Bytes())
	}
	return nil
}
