package smallfile

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRead(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, n int) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(strings.Repeat("x", n)), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	if data, err := Read(write("at", 10), 10, "test file"); err != nil || len(data) != 10 {
		t.Errorf("a file of exactly its bound: %d bytes, %v", len(data), err)
	}
	if _, err := Read(write("over", 11), 10, "test file"); !errors.Is(err, ErrTooLarge) || !Refused(err) {
		t.Errorf("a file one byte over its bound: %v", err)
	}
	if _, err := Read(dir, 10, "test file"); !errors.Is(err, ErrNotRegular) || !strings.Contains(err.Error(), "is a directory") {
		t.Errorf("a directory: %v", err)
	}
	_, err := Read(filepath.Join(dir, "none"), 10, "test file")
	if !errors.Is(err, fs.ErrNotExist) || Refused(err) || !strings.HasPrefix(err.Error(), "test file ") {
		t.Errorf("a missing file: %v", err)
	}
}
