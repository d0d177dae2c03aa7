// Package testserver starts a real `crunch serve` process for tests that
// drive it from outside: the clients, the command line, signals.
package testserver

import (
	"context"
	"testing"

	"github.com/crunchsvc/crunch/bench/load"
)

// Start builds cmd/crunch into binDir (as binDir/crunch), starts it on a
// free port with cfg (whose Binary it sets) and stops it when the test
// ends, failing the test if the server did not exit cleanly. stopChecked
// false skips that check, for tests that end the process themselves.
func Start(ctx context.Context, t testing.TB, binDir string, cfg load.ServerConfig, stopChecked bool) *load.Server {
	t.Helper()
	bin, err := load.Build(ctx, binDir)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Binary = bin
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
