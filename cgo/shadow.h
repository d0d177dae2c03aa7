/*
 * shadow.h - a compute thread of the C library's own (a pthread, never a Go
 * thread) that runs a pool worker's C calls for it: the worker posts a
 * call and waits inside its cgo call while the shadow runs it.
 *
 * Why: a thread that gets the CPU only when nothing else on the machine
 * wants it (a cpu cgroup with cpu.idle = 1) must never run Go code, since
 * a starved thread holding one of the Go scheduler's Ps or a runtime lock
 * holds up the whole server. A shadow runs C only, so it can live in that
 * cgroup for good, and the worker's Go thread, which does run Go code
 * between jobs, stays out of it.
 */
#ifndef CRUNCH_CGO_SHADOW_H
#define CRUNCH_CGO_SHADOW_H

#include <pthread.h>
#include <stdint.h>

#include <crunch.h>

/* crunch_go_call is one call posted to a shadow: run(call) does the call
 * and sets status. Each posted call's record starts with one. */
typedef struct crunch_go_call {
    void (*run)(struct crunch_go_call *call);
    crunch_status status;
} crunch_go_call;

/*
 * crunch_go_shadow: one shadow thread and its mailbox. One caller at a
 * time (the worker that owns it) posts calls; posted and finished count
 * them. The shadow polls posted for a while before it sleeps on its
 * condition variable, so that back-to-back calls cost it no wake-up; the
 * caller sleeps at once until finished counts its call.
 */
typedef struct crunch_go_shadow {
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t posted_cv;   /* the shadow sleeps on it */
    pthread_cond_t finished_cv; /* the caller sleeps on it */
    crunch_go_call *call;       /* the call posted last; under mu */
    uint64_t posted;            /* calls posted; atomic, written under mu */
    uint64_t finished;          /* calls finished; under mu */
    int shadow_sleeping;        /* under mu */
    int caller_sleeping;        /* under mu */
    int quit;                   /* under mu: the shadow ends once it sees it */
    int32_t tid;                /* the shadow's thread id (Linux), once started */
    int64_t shadow_spin_ns;     /* how long the shadow polls for the next call; atomic */
} crunch_go_shadow;

/* crunch_go_shadow_start starts s's thread, which blocks every signal (they
 * are the Go runtime's to handle, on its own threads), and returns 0 once
 * the thread has published its id, or an errno value. The thread inherits
 * the calling thread's scheduling class and CPUs. */
int crunch_go_shadow_start(crunch_go_shadow *s);

/* crunch_go_shadow_stop ends s's thread, after the call it runs, and
 * waits for it; s may then be freed. */
void crunch_go_shadow_stop(crunch_go_shadow *s);

/* crunch_go_shadow_call runs call on s's thread and returns once it has
 * run (its status set). */
void crunch_go_shadow_call(crunch_go_shadow *s, crunch_go_call *call);

#endif /* CRUNCH_CGO_SHADOW_H */
