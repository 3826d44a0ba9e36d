package config

import (
	"errors"
	"flag"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Setting is the one definition of a setting. The program binds its flag
// from it (Program.Bind), so --help shows its help and default; go generate
// writes the same into the shipped configuration file, the man page and the
// documentation.
type Setting struct {
	Name string // the flag, state-dir; the file key is state_dir, the variable PREFIX_STATE_DIR
	// Default is a string, an int or a time.Duration, of the type of the
	// field the setting is bound to; for a field bound through a flag.Value
	// (a log level, an address), the text the value parses.
	Default any
	// Dynamic, when set, gives the default on this machine instead of
	// Default (the host name, $STATE_DIRECTORY). DefaultIs must then say in
	// words what it is, and the configuration file shows Example.
	Dynamic func() string
	Example string
	// DefaultIs says in words what the default is where its value does not:
	// one that depends on the machine, or an empty one that means something
	// ("the system's CA pool"). --help adds it to an empty default; the
	// documents show it instead of the value.
	DefaultIs string
	Help      string // one line for --help: lower case, no full stop
	Doc       string // the explanation in the configuration file and the documentation, in sentences; "" means Help
}

// Key is the setting's key in the file: state_dir.
func (s *Setting) Key() string { return KeyName(s.Name) }

// DefaultText is the default as --help shows it and as the file or the
// environment would spell it; for a Dynamic default, this machine's.
func (s *Setting) DefaultText() string {
	if s.Dynamic != nil {
		return s.Dynamic()
	}
	switch v := s.Default.(type) {
	case string:
		return v
	case int:
		return strconv.Itoa(v)
	case time.Duration:
		return v.String()
	}
	panic(fmt.Sprintf("config: setting %s: default %v is a %T: make it a string, an int or a time.Duration", s.Name, s.Default, s.Default))
}

// Usage is the setting's line in --help.
func (s *Setting) Usage() string {
	if s.DefaultIs != "" && s.DefaultText() == "" {
		return s.Help + " (default: " + s.DefaultIs + ")"
	}
	return s.Help
}

// Explanation is Doc, or Help as a sentence when there is no Doc.
func (s *Setting) Explanation() string {
	if s.Doc != "" {
		return s.Doc
	}
	return strings.ToUpper(s.Help[:1]) + s.Help[1:] + "."
}

// bind defines the setting as a flag of fs that sets target.
func (s *Setting) bind(fs *flag.FlagSet, target any) {
	mismatch := func() {
		panic(fmt.Sprintf("config: setting %s: default %T cannot be bound to a %T", s.Name, s.Default, target))
	}
	switch p := target.(type) {
	case *string:
		if _, ok := s.Default.(string); !ok && s.Dynamic == nil {
			mismatch()
		}
		fs.StringVar(p, s.Name, s.DefaultText(), s.Usage())
	case *int:
		d, ok := s.Default.(int)
		if !ok {
			mismatch()
		}
		fs.IntVar(p, s.Name, d, s.Usage())
	case *time.Duration:
		d, ok := s.Default.(time.Duration)
		if !ok {
			mismatch()
		}
		fs.DurationVar(p, s.Name, d, s.Usage())
	case flag.Value:
		if _, ok := s.Default.(string); !ok && s.Dynamic == nil {
			mismatch()
		}
		if err := p.Set(s.DefaultText()); err != nil {
			panic(fmt.Sprintf("config: setting %s: default %q: %v", s.Name, s.DefaultText(), err))
		}
		fs.Var(p, s.Name, s.Usage())
	default:
		mismatch()
	}
}

// Section is a group of settings, as the documents show them.
type Section struct {
	Title    string
	Settings []Setting
}

// Program is the definition of every setting of one program, in the
// sections and the order the documents show them in.
type Program struct {
	Name      string // the command: nightlight
	EnvPrefix string // of its environment variables: NIGHTLIGHT_
	Sections  []Section
}

// EnvName is the environment variable of a setting.
func (p *Program) EnvName(s *Setting) string {
	return p.EnvPrefix + strings.ToUpper(s.Key())
}

// Settings are all the program's settings, section after section.
func (p *Program) Settings() []*Setting {
	var all []*Setting
	for i := range p.Sections {
		for j := range p.Sections[i].Settings {
			all = append(all, &p.Sections[i].Settings[j])
		}
	}
	return all
}

// Lookup finds a setting by its flag name; nil when there is none.
func (p *Program) Lookup(name string) *Setting {
	for _, s := range p.Settings() {
		if s.Name == name {
			return s
		}
	}
	return nil
}

// Bind defines every setting as a flag of fs bound to its target, found by
// the setting's name in one of targets: a *string, *int or *time.Duration
// for a default of that type, or a flag.Value, which is set to the default.
// Each setting needs one target and each target a setting; a mismatch is a
// mistake in the program and panics, so the first test that binds finds it.
func (p *Program) Bind(fs *flag.FlagSet, targets ...map[string]any) {
	all := map[string]any{}
	for _, m := range targets {
		for name, t := range m {
			if _, dup := all[name]; dup {
				panic("config: two targets for setting " + name)
			}
			if p.Lookup(name) == nil {
				panic("config: " + p.Name + " has no setting " + name + " to bind")
			}
			all[name] = t
		}
	}
	for _, s := range p.Settings() {
		t, ok := all[s.Name]
		if !ok {
			panic("config: setting " + s.Name + " of " + p.Name + " has no target")
		}
		s.bind(fs, t)
	}
}

// Check holds the flags of fs to the definitions: each setting is a flag
// with its usage line and its default, set to that default, and every flag
// is a setting, but for those named in others (command options that are no
// settings, such as read --verbose). Tests use it on a program's real
// FlagSet, the one --help prints.
func (p *Program) Check(fs *flag.FlagSet, others ...string) error {
	var errs []error
	for _, s := range p.Settings() {
		f := fs.Lookup(s.Name)
		switch {
		case f == nil:
			errs = append(errs, fmt.Errorf("setting %s is not a flag", s.Name))
		case f.Usage != s.Usage():
			errs = append(errs, fmt.Errorf("flag --%s says %q, its definition %q", s.Name, f.Usage, s.Usage()))
		case f.DefValue != s.DefaultText():
			errs = append(errs, fmt.Errorf("flag --%s defaults to %q, its definition to %q", s.Name, f.DefValue, s.DefaultText()))
		case f.Value.String() != f.DefValue:
			errs = append(errs, fmt.Errorf("flag --%s is %q after binding, not its default %q", s.Name, f.Value, f.DefValue))
		}
	}
	fs.VisitAll(func(f *flag.Flag) {
		if p.Lookup(f.Name) == nil && !slices.Contains(others, f.Name) {
			errs = append(errs, fmt.Errorf("flag --%s has no definition", f.Name))
		}
	})
	return errors.Join(errs...)
}
