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

/* crunch__progress_begin publishes the call's total work and zero done. */
static inline void crunch__progress_begin(crunch_ctx *ctx, int64_t total)
{
    if (ctx != NULL) {
        __atomic_store_n(&ctx->done, 0, __ATOMIC_RELAXED);
        __atomic_store_n(&ctx->total, total, __ATOMIC_RELAXED);
    }
}

/* crunch__progress_add advances done by n. Only the kernel's own thread
 * writes done, so a load and a store suffice (no read-modify-write). */
static inline void crunch__progress_add(crunch_ctx *ctx, int64_t n)
{
    if (ctx != NULL) {
        int64_t d = __atomic_load_n(&ctx->done, __ATOMIC_RELAXED);
        __atomic_store_n(&ctx->done, d + n, __ATOMIC_RELAXED);
    }
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
 * with crunch__bigbuf_free.
 */
typedef struct crunch__bigbuf {
    void *p;    /* the buffer */
    void *map;  /* the mapping to unmap, or NULL when p came from malloc */
    size_t len; /* the mapping's length */
} crunch__bigbuf;
CRUNCH_HIDDEN void crunch__bigbuf_alloc(crunch__bigbuf *w, size_t bytes);
CRUNCH_HIDDEN void crunch__bigbuf_free(crunch__bigbuf *w);

#endif /* CRUNCH_INTERNAL_H */
