package packaging

import (
	"bytes"
	"context"
	"debug/buildinfo"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

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
