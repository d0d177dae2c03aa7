package browser

import (
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"sync"
	"testing"
	"time"
)

// HoldTag is the image a page served through a Front includes to hold its
// load event until the test calls Release. Chromium's --dump-dom and
// --screenshot act on the load event, so what they show does not depend on
// how fast a loaded machine runs the page.
const HoldTag = `<img src="/hold" alt="" width="1" height="1">`

// Front is an HTTP server, on a port of its own, in front of a crunch
// server: every path a test does not handle on Mux passes through to the
// crunch server, WebSocket upgrades included. The proxy keeps the
// browser's Host header, so the server's same-origin check on the upgrade
// sees the page's origin.
type Front struct {
	Addr     string                 // host:port to point the browser at
	Mux      *http.ServeMux         // add the test's pages and hooks here
	Upstream *httputil.ReverseProxy // the pass-through, for hooks that wrap it

	srv      *http.Server
	released chan struct{}
	once     sync.Once
}

// NewFront starts a Front for the crunch server at upstream (host:port).
func NewFront(upstream string) (*Front, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	f := &Front{
		Addr:     ln.Addr().String(),
		Mux:      http.NewServeMux(),
		Upstream: httputil.NewSingleHostReverseProxy(&url.URL{Scheme: "http", Host: upstream}),
		released: make(chan struct{}),
	}
	f.Mux.Handle("/", f.Upstream)
	f.Mux.HandleFunc("/hold", f.hold)
	f.srv = &http.Server{Handler: f.Mux}
	go f.srv.Serve(ln)
	return f, nil
}

// StartFront starts a Front for the crunch server at upstream and closes
// it when the test ends, failing the test if it cannot start.
func StartFront(t testing.TB, upstream string) *Front {
	t.Helper()
	f, err := NewFront(upstream)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.Close)
	return f
}

// Page serves html as the page at pattern (a ServeMux pattern).
func (f *Front) Page(pattern, html string) {
	f.Mux.HandleFunc(pattern, func(w http.ResponseWriter, _ *http.Request) { WriteHTML(w, html) })
}

// WriteHTML answers a request with the page html.
func WriteHTML(w http.ResponseWriter, html string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	io.WriteString(w, html)
}

// Release lets every page held by HoldTag finish loading.
func (f *Front) Release() { f.once.Do(func() { close(f.released) }) }

// Close stops the Front and releases any page still held.
func (f *Front) Close() {
	f.Release()
	f.srv.Close()
}

// hold answers HoldTag's image once the test releases it; a minute at most,
// so that a page that never gets there still ends and its test can say why.
func (f *Front) hold(w http.ResponseWriter, r *http.Request) {
	select {
	case <-f.released:
	case <-r.Context().Done():
	case <-time.After(time.Minute):
	}
	w.WriteHeader(http.StatusNoContent)
}
