package main

import (
	"strings"

	"nightlight/cmd/internal/config"
)

// markdownRegion is a program's settings in docs/configuration.md: a table
// per section.
func markdownRegion(p *config.Program) region {
	var b strings.Builder
	for _, sec := range p.Sections {
		b.WriteString("\n### " + sec.Title + "\n\n")
		b.WriteString("| key | flag | environment variable | default | meaning |\n")
		b.WriteString("|---|---|---|---|---|\n")
		for i := range sec.Settings {
			s := &sec.Settings[i]
			cells := []string{
				code(s.Key()), code("--" + s.Name), code(p.EnvName(s)),
				markdownDefault(s), cell(s.Explanation()),
			}
			b.WriteString("| " + strings.Join(cells, " | ") + " |\n")
		}
	}
	b.WriteString("\n")
	return region{
		begin: "<!-- Settings of " + p.Name + ": " + generatedBy + ". -->",
		end:   "<!-- End of the settings of " + p.Name + ". -->",
		text:  b.String(),
	}
}

// markdownDefault is a setting's default in a table: its value, or in words
// what it is.
func markdownDefault(s *config.Setting) string {
	if s.DefaultIs != "" {
		return cell(s.DefaultIs)
	}
	if v := s.DefaultText(); v != "" {
		return code(v)
	}
	return ""
}

// code is v as code in a table cell.
func code(v string) string {
	return "`" + strings.ReplaceAll(v, "|", `\|`) + "`"
}

// cell is text in a table cell, whose | would end the cell.
func cell(text string) string {
	return strings.ReplaceAll(text, "|", `\|`)
}
