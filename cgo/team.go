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
// call uses it and no helper serves it. idle and leave, when not nil, are
// C memory the team reads without calling Go (they must outlive it): it
// asks r for helpers only while idle is above 0, and its helpers leave,
// and none is asked for, while leave is non-zero (LeaveWhen is the other
// way to tell them).
func NewTeam(r Recruiter, idle, leave *SharedInt32) *Team {
	t := &Team{t: (*C.crunch_go_team)(C.calloc(1, C.size_t(unsafe.Sizeof(C.crunch_go_team{}))))}
	t.h = rcgo.NewHandle(teamRef{t, r})
	t.t.handle = C.uintptr_t(t.h)
	if idle != nil {
		t.t.idle = idle.p
	}
	if leave != nil {
		t.t.leave_flag = leave.p
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

// Serve is a helper's part, on the thread that took an offer, or on its
// shadow when on is not nil: it runs the tasks of the team's rounds until
// the team says leave (seen between two tasks), the job ends (End), or no
// round came for spin, then leaves the team. One cgo call.
func (t *Team) Serve(spin time.Duration, on *Shadow) {
	var s *C.crunch_go_shadow
	if on != nil {
		s = on.s
	}
	C.crunch_go_team_serve_on(s, t.t, C.int64_t(spin))
}

// RecruitThrough makes the team ask for helpers by writing to the eventfd
// fd instead of calling its Recruiter: needed once its calls may run on a
// Shadow, a thread that must not call into Go. Whoever reads fd then calls
// TakeRecruitRequest and recruits for the team. Call it before the team's
// first call; fd must stay open while calls use the team.
func (t *Team) RecruitThrough(fd int) {
	t.t.notify_fd = C.int(fd)
	t.t.notify = 1
}

// TakeRecruitRequest returns the helpers the team's current round wants
// (the calling thread aside) if it asked since the last take, or 0, and
// clears the request: the reader of RecruitThrough's eventfd calls it for
// every team when the eventfd wakes it.
func (t *Team) TakeRecruitRequest() int {
	return int(atomic.SwapInt32((*int32)(unsafe.Pointer(&t.t.recruit_want)), 0))
}

// LeaveWhen tells the team's helpers to leave, and the team not to ask
// for more, once word holds value (a recall of a job's helpers). word
// must lie outside Go's memory (in a shared mapping, say) and outlive the
// team's use of it; call it on the thread that owns the team, between
// its calls.
func (t *Team) LeaveWhen(word *atomic.Uint64, value uint64) {
	t.t.leave_word = (*C.uint64_t)(unsafe.Pointer(word))
	atomic.StoreUint64((*uint64)(unsafe.Pointer(&t.t.leave_value)), value)
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
	if t == nil || t.t == nil || threads <= 1 {
		C.crunch_ctx_set_runner(&x.c, nil, nil, 1)
		return
	}
	atomic.StoreInt32((*int32)(unsafe.Pointer(&t.t.active)), 1)
	C.crunch_ctx_set_runner(&x.c, C.crunch_runner_fn(C.crunch_go_team_runner), unsafe.Pointer(t.t), C.int(min(threads, 1<<30)))
}

// SharedInt32 is an int32 in C memory that Go changes atomically and C
// reads: how a pool tells its teams how many workers are idle, and when
// their helpers must leave.
type SharedInt32 struct{ p *C.int32_t }

// NewSharedInt32 returns one holding 0; Free it once nothing reads it.
func NewSharedInt32() *SharedInt32 {
	return &SharedInt32{p: (*C.int32_t)(C.calloc(1, C.size_t(unsafe.Sizeof(C.int32_t(0)))))}
}

func (s *SharedInt32) v() *int32 { return (*int32)(unsafe.Pointer(s.p)) }

// Load returns the value.
func (s *SharedInt32) Load() int32 { return atomic.LoadInt32(s.v()) }

// Store sets the value.
func (s *SharedInt32) Store(v int32) { atomic.StoreInt32(s.v(), v) }

// Add adds d to the value and returns the new one.
func (s *SharedInt32) Add(d int32) int32 { return atomic.AddInt32(s.v(), d) }

// CompareAndSwap sets the value to new if it is old, and reports whether
// it did.
func (s *SharedInt32) CompareAndSwap(old, new int32) bool {
	return atomic.CompareAndSwapInt32(s.v(), old, new)
}

// Free releases the memory.
func (s *SharedInt32) Free() {
	if s != nil && s.p != nil {
		C.free(unsafe.Pointer(s.p))
		s.p = nil
	}
}

//export crunchGoRecruit
func crunchGoRecruit(h C.uintptr_t, want C.int) {
	ref := rcgo.Handle(h).Value().(teamRef)
	ref.r.Recruit(ref.t, int(want))
}
