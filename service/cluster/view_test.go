package cluster_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/crunchsvc/crunch/internal/testserver"
	"github.com/crunchsvc/crunch/internal/testutil"
	"github.com/crunchsvc/crunch/service/client"
	"github.com/crunchsvc/crunch/service/cluster"
	"github.com/crunchsvc/crunch/service/tensor"
)

// infoCluster is info's "cluster" member.
type infoCluster struct {
	Node  string               `json:"node"`
	Nodes []cluster.NodeStatus `json:"nodes"`
}

func clusterInfo(t *testing.T, addr string) infoCluster {
	t.Helper()
	info, err := testserver.Dial(t, addr).Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var ci infoCluster
	if err := json.Unmarshal(info["cluster"], &ci); err != nil {
		t.Fatalf("info's cluster: %v\n%s", err, info["cluster"])
	}
	return ci
}

// info lists every node, this one first, with its slots, busy counts and
// executors; /v1/status says the same.
func TestInfoListsNodes(t *testing.T) {
	emb := startNATS(t)
	a := startNode(t, emb.URL(), "a", 2, 0, nil)
	startNode(t, emb.URL(), "b", 1, 0, nil)
	startNode(t, emb.URL(), "c", 1, -1, nil)
	waitSlots(t, a, 3)
	testutil.WaitFor(t, 10*time.Second, "a hearing of c", func() bool { return len(clusterInfo(t, a.addr).Nodes) == 3 })

	ci := clusterInfo(t, a.addr)
	if ci.Node != "a" || len(ci.Nodes) != 3 || !ci.Nodes[0].Self || ci.Nodes[0].Name != "a" {
		t.Fatalf("info's cluster: %+v", ci)
	}
	want := map[string]int{"a": 2, "b": 1, "c": 0}
	for _, nd := range ci.Nodes {
		if nd.Slots != want[nd.Name] || nd.Busy < 0 || nd.Busy > nd.Slots || nd.Leaving {
			t.Errorf("node %+v: want %d slots, busy within them, not leaving", nd, want[nd.Name])
		}
		pool, ok := nd.Executors["pool"]
		if _, direct := nd.Executors["direct"]; !ok || !direct || pool.Slots < 1 {
			t.Errorf("node %s: executors %+v, want direct and pool with slots", nd.Name, nd.Executors)
		}
		if nd.SeenMS < 0 || nd.SeenMS > 5000 {
			t.Errorf("node %s last heard %d ms ago", nd.Name, nd.SeenMS)
		}
	}

	// A job that runs until stopped, on b (a takes none: its slots are
	// given to another job each), shows as busy in a's view.
	c := testserver.Dial(t, a.addr)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.Modsum(ctx, 7, forever, &client.Options{Exec: "cluster"})
		}()
	}
	testutil.WaitFor(t, 10*time.Second, "every slot busy in info", func() bool {
		busy := 0
		for _, nd := range clusterInfo(t, a.addr).Nodes {
			busy += nd.Busy
		}
		return busy == 3
	})
	cancel()
	wg.Wait()

	resp, err := http.Get("http://" + a.addr + "/v1/status")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var st struct{ Cluster infoCluster }
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil || len(st.Cluster.Nodes) != 3 {
		t.Fatalf("/v1/status's cluster: %+v, %v", st.Cluster, err)
	}
}

// metric reads one sample of /metrics at addr (0 when absent).
func metric(t *testing.T, addr, name string) float64 {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(name) + ` (\S+)$`).FindSubmatch(body)
	if m == nil {
		return 0
	}
	v, err := strconv.ParseFloat(string(m[1]), 64)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// /metrics counts the jobs an origin sent to each node and a runner ran
// for each origin, and the bytes and seconds of the data moved, large
// arrays (in parts) included.
func TestClusterMetricsMove(t *testing.T) {
	emb := startNATS(t)
	a := startNode(t, emb.URL(), "a", 1, -1, nil) // sends only
	b := startNode(t, emb.URL(), "b", 2, 0, nil)
	waitSlots(t, a, 2)
	if got := metric(t, a.addr, `crunch_cluster_node_slots{node="b"}`); got != 2 {
		t.Errorf(`crunch_cluster_node_slots{node="b"} = %v, want 2`, got)
	}
	c := testserver.Dial(t, a.addr)
	ctx := context.Background()
	for range 3 {
		if _, _, err := c.Modsum(ctx, 7, 1000, &client.Options{Exec: "cluster"}); err != nil {
			t.Fatal(err)
		}
	}
	// 512 × 512 f64: 2 MiB each way, sent in parts.
	x := tensor.FromFloat64([]int{512, 512}, make([]float64, 512*512))
	if _, _, err := c.Gemm(ctx, x, x, &client.Options{Exec: "cluster"}); err != nil {
		t.Fatal(err)
	}
	for _, m := range []struct {
		addr, name string
		min, max   float64
	}{
		{a.addr, `crunch_cluster_jobs_sent_total{node="b"}`, 4, 4},
		{b.addr, `crunch_cluster_jobs_run_total{origin="a"}`, 4, 4},
		{a.addr, `crunch_cluster_transfer_bytes_total{direction="sent"}`, 4 << 20, 1 << 30},
		{a.addr, `crunch_cluster_transfer_bytes_total{direction="received"}`, 2 << 20, 1 << 30},
		{b.addr, `crunch_cluster_transfer_bytes_total{direction="received"}`, 4 << 20, 1 << 30},
		{a.addr, `crunch_cluster_transfer_seconds_total{direction="sent"}`, 1e-9, 60},
		{b.addr, `crunch_cluster_transfer_seconds_total{direction="received"}`, 1e-9, 60},
	} {
		if got := metric(t, m.addr, m.name); got < m.min || got > m.max {
			t.Errorf("%s = %v, want %v to %v", m.name, got, m.min, m.max)
		}
	}
}

// logged tells whether logs has a JSON line with message msg from node.
func logged(logs *testutil.SyncBuffer, msg, node string) bool {
	for _, line := range strings.Split(logs.String(), "\n") {
		if strings.Contains(line, `"msg":"`+msg) && strings.Contains(line, `"node":"`+node+`"`) {
			return true
		}
	}
	return false
}

// The log says when a node joins, when it leaves saying goodbye, and when
// one goes silent.
func TestNodeJoinLeaveLogged(t *testing.T) {
	emb := startNATS(t)
	logs := &testutil.SyncBuffer{}
	a := startNode(t, emb.URL(), "a", 1, 0, func(c *cluster.Config) {
		c.Log = slog.New(slog.NewJSONHandler(logs, nil))
	})
	b := startNode(t, emb.URL(), "b", 1, 0, nil)
	c := startNode(t, emb.URL(), "c", 1, 0, nil)
	waitSlots(t, a, 3)
	for _, n := range []string{"b", "c"} {
		if !logged(logs, "cluster: node joined", n) {
			t.Errorf("no join logged for %s", n)
		}
	}
	b.n.Close()
	testutil.WaitFor(t, 10*time.Second, "b's goodbye logged", func() bool { return logged(logs, "cluster: node left", "b") })
	c.n.Conn().Close() // silence, no goodbye
	testutil.WaitFor(t, 10*time.Second, "c's loss logged", func() bool { return logged(logs, "cluster: node lost", "c") })
}
