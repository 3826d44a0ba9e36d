// Package packaging builds the Debian packages of nightlight: for each
// architecture a "nightlight" package (the device daemon) and a
// "nightlight-server" package, with goreleaser/nfpm used as a library.
//
// The packages behave as debhelper-made ones do: the maintainer scripts in
// debian/ are those dh_installsysusers and dh_installsystemd would write.
// cmd/dev/mkdeb is the command line; docs/install.md tells how to use the
// result.
package packaging

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
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
	// Forget, when set, is a command prerm runs on removal (not on an
	// upgrade) once the service is stopped: while the program and its
	// configuration are still there, which they are not by the time postrm
	// purge runs. Its failure is reported and never fails the removal.
	Forget string
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
		// The device leaves Home Assistant and every reader of its retained
		// messages with the package: its discovery config, state and status.
		Forget: "nightlight forget --config /etc/nightlight/nightlight.yaml --timeout 10s",
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
	if err := b.generate(ctx, dir, p, bin); err != nil {
		return "", err
	}
	return b.write(b.info(a, p, dir, b.contents(dir, p, bin)))
}

// generate writes into dir the files the package has that the tree does
// not: copyright, changelog, the man page gzipped, lintian overrides and
// the maintainer scripts.
func (b *builder) generate(ctx context.Context, dir string, p Package, bin string) error {
	gen := map[string][]byte{}
	var err error
	if gen["copyright"], err = b.copyright(ctx, p, bin); err != nil {
		return err
	}
	if gen["changelog.Debian.gz"], err = gzipped(b.changelog(p)); err != nil {
		return err
	}
	man, err := assets.ReadFile("man/" + p.Name + ".1")
	if err != nil {
		return err
	}
	if gen["man.1.gz"], err = gzipped(man); err != nil {
		return err
	}
	if gen["lintian-overrides"], err = assets.ReadFile("debian/" + p.Name + ".lintian-overrides"); err != nil {
		return err
	}
	for _, script := range []string{"postinst", "prerm", "postrm"} {
		if gen[script], err = b.script(script, p); err != nil {
			return err
		}
	}
	for name, data := range gen {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// contents lists where each file goes on the machine.
func (b *builder) contents(dir string, p Package, bin string) files.Contents {
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
	return contents
}

// info is the package's control data.
func (b *builder) info(a Arch, p Package, dir string, contents files.Contents) *nfpm.Info {
	return nfpm.WithDefaults(&nfpm.Info{
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
	})
}

// write makes the .deb in the output directory, whole or not at all.
func (b *builder) write(info *nfpm.Info) (string, error) {
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
