package server_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/crunchsvc/crunch/service/client"
	"github.com/crunchsvc/crunch/service/tensor"
)

// BenchmarkGemmRoundTrip is one gemm call at a time through a real server
// on a loopback port: what a large message costs beyond its kernel
// (kernel-ms is the server's run time of the call, the rest is transfer,
// decoding, encoding and allocation).
func BenchmarkGemmRoundTrip(b *testing.B) {
	ts := start(b, nil)
	c := ts.dial(b)
	for _, n := range []int{256, 1024} {
		r := rand.New(rand.NewPCG(uint64(n), 1))
		x, y := randMatrix(r, tensor.F64, n, n), randMatrix(r, tensor.F64, n, n)
		for _, ex := range []string{"direct", "pool", "subprocess"} {
			b.Run(fmt.Sprintf("n=%d/exec=%s", n, ex), func(b *testing.B) {
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
