package load

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/crunchsvc/crunch/service/wire"
)

// ProbeConfig describes the probe: one connection that carries nothing but
// the protocol's ping op, sent on a fixed schedule.
type ProbeConfig struct {
	Addr     string        // host:port of the server
	Interval time.Duration // between pings (default 10 ms)
	Timeout  time.Duration // a ping unanswered this long is lost (default 1 s)
}

// ProbeResult is what the probe measured.
type ProbeResult struct {
	IntervalMs float64 `json:"interval_ms"`
	TimeoutMs  float64 `json:"timeout_ms"`
	Sent       int64   `json:"sent"`
	Answered   int64   `json:"answered"`
	// Lost counts pings without an answer within the timeout, or that
	// failed (see ErrorsByCode and AbnormalCloses).
	Lost int64 `json:"lost"`
	// RTT is the round trip of the answered pings.
	RTT            Latency          `json:"rtt"`
	ErrorsByCode   map[string]int64 `json:"errors_by_code,omitempty"`
	AbnormalCloses int64            `json:"abnormal_closes"`
	ConnErrors     []ErrorCount     `json:"conn_errors,omitempty"`
}

// Probe pings a server from its own, otherwise idle connection.
type Probe struct {
	cfg ProbeConfig
	log errorLog
	c   *conn

	sent, answered, lost atomic.Int64
	mu                   sync.Mutex
	rtts                 []time.Duration
	codes                map[string]int64
}

// DialProbe opens the probe's connection; Run sends the pings.
func DialProbe(ctx context.Context, cfg ProbeConfig) (*Probe, error) {
	if cfg.Interval <= 0 {
		cfg.Interval = 10 * time.Millisecond
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = time.Second
	}
	p := &Probe{cfg: cfg, codes: map[string]int64{}}
	c, err := dialConn(ctx, cfg.Addr, &p.log)
	if err != nil {
		return nil, err
	}
	p.c = c
	return p, nil
}

// Run sends a ping every interval until the time until, each on schedule
// whether or not the previous ones were answered (a slow answer must not
// delay the next ping and hide the stall), then waits for the outstanding
// ones and returns the result. It may be called once.
func (p *Probe) Run(ctx context.Context, until time.Time) ProbeResult {
	var wg sync.WaitGroup
	t := time.NewTicker(p.cfg.Interval)
	defer t.Stop()
	for now := time.Now(); now.Before(until) && ctx.Err() == nil; now = <-t.C {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.ping(ctx)
		}()
	}
	wg.Wait()
	p.mu.Lock()
	defer p.mu.Unlock()
	return ProbeResult{
		IntervalMs:     ms(p.cfg.Interval),
		TimeoutMs:      ms(p.cfg.Timeout),
		Sent:           p.sent.Load(),
		Answered:       p.answered.Load(),
		Lost:           p.lost.Load(),
		RTT:            Summarize(p.rtts),
		ErrorsByCode:   p.codes,
		AbnormalCloses: p.c.abnormalCloses(),
		ConnErrors:     p.log.snapshot(),
	}
}

// ping sends one ping and records its fate.
func (p *Probe) ping(ctx context.Context) {
	pctx, cancel := context.WithTimeout(ctx, p.cfg.Timeout)
	defer cancel()
	cl, gen := p.c.get()
	p.sent.Add(1)
	rtt, err := cl.Ping(pctx)
	var we *wire.Error
	switch {
	case err == nil:
		p.answered.Add(1)
		p.mu.Lock()
		p.rtts = append(p.rtts, rtt)
		p.mu.Unlock()
	case ctx.Err() != nil:
		p.sent.Add(-1) // the caller gave up: not the server's fault
	case pctx.Err() != nil:
		p.lost.Add(1)
	case errors.As(err, &we):
		p.lost.Add(1)
		p.mu.Lock()
		p.codes[string(we.Code)]++
		p.mu.Unlock()
	default:
		p.lost.Add(1)
		p.c.failed(ctx, gen, err)
	}
}

// Progress returns the pings sent, answered and lost so far.
func (p *Probe) Progress() (sent, answered, lost int64) {
	return p.sent.Load(), p.answered.Load(), p.lost.Load()
}

// Close closes the probe's connection.
func (p *Probe) Close() { p.c.close() }
