package server_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/crunchsvc/crunch/internal/testutil"
	"github.com/crunchsvc/crunch/service/client"
	"github.com/crunchsvc/crunch/service/server"
	"github.com/crunchsvc/crunch/service/wire"
)

// scrape returns the server's /metrics page.
func (ts *testServer) scrape(t *testing.T) string {
	t.Helper()
	resp, err := http.Get("http://" + ts.addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %d, %v", resp.StatusCode, err)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Errorf("Content-Type %q, want Prometheus's text format", ct)
	}
	return string(body)
}

// metricLine reports whether page has a sample line starting with prefix
// (a metric name with its labels) whose value is want.
func metricLine(page, prefix, want string) bool {
	for _, line := range strings.Split(page, "\n") {
		if strings.HasPrefix(line, prefix+" ") {
			return strings.TrimSpace(strings.TrimPrefix(line, prefix)) == want
		}
	}
	return false
}

// waitMetric waits up to 20 s for the sample line metric (a name with its
// labels) to read value, and fails the test, naming what, if it does not.
func (ts *testServer) waitMetric(t *testing.T, what, metric, value string) {
	t.Helper()
	testutil.WaitFor(t, 20*time.Second, what+": "+metric+" = "+value, func() bool {
		return metricLine(ts.scrape(t), metric, value)
	})
}

func TestMetrics(t *testing.T) {
	ts := start(t, func(c *server.Config) { c.PingInterval = 20 * time.Millisecond })
	c := ts.dial(t)
	ctx := context.Background()
	if _, _, err := c.Modsum(ctx, 3, 1000, &client.Options{Exec: "pool"}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.Modsum(ctx, 3, -1, &client.Options{Exec: "pool"}); wire.AsError(err) == nil {
		t.Fatal("modsum with iters -1 succeeded")
	}
	if _, err := c.Do(ctx, &wire.Request{Op: "no_such_op_42"}, nil); wire.AsError(err) == nil {
		t.Fatal("an unknown op succeeded")
	}
	_, err := c.Do(ctx, &wire.Request{Op: selfKillOp.Name}, &client.Options{Exec: "subprocess"})
	if e := wire.AsError(err); e == nil || e.Code != wire.WorkerFailed {
		t.Fatalf("self-killing job: %v", err)
	}

	// Pings go out every 20 ms; wait for a pong to be counted.
	var page string
	testutil.WaitFor(t, 10*time.Second, "a pong counted in crunch_ping_rtt_seconds_count", func() bool {
		page = ts.scrape(t)
		return !metricLine(page, "crunch_ping_rtt_seconds_count", "0")
	})
	for _, want := range []struct{ prefix, value string }{
		{`crunch_requests_total{exec="pool",impl="c",op="modsum",outcome="ok"}`, "1"},
		{`crunch_requests_total{exec="none",impl="",op="modsum",outcome="invalid_argument"}`, "1"},
		{`crunch_requests_total{exec="none",impl="",op="unknown",outcome="not_found"}`, "1"},
		{`crunch_requests_total{exec="subprocess",impl="go",op="test_selfkill",outcome="worker_failed"}`, "1"},
		{`crunch_request_run_seconds_count{exec="pool",op="modsum"}`, "1"},
		{`crunch_request_queue_seconds_count{exec="pool",op="modsum"}`, "1"},
		{`crunch_connections`, "1"},
		{`crunch_executor_slots{exec="pool"}`, "2"},
		{`crunch_executor_busy{exec="pool"}`, "0"},
		{`crunch_executor_queued{exec="subprocess"}`, "0"},
		{`crunch_worker_deaths_total{exec="subprocess"}`, "1"},
	} {
		if !metricLine(page, want.prefix, want.value) {
			t.Errorf("/metrics lacks %s %s", want.prefix, want.value)
		}
	}
	if metricLine(page, "crunch_ping_rtt_seconds_count", "0") || !strings.Contains(page, "crunch_ping_rtt_seconds_bucket") {
		t.Error("no ping round trip counted")
	}
	if !strings.Contains(page, "go_goroutines") || !strings.Contains(page, "process_resident_memory_bytes") {
		t.Error("/metrics lacks the Go runtime and process collectors")
	}
	if !strings.Contains(page, "go_sched_latencies_seconds_bucket") {
		t.Error("/metrics lacks the Go scheduler's latencies")
	}
	if t.Failed() {
		t.Logf("/metrics:\n%s", page)
	}
}
