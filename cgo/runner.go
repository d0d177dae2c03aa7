//go:build cgo

package cgo

/*
#include <stdint.h>
#include <stdlib.h>
#include <crunch.h>

void crunch_go_runner(void *data, size_t n, crunch_task_fn task, void *arg, int threads);
void crunch_go_task(crunch_task_fn task, void *arg, size_t i);
*/
import "C"

import (
	rcgo "runtime/cgo"
	"unsafe"
)

// Runner supplies the threads of parallel C calls (crunch_runner_fn in
// crunch.h): the library creates none of its own. A Ctx given a Runner
// with SetRunner lets the kernels that can (every one but histogram;
// crunch_ctx_set_runner in crunch.h says which calls and when) cut their
// work into fixed-size pieces and run them on it; results are the same,
// bit for bit, on any number of threads. A pool worker's parallel calls
// use a Team instead (team.go), which keeps Go out of their rounds.
type Runner interface {
	// Run calls task(i) once for every i in [0, n), on at most threads
	// threads counting the calling one (which should run tasks too), in
	// any order, and returns when every call has returned. Tasks never
	// wait for each other, so running them all on the calling goroutine
	// is always correct: that is what Run does when no thread is free. It
	// is called on the thread running the kernel, inside the cgo call.
	Run(n, threads int, task func(i int))
}

// RunnerHandle is a Runner made reachable from C: the handle lives in C
// memory, so a Ctx refers to it without holding a Go pointer. Create one
// per Runner with NewRunnerHandle and Close it when no call uses it.
type RunnerHandle struct {
	cell *C.uintptr_t
	h    rcgo.Handle
}

// NewRunnerHandle registers r for use by Ctx.SetRunner.
func NewRunnerHandle(r Runner) *RunnerHandle {
	cell := (*C.uintptr_t)(C.malloc(C.size_t(unsafe.Sizeof(C.uintptr_t(0)))))
	h := rcgo.NewHandle(r)
	*cell = C.uintptr_t(h)
	return &RunnerHandle{cell: cell, h: h}
}

// Close releases the handle. No call may be using it.
func (rh *RunnerHandle) Close() {
	if rh == nil || rh.cell == nil {
		return
	}
	rh.h.Delete()
	C.free(unsafe.Pointer(rh.cell))
	rh.cell = nil
}

// SetRunner lets later C calls using x run on up to threads threads (the
// calling one included), supplied by rh's Runner. A nil rh or threads <= 1
// makes them serial again. Set it before a call, not during one.
func (x *Ctx) SetRunner(rh *RunnerHandle, threads int) {
	if rh == nil || rh.cell == nil {
		x.useRunner(nil, nil, 1)
		return
	}
	x.useRunner(C.crunch_runner_fn(C.crunch_go_runner), unsafe.Pointer(rh.cell), threads)
}

// useRunner sets x's runner to fn with data on up to threads threads; 1
// or fewer makes x's calls serial.
func (x *Ctx) useRunner(fn C.crunch_runner_fn, data unsafe.Pointer, threads int) {
	if threads <= 1 {
		C.crunch_ctx_set_runner(&x.c, nil, nil, 1)
		return
	}
	C.crunch_ctx_set_runner(&x.c, fn, data, C.int(min(threads, 1<<30)))
}

// Threads returns the thread budget of x's calls: 1 when they are serial.
func (x *Ctx) Threads() int {
	if x == nil || x.c.runner == nil {
		return 1
	}
	return int(x.c.threads)
}

//export crunchGoRun
func crunchGoRun(h C.uintptr_t, n C.size_t, task C.crunch_task_fn, arg unsafe.Pointer, threads C.int) {
	r := rcgo.Handle(h).Value().(Runner)
	r.Run(int(n), int(threads), func(i int) { C.crunch_go_task(task, arg, C.size_t(i)) })
}
