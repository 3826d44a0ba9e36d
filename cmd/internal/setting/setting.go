// Package setting and its two packages define every setting of nightlight
// (setting/nightlight) and nightlight-server (setting/nightlightserver)
// once: its name (the flag, the key of the configuration file and the
// environment variable), its default, a line of help, a longer explanation
// and its section. Each program's settings are a package of their own, so
// that a program links only what it runs: the shipped daemon carries no
// control server. This package holds what both share.
//
// The programs bind their flags from the definitions, so --help says what
// they say; go generate writes them into the shipped configuration files,
// the man pages and docs/configuration.md, with the generator in
// cmd/dev/gendocs, whose test fails when any of them disagrees with the
// definitions. Defaults are the constants of the packages that use them,
// named here rather than copied.
package setting

//go:generate go run nightlight/cmd/dev/gendocs -root ../../..

import (
	"os"
	"strings"

	"nightlight/cmd/internal/brokerauth"
	"nightlight/cmd/internal/config"
)

// Defaults that no other package owns.
const (
	DefaultBroker   = "tcp://127.0.0.1:1883" // a broker on this machine, as the lesson has
	DefaultLogLevel = "info"
)

// HostName is the machine's name up to its first dot, which default ids
// are made of: pi.local -> pi, since a dot is no use in a topic. "" when
// the system does not say.
func HostName() string {
	h, err := os.Hostname()
	if err != nil {
		return ""
	}
	h, _, _ = strings.Cut(h, ".")
	return h
}

// Broker is the setting of the MQTT broker, the same for both programs.
var Broker = config.Setting{Name: "broker", Default: DefaultBroker,
	Help: "MQTT broker: tcp://host:1883 or ssl://host:8883",
	Doc:  "MQTT broker: tcp://host:1883, or ssl://host:8883 for TLS (mqtts:// and tls:// mean the same; see the security settings)."}

// MetricsListen is the setting of the metrics endpoint, the same for both
// programs.
var MetricsListen = config.Setting{Name: "metrics-listen", Default: "", DefaultIs: "off",
	Help: "serve Prometheus metrics at http://ADDRESS/metrics, e.g. 127.0.0.1:9101; empty: off",
	Doc: "Serve metrics for Prometheus at http://ADDRESS/metrics, e.g. 127.0.0.1:9101 (the device) or 127.0.0.1:9102 (the server); " +
		"empty, the default, serves none. The metrics are read when scraped: an endpoint nobody scrapes costs nothing. " +
		"Give a loopback address unless the scraper is on another machine: the endpoint has no authentication."}

// The sections both programs end with.
var (
	Security = config.Section{Title: "Security: TLS and authentication", Settings: brokerauth.Definitions}
	Logging  = config.Section{Title: "Logging", Settings: []config.Setting{
		{Name: "log-level", Default: DefaultLogLevel,
			Help: "debug, info, warn or error",
			Doc:  "Log level: debug, info, warn or error."},
	}}
)
