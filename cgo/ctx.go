//go:build cgo

package cgo

/*
#include <crunch.h>

#include "shadow.h"
*/
import "C"

import (
	"context"
	"sync/atomic"
	"unsafe"
)

// Ctx carries cancellation and progress for one kernel call, in C and in
// Go kernels alike. It wraps the C library's crunch_ctx: the C kernel polls
// the same memory that Cancel writes. A Ctx serves one call at a time; Reset
// makes it reusable. The zero value is not ready: use NewCtx.
type Ctx struct {
	c  C.crunch_ctx
	sh *C.crunch_go_shadow // the thread its C calls run on (SetShadow); nil: the caller's
}

// The Go side reads and writes crunch_ctx fields with sync/atomic, which
// needs the C layout pinned down: the counters first, then the runner.
var _ [1]struct{} = [unsafe.Sizeof(C.crunch_ctx{}) - 48 + 1]struct{}{}
var _ [1]struct{} = [unsafe.Offsetof(C.crunch_ctx{}.runner) - 24 + 1]struct{}{}

// NewCtx returns a Ctx with no cancellation, no ISA cap and no progress.
func NewCtx() *Ctx {
	return &Ctx{}
}

// Reset clears cancellation, progress and the ISA cap, and makes calls
// serial again (no runner) and on the calling thread (no shadow).
func (x *Ctx) Reset() {
	atomic.StoreInt32(x.cancelp(), 0)
	atomic.StoreInt32((*int32)(unsafe.Pointer(&x.c.isa)), 0)
	atomic.StoreInt64(x.donep(), 0)
	atomic.StoreInt64(x.totalp(), 0)
	// As crunch_ctx_set_runner(ctx, NULL, NULL, 1); no call is running.
	x.c.runner, x.c.runner_data, x.c.threads = nil, nil, 1
	x.sh = nil
}

// Threads returns the thread budget of x's calls: 1 when they are serial.
func (x *Ctx) Threads() int {
	if x == nil || x.c.runner == nil {
		return 1
	}
	return int(x.c.threads)
}

func (x *Ctx) cancelp() *int32 { return (*int32)(unsafe.Pointer(&x.c.cancel)) }
func (x *Ctx) donep() *int64   { return (*int64)(unsafe.Pointer(&x.c.done)) }
func (x *Ctx) totalp() *int64  { return (*int64)(unsafe.Pointer(&x.c.total)) }

// Cancel asks the call using x to stop; it returns at once. Safe from any
// goroutine; a nil Ctx ignores it.
func (x *Ctx) Cancel() {
	if x != nil {
		atomic.StoreInt32(x.cancelp(), 1)
	}
}

// Canceled reports whether Cancel was called. Go kernels poll it between
// blocks of work, as C kernels do.
func (x *Ctx) Canceled() bool {
	return x != nil && atomic.LoadInt32(x.cancelp()) != 0
}

// Watch cancels x when ctx is done, until stop is called. It starts no
// goroutine unless ctx ends.
func (x *Ctx) Watch(ctx context.Context) (stop func() bool) {
	return context.AfterFunc(ctx, x.Cancel)
}

// SetISA caps the SIMD path of calls using x (ISAAuto removes the cap).
func (x *Ctx) SetISA(isa ISA) error {
	return check("crunch_ctx_set_isa", C.crunch_ctx_set_isa(&x.c, C.crunch_isa(isa)))
}

// Begin publishes a call's total work and zero progress. Go kernels call it
// as C kernels do; a nil Ctx ignores it.
func (x *Ctx) Begin(total int64) {
	if x != nil {
		atomic.StoreInt64(x.donep(), 0)
		atomic.StoreInt64(x.totalp(), total)
	}
}

// Add advances the work done by n. Safe from any goroutine, as the tasks
// of a parallel C call add from several threads.
func (x *Ctx) Add(n int64) {
	if x != nil {
		atomic.AddInt64(x.donep(), n)
	}
}

// Progress returns the work done and the total, in the kernel's units, and
// their ratio in [0, 1] (0 while the total is unknown). Safe from any
// goroutine while the call runs.
func (x *Ctx) Progress() (done, total int64, fraction float64) {
	if x == nil {
		return 0, 0, 0
	}
	done, total = atomic.LoadInt64(x.donep()), atomic.LoadInt64(x.totalp())
	if total > 0 {
		fraction = min(max(float64(done)/float64(total), 0), 1)
	}
	return done, total, fraction
}

// cptr returns the C view of x, or nil for a nil Ctx ("no cancel, no
// progress" to the C library).
func (x *Ctx) cptr() *C.crunch_ctx {
	if x == nil {
		return nil
	}
	return &x.c
}
