package server

import (
	"slices"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/crunchsvc/crunch/service/executor"
	"github.com/crunchsvc/crunch/service/kernels"
	"github.com/crunchsvc/crunch/service/msgbuf"
	"github.com/crunchsvc/crunch/service/tensor"
	"github.com/crunchsvc/crunch/service/wire"
)

// resultMem is the memory a request's result tensors are computed in (a
// kernels.Allocator): its shm_out window, where the reply is going, when
// the kernel's safety does not depend on what it reads back
// (kernels.Exposed) and the result fits there in the window's layout;
// otherwise pooled memory, not zeroed, given back once the reply has been
// written (or dropped) and the kernel has returned.
//
// Results go to the window in the order the kernel asks for them, each at
// the next multiple of 64 bytes of the region, as long as their names come
// in increasing byte order: for every op (all have one result tensor)
// that is the layout placeResults gives the reply, so it copies nothing.
type resultMem struct {
	pooled *executor.PooledResults
	window []byte // the request's shm_out window, or nil
	winOff int64  // where the window starts in its region
	// kernelDone is closed once the kernel has returned (or will never
	// run): nothing writes the results afterwards.
	kernelDone chan struct{}
	holders    atomic.Int32 // the kernel and the reply: the last gives the pooled memory back

	mu     sync.Mutex
	pos    int64  // bytes of the window taken
	last   string // the name of the last result placed in the window
	used   bool   // a result was placed in the window
	sealed bool   // the request is being answered: no more window memory
}

// newResultMem returns the result memory of a request with arguments
// args and shm_out window (nil without one). A window that overlaps an
// argument is not computed in: the kernel would read what it wrote.
func newResultMem(pool *msgbuf.Pool, args wire.Args, window []byte, win *wire.ShmWindow) *resultMem {
	r := &resultMem{pooled: executor.NewPooledResults(pool), kernelDone: make(chan struct{})}
	if win != nil && !overlapsArgs(window, args) {
		r.window, r.winOff = window, win.Offset
	}
	r.holders.Store(2)
	return r
}

// overlapsArgs reports whether mem shares a byte with an argument tensor.
func overlapsArgs(mem []byte, args wire.Args) bool {
	if len(mem) == 0 {
		return false
	}
	lo := uintptr(unsafe.Pointer(unsafe.SliceData(mem)))
	for _, v := range args {
		if v.Tensor == nil || len(v.Tensor.Data) == 0 {
			continue
		}
		p := uintptr(unsafe.Pointer(unsafe.SliceData(v.Tensor.Data)))
		if p < lo+uintptr(len(mem)) && lo < p+uintptr(len(v.Tensor.Data)) {
			return true
		}
	}
	return false
}

// Result returns memory for a result tensor: in the window if it may and
// can go there, else pooled memory.
func (r *resultMem) Result(name string, dt tensor.DType, shape []int, where kernels.Placement) (*tensor.Tensor, error) {
	if where == kernels.Exposed && r.window != nil {
		if data := r.inWindow(name, dt, shape); data != nil {
			return &tensor.Tensor{DType: dt, Shape: slices.Clone(shape), Data: data}, nil
		}
	}
	return r.pooled.Result(name, dt, shape, where)
}

// inWindow takes the result's bytes at the window's next 64-byte boundary,
// or returns nil.
func (r *resultMem) inWindow(name string, dt tensor.DType, shape []int) []byte {
	n, err := tensor.ByteSize(dt, shape)
	if err != nil {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.sealed || (r.used && name <= r.last) {
		return nil
	}
	at := alignUp(r.winOff+r.pos, 64) - r.winOff
	end := at + int64(n)
	if end > int64(len(r.window)) {
		return nil
	}
	r.pos, r.last, r.used = end, name, true
	return r.window[at:end:end]
}

// seal ends the window's use by this request's kernel, before its reply:
// it reports whether the kernel was given window memory, in which case
// the reply must wait for kernelDone (the client reuses its window once
// it has a reply, and a kernel still stopping would write into it).
func (r *resultMem) seal() (usedWindow bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sealed = true
	return r.used
}

// kernelReturned is the kernel's part of Job.Done.
func (r *resultMem) kernelReturned() {
	close(r.kernelDone)
	r.done()
}

// done lets go of one holder's use; the last gives the pooled memory back.
func (r *resultMem) done() {
	if r.holders.Add(-1) == 0 {
		r.pooled.Release()
	}
}
