package server_test

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/crunchsvc/crunch/internal/browser"
	"github.com/crunchsvc/crunch/service/server"
)

// A real browser (headless chromium) opens the status page of a server
// with a token through /?token=: it gets the cookie, is redirected to /,
// and the page's scripts, its /v1/status polls and its WebSocket all pass
// with the cookie alone (the page connects and pings, and nothing fails).
func TestStatusPageLoginInBrowser(t *testing.T) {
	chromium, err := browser.Find()
	if err != nil {
		t.Skipf("SKIPPED: the status page's browser test needs chromium: %v", err)
	}
	ts := start(t, func(c *server.Config) { c.Token = testToken })
	_, _, page := do(t, "GET", "http://"+ts.addr+"/", "Bearer "+testToken, "")
	held := strings.Replace(page, "</body>", browser.HoldTag+"</body>", 1)

	front, err := browser.NewFront(ts.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer front.Close()
	var withCookie atomic.Bool
	front.Mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		// The login goes to the server; the page it redirects to is the
		// server's own plus the hold, for a browser with the cookie.
		if _, err := r.Cookie("crunch_auth"); err != nil || r.URL.Query().Has("token") {
			front.Upstream.ServeHTTP(w, r)
			return
		}
		withCookie.Store(true)
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
	dom, err := browser.Headless(ctx, chromium, t.TempDir(), "http://"+front.Addr+"/?token="+url.QueryEscape(testToken), "--dump-dom")
	if err != nil {
		t.Fatal(err)
	}
	if !withCookie.Load() {
		t.Fatalf("the browser never asked for / with the cookie:\n%s", dom)
	}
	for _, want := range []string{
		`id="conns">[1-9]`,         // its own WebSocket is open, through the cookie
		`id="p50">[0-9]+\.[0-9]+<`, // pings were answered
		`<td>pool</td><td>2</td>`,  // /v1/status was polled
		`id="err"></span>`,         // and nothing failed
	} {
		if !regexp.MustCompile(want).Match(dom) {
			t.Errorf("the page lacks %s:\n%s", want, dom)
		}
	}
}
