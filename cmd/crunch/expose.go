package main

import (
	"crypto/tls"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"

	"github.com/crunchsvc/crunch/service/client"
)

// exposeFlags are serve's flags for a listener other machines can reach
// (docs/SECURITY.md): TLS, a token, and --insecure to serve one open.
type exposeFlags struct {
	cert, key, tokenFile *string
	insecure             *bool
}

func securityFlags(fs *flag.FlagSet) *exposeFlags {
	return &exposeFlags{
		cert:      fs.String("tls-cert", "", "serve TLS (https://, wss://) with this certificate (PEM; the chain, leaf first); needs --tls-key"),
		key:       fs.String("tls-key", "", "the private key (PEM) of --tls-cert"),
		tokenFile: fs.String("auth-token-file", "", "every request over TCP but /healthz must present this file's contents (trimmed) as \"Authorization: Bearer TOKEN\", or a browser the cookie the status page sets; the Unix socket needs none"),
		insecure:  fs.Bool("insecure", false, "allow --addr or --nats-listen beyond loopback without TLS or a token: anyone who reaches the port may compute and read results"),
	}
}

// load reads the certificate and the token the flags name: nil and "" for
// those not asked for.
func (f *exposeFlags) load(log *slog.Logger) (*tls.Config, string, error) {
	var tc *tls.Config
	switch {
	case (*f.cert == "") != (*f.key == ""):
		return nil, "", fmt.Errorf("--tls-cert and --tls-key go together")
	case *f.cert != "":
		cert, err := tls.LoadX509KeyPair(*f.cert, *f.key)
		if err != nil {
			return nil, "", fmt.Errorf("--tls-cert/--tls-key: %w", err)
		}
		tc = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	if *f.tokenFile == "" {
		return tc, "", nil
	}
	token, err := client.TokenFile(*f.tokenFile)
	if err != nil {
		return nil, "", fmt.Errorf("--auth-token-file: %w", err)
	}
	if fi, err := os.Stat(*f.tokenFile); err == nil && fi.Mode().Perm()&0o077 != 0 {
		log.Warn("the token file may be read by other users: chmod 600 it", "path", *f.tokenFile, "mode", fi.Mode().Perm().String())
	}
	return tc, token, nil
}

// check refuses a listener beyond loopback that has neither TLS nor a
// token, unless --insecure; and the embedded NATS server beyond loopback,
// which has neither, unless --insecure.
func (f *exposeFlags) check(addr, natsListen string, tlsOn, tokenOn bool, log *slog.Logger) error {
	if !loopbackOnly(addr) && !tlsOn && !tokenOn {
		if !*f.insecure {
			return fmt.Errorf("--addr %s listens beyond this machine with neither TLS nor a token: "+
				"give --auth-token-file (and --tls-cert with --tls-key), listen on 127.0.0.1, "+
				"or add --insecure to serve it open to whoever reaches the port", addr)
		}
		log.Warn("serving beyond loopback with neither TLS nor a token (--insecure): anyone who reaches the port may compute", "addr", addr)
	}
	if !loopbackOnly(addr) && tlsOn && !tokenOn {
		log.Warn("serving beyond loopback with TLS but no token: anyone who reaches the port may compute (--auth-token-file)", "addr", addr)
	}
	if natsListen != "" && !loopbackOnly(natsListen) {
		if !*f.insecure {
			return fmt.Errorf("--nats-listen %s listens beyond this machine, and the embedded NATS server has neither TLS nor credentials: "+
				"any client that reaches it may run jobs on the cluster and read their data. Listen on 127.0.0.1, "+
				"run a nats-server with TLS and credentials and join it with --nats, --nats-creds and --nats-tls-ca, "+
				"or add --insecure on a network you trust", natsListen)
		}
		log.Warn("embedded NATS server beyond loopback with neither TLS nor credentials (--insecure)", "nats_listen", natsListen)
	}
	return nil
}

// loopbackOnly tells whether addr (host:port) listens on loopback only:
// an empty host, 0.0.0.0 or [::] listen everywhere, and a name counts only
// when every address it resolves to is loopback.
func loopbackOnly(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil || host == "" {
		return false
	}
	if ip := net.ParseIP(host); ip != nil {
		return ip.IsLoopback()
	}
	ips, err := net.LookupIP(host)
	if err != nil || len(ips) == 0 {
		return false
	}
	for _, ip := range ips {
		if !ip.IsLoopback() {
			return false
		}
	}
	return true
}
