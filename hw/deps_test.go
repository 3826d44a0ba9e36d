package hw

import (
	"encoding/json"
	"errors"
	"io"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// The direction of imports, kept honest with `go list` (as tailscale's
// tstest/deptest does): the hardware side knows nothing of MQTT or systemd,
// and the MQTT side knows nothing of hardware. Test code counts too.

// forbiddenInHW reports whether a package must not be among hw's deps.
func forbiddenInHW(pkg string) bool {
	p := strings.ToLower(pkg)
	return strings.Contains(p, "mqtt") || strings.Contains(p, "paho") || strings.Contains(p, "systemd")
}

// forbiddenInMQTT reports whether a package must not be among mqtt's deps.
func forbiddenInMQTT(pkg string) bool {
	for _, root := range []string{
		"periph.io",
		"nightlight/hw",
		"github.com/warthog618", // go-gpiocdev
		"github.com/stianeikeland/go-rpio",
		"gobot.io",
		"tinygo.org/x/drivers",
	} {
		if pkg == root || strings.HasPrefix(pkg, root+"/") {
			return true
		}
	}
	return false
}

func TestForbidden(t *testing.T) {
	// The rules catch what they are meant to, and only that.
	for pkg, want := range map[string]bool{
		"github.com/eclipse/paho.mqtt.golang":         true,
		"github.com/eclipse/paho.mqtt.golang/packets": true,
		"github.com/mochi-mqtt/server/v2":             true,
		"github.com/coreos/go-systemd/v22/daemon":     true,
		"nightlight/mqtt":                             true,
		"nightlight/mqtt/wire":                        true,
		"nightlight/systemd":                          true,
		"periph.io/x/conn/v3/i2c":                     false,
		"encoding/json":                               false,
	} {
		if got := forbiddenInHW(pkg); got != want {
			t.Errorf("forbiddenInHW(%q) = %t", pkg, got)
		}
	}
	for pkg, want := range map[string]bool{
		"periph.io/x/conn/v3/i2c":             true,
		"periph.io/x/host/v3":                 true,
		"nightlight/hw":                       true,
		"nightlight/hw/board":                 true,
		"nightlight/hwx":                      false,
		"github.com/mochi-mqtt/server":        false,
		"github.com/eclipse/paho.mqtt.golang": false,
		"net":                                 false,
	} {
		if got := forbiddenInMQTT(pkg); got != want {
			t.Errorf("forbiddenInMQTT(%q) = %t", pkg, got)
		}
	}
}

func TestHWImportsNoMQTTOrSystemd(t *testing.T) {
	pkgs := listPackages(t, "nightlight/hw")
	if len(pkgs) == 0 {
		t.Fatal("go list found no nightlight/hw packages")
	}
	checkDeps(t, pkgs, forbiddenInHW)
}

func TestMQTTImportsNoHardware(t *testing.T) {
	pkgs := listPackages(t, "nightlight/mqtt")
	if len(pkgs) == 0 {
		// Nothing to check yet; the check above proves the machinery works.
		t.Log("no nightlight/mqtt packages yet: nothing imports hardware")
		return
	}
	checkDeps(t, pkgs, forbiddenInMQTT)
}

type listed struct {
	ImportPath string
	Deps       []string
	Error      *struct{ Err string }
}

// listPackages lists, with their test variants, the module's packages at or
// under root.
func listPackages(t *testing.T, root string) []listed {
	t.Helper()
	cmd := exec.Command(goTool(t), "list", "-e", "-test", "-json=ImportPath,Deps,Error", "nightlight/...")
	out, err := cmd.Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			t.Fatalf("go list: %v\n%s", err, ee.Stderr)
		}
		t.Fatalf("go list: %v", err)
	}
	var pkgs []listed
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for {
		var p listed
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("go list output: %v", err)
		}
		if base := basePath(p.ImportPath); base == root || strings.HasPrefix(base, root+"/") {
			pkgs = append(pkgs, p)
		}
	}
	return pkgs
}

// basePath strips the test-variant decorations go list adds:
// "x [x.test]", "x.test" and "x_test".
func basePath(p string) string {
	if i := strings.Index(p, " ["); i >= 0 {
		p = p[:i]
	}
	p = strings.TrimSuffix(p, ".test")
	return strings.TrimSuffix(p, "_test")
}

func checkDeps(t *testing.T, pkgs []listed, forbidden func(string) bool) {
	t.Helper()
	for _, p := range pkgs {
		if p.Error != nil {
			t.Errorf("%s: cannot be listed, so its imports cannot be checked: %s", p.ImportPath, p.Error.Err)
			continue
		}
		for _, d := range p.Deps {
			if forbidden(d) {
				t.Errorf("%s imports %s", p.ImportPath, d)
			}
		}
	}
}

// goTool finds the go command that runs this test.
func goTool(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	p, err := exec.LookPath(filepath.Join(runtime.GOROOT(), "bin", "go"))
	if err != nil {
		t.Fatalf("the go command is needed to list imports: %v", err)
	}
	return p
}
