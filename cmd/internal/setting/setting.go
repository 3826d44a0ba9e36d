// Package setting is the one definition of every setting of nightlight and
// nightlight-server: its name (the flag, the key of the configuration file
// and the environment variable), its default, a line of help, a longer
// explanation and its section.
//
// The programs bind their flags from it, so --help says what it says; go
// generate writes it into the shipped configuration files, the man pages and
// docs/configuration.md, with the generator in ./gendocs, whose test fails
// when any of them disagrees with the definitions. Defaults are the
// constants of the packages that use them, named here rather than copied.
package setting

//go:generate go run ./gendocs -root ../../..

import (
	"os"
	"strings"

	"nightlight/cmd/internal/config"
)

// Defaults that no other package owns.
const (
	DefaultBroker   = "tcp://127.0.0.1:1883" // a broker on this machine, as the lesson has
	DefaultStateDir = "/var/lib/nightlight"  // the unit's StateDirectory=nightlight
	DefaultLogLevel = "info"
	autoAddr        = "auto" // i2c_addr: probe the ADC's usual addresses
)

// hostName is the machine's name up to its first dot, the default device
// id: pi.local -> pi, since a dot is no use in a topic. "" when the system
// does not say.
func hostName() string {
	h, err := os.Hostname()
	if err != nil {
		return ""
	}
	h, _, _ = strings.Cut(h, ".")
	return h
}

// stateDir is the directory systemd's StateDirectory= hands over in
// $STATE_DIRECTORY (the first, if it lists several), else DefaultStateDir.
func stateDir() string {
	if d, _, _ := strings.Cut(os.Getenv("STATE_DIRECTORY"), ":"); d != "" {
		return d
	}
	return DefaultStateDir
}

// Settings both programs have.
var (
	broker = config.Setting{Name: "broker", Default: DefaultBroker,
		Help: "MQTT broker: tcp://host:1883 or ssl://host:8883",
		Doc:  "MQTT broker: tcp://host:1883, or ssl://host:8883 for TLS (mqtts:// and tls:// mean the same; see the security settings)."}
	logLevel = config.Setting{Name: "log-level", Default: DefaultLogLevel,
		Help: "debug, info, warn or error",
		Doc:  "Log level: debug, info, warn or error."}
)

// Section titles both programs have.
const (
	sectionSecurity = "Security: TLS and authentication"
	sectionLogging  = "Logging"
)
