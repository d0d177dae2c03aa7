/*
 * internal.h - what the kernels share and users never see: the per-call
 * ISA choice, cancel polling and progress accounting.
 */
#ifndef CRUNCH_INTERNAL_H
#define CRUNCH_INTERNAL_H

#include "crunch.h"

/* CRUNCH_HIDDEN keeps cross-file helpers out of the shared library's
 * exported symbols even when it is built without -fvisibility=hidden. */
#if defined(__GNUC__)
#  define CRUNCH_HIDDEN __attribute__((visibility("hidden")))
#else
#  define CRUNCH_HIDDEN
#endif

/* Target attributes for the SIMD paths: each SIMD function carries one, so
 * the library itself is built for baseline x86-64 and never needs
 * -march=native. */
#if defined(__x86_64__) || defined(__i386__)
#  define CRUNCH_X86 1
#  define CRUNCH_TARGET_AVX2 __attribute__((target("avx2,fma")))
#  define CRUNCH_TARGET_AVX512 __attribute__((target("avx512f,avx512dq,avx512bw,avx512vl,avx2,fma")))
#else
#  define CRUNCH_X86 0
#endif

/* crunch__isa_for returns the path a call with ctx should take: the best
 * supported one, capped by the ctx's isa field. */
CRUNCH_HIDDEN crunch_isa crunch__isa_for(const crunch_ctx *ctx);

/*
 * Kernel tables: how every op picks its SIMD path. An op keeps one table
 * indexed by crunch_isa, CRUNCH__ISA_LEVELS entries, each pointing at one
 * path's kernels (a struct of them, or the op's one kernel function),
 * declared with CRUNCH__KERNEL_TABLE:
 *
 *   CRUNCH__KERNEL_TABLE(paths, crunch__foo_kernels *const, &generic_kernels,
 *                        &crunch__foo_kernels_avx2, &crunch__foo_kernels_avx512);
 *
 * and a call picks its entry once, before any work, with
 * CRUNCH__PICK(paths, ctx). The generic entry is never NULL; a NULL entry
 * is a level the op has no kernels for on this build (AUTO's is always
 * NULL), and a call that would take it takes the next lower level that
 * has them. Tables are const, so any thread may read them at any time.
 */
enum { CRUNCH__ISA_LEVELS = CRUNCH_ISA_AVX512 + 1 };

/* crunch__isa_pick returns the level of a kernel table a call with ctx
 * takes: crunch__isa_for's choice, or the next lower level with a bit set
 * in filled (bit l: level l has an entry), the generic one at the least. */
static inline crunch_isa crunch__isa_pick(const crunch_ctx *ctx, unsigned filled)
{
    int isa = (int)crunch__isa_for(ctx);
    while (isa > CRUNCH_ISA_GENERIC && !(filled >> isa & 1u))
        isa--;
    return isa < CRUNCH_ISA_GENERIC ? CRUNCH_ISA_GENERIC : (crunch_isa)isa; /* AUTO: never */
}

/* CRUNCH__FILLED(paths) is the filled mask of kernel table paths; the
 * loads fold to a constant, the table being const. */
#define CRUNCH__FILLED(paths)                                                   \
    ((unsigned)((paths)[CRUNCH_ISA_AVX2] != NULL) << CRUNCH_ISA_AVX2 |          \
     (unsigned)((paths)[CRUNCH_ISA_AVX512] != NULL) << CRUNCH_ISA_AVX512)
_Static_assert(CRUNCH__ISA_LEVELS == 4, "CRUNCH__FILLED must list every SIMD level");

/* CRUNCH__KERNEL_TABLE(name, type, generic, avx2, avx512) defines kernel
 * table name, entries of type (a const pointer to an op's kernels, or a
 * function pointer), filled with the paths this build compiles: the SIMD
 * ones only on x86, where their names exist. */
#if CRUNCH_X86
#define CRUNCH__KERNEL_TABLE(name, type, generic, avx2, avx512)                 \
    static const type name[CRUNCH__ISA_LEVELS] = {                              \
        [CRUNCH_ISA_GENERIC] = (generic),                                       \
        [CRUNCH_ISA_AVX2] = (avx2),                                             \
        [CRUNCH_ISA_AVX512] = (avx512),                                         \
    }
#else
#define CRUNCH__KERNEL_TABLE(name, type, generic, avx2, avx512)                 \
    static const type name[CRUNCH__ISA_LEVELS] = {[CRUNCH_ISA_GENERIC] = (generic)}
#endif

/* CRUNCH__PICK(paths, ctx) is the entry of kernel table paths for a call
 * with ctx (see "Kernel tables" above). */
#define CRUNCH__PICK(paths, ctx) ((paths)[crunch__isa_pick((ctx), CRUNCH__FILLED(paths))])

/* crunch__canceled reports whether ctx asks the call to stop. Relaxed is
 * enough: the flag carries no data, and a late read only delays the stop. */
static inline int crunch__canceled(const crunch_ctx *ctx)
{
    return ctx != NULL && __atomic_load_n(&ctx->cancel, __ATOMIC_RELAXED) != 0;
}

/*
 * crunch__poll: cancel polling by work done rather than by loop structure.
 * A loop charges each piece of work it finishes, in work units (one unit:
 * about one multiply-add or one element read or written, a nanosecond or
 * so even on the generic path); when CRUNCH__POLL_WORK units have
 * accumulated it polls the ctx. The budget keeps the work between two
 * polls well under a millisecond on every path, whatever the shape: a
 * loop over many tiny items charges each item at least its fixed cost
 * (CRUNCH__POLL_ITEM units), and a loop over huge items cuts them with
 * crunch__poll_span so that no single charge exceeds the budget.
 *
 *   crunch__poll pl;
 *   crunch__poll_init(&pl, ctx);
 *   for (size_t i = 0; i < n;) {
 *       size_t m = crunch__poll_span(&pl, per_item, n - i);
 *       ... items i .. i+m-1 ...
 *       i += m;
 *       if (crunch__poll_work(&pl, m * per_item))
 *           return CRUNCH_ECANCELED;
 *   }
 */
#define CRUNCH__POLL_WORK ((int64_t)1 << 18)
/* The least a loop charges per item: a call and a loop's setup. */
#define CRUNCH__POLL_ITEM 16

typedef struct crunch__poll {
    const crunch_ctx *ctx; /* polled; NULL: never cancelled */
    int64_t left;          /* units until the next poll */
} crunch__poll;

/* crunch__poll_init starts counting for a call with ctx. */
static inline void crunch__poll_init(crunch__poll *pl, const crunch_ctx *ctx)
{
    pl->ctx = ctx;
    pl->left = CRUNCH__POLL_WORK;
}

/* crunch__poll_work charges units of work just done and reports whether
 * the call must stop: non-zero only when the budget is used up and the
 * ctx is cancelled. Between polls it is a subtraction and a branch. */
static inline int crunch__poll_work(crunch__poll *pl, int64_t units)
{
    pl->left -= units;
    if (__builtin_expect(pl->left > 0, 1))
        return 0;
    pl->left = CRUNCH__POLL_WORK; /* a fresh budget, even if cancelled: no state to keep */
    return crunch__canceled(pl->ctx);
}

/* crunch__poll_now polls at once (before a piece of work that cannot be
 * cut) and starts a fresh budget. */
static inline int crunch__poll_now(crunch__poll *pl)
{
    pl->left = CRUNCH__POLL_WORK;
    return crunch__canceled(pl->ctx);
}

/* crunch__poll_span returns how many of avail (> 0) items of per_item
 * units each (> 0) fit in what is left of the budget: at least 1, at most
 * avail. A loop that does that many items and charges them keeps its
 * charges within the budget (but for a single item larger than it). */
static inline size_t crunch__poll_span(const crunch__poll *pl, size_t per_item, size_t avail)
{
    size_t left = pl->left > 0 ? (size_t)pl->left : 1;
    size_t m = left / per_item;
    m = m < 1 ? 1 : m;
    return m < avail ? m : avail;
}

/* crunch__progress_begin publishes the call's total work and zero done. */
static inline void crunch__progress_begin(crunch_ctx *ctx, int64_t total)
{
    if (ctx != NULL) {
        __atomic_store_n(&ctx->done, 0, __ATOMIC_RELAXED);
        __atomic_store_n(&ctx->total, total, __ATOMIC_RELAXED);
    }
}

/* crunch__progress_add advances done by n. The tasks of a parallel call
 * add from several threads at once, so it is an atomic add; relaxed, as
 * done orders nothing else. Kernels call it every block of work or so,
 * where an uncontended atomic add costs nothing measurable. */
static inline void crunch__progress_add(crunch_ctx *ctx, int64_t n)
{
    if (ctx != NULL)
        __atomic_fetch_add(&ctx->done, n, __ATOMIC_RELAXED);
}

/*
 * Parallel calls (parallel.c). A kernel that can run in parallel cuts its
 * work into items of fixed sizes, chosen from the problem's sizes and
 * never from the number of threads, and writes each item's result where
 * no other item writes; it combines them afterwards in item order. Then
 * the result does not depend on which thread ran which item, nor on how
 * many there were.
 *
 * crunch__item_fn does item i of a call whose state is arg. It polls
 * cancel and advances progress itself, as a serial kernel does, and
 * returns CRUNCH_OK or the call's error.
 */
typedef crunch_status (*crunch__item_fn)(void *arg, size_t i);

/*
 * crunch__parallel runs item(arg, i) for every i in [0, items), on the
 * ctx's runner when it has one and a thread budget above 1 and there are
 * two items or more (each item a task of the runner), else in order on
 * the calling thread. Runners hand tasks out one at a time, so uneven
 * items balance themselves. Cancel is polled before each item; after an
 * item fails or the call is cancelled no further item starts. Returns CRUNCH_OK when
 * every item succeeded, else an item's error (one other than
 * CRUNCH_ECANCELED when there is one), or CRUNCH_ECANCELED.
 */
CRUNCH_HIDDEN crunch_status crunch__parallel(crunch_ctx *ctx, size_t items, crunch__item_fn item,
                                             void *arg);

/* crunch__serial is crunch__parallel on the calling thread whatever the
 * ctx's runner: for a call whose items are too small, this time, to pay
 * for a round on several threads. */
CRUNCH_HIDDEN crunch_status crunch__serial(crunch_ctx *ctx, size_t items, crunch__item_fn item,
                                           void *arg);

/* crunch__threads returns how many threads a call with ctx may use: the
 * ctx's budget when it has a runner, else 1. Kernels use it only to skip
 * parallel set-up that one thread would not need, never to size work. */
static inline int crunch__threads(const crunch_ctx *ctx)
{
    if (ctx == NULL || ctx->runner == NULL || ctx->threads < 2)
        return 1;
    return ctx->threads;
}

/*
 * crunch__overlap reports whether two row-strided arrays may share a byte:
 * p holds rows x cols elements of esize bytes with rows ld elements apart
 * (ld >= cols), q likewise rows2 x cols2 with ld2. Exact when the two have
 * the same row stride and element alignment (the blocks of one matrix, as
 * the library's own callers pass them, do not overlap however they
 * interleave); otherwise any overlap of their address spans counts. Empty
 * arrays overlap nothing. It is how kernels refuse an output that aliases
 * an input (CRUNCH_EINVAL).
 */
CRUNCH_HIDDEN int crunch__overlap(const void *p, size_t rows, size_t cols, size_t ld,
                                  const void *q, size_t rows2, size_t cols2, size_t ld2,
                                  size_t esize);

/* crunch__overlap_1d: crunch__overlap for two plain arrays of n and n2
 * elements of esize bytes. */
static inline int crunch__overlap_1d(const void *p, size_t n, const void *q, size_t n2,
                                     size_t esize)
{
    return crunch__overlap(p, 1, n, n, q, 1, n2, n2, esize);
}

/*
 * crunch__scratch_get returns a 64-byte-aligned buffer of at least bytes
 * (> 0) and its capacity in *cap, reusing the one this thread released
 * last when it is large enough; NULL when memory runs out. Give it back
 * with crunch__scratch_put(p, *cap), which keeps it for the thread's next
 * call (if not too large) or frees it. p may be NULL. scratch.c says why.
 */
CRUNCH_HIDDEN void *crunch__scratch_get(size_t bytes, size_t *cap);
CRUNCH_HIDDEN void crunch__scratch_put(void *p, size_t cap);

/*
 * crunch__bigbuf is a work buffer that may be many MiB: see bigbuf.c.
 * crunch__bigbuf_alloc sets w->p to an uninitialised, 64-byte-aligned
 * buffer of at least bytes, or to NULL when memory runs out; release it
 * with crunch__bigbuf_free, which keeps it for a later call when it can.
 */
typedef struct crunch__bigbuf {
    void *p;    /* the buffer */
    void *map;  /* the mapping to unmap, or NULL when p came from malloc */
    size_t len; /* the mapping's length */
} crunch__bigbuf;
CRUNCH_HIDDEN void crunch__bigbuf_alloc(crunch__bigbuf *w, size_t bytes);
CRUNCH_HIDDEN void crunch__bigbuf_free(crunch__bigbuf *w);

#endif /* CRUNCH_INTERNAL_H */
