package cluster_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/crunchsvc/crunch/service/cluster"
	"github.com/crunchsvc/crunch/service/executor"
	"github.com/crunchsvc/crunch/service/kernels"
	"github.com/crunchsvc/crunch/service/wire"
)

// BenchmarkTinyCall measures one tiny call (modsum of 1 term) run by the
// pool, by the cluster executor on a node with a free slot (it runs the
// call itself), and by the cluster executor of a node without slots, whose
// call goes through NATS (offer, claim, job, result) to another node in
// this process. The differences are the cluster's overhead:
//
//	go test -run '^$' -bench TinyCall -benchtime 2s ./service/cluster
func BenchmarkTinyCall(b *testing.B) {
	emb := startNATS(b)
	self := startNode(b, emb.URL(), "self", 1, 0, nil)
	gw := startNode(b, emb.URL(), "gw", 1, -1, nil)
	waitSlots(b, gw, 1)
	op, err := kernels.Default().Lookup("modsum")
	if err != nil {
		b.Fatal(err)
	}
	args := wire.Args{"n": wire.Int(7), "iters": wire.Int(1)}
	// Means on a shared machine are ruled by the few calls that lose the
	// CPU; the median is what a steady stream of calls sees.
	run := func(b *testing.B, ex executor.Executor) {
		ctx := context.Background()
		var took []time.Duration
		for b.Loop() {
			start := time.Now()
			call, err := op.Prepare(args)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := ex.Run(ctx, &executor.Job{Call: call, Impl: "c", Args: args}); err != nil {
				b.Fatal(err)
			}
			took = append(took, time.Since(start))
		}
		slices.Sort(took)
		b.ReportMetric(float64(took[len(took)/2].Nanoseconds())/1e3, "p50-µs")
		b.ReportMetric(float64(took[len(took)*99/100].Nanoseconds())/1e3, "p99-µs")
	}
	b.Run("pool", func(b *testing.B) { run(b, self.pool) })
	b.Run("cluster-local", func(b *testing.B) { run(b, self.n.Executor()) })
	b.Run("cluster-nats", func(b *testing.B) { run(b, gw.n.Executor()) })
	// The cluster's own bookkeeping, without the pool's thread hand-off
	// (which a loaded machine makes noisy): a node whose jobs run directly.
	direct := executor.NewDirect(0)
	dn, err := cluster.Join(cluster.Config{URL: emb.URL(), Name: "direct", Exec: direct, Slots: 1})
	if err != nil {
		b.Fatal(err)
	}
	defer dn.Close()
	b.Run("direct", func(b *testing.B) { run(b, direct) })
	b.Run("cluster-local-direct", func(b *testing.B) { run(b, dn.Executor()) })
}
