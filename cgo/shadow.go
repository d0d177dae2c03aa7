//go:build cgo

package cgo

/*
#include <stdlib.h>

#include "shadow.h"
*/
import "C"

import (
	"fmt"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"
)

// Shadow is a thread of the C library's own (a pthread the Go runtime
// does not know) that runs C calls for one pool worker: a Ctx given the
// shadow (SetShadow) sends its kernels there, and the worker's goroutine
// waits inside its cgo call. Such a thread never runs Go code, so it can
// be kept where the CPU is given only when nothing else wants it (an idle
// cpu cgroup) without ever holding up the Go scheduler (shadow.h says
// more). One goroutine at a time may call through a Shadow.
type Shadow struct {
	s *C.crunch_go_shadow
}

// StartShadow starts a shadow thread. It inherits the calling thread's
// scheduling class and CPUs (call it on a locked thread that has them),
// and blocks every signal: they are the Go runtime's to handle.
func StartShadow() (*Shadow, error) {
	s := (*C.crunch_go_shadow)(C.calloc(1, C.size_t(unsafe.Sizeof(C.crunch_go_shadow{}))))
	if s == nil {
		return nil, fmt.Errorf("starting a shadow thread: out of memory")
	}
	if e := C.crunch_go_shadow_start(s); e != 0 {
		C.free(unsafe.Pointer(s))
		return nil, fmt.Errorf("starting a shadow thread: %w", syscall.Errno(e))
	}
	return &Shadow{s: s}, nil
}

// TID returns the shadow's thread id (Linux; -1 elsewhere).
func (s *Shadow) TID() int { return int(s.s.tid) }

// SetSpin sets how long the shadow polls for its next call before it
// sleeps (negative: 0). A caller never polls for its call's end: that
// would take a CPU from the shadow it waits for.
func (s *Shadow) SetSpin(d time.Duration) {
	atomic.StoreInt64((*int64)(unsafe.Pointer(&s.s.shadow_spin_ns)), max(int64(d), 0))
}

// Stop ends the shadow's thread once its call, if any, has returned, and
// releases it. Stopping a nil Shadow does nothing.
func (s *Shadow) Stop() {
	if s == nil || s.s == nil {
		return
	}
	C.crunch_go_shadow_stop(s.s)
	C.free(unsafe.Pointer(s.s))
	s.s = nil
}

// SetShadow sends the C calls using x to s's thread (nil: the calling
// thread's own, as Reset does).
func (x *Ctx) SetShadow(s *Shadow) {
	if s == nil {
		x.sh = nil
		return
	}
	x.sh = s.s
}

// shadowp returns the shadow x's calls run on, or nil.
func (x *Ctx) shadowp() *C.crunch_go_shadow {
	if x == nil {
		return nil
	}
	return x.sh
}
