package client_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"

	"github.com/crunchsvc/crunch/service/client"
	"github.com/crunchsvc/crunch/service/executor"
	"github.com/crunchsvc/crunch/service/server"
	"github.com/crunchsvc/crunch/service/shm"
	"github.com/crunchsvc/crunch/service/tensor"
)

// exampleServer starts a server on a free port, as `make run` would, and
// returns its address.
func exampleServer() (addr string, stop func()) {
	srv, stop := newExampleServer()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	go srv.Serve(ln)
	return ln.Addr().String(), stop
}

// newExampleServer returns a server with the direct and pool executors, as
// `make run` has them, and what stops it.
func newExampleServer() (*server.Server, func()) {
	cfg := server.DefaultConfig()
	pool := executor.NewPool(executor.PoolConfig{Workers: 2})
	cfg.Executors = map[string]executor.Executor{executor.NameDirect: executor.NewDirect(0), executor.NamePool: pool}
	srv, err := server.New(cfg)
	if err != nil {
		panic(err)
	}
	return srv, func() { srv.Shutdown(context.Background()); pool.Close() }
}

// The README's Go example.
func Example() {
	addr, stop := exampleServer() // in the README: "127.0.0.1:8080", from make run
	defer stop()
	ctx := context.Background()

	c, err := client.Dial(ctx, addr)
	if err != nil {
		panic(err)
	}
	defer c.Close()
	a := tensor.FromFloat64([]int{2, 2}, []float64{1, 2, 3, 4})
	b := tensor.FromFloat64([]int{2, 2}, []float64{5, 6, 7, 8})
	prod, stats, err := c.Gemm(ctx, a, b, &client.Options{Exec: "pool"})
	if err != nil {
		panic(err)
	}
	fmt.Println(prod.Float64(), stats.Exec, stats.Impl)
	// Output: [19 22 43 50] pool c
}

// The README's shared-memory example: a client on the server's machine,
// over its Unix socket.
func ExampleClient_AllocShared() {
	dir, _ := os.MkdirTemp("", "crunch")
	defer os.RemoveAll(dir)
	sock := filepath.Join(dir, "crunch.sock") // in the README: /tmp/crunch.sock, from make run
	stop := exampleUnixServer(sock)
	defer stop()
	ctx := context.Background()

	c, err := client.Dial(ctx, "unix:"+sock)
	if err != nil {
		panic(err)
	}
	defer c.Close()
	a, err := c.AllocShared(ctx, tensor.F64, 512, 512) // lives in shared memory: sent without a copy
	if err != nil {
		panic(err)
	}
	defer c.FreeShared(a)
	for i := range a.Float64() {
		a.Float64()[i] = 1
	}
	prod, stats, err := c.Gemm(ctx, a, a, nil) // any other tensor of 64 KiB or more: copied in once
	if err != nil {
		panic(err)
	}
	fmt.Println(prod.Float64()[0], stats.Impl)
	out, err := c.AllocShared(ctx, tensor.F64, 512, 512) // the server's kernel writes the result here
	if err != nil {
		panic(err)
	}
	defer c.FreeShared(out)
	prod, _, err = c.Gemm(ctx, a, a, &client.Options{Out: out}) // no copy either way: prod is out
	if err != nil {
		panic(err)
	}
	fmt.Println(prod == out, out.Float64()[0])
	// Output:
	// 512 c
	// true 512
}

// exampleUnixServer starts a server that also serves the Unix socket path.
func exampleUnixServer(path string) (stop func()) {
	srv, stop := newExampleServer()
	ln, err := shm.Listen(path)
	if err != nil {
		panic(err)
	}
	go srv.ServeUnix(ln)
	return stop
}
