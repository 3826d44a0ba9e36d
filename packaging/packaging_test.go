package packaging

import (
	"bytes"
	"debug/elf"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"testing"

	"go.yaml.in/yaml/v3"
)

// built is the amd64 build shared by the tests.
var built struct {
	once sync.Once
	dir  string
	debs map[string]string // package name -> .deb path
	err  error
}

// buildAMD64 makes the amd64 packages once, with cmd/dev/mkdeb in a process
// of its own: under the race detector, the test binary would spend half a
// minute in nfpm's xz compression alone.
func buildAMD64(t *testing.T) map[string]string {
	t.Helper()
	for _, tool := range []string{"go", "dpkg-deb"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is needed to build and inspect the packages: %v", tool, err)
		}
	}
	built.once.Do(func() {
		built.dir, built.err = os.MkdirTemp("", "nightlight-deb-test")
		if built.err != nil {
			return
		}
		cmd := exec.Command("go", "run", "./cmd/dev/mkdeb", "-version", "1.2.3", "-arch", "amd64", "-out", built.dir)
		cmd.Dir = ".." // the module's root
		// 2026-11-25 12:00 UTC: the file times and the changelog's date.
		cmd.Env = append(os.Environ(), "SOURCE_DATE_EPOCH=1795608000")
		if out, err := cmd.CombinedOutput(); err != nil {
			built.err = fmt.Errorf("go run ./cmd/dev/mkdeb: %v\n%s", err, out)
			return
		}
		debs, err := filepath.Glob(filepath.Join(built.dir, "*.deb"))
		if err != nil || len(debs) == 0 {
			built.err = fmt.Errorf("mkdeb wrote no packages into %s (%v)", built.dir, err)
			return
		}
		built.debs = map[string]string{}
		for _, d := range debs {
			name, _, _ := strings.Cut(filepath.Base(d), "_")
			built.debs[name] = d
		}
	})
	if built.err != nil {
		t.Fatal(built.err)
	}
	return built.debs
}

func TestMain(m *testing.M) {
	code := m.Run()
	if built.dir != "" {
		os.RemoveAll(built.dir)
	}
	os.Exit(code)
}

func dpkgDeb(t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.Command("dpkg-deb", args...)
	cmd.Env = append(os.Environ(), "TZ=UTC") // file times as stored
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("dpkg-deb %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

type entry struct{ mode, owner string }

func TestContents(t *testing.T) {
	debs := buildAMD64(t)
	dirs := func(paths ...string) map[string]entry {
		m := map[string]entry{}
		for _, p := range paths {
			m[p] = entry{"drwxr-xr-x", "root/root"}
		}
		return m
	}
	file := entry{"-rw-r--r--", "root/root"}
	exe := entry{"-rwxr-xr-x", "root/root"}
	common := []string{"./etc/", "./etc/nightlight/", "./lib/", "./lib/systemd/", "./lib/systemd/system/",
		"./usr/", "./usr/bin/", "./usr/share/", "./usr/share/doc/", "./usr/share/lintian/",
		"./usr/share/lintian/overrides/", "./usr/share/man/", "./usr/share/man/man1/"}

	tests := []struct {
		pkg  string
		want map[string]entry
	}{
		{"nightlight", merge(dirs(append(common, "./usr/lib/", "./usr/lib/sysusers.d/", "./usr/share/doc/nightlight/",
			"./lib/udev/", "./lib/udev/rules.d/")...), map[string]entry{
			"./lib/udev/rules.d/60-nightlight.rules":         file,
			"./usr/bin/nightlight":                           exe,
			"./lib/systemd/system/nightlight.service":        file,
			"./etc/nightlight/nightlight.yaml":               file,
			"./usr/lib/sysusers.d/nightlight.conf":           file,
			"./usr/share/doc/nightlight/copyright":           file,
			"./usr/share/doc/nightlight/changelog.Debian.gz": file,
			"./usr/share/man/man1/nightlight.1.gz":           file,
			"./usr/share/lintian/overrides/nightlight":       file,
		})},
		{"nightlight-server", merge(dirs(append(common, "./usr/share/doc/nightlight-server/")...), map[string]entry{
			"./usr/bin/nightlight-server":                           exe,
			"./lib/systemd/system/nightlight-server.service":        file,
			"./etc/nightlight/nightlight-server.yaml":               file,
			"./usr/share/doc/nightlight-server/copyright":           file,
			"./usr/share/doc/nightlight-server/changelog.Debian.gz": file,
			"./usr/share/man/man1/nightlight-server.1.gz":           file,
			"./usr/share/lintian/overrides/nightlight-server":       file,
		})},
	}
	for _, tt := range tests {
		t.Run(tt.pkg, func(t *testing.T) {
			deb := debs[tt.pkg]
			if want := tt.pkg + "_1.2.3-1_amd64.deb"; filepath.Base(deb) != want {
				t.Fatalf("package file %q, want %s", filepath.Base(deb), want)
			}
			got := map[string]entry{}
			for _, line := range strings.Split(strings.TrimSpace(dpkgDeb(t, "-c", deb)), "\n") {
				// drwxr-xr-x root/root         0 2026-11-25 12:00 ./etc/
				f := strings.Fields(line)
				if len(f) != 6 {
					t.Fatalf("unexpected dpkg-deb -c line %q", line)
				}
				got[f[5]] = entry{f[0], f[1]}
				// Reproducible: every file carries SOURCE_DATE_EPOCH's time.
				if when := f[3] + " " + f[4]; when != "2026-11-25 12:00" {
					t.Errorf("%s dated %s, want SOURCE_DATE_EPOCH's 2026-11-25 12:00", f[5], when)
				}
			}
			for path, w := range tt.want {
				g, ok := got[path]
				switch {
				case !ok:
					t.Errorf("missing %s", path)
				case g != w:
					t.Errorf("%s: %s %s, want %s %s", path, g.mode, g.owner, w.mode, w.owner)
				}
			}
			for path := range got {
				if _, ok := tt.want[path]; !ok {
					t.Errorf("unexpected %s", path)
				}
			}
		})
	}
}

func merge(ms ...map[string]entry) map[string]entry {
	out := map[string]entry{}
	for _, m := range ms {
		for k, v := range m {
			out[k] = v
		}
	}
	return out
}

func TestControl(t *testing.T) {
	debs := buildAMD64(t)
	for _, pkg := range []string{"nightlight", "nightlight-server"} {
		t.Run(pkg, func(t *testing.T) {
			deb := debs[pkg]
			fields := map[string]string{}
			for _, line := range strings.Split(dpkgDeb(t, "-f", deb), "\n") {
				if k, v, ok := strings.Cut(line, ": "); ok && !strings.HasPrefix(line, " ") {
					fields[k] = v
				}
			}
			want := map[string]string{
				"Package":      pkg,
				"Version":      "1.2.3-1",
				"Architecture": "amd64",
				"Depends":      "systemd, procps",
				"Suggests":     "mosquitto",
				"Section":      "misc",
				"Priority":     "optional",
				"Maintainer":   DefaultMaintainer,
			}
			for k, v := range want {
				if fields[k] != v {
					t.Errorf("%s: %q, want %q", k, fields[k], v)
				}
			}
			if strings.Contains(fields["Depends"], "adduser") {
				t.Errorf("Depends on adduser: the user comes from sysusers.d")
			}

			if got, want := dpkgDeb(t, "-I", deb, "conffiles"), "/etc/nightlight/"+pkg+".yaml\n"; got != want {
				t.Errorf("conffiles %q, want %q", got, want)
			}

			ctrl := t.TempDir()
			dpkgDeb(t, "-e", deb, ctrl)
			for _, script := range []string{"postinst", "prerm", "postrm"} {
				path := filepath.Join(ctrl, script)
				st, err := os.Stat(path)
				if err != nil {
					t.Fatal(err)
				}
				if st.Mode().Perm() != 0o755 {
					t.Errorf("%s mode %v, want 0755", script, st.Mode().Perm())
				}
				if out, err := exec.Command("sh", "-n", path).CombinedOutput(); err != nil {
					t.Errorf("%s: sh -n: %v\n%s", script, err, out)
				}
			}
			script := func(name string) string {
				data, err := os.ReadFile(filepath.Join(ctrl, name))
				if err != nil {
					t.Fatal(err)
				}
				return string(data)
			}
			unit := "'" + pkg + ".service'"
			for _, want := range []struct{ script, text string }{
				{"postinst", "deb-systemd-helper enable " + unit},
				{"postinst", "deb-systemd-invoke $_dh_action " + unit},
				{"postinst", "_dh_action=restart"},
				{"prerm", "deb-systemd-invoke stop " + unit},
				{"postrm", "deb-systemd-helper purge " + unit},
				{"postrm", "deb-systemd-helper mask " + unit},
			} {
				if !strings.Contains(script(want.script), want.text) {
					t.Errorf("%s lacks %q", want.script, want.text)
				}
			}
			hasSysusers := strings.Contains(script("postinst"), "systemd-sysusers")
			if hasSysusers != (pkg == "nightlight") {
				t.Errorf("postinst runs systemd-sysusers: %v", hasSysusers)
			}
			if pkg == "nightlight" && !strings.Contains(script("postrm"), "rm -rf '/var/lib/nightlight'") {
				t.Errorf("postrm does not remove the state directory on purge")
			}
			if forgets := strings.Contains(script("prerm"), "timeout 30 nightlight forget "); forgets != (pkg == "nightlight") {
				t.Errorf("prerm runs nightlight forget: %v", forgets)
			}
		})
	}
}

// TestFilesFromTree checks that the packages carry the unit files and
// configurations of the source tree byte for byte.
func TestFilesFromTree(t *testing.T) {
	debs := buildAMD64(t)
	root := t.TempDir()
	for _, deb := range debs {
		dpkgDeb(t, "-x", deb, root)
	}
	for src, dst := range map[string]string{
		"../systemd/nightlight.service":        "lib/systemd/system/nightlight.service",
		"../systemd/nightlight-server.service": "lib/systemd/system/nightlight-server.service",
		"../systemd/nightlight.sysusers":       "usr/lib/sysusers.d/nightlight.conf",
		"../systemd/nightlight.rules":          "lib/udev/rules.d/60-nightlight.rules",
		"nightlight.yaml":                      "etc/nightlight/nightlight.yaml",
		"nightlight-server.yaml":               "etc/nightlight/nightlight-server.yaml",
	} {
		want, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(filepath.Join(root, dst))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s differs from %s", dst, src)
		}
	}
}

// TestBinaries checks that the binaries are static, stripped and carry the
// version they were built as.
func TestBinaries(t *testing.T) {
	debs := buildAMD64(t)
	root := t.TempDir()
	for _, deb := range debs {
		dpkgDeb(t, "-x", deb, root)
	}
	for _, name := range []string{"nightlight", "nightlight-server"} {
		bin := filepath.Join(root, "usr/bin", name)
		f, err := elf.Open(bin)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range f.Progs {
			if p.Type == elf.PT_INTERP {
				t.Errorf("%s has a program interpreter: not static", name)
			}
		}
		if s := f.Section(".symtab"); s != nil {
			t.Errorf("%s has a symbol table: not stripped", name)
		}
		if f.Machine != elf.EM_X86_64 {
			t.Errorf("%s is for %v, want x86-64", name, f.Machine)
		}
		f.Close()

		if runtime.GOOS != "linux" || runtime.GOARCH != "amd64" {
			continue
		}
		out, err := exec.Command(bin, "version").CombinedOutput()
		if err != nil {
			t.Fatalf("%s version: %v\n%s", name, err, out)
		}
		if got, want := strings.TrimSpace(string(out)), name+" 1.2.3"; got != want {
			t.Errorf("%s version prints %q, want %q", name, got, want)
		}
	}
}

var (
	commentedKey = regexp.MustCompile(`(?m)^#([a-z0-9_]+): (.*)$`)
	helpFlag     = regexp.MustCompile(`(?m)^  -([a-z][a-z0-9-]*)[^\n]*\n\s+[^\n]*?(?:\(default "?(.*?)"?\))?$`)
)

// TestConfigFiles checks the shipped configurations against the daemons
// that read them: every setting of the daemon is in the file at its default,
// every key in the file is one the daemon knows, and the file with every key
// uncommented passes the daemon's own check.
func TestConfigFiles(t *testing.T) {
	if runtime.GOOS != "linux" || runtime.GOARCH != "amd64" {
		t.Skip("runs the amd64 binaries")
	}
	debs := buildAMD64(t)
	root := t.TempDir()
	for _, deb := range debs {
		dpkgDeb(t, "-x", deb, root)
	}
	// Host-dependent defaults: the file shows an example instead.
	examples := map[string]bool{"id": true, "client_id": true}

	for _, tt := range []struct {
		bin, yaml string
		help      []string
		check     []string
	}{
		{"nightlight", "nightlight.yaml", []string{"run", "--help"}, []string{"check-config", "--config"}},
		{"nightlight-server", "nightlight-server.yaml", []string{"--help"}, nil},
	} {
		t.Run(tt.bin, func(t *testing.T) {
			bin := filepath.Join(root, "usr/bin", tt.bin)
			text, err := os.ReadFile(tt.yaml)
			if err != nil {
				t.Fatal(err)
			}
			var uncommented strings.Builder
			var keys []string
			for _, m := range commentedKey.FindAllStringSubmatch(string(text), -1) {
				keys = append(keys, m[1])
				uncommented.WriteString(m[1] + ": " + m[2] + "\n")
			}
			var values map[string]string
			if err := yaml.Unmarshal([]byte(uncommented.String()), &values); err != nil {
				t.Fatalf("the commented keys are not valid YAML: %v\n%s", err, uncommented.String())
			}

			cmd := exec.Command(bin, tt.help...)
			cmd.Env = []string{"PATH=/usr/bin:/bin"}
			help, _ := cmd.CombinedOutput() // -h exits 0 in the contract, but the flags are what matters
			flags := map[string]bool{}
			for _, m := range helpFlag.FindAllStringSubmatch(string(help), -1) {
				if m[1] == "config" {
					continue
				}
				key := strings.ReplaceAll(m[1], "-", "_")
				flags[key] = true
				v, ok := values[key]
				if !ok {
					t.Errorf("%s: setting %s is not in the file: add it, commented out, at its default", tt.yaml, key)
					continue
				}
				if def := m[2]; strings.Contains(m[0], "(default ") && !examples[key] && v != def {
					t.Errorf("%s: %s is shown as %q, but its default is %q", tt.yaml, key, v, def)
				}
			}
			if len(flags) == 0 {
				t.Fatalf("no flags found in %s %s:\n%s", tt.bin, strings.Join(tt.help, " "), help)
			}
			for _, k := range keys {
				if !flags[k] {
					t.Errorf("%s: key %s is not a setting of %s", tt.yaml, k, tt.bin)
				}
			}
			if len(keys) != len(values) {
				t.Errorf("%s: a key appears twice", tt.yaml)
			}

			// The daemon's own verdict on the file with every key set.
			if tt.check == nil {
				return
			}
			f := filepath.Join(t.TempDir(), "all.yaml")
			if err := os.WriteFile(f, []byte(uncommented.String()), 0o644); err != nil {
				t.Fatal(err)
			}
			cmd = exec.Command(bin, append(tt.check, f)...)
			cmd.Env = []string{"PATH=/usr/bin:/bin"}
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Errorf("%s with every key uncommented: %v\n%s", tt.yaml, err, out)
			}
		})
	}
}
