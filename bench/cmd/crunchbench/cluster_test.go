package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
)

// scrapeSum adds the samples of one metric that carry a label, or all of
// them, and nothing of a metric whose name only starts the same.
func TestScrapeSum(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Write([]byte("# HELP crunch_cluster_transfer_bytes_total bytes\n" +
			"# TYPE crunch_cluster_transfer_bytes_total counter\n" +
			"crunch_cluster_transfer_bytes_total{direction=\"sent\"} 1.5e+06\n" +
			"crunch_cluster_transfer_bytes_total{note=\"a } b\",direction=\"sent\"} 500000\n" +
			"crunch_cluster_transfer_bytes_total{direction=\"received\"} 1e+06\n" +
			"crunch_cluster_transfer_bytes_total_extra 7\n" +
			"crunch_cluster_transfer_bytes_totalx{a=\"b\"} 9\n" +
			"other 3\n"))
	}))
	defer srv.Close()
	if got := scrapeSum(context.Background(), srv.URL, clusterMovedMetric, clusterSent); got != 2e6 {
		t.Errorf("sent: %g, want 2e6", got)
	}
	if got := scrapeSum(context.Background(), srv.URL, clusterMovedMetric, ""); got != 3e6 {
		t.Errorf("every direction: %g, want 3e6", got)
	}
	if got := scrapeSum(context.Background(), srv.URL+"/nothing-here", "other", ""); got != 3 {
		t.Errorf("unlabelled metric: %g, want 3", got)
	}
	if got := scrapeSum(context.Background(), "http://127.0.0.1:1/metrics", "other", ""); got != 0 {
		t.Errorf("unreachable server: %g, want 0", got)
	}
}
