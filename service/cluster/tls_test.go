package cluster_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/crunchsvc/crunch/service/client"
	"github.com/crunchsvc/crunch/service/cluster"
	"github.com/crunchsvc/crunch/service/executor"
)

// testCA makes a CA and a certificate it signs for 127.0.0.1, and writes
// the CA's certificate to a PEM file.
func testCA(t *testing.T) (caFile string, cert tls.Certificate) {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "crunch test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "nats"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		KeyUsage: x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caFile = filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	return caFile, tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// TestJoinOverTLS: a node joins a NATS server that requires TLS when
// given the CA (--nats-tls-ca), and not without it.
func TestJoinOverTLS(t *testing.T) {
	caFile, cert := testCA(t)
	s, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: server.RANDOM_PORT, NoSigs: true, NoLog: true,
		TLS: true, TLSTimeout: 5, TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}})
	if err != nil {
		t.Fatal(err)
	}
	s.Start()
	t.Cleanup(s.Shutdown)
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats-server did not start")
	}
	url := "tls://" + s.Addr().String()

	pool := executor.NewPool(executor.PoolConfig{Workers: 1})
	defer pool.Close()
	if n, err := cluster.Join(cluster.Config{URL: url, Name: "x", Exec: pool}); err == nil {
		n.Close()
		t.Fatal("joined a TLS server whose CA it was not given")
	}
	gw := startNode(t, url, "gw", 1, -1, func(c *cluster.Config) { c.TLSCA = caFile })
	startNode(t, url, "b", 1, 0, func(c *cluster.Config) { c.TLSCA = caFile })
	waitSlots(t, gw, 1)
	rep, err := dial(t, gw.addr).Do(context.Background(), modsum(1000), &client.Options{Exec: "cluster"})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Stats.Node != "b" {
		t.Errorf("ran on %q, want b", rep.Stats.Node)
	}
}
