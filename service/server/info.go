package server

import (
	"bufio"
	"encoding/json"
	"os"
	"runtime"
	"strings"
	"sync"

	"github.com/crunchsvc/crunch/cgo"
	"github.com/crunchsvc/crunch/service/executor"
	"github.com/crunchsvc/crunch/service/wire"
)

// Version is the server's version, reported by info.
const Version = "0.1.0"

// info builds the reply to the info op: what a client needs to build its
// calls. Everything but the executors' load is fixed for the server's life.
func (srv *Server) info(unix bool) wire.Result {
	type execInfo struct {
		Name   string `json:"name"`
		Slots  int    `json:"slots"`
		Busy   int    `json:"busy"`
		Queued int    `json:"queued"`
	}
	var execs []execInfo
	for _, name := range srv.execNames() {
		l := srv.cfg.Executors[name].Load()
		execs = append(execs, execInfo{name, l.Slots, l.Busy, l.Queued})
	}
	type opInfo struct {
		Name    string   `json:"name"`
		Summary string   `json:"summary"`
		Doc     string   `json:"doc"`
		Impls   []string `json:"impls"`
		Default string   `json:"default_impl"`
		Args    any      `json:"args"`
		Results any      `json:"results"`
	}
	var ops []opInfo
	for _, op := range srv.cfg.Registry.Ops() {
		ops = append(ops, opInfo{op.Name, op.Summary, op.Doc, op.Impls, op.Impls[0], op.Params, op.Results})
	}
	isas := []string{}
	for _, i := range cgo.ISAs() {
		isas = append(isas, i.String())
	}
	cfg := &srv.cfg
	res := wire.Result{
		"server":    raw("crunch"),
		"version":   raw(Version),
		"protocol":  raw(1),
		"go":        raw(runtime.Version()),
		"libcrunch": raw(cgo.Version()),
		"cpu": raw(map[string]any{
			"model": cpuModel(), "cores": runtime.NumCPU(), "gomaxprocs": runtime.GOMAXPROCS(0),
			"isa": cgo.BestISA().String(), "isas": isas,
		}),
		"executors": raw(execs),
		"auto":      raw(cfg.Profile.Summary()),
		"limits": raw(map[string]any{
			"max_message_bytes": cfg.MaxMessage, "max_elements": cfg.MaxElements,
			"max_inflight_per_connection":   cfg.MaxInFlight,
			"max_threads":                   srv.maxThreads(),
			"default_timeout_ms":            cfg.DefaultTimeout.Milliseconds(),
			"max_timeout_ms":                cfg.MaxTimeout.Milliseconds(),
			"ping_interval_ms":              cfg.PingInterval.Milliseconds(),
			"ping_timeout_ms":               cfg.PingTimeout.Milliseconds(),
			"max_large_messages":            cfg.MaxLarge,
			"large_messages_per_connection": largeShare(cfg.MaxLarge),
			"large_wait_ms":                 cfg.LargeWait.Milliseconds(),
		}),
		"ops": raw(ops),
	}
	res["transport"] = raw("tcp")
	if unix {
		res["transport"] = raw("unix")
	}
	if ci := srv.clusterNow(); ci != nil {
		res["cluster"] = raw(ci)
	}
	if path := srv.UnixPath(); path != "" {
		res["shm"] = raw(map[string]any{
			"version": 1, "unix": path,
			"max_regions": cfg.ShmMaxRegions, "max_bytes": cfg.ShmMaxBytes,
		})
	}
	return res
}

// maxThreads is the most threads one request's kernel may use:
// Config.MaxThreads, or else the most workers of an executor that runs
// kernels in parallel (the pool's, the subprocess executor's; 1 without
// either).
func (srv *Server) maxThreads() int {
	if srv.cfg.MaxThreads > 0 {
		return srv.cfg.MaxThreads
	}
	m := 1
	for _, ex := range srv.cfg.Executors {
		if p, ok := ex.(executor.Parallel); ok {
			m = max(m, p.Threads())
		}
	}
	return m
}

// threadsFor is the thread budget of req's kernel: what it asks for
// ("threads"), or maxThreads when it asks for nothing, capped by
// maxThreads.
func (srv *Server) threadsFor(req *wire.Request) int {
	m := srv.maxThreads()
	if req.Threads <= 0 {
		return m
	}
	return int(min(req.Threads, int64(m)))
}

// raw wraps a JSON-encodable value as a result value.
func raw(v any) wire.Value {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // only fixed, encodable types reach here
	}
	return wire.Value{JSON: b}
}

var cpuModel = sync.OnceValue(func() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return runtime.GOARCH
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return runtime.GOARCH
})
