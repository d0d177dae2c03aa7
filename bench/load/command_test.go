package load

import (
	"context"
	"errors"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/crunchsvc/crunch/internal/testutil"
	"github.com/crunchsvc/crunch/service/client"
	"github.com/crunchsvc/crunch/service/wire"
)

// fastapiModules are what the FastAPI comparison server (bench/fastapi) imports.
var fastapiModules = []string{"fastapi", "uvicorn", "websockets"}

// refModsum is modsum as docs/PROTOCOL.md defines it: Σ over i < iters of
// (i·n) mod 97, the modulo non-negative, exact for every int64 n.
func refModsum(n, iters int64) int64 {
	r := (n%97 + 97) % 97 // (i·n) mod 97 = ((i mod 97)·r) mod 97, without overflow
	var total int64
	for i := range iters {
		total += i % 97 * r % 97
	}
	return total
}

// TestStartCommandFastAPI launches the FastAPI comparison server (bench/fastapi) in each mode
// through StartCommand and talks to it with the Go client, as the load
// generator does: pings, modsum in both message forms and many at once on
// one connection, and an unknown op.
func TestStartCommandFastAPI(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	python, err := FindPython(ctx, fastapiModules...)
	if err != nil {
		t.Skipf("the FastAPI comparison server (bench/fastapi) needs Debian's python3-fastapi, python3-uvicorn and python3-websockets (make bench-deps): %v", err)
	}
	script, err := filepath.Abs(filepath.Join("..", "fastapi", "server.py"))
	if err != nil {
		t.Fatal(err)
	}
	for _, mode := range []string{"inline", "thread", "process"} {
		t.Run(mode, func(t *testing.T) {
			srv, err := StartCommand(ctx, CommandConfig{
				Argv:        []string{python, script, "--port", PortPlaceholder, "--mode", mode, "--workers", "2"},
				SampleEvery: 20 * time.Millisecond,
			})
			if err != nil {
				t.Fatal(err)
			}
			defer srv.Stop()
			c, err := client.Dial(ctx, srv.Addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if _, err := c.Ping(ctx); err != nil {
				t.Fatalf("ping: %v", err)
			}

			cases := []struct {
				n, iters int64
				text     bool
			}{
				{1_000_003, 100_000, false}, {-7, 1000, true}, {1 << 62, 5000, false},
				{0, 10, true}, {42, 0, false}, {-1 << 63, 20_000, false},
			}
			var wg sync.WaitGroup
			for _, k := range cases {
				wg.Add(1)
				go func() { // all in flight at once on one connection
					defer wg.Done()
					total, stats, err := c.Modsum(ctx, k.n, k.iters, &client.Options{Text: k.text, Exec: "pool", Impl: "c"})
					switch {
					case err != nil:
						t.Errorf("modsum(%d, %d): %v", k.n, k.iters, err)
					case total != refModsum(k.n, k.iters):
						t.Errorf("modsum(%d, %d) = %d, want %d", k.n, k.iters, total, refModsum(k.n, k.iters))
					case stats == nil || stats.Exec != mode || stats.Impl != "python" || stats.RunUS < 0 || stats.QueueUS < 0:
						t.Errorf("modsum(%d, %d): stats %+v", k.n, k.iters, stats)
					}
				}()
			}
			wg.Wait()

			var we *wire.Error
			_, err = c.Do(ctx, &wire.Request{Op: "gemm"}, nil)
			if !errors.As(err, &we) || we.Code != wire.NotFound {
				t.Errorf("unknown op: got %v, want a %s error", err, wire.NotFound)
			}
			_, err = c.Do(ctx, &wire.Request{Op: "modsum", Args: wire.Args{"iters": wire.Int(3)}}, nil)
			if !errors.As(err, &we) || we.Code != wire.InvalidArgument || !strings.Contains(we.Message, `"n"`) {
				t.Errorf("modsum without n: got %v, want an %s error about n", err, wire.InvalidArgument)
			}

			// The sampler has seen the server (and, in process mode, the
			// pool's workers) at least twice.
			testutil.Poll(10*time.Second, func() bool {
				u := srv.Usage()
				return u.Samples >= 2 && (mode != "process" || u.MaxChildren >= 2)
			})
			u := srv.Usage()
			if u.Samples < 2 || u.MaxThreads < 1 || u.MaxRSSBytes <= 0 {
				t.Errorf("usage: %+v", u)
			}
			if mode == "process" && (u.MaxChildren < 2 || u.MaxChildRSSBytes <= 0) {
				t.Errorf("process mode: the pool's 2 workers were not sampled: %+v", u)
			}
			c.Close()
			if err := srv.Stop(); err != nil {
				t.Errorf("stopping: %v", err)
			}
		})
	}
}

// TestStartCommandErrors: a command line without the port is refused, and
// a command that fails says why.
func TestStartCommandErrors(t *testing.T) {
	ctx := context.Background()
	if _, err := StartCommand(ctx, CommandConfig{Argv: []string{"true"}}); err == nil || !strings.Contains(err.Error(), PortPlaceholder) {
		t.Errorf("no port: got %v", err)
	}
	_, err := StartCommand(ctx, CommandConfig{Argv: []string{"sh", "-c", "echo no such server on {port} >&2; exit 3"}})
	if err == nil || !errors.Is(err, errExitedEarly) || !strings.Contains(err.Error(), "no such server on ") {
		t.Errorf("failing command: got %v, want its output", err)
	}
}

func TestFindPython(t *testing.T) {
	ctx := context.Background()
	if _, err := FindPython(ctx, "no_such_module_crunch"); err == nil || !strings.Contains(err.Error(), "no_such_module_crunch") {
		t.Errorf("missing module: got %v", err)
	}
	if _, err := exec.LookPath("python3"); err != nil {
		t.Skip("no python3 on the PATH")
	}
	if p, err := FindPython(ctx); err != nil || p == "" {
		t.Errorf("bare python3: %q, %v", p, err)
	}
}
