// Package config loads a program's settings from, in rising precedence, their
// defaults, a YAML file, the environment and the command line.
//
// The settings are the flags of a flag.FlagSet, so each has one name, one
// parser and one help text for all four sources: flag --state-dir is file key
// state_dir and environment variable PREFIX_STATE_DIR. The file is flat: one
// key per setting, one value per key.
package config

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"

	"nightlight/cmd/internal/smallfile"
)

// UsageError is a mistake on the command line (exit 2, see cli.ExitCode).
type UsageError struct{ Err error }

func (e *UsageError) Error() string { return e.Err.Error() }
func (e *UsageError) Unwrap() error { return e.Err }

// Error is a bad configuration: a missing named file, an unknown key, a bad
// value (exit 78).
type Error struct{ Err error }

func (e *Error) Error() string { return e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

// Errorf makes a configuration Error.
func Errorf(format string, a ...any) error { return &Error{fmt.Errorf(format, a...)} }

// Spec describes where a program's settings come from.
type Spec struct {
	Name        string                 // program name, for messages
	EnvPrefix   string                 // e.g. "NIGHTLIGHT_"
	DefaultFile string                 // read when present; no --config needed
	Bind        func(*flag.FlagSet)    // defines every setting as a flag bound to its field, setting the field to its default
	Getenv      func(string) string    // os.Getenv when nil
	Output      io.Writer              // where -h prints; os.Stderr when nil
	Usage       func(fs *flag.FlagSet) // prints help; flag's default when nil
}

// Loaded says where the settings came from.
type Loaded struct {
	File   string            // the file read, "" when none
	origin map[string]string // flag name -> "file X line N", "environment V", "flag --x"
	Args   []string          // positional arguments, in order
}

// Origin names where a setting's value came from, for error messages.
func (l *Loaded) Origin(name string) string {
	if o, ok := l.origin[name]; ok {
		return o
	}
	return "default"
}

// KeyName is the file key of a flag name: state-dir -> state_dir.
func KeyName(flagName string) string { return strings.ReplaceAll(flagName, "-", "_") }

// EnvName is the environment variable of a flag name.
func (s *Spec) EnvName(flagName string) string {
	return s.EnvPrefix + strings.ToUpper(KeyName(flagName))
}

// Load applies defaults, file, environment and args, in that order, to the
// fields Bind binds. Flags may come before or after positional arguments.
func (s *Spec) Load(args []string) (*Loaded, error) {
	getenv := s.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	// Parse the command line first, to learn --config and which flags were
	// given; bind again afterwards, which resets every field to its default,
	// then apply the sources in order of precedence.
	cli := s.flagSet()
	var configFlag string
	cli.StringVar(&configFlag, "config", "", "configuration file (default "+s.DefaultFile+")")
	positional, err := parseInterleaved(cli, args)
	if err != nil {
		return nil, err
	}
	given := map[string]string{}
	cli.Visit(func(f *flag.Flag) { given[f.Name] = f.Value.String() })

	fs := s.flagSet()
	var ignored string
	fs.StringVar(&ignored, "config", "", "")
	l := &Loaded{origin: map[string]string{}, Args: positional}

	file, named := s.DefaultFile, false
	if v, ok := given["config"]; ok {
		file, named = v, true
	} else if v := getenv(s.EnvName("config")); v != "" {
		file, named = v, true
	}
	if file != "" {
		if err := l.applyFile(fs, file, named); err != nil {
			return nil, err
		}
	}
	var envErr error
	fs.VisitAll(func(f *flag.Flag) {
		name := s.EnvName(f.Name)
		v := getenv(name)
		if f.Name == "config" || v == "" || envErr != nil {
			return
		}
		if err := fs.Set(f.Name, v); err != nil {
			envErr = Errorf("environment %s: %v", name, badValue(f, v, err))
			return
		}
		l.origin[f.Name] = "environment " + name
	})
	if envErr != nil {
		return nil, envErr
	}
	for name, v := range given {
		if name == "config" {
			continue
		}
		if err := fs.Set(name, v); err != nil {
			return nil, &UsageError{fmt.Errorf("--%s %q: %v", name, v, err)}
		}
		l.origin[name] = "flag --" + name
	}
	return l, nil
}

func (s *Spec) flagSet() *flag.FlagSet {
	fs := flag.NewFlagSet(s.Name, flag.ContinueOnError)
	if s.Output != nil {
		fs.SetOutput(s.Output)
	}
	if s.Usage != nil {
		fs.Usage = func() { s.Usage(fs) }
	}
	s.Bind(fs)
	return fs
}

// parseInterleaved parses flags wherever they stand among the positional
// arguments, as people type them: "nightlight led on --hardware sim".
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, &UsageError{err}
		}
		args = fs.Args()
		if len(args) == 0 {
			return positional, nil
		}
		if args[0] == "--" {
			return append(positional, args[1:]...), nil
		}
		positional = append(positional, args[0])
		args = args[1:]
	}
}

func (l *Loaded) applyFile(fs *flag.FlagSet, file string, named bool) error {
	data, err := smallfile.Read(file, smallfile.MaxConfig, "config file")
	if errors.Is(err, os.ErrNotExist) && !named {
		return nil // the default file is optional
	}
	if errors.Is(err, os.ErrNotExist) {
		return Errorf("config file %s does not exist: create it, or leave out --config to use the defaults", file)
	}
	if smallfile.Refused(err) {
		return Errorf("%v", err)
	}
	if err != nil {
		return Errorf("config file %s cannot be read (%v): make it readable by the user the program runs as", file, errors.Unwrap(err))
	}
	l.File = file
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return Errorf("config file %s is not valid YAML: %v", file, err)
	}
	if len(doc.Content) == 0 {
		return nil // empty, or only comments
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return Errorf("config file %s line %d: expected lines of the form key: value", file, root.Line)
	}
	seen := map[string]int{}
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		where := fmt.Sprintf("config file %s line %d", file, k.Line)
		name := strings.ReplaceAll(k.Value, "_", "-")
		f := fs.Lookup(name)
		if f == nil || name == "config" || strings.Contains(k.Value, "-") {
			return Errorf("%s: unknown key %q%s", where, k.Value, suggest(fs, k.Value))
		}
		if line, dup := seen[k.Value]; dup {
			return Errorf("%s: key %q is already set on line %d: keep one", where, k.Value, line)
		}
		seen[k.Value] = k.Line
		if v.Kind != yaml.ScalarNode || v.Tag == "!!null" {
			return Errorf("%s: %s needs a single value, as in %s: %s", where, k.Value, k.Value, example(f))
		}
		if err := fs.Set(name, v.Value); err != nil {
			return Errorf("%s: %s: %v", where, k.Value, badValue(f, v.Value, err))
		}
		l.origin[name] = where
	}
	return nil
}

// badValue explains a value a setting's parser refused. The flag package's
// own parsers say only "parse error", which tells nobody what to write, so
// the default is given as an example of the form.
func badValue(f *flag.Flag, value string, err error) error {
	if u := errors.Unwrap(err); u != nil {
		err = u
	}
	if msg := err.Error(); msg == "parse error" || msg == "value out of range" {
		return fmt.Errorf("%q is not valid: write it like the default, %s", value, example(f))
	}
	return err
}

func example(f *flag.Flag) string {
	if f.DefValue == "" {
		return "..."
	}
	return f.DefValue
}

// suggest names the closest known key, or lists them all.
func suggest(fs *flag.FlagSet, key string) string {
	var keys []string
	best, bestDist := "", 3
	fs.VisitAll(func(f *flag.Flag) {
		if f.Name == "config" {
			return
		}
		k := KeyName(f.Name)
		keys = append(keys, k)
		if d := distance(strings.ToLower(key), k); d < bestDist {
			best, bestDist = k, d
		}
	})
	if best != "" {
		return fmt.Sprintf(": did you mean %s?", best)
	}
	sort.Strings(keys)
	return ": known keys are " + strings.Join(keys, ", ")
}

// distance is the Levenshtein edit distance between a and b.
func distance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
