//go:build cgo

/*
 * team.c - a pool worker's team of threads for parallel C calls (team.h,
 * team.go). Rounds pass from the worker to its helpers through the team's
 * memory, with no call into Go: a helper that made one cgo call per task
 * and a worker that called back into Go for every round kept the runtime
 * handing Ps between threads (30,000 context switches in 11 calls of gemm
 * 2048 on 2 threads of 2 CPUs; 2,400 with the team).
 */
#include <unistd.h>

#include "_cgo_export.h"
#include "spin.h"
#include "team.h"

/* TEAM_CLOSED marks a round whose tasks have all been claimed: helpers
 * stay out of it. */
#define TEAM_CLOSED 0x80000000u

/* told_to_leave reports whether Go has told the team's helpers to leave
 * (team.h: leave). */
static int told_to_leave(const crunch_go_team *t)
{
    if (t->leave_flag != NULL && __atomic_load_n(t->leave_flag, __ATOMIC_RELAXED) != 0)
        return 1;
    return t->leave_word != NULL && __atomic_load_n(t->leave_word, __ATOMIC_RELAXED) ==
                                        __atomic_load_n(&t->leave_value, __ATOMIC_RELAXED);
}

/* helper_to_be_had reports whether Go's word leaves a helper to be had: a
 * worker idle, and helpers not told to leave. */
static int helper_to_be_had(const crunch_go_team *t)
{
    if (t->idle != NULL && __atomic_load_n(t->idle, __ATOMIC_RELAXED) <= 0)
        return 0;
    return !told_to_leave(t);
}

/* recruit asks Go for the helpers the team lacks for a round that could
 * use want of them, when a worker looks free: then the pool decides. On a
 * busy pool every round of every parallel call would otherwise call into
 * Go for nothing. */
static void recruit(crunch_go_team *t, size_t want)
{
    int32_t have = __atomic_load_n(&t->attached, __ATOMIC_RELAXED);
    if (have < 0 || (size_t)have >= want || !helper_to_be_had(t))
        return;
    if (!t->notify) {
        crunchGoRecruit(t->handle, (int)(want - (size_t)have));
        return;
    }
    /* One write per request Go has not taken yet: a round recruits after
     * every task. A failed write (the counter cannot overflow at one per
     * request) loses only this request; the next task asks again. */
    if (__atomic_exchange_n(&t->recruit_want, (int32_t)want, __ATOMIC_ACQ_REL) == 0) {
        uint64_t one = 1;
        ssize_t wrote = write(t->notify_fd, &one, sizeof one);
        (void)wrote;
    }
}

/* work claims and runs the current round's tasks until none is left or,
 * for a helper, until it is told to leave; after each task it recruits
 * for a round of want helpers (0: it does not). */
static void work(crunch_go_team *t, int helper, size_t want)
{
    for (;;) {
        if (helper && told_to_leave(t))
            return;
        size_t i = __atomic_fetch_add(&t->next, 1, __ATOMIC_RELAXED);
        if (i >= t->n)
            return;
        t->task(t->arg, i);
        if (want > 0)
            recruit(t, want);
    }
}

void crunch_go_team_runner(void *data, size_t n, crunch_task_fn task, void *arg, int threads)
{
    crunch_go_team *t = data;
    size_t want = (n < (size_t)threads ? n : (size_t)threads) - 1;
    recruit(t, want);
    /* No helper is in the team's round (the last one drained), so its
     * fields are the worker's to write; the release store of state
     * publishes them to helpers, who acquire it as they count in. */
    t->task = task;
    t->arg = arg;
    t->n = n;
    __atomic_store_n(&t->next, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&t->state, 0, __ATOMIC_RELEASE);
    __atomic_add_fetch(&t->gen, 1, __ATOMIC_RELEASE);
    /* A worker that is not idle yet as the round starts (the last call's
     * helper on its way back to the queue, the last job's worker sending
     * its result) is recruited between two of the worker's tasks once it
     * is: a call of one round, as mandelbrot's, would otherwise run alone.
     * Only with an idle count to read: without it every task would call
     * into Go. */
    work(t, 0, t->idle != NULL ? want : 0);
    /* Every task is claimed: close the round and wait for the helpers
     * still running one of its tasks. */
    __atomic_fetch_or(&t->state, TEAM_CLOSED, __ATOMIC_ACQ_REL);
    while ((__atomic_load_n(&t->state, __ATOMIC_ACQUIRE) & ~TEAM_CLOSED) != 0)
        crunch_go_cpu_relax();
}

/* join counts the calling helper into the current round unless it is
 * closed; 1 if it joined. */
static int join(crunch_go_team *t)
{
    uint32_t s = __atomic_load_n(&t->state, __ATOMIC_RELAXED);
    while ((s & TEAM_CLOSED) == 0) {
        if (__atomic_compare_exchange_n(&t->state, &s, s + 1, 1, __ATOMIC_ACQUIRE,
                                        __ATOMIC_RELAXED))
            return 1;
    }
    return 0;
}

void crunch_go_team_serve(crunch_go_team *t, int64_t spin_ns)
{
    uint64_t seen = 0; /* a helper just offered joins the round under way */
    for (;;) {
        uint64_t g = __atomic_load_n(&t->gen, __ATOMIC_ACQUIRE);
        if (g != seen) {
            seen = g;
            /* The round joined may be a later one than g: it is the
             * worker's current round either way. */
            if (join(t)) {
                work(t, 1, 0);
                __atomic_fetch_sub(&t->state, 1, __ATOMIC_RELEASE);
            }
        }
        if (told_to_leave(t) || __atomic_load_n(&t->active, __ATOMIC_RELAXED) == 0)
            break;
        /* Wait for the next round: the gap between two rounds is the
         * worker's last task, so a short spin covers it; once the job has
         * ended no round comes, and the helper leaves at once. */
        int64_t deadline = crunch_go_now_ns() + spin_ns;
        int next = 0;
        while (!next) {
            for (int i = 0; i < 64 && !next; i++) {
                next = __atomic_load_n(&t->gen, __ATOMIC_ACQUIRE) != seen || told_to_leave(t) ||
                       __atomic_load_n(&t->active, __ATOMIC_RELAXED) == 0;
                crunch_go_cpu_relax();
            }
            if (!next && crunch_go_now_ns() > deadline)
                break;
        }
        if (!next)
            break;
    }
    __atomic_fetch_sub(&t->attached, 1, __ATOMIC_RELEASE);
}

/* serve_call is crunch_go_team_serve's record for a shadow. */
typedef struct {
    crunch_go_call call;
    crunch_go_team *t;
    int64_t spin_ns;
} serve_call;

static void serve_run(crunch_go_call *call)
{
    serve_call *c = (serve_call *)call;
    crunch_go_team_serve(c->t, c->spin_ns);
    call->status = CRUNCH_OK;
}

void crunch_go_team_serve_on(crunch_go_shadow *shadow, crunch_go_team *t, int64_t spin_ns)
{
    if (shadow == NULL) {
        crunch_go_team_serve(t, spin_ns);
        return;
    }
    serve_call c = {{serve_run, CRUNCH_OK}, t, spin_ns};
    crunch_go_shadow_call(shadow, &c.call);
}
