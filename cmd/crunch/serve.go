package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"runtime"
	"syscall"
	"time"

	"github.com/crunchsvc/crunch/service/executor"
	"github.com/crunchsvc/crunch/service/profile"
	"github.com/crunchsvc/crunch/service/server"
)

// serve runs the server until SIGINT or SIGTERM, then drains: a second
// signal exits at once.
func serve(args []string) error {
	d := server.DefaultConfig()
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	addr := fs.String("addr", d.Addr, "listen address (host:port)")
	unixPath := fs.String("unix", "", "also serve on this Unix socket path (mode 0660): clients on this machine may pass arrays through shared memory there")
	shmMaxRegions := fs.Int("shm-max-regions", d.ShmMaxRegions, "shared memory regions one Unix-socket connection may register (too_large beyond)")
	shmMaxBytes := byteSize(d.ShmMaxBytes)
	fs.Var(&shmMaxBytes, "shm-max-bytes", "shared memory one Unix-socket connection may register, e.g. 16GiB (too_large beyond); the memory is the client's, this bounds what the server maps")
	poolWorkers := fs.Int("pool-workers", runtime.GOMAXPROCS(0), "pool executor: OS threads running kernels")
	poolQueue := fs.Int("pool-queue", 0, "pool executor: jobs that may wait for a worker (0: 64 per worker); beyond it, overloaded")
	workers := fs.Int("workers", runtime.GOMAXPROCS(0), "subprocess executor: worker processes (0 disables it)")
	workerQueue := fs.Int("worker-queue", 0, "subprocess executor: jobs that may wait for a worker (0: 64 per worker)")
	var workerMem byteSize
	fs.Var(&workerMem, "worker-mem", "subprocess executor: memory one job may allocate in a worker, e.g. 2GiB (RLIMIT_AS above the idle worker; beyond it the job fails with too_large or worker_failed); 0: no limit")
	workerMaxJobs := fs.Int("worker-max-jobs", 0, "subprocess executor: retire a worker after this many jobs, a fresh one taking its place (0: never)")
	poolAffinity := fs.String("pool-affinity", "none", `pool executor: pin workers to CPUs: "none", "all" (one CPU each, in turn) or a list such as "0-3,6"`)
	poolSpin := fs.Duration("pool-spin", executor.DefaultSpin, "pool executor: an idle worker polls for work this long before parking its thread (0: never)")
	computePriority := fs.String("compute-priority", string(executor.PriorityLow),
		`scheduling class of the threads that run kernels (pool workers and subprocess workers): "low" (SCHED_BATCH at nice 19, and with --compute-cgroup a cgroup of the least weight: about 0.2% of a contended CPU, so sockets are served first), "idle" (SCHED_IDLE, in a cgroup marked idle: the same share, but clients' wake-ups waited longer behind it; see docs/PERFORMANCE.md) or "normal"`)
	computeCgroup := fs.String("compute-cgroup", "auto",
		`with --compute-priority idle or low: "auto" puts the threads that run kernels (the subprocess workers, and the threads of the C library's own on which pool workers run their C kernels) in a cpu cgroup of their own, crunch-compute-PID under the server's, of the least weight (low) or marked idle (cpu.idle=1, idle), so that they yield to the threads of other sessions and cgroups too, not only to the server's own (needs cgroup v1's cpu controller or a delegated cgroup v2, and root or the cgroup's owner; without them a warning, the subprocess workers' own autogroup at nice 19, and pool kernels on the workers' own threads); "off": not. Threads that run Go code never go there: a starved one would hold up the Go runtime`)
	profilePath := fs.String("profile", "", "exec profile (JSON, written by make bench) that exec=auto follows; default: built-in rules (see --auto-direct-below)")
	directMax := fs.Int("direct-max", runtime.GOMAXPROCS(0), "direct executor: calls running at once, beyond which a call waits for a slot within its deadline (exec=auto sends it to the pool instead); each holds an OS thread at normal priority, competing with the socket threads (0: no cap)")
	maxMessage := fs.Int64("max-message", d.MaxMessage, "largest WebSocket message in bytes (larger: close 1009)")
	maxElements := fs.Int64("max-elements", d.MaxElements, "largest tensor, argument or result, in elements (too_large)")
	maxInflight := fs.Int("max-inflight", d.MaxInFlight, "requests in flight per connection (overloaded)")
	maxTotal := fs.Int("max-total", d.MaxTotal, "requests in flight on the whole server (overloaded)")
	maxConns := fs.Int("max-conns", d.MaxConns, "open connections; beyond it a WebSocket upgrade gets HTTP 503")
	maxThreads := fs.Int("max-threads", 0, `threads one request's kernel may use (its "threads" field is capped to this, and is this when absent): on the pool, its own worker and idle ones; on subprocess, its worker process's thread and one per idle worker it borrows (0: the workers of the larger of the two)`)
	maxLarge := fs.Int("max-large", d.MaxLarge, "messages over 256 KiB held at once, from reading to answering, at most a quarter of them (at least 1) per connection; the next waits unread (its client's socket fills) until one is answered, which bounds memory when many clients send large arrays")
	largeWait := fs.Duration("large-wait", d.LargeWait, "a large message waits this long for its --max-large token; then it is read into nothing and refused with overloaded, and what its client sent after it is answered")
	autoThreshold := fs.Float64("auto-direct-below", d.AutoThreshold, "exec=auto runs calls with less work than this (multiply-adds, iterations) directly, the rest on the pool")
	timeout := fs.Duration("timeout", d.DefaultTimeout, "deadline of a request that sets no timeout_ms")
	maxTimeout := fs.Duration("max-timeout", d.MaxTimeout, "timeout_ms is capped to this")
	pingInterval := fs.Duration("ping-interval", d.PingInterval, "server pings every connection this often")
	pingTimeout := fs.Duration("ping-timeout", d.PingTimeout, "a connection silent this long (not even a pong) is closed")
	grace := fs.Duration("grace", d.Grace, "on SIGTERM, in-flight requests get this long to finish")
	goProcs := fs.Int("go-procs", defaultGoProcs(), "threads running the server's Go code at once (GOMAXPROCS); default: twice the CPUs it may use (or $GOMAXPROCS), so that sockets busy with large messages leave one free to notice a ping; kernels run on threads of their own, counted by --pool-workers and --workers")
	logLevel := fs.String("log-level", "info", "debug, info, warn or error")
	nf := natsFlags(fs)
	sf := securityFlags(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *maxThreads < 0 {
		return fmt.Errorf("--max-threads %d: want 0 (the executors' workers) or more", *maxThreads)
	}
	if err := setGoProcs(*goProcs); err != nil {
		return err
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		return fmt.Errorf("--log-level: %w", err)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	tlsConfig, token, err := sf.load(log)
	if err != nil {
		return err
	}
	if err := sf.check(*addr, *nf.listen, tlsConfig != nil, token != "", log); err != nil {
		return err
	}
	priority, err := executor.ParsePriority(*computePriority)
	if err != nil {
		return fmt.Errorf("--compute-priority: %w", err)
	}
	if *computeCgroup != "auto" && *computeCgroup != "off" {
		return fmt.Errorf("--compute-cgroup %q: want auto or off", *computeCgroup)
	}
	cpus, err := executor.ParseCPUs(*poolAffinity)
	if err != nil {
		return fmt.Errorf("--pool-affinity: %w", err)
	}
	spin := *poolSpin
	if spin <= 0 {
		spin = -1 // the pool's "never"
	}
	var prof *profile.Profile
	if *profilePath != "" {
		if prof, err = profile.Load(*profilePath); err != nil {
			return fmt.Errorf("--profile: %w", err)
		}
		log.Info("exec profile loaded", "path", *profilePath, "host", prof.Host, "created", prof.Created)
	}

	var group *executor.ComputeGroup
	if *computeCgroup == "auto" {
		group = computeGroup(priority, log)
		// Closed after the executors (deferred below, so run before).
		defer func() {
			if err := group.Close(); err != nil {
				log.Warn("compute cgroup left behind", "err", err)
			}
		}()
	}
	execs := map[string]executor.Executor{
		executor.NameDirect: executor.NewDirect(*directMax),
		executor.NamePool: executor.NewPool(executor.PoolConfig{
			Workers: *poolWorkers, Queue: *poolQueue, Priority: priority, CPUs: cpus, Spin: spin, Group: group, Log: log,
		}),
	}
	if *workers > 0 {
		sub, err := executor.NewSubprocess(executor.SubprocessConfig{
			Workers: *workers, Queue: *workerQueue, Priority: priority, Group: group,
			MemoryLimit: int64(workerMem), MaxJobs: *workerMaxJobs, Log: log,
		})
		if err != nil {
			return fmt.Errorf("starting subprocess workers: %w", err)
		}
		execs[executor.NameSubprocess] = sub
	}
	defer func() {
		for _, ex := range execs {
			ex.Close()
		}
	}()

	// Cluster (see cluster.go): nothing without --nats or --nats-listen.
	node, err := nf.join(*addr, execs, log)
	if err != nil {
		return err
	}
	if node != nil {
		defer nf.close(node, log)
	}
	srv, err := server.New(server.Config{
		NodeName: nf.nodeName(node), AutoSpill: nf.spillExec(node, execs), Cluster: node,
		Addr: *addr, Unix: *unixPath, TLS: tlsConfig, Token: token, ShmMaxRegions: *shmMaxRegions, ShmMaxBytes: int64(shmMaxBytes),
		Executors: execs, Profile: prof, AutoThreshold: *autoThreshold,
		MaxMessage: *maxMessage, MaxElements: *maxElements, MaxInFlight: *maxInflight, MaxTotal: *maxTotal, MaxConns: *maxConns, MaxLarge: *maxLarge, LargeWait: *largeWait, MaxThreads: *maxThreads,
		DefaultTimeout: *timeout, MaxTimeout: *maxTimeout,
		PingInterval: *pingInterval, PingTimeout: *pingTimeout, Grace: *grace, Log: log,
	})
	if err != nil {
		return err
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()

	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	select {
	case err := <-errc:
		return err
	case sig := <-sigs:
		log.Info("draining", "signal", sig.String(), "grace", grace.String())
		// Compute threads below normal priority would wait for the CPU
		// to notice a cancel, and even to exit, while other work keeps it.
		raisePriorities(execs, log)
		go func() {
			<-sigs
			log.Warn("second signal: exiting now")
			group.Close() // os.Exit skips the deferred calls; nil-safe
			os.Exit(1)
		}()
		ctx, cancel := context.WithTimeout(context.Background(), *grace+5*time.Second)
		defer cancel()
		stopNode := nf.drain(node, *grace) // hands work it runs for others back after grace
		err := srv.Shutdown(ctx)
		stopNode()
		if err != nil && !errors.Is(err, context.DeadlineExceeded) {
			return err
		}
		log.Info("stopped")
		return nil
	}
}

// computeGroup makes the cpu cgroup of the subprocess workers and of the
// pool's kernel threads for priority (none for normal), or says in the log
// why it cannot: they then have their scheduling class, and the
// subprocess workers their autogroup's nice.
func computeGroup(priority executor.Priority, log *slog.Logger) *executor.ComputeGroup {
	g, err := executor.NewComputeGroup(priority)
	switch {
	case err != nil:
		log.Warn("compute threads stay in the server's cpu cgroup: clients in other cgroups may wait milliseconds for the CPU behind them (--compute-cgroup)", "err", err)
	case g != nil:
		log.Info("compute threads (subprocess workers, pool kernels) in a cpu cgroup of their own", "cgroup", g.Dir(), "setting", g.Setting())
	}
	return g
}

// raisePriorities gives the executors' compute threads normal priority
// back (executor.PriorityRaiser), so that a draining or exiting server is
// not held up by threads the machine's other work starves. Without
// CAP_SYS_NICE that is not allowed, which the log says once.
func raisePriorities(execs map[string]executor.Executor, log *slog.Logger) {
	for name, ex := range execs {
		if r, ok := ex.(executor.PriorityRaiser); ok {
			if err := r.RaisePriority(); err != nil {
				log.Warn("compute threads stay below normal priority while draining", "executor", name, "err", err)
			}
		}
	}
}
