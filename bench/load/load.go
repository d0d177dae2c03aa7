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
	// Windows splits Duration into this many equal, consecutive windows,
	// each summarised on its own (default 1): repetitions of the
	// measurement that share one warm-up and one set of connections.
	Windows int
	// Drain is how long requests still in flight at the window's end may
	// take to finish before they are cancelled (default 10 s).
	Drain   time.Duration
	Request RequestFunc
	// Idle dials the connections but sends nothing on them: with a probe,
	// a measure of the unloaded server and machine, the floor under the
	// loaded figures. Request may then be nil.
	Idle bool
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
	// Windows has the figures of each of LoadConfig.Windows windows when
	// there are more than one (the counts of the whole run above are their
	// sums): OK, Failed, ThroughputPerS, the latencies and ErrorsByCode.
	Windows []LoadResult `json:"windows,omitempty"`
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
	win        []windowRecord // one per window
	unfinished int64
}

// windowRecord is what completed in one window.
type windowRecord struct {
	lat, queue, run []time.Duration
	codes           map[string]int64
}

func newRecorder(windows int) recorder {
	r := recorder{win: make([]windowRecord, windows)}
	for i := range r.win {
		r.win[i].codes = map[string]int64{}
	}
	return r
}

func (r *recorder) merge(o *recorder) {
	for i := range r.win {
		r.win[i].merge(&o.win[i])
	}
	r.unfinished += o.unfinished
}

func (w *windowRecord) merge(o *windowRecord) {
	w.lat = append(w.lat, o.lat...)
	w.queue = append(w.queue, o.queue...)
	w.run = append(w.run, o.run...)
	for k, v := range o.codes {
		w.codes[k] += v
	}
}

// result summarises w, measured over d.
func (w *windowRecord) result(d time.Duration) LoadResult {
	var failed int64
	for _, n := range w.codes {
		failed += n
	}
	return LoadResult{
		DurationS:      d.Seconds(),
		OK:             int64(len(w.lat)),
		Failed:         failed,
		ThroughputPerS: float64(len(w.lat)) / d.Seconds(),
		Latency:        Summarize(w.lat),
		ServerQueue:    Summarize(w.queue),
		ServerRun:      Summarize(w.run),
		ErrorsByCode:   w.codes,
	}
}

// windowOf is the index of the window that t, within the measured window
// that starts at start, falls in: n equal windows of each.
func windowOf(t, start time.Time, each time.Duration, n int) int {
	return min(max(int(t.Sub(start)/each), 0), n-1)
}

// StartLoad dials every connection, then starts the clock and the load.
func StartLoad(ctx context.Context, cfg LoadConfig) (*Load, error) {
	if cfg.Request == nil && !cfg.Idle {
		return nil, errors.New("load: no Request function")
	}
	if cfg.Duration <= 0 {
		return nil, fmt.Errorf("load: duration %v is not positive", cfg.Duration)
	}
	cfg.Conns = max(cfg.Conns, 1)
	cfg.InFlight = max(cfg.InFlight, 1)
	cfg.Windows = max(cfg.Windows, 1)
	if cfg.Drain <= 0 {
		cfg.Drain = 10 * time.Second
	}
	l := &Load{cfg: cfg, rec: newRecorder(cfg.Windows)}
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
	rec := newRecorder(l.cfg.Windows)
	each := l.cfg.Duration / time.Duration(l.cfg.Windows)
	defer func() {
		l.mu.Lock()
		l.rec.merge(&rec)
		l.mu.Unlock()
	}()
	if l.cfg.Idle {
		select {
		case <-ctx.Done():
		case <-time.After(time.Until(l.End)):
		}
		return
	}
	for ctx.Err() == nil && time.Now().Before(l.End) {
		r := l.cfg.Request(ci, int(seq.Add(1)-1))
		cl, gen := c.get()
		t0 := time.Now()
		rep, err := cl.Do(ctx, &wire.Request{Op: r.Op, Args: r.Args},
			&client.Options{Exec: r.Exec, Impl: r.Impl, Timeout: r.Timeout})
		t1 := time.Now()
		inWindow := !t1.Before(l.MeasureStart) && !t1.After(l.End)
		w := &rec.win[windowOf(t1, l.MeasureStart, each, l.cfg.Windows)]
		var we *wire.Error
		switch {
		case err == nil:
			if inWindow {
				l.ok.Add(1)
				w.lat = append(w.lat, t1.Sub(t0))
				if rep.Stats != nil {
					w.queue = append(w.queue, time.Duration(rep.Stats.QueueUS)*time.Microsecond)
					w.run = append(w.run, time.Duration(rep.Stats.RunUS)*time.Microsecond)
				}
			}
		case errors.As(err, &we):
			if inWindow {
				l.failed.Add(1)
				w.codes[string(we.Code)]++
			}
			if we.Code == wire.Overloaded { // back off as told, within reason
				wait := max(wire.ClampMS(we.RetryAfterMS, time.Second), time.Millisecond)
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
	n := l.cfg.Windows
	each := l.cfg.Duration / time.Duration(n)
	var all windowRecord
	all.codes = map[string]int64{}
	var windows []LoadResult
	for i := range l.rec.win {
		all.merge(&l.rec.win[i])
		if n > 1 {
			wr := l.rec.win[i].result(each)
			wr.Conns, wr.InFlightPerConn = l.cfg.Conns, l.cfg.InFlight
			windows = append(windows, wr)
		}
	}
	res := all.result(l.cfg.Duration)
	res.Conns, res.InFlightPerConn = l.cfg.Conns, l.cfg.InFlight
	res.WarmupS = l.cfg.Warmup.Seconds()
	res.AbnormalCloses = closes
	res.ConnErrors = l.log.snapshot()
	res.Unfinished = l.rec.unfinished
	res.Windows = windows
	return res
}
