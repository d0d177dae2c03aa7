// Command starve checks that a busy machine, which starves the server's
// compute threads in their cgroup, does not stall the server: it
// keeps every pool slot busy with sorts of 10^7 doubles (each maps and
// unmaps an 80 MB work array, and faults it in), while the caller runs
// busy loops elsewhere, and reports a probe connection's ping round trips.
//
//	go run ./bench/sched/starve ADDR [CONNS] [SECONDS]
package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/crunchsvc/crunch/service/client"
	"github.com/crunchsvc/crunch/service/tensor"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: starve ADDR [CONNS] [SECONDS]")
		os.Exit(2)
	}
	addr, conns, secs := os.Args[1], 4, 10
	if len(os.Args) > 2 {
		conns, _ = strconv.Atoi(os.Args[2])
	}
	if len(os.Args) > 3 {
		secs, _ = strconv.Atoi(os.Args[3])
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(secs)*time.Second)
	defer cancel()
	x, err := tensor.New(tensor.F64, 10_000_000)
	if err != nil {
		fail(err)
	}
	for i := range x.Float64() {
		x.Float64()[i] = rand.Float64()
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	jobs, failed := 0, 0
	for range conns {
		c, err := client.Dial(ctx, addr)
		if err != nil {
			fail(err)
		}
		defer c.Close()
		wg.Go(func() {
			for ctx.Err() == nil {
				_, _, err := c.Sort(ctx, x, false, &client.Options{Exec: "pool", Impl: "c"})
				mu.Lock()
				if err == nil {
					jobs++
				} else if ctx.Err() == nil {
					failed++
				}
				mu.Unlock()
			}
		})
	}
	probe, err := client.Dial(context.Background(), addr)
	if err != nil {
		fail(err)
	}
	var rtts []time.Duration
	lost := 0
	for tick := time.NewTicker(10 * time.Millisecond); ctx.Err() == nil; <-tick.C {
		pctx, pcancel := context.WithTimeout(context.Background(), time.Second)
		start := time.Now()
		_, err := probe.Ping(pctx)
		pcancel()
		if err != nil {
			lost++
			continue
		}
		rtts = append(rtts, time.Since(start))
	}
	wg.Wait()
	slices.Sort(rtts)
	q := func(p float64) float64 {
		if len(rtts) == 0 {
			return 0
		}
		return float64(rtts[int(p*float64(len(rtts)-1))].Microseconds()) / 1e3
	}
	fmt.Printf("pings %d lost %d: p50 %.2f p99 %.2f max %.2f ms; sorts done %d failed %d\n",
		len(rtts), lost, q(0.5), q(0.99), q(1), jobs, failed)
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "starve:", err)
	os.Exit(1)
}
