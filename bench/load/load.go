package load

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/crunchsvc/crunch/service/client"
	"github.com/crunchsvc/crunch/service/wire"
)

// Request is one call the load sends.
type Request struct {
	Op      string
	Args    wire.Args // read, never modified: one Args may serve every request
	Exec    string    // "" or "auto", "direct", "pool", "subprocess"
	Impl    string    // "" or "auto", "c", "go", "gonum"
	Timeout time.Duration
}

// RequestFunc builds request number seq (0, 1, …) of connection conn
// (0 … Conns-1). It is called from many goroutines at once.
type RequestFunc func(conn, seq int) Request

// LoadConfig describes a closed-loop load: Conns connections, each keeping
// InFlight requests outstanding, a new one sent as soon as one completes.
type LoadConfig struct {
	Addr     string // host:port of the server
	Conns    int    // connections (default 1)
	InFlight int    // requests outstanding per connection (default 1)
	// Warmup runs before the measured window; requests completing in it
	// are not counted.
	Warmup time.Duration
	// Duration is the measured window: requests completing in it count.
	Duration time.Duration
	// Drain is how long requests still in flight at the window's end may
	// take to finish before they are cancelled (default 10 s).
	Drain   time.Duration
	Request RequestFunc
}

// LoadResult is what the load measured in its window.
type LoadResult struct {
	Conns           int     `json:"conns"`
	InFlightPerConn int     `json:"in_flight_per_conn"`
	WarmupS         float64 `json:"warmup_s"`
	DurationS       float64 `json:"duration_s"`
	// OK and Failed count the requests that completed in the window.
	OK     int64 `json:"ok"`
	Failed int64 `json:"failed"`
	// ThroughputPerS is OK per second of the window.
	ThroughputPerS float64 `json:"throughput_per_s"`
	// Latency is the client's round trip of the successful requests.
	Latency Latency `json:"latency"`
	// ServerQueue and ServerRun are the same requests' queue_us and run_us
	// as the server reported them: waiting for an executor, and running.
	ServerQueue Latency `json:"server_queue"`
	ServerRun   Latency `json:"server_run"`
	// ErrorsByCode counts failure replies by protocol error code.
	ErrorsByCode map[string]int64 `json:"errors_by_code"`
	// AbnormalCloses counts connections that failed (not closed by us)
	// during the whole run, warm-up included; each was dialled again.
	AbnormalCloses int64        `json:"abnormal_closes"`
	ConnErrors     []ErrorCount `json:"conn_errors,omitempty"`
	// Unfinished counts requests still in flight when the drain ended.
	Unfinished int64 `json:"unfinished"`
}

// Load is a closed-loop load in progress.
type Load struct {
	cfg   LoadConfig
	conns []*conn
	log   errorLog
	// Start, MeasureStart and End bound the warm-up and the window.
	Start, MeasureStart, End time.Time

	ok, failed atomic.Int64 // in the window, for Progress
	wg         sync.WaitGroup
	cancel     context.CancelFunc

	mu  sync.Mutex
	rec recorder
}

// recorder collects one worker's observations, merged at its end.
type recorder struct {
	lat, queue, run []time.Duration
	codes           map[string]int64
	unfinished      int64
}

func (r *recorder) merge(o *recorder) {
	r.lat = append(r.lat, o.lat...)
	r.queue = append(r.queue, o.queue...)
	r.run = append(r.run, o.run...)
	for k, v := range o.codes {
		r.codes[k] += v
	}
	r.unfinished += o.unfinished
}

// StartLoad dials every connection, then starts the clock and the load.
func StartLoad(ctx context.Context, cfg LoadConfig) (*Load, error) {
	if cfg.Request == nil {
		return nil, errors.New("load: no Request function")
	}
	if cfg.Duration <= 0 {
		return nil, fmt.Errorf("load: duration %v is not positive", cfg.Duration)
	}
	cfg.Conns = max(cfg.Conns, 1)
	cfg.InFlight = max(cfg.InFlight, 1)
	if cfg.Drain <= 0 {
		cfg.Drain = 10 * time.Second
	}
	l := &Load{cfg: cfg, rec: recorder{codes: map[string]int64{}}}
	for i := range cfg.Conns {
		c, err := dialConn(ctx, cfg.Addr, &l.log)
		if err != nil {
			for _, c := range l.conns {
				c.close()
			}
			return nil, fmt.Errorf("load: connection %d: %w", i, err)
		}
		l.conns = append(l.conns, c)
	}
	l.Start = time.Now()
	l.MeasureStart = l.Start.Add(cfg.Warmup)
	l.End = l.MeasureStart.Add(cfg.Duration)
	runCtx, cancel := context.WithDeadline(ctx, l.End.Add(cfg.Drain))
	l.cancel = cancel
	for ci, c := range l.conns {
		var seq atomic.Int64
		for range cfg.InFlight {
			l.wg.Add(1)
			go func() {
				defer l.wg.Done()
				l.worker(runCtx, ci, c, &seq)
			}()
		}
	}
	return l, nil
}

// worker sends requests on c one after another until the window ends.
func (l *Load) worker(ctx context.Context, ci int, c *conn, seq *atomic.Int64) {
	rec := recorder{codes: map[string]int64{}}
	defer func() {
		l.mu.Lock()
		l.rec.merge(&rec)
		l.mu.Unlock()
	}()
	for ctx.Err() == nil && time.Now().Before(l.End) {
		r := l.cfg.Request(ci, int(seq.Add(1)-1))
		cl, gen := c.get()
		t0 := time.Now()
		rep, err := cl.Do(ctx, &wire.Request{Op: r.Op, Args: r.Args},
			&client.Options{Exec: r.Exec, Impl: r.Impl, Timeout: r.Timeout})
		t1 := time.Now()
		inWindow := !t1.Before(l.MeasureStart) && !t1.After(l.End)
		var we *wire.Error
		switch {
		case err == nil:
			if inWindow {
				l.ok.Add(1)
				rec.lat = append(rec.lat, t1.Sub(t0))
				if rep.Stats != nil {
					rec.queue = append(rec.queue, time.Duration(rep.Stats.QueueUS)*time.Microsecond)
					rec.run = append(rec.run, time.Duration(rep.Stats.RunUS)*time.Microsecond)
				}
			}
		case errors.As(err, &we):
			if inWindow {
				l.failed.Add(1)
				rec.codes[string(we.Code)]++
			}
			if we.Code == wire.Overloaded { // back off as told, within reason
				wait := min(max(time.Duration(we.RetryAfterMS)*time.Millisecond, time.Millisecond), time.Second)
				select {
				case <-ctx.Done():
				case <-time.After(wait):
				}
			}
		case ctx.Err() != nil:
			rec.unfinished++ // cancelled at the end of the drain
		default:
			c.failed(ctx, gen, err)
		}
	}
}

// Progress returns the successes and failures counted so far in the
// window.
func (l *Load) Progress() (ok, failed int64) { return l.ok.Load(), l.failed.Load() }

// Wait waits for the load to end (window and drain), closes its
// connections and returns what it measured.
func (l *Load) Wait() LoadResult {
	l.wg.Wait()
	l.cancel()
	var closes int64
	for _, c := range l.conns {
		closes += c.abnormalCloses()
		c.close()
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	r := &l.rec
	var failed int64
	for _, n := range r.codes {
		failed += n
	}
	return LoadResult{
		Conns:           l.cfg.Conns,
		InFlightPerConn: l.cfg.InFlight,
		WarmupS:         l.cfg.Warmup.Seconds(),
		DurationS:       l.cfg.Duration.Seconds(),
		OK:              int64(len(r.lat)),
		Failed:          failed,
		ThroughputPerS:  float64(len(r.lat)) / l.cfg.Duration.Seconds(),
		Latency:         Summarize(r.lat),
		ServerQueue:     Summarize(r.queue),
		ServerRun:       Summarize(r.run),
		ErrorsByCode:    r.codes,
		AbnormalCloses:  closes,
		ConnErrors:      l.log.snapshot(),
		Unfinished:      r.unfinished,
	}
}
