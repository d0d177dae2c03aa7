package main

import (
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/crunchsvc/crunch/bench/load"
	"github.com/crunchsvc/crunch/internal/testserver"
	"github.com/crunchsvc/crunch/service/wire"
)

// serverGoProcs starts `crunch serve` as cfg says and returns the
// GOMAXPROCS its info reports.
func serverGoProcs(ctx context.Context, t *testing.T, binDir string, cfg load.ServerConfig) int {
	t.Helper()
	srv := testserver.Start(ctx, t, binDir, cfg, true)
	rep, err := testserver.Dial(t, srv.Addr).Do(ctx, &wire.Request{Op: "info"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var cpu struct {
		GoMaxProcs int `json:"gomaxprocs"`
	}
	if err := json.Unmarshal(rep.Result["cpu"].JSON, &cpu); err != nil {
		t.Fatal(err)
	}
	return cpu.GoMaxProcs
}

// The server runs Go code on twice as many Ps as it has CPUs (as many as
// its pool has workers), unless --go-procs or $GOMAXPROCS says otherwise.
func TestServeGoProcs(t *testing.T) {
	if os.Getenv("GOMAXPROCS") != "" {
		t.Skip("GOMAXPROCS is set here: the server's default follows it")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dir := t.TempDir()
	// The pool has a worker per CPU the server may use: Ps are twice that.
	srv := testserver.Start(ctx, t, dir, load.ServerConfig{}, true)
	cpus, _ := testserver.ExecLoad(t, testserver.Dial(t, srv.Addr), "pool")
	if got := serverGoProcs(ctx, t, dir, load.ServerConfig{}); cpus < 1 || got != 2*cpus {
		t.Errorf("default: GOMAXPROCS %d, want 2 × %d CPUs", got, cpus)
	}
	if got := serverGoProcs(ctx, t, dir, load.ServerConfig{Args: []string{"--go-procs", "3"}}); got != 3 {
		t.Errorf("--go-procs 3: GOMAXPROCS %d", got)
	}
	if got := serverGoProcs(ctx, t, dir, load.ServerConfig{Prefix: []string{"env", "GOMAXPROCS=1"}}); got != 1 {
		t.Errorf("GOMAXPROCS=1 in the environment: GOMAXPROCS %d", got)
	}
	_, err := load.StartServer(ctx, load.ServerConfig{Binary: testserver.Build(ctx, t, dir), Args: []string{"--go-procs", "0"}})
	if err == nil || !strings.Contains(err.Error(), "want 1 or more") {
		t.Errorf("--go-procs 0: got %v, want the flag refused", err)
	}
}
