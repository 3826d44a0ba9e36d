// Command gendocs writes the definitions of the settings (package
// cmd/internal/setting and its packages) into the documents that list them:
// the shipped configuration files packaging/nightlight.yaml and
// packaging/nightlight-server.yaml, whole, and between their markers the
// SETTINGS section of the man pages packaging/man/*.1 and the settings
// tables of docs/configuration.md.
//
// go generate ./cmd/internal/setting runs it. Its test fails when a document
// on disk is not what it would write.
//
//	gendocs [-root DIR]
package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
)

func main() {
	root := flag.String("root", ".", "root of the nightlight module, where the documents are")
	flag.Parse()
	if err := generate(*root); err != nil {
		fmt.Fprintln(os.Stderr, "gendocs:", err)
		os.Exit(1)
	}
}

// generate writes each document whose text is not what the definitions
// make it.
func generate(root string) error {
	for _, d := range documents() {
		path := filepath.Join(root, filepath.FromSlash(d.path))
		old, err := os.ReadFile(path)
		if err != nil && !(os.IsNotExist(err) && d.regions == nil) {
			return err
		}
		text, err := d.render(old)
		if err != nil {
			return fmt.Errorf("%s: %w", d.path, err)
		}
		if bytes.Equal(text, old) {
			continue
		}
		if err := os.WriteFile(path, text, 0o644); err != nil {
			return err
		}
		fmt.Printf("gendocs: wrote %s\n", d.path)
	}
	return nil
}
