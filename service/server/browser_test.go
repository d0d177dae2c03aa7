package server_test

import (
	"context"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/crunchsvc/crunch/internal/browser"
	"github.com/crunchsvc/crunch/service/server"
)

// findChromium returns Debian's chromium or skips the test.
func findChromium(t *testing.T) string {
	chromium, err := browser.Find()
	if err != nil {
		t.Skipf("SKIPPED: the status page's browser test needs chromium: %v", err)
	}
	return chromium
}

// inBrowser runs headless chromium with args on path of a browser.Front
// before the server at addr. The front answers GET / with page plus
// browser.HoldTag where hold says so for the request (every request when
// hold is nil), and with the server's own answer otherwise; it releases
// the page once it has polled /v1/status three times (two seconds of
// pings, two polls for a request rate), so what the browser shows does not
// depend on how fast a loaded machine runs the page.
func inBrowser(t *testing.T, chromium, addr, page string, hold func(*http.Request) bool, path string, args ...string) []byte {
	t.Helper()
	held := strings.Replace(page, "</body>", browser.HoldTag+"</body>", 1)
	front := browser.StartFront(t, addr)
	front.Mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		if hold != nil && !hold(r) {
			front.Upstream.ServeHTTP(w, r)
			return
		}
		browser.WriteHTML(w, held)
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
	out, err := browser.Headless(ctx, chromium, t.TempDir(), "http://"+front.Addr+path, args...)
	if err != nil {
		t.Fatal(err)
	}
	if polls.Load() < 3 {
		t.Errorf("the page polled /v1/status %d times before it was shown; want 3", polls.Load())
	}
	return out
}

// matchAll checks that dom matches every regular expression of want.
func matchAll(t *testing.T, dom []byte, want ...string) {
	t.Helper()
	for _, w := range want {
		if !regexp.MustCompile(w).Match(dom) {
			t.Errorf("the page lacks %s:\n%s", w, dom)
		}
	}
}

// The status page in a real headless browser (Debian's chromium): the
// page loads its module, connects over WebSocket, pings, polls
// /v1/status and fills in every figure. The page is the server's own,
// held until it has polled /v1/status three times (see inBrowser). A
// screenshot is left in the test's temporary directory (kept with
// CRUNCH_SCREENSHOT=path).
func TestStatusPageInBrowser(t *testing.T) {
	chromium := findChromium(t)
	ts := start(t, nil)
	page, _ := get(t, "http://"+ts.addr+"/")
	dom := inBrowser(t, chromium, ts.addr, page, nil, "/", "--dump-dom")
	matchAll(t, dom,
		`id="conns">[1-9]`,              // its own WebSocket is open
		`id="p50">[0-9]+\.[0-9]+<`,      // pings were answered
		`<td>pool</td><td>2</td>`,       // /v1/status was polled
		`<td>subprocess</td><td>2</td>`, //
		`id="err"></span>`,              // and nothing failed
		`id="rps">[0-9]+\.[0-9]<`,       // two polls at least
	)
	shot := os.Getenv("CRUNCH_SCREENSHOT")
	if shot == "" {
		shot = filepath.Join(t.TempDir(), "status.png")
	}
	inBrowser(t, chromium, ts.addr, page, nil, "/", "--screenshot="+shot)
	if st, err := os.Stat(shot); err != nil || st.Size() < 10000 {
		t.Errorf("screenshot %s: %v", shot, err)
	}
}

// A real browser (headless chromium) opens the status page of a server
// with a token through /?token=: it gets the cookie, is redirected to /,
// and the page's scripts, its /v1/status polls and its WebSocket all pass
// with the cookie alone (the page connects and pings, and nothing fails).
func TestStatusPageLoginInBrowser(t *testing.T) {
	chromium := findChromium(t)
	ts := start(t, func(c *server.Config) { c.Token = testToken })
	_, _, page := do(t, "GET", "http://"+ts.addr+"/", "Bearer "+testToken, "")
	var withCookie atomic.Bool
	// The login goes to the server; the page it redirects to is the
	// server's own plus the hold, for a browser with the cookie.
	hold := func(r *http.Request) bool {
		if _, err := r.Cookie("crunch_auth"); err != nil || r.URL.Query().Has("token") {
			return false
		}
		withCookie.Store(true)
		return true
	}
	dom := inBrowser(t, chromium, ts.addr, page, hold, "/?token="+url.QueryEscape(testToken), "--dump-dom")
	if !withCookie.Load() {
		t.Fatalf("the browser never asked for / with the cookie:\n%s", dom)
	}
	matchAll(t, dom,
		`id="conns">[1-9]`,         // its own WebSocket is open, through the cookie
		`id="p50">[0-9]+\.[0-9]+<`, // pings were answered
		`<td>pool</td><td>2</td>`,  // /v1/status was polled
		`id="err"></span>`,         // and nothing failed
	)
}
