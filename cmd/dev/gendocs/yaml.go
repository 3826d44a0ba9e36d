package main

import (
	"strconv"
	"strings"

	"nightlight/cmd/internal/config"
)

// The headers of the shipped configuration files.
const (
	nightlightHeader = `# /etc/nightlight/nightlight.yaml: settings of the night-light device daemon.
#
# Every key is shown at its default, commented out: uncomment a line to change
# it. Each key is also a flag (state_dir -> --state-dir) and an environment
# variable (NIGHTLIGHT_STATE_DIR); flag > environment > this file > default.
# Check a change with "nightlight check-config", apply it with
# "sudo systemctl reload nightlight". "man nightlight" explains the keys.
#
# The MQTT password does not belong here: put it in
# /etc/credstore/nightlight-mqtt-password (see password_file below).
`
	serverHeader = `# /etc/nightlight/nightlight-server.yaml: settings of the night-light control
# server, which switches each device's LED on when its light level is low.
#
# Every key is shown at its default, commented out: uncomment a line to change
# it. Each key is also a flag (max_age -> --max-age) and an environment
# variable (NIGHTLIGHT_SERVER_MAX_AGE); flag > environment > this file > default.
# Apply a change with "sudo systemctl reload nightlight-server".
# "man nightlight-server" explains the keys.
#
# The MQTT password does not belong here: put it in
# /etc/credstore/nightlight-server-mqtt-password (see password_file below).
`
)

// yamlWidth is the width of the configuration files' comments.
const yamlWidth = 80

// yamlFile is a shipped configuration file: the header, then each section
// with each key commented out at its default under its explanation.
func yamlFile(p *config.Program, header string) string {
	var b strings.Builder
	b.WriteString(header)
	for _, sec := range p.Sections {
		title := "# --- " + sec.Title + " "
		b.WriteString("\n" + title + strings.Repeat("-", max(3, yamlWidth-len(title))) + "\n")
		for i := range sec.Settings {
			s := &sec.Settings[i]
			b.WriteString("\n")
			b.WriteString(wrap("# ", s.Explanation()+defaultSentence(s), yamlWidth))
			b.WriteString("#" + s.Key() + ": " + yamlScalar(yamlValue(s)) + "\n")
		}
	}
	return b.String()
}

// yamlValue is the value a file shows for s: the default, or for one that
// depends on the machine an example.
func yamlValue(s *config.Setting) string {
	if s.Dynamic != nil {
		return s.Example
	}
	return s.DefaultText()
}

// defaultSentence says what the default is, for the documents that show a
// value beside it which is not the default itself (an example, or "").
func defaultSentence(s *config.Setting) string {
	if s.DefaultIs == "" {
		return ""
	}
	if s.Dynamic != nil {
		return " The default is " + s.DefaultIs + "."
	}
	return " Default: " + s.DefaultIs + "."
}

// yamlScalar writes v so that YAML reads it back as the same text: plain
// where it can, quoted where YAML would read something else (nothing at
// all, an indicator such as "+" or "#", a comment).
func yamlScalar(v string) string {
	if v == "" || strings.ContainsAny(v[:1], "-?:,[]{}#&*!|>'\"%@`+ ") ||
		strings.Contains(v, ": ") || strings.Contains(v, " #") || strings.HasSuffix(v, " ") || strings.HasSuffix(v, ":") {
		return strconv.Quote(v)
	}
	return v
}

// wrap breaks text into lines of at most width (unless a word is longer),
// each starting with prefix.
func wrap(prefix, text string, width int) string {
	var b strings.Builder
	line := prefix
	for _, w := range strings.Fields(text) {
		if line != prefix && len(line)+1+len(w) > width {
			b.WriteString(line + "\n")
			line = prefix
		}
		if line != prefix {
			line += " "
		}
		line += w
	}
	if line != prefix {
		b.WriteString(line + "\n")
	}
	return b.String()
}
