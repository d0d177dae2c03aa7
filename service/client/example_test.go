package client_test

import (
	"context"
	"fmt"
	"net"

	"github.com/crunchsvc/crunch/service/client"
	"github.com/crunchsvc/crunch/service/executor"
	"github.com/crunchsvc/crunch/service/server"
	"github.com/crunchsvc/crunch/service/tensor"
)

// exampleServer starts a server on a free port, as `make run` would, and
// returns its address.
func exampleServer() (addr string, stop func()) {
	cfg := server.DefaultConfig()
	pool := executor.NewPool(executor.PoolConfig{Workers: 2})
	cfg.Executors = map[string]executor.Executor{executor.NameDirect: executor.NewDirect(0), executor.NamePool: pool}
	srv, err := server.New(cfg)
	if err != nil {
		panic(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	go srv.Serve(ln)
	return ln.Addr().String(), func() { srv.Shutdown(context.Background()); pool.Close() }
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
