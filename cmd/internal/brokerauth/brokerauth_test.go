package brokerauth

import (
	"crypto/tls"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"nightlight/cmd/internal/cli"
	"nightlight/cmd/internal/config"
	"nightlight/mqtt/mqtttest"
)

func write(t *testing.T, dir, name, text string) string {
	t.Helper()
	f := filepath.Join(dir, name)
	if err := os.WriteFile(f, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}

func origin(name string) string { return "flag --" + name }

func TestLoadErrors(t *testing.T) {
	t.Setenv("CREDENTIALS_DIRECTORY", "")
	dir := t.TempDir()
	ca := mqtttest.NewCA(t, "ca")
	other := mqtttest.NewCA(t, "other")
	pair := ca.Issue(t, mqtttest.CertSpec{CommonName: "desk", Client: true})
	stranger := other.Issue(t, mqtttest.CertSpec{CommonName: "stranger", Client: true})
	missing := filepath.Join(dir, "missing.pem")
	text := write(t, dir, "notpem.txt", "hello\n")
	garbled := write(t, dir, "garbled.pem", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
	empty := write(t, dir, "empty", "\n")
	const tlsURL = "ssl://broker.example:8883"

	for _, tt := range []struct {
		name   string
		s      Settings
		broker string
		want   []string
	}{
		{"bad broker", Settings{}, "broker.example:1883", []string{"broker (flag --broker)", "tcp://host:1883"}},
		{"ca_file with tcp", Settings{CAFile: ca.File}, "tcp://broker.example:1883",
			[]string{"ca_file (flag --ca-file)", "plaintext", "use ssl://broker.example:8883"}},
		{"cert_file with tcp", Settings{CertFile: pair.CertFile, KeyFile: pair.KeyFile}, "tcp://broker.example:1883",
			[]string{"cert_file (flag --cert-file)", "use ssl://"}},
		{"tls_server_name with tcp", Settings{ServerName: "x"}, "mqtt://broker.example:1883",
			[]string{"tls_server_name (flag --tls-server-name)", "use ssl://"}},
		{"missing ca_file", Settings{CAFile: missing}, tlsURL,
			[]string{"ca_file (flag --ca-file)", missing, "no such file", "name a readable PEM file"}},
		{"ca_file not PEM", Settings{CAFile: text}, tlsURL,
			[]string{"ca_file", text, "holds no PEM certificate", "give the CA certificate in PEM form"}},
		{"ca_file garbled", Settings{CAFile: garbled}, tlsURL,
			[]string{"ca_file", garbled, "certificate 1", "PEM form"}},
		{"cert without key", Settings{CertFile: pair.CertFile}, tlsURL,
			[]string{"cert_file (flag --cert-file)", "key_file is not", "set key_file"}},
		{"key without cert", Settings{KeyFile: pair.KeyFile}, tlsURL,
			[]string{"key_file (flag --key-file)", "cert_file is not", "set cert_file"}},
		{"missing cert_file", Settings{CertFile: missing, KeyFile: pair.KeyFile}, tlsURL,
			[]string{"cert_file", missing, "no such file"}},
		{"cert_file not PEM", Settings{CertFile: text, KeyFile: pair.KeyFile}, tlsURL,
			[]string{"cert_file", text, "holds no PEM certificate", "client certificate in PEM form"}},
		{"cert_file is a key", Settings{CertFile: pair.KeyFile, KeyFile: pair.KeyFile}, tlsURL,
			[]string{"cert_file", pair.KeyFile, "holds no PEM certificate"}},
		{"missing key_file", Settings{CertFile: pair.CertFile, KeyFile: missing}, tlsURL,
			[]string{"key_file", missing, "no such file"}},
		{"key_file not PEM", Settings{CertFile: pair.CertFile, KeyFile: text}, tlsURL,
			[]string{"key_file", text, "holds no PEM private key"}},
		{"key not matching", Settings{CertFile: pair.CertFile, KeyFile: stranger.KeyFile}, tlsURL,
			[]string{"key_file (flag --key-file)", stranger.KeyFile, "does not match the certificate in cert_file " + pair.CertFile, "give the key"}},
		{"password without username", Settings{PasswordFile: write(t, dir, "pw", "x\n")}, tlsURL,
			[]string{"password_file (flag --password-file)", "username is not", "set username"}},
		{"missing password_file", Settings{Username: "u", PasswordFile: missing}, tlsURL,
			[]string{"password_file", missing, "no such file", "holds the broker password"}},
		{"empty password_file", Settings{Username: "u", PasswordFile: empty}, tlsURL,
			[]string{"password_file", empty, "is empty", "write the broker password in it"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			a, err := Load(tt.s, tt.broker, origin)
			if err == nil {
				t.Fatalf("Load = %+v, want an error", a)
			}
			var ce *config.Error
			if !errors.As(err, &ce) || cli.ExitCode(err) != cli.ExitConfig {
				t.Errorf("error %v is not a configuration error (exit 78)", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
		})
	}
}

func TestLoad(t *testing.T) {
	t.Setenv("CREDENTIALS_DIRECTORY", "")
	dir := t.TempDir()
	ca := mqtttest.NewCA(t, "ca")
	pair := ca.Issue(t, mqtttest.CertSpec{CommonName: "desk", Client: true})
	pw := write(t, dir, "pw", "s3cret\r\n")

	a, err := Load(Settings{CAFile: ca.File, CertFile: pair.CertFile, KeyFile: pair.KeyFile, Username: "desk", PasswordFile: pw},
		"ssl://[::1]:8883", nil)
	if err != nil {
		t.Fatal(err)
	}
	if a.TLS == nil || a.TLS.MinVersion != tls.VersionTLS12 || a.TLS.ServerName != "::1" || a.TLS.RootCAs == nil || len(a.TLS.Certificates) != 1 {
		t.Errorf("TLS config %+v: want TLS 1.2+, server name from the URL, the CA and the client certificate", a.TLS)
	}
	if a.Username != "desk" || a.Password != "s3cret" {
		t.Errorf("username %q password %q, want desk and s3cret without the newline", a.Username, a.Password)
	}
	if w := a.Warnings(); len(w) != 0 {
		t.Errorf("warnings %q for a loopback TLS connection with a password", w)
	}

	a, err = Load(Settings{ServerName: "mqtt.example"}, "tls://10.0.0.7:8883", nil)
	if err != nil {
		t.Fatal(err)
	}
	if a.TLS == nil || a.TLS.ServerName != "mqtt.example" || a.TLS.RootCAs != nil {
		t.Errorf("TLS config %+v: want the system pool and server name mqtt.example", a.TLS)
	}

	a, err = Load(Settings{}, "tcp://127.0.0.1:1883", nil)
	if err != nil || a.TLS != nil {
		t.Errorf("plaintext: Load = %+v, %v; want no TLS", a, err)
	}
}

func TestCredential(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, Credential, "from-systemd\n")
	t.Setenv("CREDENTIALS_DIRECTORY", dir)

	a, err := Load(Settings{Username: "desk"}, "ssl://127.0.0.1:8883", nil)
	if err != nil {
		t.Fatal(err)
	}
	if a.Password != "from-systemd" {
		t.Errorf("password %q, want the credential's", a.Password)
	}
	if s := a.String(); !strings.Contains(s, "password from "+filepath.Join(dir, Credential)) {
		t.Errorf("String() = %q, want it to say where the password came from", s)
	}

	// password_file wins over the credential.
	own := write(t, t.TempDir(), "pw", "mine")
	if a, err = Load(Settings{Username: "desk", PasswordFile: own}, "ssl://127.0.0.1:8883", nil); err != nil || a.Password != "mine" {
		t.Errorf("with password_file: password %q, %v; want mine", a.Password, err)
	}

	// Without a username the credential is unused, and the log says so.
	a, err = Load(Settings{}, "ssl://127.0.0.1:8883", nil)
	if err != nil {
		t.Fatal(err)
	}
	if a.Password != "" || len(a.Warnings()) != 1 || !strings.Contains(a.Warnings()[0], "set username") {
		t.Errorf("credential without username: password %q, warnings %q", a.Password, a.Warnings())
	}

	// An empty credential is refused like an empty password_file.
	write(t, dir, Credential, "")
	_, err = Load(Settings{Username: "desk"}, "ssl://127.0.0.1:8883", nil)
	if err == nil || cli.ExitCode(err) != cli.ExitConfig || !strings.Contains(err.Error(), "systemd credential") {
		t.Errorf("empty credential: %v, want a configuration error naming the credential", err)
	}
}

func TestWarnings(t *testing.T) {
	t.Setenv("CREDENTIALS_DIRECTORY", "")
	ca := mqtttest.NewCA(t, "ca")
	pair := ca.Issue(t, mqtttest.CertSpec{CommonName: "desk", Client: true})
	pw := write(t, t.TempDir(), "pw", "x")
	for _, tt := range []struct {
		broker string
		s      Settings
		want   []string // one substring per warning
	}{
		{"tcp://127.0.0.1:1883", Settings{}, nil},
		{"tcp://localhost:1883", Settings{}, nil},
		{"tcp://[::1]:1883", Settings{}, nil},
		{"tcp://broker.lan:1883", Settings{}, []string{"is plaintext", "is anonymous"}},
		{"tcp://192.0.2.1:1883", Settings{Username: "u", PasswordFile: pw}, []string{"use ssl://192.0.2.1:8883"}},
		{"ssl://broker.lan:8883", Settings{}, []string{"set username and password_file, or cert_file and key_file"}},
		{"ssl://broker.lan:8883", Settings{Username: "u", PasswordFile: pw}, nil},
		{"ssl://broker.lan:8883", Settings{CertFile: pair.CertFile, KeyFile: pair.KeyFile}, nil},
	} {
		a, err := Load(tt.s, tt.broker, nil)
		if err != nil {
			t.Fatal(err)
		}
		got := a.Warnings()
		if len(got) != len(tt.want) {
			t.Errorf("%s %+v: warnings %q, want %d", tt.broker, tt.s, got, len(tt.want))
			continue
		}
		for i, w := range tt.want {
			if !strings.Contains(got[i], w) {
				t.Errorf("%s: warning %q does not say %q", tt.broker, got[i], w)
			}
		}
	}
}
