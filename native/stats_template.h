/*
 * stats_template.h - stats's kernels, in two parts. The first, guarded (a
 * file that includes this one with TGT undefined gets only it), is what
 * stats.c (the driver) and stats_avx2.c / stats_avx512.c (the block
 * kernels) share. Internal: never installed, never exported.
 *
 * The driver cuts the input into blocks of at most CRUNCH__STATS_BLOCK
 * doubles, small enough to stay in L1 between a block kernel's two passes,
 * and merges the blocks' summaries (stats.c explains the numerics). A
 * block kernel only summarises one block; it is the only code that differs
 * between the SIMD paths, which the second part writes once for both.
 *
 * The second part, stamped out once per inclusion with TGT defined: the
 * SIMD stats block kernel (contract in the first part) and the f32
 * widening, written once over an abstract vector of W doubles and stamped
 * out per path: stats_avx2.c includes it with ymm vectors (W = 4),
 * stats_avx512.c with zmm vectors (W = 8).
 *
 * Pass 1 keeps four sum accumulators (4W lanes: each lane adds at most
 * 2048 / 4W of a block's elements, 64 or 128, which keeps the lane sums
 * short and accurate) and two each for min and max, so that no chain of
 * dependent adds or compares limits the loop; the OR and AND of the bits
 * run on the integer side. Pass 2 re-reads the block from L1 and sums the
 * deviations with Kahan compensation in every lane (four dependent adds
 * per vector, spread over four independent accumulators). While it runs,
 * the next block is prefetched: pass 2 issues no demand misses of its
 * own, and without the prefetches memory would sit idle during it
 * (measured: 20-50% slower).
 *
 * The includer defines, before each inclusion of the second part (the
 * double-precision ones are simd_f64.h's for each x86 path):
 *   TGT             the target attribute of every function
 *   V               the vector type, W doubles
 *   VI              the vector type of W 64-bit integers
 *   W               doubles per vector
 *   V_ZERO(), V_SET1(x), V_LOADU(p), V_STOREU(p, v)   (unaligned p)
 *   V_ADD(a, b), V_SUB(a, b), V_MIN(a, b), V_MAX(a, b)
 *                   lane by lane; V_MIN and V_MAX return b when a is NaN
 *   V_FMA(a, b, c)  a * b + c, fused
 *   V_BITS(v)       v's bits as a VI
 *   VI_ZERO(), VI_ONES()     every bit clear, every bit set
 *   VI_OR(a, b), VI_AND(a, b)
 *   V_HSUM(v), V_HMIN(v), V_HMAX(v)   v's lanes reduced to a double
 *   VI_HOR(v), VI_HAND(v)    v's lanes reduced to a uint64_t
 *   V_WIDEN(p)      the W floats at p as a V
 * and this file undefines them, and its own macros, at its end. It
 * defines the static functions stats_block (a crunch__stats_kernel) and
 * stats_widen (a crunch__stats_widen), for the includer's table entry.
 */
#ifndef CRUNCH_STATS_TEMPLATE_H
#define CRUNCH_STATS_TEMPLATE_H

#include "internal.h"

#include <stddef.h>
#include <stdint.h>

/* Elements per block: 16 KiB of doubles, a third of Zen 5's L1D (half of
 * a 32 KiB one), so the second pass reads L1 while the next block's lines
 * are being fetched. */
#define CRUNCH__STATS_BLOCK 2048

/* crunch__stats_part: a block kernel's summary of x[0..len). */
typedef struct crunch__stats_part {
    double sum;       /* sum of x, any association order */
    double min, max;  /* smallest and largest by value, NaNs ignored (+Inf,
                         -Inf if every element is NaN); the sign of a zero
                         result is arbitrary: orbits/andbits settle it */
    uint64_t orbits;  /* bitwise OR of every element's bits */
    uint64_t andbits; /* bitwise AND of every element's bits */
    double m;         /* sum / len, the shift of the second pass */
    double c;         /* sum of (x - m): the first pass's rounding error, times -1 */
    double q;         /* sum of (x - m)^2 */
} crunch__stats_part;

/*
 * A block kernel's contract: x holds len doubles, 1 <= len <=
 * CRUNCH__STATS_BLOCK, with only the natural alignment of double. It fills
 * every field of *p. When sum is not finite, m, c and q are unspecified
 * (the driver does not use them).
 */
typedef void (*crunch__stats_kernel)(const double *x, size_t len, crunch__stats_part *p);

/* A widen function converts x[0..len) (len <= CRUNCH__STATS_BLOCK) to
 * doubles in out: how f32 input reaches the block kernels. */
typedef void (*crunch__stats_widen)(const float *x, size_t len, double *out);

/* crunch__stats_kernels: one path's kernels, an entry of stats's kernel
 * table (internal.h). */
typedef struct crunch__stats_kernels {
    crunch__stats_kernel block;
    crunch__stats_widen widen;
} crunch__stats_kernels;

#if CRUNCH_X86
CRUNCH_HIDDEN extern const crunch__stats_kernels crunch__stats_kernels_avx2;
CRUNCH_HIDDEN extern const crunch__stats_kernels crunch__stats_kernels_avx512;
#endif

/*
 * crunch__stats_end1 folds x[0..len) into a partial first pass (sum, min,
 * max and the bit masks) with plain scalar code, stores the pass in p and
 * returns its sum. The kernels end their first pass with it, the SIMD
 * ones on the last len % vector-width elements.
 */
static inline double crunch__stats_end1(const double *x, size_t len, double sum, double mn,
                                      double mx, uint64_t orb, uint64_t andb,
                                      crunch__stats_part *p)
{
    for (size_t i = 0; i < len; i++) {
        double v = x[i];
        uint64_t b;
        __builtin_memcpy(&b, &v, sizeof b); /* the bits, without aliasing a double as an integer */
        sum += v;
        mn = v < mn ? v : mn; /* false for NaN: NaN never becomes the minimum */
        mx = v > mx ? v : mx;
        orb |= b;
        andb &= b;
    }
    p->sum = sum;
    p->min = mn;
    p->max = mx;
    p->orbits = orb;
    p->andbits = andb;
    return sum;
}

/* crunch__stats_tail2 folds x[0..len) into a partial second pass around m. */
static inline void crunch__stats_tail2(const double *x, size_t len, double m, double *c,
                                       double *q)
{
    for (size_t i = 0; i < len; i++) {
        double d = x[i] - m;
        *c += d;
        *q += d * d;
    }
}

#endif /* CRUNCH_STATS_TEMPLATE_H */

#ifdef TGT
#define U (4 * W) /* elements per step of the unrolled loops */
/* Bytes ahead of the current position that pass 2 prefetches: exactly one
 * block, i.e. the same offset in the next block. */
#define AHEAD (CRUNCH__STATS_BLOCK * 8)

/* KAHAN adds d to the compensated sum (c, e): e holds what the last add to
 * c lost, negated (Kahan's summation, lane by lane). */
#define KAHAN(c, e, d)                                                       \
    do {                                                                     \
        V y_ = V_SUB(d, e);                                                  \
        V t_ = V_ADD(c, y_);                                                 \
        e = V_SUB(V_SUB(t_, c), y_);                                         \
        c = t_;                                                              \
    } while (0)

static TGT void stats_block(const double *x, size_t len, crunch__stats_part *p)
{
    V s0 = V_ZERO(), s1 = s0, s2 = s0, s3 = s0;
    V mn0 = V_SET1(INFINITY), mn1 = mn0;
    V mx0 = V_SET1(-INFINITY), mx1 = mx0;
    VI orv = VI_ZERO(), andv = VI_ONES();
    size_t i = 0;
    for (; i + U <= len; i += U) {
        V v0 = V_LOADU(x + i), v1 = V_LOADU(x + i + W);
        V v2 = V_LOADU(x + i + 2 * W), v3 = V_LOADU(x + i + 3 * W);
        s0 = V_ADD(s0, v0);
        s1 = V_ADD(s1, v1);
        s2 = V_ADD(s2, v2);
        s3 = V_ADD(s3, v3);
        /* min(v, acc) returns acc when v is NaN: NaN never enters. */
        mn0 = V_MIN(v0, mn0);
        mn1 = V_MIN(v1, mn1);
        mn0 = V_MIN(v2, mn0);
        mn1 = V_MIN(v3, mn1);
        mx0 = V_MAX(v0, mx0);
        mx1 = V_MAX(v1, mx1);
        mx0 = V_MAX(v2, mx0);
        mx1 = V_MAX(v3, mx1);
        VI b0 = V_BITS(v0), b1 = V_BITS(v1);
        VI b2 = V_BITS(v2), b3 = V_BITS(v3);
        orv = VI_OR(orv, VI_OR(VI_OR(b0, b1), VI_OR(b2, b3)));
        andv = VI_AND(andv, VI_AND(VI_AND(b0, b1), VI_AND(b2, b3)));
    }
    for (; i + W <= len; i += W) { /* whole vectors left over */
        V v = V_LOADU(x + i);
        s0 = V_ADD(s0, v);
        mn0 = V_MIN(v, mn0);
        mx0 = V_MAX(v, mx0);
        orv = VI_OR(orv, V_BITS(v));
        andv = VI_AND(andv, V_BITS(v));
    }
    size_t whole = i;
    double sum = V_HSUM(V_ADD(V_ADD(s0, s1), V_ADD(s2, s3)));
    double mn = V_HMIN(V_MIN(mn0, mn1));
    double mx = V_HMAX(V_MAX(mx0, mx1));
    uint64_t orb = VI_HOR(orv);
    uint64_t andb = VI_HAND(andv);
    sum = crunch__stats_end1(x + whole, len - whole, sum, mn, mx, orb, andb, p);
    if (!isfinite(sum))
        return;

    double m = sum / (double)len;
    const V mv = V_SET1(m);
    V c0 = V_ZERO(), c1 = c0, c2 = c0, c3 = c0;
    V e0 = c0, e1 = c0, e2 = c0, e3 = c0;
    V q0 = c0, q1 = c0, q2 = c0, q3 = c0;
    for (i = 0; i + U <= len; i += U) {
        /* The next block, line by line: as many cache lines as this step
         * reads. Prefetches past the array's end are harmless (they never
         * fault). */
        const char *pf = (const char *)(x + i) + AHEAD;
#pragma GCC unroll 8
        for (int l = 0; l < U * 8; l += 64)
            _mm_prefetch(pf + l, _MM_HINT_T0);
        V d0 = V_SUB(V_LOADU(x + i), mv);
        V d1 = V_SUB(V_LOADU(x + i + W), mv);
        V d2 = V_SUB(V_LOADU(x + i + 2 * W), mv);
        V d3 = V_SUB(V_LOADU(x + i + 3 * W), mv);
        KAHAN(c0, e0, d0);
        KAHAN(c1, e1, d1);
        KAHAN(c2, e2, d2);
        KAHAN(c3, e3, d3);
        q0 = V_FMA(d0, d0, q0);
        q1 = V_FMA(d1, d1, q1);
        q2 = V_FMA(d2, d2, q2);
        q3 = V_FMA(d3, d3, q3);
    }
    for (; i + W <= len; i += W) {
        V d = V_SUB(V_LOADU(x + i), mv);
        KAHAN(c0, e0, d);
        q0 = V_FMA(d, d, q0);
    }
    /* apply the last corrections */
    c0 = V_SUB(c0, e0);
    c1 = V_SUB(c1, e1);
    c2 = V_SUB(c2, e2);
    c3 = V_SUB(c3, e3);
    double c = V_HSUM(V_ADD(V_ADD(c0, c1), V_ADD(c2, c3)));
    double q = V_HSUM(V_ADD(V_ADD(q0, q1), V_ADD(q2, q3)));
    crunch__stats_tail2(x + whole, len - whole, m, &c, &q);
    p->m = m;
    p->c = c;
    p->q = q;
}

/* stats_widen converts floats to doubles, two vectors per step. */
static TGT void stats_widen(const float *x, size_t len, double *out)
{
    size_t i = 0;
    for (; i + 2 * W <= len; i += 2 * W) {
        V_STOREU(out + i, V_WIDEN(x + i));
        V_STOREU(out + i + W, V_WIDEN(x + i + W));
    }
    for (; i < len; i++)
        out[i] = x[i];
}

#undef U
#undef AHEAD
#undef KAHAN
#include "simd_f64_undef.h"
#undef VI
#undef V_BITS
#undef VI_ZERO
#undef VI_ONES
#undef VI_OR
#undef VI_AND
#undef VI_HOR
#undef VI_HAND
#undef V_WIDEN
#endif /* TGT */
