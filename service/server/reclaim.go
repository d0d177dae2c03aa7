package server

import (
	"context"
	"runtime"
	"runtime/debug"
	rtmetrics "runtime/metrics"
	"sync"
	"sync/atomic"
	"time"

	"github.com/crunchsvc/crunch/cgo"
)

// Memory that comes back after a burst of work.
//
// Go returns memory to the system only once a garbage collection has found
// it dead, and collects only when the program allocates. A server that
// goes quiet after a burst (large messages, their results, the read chunks
// pooled for them, the buffers of connections that closed) therefore kept
// all of it, most of it garbage, until the runtime's forced collection two
// minutes later, and then returned it only gradually: 8 s after a burst of
// 1,000 connections it held 710 MiB of RSS, 372 MiB of it Go heap in use.
// Neither of the runtime's knobs helps an idle process: GOGC and a memory
// limit (debug.SetMemoryLimit) decide when an allocating program collects,
// and a quiet one does not allocate. So the reclaimer watches for the end
// of a burst and then collects and returns free memory at once
// (debug.FreeOSMemory). The large messages' off-heap buffers (package
// msgbuf) are not the heap's: their pool unmaps them after a few idle
// seconds by itself.
//
// A burst has ended when the process has allocated little for
// reclaimQuiet ticks in a row; it was worth reclaiming after when at least
// reclaimMin bytes were allocated or let go of (replies written or
// dropped, connections closed) since the last reclaim. An idle server
// therefore never collects for nothing, and one under steady load never
// reclaims at all: its own collections keep its heap in proportion.
const (
	reclaimTick  = time.Second
	reclaimQuiet = 2       // quiet ticks in a row before a reclaim
	quietAlloc   = 4 << 20 // at most this allocated in a tick: a quiet tick
	reclaimMin   = 64 << 20
	// closedConnBytes is about what a connection holds, counted as let go
	// of when it closes (see TestIdleConnectionMemory).
	closedConnBytes = 16 << 10
)

// reclaimState is the Server's part in this.
type reclaimState struct {
	start    sync.Once    // the reclaimer, by the first Serve or ServeUnix
	released atomic.Int64 // bytes let go of since the reclaimer last looked
	reclaims atomic.Int64 // reclaims done, for /metrics
}

// letGo counts n bytes that the server no longer holds: garbage a
// collection would find, for the reclaimer.
func (s *Server) letGo(n int) { s.mem.released.Add(int64(n)) }

// reclaimer returns memory to the system after each burst of work, until
// ctx ends.
func (s *Server) reclaimer(ctx context.Context) {
	sample := []rtmetrics.Sample{{Name: "/gc/heap/allocs:bytes"}}
	allocs := func() int64 {
		rtmetrics.Read(sample)
		return int64(sample[0].Value.Uint64())
	}
	tick := time.NewTicker(reclaimTick)
	defer tick.Stop()
	last := allocs()
	// since counts the bytes allocated or let go of since the last reclaim
	// (or the start).
	since, quiet := int64(0), 0
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		now := allocs()
		allocated := now - last
		last = now
		since += allocated + s.mem.released.Swap(0)
		if allocated >= quietAlloc {
			quiet = 0
			continue
		}
		if quiet++; quiet < reclaimQuiet || since < reclaimMin {
			continue
		}
		s.reclaim(since)
		since, quiet, last = 0, 0, allocs() // the reclaim's own allocations do not count
	}
}

// reclaim collects and returns every free page to the system.
func (s *Server) reclaim(since int64) {
	began := time.Now()
	before := heapInUse()
	// sync.Pool keeps what it held before a collection in a victim cache
	// until the next one: two collections free the pooled read chunks.
	runtime.GC()
	debug.FreeOSMemory()
	// The C kernels' work buffers kept for later calls, and the memory
	// they freed, which glibc keeps in its arenas.
	cgo.ReleaseWorkBuffers()
	cgo.TrimMalloc()
	s.mem.reclaims.Add(1)
	s.cfg.Log.Debug("memory returned", "since_last_mib", since>>20,
		"heap_in_use_mib_before", before>>20, "heap_in_use_mib_after", heapInUse()>>20,
		"took", time.Since(began).Round(time.Microsecond).String())
}

// heapInUse is the Go heap's in-use spans (what go_memstats_heap_inuse_bytes
// reports), without stopping the world.
func heapInUse() int64 {
	s := []rtmetrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}, {Name: "/memory/classes/heap/unused:bytes"}}
	rtmetrics.Read(s)
	return int64(s[0].Value.Uint64() + s[1].Value.Uint64())
}
