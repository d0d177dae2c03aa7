package server_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/crunchsvc/crunch/service/client"
	"github.com/crunchsvc/crunch/service/tensor"
	"github.com/crunchsvc/crunch/service/wire"
)

// BenchmarkGemmRoundTrip is one gemm call at a time through a real server
// on a loopback port: what a large message costs beyond its kernel
// (kernel-ms is the server's run time of the call, the rest is transfer,
// decoding, encoding and allocation).
//
// transport=unix is the same over the server's Unix socket, the arrays
// through shared memory.
func BenchmarkGemmRoundTrip(b *testing.B) {
	ts, path := startUnix(b, nil)
	clients := map[string]*client.Client{"tcp": ts.dial(b), "unix": dialUnix(b, path)}
	for _, n := range []int{256, 1024} {
		r := rand.New(rand.NewPCG(uint64(n), 1))
		x, y := randMatrix(r, tensor.F64, n, n), randMatrix(r, tensor.F64, n, n)
		for _, tr := range []string{"tcp", "unix"} {
			c := clients[tr]
			for _, ex := range runExecs {
				b.Run(fmt.Sprintf("n=%d/transport=%s/exec=%s", n, tr, ex), func(b *testing.B) {
					opts := &client.Options{Exec: ex, Impl: "c", Timeout: time.Minute}
					var run time.Duration
					b.SetBytes(int64(3 * n * n * 8))
					for b.Loop() {
						_, st, err := c.Gemm(context.Background(), x, y, opts)
						if err != nil {
							b.Fatal(err)
						}
						run += time.Duration(st.RunUS) * time.Microsecond
					}
					b.ReportMetric(float64(run)/float64(time.Millisecond)/float64(b.N), "kernel-ms/op")
				})
			}
		}
	}
}

// BenchmarkTransfer moves 8 MiB each way through a real server, one call
// at a time, with kernels that barely compute: stats reads its 8 MiB
// argument once (client to server), mandelbrot with max_iter 1 writes an
// 8 MiB result (server to client): way=out into new memory each call,
// way=out-into into the same Options.Out every call (over the Unix
// socket, one from AllocShared). transfer-GB/s counts the payload over
// the round trip less the kernel's own time.
func BenchmarkTransfer(b *testing.B) {
	ts, path := startUnix(b, nil)
	clients := map[string]*client.Client{"tcp": ts.dial(b), "unix": dialUnix(b, path)}
	x := tensor.FromFloat64([]int{1 << 20}, make([]float64, 1<<20))
	view := client.MandelbrotView{Width: 2048, Height: 1024, XMin: -2, XMax: 1, YMin: -1, YMax: 1, MaxIter: 1}
	const payload = 8 << 20
	for _, tr := range []string{"tcp", "unix"} {
		c := clients[tr]
		var into *tensor.Tensor
		if tr == "unix" {
			shared, err := c.AllocShared(context.Background(), tensor.U32, 1024, 2048)
			if err != nil {
				b.Fatal(err)
			}
			defer c.FreeShared(shared)
			into = shared
		} else {
			into, _ = tensor.New(tensor.U32, 1024, 2048)
		}
		for _, way := range []string{"in", "out", "out-into"} {
			opts := &client.Options{Exec: "direct", Impl: "c"}
			if way == "out-into" {
				opts.Out = into
			}
			b.Run(fmt.Sprintf("way=%s/transport=%s", way, tr), func(b *testing.B) {
				b.SetBytes(payload)
				var run, wall time.Duration
				for b.Loop() {
					start := time.Now()
					var st *wire.Stats
					var err error
					if way == "in" {
						_, st, err = c.Stats(context.Background(), x, 0, opts)
					} else {
						_, st, err = c.Mandelbrot(context.Background(), view, opts)
					}
					if err != nil {
						b.Fatal(err)
					}
					wall += time.Since(start)
					run += time.Duration(st.RunUS) * time.Microsecond
				}
				b.ReportMetric(float64(payload)*float64(b.N)/(wall-run).Seconds()/1e9, "transfer-GB/s")
			})
		}
	}
}
