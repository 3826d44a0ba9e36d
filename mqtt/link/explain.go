package link

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"strings"
	"syscall"

	"github.com/eclipse/paho.mqtt.golang/packets"
)

// ConnectError is why a connection attempt failed: the error paho gave and
// an explanation a person can act on. Its Error is the explanation.
type ConnectError struct {
	Broker      string // the broker URL
	Explanation string // what went wrong and what to configure, in the settings' words
	Err         error  // the underlying error, for errors.Is and errors.As
}

func (e *ConnectError) Error() string { return e.Explanation }
func (e *ConnectError) Unwrap() error { return e.Err }

// Explain says why a connection to broker failed, in words a user can act
// on: which setting to change, or what to check. The fixes name the
// settings of both programs (ca_file, cert_file, key_file, tls_server_name,
// username, password_file). Errors it does not know are returned as they are.
func Explain(broker string, err error) string {
	addr, secure := broker, false
	if u, perr := url.Parse(broker); perr == nil && u.Host != "" {
		addr, secure = u.Host, u.Scheme != "tcp" && u.Scheme != "mqtt"
	}
	var (
		op     *net.OpError
		dns    *net.DNSError
		netErr net.Error
	)
	_, unknownCA := asValue[x509.UnknownAuthorityError](err)
	invalid, isInvalid := asValue[x509.CertificateInvalidError](err)
	hostname, isHostname := asValue[x509.HostnameError](err)
	_, isRecord := asValue[tls.RecordHeaderError](err)
	switch {
	case err == nil:
		return ""
	case unknownCA:
		return "broker's certificate is not signed by a CA we trust: set ca_file to the CA that signed it"
	case isInvalid:
		switch invalid.Reason {
		case x509.Expired:
			return "broker's certificate has expired or is not yet valid: renew it on the broker, or set this machine's clock right"
		default:
			return fmt.Sprintf("broker's certificate is not valid (%v): give the broker a certificate for a TLS server", invalid)
		}
	case isHostname:
		return fmt.Sprintf("broker's certificate is for %s, not %s: set tls_server_name or use the name in the certificate",
			certNames(hostname.Certificate), hostname.Host)
	case errors.Is(err, packets.ErrorRefusedNotAuthorised), errors.Is(err, packets.ErrorRefusedBadUsernameOrPassword):
		return "broker refused the username or password: check username and password_file"
	case errors.Is(err, packets.ErrorRefusedIDRejected):
		return "broker rejected the client id: give each program a unique id (id for a device, client_id for the server)"
	case errors.Is(err, packets.ErrorRefusedServerUnavailable):
		return "broker says it is unavailable: see the broker's log"
	case errors.Is(err, packets.ErrorRefusedBadProtocolVersion):
		return "broker does not speak MQTT 3.1.1: use a broker that does (Mosquitto does)"
	case errors.As(err, &op) && op.Op == "remote error":
		return explainAlert(op.Err.Error())
	case isRecord:
		return fmt.Sprintf("broker at %s does not speak TLS on this port: use tcp:// for a plaintext port, or the broker's TLS port (usually 8883)", addr)
	case errors.Is(err, syscall.ECONNREFUSED):
		return fmt.Sprintf("connection refused: is the broker running at %s?", addr)
	case errors.As(err, &dns):
		return fmt.Sprintf("cannot resolve the broker's host name %q: check the broker setting and DNS", dns.Name)
	case errors.Is(err, syscall.ENETUNREACH), errors.Is(err, syscall.EHOSTUNREACH):
		return fmt.Sprintf("no route to the broker at %s: check the network and the broker setting", addr)
	case errors.Is(err, os.ErrDeadlineExceeded), errors.As(err, &netErr) && netErr.Timeout():
		return fmt.Sprintf("no answer from the broker at %s in time: check the broker setting, the network and firewalls", addr)
	case (errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET)) && secure:
		// A broker that refuses a client certificate under TLS 1.3 often
		// resets the connection before its alert can be read.
		return fmt.Sprintf("broker at %s closed the TLS connection before answering: if it requires client certificates, set cert_file and key_file to one signed by a CA it trusts; otherwise see the broker's log", addr)
	case errors.Is(err, io.EOF), errors.Is(err, syscall.ECONNRESET):
		return fmt.Sprintf("broker at %s closed the connection before answering: if it speaks TLS on this port use ssl://; otherwise see the broker's log", addr)
	}
	return err.Error()
}

// explainAlert explains a TLS alert the broker sent during the handshake;
// msg is Go's text for it, "tls: certificate required" and the like.
func explainAlert(msg string) string {
	reason := strings.TrimPrefix(msg, "tls: ")
	switch reason {
	case "certificate required":
		return "broker requires a client certificate: set cert_file and key_file"
	case "bad certificate", "unsupported certificate", "certificate revoked", "certificate expired",
		"certificate unknown", "unknown certificate authority", "access denied":
		return fmt.Sprintf("broker refused our client certificate (%s): set cert_file and key_file to a valid certificate signed by a CA the broker trusts", reason)
	case "protocol version not supported":
		return "broker and we share no TLS version: we need TLS 1.2 or newer, enable it on the broker"
	}
	return fmt.Sprintf("broker ended the TLS handshake (%s): see the broker's log; it may want a client certificate (cert_file, key_file)", reason)
}

// certNames lists the names a certificate is valid for.
func certNames(c *x509.Certificate) string {
	if c == nil {
		return "another name"
	}
	var names []string
	names = append(names, c.DNSNames...)
	for _, ip := range c.IPAddresses {
		names = append(names, ip.String())
	}
	if len(names) == 0 && c.Subject.CommonName != "" {
		names = append(names, c.Subject.CommonName)
	}
	if len(names) == 0 {
		return "no host name"
	}
	return strings.Join(names, ", ")
}

// asValue finds an error of type T in err's chain; crypto/x509 and
// crypto/tls return these as values, not pointers.
func asValue[T error](err error) (T, bool) {
	var v T
	ok := errors.As(err, &v)
	return v, ok
}
