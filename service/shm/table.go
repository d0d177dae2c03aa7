package shm

import (
	"errors"
	"fmt"
	"sync"
	"unsafe"

	"golang.org/x/sys/unix"
)

// ErrUnknownRegion is wrapped by a Table's errors for a region number the
// connection never registered, has unregistered, or that another
// connection registered.
var ErrUnknownRegion = errors.New("unknown shared-memory region")

// Table is one connection's regions. A region stays mapped while a lease
// uses it, even after Unregister or Close: a kernel still stopping after
// its request was cancelled must not touch unmapped memory.
type Table struct {
	maxRegions int
	maxBytes   int64
	// account, when not nil, learns of every mapping and unmapping (for
	// metrics): regions and bytes added, negative when removed.
	account func(regions int, bytes int64)

	mu      sync.Mutex
	next    int64
	regions map[int64]*region
	bytes   int64 // mapped by this table, leased or not
	closed  bool
}

type region struct {
	m    *Mapping
	refs int  // leases using it
	gone bool // unregistered: unmapped when refs drops to 0
}

// NewTable returns an empty table that maps at most maxRegions regions of
// at most maxBytes in all; account (may be nil) is told of every change.
func NewTable(maxRegions int, maxBytes int64, account func(regions int, bytes int64)) *Table {
	return &Table{maxRegions: maxRegions, maxBytes: maxBytes, account: account, regions: make(map[int64]*region)}
}

// Register checks and maps the memfd fd (see Map) as a new region and
// returns its number. It does not close fd.
func (t *Table) Register(fd int) (id int64, m *Mapping, err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return 0, nil, errors.New("connection closed")
	}
	if len(t.regions) >= t.maxRegions {
		return 0, nil, fmt.Errorf("%w: this connection holds %d regions already, the most allowed", ErrTooLarge, t.maxRegions)
	}
	m, err = Map(fd, t.maxBytes-t.bytes)
	if err != nil {
		return 0, nil, err
	}
	t.next++
	t.regions[t.next] = &region{m: m}
	t.bytes += int64(len(m.Mem))
	if t.account != nil {
		t.account(1, int64(len(m.Mem)))
	}
	return t.next, m, nil
}

// Unregister forgets region id: it can no longer be leased, and it is
// unmapped once the leases using it end.
func (t *Table) Unregister(id int64) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	r, ok := t.regions[id]
	if !ok || r.gone {
		return fmt.Errorf("%w %d", ErrUnknownRegion, id)
	}
	t.drop(id, r)
	return nil
}

// drop marks r gone and unmaps it if no lease uses it (t.mu held).
func (t *Table) drop(id int64, r *region) {
	r.gone = true
	if r.refs == 0 {
		t.unmap(id, r)
	}
}

func (t *Table) unmap(id int64, r *region) {
	n := int64(len(r.m.Mem))
	r.m.Unmap()
	delete(t.regions, id)
	t.bytes -= n
	if t.account != nil {
		t.account(-1, -n)
	}
}

// Close unregisters every region; each is unmapped as soon as no lease
// uses it.
func (t *Table) Close() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.closed = true
	for id, r := range t.regions {
		if !r.gone {
			t.drop(id, r)
		}
	}
}

// Regions and Bytes report what the table maps now.
func (t *Table) Regions() (n int, bytes int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.regions), t.bytes
}

// Lease returns a new lease on this table's regions.
func (t *Table) Lease() *Lease { return &Lease{t: t} }

// Lease holds the regions one request uses mapped until Release.
type Lease struct {
	t    *Table
	held []*region
	ids  []int64
}

// Slice returns n bytes at off in region id, which stays mapped until
// Release. writable asks for a region the server may write.
func (l *Lease) Slice(id, off, n int64, writable bool) ([]byte, error) {
	t := l.t
	t.mu.Lock()
	defer t.mu.Unlock()
	r, ok := t.regions[id]
	if !ok || r.gone {
		return nil, fmt.Errorf("%w %d (regions belong to the connection that registered them)", ErrUnknownRegion, id)
	}
	size := int64(len(r.m.Mem))
	if off < 0 || n < 0 || off > size || n > size-off {
		return nil, fmt.Errorf("bytes [%d, %d+%d) lie outside region %d, which holds %d bytes", off, off, n, id, size)
	}
	if writable && !r.m.Writable {
		return nil, fmt.Errorf("region %d is read-only (sealed against writing)", id)
	}
	if !l.holds(r) {
		r.refs++
		l.held = append(l.held, r)
		l.ids = append(l.ids, id)
	}
	return r.m.Mem[off : off+n : off+n], nil
}

func (l *Lease) holds(r *region) bool {
	for _, h := range l.held {
		if h == r {
			return true
		}
	}
	return false
}

// Holds reports whether b lies in a region the lease holds.
func (l *Lease) Holds(b []byte) bool {
	if l == nil || len(b) == 0 {
		return false
	}
	p := uintptr(unsafe.Pointer(unsafe.SliceData(b)))
	l.t.mu.Lock()
	defer l.t.mu.Unlock()
	for _, r := range l.held {
		lo := uintptr(unsafe.Pointer(unsafe.SliceData(r.m.Mem)))
		if p >= lo && p < lo+uintptr(len(r.m.Mem)) {
			return true
		}
	}
	return false
}

// Empty reports whether the lease holds no region.
func (l *Lease) Empty() bool { return l == nil || len(l.held) == 0 }

// Release ends the lease: what it returned must no longer be used. Safe
// to call more than once, and on nil.
func (l *Lease) Release() {
	if l == nil || len(l.held) == 0 {
		return
	}
	t := l.t
	t.mu.Lock()
	defer t.mu.Unlock()
	for i, r := range l.held {
		r.refs--
		if r.refs == 0 && r.gone {
			t.unmap(l.ids[i], r)
		}
	}
	l.held, l.ids = nil, nil
}

// CloseFD closes a descriptor that was received but is not kept.
func CloseFD(fd int) { unix.Close(fd) }
