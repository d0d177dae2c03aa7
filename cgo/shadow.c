//go:build cgo

/*
 * shadow.c - a pool worker's shadow thread (shadow.h, shadow.go).
 */
#define _GNU_SOURCE
#include <signal.h>
#include <unistd.h>
#if defined(__linux__)
#include <sys/syscall.h>
#endif

#include "shadow.h"
#include "spin.h"

/* poll_until_differs polls *word until it differs from old or spin_ns
 * have passed; it reports whether it differs. The clock is read every
 * 64 polls: a poll is a load, the clock tens of them. */
static int poll_until_differs(const uint64_t *word, uint64_t old, int64_t spin_ns)
{
    if (spin_ns <= 0)
        return __atomic_load_n(word, __ATOMIC_ACQUIRE) != old;
    int64_t deadline = crunch_go_now_ns() + spin_ns;
    for (;;) {
        for (int i = 0; i < 64; i++) {
            if (__atomic_load_n(word, __ATOMIC_ACQUIRE) != old)
                return 1;
            crunch_go_cpu_relax();
        }
        if (crunch_go_now_ns() > deadline)
            return __atomic_load_n(word, __ATOMIC_ACQUIRE) != old;
    }
}

static void *shadow_main(void *arg)
{
    crunch_go_shadow *s = arg;
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, NULL);
    pthread_mutex_lock(&s->mu);
#if defined(__linux__)
    s->tid = (int32_t)syscall(SYS_gettid);
#else
    s->tid = -1;
#endif
    pthread_cond_broadcast(&s->finished_cv); /* start waits for the id */
    pthread_mutex_unlock(&s->mu);

    uint64_t seen = 0;
    for (;;) {
        poll_until_differs(&s->posted, seen, __atomic_load_n(&s->shadow_spin_ns, __ATOMIC_RELAXED));
        pthread_mutex_lock(&s->mu);
        while (s->posted == seen && !s->quit) {
            s->shadow_sleeping = 1;
            pthread_cond_wait(&s->posted_cv, &s->mu);
            s->shadow_sleeping = 0;
        }
        if (s->posted == seen) { /* quit, and nothing left to run */
            pthread_mutex_unlock(&s->mu);
            return NULL;
        }
        crunch_go_call *call = s->call;
        seen = s->posted;
        pthread_mutex_unlock(&s->mu);

        call->run(call);

        pthread_mutex_lock(&s->mu);
        s->finished = seen;
        if (s->caller_sleeping)
            pthread_cond_signal(&s->finished_cv);
        pthread_mutex_unlock(&s->mu);
    }
}

int crunch_go_shadow_start(crunch_go_shadow *s)
{
    int err = pthread_mutex_init(&s->mu, NULL);
    if (err != 0)
        return err;
    if ((err = pthread_cond_init(&s->posted_cv, NULL)) != 0)
        goto no_posted;
    if ((err = pthread_cond_init(&s->finished_cv, NULL)) != 0)
        goto no_finished;
    s->tid = 0;
    if ((err = pthread_create(&s->thread, NULL, shadow_main, s)) != 0)
        goto no_thread;
    pthread_mutex_lock(&s->mu);
    while (s->tid == 0)
        pthread_cond_wait(&s->finished_cv, &s->mu);
    pthread_mutex_unlock(&s->mu);
    return 0;

no_thread:
    pthread_cond_destroy(&s->finished_cv);
no_finished:
    pthread_cond_destroy(&s->posted_cv);
no_posted:
    pthread_mutex_destroy(&s->mu);
    return err;
}

void crunch_go_shadow_stop(crunch_go_shadow *s)
{
    pthread_mutex_lock(&s->mu);
    s->quit = 1;
    pthread_cond_signal(&s->posted_cv);
    pthread_mutex_unlock(&s->mu);
    pthread_join(s->thread, NULL);
    pthread_cond_destroy(&s->finished_cv);
    pthread_cond_destroy(&s->posted_cv);
    pthread_mutex_destroy(&s->mu);
}

void crunch_go_shadow_call(crunch_go_shadow *s, crunch_go_call *call)
{
    pthread_mutex_lock(&s->mu);
    s->call = call;
    uint64_t mine = s->posted + 1;
    /* Release: the shadow that sees the count sees the call's record. */
    __atomic_store_n(&s->posted, mine, __ATOMIC_RELEASE);
    if (s->shadow_sleeping)
        pthread_cond_signal(&s->posted_cv);
    /* The caller sleeps at once: polling would take a CPU from the
     * shadow it waits for. */
    while (s->finished != mine) {
        s->caller_sleeping = 1;
        pthread_cond_wait(&s->finished_cv, &s->mu);
        s->caller_sleeping = 0;
    }
    pthread_mutex_unlock(&s->mu);
}
