package server_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/crunchsvc/crunch/service/client"
)

func get(t *testing.T, url string) (string, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %s", url, resp.StatusCode, body)
	}
	return string(body), resp.Header.Get("Content-Type")
}

// inFlight is the number of requests in flight on the server, from
// /v1/status.
func (ts *testServer) inFlight(t *testing.T) int {
	t.Helper()
	var st struct {
		InFlight int `json:"in_flight"`
	}
	body, _ := get(t, "http://"+ts.addr+"/v1/status")
	if err := json.Unmarshal([]byte(body), &st); err != nil {
		t.Fatalf("/v1/status: %v\n%s", err, body)
	}
	return st.InFlight
}

// The status page and what it loads are served from the binary; its
// JSON says what the page shows.
func TestStatusPage(t *testing.T) {
	ts := start(t, nil)
	base := "http://" + ts.addr
	for path, want := range map[string]struct{ ctype, has string }{
		"/":           {"text/html", `<script type="module" src="/status.js">`},
		"/status.js":  {"text/javascript", `from "/crunch.mjs"`},
		"/crunch.mjs": {"text/javascript", "export class Client"},
	} {
		body, ctype := get(t, base+path)
		if !strings.HasPrefix(ctype, want.ctype) || !strings.Contains(body, want.has) {
			t.Errorf("%s: %s, %d bytes, lacking %q", path, ctype, len(body), want.has)
		}
	}
	c := ts.dial(t)
	if _, _, err := c.Modsum(context.Background(), 3, 100, &client.Options{Exec: "pool"}); err != nil {
		t.Fatal(err)
	}
	body, ctype := get(t, base+"/v1/status")
	var st struct {
		Connections int   `json:"connections"`
		Answered    int64 `json:"answered"`
		Executors   map[string]struct {
			Slots, Busy, Queued int
		} `json:"executors"`
	}
	if err := json.Unmarshal([]byte(body), &st); err != nil || ctype != "application/json" {
		t.Fatalf("/v1/status: %v %s %s", err, ctype, body)
	}
	if st.Connections != 1 || st.Answered != 1 || st.Executors["pool"].Slots != 2 || len(st.Executors) != 3 {
		t.Errorf("/v1/status: %s", body)
	}
}
