package server_test

import (
	"context"
	"errors"
	"github.com/crunchsvc/crunch/internal/testutil"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/crunchsvc/crunch/internal/testcert"
	"github.com/crunchsvc/crunch/service/client"
	"github.com/crunchsvc/crunch/service/server"
)

const testToken = "s3cret-token"

// noRedirect is an HTTP client that shows redirects instead of following
// them.
var noRedirect = &http.Client{
	Timeout:       10 * time.Second,
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

// do sends a request with the given Authorization and Cookie headers
// ("" for none) and returns its status, headers and body.
func do(t *testing.T, method, url, authz, cookie string) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if authz != "" {
		req.Header.Set("Authorization", authz)
	}
	if cookie != "" {
		req.Header.Set("Cookie", cookie)
	}
	resp, err := noRedirect.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(body)
}

// wsStatus dials /v1/ws with header and returns the handshake's status.
func wsStatus(t *testing.T, addr string, header http.Header) int {
	t.Helper()
	conn, resp, err := websocket.DefaultDialer.Dial("ws://"+addr+"/v1/ws", header)
	if err == nil {
		conn.Close()
		return http.StatusSwitchingProtocols
	}
	if resp == nil {
		t.Fatalf("dial: %v", err)
	}
	return resp.StatusCode
}

// Every path but /healthz answers 401, with a Bearer challenge, to a
// request without the token or with a wrong one, and serves one with it.
func TestAuthTokenGuardsEveryPath(t *testing.T) {
	ts := start(t, func(c *server.Config) { c.Token = testToken })
	base := "http://" + ts.addr
	for _, path := range []string{"/", "/index.html", "/metrics", "/v1/status", "/crunch.mjs", "/status.js"} {
		for _, c := range []struct {
			name, authz string
			want        int
			challenge   string
		}{
			{"missing", "", 401, `Bearer realm="crunch"`},
			{"bad", "Bearer wrong", 401, `Bearer realm="crunch", error="invalid_token"`},
			{"other scheme", "Basic " + testToken, 401, `Bearer realm="crunch", error="invalid_token"`},
			{"good", "Bearer " + testToken, 200, ""},
			{"good, scheme in lower case", "bearer " + testToken, 200, ""},
		} {
			status, h, body := do(t, "GET", base+path, c.authz, "")
			if status != c.want {
				t.Errorf("GET %s, token %s: %d, want %d\n%s", path, c.name, status, c.want, body)
			}
			if got := h.Get("WWW-Authenticate"); got != c.challenge {
				t.Errorf("GET %s, token %s: WWW-Authenticate %q, want %q", path, c.name, got, c.challenge)
			}
		}
	}
	if status, _, body := do(t, "GET", base+"/healthz", "", ""); status != 200 || body != "ok\n" {
		t.Errorf("GET /healthz without a token: %d %q, want 200 ok", status, body)
	}
	// The WebSocket upgrade: refused before it happens.
	for _, c := range []struct {
		name   string
		header http.Header
		want   int
	}{
		{"missing", nil, 401},
		{"bad", http.Header{"Authorization": {"Bearer wrong"}}, 401},
		{"good", http.Header{"Authorization": {"Bearer " + testToken}}, 101},
	} {
		if got := wsStatus(t, ts.addr, c.header); got != c.want {
			t.Errorf("/v1/ws, token %s: %d, want %d", c.name, got, c.want)
		}
	}
}

// The Go client: no token or a wrong one fails the dial with
// ErrUnauthorized; the right one computes.
func TestAuthGoClient(t *testing.T) {
	ts := start(t, func(c *server.Config) { c.Token = testToken })
	ctx := context.Background()
	for _, o := range []*client.DialOptions{nil, {Token: "wrong"}} {
		c, err := client.DialWith(ctx, ts.addr, o)
		if !errors.Is(err, client.ErrUnauthorized) {
			if c != nil {
				c.Close()
			}
			t.Fatalf("dial with %+v: %v, want ErrUnauthorized", o, err)
		}
	}
	c, err := client.DialWith(ctx, ts.addr, &client.DialOptions{Token: testToken})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, _, err := c.Modsum(ctx, 3, 1000, nil); err != nil {
		t.Fatal(err)
	}
	r := client.NewRedialer(ts.addr)
	r.Dial = &client.DialOptions{Token: testToken}
	if _, err := r.Client(ctx); err != nil {
		t.Fatalf("Redialer with the token: %v", err)
	}
}

// A browser: the status page takes the token once, by form or query,
// answers with an HttpOnly, SameSite=Strict cookie and a redirect to a
// URL without it; the cookie then opens the page, its status and a
// same-origin WebSocket.
func TestAuthBrowserCookie(t *testing.T) {
	ts := start(t, func(c *server.Config) { c.Token = testToken })
	base := "http://" + ts.addr

	status, _, body := do(t, "GET", base+"/", "", "")
	if status != 401 || !strings.Contains(body, `action="/login"`) {
		t.Fatalf("GET / without a token: %d, want 401 with a login form\n%s", status, body)
	}
	if status, _, _ := do(t, "GET", base+"/?token=wrong", "", ""); status != 401 {
		t.Fatalf("GET /?token=wrong: %d, want 401", status)
	}

	cookieFrom := func(what string, resp *http.Response) string {
		t.Helper()
		if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/" {
			t.Fatalf("%s: %d to %q, want 303 to /", what, resp.StatusCode, resp.Header.Get("Location"))
		}
		sc := resp.Header.Get("Set-Cookie")
		for _, want := range []string{"HttpOnly", "SameSite=Strict", "path=/"} {
			if !strings.Contains(strings.ToLower(sc), strings.ToLower(want)) {
				t.Errorf("%s: Set-Cookie %q lacks %s", what, sc, want)
			}
		}
		if strings.Contains(sc, testToken) {
			t.Errorf("%s: the cookie holds the token itself: %q", what, sc)
		}
		cookie, _, _ := strings.Cut(sc, ";")
		return cookie
	}
	resp, err := noRedirect.Get(base + "/?token=" + url.QueryEscape(testToken))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	byQuery := cookieFrom("GET /?token=", resp)
	resp, err = noRedirect.PostForm(base+"/login", url.Values{"token": {testToken}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	byForm := cookieFrom("POST /login", resp)
	if byQuery != byForm {
		t.Errorf("cookies differ: %q and %q", byQuery, byForm)
	}

	for _, path := range []string{"/", "/v1/status", "/metrics"} {
		if status, _, body := do(t, "GET", base+path, "", byForm); status != 200 {
			t.Errorf("GET %s with the cookie: %d\n%s", path, status, body)
		}
	}
	if status, _, _ := do(t, "GET", base+"/", "", "crunch_auth=forged"); status != 401 {
		t.Errorf("GET / with a forged cookie: %d, want 401", status)
	}
	h := http.Header{"Cookie": {byForm}, "Origin": {base}}
	if got := wsStatus(t, ts.addr, h); got != 101 {
		t.Errorf("same-origin WebSocket with the cookie: %d, want 101", got)
	}
	h.Set("Origin", "http://elsewhere.example")
	if got := wsStatus(t, ts.addr, h); got != 403 {
		t.Errorf("WebSocket with the cookie from another origin: %d, want 403", got)
	}
}

// A flood of handshakes with wrong tokens: each is refused at once, the
// server keeps serving, and the log holds a bounded number of lines that
// name the remote address.
func TestAuthFloodLogBounded(t *testing.T) {
	logs := &testutil.SyncBuffer{}
	ts := start(t, func(c *server.Config) {
		c.Token = testToken
		c.Log = slog.New(slog.NewJSONHandler(logs, nil))
	})
	const dials = 400
	var wg sync.WaitGroup
	var mu sync.Mutex
	statuses := map[int]int{}
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d := websocket.Dialer{HandshakeTimeout: 5 * time.Second}
			for i := range dials / 8 {
				h := http.Header{"Authorization": {"Bearer wrong" + string(rune('a'+g)) + string(rune('a'+i%26))}}
				conn, resp, err := d.Dial("ws://"+ts.addr+"/v1/ws", h)
				status := 0
				if err == nil {
					conn.Close()
					status = 101
				} else if resp != nil {
					status = resp.StatusCode
				}
				mu.Lock()
				statuses[status]++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if statuses[401] != dials {
		t.Fatalf("statuses of %d bad dials: %v, want all 401", dials, statuses)
	}
	c, err := client.DialWith(context.Background(), ts.addr, &client.DialOptions{Token: testToken})
	if err != nil {
		t.Fatalf("after the flood: %v", err)
	}
	defer c.Close()
	if _, _, err := c.Modsum(context.Background(), 3, 100, nil); err != nil {
		t.Fatalf("after the flood: %v", err)
	}
	lines := records(logs, "unauthorized request refused")
	if len(lines) == 0 || len(lines) > 10 {
		t.Fatalf("%d log lines for %d refusals, want 1 to 10", len(lines), dials)
	}
	if r := lines[0]; r["remote"] == nil || !strings.HasPrefix(r["remote"].(string), "127.0.0.1:") {
		t.Errorf("log line without the remote address: %v", r)
	}
	if status, _, body := do(t, "GET", "http://"+ts.addr+"/metrics", "Bearer "+testToken, ""); status != 200 ||
		!strings.Contains(body, "crunch_unauthorized_total 400") {
		t.Errorf("/metrics: %d, want crunch_unauthorized_total 400 in it", status)
	}
}

// The Unix socket asks for no token: its file's permissions guard it.
func TestAuthUnixSocketOpen(t *testing.T) {
	_, path := startUnix(t, func(c *server.Config) { c.Token = testToken })
	c := dialUnix(t, path)
	if _, _, err := c.Modsum(context.Background(), 3, 100, nil); err != nil {
		t.Fatal(err)
	}
}

// TLS: the Go client, trusting a self-signed certificate, computes over
// wss://, and /healthz answers over https://; a client that does not
// trust the certificate, or speaks plain HTTP, gets nothing served.
func TestTLSRoundTrip(t *testing.T) {
	cert := testcert.New(t)
	ts := start(t, func(c *server.Config) {
		c.TLS = cert.ServerConfig()
		c.Token = testToken
	})
	ctx := context.Background()
	c, err := client.DialWith(ctx, "wss://"+ts.addr+"/v1/ws", &client.DialOptions{Token: testToken, TLS: cert.ClientConfig()})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, _, err := c.Modsum(ctx, 7, 1000, nil); err != nil {
		t.Fatalf("modsum over wss://: %v", err)
	}
	// A host:port with a TLS configuration means wss://.
	c2, err := client.DialWith(ctx, ts.addr, &client.DialOptions{Token: testToken, TLS: cert.ClientConfig()})
	if err != nil {
		t.Fatal(err)
	}
	c2.Close()

	hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: cert.ClientConfig()}}
	resp, err := hc.Get("https://" + ts.addr + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("GET https://.../healthz: %d", resp.StatusCode)
	}
	if _, err := client.DialWith(ctx, "wss://"+ts.addr+"/v1/ws", &client.DialOptions{Token: testToken}); err == nil {
		t.Fatal("a client without the certificate's CA connected")
	}
	if _, err := client.DialWith(ctx, ts.addr, &client.DialOptions{Token: testToken}); err == nil {
		t.Fatal("a plain ws:// client connected to the TLS listener")
	}
}
