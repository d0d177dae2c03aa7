package server

import (
	"embed"
	"encoding/json"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/crunchsvc/crunch/clients/js"
)

// web holds the status page: no build step, no CDN.
//
//go:embed web/index.html web/status.js
var web embed.FS

// status is the /v1/status document that the status page polls.
type status struct {
	UptimeS     float64                   `json:"uptime_s"`
	Connections int                       `json:"connections"`
	Answered    int64                     `json:"answered"` // compute requests answered, ok or not
	Failed      int64                     `json:"failed"`
	InFlight    int64                     `json:"in_flight"`
	Executors   map[string]executorStatus `json:"executors"`
	Cluster     *clusterInfo              `json:"cluster,omitempty"`
}

type executorStatus struct {
	Slots  int   `json:"slots"`
	Busy   int   `json:"busy"`
	Queued int   `json:"queued"`
	Deaths int64 `json:"deaths,omitempty"`
}

// statusNow reads the server's state.
func (s *Server) statusNow() status {
	s.mu.Lock()
	conns := len(s.sessions)
	s.mu.Unlock()
	st := status{
		UptimeS: time.Since(s.started).Seconds(), Connections: conns,
		Answered: s.answered.Load(), Failed: s.failed.Load(), InFlight: s.inflight.Load(),
		Executors: map[string]executorStatus{},
		Cluster:   s.clusterNow(),
	}
	for name, ex := range s.cfg.Executors {
		l := ex.Load()
		es := executorStatus{Slots: l.Slots, Busy: l.Busy, Queued: l.Queued}
		if d, ok := ex.(deathCounter); ok {
			es.Deaths = d.Deaths()
		}
		st.Executors[name] = es
	}
	return st
}

// serveStatic answers the status page's files; false for other paths.
func (s *Server) serveStatic(ctx *fasthttp.RequestCtx, path string) bool {
	var body []byte
	var ctype string
	switch path {
	case "/", "/index.html":
		body, _ = web.ReadFile("web/index.html")
		ctype = "text/html; charset=utf-8"
	case "/status.js":
		body, _ = web.ReadFile("web/status.js")
		ctype = "text/javascript; charset=utf-8"
	case "/crunch.mjs":
		body, ctype = js.Module, "text/javascript; charset=utf-8"
	case "/v1/status":
		body, _ = json.Marshal(s.statusNow())
		ctype = "application/json"
		ctx.Response.Header.Set("Cache-Control", "no-store")
	default:
		return false
	}
	ctx.SetContentType(ctype)
	ctx.SetBody(body)
	return true
}
