package packaging

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"text/template"
	"time"
)

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
		"Forget":     p.Forget,
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
