// Package brokerauth owns how both programs secure their connection to the
// MQTT broker: the settings ca_file, cert_file, key_file, tls_server_name,
// username and password_file (or the systemd credential mqtt-password), the
// TLS configuration made from them, and the warnings for a plaintext or
// anonymous connection. Every file is read and checked at start, so a bad
// one stops the program with a configuration error (exit 78) that names the
// setting, the file and the fix, instead of a retry loop that never connects.
package brokerauth

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"nightlight/cmd/internal/config"
	"nightlight/cmd/internal/smallfile"
	"nightlight/mqtt/link"
)

// Credential is the name of the systemd credential that holds the password
// (LoadCredential=mqtt-password:... in the unit); it is read from
// $CREDENTIALS_DIRECTORY when password_file is not set.
const Credential = "mqtt-password"

// Settings are the security settings, the same for both programs.
type Settings struct {
	CAFile       string // PEM bundle of the CAs that may sign the broker's certificate; "": the system pool
	CertFile     string // client certificate, PEM
	KeyFile      string // its private key, PEM
	ServerName   string // name the broker's certificate must carry; "": the broker URL's host
	Username     string
	PasswordFile string // file holding the password; never the password itself
}

// Definitions are the security settings, the same for both programs: each
// is a flag (--ca-file), a config key (ca_file) and an environment variable
// (PREFIX_CA_FILE). Bind them with Targets.
var Definitions = []config.Setting{
	{Name: "ca-file", Default: "", DefaultIs: "the system's CA pool",
		Help: "ssl:// only: PEM file of the CA(s) that signed the broker's certificate",
		Doc:  "ssl:// only: PEM file of the CA(s) that signed the broker's certificate, a private CA as Mosquitto setups usually have."},
	{Name: "tls-server-name", Default: "", DefaultIs: "the broker URL's host",
		Help: "ssl:// only: name the broker's certificate must carry",
		Doc:  "ssl:// only: the name the broker's certificate must carry, when the broker is reached under another name (an IP address, a tunnel)."},
	{Name: "cert-file", Default: "",
		Help: "ssl:// only: client certificate (PEM), with key-file",
		Doc:  "ssl:// only: a client certificate (PEM), for brokers that authenticate clients by certificate; with key_file, both or neither."},
	{Name: "key-file", Default: "",
		Help: "ssl:// only: private key of the client certificate (PEM)",
		Doc:  "ssl:// only: the private key of cert_file (PEM, unencrypted)."},
	{Name: "username", Default: "",
		Help: "MQTT username"},
	{Name: "password-file", Default: "", DefaultIs: "$CREDENTIALS_DIRECTORY/" + Credential + " when it exists",
		Help: "file holding the MQTT password",
		Doc: "A file holding the MQTT password, never the password itself (one line; the trailing newline is dropped); needs username. " +
			"The service's unit hands the password over as the systemd credential " + Credential + ", from /etc/credstore."},
}

// Targets are the fields of s that Definitions bind to, by setting name,
// for config.Program.Bind.
func Targets(s *Settings) map[string]any {
	return map[string]any{
		"ca-file":         &s.CAFile,
		"cert-file":       &s.CertFile,
		"key-file":        &s.KeyFile,
		"tls-server-name": &s.ServerName,
		"username":        &s.Username,
		"password-file":   &s.PasswordFile,
	}
}

// Auth is what the link needs, read and checked.
type Auth struct {
	TLS      *tls.Config // nil for a plaintext broker
	Username string
	Password string

	broker       string
	host         string
	plaintext    bool
	caFile       string
	certFile     string
	passwordFrom string // the file the password came from
	idleCred     string // a credential that is there but unused, for lack of a username
}

// Load reads and checks the files s names for a connection to broker.
// origin names where a setting came from (config.Loaded.Origin, by flag
// name) for the error messages; it may be nil. Errors are config errors.
func Load(s Settings, broker string, origin func(flagName string) string) (*Auth, error) {
	bad := func(flagName, format string, a ...any) error {
		where := ""
		if origin != nil {
			where = " (" + origin(flagName) + ")"
		}
		return config.Errorf("%s%s: %s", config.KeyName(flagName), where, fmt.Sprintf(format, a...))
	}
	if err := link.CheckBroker(broker); err != nil {
		return nil, bad("broker", "%v", err)
	}
	u, _ := url.Parse(broker) // checked above
	a := &Auth{broker: broker, host: u.Hostname(), Username: s.Username}
	switch u.Scheme {
	case "tcp", "mqtt":
		a.plaintext = true
		for _, f := range []struct{ name, value string }{
			{"ca-file", s.CAFile}, {"cert-file", s.CertFile}, {"key-file", s.KeyFile}, {"tls-server-name", s.ServerName},
		} {
			if f.value != "" {
				return nil, bad(f.name, "is set, but broker %s is plaintext: use ssl://%s (the broker's TLS port) to connect with TLS, or leave %s out",
					broker, net.JoinHostPort(u.Hostname(), "8883"), config.KeyName(f.name))
			}
		}
	default:
		t, err := tlsConfig(s, u.Hostname(), bad)
		if err != nil {
			return nil, err
		}
		a.TLS, a.caFile, a.certFile = t, s.CAFile, s.CertFile
	}

	pwFile, pwOrigin := s.PasswordFile, "password-file"
	if pwFile == "" {
		if dir := os.Getenv("CREDENTIALS_DIRECTORY"); dir != "" {
			if f := filepath.Join(dir, Credential); fileExists(f) {
				pwFile, pwOrigin = f, ""
			}
		}
	}
	if pwFile == "" {
		return a, nil
	}
	if s.Username == "" {
		if pwOrigin == "" {
			// The unit always asks systemd for the credential; without a
			// username it is of no use, which Warnings says.
			a.idleCred = pwFile
			return a, nil
		}
		return nil, bad("password-file", "is set, but username is not: set username too (the broker checks both)")
	}
	pwBad := func(format string, args ...any) error {
		if pwOrigin == "" {
			return config.Errorf("password_file (unset; systemd credential %s): %s", pwFile, fmt.Sprintf(format, args...))
		}
		return bad(pwOrigin, format, args...)
	}
	data, err := smallfile.Read(pwFile, smallfile.MaxPassword, "password file")
	if err != nil {
		return nil, pwBad("%s", hint(err, "name a file the program can read that holds the broker password"))
	}
	a.Password = strings.TrimRight(string(data), "\r\n")
	if a.Password == "" {
		return nil, pwBad("%s is empty: write the broker password in it (a trailing newline is fine)", pwFile)
	}
	a.passwordFrom = pwFile
	return a, nil
}

func tlsConfig(s Settings, host string, bad func(string, string, ...any) error) (*tls.Config, error) {
	t := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: host}
	if s.ServerName != "" {
		t.ServerName = s.ServerName
	}
	if s.CAFile != "" {
		data, err := smallfile.Read(s.CAFile, smallfile.MaxCA, "CA file")
		if err != nil {
			return nil, bad("ca-file", "%s", hint(err, "name a readable PEM file holding the CA certificate that signed the broker's"))
		}
		certs, err := parseCerts(data)
		if err != nil {
			return nil, bad("ca-file", "%s: %v: give the CA certificate in PEM form", s.CAFile, err)
		}
		if len(certs) == 0 {
			return nil, bad("ca-file", "%s holds no PEM certificate (-----BEGIN CERTIFICATE-----): give the CA certificate in PEM form (openssl x509 -inform der -in ca.der -out ca.pem)", s.CAFile)
		}
		t.RootCAs = x509.NewCertPool()
		for _, c := range certs {
			t.RootCAs.AddCert(c)
		}
	}
	switch {
	case s.CertFile != "" && s.KeyFile == "":
		return nil, bad("cert-file", "is set, but key_file is not: set key_file to the client certificate's private key (PEM)")
	case s.CertFile == "" && s.KeyFile != "":
		return nil, bad("key-file", "is set, but cert_file is not: set cert_file to the client certificate (PEM)")
	case s.CertFile != "":
		certPEM, err := smallfile.Read(s.CertFile, smallfile.MaxCert, "certificate file")
		if err != nil {
			return nil, bad("cert-file", "%s", hint(err, "name a readable PEM file holding the client certificate"))
		}
		if certs, err := parseCerts(certPEM); err != nil || len(certs) == 0 {
			if err == nil {
				err = errors.New("holds no PEM certificate (-----BEGIN CERTIFICATE-----)")
			}
			return nil, bad("cert-file", "%s: %v: give the client certificate in PEM form", s.CertFile, err)
		}
		keyPEM, err := smallfile.Read(s.KeyFile, smallfile.MaxKey, "key file")
		if err != nil {
			return nil, bad("key-file", "%s", hint(err, "name a readable PEM file holding the client certificate's private key"))
		}
		if !hasPEMKey(keyPEM) {
			return nil, bad("key-file", "%s holds no PEM private key (-----BEGIN PRIVATE KEY-----): give the client certificate's key, unencrypted, in PEM form", s.KeyFile)
		}
		pair, err := tls.X509KeyPair(certPEM, keyPEM)
		if err != nil {
			if strings.Contains(err.Error(), "does not match") {
				return nil, bad("key-file", "%s does not match the certificate in cert_file %s: give the key that was made with that certificate", s.KeyFile, s.CertFile)
			}
			return nil, bad("key-file", "%s: %v: give the client certificate's key, unencrypted, in PEM form", s.KeyFile, err)
		}
		t.Certificates = []tls.Certificate{pair}
	}
	return t, nil
}

// hint is a file's read error with what to do; smallfile's refusals say it
// already.
func hint(err error, todo string) string {
	if smallfile.Refused(err) {
		return err.Error()
	}
	return err.Error() + ": " + todo
}

// parseCerts parses every CERTIFICATE block of a PEM bundle.
func parseCerts(data []byte) ([]*x509.Certificate, error) {
	var certs []*x509.Certificate
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			return certs, nil
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("certificate %d: %v", len(certs)+1, err)
		}
		certs = append(certs, c)
	}
}

func hasPEMKey(data []byte) bool {
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			return false
		}
		if strings.HasSuffix(b.Type, "PRIVATE KEY") {
			return true
		}
	}
}

func fileExists(f string) bool {
	_, err := os.Stat(f)
	return err == nil
}

// Loopback reports whether host is this machine, where a plaintext,
// anonymous broker is the normal setup and nothing crosses a network.
func Loopback(host string) bool {
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Warnings says what is insecure about the connection and what to configure;
// a program logs them at start. Plaintext and anonymous connections are
// normal to a broker on this machine and are not warned about.
func (a *Auth) Warnings() []string {
	var w []string
	if !Loopback(a.host) {
		if a.plaintext {
			w = append(w, fmt.Sprintf("broker %s is plaintext: readings, commands and any password cross the network unencrypted; use ssl://%s (with ca_file if the broker's CA is not in the system's pool)",
				a.broker, net.JoinHostPort(a.host, "8883")))
		}
		if a.Username == "" && a.certFile == "" {
			w = append(w, fmt.Sprintf("connection to broker %s is anonymous: anyone who reaches the broker can send commands; set username and password_file, or cert_file and key_file", a.broker))
		}
	}
	if a.idleCred != "" {
		w = append(w, fmt.Sprintf("systemd credential %s is there, but username is not set, so the password is not used: set username", a.idleCred))
	}
	return w
}

// String sums up the security of the connection, for check-config.
func (a *Auth) String() string {
	var parts []string
	switch {
	case a.plaintext:
		parts = append(parts, "plaintext")
	case a.caFile != "":
		parts = append(parts, "TLS, server "+a.TLS.ServerName+" checked against ca_file "+a.caFile)
	default:
		parts = append(parts, "TLS, server "+a.TLS.ServerName+" checked against the system's CA pool")
	}
	if a.certFile != "" {
		parts = append(parts, "client certificate "+a.certFile)
	}
	switch {
	case a.Username != "" && a.passwordFrom != "":
		parts = append(parts, "username "+a.Username+", password from "+a.passwordFrom)
	case a.Username != "":
		parts = append(parts, "username "+a.Username+", no password")
	case a.certFile == "":
		parts = append(parts, "anonymous")
	}
	return strings.Join(parts, "; ")
}
