package server

import (
	"encoding/base64"
	"strings"

	"github.com/valyala/fasthttp"
)

// RFC 6455's opening handshake rules that fasthttp/websocket's upgrader
// does not enforce, checked before it runs (checkHandshake), and the
// header every refused handshake carries (handshakeError).

// wsVersion is the one WebSocket protocol version served (RFC 6455).
const wsVersion = "13"

// checkHandshake refuses a WebSocket opening handshake that names another
// protocol version (426 Upgrade Required, RFC 6455 section 4.2.2) or whose
// Sec-WebSocket-Key is not 16 bytes in base64 (400). It leaves requests
// that are not upgrades to WebSocket at all to the upgrader, which refuses
// them. It reports whether the handshake may go on; when not, ctx holds
// the response.
func checkHandshake(ctx *fasthttp.RequestCtx) bool {
	if !hasToken(string(ctx.Request.Header.Peek("Upgrade")), "websocket") {
		return true
	}
	if !hasToken(string(ctx.Request.Header.Peek("Sec-WebSocket-Version")), wsVersion) {
		handshakeError(ctx, fasthttp.StatusUpgradeRequired, "websocket: this server speaks WebSocket version 13 only (Sec-WebSocket-Version)")
		return false
	}
	key := strings.TrimSpace(string(ctx.Request.Header.Peek("Sec-WebSocket-Key")))
	if raw, err := base64.StdEncoding.DecodeString(key); err != nil || len(raw) != 16 {
		handshakeError(ctx, fasthttp.StatusBadRequest, "websocket: Sec-WebSocket-Key must be 16 bytes in base64")
		return false
	}
	return true
}

// handshakeError answers a refused opening handshake with status and a
// short reason, and names the version this server speaks, as RFC 6455
// asks of a server that does not upgrade. It is the upgrader's Error
// function too (whose default response loses that header).
func handshakeError(ctx *fasthttp.RequestCtx, status int, reason string) {
	ctx.Error(reason, status)
	ctx.Response.Header.Set("Sec-WebSocket-Version", wsVersion) // after Error, which resets the headers
}

// hasToken tells whether the comma-separated header value holds token,
// compared without regard to case.
func hasToken(value, token string) bool {
	for _, t := range strings.Split(value, ",") {
		if strings.EqualFold(strings.TrimSpace(t), token) {
			return true
		}
	}
	return false
}
