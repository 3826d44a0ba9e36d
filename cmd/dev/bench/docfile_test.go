package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestReplaceRegion(t *testing.T) {
	const table = "- Machine: a test\n\n| measure | ours |\n|---|---:|\n| x | 1 |\n\n"
	const want = "# Performance\n\nBefore.\n\n" + docBegin + "\n\n" +
		"- Machine: a test\n\n| measure | ours |\n|---|---:|\n| x | 1 |\n\n" +
		docEnd + "\n\nAfter.\n"
	for name, doc := range map[string]string{
		"empty region": "# Performance\n\nBefore.\n\n" + docBegin + "\n" + docEnd + "\n\nAfter.\n",
		"old table":    "# Performance\n\nBefore.\n\n" + docBegin + "\n\n- Machine: old\n\n| a | b |\n\n" + docEnd + "\n\nAfter.\n",
		"the same":     want,
	} {
		got, err := replaceRegion(doc, table)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if got != want {
			t.Errorf("%s: got\n%s\nwant\n%s", name, got, want)
		}
	}
}

func TestReplaceRegionRefuses(t *testing.T) {
	for _, c := range []struct {
		name, doc string
		want      []string // in the message
	}{
		{"no markers", "# Performance\n\nNo region here.\n",
			[]string{"no region for the table", docBegin, docEnd}},
		{"no begin", "text\n" + docEnd + "\n", []string{"no line " + docBegin, "line 2"}},
		{"no end", docBegin + "\ntext\n", []string{"no line " + docEnd, "line 1"}},
		{"end first", docEnd + "\n" + docBegin + "\n", []string{"comes before", "begin first"}},
		{"two regions", docBegin + "\n" + docEnd + "\n" + docBegin + "\n" + docEnd + "\n", []string{"twice", "lines 1 and 3"}},
		{"marker inside a line", "see " + docBegin + " and " + docEnd + "\n", []string{"no region for the table"}},
	} {
		got, err := replaceRegion(c.doc, "- Machine: x\n")
		if err == nil {
			t.Errorf("%s: no error; the document became\n%s", c.name, got)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: %q does not say %q", c.name, err, w)
			}
		}
	}
}

// TestDocFile: -doc checks the file before measuring, and writes only the
// region.
func TestDocFile(t *testing.T) {
	dir := t.TempDir()
	plain := filepath.Join(dir, "plain.md")
	if err := os.WriteFile(plain, []byte("# Performance\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	err := checkDoc(plain)
	if err == nil || !strings.Contains(err.Error(), plain) || !strings.Contains(err.Error(), docBegin) {
		t.Errorf("checkDoc of a file without the markers: %v; want an error naming the file and the markers", err)
	}
	if err := checkDoc(filepath.Join(dir, "missing.md")); err == nil {
		t.Error("checkDoc of a missing file: no error")
	}

	doc := filepath.Join(dir, "performance.md")
	if err := os.WriteFile(doc, []byte("Intro.\n"+docBegin+"\n"+docEnd+"\nMore.\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := checkDoc(doc); err != nil {
		t.Fatal(err)
	}
	if err := writeDoc(doc, "- Machine: x\n"); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(doc)
	if err != nil {
		t.Fatal(err)
	}
	if want := "Intro.\n" + docBegin + "\n\n- Machine: x\n\n" + docEnd + "\nMore.\n"; string(b) != want {
		t.Errorf("the document is\n%s\nwant\n%s", b, want)
	}
}

// TestReportBody: what -doc writes is the report without its heading.
func TestReportBody(t *testing.T) {
	r := &report{opts: defaultOptions()}
	full, body := r.markdown(), r.body()
	if !strings.HasPrefix(full, "## ") || !strings.HasSuffix(full, body) || strings.Contains(body, "\n## ") || strings.HasPrefix(body, "#") {
		t.Errorf("markdown should be a heading and then body; body:\n%s", body)
	}
	if !strings.HasPrefix(body, "- Machine: ") {
		t.Errorf("body starts %q, want the machine", body[:min(len(body), 40)])
	}
}
