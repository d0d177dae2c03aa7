package main

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/crunchsvc/crunch/internal/testutil"
)

// waitPoolBusy waits until the server at addr reports (on /v1/status) n
// pool jobs running.
func waitPoolBusy(t *testing.T, addr string, n int) {
	t.Helper()
	testutil.WaitFor(t, time.Minute, "a job running on the pool", func() bool {
		var st struct {
			Executors map[string]struct {
				Busy int `json:"busy"`
			} `json:"executors"`
		}
		resp, err := http.Get("http://" + addr + "/v1/status")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		return json.NewDecoder(resp.Body).Decode(&st) == nil && st.Executors["pool"].Busy == n
	})
}
