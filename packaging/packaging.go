// Package packaging builds the Debian packages of nightlight: for each
// architecture a "nightlight" package (the device daemon) and a
// "nightlight-server" package, with goreleaser/nfpm used as a library.
//
// The packages behave as debhelper-made ones do: the maintainer scripts in
// debian/ are those dh_installsysusers and dh_installsystemd would write.
// cmd/mkdeb is the command line; README.md ("Install on a Raspberry Pi") tells how to use the
// result.
package packaging

import (
	"bytes"
	"compress/gzip"
	"context"
	"debug/buildinfo"
	"embed"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"text/template"
	"time"

	"github.com/goreleaser/nfpm/v2"
	"github.com/goreleaser/nfpm/v2/deb"
	"github.com/goreleaser/nfpm/v2/files"
)

// Files of the packages that are not code: maintainer script templates,
// lintian overrides and manual pages. The unit files and configurations are
// read from the module (systemd/ and packaging/), where the daemons' own
// tests can see them too.
//
//go:embed debian man
var assets embed.FS

// Arch is a Debian architecture and the Go settings that build for it.
type Arch struct {
	Deb    string // Debian's name: amd64, arm64, armhf
	GOARCH string
	Env    []string // more Go settings: GOARM=6 for armhf
}

// Arches are the architectures built by default. armhf is built for ARMv6
// (GOARM=6) because Raspberry Pi OS's armhf runs on the Pi Zero and 1, whose
// ARM1176 dies with SIGILL on GOARM=7 code.
var Arches = []Arch{
	{Deb: "amd64", GOARCH: "amd64", Env: []string{"GOAMD64=v1"}},
	{Deb: "arm64", GOARCH: "arm64", Env: []string{"GOARM64=v8.0"}},
	{Deb: "armhf", GOARCH: "arm", Env: []string{"GOARM=6"}},
}

// DefaultMaintainer goes into the Maintainer field when Options has none.
const DefaultMaintainer = "nightlight maintainers <nightlight@example.org>"

// Package describes one binary package.
type Package struct {
	Name        string // package name, also the binary in /usr/bin and the unit
	Cmd         string // Go package of the binary, relative to the module
	Synopsis    string
	Description string   // extended description, paragraphs separated by blank lines
	Depends     []string // beyond the libc-free binary's needs
	Suggests    []string
	Sysusers    bool     // ships systemd/<Name>.sysusers as /usr/lib/sysusers.d/<Name>.conf
	Udev        bool     // ships systemd/<Name>.rules as /lib/udev/rules.d/60-<Name>.rules
	PurgePaths  []string // removed by "dpkg --purge" besides the conffiles
}

// Packages are the two packages built for each architecture.
var Packages = []Package{
	{
		Name:     "nightlight",
		Cmd:      "./cmd/nightlight",
		Synopsis: "night-light device daemon: light sensor and LED over MQTT",
		Description: `nightlight reads a light sensor on a Raspberry Pi (a Grove Base Hat or an
ADS1115), publishes the light level over MQTT, and switches an LED as a
control server (the nightlight-server package) commands. Readings are kept
in an on-disk outbox while the broker is unreachable, and after a while
without a broker the device applies the threshold rule itself.

This package runs the daemon as a hardened systemd service under its own
system user, in the groups i2c and gpio.`,
		Depends:  []string{"systemd", "procps"},
		Suggests: []string{"mosquitto"},
		Sysusers: true,
		Udev:     true,
		PurgePaths: []string{
			"/var/lib/nightlight",
			"/etc/credstore/nightlight-mqtt-password",
		},
	},
	{
		Name:     "nightlight-server",
		Cmd:      "./cmd/nightlight-server",
		Synopsis: "night-light control server: switches LEDs by light level over MQTT",
		Description: `nightlight-server follows the light readings that nightlight devices
publish over MQTT and tells each device to switch its LED on when the light
is below a threshold, and off again when it is not.

This package runs the server as a hardened systemd service.`,
		Depends:  []string{"systemd", "procps"},
		Suggests: []string{"mosquitto"},
		PurgePaths: []string{
			"/etc/credstore/nightlight-server-mqtt-password",
		},
	},
}

// Options say what to build.
type Options struct {
	Version    string    // upstream version, e.g. 0.3.1
	Revision   string    // Debian revision; "" means 1: the package version is 0.3.1-1
	OutDir     string    // where the .deb files go; created if missing
	Arches     []string  // Debian architecture names; nil means all of Arches
	Packages   []string  // package names; nil means all of Packages
	ModuleDir  string    // root of the nightlight module; "" finds it from the working directory
	Maintainer string    // "" means DefaultMaintainer
	Time       time.Time // file times and changelog date; zero means $SOURCE_DATE_EPOCH, else now
	Log        io.Writer // a line per step; nil discards
}

var (
	versionRE  = regexp.MustCompile(`^[0-9][A-Za-z0-9.+~]*$`)
	revisionRE = regexp.MustCompile(`^[A-Za-z0-9.+~]+$`)
)

// Build cross-compiles the binaries and writes the packages, returning the
// paths of the .deb files.
func Build(ctx context.Context, o Options) ([]string, error) {
	if !versionRE.MatchString(o.Version) {
		return nil, fmt.Errorf("packaging: version %q is not an upstream version: use digits and dots such as 0.3.1", o.Version)
	}
	if o.Revision == "" {
		o.Revision = "1"
	}
	if !revisionRE.MatchString(o.Revision) {
		return nil, fmt.Errorf("packaging: revision %q is not a Debian revision: use a number such as 1", o.Revision)
	}
	if o.OutDir == "" {
		return nil, errors.New("packaging: no output directory")
	}
	if o.Maintainer == "" {
		o.Maintainer = DefaultMaintainer
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
	if o.Time.IsZero() {
		o.Time = time.Now()
		if s := os.Getenv("SOURCE_DATE_EPOCH"); s != "" {
			sec, err := strconv.ParseInt(s, 10, 64)
			if err != nil {
				return nil, fmt.Errorf("packaging: SOURCE_DATE_EPOCH=%q: %w", s, err)
			}
			o.Time = time.Unix(sec, 0)
		}
	}
	o.Time = o.Time.UTC().Truncate(time.Second)
	arches, err := pick(Arches, o.Arches, func(a Arch) string { return a.Deb })
	if err != nil {
		return nil, err
	}
	pkgs, err := pick(Packages, o.Packages, func(p Package) string { return p.Name })
	if err != nil {
		return nil, err
	}
	if o.ModuleDir == "" {
		if o.ModuleDir, err = moduleDir(ctx); err != nil {
			return nil, err
		}
	}
	if err := os.MkdirAll(o.OutDir, 0o755); err != nil {
		return nil, fmt.Errorf("packaging: %w", err)
	}
	stage, err := os.MkdirTemp("", "nightlight-deb")
	if err != nil {
		return nil, fmt.Errorf("packaging: %w", err)
	}
	defer os.RemoveAll(stage)

	b := &builder{o: o, stage: stage}
	var debs []string
	for _, a := range arches {
		for _, p := range pkgs {
			path, err := b.build(ctx, a, p)
			if err != nil {
				return debs, fmt.Errorf("packaging: %s %s: %w", p.Name, a.Deb, err)
			}
			fmt.Fprintf(o.Log, "wrote %s\n", path)
			debs = append(debs, path)
		}
	}
	return debs, nil
}

func pick[T any](all []T, names []string, name func(T) string) ([]T, error) {
	if len(names) == 0 {
		return all, nil
	}
	var out []T
	for _, n := range names {
		i := slices.IndexFunc(all, func(t T) bool { return name(t) == n })
		if i < 0 {
			var known []string
			for _, t := range all {
				known = append(known, name(t))
			}
			return nil, fmt.Errorf("packaging: unknown name %q: use one of %s", n, strings.Join(known, ", "))
		}
		out = append(out, all[i])
	}
	return out, nil
}

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

type builder struct {
	o     Options
	stage string
}

func (b *builder) build(ctx context.Context, a Arch, p Package) (string, error) {
	dir := filepath.Join(b.stage, a.Deb, p.Name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	bin := filepath.Join(dir, p.Name)
	if err := b.goBuild(ctx, a, p, bin); err != nil {
		return "", err
	}

	gen := map[string][]byte{}
	var err error
	if gen["copyright"], err = b.copyright(ctx, p, bin); err != nil {
		return "", err
	}
	if gen["changelog.Debian.gz"], err = gzipped(b.changelog(p)); err != nil {
		return "", err
	}
	man, err := assets.ReadFile("man/" + p.Name + ".1")
	if err != nil {
		return "", err
	}
	if gen["man.1.gz"], err = gzipped(man); err != nil {
		return "", err
	}
	if gen["lintian-overrides"], err = assets.ReadFile("debian/" + p.Name + ".lintian-overrides"); err != nil {
		return "", err
	}
	for _, script := range []string{"postinst", "prerm", "postrm"} {
		if gen[script], err = b.script(script, p); err != nil {
			return "", err
		}
	}
	for name, data := range gen {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			return "", err
		}
	}

	mod := func(rel string) string { return filepath.Join(b.o.ModuleDir, rel) }
	file := func(src, dst string, mode os.FileMode) *files.Content {
		return &files.Content{Source: src, Destination: dst, Type: files.TypeFile,
			FileInfo: &files.ContentFileInfo{Mode: mode, MTime: b.o.Time}}
	}
	doc := "/usr/share/doc/" + p.Name + "/"
	contents := files.Contents{
		file(bin, "/usr/bin/"+p.Name, 0o755),
		file(mod("systemd/"+p.Name+".service"), "/lib/systemd/system/"+p.Name+".service", 0o644),
		{Source: mod("packaging/" + p.Name + ".yaml"), Destination: "/etc/nightlight/" + p.Name + ".yaml",
			Type: files.TypeConfig, FileInfo: &files.ContentFileInfo{Mode: 0o644, MTime: b.o.Time}},
		file(filepath.Join(dir, "copyright"), doc+"copyright", 0o644),
		file(filepath.Join(dir, "changelog.Debian.gz"), doc+"changelog.Debian.gz", 0o644),
		file(filepath.Join(dir, "man.1.gz"), "/usr/share/man/man1/"+p.Name+".1.gz", 0o644),
		file(filepath.Join(dir, "lintian-overrides"), "/usr/share/lintian/overrides/"+p.Name, 0o644),
	}
	if p.Sysusers {
		contents = append(contents, file(mod("systemd/"+p.Name+".sysusers"), "/usr/lib/sysusers.d/"+p.Name+".conf", 0o644))
	}
	if p.Udev {
		contents = append(contents, file(mod("systemd/"+p.Name+".rules"), "/lib/udev/rules.d/60-"+p.Name+".rules", 0o644))
	}

	info := &nfpm.Info{
		Name:          p.Name,
		Arch:          a.Deb,
		Platform:      "linux",
		Version:       b.o.Version,
		Release:       b.o.Revision,
		VersionSchema: "none", // used as given, not reformatted as semver
		Section:       "misc",
		Priority:      "optional",
		Maintainer:    b.o.Maintainer,
		Description:   p.Synopsis + "\n" + p.Description,
		MTime:         b.o.Time,
		Overridables: nfpm.Overridables{
			Depends:  p.Depends,
			Suggests: p.Suggests,
			Contents: contents,
			Scripts: nfpm.Scripts{
				PostInstall: filepath.Join(dir, "postinst"),
				PreRemove:   filepath.Join(dir, "prerm"),
				PostRemove:  filepath.Join(dir, "postrm"),
			},
			Deb: nfpm.Deb{Compression: "xz"},
		},
	}
	info = nfpm.WithDefaults(info)
	if err := info.Validate(); err != nil {
		return "", err
	}
	out := filepath.Join(b.o.OutDir, deb.Default.ConventionalFileName(info))
	tmp, err := os.CreateTemp(b.o.OutDir, ".nightlight-deb-*")
	if err != nil {
		return "", err
	}
	defer os.Remove(tmp.Name())
	if err := deb.Default.Package(info, tmp); err != nil {
		tmp.Close()
		return "", err
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return "", err
	}
	if err := tmp.Close(); err != nil {
		return "", err
	}
	return out, os.Rename(tmp.Name(), out)
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

func (b *builder) script(name string, p Package) ([]byte, error) {
	t, err := template.ParseFS(assets, "debian/"+name+".tmpl")
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	err = t.Execute(&buf, map[string]any{
		"Package":    p.Name,
		"Unit":       p.Name + ".service",
		"Sysusers":   p.Sysusers,
		"Udev":       p.Udev,
		"PurgePaths": p.PurgePaths,
	})
	return buf.Bytes(), err
}

// changelog is a one-entry Debian changelog for the version built; the
// project's history is its git log.
func (b *builder) changelog(p Package) []byte {
	return fmt.Appendf(nil, "%s (%s-%s) stable; urgency=medium\n\n"+
		"  * Package of nightlight %s, built from the project's sources.\n\n"+
		" -- %s  %s\n",
		p.Name, b.o.Version, b.o.Revision, b.o.Version, b.o.Maintainer, b.o.Time.Format(time.RFC1123Z))
}

// gzipped compresses as gzip -9n does: best compression, no name and no
// time in the header, so the same input gives the same bytes.
func gzipped(data []byte) ([]byte, error) {
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err != nil {
		return nil, err
	}
	if _, err := zw.Write(data); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// copyright writes the machine-readable copyright file: nightlight's own
// licence, then the licence texts of the Go toolchain and of every module
// linked into the binary, read from the build info the binary carries and
// from the module cache that built it.
func (b *builder) copyright(ctx context.Context, p Package, bin string) ([]byte, error) {
	bi, err := buildinfo.ReadFile(bin)
	if err != nil {
		return nil, err
	}
	env, err := goEnv(ctx, b.o.ModuleDir, "GOROOT", "GOMODCACHE")
	if err != nil {
		return nil, err
	}

	var w bytes.Buffer
	w.WriteString("Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n")
	w.WriteString("Upstream-Name: nightlight\n")
	fmt.Fprintf(&w, "Upstream-Contact: %s\n", b.o.Maintainer)
	w.WriteString("Comment: usr/bin/" + p.Name + " is a statically linked Go program. Besides\n" +
		" nightlight's own code it contains the Go standard library and runtime and\n" +
		" the Go modules named in the Files paragraphs below, each under the licence\n" +
		" text that came with the version built in.\n")

	own, err := licenceText(b.o.ModuleDir)
	if errors.Is(err, os.ErrNotExist) {
		own = []byte("No licence file was found in the nightlight sources this package was\nbuilt from; all rights are reserved by the authors.\n")
	} else if err != nil {
		return nil, err
	}
	paragraph(&w, "*", "The nightlight authors", "nightlight", own)

	goText, err := licenceText(env["GOROOT"])
	if err != nil {
		return nil, fmt.Errorf("licence of the Go toolchain: %w", err)
	}
	paragraph(&w, "go/*", "The Go Authors", "Go ("+bi.GoVersion+")", goText)

	for _, dep := range bi.Deps {
		m := dep
		if dep.Replace != nil {
			m = dep.Replace
		}
		dir, err := moduleCacheDir(env["GOMODCACHE"], m.Path, m.Version)
		if err != nil {
			return nil, err
		}
		text, err := licenceText(dir)
		if err != nil {
			return nil, fmt.Errorf("licence of %s %s: %w", m.Path, m.Version, err)
		}
		paragraph(&w, m.Path+"/*", "The authors of "+m.Path, m.Path+" "+m.Version, text)
	}
	return w.Bytes(), nil
}

// paragraph writes a Files paragraph with its licence text inline; the
// licence "name" is the module, whose text follows, since no list of
// identifiers covers every module's wording.
func paragraph(w *bytes.Buffer, glob, holder, name string, text []byte) {
	fmt.Fprintf(w, "\nFiles: %s\nCopyright: %s\nLicense: %s\n", glob, holder, name)
	for _, line := range strings.Split(strings.TrimRight(strings.ReplaceAll(string(text), "\r\n", "\n"), "\n \t"), "\n") {
		line = strings.TrimRight(line, " \t")
		if line == "" {
			w.WriteString(" .\n")
			continue
		}
		w.WriteString(" " + line + "\n")
	}
}

// licenceNames are the file names that hold a module's licence, and the
// NOTICE files that the Apache licence requires to go along with it.
var licenceNames = []string{
	"LICENSE", "LICENSE.txt", "LICENSE.md", "LICENCE", "COPYING", "LICENSE-APACHE", "LICENSE-MIT",
	"edl-v10", "epl-v20", "NOTICE", "NOTICE.txt", "NOTICE.md",
}

func licenceText(dir string) ([]byte, error) {
	var out []byte
	for _, name := range licenceNames {
		data, err := os.ReadFile(filepath.Join(dir, name))
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if len(out) > 0 {
			out = append(out, "\n"...)
		}
		if isApache2(data) {
			// Debian ships this text once; policy 12.5 asks to refer to it.
			data = []byte("Licensed under the Apache License, Version 2.0. On Debian systems the\n" +
				"complete text of the Apache License 2.0 can be found in\n" +
				"/usr/share/common-licenses/Apache-2.0.")
		}
		out = append(out, bytes.TrimSpace(data)...)
		out = append(out, '\n')
	}
	if out == nil {
		return nil, fmt.Errorf("no licence file in %s: %w", dir, os.ErrNotExist)
	}
	return out, nil
}

func isApache2(text []byte) bool {
	return bytes.Contains(text, []byte("Apache License")) &&
		bytes.Contains(text, []byte("Version 2.0, January 2004")) &&
		bytes.Contains(text, []byte("TERMS AND CONDITIONS FOR USE, REPRODUCTION, AND DISTRIBUTION"))
}

func goEnv(ctx context.Context, dir string, names ...string) (map[string]string, error) {
	cmd := exec.CommandContext(ctx, "go", append([]string{"env"}, names...)...)
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("go env: %w", err)
	}
	lines := strings.Split(strings.TrimRight(string(out), "\n"), "\n")
	if len(lines) != len(names) {
		return nil, fmt.Errorf("go env: %d values for %d names", len(lines), len(names))
	}
	env := map[string]string{}
	for i, n := range names {
		env[n] = lines[i]
	}
	return env, nil
}

// moduleCacheDir is where the go command unpacks a module version: upper
// case letters are written as '!' and the lower case letter.
func moduleCacheDir(cache, path, version string) (string, error) {
	if version == "" || version == "(devel)" {
		return "", fmt.Errorf("module %s has no version: build from the module cache, not a replace to a directory", path)
	}
	esc := func(s string) string {
		var b strings.Builder
		for _, r := range s {
			if 'A' <= r && r <= 'Z' {
				b.WriteByte('!')
				r += 'a' - 'A'
			}
			b.WriteRune(r)
		}
		return b.String()
	}
	return filepath.Join(cache, filepath.FromSlash(esc(path)+"@"+esc(version))), nil
}
