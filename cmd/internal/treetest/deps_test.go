package treetest

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

// The direction of imports, kept honest with `go list`. Test code counts
// too: a test that needs a forbidden package is a sign the code under test
// is in the wrong place.
//
//   - hw knows nothing of MQTT or systemd; mqtt knows nothing of hardware.
//   - The daemon's core (device) and the server's (control) take their parts
//     through small interfaces: they import no hardware, no systemd and no
//     configuration loading. The commands build the parts and hand them in.
//   - systemd knows nothing of hardware or MQTT.
//   - Nothing outside cmd/ imports cmd/.
//   - The shipped daemon (built with the packages' tags) carries neither the
//     demo's embedded broker nor the server.
var rules = []struct {
	what      string // packages at or under this path
	forbidden []string
}{
	{"nightlight/hw", []string{"nightlight/mqtt", "github.com/eclipse/paho.mqtt.golang", "github.com/mochi-mqtt", "nightlight/systemd", "github.com/coreos/go-systemd", "nightlight/cmd"}},
	{"nightlight/mqtt", []string{"periph.io", "nightlight/hw", "github.com/warthog618", "github.com/stianeikeland/go-rpio", "gobot.io", "tinygo.org/x/drivers", "nightlight/systemd", "nightlight/cmd"}},
	{"nightlight/cmd/internal/device", []string{"nightlight/hw", "periph.io", "nightlight/systemd", "github.com/coreos/go-systemd", "nightlight/cmd/internal/config", "nightlight/cmd/internal/cli"}},
	{"nightlight/cmd/internal/control", []string{"nightlight/hw", "periph.io", "nightlight/systemd", "github.com/coreos/go-systemd", "nightlight/cmd/internal/config", "nightlight/cmd/internal/cli"}},
	{"nightlight/systemd", []string{"nightlight/hw", "periph.io", "nightlight/mqtt", "github.com/eclipse/paho.mqtt.golang", "nightlight/cmd"}},
	{"nightlight/packaging", []string{"nightlight/cmd"}},
}

// releaseForbidden are the demo's parts, which the shipped daemon must not
// carry.
var releaseForbidden = []string{"github.com/mochi-mqtt", "nightlight/mqtt/broker", "nightlight/cmd/internal/control"}

func TestImportRules(t *testing.T) {
	pkgs := list(t, "-test", "nightlight/...")
	for _, r := range rules {
		n := 0
		for _, p := range pkgs {
			if under(basePath(p.ImportPath), r.what) {
				n++
				check(t, p, r.forbidden)
			}
		}
		if n == 0 {
			t.Errorf("no package at or under %s: a rule for nothing", r.what)
		}
	}
}

func TestShippedDaemonCarriesNoDemo(t *testing.T) {
	for _, p := range list(t, "-tags", "nodemo", "nightlight/cmd/nightlight") {
		check(t, p, releaseForbidden)
	}
	// And the rule bites: the build from source does carry the demo.
	demo := list(t, "nightlight/cmd/nightlight")
	found := false
	for _, d := range demo[0].Deps {
		found = found || under(d, "nightlight/mqtt/broker")
	}
	if !found {
		t.Error("the build from source does not carry the demo's broker: is the demo still there, and the tag still nodemo?")
	}
}

func TestRulesMatchWhatTheyMean(t *testing.T) {
	for pkg, want := range map[string]bool{
		"nightlight/hw":               true,
		"nightlight/hw/board":         true,
		"nightlight/hwx":              false,
		"periph.io/x/conn/v3/i2c":     false,
		"nightlight/cmd/internal/cli": false,
	} {
		if got := under(pkg, "nightlight/hw"); got != want {
			t.Errorf("under(%q, nightlight/hw) = %t", pkg, got)
		}
	}
	for p, want := range map[string]string{
		"nightlight/hw/board [nightlight/hw/board.test]": "nightlight/hw/board",
		"nightlight/hw/board.test":                       "nightlight/hw/board",
		"nightlight/hw/board_test":                       "nightlight/hw/board",
	} {
		if got := basePath(p); got != want {
			t.Errorf("basePath(%q) = %q", p, got)
		}
	}
}

func check(t *testing.T, p listed, forbidden []string) {
	t.Helper()
	if p.Error != nil {
		t.Errorf("%s: cannot be listed, so its imports cannot be checked: %s", p.ImportPath, p.Error.Err)
		return
	}
	for _, d := range p.Deps {
		for _, f := range forbidden {
			if under(d, f) {
				t.Errorf("%s imports %s", p.ImportPath, d)
			}
		}
	}
}

// under reports whether pkg is root or below it.
func under(pkg, root string) bool { return pkg == root || strings.HasPrefix(pkg, root+"/") }

type listed struct {
	ImportPath string
	Deps       []string
	Error      *struct{ Err string }
}

// list runs go list -e -json with args.
func list(t *testing.T, args ...string) []listed {
	t.Helper()
	cmd := exec.Command(goTool(t), append([]string{"list", "-e", "-json=ImportPath,Deps,Error"}, args...)...)
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
		pkgs = append(pkgs, p)
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
