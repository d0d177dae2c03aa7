package cluster_test

import (
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/crunchsvc/crunch/internal/testcert"
	"github.com/crunchsvc/crunch/internal/testserver"
	"github.com/crunchsvc/crunch/service/cluster"
	"github.com/crunchsvc/crunch/service/executor"
)

// TestJoinOverTLS: a node joins a NATS server that requires TLS when
// given the CA (--nats-tls-ca), and not without it.
func TestJoinOverTLS(t *testing.T) {
	cert := testcert.New(t)
	caFile, _ := cert.Files(t, t.TempDir()) // self-signed: its own CA
	s, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: server.RANDOM_PORT, NoSigs: true, NoLog: true,
		TLS: true, TLSTimeout: 5, TLSConfig: cert.ServerConfig()})
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
	gw, _ := gatewayAndRunner(t, url, func(c *cluster.Config) { c.TLSCA = caFile })
	wantNode(t, testserver.Dial(t, gw.addr), "b", "")
}
