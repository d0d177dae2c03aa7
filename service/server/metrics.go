package server

import (
	"regexp"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/fasthttpadaptor"

	"github.com/crunchsvc/crunch/service/executor"
	"github.com/crunchsvc/crunch/service/wire"
)

// metrics are what /metrics exports, in Prometheus's text format. Each
// server has its own registry, so that tests may run several servers in
// one process.
type metrics struct {
	s        *Server
	reg      *prometheus.Registry
	requests *prometheus.CounterVec   // op, exec, impl, outcome
	queue    *prometheus.HistogramVec // op, exec: waiting for an executor slot
	run      *prometheus.HistogramVec // op, exec: running
	pingRTT  prometheus.Histogram     // the server's pings to its clients
	// unauthorized counts requests refused for a missing or wrong token.
	unauthorized prometheus.Counter
	handler      fasthttp.RequestHandler
}

// latencyBuckets span 10 µs to about 80 s, doubling: tiny direct calls to
// the longest jobs a timeout allows.
var latencyBuckets = prometheus.ExponentialBuckets(10e-6, 2, 24)

// deathCounter is an executor that counts its workers' deaths (package
// executor's Subprocess).
type deathCounter interface{ Deaths() int64 }

func newMetrics(s *Server) *metrics {
	m := &metrics{s: s, reg: prometheus.NewRegistry()}
	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "crunch_requests_total",
		Help: "Compute requests answered, by op, executor, implementation and outcome (ok or the error code).",
	}, []string{"op", "exec", "impl", "outcome"})
	m.queue = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "crunch_request_queue_seconds", Help: "Time successful requests waited for an executor slot.",
		Buckets: latencyBuckets,
	}, []string{"op", "exec"})
	m.run = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "crunch_request_run_seconds", Help: "Time successful requests ran on their executor.",
		Buckets: latencyBuckets,
	}, []string{"op", "exec"})
	m.pingRTT = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "crunch_ping_rtt_seconds", Help: "Round trips of the server's WebSocket pings to its clients, pong received.",
		Buckets: prometheus.ExponentialBuckets(50e-6, 2, 18),
	})
	m.unauthorized = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "crunch_unauthorized_total", Help: "HTTP requests and WebSocket upgrades refused with 401 for a missing or wrong token (--auth-token-file).",
	})
	m.reg.MustRegister(m.requests, m.queue, m.run, m.pingRTT, m.unauthorized, &stateCollector{s},
		collectors.NewGoCollector(collectors.WithGoCollectorRuntimeMetrics(
			// How long goroutines wait to run once runnable
			// (go_sched_latencies_seconds): the Go side of a slow ping,
			// e.g. every P held by a thread inside a cgo call.
			collectors.GoRuntimeMetricsRule{Matcher: regexp.MustCompile(`^/sched/latencies:seconds$`)},
		)), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if s.cfg.Cluster != nil {
		m.reg.MustRegister(clusterCollector{s.cfg.Cluster})
	}
	m.handler = fasthttpadaptor.NewFastHTTPHandler(promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{}))
	return m
}

// answered counts one answered compute request. op must be a registered
// op's name (or "unknown"), so that clients cannot grow the label set.
func (m *metrics) answered(op, exec, impl string, err error, out *executor.Outcome) {
	m.s.answered.Add(1)
	outcome := "ok"
	if err != nil {
		outcome = string(wire.AsError(err).Code)
		m.s.failed.Add(1)
	}
	m.requests.WithLabelValues(op, exec, impl, outcome).Inc()
	if err == nil && out != nil {
		m.queue.WithLabelValues(op, exec).Observe(float64(out.QueueUS) / 1e6)
		m.run.WithLabelValues(op, exec).Observe(float64(out.RunUS) / 1e6)
	}
}

// pong records a ping's round trip.
func (m *metrics) pong(rtt time.Duration) { m.pingRTT.Observe(rtt.Seconds()) }

// stateCollector reads the server's live state at each scrape: connections
// and, per executor, slots, busy slots, queued jobs and worker deaths.
type stateCollector struct{ s *Server }

var (
	connectionsDesc = prometheus.NewDesc("crunch_connections", "Open WebSocket connections.", nil, nil)
	slotsDesc       = prometheus.NewDesc("crunch_executor_slots", "Jobs an executor runs at once (0: no cap).", []string{"exec"}, nil)
	busyDesc        = prometheus.NewDesc("crunch_executor_busy", "Jobs running on an executor.", []string{"exec"}, nil)
	queuedDesc      = prometheus.NewDesc("crunch_executor_queued", "Jobs waiting for an executor slot.", []string{"exec"}, nil)
	largeHeldDesc   = prometheus.NewDesc("crunch_large_messages_held",
		"Messages over 256 KiB being read or answered, each holding one of --max-large tokens.", nil, nil)
	largeWaitsDesc = prometheus.NewDesc("crunch_large_message_waits_total",
		"Large messages whose reading waited for a token (--max-large) while others were answered.", nil, nil)
	largeRefusedDesc = prometheus.NewDesc("crunch_large_messages_refused_total",
		"Large messages refused with overloaded after waiting --large-wait for a token.", nil, nil)
	shmRegionsDesc = prometheus.NewDesc("crunch_shm_regions",
		"Shared memory regions mapped for connections over the Unix socket (an unregistered region stays until its last request is done with it).", nil, nil)
	shmBytesDesc = prometheus.NewDesc("crunch_shm_mapped_bytes",
		"Bytes of shared memory mapped for connections over the Unix socket.", nil, nil)
	msgBufDesc = prometheus.NewDesc("crunch_message_buffer_bytes",
		"Bytes mapped outside the Go heap for large messages and results, in use or kept idle for reuse (unmapped after a few idle seconds).", nil, nil)
	msgBufInUseDesc = prometheus.NewDesc("crunch_message_buffer_in_use_bytes",
		"Bytes of those buffers in use: large messages being read or handled, and results until their reply is written.", nil, nil)
	reclaimsDesc = prometheus.NewDesc("crunch_memory_reclaims_total",
		"Times the server collected garbage and returned free memory to the system after a burst of work.", nil, nil)
	deathsDesc = prometheus.NewDesc("crunch_worker_deaths_total",
		"Subprocess workers that died (crashed, were killed or broke the protocol) and were restarted.", []string{"exec"}, nil)
)

// Describe sends the descriptors of every metric Collect sends.
func (c *stateCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{connectionsDesc, slotsDesc, busyDesc, queuedDesc, largeHeldDesc, largeWaitsDesc, largeRefusedDesc, shmRegionsDesc, shmBytesDesc, msgBufDesc, msgBufInUseDesc, reclaimsDesc, deathsDesc} {
		ch <- d
	}
}

// Collect reads the state now.
func (c *stateCollector) Collect(ch chan<- prometheus.Metric) {
	c.s.mu.Lock()
	conns := len(c.s.sessions)
	c.s.mu.Unlock()
	ch <- prometheus.MustNewConstMetric(connectionsDesc, prometheus.GaugeValue, float64(conns))
	ch <- prometheus.MustNewConstMetric(largeHeldDesc, prometheus.GaugeValue, float64(len(c.s.large)))
	ch <- prometheus.MustNewConstMetric(largeWaitsDesc, prometheus.CounterValue, float64(c.s.largeWaits.Load()))
	ch <- prometheus.MustNewConstMetric(largeRefusedDesc, prometheus.CounterValue, float64(c.s.largeRefused.Load()))
	ch <- prometheus.MustNewConstMetric(shmRegionsDesc, prometheus.GaugeValue, float64(c.s.shm.regions.Load()))
	ch <- prometheus.MustNewConstMetric(shmBytesDesc, prometheus.GaugeValue, float64(c.s.shm.bytes.Load()))
	ch <- prometheus.MustNewConstMetric(msgBufDesc, prometheus.GaugeValue, float64(c.s.bufs.Mapped()))
	ch <- prometheus.MustNewConstMetric(msgBufInUseDesc, prometheus.GaugeValue, float64(c.s.bufs.InUse()))
	ch <- prometheus.MustNewConstMetric(reclaimsDesc, prometheus.CounterValue, float64(c.s.mem.reclaims.Load()))
	for name, ex := range c.s.cfg.Executors {
		l := ex.Load()
		ch <- prometheus.MustNewConstMetric(slotsDesc, prometheus.GaugeValue, float64(l.Slots), name)
		ch <- prometheus.MustNewConstMetric(busyDesc, prometheus.GaugeValue, float64(l.Busy), name)
		ch <- prometheus.MustNewConstMetric(queuedDesc, prometheus.GaugeValue, float64(l.Queued), name)
		if d, ok := ex.(deathCounter); ok {
			ch <- prometheus.MustNewConstMetric(deathsDesc, prometheus.CounterValue, float64(d.Deaths()), name)
		}
	}
}
