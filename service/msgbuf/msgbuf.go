// Package msgbuf keeps the memory large messages are read into, and large
// results are computed in, outside the Go heap: anonymous mappings, reused
// from message to message (their pages stay faulted in, so a reused
// buffer costs neither page faults nor zeroing) and unmapped once idle for
// a while, so that a burst of large messages leaves no heap behind it and
// does not drive the garbage collector. A buffer has one owner, which
// gives it back with Release once nothing reads it any more: using it
// afterwards would fault.
package msgbuf

import (
	"math/bits"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// MinSize is the smallest buffer the pool hands out; smaller messages
// belong in the Go heap.
const MinSize = 256 << 10

// HugeSize is the smallest buffer mapped for transparent huge pages: one
// huge page. The 2 MiB of alignment slack is address space only (never
// touched, never resident); a buffer's pages become resident 2 MiB at a
// time, at most twice what a message of more than half the buffer uses.
const HugeSize = 2 << 20

// hugePage is the size of a transparent huge page on x86-64 and arm64.
const hugePage = 2 << 20

// Buf is one buffer from a Pool.
type Buf struct {
	mem     []byte // the buffer, a power of two of at least MinSize
	mapping []byte // what was mapped: mem, or mem with its alignment slack
	pool    *Pool
	idle    time.Time // when it was given back
}

// Bytes returns the buffer's first n bytes (n at most its size).
func (b *Buf) Bytes(n int) []byte { return b.mem[:n:n] }

// Size is the buffer's capacity.
func (b *Buf) Size() int { return len(b.mem) }

// Release gives the buffer back to its pool; it must not be used
// afterwards. A nil Buf (memory from the heap) has nothing to give back.
func (b *Buf) Release() {
	if b != nil {
		b.pool.put(b)
	}
}

// Pool hands out buffers by power-of-two size. Idle buffers are kept for
// reuse up to KeepBytes in all, each for at most KeepFor.
type Pool struct {
	KeepBytes int64
	KeepFor   time.Duration

	mu     sync.Mutex
	idle   map[int][]*Buf // by size, most recently given back last
	kept   int64          // bytes idle in the pool
	sweep  *time.Timer
	mapped atomic.Int64 // bytes mapped, in use or idle
}

// New returns a pool that keeps up to keepBytes of idle buffers, each for
// up to keepFor.
func New(keepBytes int64, keepFor time.Duration) *Pool {
	return &Pool{KeepBytes: keepBytes, KeepFor: keepFor, idle: make(map[int][]*Buf)}
}

// Get returns a buffer of at least n bytes: an idle one of its size, or a
// new mapping (whose pages cost nothing until written).
func (p *Pool) Get(n int) (*Buf, error) {
	size := MinSize
	if n > MinSize {
		size = 1 << bits.Len(uint(n-1))
	}
	p.mu.Lock()
	if free := p.idle[size]; len(free) > 0 {
		b := free[len(free)-1]
		p.idle[size] = free[:len(free)-1]
		p.kept -= int64(size)
		p.mu.Unlock()
		return b, nil
	}
	p.mu.Unlock()
	b, err := mapBuf(size)
	if err != nil {
		return nil, err
	}
	b.pool = p
	p.mapped.Add(int64(size))
	return b, nil
}

// mapBuf maps a fresh buffer of size bytes, from HugeSize on aligned to a
// huge page and advised to use them.
func mapBuf(size int) (*Buf, error) {
	length := size
	if size >= HugeSize {
		length += hugePage // mmap aligns to 4 KiB only: slack to align the start
	}
	mapping, err := unix.Mmap(-1, 0, length, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS|unix.MAP_NORESERVE)
	if err != nil {
		return nil, err
	}
	if size < HugeSize {
		return &Buf{mem: mapping, mapping: mapping}, nil
	}
	skip := 0
	if rem := int(uintptr(unsafe.Pointer(unsafe.SliceData(mapping))) % hugePage); rem != 0 {
		skip = hugePage - rem
	}
	mem := mapping[skip : skip+size : skip+size]
	_ = unix.Madvise(mem, unix.MADV_HUGEPAGE) // a hint: refused, the buffer only faults more
	return &Buf{mem: mem, mapping: mapping}, nil
}

// put keeps b for reuse, or unmaps it when the pool holds enough.
func (p *Pool) put(b *Buf) {
	size := len(b.mem)
	p.mu.Lock()
	if p.kept+int64(size) > p.KeepBytes {
		p.mu.Unlock()
		p.unmap(b)
		return
	}
	b.idle = time.Now()
	p.idle[size] = append(p.idle[size], b)
	p.kept += int64(size)
	if p.sweep == nil {
		p.sweep = time.AfterFunc(p.KeepFor, p.sweepIdle)
	}
	p.mu.Unlock()
}

// sweepIdle unmaps the buffers idle for KeepFor or longer, and comes back
// while any stay.
func (p *Pool) sweepIdle() {
	now := time.Now()
	var old []*Buf
	p.mu.Lock()
	for size, free := range p.idle {
		keep := free[:0]
		for _, b := range free {
			if now.Sub(b.idle) >= p.KeepFor {
				old = append(old, b)
				p.kept -= int64(size)
			} else {
				keep = append(keep, b)
			}
		}
		p.idle[size] = keep
	}
	p.sweep = nil
	if p.kept > 0 {
		p.sweep = time.AfterFunc(p.KeepFor/2, p.sweepIdle)
	}
	p.mu.Unlock()
	for _, b := range old {
		p.unmap(b)
	}
}

func (p *Pool) unmap(b *Buf) {
	p.mapped.Add(-int64(len(b.mem)))
	unix.Munmap(b.mapping)
	b.mem, b.mapping = nil, nil
}

// Mapped reports the bytes mapped by the pool's buffers, in use or idle.
func (p *Pool) Mapped() int64 { return p.mapped.Load() }

// Idle reports the bytes of idle buffers kept for reuse.
func (p *Pool) Idle() int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.kept
}

// InUse reports the bytes of buffers handed out and not given back.
func (p *Pool) InUse() int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.mapped.Load() - p.kept
}
