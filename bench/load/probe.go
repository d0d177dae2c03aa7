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

// withDefaults fills in the zero fields.
func (cfg ProbeConfig) withDefaults() ProbeConfig {
	if cfg.Interval <= 0 {
		cfg.Interval = 10 * time.Millisecond
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = time.Second
	}
	return cfg
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
	// Windows has Sent, Answered, Lost, RTT and ErrorsByCode of each
	// window when Run was given more than one, a ping counting in the
	// window it was sent in.
	Windows []ProbeResult `json:"windows,omitempty"`
}

// Probe pings a server from its own, otherwise idle connection.
type Probe struct {
	cfg ProbeConfig
	log errorLog
	c   *conn

	sent, answered, lost atomic.Int64 // for Progress
	mu                   sync.Mutex
	fates                []pingFate
}

// pingFate is what became of one ping.
type pingFate struct {
	sent time.Time
	rtt  time.Duration // when answered
	lost bool
	code string // the error reply's code, when there was one
}

// DialProbe opens the probe's connection; Run sends the pings.
func DialProbe(ctx context.Context, cfg ProbeConfig) (*Probe, error) {
	cfg = cfg.withDefaults()
	p := &Probe{cfg: cfg}
	c, err := dialConn(ctx, cfg.Addr, &p.log)
	if err != nil {
		return nil, err
	}
	p.c = c
	return p, nil
}

// Run waits until from, then sends a ping every interval until the time
// until, each on schedule whether or not the previous ones were answered
// (a slow answer must not delay the next ping and hide the stall), waits
// for the outstanding ones and returns the result; with windows > 1, also
// that of each of as many equal windows from from to until. It may be
// called once.
func (p *Probe) Run(ctx context.Context, from, until time.Time, windows int) ProbeResult {
	select {
	case <-ctx.Done():
	case <-time.After(time.Until(from)):
	}
	var wg sync.WaitGroup
	t := time.NewTicker(p.cfg.Interval)
	defer t.Stop()
	for now := time.Now(); now.Before(until) && ctx.Err() == nil; now = <-t.C {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.ping(ctx, now)
		}()
	}
	wg.Wait()
	p.mu.Lock()
	defer p.mu.Unlock()
	res := summarizePings(p.cfg, p.fates, from, until, windows)
	res.AbnormalCloses = p.c.abnormalCloses()
	res.ConnErrors = p.log.snapshot()
	return res
}

// summarizePings sums up the fates of a probe's pings sent from from until
// until; with windows > 1, also those of each of as many equal windows, a
// ping counting in the window it was sent in. The probe in this process
// and the probe processes that report their pings one by one (the Python
// probe) are summed up by this same code.
func summarizePings(cfg ProbeConfig, fates []pingFate, from, until time.Time, windows int) ProbeResult {
	res := summarizeFates(cfg, fates)
	if windows > 1 {
		each := until.Sub(from) / time.Duration(windows)
		parts := make([][]pingFate, windows)
		for _, f := range fates {
			i := windowOf(f.sent, from, each, windows)
			parts[i] = append(parts[i], f)
		}
		for _, part := range parts {
			res.Windows = append(res.Windows, summarizeFates(cfg, part))
		}
	}
	return res
}

// summarizeFates counts fates and sums up the round trips of the answered.
func summarizeFates(cfg ProbeConfig, fates []pingFate) ProbeResult {
	r := ProbeResult{IntervalMs: ms(cfg.Interval), TimeoutMs: ms(cfg.Timeout), Sent: int64(len(fates)), ErrorsByCode: map[string]int64{}}
	var rtts []time.Duration
	for _, f := range fates {
		switch {
		case f.lost:
			r.Lost++
			if f.code != "" {
				r.ErrorsByCode[f.code]++
			}
		default:
			r.Answered++
			rtts = append(rtts, f.rtt)
		}
	}
	r.RTT = Summarize(rtts)
	return r
}

// ping sends one ping, scheduled at sent, and records its fate.
func (p *Probe) ping(ctx context.Context, sent time.Time) {
	pctx, cancel := context.WithTimeout(ctx, p.cfg.Timeout)
	defer cancel()
	cl, gen := p.c.get()
	p.sent.Add(1)
	rtt, err := cl.Ping(pctx)
	f := pingFate{sent: sent, rtt: rtt}
	var we *wire.Error
	switch {
	case err == nil:
		p.answered.Add(1)
	case ctx.Err() != nil:
		p.sent.Add(-1) // the caller gave up: not the server's fault
		return
	case pctx.Err() != nil:
		f.lost = true
	case errors.As(err, &we):
		f.lost, f.code = true, string(we.Code)
	default:
		f.lost = true
		p.c.failed(ctx, gen, err)
	}
	if f.lost {
		p.lost.Add(1)
	}
	p.mu.Lock()
	p.fates = append(p.fates, f)
	p.mu.Unlock()
}

// Progress returns the pings sent, answered and lost so far.
func (p *Probe) Progress() (sent, answered, lost int64) {
	return p.sent.Load(), p.answered.Load(), p.lost.Load()
}

// Close closes the probe's connection.
func (p *Probe) Close() { p.c.close() }
