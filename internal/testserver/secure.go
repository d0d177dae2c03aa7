package testserver

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/crunchsvc/crunch/internal/testcert"
	"github.com/crunchsvc/crunch/service/executor"
	"github.com/crunchsvc/crunch/service/server"
)

// StartSecure starts a server in this process on a free loopback port,
// serving TLS with cert and asking for token, with the direct and pool
// executors (one worker); it returns its host:port and stops it when the
// test ends. For the clients' token and TLS tests.
func StartSecure(t testing.TB, cert *testcert.Cert, token string) string {
	t.Helper()
	execs := map[string]executor.Executor{
		executor.NameDirect: executor.NewDirect(0),
		executor.NamePool:   executor.NewPool(executor.PoolConfig{Workers: 1}),
	}
	srv, err := server.New(server.Config{Executors: execs, TLS: cert.ServerConfig(), Token: token})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for _, ex := range execs {
			ex.Close()
		}
	})
	return Serve(t, srv)
}

// Serve runs srv in this process on a free loopback port and returns its
// host:port; srv shuts down when the test ends (cleanups registered
// before this call run after that).
func Serve(t testing.TB, srv *server.Server) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	})
	return ln.Addr().String()
}
