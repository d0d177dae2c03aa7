//go:build cgo

package cgo

/*
#include <stdint.h>
#include <stdlib.h>

#include "team.h"
*/
import "C"

import (
	rcgo "runtime/cgo"
	"sync/atomic"
	"time"
	"unsafe"
)

// Team is a pool worker's team of threads for its parallel C calls: the
// worker's calls post their rounds (their crunch_runner_fn calls) into C
// memory, and helper threads that joined the team run them from one round
// to the next without coming back to Go (team.c says why). The worker
// asks Go for helpers (Recruiter) only while the team has fewer than a
// round could use.
type Team struct {
	t *C.crunch_go_team
	h rcgo.Handle
}

// Recruiter finds a team its helpers: Recruit offers t to up to want idle
// threads, counting each offer with t.Attach; a thread that takes the
// offer calls t.Serve, and one that declines it calls t.Detach.
type Recruiter interface {
	Recruit(t *Team, want int)
}

// teamRef is what a team's handle holds.
type teamRef struct {
	t *Team
	r Recruiter
}

// NewTeam returns an empty team that recruits through r; Close it once no
// call uses it and no helper serves it. idle and jobs, when not nil, are
// hints the team reads in C before it asks r for helpers: it asks only
// while idle is above 0 and jobs is lowered, and they must outlive it.
func NewTeam(r Recruiter, idle *Count, jobs *Flag) *Team {
	t := &Team{t: (*C.crunch_go_team)(C.calloc(1, C.size_t(unsafe.Sizeof(C.crunch_go_team{}))))}
	t.h = rcgo.NewHandle(teamRef{t, r})
	t.t.handle = C.uintptr_t(t.h)
	if idle != nil {
		t.t.idle = idle.p
	}
	if jobs != nil {
		t.t.jobs = jobs.p
	}
	return t
}

func (t *Team) attached() *int32 { return (*int32)(unsafe.Pointer(&t.t.attached)) }

// Attach counts one more helper offered the team.
func (t *Team) Attach() { atomic.AddInt32(t.attached(), 1) }

// Attached returns the helpers serving or offered the team.
func (t *Team) Attached() int { return int(atomic.LoadInt32(t.attached())) }

// Detach takes back an offer that its thread declined.
func (t *Team) Detach() { atomic.AddInt32(t.attached(), -1) }

// Serve is a helper's part, on the thread that took an offer: it runs the
// tasks of the team's rounds until stop is raised (seen between two
// tasks), the job ends (End), or no round came for spin, then leaves the
// team. One cgo call.
func (t *Team) Serve(stop *Flag, spin time.Duration) {
	st := C.crunch_go_team_stop{flag: stop.p}
	C.crunch_go_team_serve(t.t, &st, C.int64_t(spin))
}

// ServeUntilRecall is Serve for a helper that leaves once word holds
// value (a recall of the job's helpers) rather than on a Flag. word must
// lie outside Go's memory (in a shared mapping, say): C reads it while
// the call lasts.
func (t *Team) ServeUntilRecall(word *atomic.Uint64, value uint64, spin time.Duration) {
	st := C.crunch_go_team_stop{word: (*C.uint64_t)(unsafe.Pointer(word)), value: C.uint64_t(value)}
	C.crunch_go_team_serve(t.t, &st, C.int64_t(spin))
}

// SetRecall makes the team ask for helpers only while word does not hold
// value: the recall of ServeUntilRecall, as a hint like NewTeam's. word
// must lie outside Go's memory and outlive the team's use of it; call it
// on the thread that owns the team, between its calls.
func (t *Team) SetRecall(word *atomic.Uint64, value uint64) {
	t.t.recall = (*C.uint64_t)(unsafe.Pointer(word))
	t.t.recall_id = C.uint64_t(value)
}

// End tells the team's helpers that the job whose calls it ran is over:
// they leave at once rather than wait for a round that will not come.
func (t *Team) End() {
	atomic.StoreInt32((*int32)(unsafe.Pointer(&t.t.active)), 0)
}

// Close releases the team.
func (t *Team) Close() {
	if t == nil || t.t == nil {
		return
	}
	t.h.Delete()
	C.free(unsafe.Pointer(t.t))
	t.t = nil
}

// SetTeam lets later C calls using x run on up to threads threads (the
// calling one included): the calling thread and t's helpers, until
// t.End. It must be called on the thread that owns t, whose calls are t's
// only rounds. threads <= 1 makes them serial again.
func (x *Ctx) SetTeam(t *Team, threads int) {
	if t == nil || t.t == nil {
		x.useRunner(nil, nil, 1)
		return
	}
	if threads > 1 {
		atomic.StoreInt32((*int32)(unsafe.Pointer(&t.t.active)), 1)
	}
	x.useRunner(C.crunch_runner_fn(C.crunch_go_team_runner), unsafe.Pointer(t.t), threads)
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

// Flag is a bit of C memory that Go raises and C polls: how a pool tells
// its teams' helpers to leave between two tasks.
type Flag struct{ p *C.int32_t }

// NewFlag returns a lowered flag; Free it once no thread polls it.
func NewFlag() *Flag {
	return &Flag{p: (*C.int32_t)(C.calloc(1, C.size_t(unsafe.Sizeof(C.int32_t(0)))))}
}

// Set raises (true) or lowers the flag.
func (f *Flag) Set(up bool) {
	v := int32(0)
	if up {
		v = 1
	}
	atomic.StoreInt32((*int32)(unsafe.Pointer(f.p)), v)
}

// Free releases the flag's memory.
func (f *Flag) Free() {
	if f != nil && f.p != nil {
		C.free(unsafe.Pointer(f.p))
		f.p = nil
	}
}

// Count is an int32 in C memory that Go changes atomically and C reads:
// how a pool shows its teams how many of its workers are idle.
type Count struct{ p *C.int32_t }

// NewCount returns a count of 0; Free it once nothing reads it.
func NewCount() *Count {
	return &Count{p: (*C.int32_t)(C.calloc(1, C.size_t(unsafe.Sizeof(C.int32_t(0)))))}
}

func (c *Count) v() *int32 { return (*int32)(unsafe.Pointer(c.p)) }

// Load returns the count.
func (c *Count) Load() int32 { return atomic.LoadInt32(c.v()) }

// Add adds d to the count and returns the new value.
func (c *Count) Add(d int32) int32 { return atomic.AddInt32(c.v(), d) }

// CompareAndSwap sets the count to new if it is old, and reports whether
// it did.
func (c *Count) CompareAndSwap(old, new int32) bool {
	return atomic.CompareAndSwapInt32(c.v(), old, new)
}

// Free releases the count's memory.
func (c *Count) Free() {
	if c != nil && c.p != nil {
		C.free(unsafe.Pointer(c.p))
		c.p = nil
	}
}

//export crunchGoRecruit
func crunchGoRecruit(h C.uintptr_t, want C.int) {
	ref := rcgo.Handle(h).Value().(teamRef)
	ref.r.Recruit(ref.t, int(want))
}
