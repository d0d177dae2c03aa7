//go:build cgo

package cgo

/*
#include <stdlib.h>

#include <crunch.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

static int trim_malloc(void)
{
#ifdef __GLIBC__
    return malloc_trim(0);
#else
    return 0;
#endif
}
*/
import "C"

// TrimMalloc returns to the system the memory that C's allocator holds
// free, and reports whether there was any. glibc keeps what the kernels
// free (packing buffers, work arrays) in its malloc arenas, one per group
// of threads, and gives it back only from the top of each: after a burst
// of large calls a server held some 55 MiB that way. malloc_trim(0)
// releases every free page of every arena. Elsewhere than glibc it does
// nothing. It is safe from any thread, at any time, but walks every arena:
// call it after a burst, not per call.
func TrimMalloc() bool { return C.trim_malloc() != 0 }

// ReleaseWorkBuffers unmaps the work buffers of many MiB that the C
// library keeps between calls (crunch_work_buffers_release: up to 64 MiB,
// so that a large fft or parallel gemm does not fault its buffers in on
// every call), and returns the bytes unmapped. Safe from any thread, at
// any time; call it after a burst of work.
func ReleaseWorkBuffers() int64 { return int64(C.crunch_work_buffers_release()) }
