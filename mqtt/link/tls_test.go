package link

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/eclipse/paho.mqtt.golang/packets"

	"nightlight/mqtt/mqtttest"
)

func TestExplain(t *testing.T) {
	const broker = "ssl://broker.example:8883"
	const plain = "tcp://broker.example:1883"
	cert := &x509.Certificate{DNSNames: []string{"mqtt.example"}}
	netErr := func(err error) error { // the way paho wraps a failed dial or handshake
		return fmt.Errorf("%w : %w", packets.ErrorNetworkError, err)
	}
	for _, tt := range []struct {
		name   string
		broker string // default: broker
		err    error
		want   string
	}{
		{"unknown CA", "", netErr(&tls.CertificateVerificationError{Err: x509.UnknownAuthorityError{}}),
			"broker's certificate is not signed by a CA we trust: set ca_file to the CA that signed it"},
		{"expired", "", netErr(&tls.CertificateVerificationError{Err: x509.CertificateInvalidError{Reason: x509.Expired}}),
			"broker's certificate has expired or is not yet valid: renew it on the broker, or set this machine's clock right"},
		{"not a server certificate", "", netErr(x509.CertificateInvalidError{Reason: x509.IncompatibleUsage}),
			"broker's certificate is not valid (x509: certificate specifies an incompatible key usage): give the broker a certificate for a TLS server"},
		{"wrong name", "", netErr(&tls.CertificateVerificationError{Err: x509.HostnameError{Certificate: cert, Host: "10.0.0.7"}}),
			"broker's certificate is for mqtt.example, not 10.0.0.7: set tls_server_name or use the name in the certificate"},
		{"not authorised", "", packets.ErrorRefusedNotAuthorised,
			"broker refused the username or password: check username and password_file"},
		{"bad user name or password", "", packets.ErrorRefusedBadUsernameOrPassword,
			"broker refused the username or password: check username and password_file"},
		{"client id", "", packets.ErrorRefusedIDRejected, "broker rejected the client id"},
		{"unavailable", "", packets.ErrorRefusedServerUnavailable, "broker says it is unavailable"},
		{"refused", "", netErr(&net.OpError{Op: "dial", Net: "tcp", Err: &os.SyscallError{Syscall: "connect", Err: syscall.ECONNREFUSED}}),
			"connection refused: is the broker running at broker.example:8883?"},
		{"client certificate required", "", netErr(&net.OpError{Op: "remote error", Err: errors.New("tls: certificate required")}),
			"broker requires a client certificate: set cert_file and key_file"},
		{"client certificate refused", "", netErr(&net.OpError{Op: "remote error", Err: errors.New("tls: unknown certificate authority")}),
			"broker refused our client certificate (unknown certificate authority): set cert_file and key_file"},
		{"other alert", "", netErr(&net.OpError{Op: "remote error", Err: errors.New("tls: handshake failure")}),
			"broker ended the TLS handshake (handshake failure)"},
		{"plaintext port", "", netErr(tls.RecordHeaderError{Msg: "tls: first record does not look like a TLS handshake"}),
			"broker at broker.example:8883 does not speak TLS on this port: use tcp://"},
		{"dns", "", netErr(&net.OpError{Op: "dial", Err: &net.DNSError{Name: "broker.example", Err: "no such host", IsNotFound: true}}),
			`cannot resolve the broker's host name "broker.example"`},
		{"timeout", "", netErr(&net.OpError{Op: "dial", Err: os.ErrDeadlineExceeded}), "no answer from the broker at broker.example:8883 in time"},
		{"closed", plain, netErr(io.EOF), "broker at broker.example:1883 closed the connection before answering: if it speaks TLS on this port use ssl://"},
		{"reset under TLS", "", netErr(&net.OpError{Op: "write", Err: &os.SyscallError{Syscall: "write", Err: syscall.ECONNRESET}}),
			"broker at broker.example:8883 closed the TLS connection before answering: if it requires client certificates, set cert_file and key_file"},
		{"unknown", "", errors.New("something else"), "something else"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			b := broker
			if tt.broker != "" {
				b = tt.broker
			}
			if got := Explain(b, tt.err); !strings.HasPrefix(got, tt.want) {
				t.Errorf("Explain = %q\nwant it to start with %q", got, tt.want)
			}
		})
	}
}

// tryConnect starts a link with opts and waits until it connects (want ==
// "") or its LastError says want. It returns the link's log.
func tryConnect(t *testing.T, opts Options, want string) string {
	t.Helper()
	logs := new(mqtttest.Log)
	opts.ClientID = "tls-" + strings.ReplaceAll(t.Name(), "/", "-")
	opts.Timeout = 3 * time.Second
	opts.Logger = slog.New(slog.NewTextHandler(logs, nil))
	l, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	l.Start()
	defer l.Close()
	deadline := time.Now().Add(15 * time.Second)
	for {
		err := l.LastError()
		switch {
		case want == "" && l.Connected():
			if err != nil {
				t.Errorf("connected, yet LastError = %v", err)
			}
			return logs.String()
		case want != "" && err != nil:
			var ce *ConnectError
			if !errors.As(err, &ce) || ce.Err == nil {
				t.Errorf("LastError = %#v, want a *ConnectError with the cause", err)
			}
			if !strings.Contains(err.Error(), want) {
				t.Fatalf("LastError = %q, want it to say %q (cause: %v)", err, want, errors.Unwrap(err))
			}
			if l.Connected() {
				t.Fatal("connected despite the error")
			}
			return logs.String()
		case time.Now().After(deadline):
			t.Fatalf("neither connected nor failed within 15s (LastError %v); log:\n%s", err, logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestTLSAgainstMosquitto: with the right material the link connects over
// TLS with a password or a client certificate; with the wrong material
// LastError and the log say what is wrong and what to configure.
func TestTLSAgainstMosquitto(t *testing.T) {
	if _, err := mqtttest.MosquittoPath(); err != nil && os.Getenv("NIGHTLIGHT_REQUIRE_MOSQUITTO") != "1" {
		t.Skip(err)
	}
	ca := mqtttest.NewCA(t, "nightlight-test")
	other := mqtttest.NewCA(t, "unrelated")
	server := ca.Issue(t, mqtttest.CertSpec{CommonName: "broker", Hosts: []string{"127.0.0.1", "localhost"}})
	expired := ca.Issue(t, mqtttest.CertSpec{CommonName: "expired", Hosts: []string{"127.0.0.1", "localhost"},
		NotBefore: time.Now().Add(-48 * time.Hour), NotAfter: time.Now().Add(-24 * time.Hour)})
	client := ca.Issue(t, mqtttest.CertSpec{CommonName: "desk", Client: true})
	stranger := other.Issue(t, mqtttest.CertSpec{CommonName: "stranger", Client: true})
	trust := func(ca *mqtttest.CA, pair *mqtttest.Pair) *tls.Config { return ca.ClientTLS(t, pair) }

	t.Run("password", func(t *testing.T) {
		b := mqtttest.Mosquitto(t, mqtttest.WithTLS(ca.File, server.CertFile, server.KeyFile), mqtttest.WithUser("desk", "s3cret"))
		if !strings.HasPrefix(b.URL(), "ssl://") {
			t.Fatalf("URL %s: want ssl://", b.URL())
		}
		base := Options{Broker: b.URL(), TLS: trust(ca, nil), Username: "desk", Password: "s3cret"}
		cases := []struct {
			name string
			mod  func(o *Options)
			want string
		}{
			{"right material", func(*Options) {}, ""},
			{"right server name", func(o *Options) { o.TLS.ServerName = "localhost" }, ""},
			{"wrong CA", func(o *Options) { o.TLS = trust(other, nil) },
				"broker's certificate is not signed by a CA we trust: set ca_file to the CA that signed it"},
			{"system pool", func(o *Options) { o.TLS = nil },
				"broker's certificate is not signed by a CA we trust: set ca_file"},
			{"wrong server name", func(o *Options) { o.TLS.ServerName = "mqtt.example" },
				"broker's certificate is for localhost, 127.0.0.1, not mqtt.example: set tls_server_name or use the name in the certificate"},
			{"wrong password", func(o *Options) { o.Password = "guess" },
				"broker refused the username or password: check username and password_file"},
			{"no password", func(o *Options) { o.Username, o.Password = "", "" },
				"broker refused the username or password"},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				o := base
				o.TLS = base.TLS.Clone()
				c.mod(&o)
				tryConnect(t, o, c.want)
			})
		}
	})

	t.Run("expired", func(t *testing.T) {
		b := mqtttest.Mosquitto(t, mqtttest.WithTLS(ca.File, expired.CertFile, expired.KeyFile))
		tryConnect(t, Options{Broker: b.URL(), TLS: trust(ca, nil)},
			"broker's certificate has expired or is not yet valid")
	})

	t.Run("client certificate", func(t *testing.T) {
		b := mqtttest.Mosquitto(t, mqtttest.WithTLS(ca.File, server.CertFile, server.KeyFile),
			mqtttest.WithConfig("require_certificate true", "use_identity_as_username true", "allow_anonymous false"))
		for _, c := range []struct {
			name string
			tls  *tls.Config
			want string
		}{
			{"right certificate", trust(ca, &client), ""},
			// The broker's alert says why, but it may reset the connection
			// before the alert can be read; either way the fix is named.
			{"no certificate", trust(ca, nil), "set cert_file and key_file"},
			{"certificate of another CA", trust(ca, &stranger), "set cert_file and key_file"},
		} {
			t.Run(c.name, func(t *testing.T) { tryConnect(t, Options{Broker: b.URL(), TLS: c.tls}, c.want) })
		}
	})

	t.Run("plaintext client at a TLS port", func(t *testing.T) {
		b := mqtttest.Mosquitto(t, mqtttest.WithTLS(ca.File, server.CertFile, server.KeyFile))
		tryConnect(t, Options{Broker: "tcp://" + strings.TrimPrefix(b.URL(), "ssl://")},
			"closed the connection before answering: if it speaks TLS on this port use ssl://")
	})
}

// TestExplainedOnce: a failure that repeats at every retry is logged once,
// not once per attempt.
func TestExplainedOnce(t *testing.T) {
	addr := mqtttest.FreeAddr(t) // nobody listens
	logs := new(mqtttest.Log)
	l, err := New(Options{Broker: "tcp://" + addr, ClientID: "once", Timeout: time.Second,
		Logger: slog.New(slog.NewTextHandler(logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	l.Start()
	defer l.Close()
	deadline := time.Now().Add(15 * time.Second)
	for l.gen.Load() < 3 { // three attempts, a second apart
		if time.Now().After(deadline) {
			t.Fatalf("only %d attempts in 15s", l.gen.Load())
		}
		time.Sleep(20 * time.Millisecond)
	}
	want := "connection refused: is the broker running at " + addr + "?"
	if err := l.LastError(); err == nil || err.Error() != want {
		t.Errorf("LastError = %v, want %q", err, want)
	}
	if n := strings.Count(logs.String(), "cannot connect to the broker"); n != 1 {
		t.Errorf("%d log lines about the failure after 3 attempts, want 1; log:\n%s", n, logs.String())
	}
	if !strings.Contains(logs.String(), want) {
		t.Errorf("the log does not say %q:\n%s", want, logs.String())
	}
}
