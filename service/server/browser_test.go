package server_test

import (
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/crunchsvc/crunch/internal/browser"
)

// The status page in a real headless browser (Debian's chromium): the
// page loads its module, connects over WebSocket, pings, polls
// /v1/status and fills in every figure. The page is the server's own,
// served through a browser.Front that adds browser.HoldTag to it and
// releases it once the page has polled /v1/status three times (two
// seconds of pings, two polls for a request rate), so the dump does not
// depend on how fast a loaded machine runs the page. A screenshot is left
// in the test's temporary directory (kept with CRUNCH_SCREENSHOT=path).
func TestStatusPageInBrowser(t *testing.T) {
	chromium, err := browser.Find()
	if err != nil {
		t.Skipf("SKIPPED: the status page's browser test needs chromium: %v", err)
	}
	ts := start(t, nil)
	page, _ := get(t, "http://"+ts.addr+"/")
	held := strings.Replace(page, "</body>", browser.HoldTag+"</body>", 1)
	run := func(args ...string) []byte {
		front, err := browser.NewFront(ts.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer front.Close()
		front.Mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			io.WriteString(w, held)
		})
		var polls atomic.Int32
		front.Mux.HandleFunc("/v1/status", func(w http.ResponseWriter, r *http.Request) {
			front.Upstream.ServeHTTP(w, r)
			if polls.Add(1) == 3 {
				front.Release()
			}
		})
		ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
		defer cancel()
		out, err := browser.Headless(ctx, chromium, t.TempDir(), "http://"+front.Addr+"/", args...)
		if err != nil {
			t.Fatal(err)
		}
		if polls.Load() < 3 {
			t.Errorf("the page polled /v1/status %d times before it was shown; want 3", polls.Load())
		}
		return out
	}
	dom := run("--dump-dom")
	for _, want := range []string{
		`id="conns">[1-9]`,              // its own WebSocket is open
		`id="p50">[0-9]+\.[0-9]+<`,      // pings were answered
		`<td>pool</td><td>2</td>`,       // /v1/status was polled
		`<td>subprocess</td><td>2</td>`, //
		`id="err"></span>`,              // and nothing failed
		`id="rps">[0-9]+\.[0-9]<`,       // two polls at least
	} {
		if !regexp.MustCompile(want).Match(dom) {
			t.Errorf("the page lacks %s:\n%s", want, dom)
		}
	}
	shot := os.Getenv("CRUNCH_SCREENSHOT")
	if shot == "" {
		shot = filepath.Join(t.TempDir(), "status.png")
	}
	run("--screenshot=" + shot)
	if st, err := os.Stat(shot); err != nil || st.Size() < 10000 {
		t.Errorf("screenshot %s: %v", shot, err)
	}
}
