/*
 * sort.c - crunch_sort_{f64,f32,i64,i32,u32}: in-place sorts with NaN last
 * and -0.0 before +0.0 (after it when descending).
 *
 * Keys. Each element's bits map to an unsigned integer whose natural order
 * is the wanted order (the classic float trick):
 *   unsigned: the bits themselves;
 *   signed:   the bits with the sign bit flipped (INT_MIN -> 0);
 *   float:    negatives (sign bit set) have every bit flipped, so that a
 *             larger magnitude gives a smaller key; the rest have only the
 *             sign bit flipped. -0.0 becomes 0x7ff..f and +0.0 0x800..0,
 *             one apart, in that order; -Inf is the smallest key.
 * Descending flips every bit of the key, which reverses the order. NaN
 * maps to keys at both ends depending on its sign, so NaNs are moved aside
 * before sorting instead: the first pass copies them, in input order, to
 * the work buffer and compacts the rest, and they are written back behind
 * the sorted part. The mapping is a bijection on the bits, so keys need
 * not be stored: each pass moves the values and recomputes the key (a
 * few ALU operations per element, far cheaper than a pass of its own to
 * transform and one to transform back).
 *
 * Sorting. Below SMALL elements, insertion sort on the keys. Above, an LSD
 * radix sort, one byte per pass from the least significant, each pass a
 * stable scatter from one buffer to the other (x and an n-element work
 * buffer) through 256 bucket offsets. One pass over the input builds every
 * byte's histogram at once (and sets NaNs aside); a byte on which every key
 * agrees (its histogram has one bucket holding everything) needs no pass.
 * An odd number of passes leaves the result in the work buffer: it is
 * copied back.
 *
 * Cancel is polled every CHUNK elements of a pass (a fraction of a
 * millisecond); a cancelled sort leaves x holding its elements in some
 * order (the state before the interrupted pass).
 *
 * Into another buffer (crunch_sort_into_*), the first pass reads the
 * input once and compacts it into a private work buffer instead of x,
 * the passes run between that and a second one, and the last pass
 * scatters into out: the copy a caller would make first is folded into
 * the first pass, and out is never read.
 *
 * In parallel (a ctx with a runner): on 2 threads, the two halves sorted
 * at once by the serial sort and then merged (sort_merge.h); on 3 or more,
 * the same passes run chunk by chunk on the runner's threads
 * (sort_parallel.h).
 *
 * Values are read and written through memcpy of their bit pattern, never
 * by casting a double * to an integer pointer: that keeps strict aliasing
 * intact, and compilers turn the fixed-size copies into plain moves.
 */
#include "internal.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

enum {
    SMALL = 48,       /* insertion sort below this many elements */
    CHUNK = 1 << 16,  /* elements between cancel polls */
    RADIX = 256       /* one byte per pass */
};

#include "sort_merge.h"
#include "sort_parallel.h"

/* The chunked passes cost about 1.5 times the serial sort's work (each
 * pass reads the keys twice), so they are for 3 threads or more; 2 sort
 * halves and merge them. The result is the same either way. */
#define PAR_MIN_THREADS 3

/* The key maps, as functions of the bits (see the file comment). 0 - s
 * turns a sign bit s (0 or 1) into an all-zeros or all-ones mask. */
static inline uint64_t key_f64(uint64_t u)
{
    return u ^ ((0 - (u >> 63)) | ((uint64_t)1 << 63));
}

static inline uint32_t key_f32(uint32_t u)
{
    return u ^ ((0 - (u >> 31)) | ((uint32_t)1 << 31));
}

static inline uint64_t key_i64(uint64_t u)
{
    return u ^ ((uint64_t)1 << 63);
}

static inline uint32_t key_i32(uint32_t u)
{
    return u ^ ((uint32_t)1 << 31);
}

static inline uint32_t key_u32(uint32_t u)
{
    return u;
}

/* NaN tests on the bits: exponent all ones and a non-zero mantissa. */
static inline int nan_f64(uint64_t u)
{
    return (u & ~((uint64_t)1 << 63)) > 0x7ff0000000000000ULL;
}

static inline int nan_f32(uint32_t u)
{
    return (u & ~((uint32_t)1 << 31)) > 0x7f800000U;
}

static inline int nan_none64(uint64_t u)
{
    (void)u;
    return 0;
}

static inline int nan_none32(uint32_t u)
{
    (void)u;
    return 0;
}

/* copy_polled copies bytes from src to dst in pieces of 1 MiB (well under
 * a millisecond each), polling ctx between them. */
static crunch_status copy_polled(crunch_ctx *ctx, void *dst, const void *src, size_t bytes)
{
    const size_t piece = (size_t)1 << 20;
    for (size_t i = 0; i < bytes; i += piece) {
        if (crunch__canceled(ctx))
            return CRUNCH_ECANCELED;
        memcpy((char *)dst + i, (const char *)src + i, bytes - i < piece ? bytes - i : piece);
    }
    return CRUNCH_OK;
}

/*
 * SORT_TYPED(S, T, U, KEY, ISNAN) defines sort_S for elements of type T
 * whose bits are the unsigned U, with key map KEY and NaN test ISNAN.
 * Each function has its contract in the comment before it.
 */
#define SORT_TYPED(S, T, U, KEY, ISNAN)                                                       \
                                                                                              \
    /* load_S and store_S read and write element i of a buffer of U-sized                     \
     * elements, whatever its declared type. */                                               \
    static inline U load_##S(const void *p, size_t i)                                         \
    {                                                                                         \
        U v;                                                                                  \
        memcpy(&v, (const char *)p + i * sizeof v, sizeof v);                                 \
        return v;                                                                             \
    }                                                                                         \
                                                                                              \
    static inline void store_##S(void *p, size_t i, U v)                                      \
    {                                                                                         \
        memcpy((char *)p + i * sizeof v, &v, sizeof v);                                       \
    }                                                                                         \
                                                                                              \
    /* before_S reports whether v sorts strictly before w: NaN after all                      \
     * else, otherwise by key (flip reverses the order). */                                   \
    static inline int before_##S(U v, U w, U flip)                                            \
    {                                                                                         \
        if (ISNAN(v))                                                                         \
            return 0;                                                                         \
        if (ISNAN(w))                                                                         \
            return 1;                                                                         \
        return (U)(KEY(v) ^ flip) < (U)(KEY(w) ^ flip);                                       \
    }                                                                                         \
                                                                                              \
    /* insertion_S sorts x[0..n) by before_S; stable, so NaNs keep their                      \
     * order. */                                                                              \
    static void insertion_##S(void *x, size_t n, U flip)                                      \
    {                                                                                         \
        for (size_t i = 1; i < n; i++) {                                                      \
            U v = load_##S(x, i);                                                             \
            size_t j = i;                                                                     \
            for (; j > 0; j--) {                                                              \
                U w = load_##S(x, j - 1);                                                     \
                if (!before_##S(v, w, flip))                                                  \
                    break;                                                                    \
                store_##S(x, j, w);                                                           \
            }                                                                                 \
            store_##S(x, j, v);                                                               \
        }                                                                                     \
    }                                                                                         \
                                                                                              \
    SORT_PARALLEL_TYPED(S, T, U, KEY, ISNAN)                                                  \
                                                                                              \
    /* sort_par_into_S is the parallel sort into out: in copied to a private                  \
     * buffer, sorted there, then copied to out, so that out is only written                  \
     * (see sort_S). */                                                                       \
    static crunch_status sort_par_into_##S(crunch_ctx *ctx, const T *in, T *out, size_t n, U flip) \
    {                                                                                         \
        crunch__bigbuf wk;                                                                    \
        crunch__bigbuf_alloc(&wk, n * sizeof(U)); /* the caller bounds n */                   \
        if (wk.p == NULL)                                                                     \
            return CRUNCH_ENOMEM;                                                             \
        crunch_status st = copy_polled(ctx, wk.p, in, n * sizeof(U));                         \
        if (st == CRUNCH_OK)                                                                  \
            st = sort_par_##S(ctx, wk.p, n, flip);                                            \
        if (st == CRUNCH_OK)                                                                  \
            st = copy_polled(ctx, out, wk.p, n * sizeof(U));                                  \
        crunch__bigbuf_free(&wk);                                                             \
        return st;                                                                            \
    }                                                                                         \
                                                                                              \
    /* sort_serial_S is the radix sort of the file comment on the calling                     \
     * thread, after sort_S's checks (n >= SMALL, in == out or apart) with                    \
     * progress begun. tmp is its work space: n elements in place, 2n into                    \
     * another buffer. */                                                                     \
    static crunch_status sort_serial_##S(crunch_ctx *ctx, const T *in, T *out, size_t n, U flip, \
                                         U *tmp)                                              \
    {                                                                                         \
        enum { NB = sizeof(U) };                                                              \
        const int inplace = (const void *)in == (const void *)out;                            \
        /* In place: tmp is the other buffer of the passes, and holds the NaNs                \
         * during the first. Into out: the passes run between tmp and tmp2,                   \
         * and tmp2 holds the NaNs during the first. */                                       \
        U *const nanbuf = inplace ? tmp : tmp + n;                                            \
        void *const first = inplace ? (void *)out : (void *)tmp; /* where pass 0 compacts to */ \
        size_t hist[NB][RADIX];                                                               \
        memset(hist, 0, sizeof hist);                                                         \
        /* Per-chunk counts, even and odd elements apart: a byte that most                    \
         * keys share would otherwise make every increment wait for the                       \
         * previous one's store. uint32_t cannot overflow within a chunk. */                  \
        uint32_t part[2][NB][RADIX];                                                          \
                                                                                              \
        /* Pass 0: NaNs to nanbuf, the rest compacted to first[0..m), histograms              \
         * of exactly the values moved. */                                                    \
        size_t m = 0, nans = 0;                                                               \
        for (size_t i0 = 0; i0 < n; i0 += CHUNK) {                                            \
            if (crunch__canceled(ctx)) {                                                      \
                /* In place, x[m..i0) are the slots the NaNs left: put them back. */          \
                if (inplace)                                                                  \
                    memcpy((char *)out + m * sizeof(U), nanbuf, nans * sizeof(U));            \
                return CRUNCH_ECANCELED;                                                      \
            }                                                                                 \
            size_t end = n - i0 < CHUNK ? n : i0 + CHUNK;                                     \
            memset(part, 0, sizeof part);                                                     \
            for (size_t i = i0; i < end; i++) {                                               \
                U v = load_##S(in, i);                                                        \
                if (ISNAN(v)) {                                                               \
                    nanbuf[nans++] = v;                                                       \
                    continue;                                                                 \
                }                                                                             \
                if (!inplace || m != i) /* in place without NaNs, leave x's lines clean */    \
                    store_##S(first, m, v); /* m <= i: never overwrites unread input */       \
                m++;                                                                          \
                U k = KEY(v) ^ flip;                                                          \
                uint32_t(*h)[RADIX] = part[i & 1];                                            \
                for (int b = 0; b < NB; b++)                                                  \
                    h[b][(k >> (8 * b)) & (RADIX - 1)]++;                                     \
            }                                                                                 \
            for (int b = 0; b < NB; b++)                                                      \
                for (int d = 0; d < RADIX; d++)                                               \
                    hist[b][d] += (size_t)part[0][b][d] + part[1][b][d];                      \
            crunch__progress_add(ctx, (int64_t)(end - i0));                                   \
        }                                                                                     \
        memcpy((char *)out + m * sizeof(U), nanbuf, nans * sizeof(U));                        \
                                                                                              \
        /* A byte every key shares (one bucket holds all m) needs no pass;                    \
         * last is the last byte that does, -1 for none. */                                   \
        int skip[NB], last = -1;                                                              \
        for (int b = 0; b < NB; b++) {                                                        \
            skip[b] = m == 0 || hist[b][((KEY(load_##S(first, 0)) ^ flip) >> (8 * b)) & (RADIX - 1)] == m; \
            if (!skip[b])                                                                     \
                last = b;                                                                     \
        }                                                                                     \
        /* Passes 1..NB: scatter by byte b, from src to dst; into out, the                    \
         * last one scatters into out itself. */                                              \
        void *src = first, *dst = inplace ? (void *)tmp : (void *)nanbuf;                     \
        for (int b = 0; b < NB; b++) {                                                        \
            if (skip[b]) {                                                                    \
                crunch__progress_add(ctx, (int64_t)n);                                        \
                continue;                                                                     \
            }                                                                                 \
            void *to = !inplace && b == last ? (void *)out : dst;                             \
            const int shift = 8 * b;                                                          \
            size_t off[RADIX], sum = 0;                                                       \
            for (int d = 0; d < RADIX; d++) { /* exclusive prefix sums */                     \
                off[d] = sum;                                                                 \
                sum += hist[b][d];                                                            \
            }                                                                                 \
            for (size_t i0 = 0; i0 < m; i0 += CHUNK) {                                        \
                if (crunch__canceled(ctx)) {                                                  \
                    /* In place, src holds the state before this pass and x[m..n)             \
                     * the NaNs; into out, out's contents are undefined. */                   \
                    if (inplace && src != (void *)out)                                        \
                        memcpy(out, src, m * sizeof(U));                                      \
                    return CRUNCH_ECANCELED;                                                  \
                }                                                                             \
                size_t end = m - i0 < CHUNK ? m : i0 + CHUNK;                                 \
                for (size_t i = i0; i < end; i++) {                                           \
                    U v = load_##S(src, i);                                                   \
                    size_t d = ((KEY(v) ^ flip) >> shift) & (RADIX - 1);                      \
                    store_##S(to, off[d]++, v);                                               \
                }                                                                             \
                crunch__progress_add(ctx, (int64_t)(end - i0));                               \
            }                                                                                 \
            crunch__progress_add(ctx, (int64_t)(n - m)); /* the NaNs need no pass */          \
            dst = src;                                                                        \
            src = to;                                                                         \
        }                                                                                     \
        if (src != (void *)out) /* an odd number of passes in place, or none into out */      \
            memcpy(out, src, m * sizeof(U));                                                  \
        return CRUNCH_OK;                                                                     \
    }                                                                                         \
                                                                                              \
    SORT_MERGE_TYPED(S, T, U, KEY, ISNAN)                                                     \
                                                                                              \
    /* sort_S sorts in[0..n) into out: crunch_sort_into_S, or crunch_sort_S                   \
     * when in == out (crunch.h has both contracts). Sorting into another                     \
     * buffer, out is only ever written: the first pass reads in once and                     \
     * moves its values to a private work buffer, the passes run between two                  \
     * private buffers, and the last one scatters into out; nothing is read                   \
     * back from out, so a caller changing it meanwhile (memory shared with                   \
     * another process) spoils only its own result. */                                        \
    static crunch_status sort_##S(crunch_ctx *ctx, const T *in, T *out, size_t n, int descending) \
    {                                                                                         \
        enum { NB = sizeof(U) };                                                              \
        const U flip = descending ? (U) ~(U)0 : 0;                                            \
        const int inplace = (const void *)in == (const void *)out;                            \
        if (n > 0 && (in == NULL || out == NULL))                                             \
            return CRUNCH_EINVAL;                                                             \
        /* x and two work buffers must all fit; this also keeps the                           \
         * progress total, n * (NB + 2) at most, inside int64. */                             \
        if (n > (size_t)PTRDIFF_MAX / 32)                                                     \
            return CRUNCH_EINVAL;                                                             \
        const size_t bytes = n * sizeof(U);                                                   \
        if (!inplace && (const char *)in < (const char *)out + bytes &&                       \
            (const char *)out < (const char *)in + bytes)                                     \
            return CRUNCH_EINVAL; /* overlapping but not the same */                          \
        const int64_t total = (int64_t)n * (NB + 1);                                          \
        if (n < 2) { /* nothing to order, nothing to cancel */                                \
            if (!inplace && n > 0)                                                            \
                memcpy(out, in, bytes);                                                       \
            crunch__progress_begin(ctx, total);                                               \
            crunch__progress_add(ctx, total);                                                 \
            return CRUNCH_OK;                                                                 \
        }                                                                                     \
        if (crunch__canceled(ctx))                                                            \
            return CRUNCH_ECANCELED;                                                          \
        if (n < SMALL) { /* its loops stay in bounds whatever out holds */                    \
            if (!inplace)                                                                     \
                memcpy(out, in, bytes);                                                       \
            insertion_##S(out, n, flip);                                                      \
            crunch__progress_begin(ctx, total);                                               \
            crunch__progress_add(ctx, total);                                                 \
            return CRUNCH_OK;                                                                 \
        }                                                                                     \
        const int threads = crunch__threads(ctx);                                             \
        if (threads >= PAR_MIN_THREADS && n > PCHUNK) { /* two chunks or more */              \
            crunch__progress_begin(ctx, total);                                               \
            return inplace ? sort_par_##S(ctx, out, n, flip)                                  \
                           : sort_par_into_##S(ctx, in, out, n, flip);                        \
        }                                                                                     \
        if (threads == 2 && n >= HALVES_MIN) {                                                \
            crunch__progress_begin(ctx, total + (int64_t)n); /* n more: the merge */          \
            return sort_halves_##S(ctx, in, out, n, flip);                                    \
        }                                                                                     \
        crunch__progress_begin(ctx, total);                                                   \
        crunch__bigbuf wk;                                                                    \
        crunch__bigbuf_alloc(&wk, inplace ? bytes : 2 * bytes); /* no overflow after the bound above */\
        if (wk.p == NULL)                                                                     \
            return CRUNCH_ENOMEM;                                                             \
        crunch_status st = sort_serial_##S(ctx, in, out, n, flip, wk.p);                      \
        crunch__bigbuf_free(&wk);                                                             \
        return st;                                                                            \
    }                                                                                         \
                                                                                              \
    /* The public entry points (crunch.h has their contracts). */                             \
    crunch_status crunch_sort_##S(crunch_ctx *ctx, T *x, size_t n, int descending)            \
    {                                                                                         \
        return sort_##S(ctx, x, x, n, descending);                                            \
    }                                                                                         \
    crunch_status crunch_sort_into_##S(crunch_ctx *ctx, const T *x, T *out, size_t n,         \
                                       int descending)                                        \
    {                                                                                         \
        return sort_##S(ctx, x, out, n, descending);                                          \
    }

SORT_TYPED(f64, double, uint64_t, key_f64, nan_f64)
SORT_TYPED(f32, float, uint32_t, key_f32, nan_f32)
SORT_TYPED(i64, int64_t, uint64_t, key_i64, nan_none64)
SORT_TYPED(i32, int32_t, uint32_t, key_i32, nan_none32)
SORT_TYPED(u32, uint32_t, uint32_t, key_u32, nan_none32)
