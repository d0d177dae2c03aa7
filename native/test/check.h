/*
 * check.h - the C tests' tiny harness: CHECK records a failure with its
 * place and goes on, so one run reports every broken case; each test
 * program's main returns check_exit(). Also what several tests need: the
 * SIMD paths to run on, a seeded random generator, a clock, cancelling a
 * running call, a hash of results and a NaN sentinel.
 */
#ifndef CRUNCH_CHECK_H
#define CRUNCH_CHECK_H

#include "crunch.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static int check_failures;
static int check_count;

#define CHECK(cond, ...)                                                    \
    do {                                                                    \
        check_count++;                                                      \
        if (!(cond)) {                                                      \
            check_failures++;                                               \
            fprintf(stderr, "%s:%d: CHECK(%s) failed: ", __FILE__, __LINE__, \
                    #cond);                                                 \
            fprintf(stderr, __VA_ARGS__);                                   \
            fputc('\n', stderr);                                            \
        }                                                                   \
    } while (0)

/* check_exit prints the closing line and gives main's exit status. */
static inline int check_exit(const char *name)
{
    printf("%s: %d checks, %d failed\n", name, check_count, check_failures);
    return check_failures == 0 ? 0 : 1;
}

/* check_isas: every SIMD path, the generic one first. */
enum { CHECK_N_ISAS = 3 };
static const crunch_isa check_isas[CHECK_N_ISAS] __attribute__((unused)) = {
    CRUNCH_ISA_GENERIC, CRUNCH_ISA_AVX2, CRUNCH_ISA_AVX512};

/* check_isa_available reports whether this machine (after CRUNCH_DISABLE)
 * has path isa, and says so once, as test name, when it does not. */
static inline int check_isa_available(const char *name, crunch_isa isa)
{
    static int told[CRUNCH_ISA_AVX512 + 1];
    if (isa <= crunch_isa_best())
        return 1;
    if (!told[isa]) {
        told[isa] = 1;
        printf("%s: skipping the %s path: this CPU or CRUNCH_DISABLE leaves only %s\n", name,
               crunch_isa_name(isa), crunch_isa_name(crunch_isa_best()));
    }
    return 0;
}

/* check_ctx_for initialises *ctx for path isa and returns 1 if this
 * machine has the path (check_isa_available, which says so once, as test
 * name, when it does not); it returns 0 otherwise. */
static inline int check_ctx_for(const char *name, crunch_isa isa, crunch_ctx *ctx)
{
    if (!check_isa_available(name, isa))
        return 0;
    crunch_ctx_init(ctx);
    crunch_ctx_set_isa(ctx, isa);
    return 1;
}

/* check_on_paths runs each of the n tests on every path this machine has
 * (check_isa_available), all of them on one path before the next. */
typedef void (*check_path_test)(crunch_isa isa);
static inline void check_on_paths(const char *name, const check_path_test *tests, size_t n)
{
    for (int i = 0; i < CHECK_N_ISAS; i++)
        for (size_t t = 0; t < n && check_isa_available(name, check_isas[i]); t++)
            tests[t](check_isas[i]);
}

/* check_next returns 64 pseudo-random bits from state *s (splitmix64). */
static inline uint64_t check_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* check_rnd01 returns a pseudo-random double in [0, 1) from state *s. */
static inline double check_rnd01(uint64_t *s)
{
    return (double)(check_next(s) >> 11) * 0x1p-53; /* 53 bits: every such double is exact */
}

/* check_rnd11 returns a pseudo-random double in [-1, 1) from state *s. */
static inline double check_rnd11(uint64_t *s)
{
    return (double)(check_next(s) >> 11) * 0x1p-52 - 1.0;
}

/* check_now_s returns a monotonic (wall-clock) time in seconds. */
static inline double check_now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* check_cancel_when_started is a thread body: it spins until the call
 * using ctx (a crunch_ctx *) has made progress, then cancels it. */
static inline void *check_cancel_when_started(void *ctx)
{
    int64_t done = 0;
    while (done == 0)
        crunch_ctx_progress(ctx, &done, NULL);
    crunch_ctx_cancel(ctx);
    return NULL;
}

/* check_canceller: a thread (check_canceller_thread, given one) that
 * waits until the call using ctx has made progress, so that the kernel is
 * in its loops (at most 10 s), gives it delay_s seconds more, then cancels
 * it and records when and how far it was. */
typedef struct check_canceller {
    crunch_ctx *ctx;
    double delay_s;  /* from the first progress to the cancel */
    double when;     /* check_now_s() at the cancel */
    int64_t done_at; /* progress just before the cancel */
} check_canceller;

/* check_canceller_thread is a check_canceller's body; arg is one. */
static inline void *check_canceller_thread(void *arg)
{
    check_canceller *cn = arg;
    double start = check_now_s();
    int64_t done = 0;
    while (done == 0 && check_now_s() - start < 10) {
        crunch_ctx_progress(cn->ctx, &done, NULL);
        struct timespec ts = {0, 100000};
        nanosleep(&ts, NULL);
    }
    struct timespec ts = {0, (long)(cn->delay_s * 1e9)};
    nanosleep(&ts, NULL);
    cn->when = check_now_s();
    crunch_ctx_progress(cn->ctx, &cn->done_at, NULL);
    crunch_ctx_cancel(cn->ctx);
    return NULL;
}

/*
 * check_cancel_midway makes call(ctx, arg) on path isa while another
 * thread cancels it once it has made progress, until one call is
 * cancelled (5 tries at most: on a busy machine the canceller may lose
 * the race). The cancelled call must have stopped midway through its
 * total units of work; the others must have succeeded.
 */
typedef crunch_status (*check_call)(crunch_ctx *ctx, void *arg);
static inline void check_cancel_midway(const char *what, crunch_isa isa, int64_t total,
                                       check_call call, void *arg)
{
    int stopped = 0;
    for (int attempt = 0; attempt < 5 && !stopped; attempt++) {
        crunch_ctx ctx;
        crunch_ctx_init(&ctx);
        crunch_ctx_set_isa(&ctx, isa);
        pthread_t th;
        pthread_create(&th, NULL, check_cancel_when_started, &ctx);
        crunch_status st = call(&ctx, arg);
        pthread_join(th, NULL);
        int64_t done, t;
        crunch_ctx_progress(&ctx, &done, &t);
        if (st == CRUNCH_ECANCELED) {
            stopped = 1;
            CHECK(done > 0 && done < t && t == total, "%s %s: progress %lld/%lld", what,
                  crunch_isa_name(isa), (long long)done, (long long)t);
        } else {
            CHECK(st == CRUNCH_OK, "%s %s: status %d", what, crunch_isa_name(isa), st);
        }
    }
    CHECK(stopped, "%s %s: never cancelled in 5 tries", what, crunch_isa_name(isa));
}

/* check_hash folds the n bytes at p into h (FNV-1a; start from
 * CHECK_HASH_INIT): how a test pins a path's exact results in one number. */
#define CHECK_HASH_INIT 0xcbf29ce484222325ULL
static inline uint64_t check_hash(const void *p, size_t n, uint64_t h)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 0x100000001b3ULL;
    return h;
}

/* CHECK_SENTINEL_BITS is a NaN no kernel computes: outputs are filled with
 * it to see which elements a call wrote. check_sentinel returns it. */
#define CHECK_SENTINEL_BITS 0x7ff4dead0000beefULL
static inline double check_sentinel(void)
{
    double d;
    uint64_t bits = CHECK_SENTINEL_BITS;
    memcpy(&d, &bits, sizeof d);
    return d;
}

#endif /* CRUNCH_CHECK_H */
