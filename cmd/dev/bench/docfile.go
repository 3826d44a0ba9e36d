package main

import (
	"fmt"
	"os"
	"strings"
)

// The region of a document that -doc FILE writes: the lines between these
// two are replaced by the table, so that the figures the documentation
// shows are the bench's own, never edited by hand. Each marker is a line
// of its own.
const (
	docBegin = "<!-- bench: begin -->"
	docEnd   = "<!-- bench: end -->"
)

// replaceRegion returns doc with what lies between its docBegin and docEnd
// lines replaced by table. Everything outside the region, the markers
// included, is kept as it is.
func replaceRegion(doc, table string) (string, error) {
	lines := strings.SplitAfter(doc, "\n")
	begin, end := -1, -1
	for i, line := range lines {
		switch strings.TrimSpace(line) {
		case docBegin:
			if begin >= 0 {
				return "", fmt.Errorf("%s is there twice (lines %d and %d): keep one region", docBegin, begin+1, i+1)
			}
			begin = i
		case docEnd:
			if end >= 0 {
				return "", fmt.Errorf("%s is there twice (lines %d and %d): keep one region", docEnd, end+1, i+1)
			}
			end = i
		}
	}
	switch {
	case begin < 0 && end < 0:
		return "", fmt.Errorf("no region for the table: put a line %s and, below it, a line %s where the table goes", docBegin, docEnd)
	case begin < 0:
		return "", fmt.Errorf("no line %s: put it above %s (line %d)", docBegin, docEnd, end+1)
	case end < 0:
		return "", fmt.Errorf("no line %s: put it below %s (line %d)", docEnd, docBegin, begin+1)
	case end < begin:
		return "", fmt.Errorf("%s (line %d) comes before %s (line %d): the table goes between them, begin first", docEnd, end+1, docBegin, begin+1)
	}
	var b strings.Builder
	for _, line := range lines[:begin+1] {
		b.WriteString(line)
	}
	// Blank lines around the table, so that Markdown reads the markers as
	// HTML comments of their own and not as part of the list or table.
	b.WriteString("\n")
	if t := strings.Trim(table, "\n"); t != "" {
		b.WriteString(t + "\n\n")
	}
	for _, line := range lines[end:] {
		b.WriteString(line)
	}
	return b.String(), nil
}

// checkDoc tells, before the bench spends its minutes measuring, whether
// the table can be written into path.
func checkDoc(path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("-doc: %w", err)
	}
	if _, err := replaceRegion(string(b), ""); err != nil {
		return fmt.Errorf("-doc %s: %w", path, err)
	}
	return nil
}

// writeDoc replaces the region of path with table.
func writeDoc(path, table string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("-doc: %w", err)
	}
	doc, err := replaceRegion(string(b), table)
	if err != nil {
		return fmt.Errorf("-doc %s: %w", path, err)
	}
	// The file exists, so its permissions stay as they are.
	if err := os.WriteFile(path, []byte(doc), 0o644); err != nil {
		return fmt.Errorf("-doc: %w", err)
	}
	return nil
}
