package executor

import (
	"sync"
	"sync/atomic"
)

// fairQueue is a bounded queue that serves its tenants (connections) in
// turn: each tenant has its own FIFO, and pop takes the head of the next
// tenant in a round robin over those with work waiting. A client that
// queues a hundred jobs therefore delays another client's one job by at
// most one job per worker, not a hundred. Tenant 0 is an ordinary tenant
// (jobs that name none share it). Safe for concurrent use.
type fairQueue[T any] struct {
	mu      sync.Mutex
	tenants map[uint64]*fifo[T] // tenants with jobs waiting
	ring    []uint64            // the same tenants, in serving order
	next    int                 // index in ring of the tenant served next
	limit   int
	free    []*fifo[T] // emptied FIFOs kept for reuse: no allocation per burst

	// n mirrors the number of queued items, readable without the lock by
	// workers that poll for work.
	n atomic.Int64
}

// fifo is one tenant's queue: a slice used as a ring-less FIFO whose
// consumed head is dropped when it runs empty.
type fifo[T any] struct {
	items []T
	head  int
}

// maxFreeFIFOs bounds the emptied FIFOs a queue keeps for reuse.
const maxFreeFIFOs = 64

func newFairQueue[T any](limit int) *fairQueue[T] {
	return &fairQueue[T]{tenants: make(map[uint64]*fifo[T]), limit: limit}
}

// push queues v for tenant; it reports false, queueing nothing, when the
// queue holds its limit already.
func (q *fairQueue[T]) push(tenant uint64, v T) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	if int(q.n.Load()) >= q.limit {
		return false
	}
	f := q.tenants[tenant]
	if f == nil {
		if k := len(q.free); k > 0 {
			f, q.free = q.free[k-1], q.free[:k-1]
		} else {
			f = &fifo[T]{}
		}
		q.tenants[tenant] = f
		// A newcomer is served after everyone already waiting: inserting
		// it just before the next tenant puts it at the end of the turn.
		q.ring = append(q.ring, 0)
		copy(q.ring[q.next+1:], q.ring[q.next:])
		q.ring[q.next] = tenant
		q.next++
		if q.next == len(q.ring) {
			q.next = 0
		}
	}
	f.items = append(f.items, v)
	q.n.Add(1)
	return true
}

// pop takes the next tenant's oldest item, if any.
func (q *fairQueue[T]) pop() (v T, ok bool) {
	if q.n.Load() == 0 { // the common idle case, without the lock
		return v, false
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.ring) == 0 {
		return v, false
	}
	tenant := q.ring[q.next]
	f := q.tenants[tenant]
	v = f.items[f.head]
	var zero T
	f.items[f.head] = zero // let the item be collected once served
	f.head++
	q.n.Add(-1)
	if f.head == len(f.items) {
		// Emptied: the tenant leaves the turn until it queues again.
		f.items, f.head = f.items[:0], 0
		delete(q.tenants, tenant)
		if len(q.free) < maxFreeFIFOs {
			q.free = append(q.free, f)
		}
		q.ring = append(q.ring[:q.next], q.ring[q.next+1:]...)
	} else {
		q.next++
	}
	if q.next >= len(q.ring) {
		q.next = 0
	}
	return v, true
}

// len returns the number of items queued.
func (q *fairQueue[T]) len() int { return int(q.n.Load()) }
