package client

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"

	"github.com/gorilla/websocket"
)

// ErrUnauthorized is the cause of a dial the server refused with 401: no
// token, or a wrong one (DialOptions.Token).
var ErrUnauthorized = errors.New("client: server refused the token (HTTP 401)")

// DialOptions are a connection's settings, for DialWith and Redialer.
type DialOptions struct {
	// Token is sent as "Authorization: Bearer TOKEN" to a server started
	// with --auth-token-file. The Unix socket does not ask for it.
	Token string
	// TLS, when set, is the TLS configuration of wss:// connections (a
	// host:port address then means wss://); nil: the system's roots for
	// wss:// URLs. CAFile makes one that trusts a given certificate.
	TLS *tls.Config
}

// header is the handshake's extra header: the token, if any.
func (o *DialOptions) header() http.Header {
	if o.Token == "" {
		return nil
	}
	return http.Header{"Authorization": {"Bearer " + o.Token}}
}

// handshakeError names a refused token for what it is.
func handshakeError(err error, resp *http.Response) error {
	if errors.Is(err, websocket.ErrBadHandshake) && resp != nil && resp.StatusCode == http.StatusUnauthorized {
		return ErrUnauthorized
	}
	return err
}

// CAFile returns a TLS configuration that trusts the certificates in the
// PEM file path (a private CA's, or a server's self-signed one) instead of
// the system's roots.
func CAFile(path string) (*tls.Config, error) {
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("client: CA file: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("client: CA file %s: no PEM certificate in it", path)
	}
	return &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}, nil
}

// TokenFile reads a token from path: the file's contents, surrounding
// white space trimmed, as crunch serve --auth-token-file reads it.
func TokenFile(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("token file: %w", err)
	}
	tok := strings.TrimSpace(string(b))
	if tok == "" {
		return "", fmt.Errorf("token file %s is empty", path)
	}
	return tok, nil
}
