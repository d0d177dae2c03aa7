package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/crunchsvc/crunch/bench/load"
	"github.com/crunchsvc/crunch/service/wire"
)

// Flags of the cluster mode.
var (
	clusterNodesFlag = flag.String("cluster-nodes", "1,2,3", "cluster: node counts to measure, comma-separated")
	clusterConns     = flag.Int("cluster-conns", 8, "cluster: load connections, all to the first node")
	clusterWLFlag    = flag.String("cluster-workloads", "modsum,gemm256", "cluster: workloads among gemm16, gemm256, modsum, gemm1024")
	clusterIters     = flag.Int("cluster-modsum-iters", 300_000_000, "cluster: the modsum workload's iterations (a call of ~10 ms here: long enough that the work, not the messages, is what two nodes share)")
)

// clusterReport is what the cluster mode puts in the JSON.
type clusterReport struct {
	Pinned   string         `json:"pinned"` // how nodes are pinned, or why not
	Cases    []*clusterCase `json:"cases"`
	Overhead []*clusterCase `json:"overhead"`
}

// clusterCase is one cluster set-up driven with one workload.
type clusterCase struct {
	Nodes    int           `json:"nodes"`
	CPUs     []string      `json:"cpus"` // each node's CPU list ("" unpinned)
	Workload string        `json:"workload"`
	Exec     string        `json:"exec"`
	Conns    int           `json:"conns"`
	Gateway  string        `json:"gateway"` // "runs jobs" or "sends every job away"
	Runs     []load.Result `json:"runs"`
	// MovedBytes is what the nodes sent each other (parts of large
	// arrays), summed over the nodes' /metrics after the runs.
	MovedBytes float64  `json:"moved_bytes"`
	Errors     []string `json:"errors,omitempty"`
}

// clusterSetup says how to start a cluster for one case.
type clusterSetup struct {
	nodes       int
	gatewayRuns bool // the node the load goes to runs jobs too
}

// runCluster measures work spread over crunch nodes on this machine: N
// `crunch serve` processes joined through the first one's embedded NATS
// server, each pinned to a CPU of its own where there are enough (taskset),
// each running one job at a time, the load from K connections to the
// first node with exec "cluster". Then the cost of the cluster path for a
// tiny call: on one node, exec pool against exec cluster (which runs the
// call on the same node), and on two nodes with the first one sending
// every job to the other.
func runCluster(ctx context.Context, e *env) (any, error) {
	w := e.out
	fmt.Fprintf(w, "\n## Across nodes (NATS)\n\n")
	counts, err := parseCounts("-cluster-nodes", *clusterNodesFlag)
	if err != nil {
		return nil, err
	}
	rep := &clusterReport{Pinned: "each node to one CPU, in turn (taskset)"}
	pin := true
	if _, err := exec.LookPath("taskset"); err != nil {
		rep.Pinned = "not pinned: no taskset (util-linux)"
		pin = false
	}
	wls := map[string]e2eWorkload{}
	for _, wl := range e2eWorkloads() {
		wls[wl.Key] = wl
	}
	heavy := wls["modsum"]
	heavy.Desc = fmt.Sprintf("modsum n=%d iters=%d", modsumN, *clusterIters)
	heavy.args = func() (wire.Args, error) {
		return wire.Args{"n": wire.Int(modsumN), "iters": wire.Int(int64(*clusterIters))}, nil
	}
	wls["modsum"] = heavy
	run := func(setup clusterSetup, wl e2eWorkload, execName string, conns int) *clusterCase {
		c := &clusterCase{Nodes: setup.nodes, Workload: wl.Key, Exec: execName, Conns: conns, Gateway: "runs jobs"}
		if !setup.gatewayRuns {
			c.Gateway = "sends every job away"
		}
		args, err := wl.args()
		if err != nil {
			c.Errors = append(c.Errors, err.Error())
			return c
		}
		label := fmt.Sprintf("cluster: %d node(s), %s, exec %s, K=%d", setup.nodes, wl.Key, execName, conns)
		e.status.set("%s · starting the nodes", label)
		gw, cpus, err := startCluster(ctx, e, setup, pin)
		c.CPUs = cpus
		if err != nil {
			c.Errors = append(c.Errors, err.Error())
			return c
		}
		lc := load.LoadConfig{
			Conns: conns, InFlight: *inflight, Warmup: e.warmup, Duration: time.Duration(e.reps) * e.window, Windows: e.reps,
			Request: func(int, int) load.Request {
				return load.Request{Op: wl.Op, Args: args, Exec: execName, Impl: "c", Timeout: jobTimeout}
			},
		}
		res, err := measureRun(ctx, e, gw, lc, nil, func() string { return label })
		if err != nil {
			c.Errors = append(c.Errors, err.Error())
		} else {
			c.Runs = res.Windows()
		}
		c.MovedBytes = clusterMoved(ctx, gw)
		if err := gw.Stop(); err != nil {
			c.Errors = append(c.Errors, "stop: "+err.Error())
		}
		e.status.note("%s: %s", label, clusterLine(c))
		return c
	}
	for _, key := range splitList(*clusterWLFlag) {
		wl, ok := wls[key]
		if !ok {
			return nil, fmt.Errorf("-cluster-workloads: unknown workload %q", key)
		}
		for _, n := range counts {
			if ctx.Err() != nil {
				return rep, ctx.Err()
			}
			rep.Cases = append(rep.Cases, run(clusterSetup{nodes: n, gatewayRuns: true}, wl, "cluster", *clusterConns))
		}
	}
	tiny := wls["gemm16"]
	for _, oc := range []struct {
		setup clusterSetup
		exec  string
	}{
		{clusterSetup{nodes: 1, gatewayRuns: true}, "pool"},
		{clusterSetup{nodes: 1, gatewayRuns: true}, "cluster"},
		{clusterSetup{nodes: 2, gatewayRuns: false}, "cluster"},
	} {
		if ctx.Err() != nil {
			return rep, ctx.Err()
		}
		rep.Overhead = append(rep.Overhead, run(oc.setup, tiny, oc.exec, 1))
	}
	e.status.clear()
	writeCluster(w, e, rep)
	return rep, nil
}

// startCluster starts setup's nodes: the first with an embedded NATS
// server (the one the load goes to, returned, the others its companions),
// then the others joined to it. Each node runs one job at a time (one
// pool worker, no subprocess workers) and, with pin, is pinned to CPU
// i mod NumCPU. It returns each node's CPU list.
func startCluster(ctx context.Context, e *env, setup clusterSetup, pin bool) (*load.Server, []string, error) {
	port, err := load.FreePort()
	if err != nil {
		return nil, nil, err
	}
	natsAddr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	var cpus []string
	var gw *load.Server
	for i := range setup.nodes {
		flags := []string{"--log-level=warn", "--grace=3s", "--pool-workers=1", "--workers=0",
			"--nats-name=node" + strconv.Itoa(i+1)}
		if i == 0 {
			flags = append(flags, "--nats-listen="+natsAddr)
			if !setup.gatewayRuns {
				flags = append(flags, "--nats-slots=-1")
			}
		} else {
			flags = append(flags, "--nats=nats://"+natsAddr)
		}
		cfg := e.serverConfig(flags...)
		cpu := ""
		if pin {
			cpu = strconv.Itoa(i % cpuCount())
			cfg.Prefix = []string{"taskset", "-c", cpu}
		}
		cpus = append(cpus, cpu)
		srv, err := load.StartServer(ctx, cfg)
		if err != nil {
			if gw != nil {
				gw.Stop()
			}
			return nil, cpus, fmt.Errorf("node %d: %w", i+1, err)
		}
		if gw == nil {
			gw = srv
		} else {
			gw.AddCompanion(srv)
		}
	}
	return gw, cpus, nil
}

// clusterMovedMetric counts the bytes a node moved to or from other
// nodes; clusterSent picks what it sent (each byte is received once too).
const (
	clusterMovedMetric = "crunch_cluster_transfer_bytes_total"
	clusterSent        = `direction="sent"`
)

// clusterMoved sums what every node (the gateway and its companions) sent
// other nodes, from their /metrics (an absent metric counts 0).
func clusterMoved(ctx context.Context, gw *load.Server) float64 {
	var sum float64
	for _, addr := range append([]string{gw.Addr}, gw.CompanionAddrs()...) {
		sum += scrapeSum(ctx, "http://"+addr+"/metrics", clusterMovedMetric, clusterSent)
	}
	return sum
}

// scrapeSum adds up the samples of metric name whose labels contain
// label ("": every sample) in the Prometheus text at url (0 if it cannot
// be read).
func scrapeSum(ctx context.Context, url, name, label string) float64 {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0
	}
	resp, err := (&http.Client{Timeout: 2 * time.Second}).Do(req)
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	var sum float64
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		rest, ok := strings.CutPrefix(line, name)
		if !ok || (rest != "" && rest[0] != ' ' && rest[0] != '{') {
			continue // another metric whose name starts the same
		}
		end := strings.LastIndex(rest, "}") + 1
		if !strings.Contains(rest[:end], label) {
			continue
		}
		fields := strings.Fields(rest[end:])
		if len(fields) > 0 {
			if v, err := strconv.ParseFloat(fields[0], 64); err == nil {
				sum += v
			}
		}
	}
	return sum
}

// clusterSpread is a figure of every window of c.
func clusterSpread(c *clusterCase, f func(load.Result) float64) load.Spread {
	var xs []float64
	for _, r := range c.Runs {
		xs = append(xs, f(r))
	}
	return load.SpreadOf(xs)
}

func callsPerS(r load.Result) float64 { return r.Load.ThroughputPerS }
func callP50(r load.Result) float64   { return r.Load.Latency.P50Ms }
func callP99(r load.Result) float64   { return r.Load.Latency.P99Ms }
func runP50(r load.Result) float64    { return r.Load.ServerRun.P50Ms }
func pingP99(r load.Result) float64 {
	if r.Probe == nil {
		return 0
	}
	return r.Probe.RTT.P99Ms
}

// clusterLine is a case's figures for the status notes.
func clusterLine(c *clusterCase) string {
	if len(c.Runs) == 0 {
		return "no figures: " + strings.Join(c.Errors, "; ")
	}
	return fmt.Sprintf("%.1f calls/s, p50 %.2f ms, ping p99 %.2f ms",
		clusterSpread(c, callsPerS).Median, clusterSpread(c, callP50).Median, clusterSpread(c, pingP99).Median)
}

// writeCluster writes the mode's two tables.
func writeCluster(w io.Writer, e *env, rep *clusterReport) {
	fmt.Fprintf(w, "Nodes are `crunch serve` processes on this machine joined through the first one's "+
		"embedded NATS server (`--nats-listen`), pinned: %s; each runs one job at a time "+
		"(`--pool-workers=1 --workers=0`). The load: %d connections to the first node, every request "+
		"`exec: cluster`, one in flight each; the probe pings the first node. Medians of %d windows "+
		"of %s (min–max); \"vs 1\" divides calls/s by the one-node figure of the same workload; "+
		"\"run ms\" is the kernel's time as the replies report it (p50).\n\n",
		rep.Pinned, *clusterConns, e.reps, e.window)
	t := &table{
		header: []string{"workload", "nodes", "CPUs", "calls/s", "vs 1", "run ms", "p50 ms", "p99 ms", "ping p99 ms", "moved MB"},
		right:  []bool{false, true, false, true, true, true, true, true, true, true},
	}
	one := map[string]float64{}
	for _, c := range rep.Cases {
		if c.Nodes == 1 && len(c.Runs) > 0 {
			one[c.Workload] = clusterSpread(c, callsPerS).Median
		}
	}
	for _, c := range rep.Cases {
		if len(c.Runs) == 0 {
			t.add(c.Workload, strconv.Itoa(c.Nodes), strings.Join(c.CPUs, ","), "failed: "+strings.Join(c.Errors, "; "), "", "", "", "", "", "")
			continue
		}
		tp := clusterSpread(c, callsPerS)
		vs := ""
		if base := one[c.Workload]; base > 0 {
			vs = fmt.Sprintf("%.2f×", tp.Median/base)
		}
		t.add(c.Workload, strconv.Itoa(c.Nodes), strings.Join(c.CPUs, ","), spreadCell(tp, "%.1f"), vs,
			fmt.Sprintf("%.2f", clusterSpread(c, runP50).Median), fmt.Sprintf("%.2f", clusterSpread(c, callP50).Median), fmt.Sprintf("%.2f", clusterSpread(c, callP99).Median),
			fmt.Sprintf("%.2f", clusterSpread(c, pingP99).Median), fmt.Sprintf("%.1f", c.MovedBytes/1e6))
	}
	t.write(w)
	fmt.Fprintf(w, "\nA tiny call (%s) from one connection, one at a time: what the cluster path adds to "+
		"a call. \"+µs\" is the p50 round trip beyond exec pool's on one node.\n\n", "gemm16")
	t = &table{
		header: []string{"set-up", "exec", "p50 µs", "+µs", "p99 µs"},
		right:  []bool{false, false, true, true, true},
	}
	var base float64
	for i, c := range rep.Overhead {
		setup := fmt.Sprintf("%d node(s), the first %s", c.Nodes, c.Gateway)
		if len(c.Runs) == 0 {
			t.add(setup, c.Exec, "failed: "+strings.Join(c.Errors, "; "), "", "")
			continue
		}
		p50 := clusterSpread(c, callP50).Median * 1e3
		if i == 0 {
			base = p50
		}
		t.add(setup, c.Exec, fmt.Sprintf("%.0f", p50), fmt.Sprintf("%+.0f", p50-base),
			fmt.Sprintf("%.0f", clusterSpread(c, callP99).Median*1e3))
	}
	t.write(w)
	fmt.Fprintln(w)
}

// spreadCell formats a spread as "median (min–max)" with format f.
func spreadCell(s load.Spread, f string) string {
	return fmt.Sprintf(f+" ("+f+"–"+f+")", s.Median, s.Min, s.Max)
}
