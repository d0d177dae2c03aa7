/*
 * stats_kernels.h - what stats.c (the driver) and stats_avx2.c /
 * stats_avx512.c (the block kernels) share. Internal: never installed,
 * never exported.
 *
 * The driver cuts the input into blocks of at most CRUNCH__STATS_BLOCK
 * doubles, small enough to stay in L1 between a block kernel's two passes,
 * and merges the blocks' summaries (stats.c explains the numerics). A
 * block kernel only summarises one block; it is the only code that differs
 * between the SIMD paths, which stats_template.h writes once for both.
 */
#ifndef CRUNCH_STATS_KERNELS_H
#define CRUNCH_STATS_KERNELS_H

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
 * crunch__stats_tail1 folds x[0..len) into a partial first pass (sum,
 * min, max and the bit masks) with plain scalar code. The SIMD kernels use
 * it for the last len % vector-width elements.
 */
static inline void crunch__stats_tail1(const double *x, size_t len, double *sum, double *mn,
                                       double *mx, uint64_t *orb, uint64_t *andb)
{
    for (size_t i = 0; i < len; i++) {
        double v = x[i];
        uint64_t b;
        __builtin_memcpy(&b, &v, sizeof b); /* the bits, without aliasing a double as an integer */
        *sum += v;
        *mn = v < *mn ? v : *mn; /* false for NaN: NaN never becomes the minimum */
        *mx = v > *mx ? v : *mx;
        *orb |= b;
        *andb &= b;
    }
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

#endif /* CRUNCH_STATS_KERNELS_H */
