package cluster_test

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/crunchsvc/crunch/internal/testcert"
	"github.com/crunchsvc/crunch/service/client"
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
