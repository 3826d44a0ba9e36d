package config

import (
	"flag"
	"io"
	"strings"
	"testing"
	"time"
)

// level is a flag.Value, as a program's log level is.
type level struct{ v *string }

func (l level) String() string {
	if l.v == nil {
		return ""
	}
	return *l.v
}

func (l level) Set(s string) error {
	*l.v = strings.ToLower(s)
	return nil
}

type testFields struct {
	Broker, ID, Level, CA string
	Samples               int
	Interval              time.Duration
}

func testProgram() *Program {
	return &Program{Name: "test", EnvPrefix: "NL_", Sections: []Section{
		{Title: "Connection", Settings: []Setting{
			{Name: "broker", Default: "tcp://default:1883", Help: "MQTT broker"},
			{Name: "id", Dynamic: func() string { return "this-host" }, DefaultIs: "the host name", Example: "kitchen", Help: "device id"},
			{Name: "ca-file", Default: "", DefaultIs: "the system's CA pool", Help: "CA file", Doc: "The CAs."},
		}},
		{Title: "Sampling", Settings: []Setting{
			{Name: "samples", Default: 3, Help: "reads per reading"},
			{Name: "interval", Default: 5 * time.Second, Help: "heartbeat"},
			{Name: "log-level", Default: "info", Help: "debug or info"},
		}},
	}}
}

func (f *testFields) targets() map[string]any {
	return map[string]any{
		"broker": &f.Broker, "id": &f.ID, "ca-file": &f.CA,
		"samples": &f.Samples, "interval": &f.Interval, "log-level": level{&f.Level},
	}
}

func TestBind(t *testing.T) {
	p := testProgram()
	var f testFields
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	p.Bind(fs, f.targets())
	want := testFields{Broker: "tcp://default:1883", ID: "this-host", Level: "info", Samples: 3, Interval: 5 * time.Second}
	if f != want {
		t.Fatalf("after Bind: %+v, want the defaults %+v", f, want)
	}
	if err := fs.Parse([]string{"--samples", "5", "--log-level", "DEBUG", "--id", "desk"}); err != nil {
		t.Fatal(err)
	}
	if f.Samples != 5 || f.Level != "debug" || f.ID != "desk" {
		t.Errorf("flags did not reach the fields: %+v", f)
	}
	if err := p.Check(flag.NewFlagSet("again", flag.ContinueOnError)); err == nil {
		t.Errorf("Check of an empty FlagSet passed")
	}
	fs2 := flag.NewFlagSet("test", flag.ContinueOnError)
	p.Bind(fs2, (&testFields{}).targets())
	if err := p.Check(fs2); err != nil {
		t.Errorf("Check of the bound FlagSet: %v", err)
	}
	if u := fs2.Lookup("ca-file").Usage; u != "CA file (default: the system's CA pool)" {
		t.Errorf("usage of an empty default that means something: %q", u)
	}
	if u := fs2.Lookup("id").Usage; u != "device id" {
		t.Errorf("usage of a dynamic default: %q (flag shows the value itself)", u)
	}
	if got := p.EnvName(p.Lookup("ca-file")); got != "NL_CA_FILE" {
		t.Errorf("EnvName = %q", got)
	}
	if got := p.Lookup("ca-file").Explanation(); got != "The CAs." {
		t.Errorf("Explanation with a Doc = %q", got)
	}
	if got := p.Lookup("samples").Explanation(); got != "Reads per reading." {
		t.Errorf("Explanation from Help = %q", got)
	}
}

// TestCheckFindsDrift changes one thing at a time between the definitions
// and a FlagSet and expects Check to name it.
func TestCheckFindsDrift(t *testing.T) {
	for _, tt := range []struct {
		name string
		bind func(fs *flag.FlagSet, f *testFields)
		want string
	}{
		{"help", func(fs *flag.FlagSet, f *testFields) { fs.Lookup("broker").Usage = "the broker" }, `flag --broker says "the broker"`},
		{"default", func(fs *flag.FlagSet, f *testFields) { fs.Lookup("samples").DefValue = "4" }, `flag --samples defaults to "4"`},
		{"value", func(fs *flag.FlagSet, f *testFields) { f.Interval = time.Second }, "flag --interval is \"1s\" after binding"},
		{"extra flag", func(fs *flag.FlagSet, f *testFields) { fs.Bool("verbose", false, "") }, "flag --verbose has no definition"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := testProgram()
			var f testFields
			fs := flag.NewFlagSet("test", flag.ContinueOnError)
			fs.SetOutput(io.Discard)
			p.Bind(fs, f.targets())
			tt.bind(fs, &f)
			err := p.Check(fs)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Check = %v, want it to say %s", err, tt.want)
			}
		})
	}
	p := testProgram()
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	p.Bind(fs, (&testFields{}).targets())
	fs.Bool("verbose", false, "")
	if err := p.Check(fs, "verbose"); err != nil {
		t.Errorf("a flag named as no setting: %v", err)
	}
}

func TestBindMistakesPanic(t *testing.T) {
	for _, tt := range []struct {
		name   string
		change func(m map[string]any, p *Program)
		want   string
	}{
		{"missing target", func(m map[string]any, p *Program) { delete(m, "samples") }, "setting samples of test has no target"},
		{"unknown target", func(m map[string]any, p *Program) { m["colour"] = new(string) }, "test has no setting colour"},
		{"wrong type", func(m map[string]any, p *Program) { m["samples"] = new(string) }, "setting samples: default int cannot be bound to a *string"},
		{"bad default", func(m map[string]any, p *Program) { p.Sections[1].Settings[0].Default = 3.5 }, "cannot be bound"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := testProgram()
			m := (&testFields{}).targets()
			tt.change(m, p)
			defer func() {
				r := recover()
				if r == nil || !strings.Contains(r.(string), tt.want) {
					t.Errorf("panic %v, want one that says %q", r, tt.want)
				}
			}()
			p.Bind(flag.NewFlagSet("test", flag.ContinueOnError), m)
		})
	}
}
