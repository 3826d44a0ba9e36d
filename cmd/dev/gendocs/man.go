package main

import (
	"strings"

	"nightlight/cmd/internal/config"
)

// manRegion is the SETTINGS section of a program's man page: for each
// setting its key, flag and environment variable, what it does and its
// default.
func manRegion(p *config.Program) region {
	var b strings.Builder
	b.WriteString(".SH SETTINGS\n")
	b.WriteString("Each entry gives the key of the configuration file, the flag and the\n")
	b.WriteString("environment variable of one setting, then what it does and its default.\n")
	for _, sec := range p.Sections {
		b.WriteString(".SS " + roffText(sec.Title) + "\n")
		for i := range sec.Settings {
			s := &sec.Settings[i]
			b.WriteString(".TP\n")
			b.WriteString(".BR " + roffEscape(s.Key()) + ` ", " ` + roffEscape("--"+s.Name) + ` ", " ` + roffEscape(p.EnvName(s)) + "\n")
			b.WriteString(roffText(s.Explanation()) + "\n")
			b.WriteString(manDefault(s) + "\n")
		}
	}
	return region{
		begin: `.\" Settings of ` + p.Name + ": " + generatedBy + ".",
		end:   `.\" End of the settings of ` + p.Name + ".",
		text:  b.String(),
	}
}

// manDefault is the roff line that gives a setting's default.
func manDefault(s *config.Setting) string {
	switch {
	case s.DefaultIs != "":
		return roffText("Default: " + s.DefaultIs + ".")
	case s.DefaultText() == "":
		return "Default: none."
	}
	return `Default: \fB` + roffEscape(s.DefaultText()) + `\fR.`
}

// roffEscape makes text safe inside a roff line: a backslash is written \e,
// and a minus sign, as in a flag, a path or a name, \- (what the rest of the
// page does too).
func roffEscape(text string) string {
	return strings.NewReplacer(`\`, `\e`, "-", `\-`).Replace(text)
}

// roffText is a line of running text, escaped, and with a leading dot or
// quote, which roff would read as a request, guarded.
func roffText(line string) string {
	line = roffEscape(line)
	if strings.HasPrefix(line, ".") || strings.HasPrefix(line, "'") {
		line = `\&` + line
	}
	return line
}
