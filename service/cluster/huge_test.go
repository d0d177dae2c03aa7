package cluster_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/crunchsvc/crunch/internal/testserver"
	"github.com/crunchsvc/crunch/service/client"
	"github.com/crunchsvc/crunch/service/cluster"
	"github.com/crunchsvc/crunch/service/tensor"
	"github.com/crunchsvc/crunch/service/wire"
)

// A 64 MiB request (and its 64 MiB reply) crosses the cluster in parts no
// larger than NATS's recommended payload, comes back right, and leaves
// nothing in assembly on either node.
func TestSixtyFourMiBRequest(t *testing.T) {
	if testing.Short() {
		t.Skip("moves 128 MiB between nodes")
	}
	emb := startNATS(t)
	patient := func(c *cluster.Config) { c.LossTimeout = 30 * time.Second }
	gw, b := gatewayAndRunner(t, emb.URL(), patient)
	c := testserver.Dial(t, gw.addr)
	const n = 64 << 20 / 8
	x := make([]float64, n)
	s := uint64(1)
	for i := range x {
		s = s*6364136223846793005 + 1442695040888963407
		x[i] = float64(int64(s>>11)) - float64(1<<52)
	}
	want := slices.Clone(x)
	slices.Sort(want)
	req := &wire.Request{Op: "sort", Args: wire.Args{"x": wire.TensorValue(tensor.FromFloat64([]int{n}, x))}}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	got, err := c.Do(ctx, req, &client.Options{Exec: "cluster"})
	if err != nil {
		t.Fatalf("64 MiB sort through the cluster: %v", err)
	}
	if got.Stats.Node != "b" {
		t.Errorf("ran on %q, want b", got.Stats.Node)
	}
	if !got.Result["x"].Equal(wire.TensorValue(tensor.FromFloat64([]int{n}, want))) {
		t.Error("the sorted 64 MiB differ from slices.Sort's")
	}
	if a, r := cluster.Assembling(gw.n), cluster.Assembling(b.n); a != 0 || r != 0 {
		t.Errorf("messages left in assembly: %d at the origin, %d at the runner", a, r)
	}
}
