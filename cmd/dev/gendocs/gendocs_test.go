package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"nightlight/cmd/internal/config"
	"nightlight/cmd/internal/setting/nightlight"
	"nightlight/cmd/internal/setting/nightlightserver"
)

// root is the module's root, seen from this package's directory, where go
// test runs.
const root = "../../.."

// TestDocumentsAreGenerated fails when a document on disk says something
// else than the definitions: someone edited a generated part by hand, or
// changed a definition without running go generate.
func TestDocumentsAreGenerated(t *testing.T) {
	for _, d := range documents() {
		t.Run(d.path, func(t *testing.T) {
			old, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(d.path)))
			if err != nil {
				t.Fatal(err)
			}
			want, err := d.render(old)
			if err != nil {
				t.Fatal(err)
			}
			if line, got, w := firstDifference(old, want); line > 0 {
				t.Errorf("%s line %d is not what the definitions say: run go generate ./cmd/internal/setting (and edit cmd/internal/setting, not the document)\n  file: %q\n  want: %q",
					d.path, line, got, w)
			}
		})
	}
}

// firstDifference is the first line (from 1) where a and b differ, and
// their texts there; 0 when they are the same.
func firstDifference(a, b []byte) (int, string, string) {
	if bytes.Equal(a, b) {
		return 0, "", ""
	}
	al, bl := strings.Split(string(a), "\n"), strings.Split(string(b), "\n")
	for i := 0; ; i++ {
		var x, y string
		if i < len(al) {
			x = al[i]
		}
		if i < len(bl) {
			y = bl[i]
		}
		if x != y || i >= len(al) || i >= len(bl) {
			return i + 1, x, y
		}
	}
}

var commentedKey = regexp.MustCompile(`(?m)^#([a-z0-9_]+): (.*)$`)

// TestYAMLShowsEachSettingOnce reads the generated configuration files back
// as YAML: each setting appears once, commented out, at the value the
// definitions give it.
func TestYAMLShowsEachSettingOnce(t *testing.T) {
	for _, p := range []*config.Program{&nightlight.Settings, &nightlightserver.Settings} {
		text := yamlFile(p, "# header\n")
		var uncommented strings.Builder
		count := map[string]int{}
		for _, m := range commentedKey.FindAllStringSubmatch(text, -1) {
			uncommented.WriteString(m[1] + ": " + m[2] + "\n")
			count[m[1]]++
		}
		var values map[string]string
		if err := yaml.Unmarshal([]byte(uncommented.String()), &values); err != nil {
			t.Fatalf("%s: %v\n%s", p.Name, err, uncommented.String())
		}
		for _, s := range p.Settings() {
			if count[s.Key()] != 1 {
				t.Errorf("%s: key %s appears %d times, want once", p.Name, s.Key(), count[s.Key()])
			}
			if got, want := values[s.Key()], yamlValue(s); got != want {
				t.Errorf("%s: %s reads back as %q, want %q", p.Name, s.Key(), got, want)
			}
		}
		if len(count) != len(p.Settings()) {
			t.Errorf("%s: %d keys in the file, %d settings", p.Name, len(count), len(p.Settings()))
		}
		for _, line := range strings.Split(strings.TrimSuffix(text, "\n"), "\n") {
			if len(line) > yamlWidth && strings.HasPrefix(line, "# ") && strings.Count(line, " ") > 1 {
				t.Errorf("%s: line longer than %d: %q", p.Name, yamlWidth, line)
			}
		}
	}
}

func TestYAMLScalar(t *testing.T) {
	for _, v := range []string{"", "+", "#", "tcp://127.0.0.1:1883", "a: b", "x #y", "-1", "1", "auto", "10m0s", `say "hi"`, "GPIO5", "0x08", "/var/lib/nightlight", "nightlight-kitchen"} {
		var got string
		if err := yaml.Unmarshal([]byte("k: "+yamlScalar(v)+"\n"), &struct{ K *string }{&got}); err != nil {
			t.Errorf("%q written as %s: %v", v, yamlScalar(v), err)
			continue
		}
		if got != v {
			t.Errorf("%q written as %s reads back as %q", v, yamlScalar(v), got)
		}
	}
}

func TestWrap(t *testing.T) {
	got := wrap("# ", "one two three four five six", 14)
	if want := "# one two\n# three four\n# five six\n"; got != want {
		t.Errorf("wrap = %q, want %q", got, want)
	}
	if got := wrap("# ", "averyveryverylongword x", 10); got != "# averyveryverylongword\n# x\n" {
		t.Errorf("a word longer than the line: %q", got)
	}
}

func TestRegionReplace(t *testing.T) {
	r := region{begin: "<!-- b -->", end: "<!-- e -->", text: "new\n"}
	for _, tt := range []struct{ name, doc, want, err string }{
		{"replaces", "top\n<!-- b -->\nold\nold\n<!-- e -->\nbottom\n", "top\n<!-- b -->\nnew\n<!-- e -->\nbottom\n", ""},
		{"empty region", "<!-- b -->\n<!-- e -->\n", "<!-- b -->\nnew\n<!-- e -->\n", ""},
		{"no begin", "text\n<!-- e -->\n", "", "no line"},
		{"no end", "<!-- b -->\nold\n", "", "has no line"},
		{"begin twice", "<!-- b -->\n<!-- e -->\n<!-- b -->\n<!-- e -->\n", "", "twice"},
		{"marker inside a line", "x <!-- b -->\n<!-- e -->\n", "", "no line"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := r.replace([]byte(tt.doc))
			switch {
			case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
				t.Errorf("error %v, want one that says %q", err, tt.err)
			case tt.err == "" && err != nil:
				t.Errorf("error %v", err)
			case tt.err == "" && string(got) != tt.want:
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

// TestManPagesFormat runs the man pages, with their generated settings,
// through groff with every warning on: a roff mistake shows as a warning.
func TestManPagesFormat(t *testing.T) {
	groff, err := exec.LookPath("groff")
	if err != nil {
		t.Skip("groff is not installed: the man pages' roff is not checked here (lintian checks it in CI)")
	}
	for _, name := range []string{"nightlight.1", "nightlight-server.1"} {
		cmd := exec.Command(groff, "-man", "-ww", "-z", "-Tutf8", filepath.Join(root, "packaging/man", name))
		out, err := cmd.CombinedOutput()
		if err != nil || len(out) > 0 {
			t.Errorf("groff %s: %v\n%s", name, err, out)
		}
	}
}

func TestEscapes(t *testing.T) {
	if got := roffText(".hidden -x \\n"); got != `\&.hidden \-x \en` {
		t.Errorf("roffText = %q", got)
	}
	if got := cell("a | b"); got != `a \| b` {
		t.Errorf("cell = %q", got)
	}
}
