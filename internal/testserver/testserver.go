// Package testserver starts a real `crunch serve` process for tests that
// drive it from outside: the clients, the command line, signals.
package testserver

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/crunchsvc/crunch/bench/load"
	"github.com/crunchsvc/crunch/internal/testutil"
	"github.com/crunchsvc/crunch/service/client"
	"github.com/crunchsvc/crunch/service/wire"
)

// Build builds cmd/crunch into binDir (as binDir/crunch) and returns its
// path, failing the test if it does not build.
//
// Under the race detector it skips the test instead: the server it builds
// is a process of its own, which the detector does not reach, so the test
// would only repeat what `make test` ran already, several times slower.
// The server's code is raced by the tests that run it in-process.
func Build(ctx context.Context, t testing.TB, binDir string) string {
	t.Helper()
	if testutil.RaceEnabled {
		t.Skip("its server is a process of its own, out of the race detector's reach")
	}
	bin, err := load.Build(ctx, binDir)
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

// Start builds cmd/crunch into binDir (see Build), starts it on a free
// port with cfg (whose Binary it sets) and stops it when the test ends,
// failing the test if the server did not exit cleanly. stopChecked false
// skips that check, for tests that end the process themselves.
func Start(ctx context.Context, t testing.TB, binDir string, cfg load.ServerConfig, stopChecked bool) *load.Server {
	t.Helper()
	cfg.Binary = Build(ctx, t, binDir)
	srv, err := load.StartServer(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := srv.Stop(); err != nil && stopChecked {
			t.Errorf("stopping the server: %v\n%s", err, srv.Stderr())
		}
	})
	return srv
}

// Small is the configuration the client tests use: two pool workers and
// two subprocess workers.
func Small() load.ServerConfig {
	return load.ServerConfig{Args: []string{"--workers", "2", "--pool-workers", "2"}}
}

// Dial connects a client to the server at addr (host:port, or unix:path)
// and closes it when the test ends.
func Dial(t testing.TB, addr string) *client.Client {
	t.Helper()
	c, err := client.Dial(context.Background(), addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// ExecLoad asks the server behind c for executor name's slots and busy
// slots (the info op), failing the test if info does not list it.
func ExecLoad(t testing.TB, c *client.Client, name string) (slots, busy int) {
	t.Helper()
	rep, err := c.Do(context.Background(), &wire.Request{Op: "info"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var execs []struct {
		Name  string `json:"name"`
		Slots int    `json:"slots"`
		Busy  int    `json:"busy"`
	}
	if err := json.Unmarshal(rep.Result["executors"].JSON, &execs); err != nil {
		t.Fatal(err)
	}
	for _, e := range execs {
		if e.Name == name {
			return e.Slots, e.Busy
		}
	}
	t.Fatalf("info lists no executor %q", name)
	return 0, 0
}
