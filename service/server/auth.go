package server

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"html"
	"strings"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/crunchsvc/crunch/service/shm"
)

// The shared secret of Config.Token, and how a request presents it
// (docs/SECURITY.md): an "Authorization: Bearer TOKEN" header, or the
// cookie a browser gets from /login (a form's POST) or from /?token=
// (once: the answer sets the cookie and redirects to a URL without it).
// /healthz and connections over the Unix socket need none.

// cookieName is the cookie that carries a browser's proof of the token.
const cookieName = "crunch_auth"

// auth checks tokens against one secret, in constant time.
type auth struct {
	sum    [32]byte // SHA-256 of the token: comparing digests hides its length
	cookie string   // the cookie's value: an HMAC of the token, never the token itself
	log    logLimiter
}

func newAuth(token string) *auth {
	mac := hmac.New(sha256.New, []byte(token))
	mac.Write([]byte("crunch browser cookie v1"))
	return &auth{
		sum:    sha256.Sum256([]byte(token)),
		cookie: hex.EncodeToString(mac.Sum(nil)),
		log:    logLimiter{burst: 5, window: 10 * time.Second},
	}
}

// token tells whether given is the token.
func (a *auth) token(given []byte) bool {
	sum := sha256.Sum256(given)
	return subtle.ConstantTimeCompare(sum[:], a.sum[:]) == 1
}

// bearer tells whether an Authorization header value carries the token.
func (a *auth) bearer(header []byte) bool {
	scheme, tok, ok := strings.Cut(strings.TrimSpace(string(header)), " ")
	return ok && strings.EqualFold(scheme, "Bearer") && a.token([]byte(strings.TrimSpace(tok)))
}

// cookieOK tells whether a cookie value is the one /login sets.
func (a *auth) cookieOK(v []byte) bool {
	return len(v) > 0 && subtle.ConstantTimeCompare(v, []byte(a.cookie)) == 1
}

// authorize tells whether the request may go on to its handler; when it
// may not, ctx holds the answer: 401, or the cookie and a redirect for a
// browser that sent the token by form or query.
func (s *Server) authorize(ctx *fasthttp.RequestCtx) bool {
	a := s.auth
	if a == nil {
		return true
	}
	if _, unix := ctx.Conn().(*shm.FDConn); unix {
		return true // the socket file's permissions guard it
	}
	path := string(ctx.Path())
	switch {
	case path == "/login" && ctx.IsPost():
		s.login(ctx, ctx.PostArgs().Peek("token"))
		return false
	case (path == "/" || path == "/index.html") && ctx.QueryArgs().Has("token"):
		s.login(ctx, ctx.QueryArgs().Peek("token"))
		return false
	}
	h := ctx.Request.Header.Peek("Authorization")
	c := ctx.Request.Header.Cookie(cookieName)
	if a.bearer(h) || a.cookieOK(c) {
		return true
	}
	reason := "no token"
	if len(h) > 0 || len(c) > 0 {
		reason = "wrong token"
	}
	s.unauthorized(ctx, reason)
	return false
}

// login checks a token a browser sent and, when it is right, sets the
// cookie (HttpOnly: no script reads it; SameSite=Strict: no other site's
// page sends it) and redirects to the status page, whose URL holds no
// token.
func (s *Server) login(ctx *fasthttp.RequestCtx, token []byte) {
	if !s.auth.token(token) {
		s.unauthorized(ctx, "wrong token")
		return
	}
	var c fasthttp.Cookie
	c.SetKey(cookieName)
	c.SetValue(s.auth.cookie)
	c.SetPath("/")
	c.SetHTTPOnly(true)
	c.SetSameSite(fasthttp.CookieSameSiteStrictMode)
	c.SetSecure(ctx.IsTLS())
	ctx.Response.Header.SetCookie(&c)
	ctx.Response.Header.Set("Cache-Control", "no-store")
	ctx.Response.Header.Set("Referrer-Policy", "no-referrer")
	ctx.SetStatusCode(fasthttp.StatusSeeOther)
	ctx.Response.Header.Set("Location", "/") // relative: the browser keeps its scheme and host
}

// unauthorized answers 401 with the challenge of RFC 6750, closes the
// connection, and logs the refusal, at most a few lines per window.
func (s *Server) unauthorized(ctx *fasthttp.RequestCtx, reason string) {
	s.metrics.unauthorized.Inc()
	path := string(ctx.Path())
	challenge := `Bearer realm="crunch"`
	if reason == "wrong token" {
		challenge += `, error="invalid_token"`
	}
	if path == "/" || path == "/index.html" {
		ctx.SetStatusCode(fasthttp.StatusUnauthorized)
		ctx.SetContentType("text/html; charset=utf-8")
		ctx.SetBodyString(loginPage(reason))
	} else {
		ctx.Error("unauthorized: "+reason+" (Authorization: Bearer TOKEN)", fasthttp.StatusUnauthorized)
	}
	ctx.Response.Header.Set("WWW-Authenticate", challenge) // after Error, which resets the headers
	ctx.Response.Header.Set("Cache-Control", "no-store")
	ctx.SetConnectionClose()
	if ok, dropped := s.auth.log.allow(time.Now()); ok {
		args := []any{"remote", ctx.RemoteAddr().String(), "path", path, "reason", reason}
		if dropped > 0 {
			args = append(args, "not_logged_before", dropped)
		}
		s.cfg.Log.Warn("unauthorized request refused", args...)
	}
}

// loginPage is the status page's stand-in for a browser without the
// cookie: a form that posts the token in the request's body, which no
// URL, history or access log keeps.
func loginPage(reason string) string {
	return `<!doctype html><meta charset="utf-8"><title>crunch: token needed</title>
<p>This crunch server needs its token (` + html.EscapeString(reason) + `).</p>
<form method="post" action="/login"><input type="password" name="token" autofocus autocomplete="current-password">
<button>Enter</button></form>
`
}
