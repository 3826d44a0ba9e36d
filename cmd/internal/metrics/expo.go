// Package metrics serves both programs' metrics in Prometheus' text
// exposition format (version 0.0.4) on a listener of their own, when
// metrics_listen is set.
//
// It is written here rather than taken from a client library because what
// the daemons need of one is small and its costs are not: every value is
// read at scrape time from counters and state the programs keep anyway
// (atomics, or under locks they already have), so there is no registry to
// fill, nothing runs between scrapes, and an endpoint nobody scrapes never
// wakes the daemon; no package-level state, no init work, no dependency.
// The format is the documented text format; CI checks the output with
// promtool check metrics and has a real Prometheus scrape it.
package metrics

import (
	"math"
	"strconv"
	"strings"
)

// Types of metric families.
const (
	Counter = "counter"
	Gauge   = "gauge"
)

// Writer writes metric families in the text format. Each family is
// written whole, its samples right after its HELP and TYPE lines, as the
// format requires.
type Writer struct {
	b []byte
}

// Bytes returns what was written.
func (w *Writer) Bytes() []byte { return w.b }

// Label is a label's name and value.
type Label struct{ Name, Value string }

// Sample is one value of a family, with its labels.
type Sample struct {
	Labels []Label
	Value  float64
}

// Family writes a family: its help, its type and its samples.
func (w *Writer) Family(name, typ, help string, samples ...Sample) {
	w.b = append(w.b, "# HELP "...)
	w.b = append(w.b, name...)
	w.b = append(w.b, ' ')
	w.b = append(w.b, escapeHelp.Replace(help)...)
	w.b = append(w.b, "\n# TYPE "...)
	w.b = append(w.b, name...)
	w.b = append(w.b, ' ')
	w.b = append(w.b, typ...)
	w.b = append(w.b, '\n')
	for _, s := range samples {
		w.b = append(w.b, name...)
		if len(s.Labels) > 0 {
			w.b = append(w.b, '{')
			for i, l := range s.Labels {
				if i > 0 {
					w.b = append(w.b, ',')
				}
				w.b = append(w.b, l.Name...)
				w.b = append(w.b, `="`...)
				w.b = append(w.b, escapeLabel.Replace(l.Value)...)
				w.b = append(w.b, '"')
			}
			w.b = append(w.b, '}')
		}
		w.b = append(w.b, ' ')
		w.b = appendValue(w.b, s.Value)
		w.b = append(w.b, '\n')
	}
}

// Value writes a family of one sample without labels.
func (w *Writer) Value(name, typ, help string, v float64) {
	w.Family(name, typ, help, Sample{Value: v})
}

// One is a sample of v with the labels given as name, value pairs.
func One(v float64, nameValue ...string) Sample {
	s := Sample{Value: v}
	for i := 0; i+1 < len(nameValue); i += 2 {
		s.Labels = append(s.Labels, Label{nameValue[i], nameValue[i+1]})
	}
	return s
}

// Bool is 1 for true and 0 for false, as gauges say yes and no.
func Bool(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

var (
	escapeHelp  = strings.NewReplacer(`\`, `\\`, "\n", `\n`)
	escapeLabel = strings.NewReplacer(`\`, `\\`, "\n", `\n`, `"`, `\"`)
)

// appendValue writes v as the format spells it: whole numbers without an
// exponent (counters of readings grow large), NaN and infinities by name.
func appendValue(b []byte, v float64) []byte {
	switch {
	case math.IsNaN(v):
		return append(b, "NaN"...)
	case math.IsInf(v, 1):
		return append(b, "+Inf"...)
	case math.IsInf(v, -1):
		return append(b, "-Inf"...)
	case v == math.Trunc(v) && math.Abs(v) < 1<<53:
		return strconv.AppendInt(b, int64(v), 10)
	}
	return strconv.AppendFloat(b, v, 'g', -1, 64)
}
