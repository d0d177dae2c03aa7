/*
 * histogram_template.h - histogram's kernels, in two parts.
 *
 * The first part, guarded, is what histogram.c (the driver and the
 * generic kernels) and histogram_avx2.c / histogram_avx512.c (the SIMD
 * kernels) share: the kernels' contracts and table entry, and the rule for
 * one element. Internal: never installed, never exported. histogram.c
 * includes this file with T undefined and gets only this part.
 *
 * A count kernel bins a run of elements the way NumPy's equal-bins path
 * does (histogram.c states the rule; crunch__hist_bin_f64 and _f32 below
 * are its scalar form) and adds one per element to a sub-histogram: the
 * driver keeps `copies` of them, stride elements apart, so that elements
 * close together in x count into different memory and do not wait on
 * each other's increments; it adds the copies up at the end. A range
 * kernel finds the smallest and largest element of a run and whether all
 * are finite. Those loops are the only code that differs between paths.
 *
 * The second part, stamped out once per inclusion with T defined, is the
 * SIMD count and range kernels, written once over an abstract vector of W
 * elements: histogram_avx2.c and histogram_avx512.c include it once for
 * double and once for float.
 *
 * Counting: each vector of W elements is binned at once with NumPy's
 * steps (histogram.c): the compares that keep an element, (x - lo) * norm
 * truncated, the clamp to bins - 1, and the two corrections, each a
 * compare with W edges that I_EDGE computes (the driver's arithmetic,
 * cheaper than gathering them from its table). Elements that do not count
 * get slot bins. The bins of BLOCK elements, offset so that lane l counts
 * into copy l % copies, are stored, then incremented one by one: the
 * increments are what limits the loop, and spreading neighbouring
 * elements over copies keeps them from waiting on each other when they
 * fall into the same bin. (Incrementing right after each vector was
 * slower when the edges were gathered: the gathers then waited on the
 * increments' stores.) The last len % W elements go through BIN one at a
 * time.
 *
 * The includer defines, before each inclusion of the second part:
 *   T               the element type (double or float)
 *   ARGS, BIN       its crunch__hist_args_ type and crunch__hist_bin_ function
 *   TGT             the target attribute of every function
 *   V               the vector type, W elements
 *   VM              a set of lanes (a mask)
 *   VI              W bin indices (32- or 64-bit lanes); IT a lane's type
 *   W               elements per vector
 *   FN(name)        the name of an instantiated function (adds a suffix)
 *   V_LOADU(p), V_SET1(x), V_SUB(a, b), V_MUL(a, b)
 *   V_MIN(a, b), V_MAX(a, b)  lane by lane (NaN: either)
 *   V_HMIN(v), V_HMAX(v)      v's lanes reduced to a T
 *   M_GE(a, b), M_LE(a, b), M_LT(a, b)   ordered compares (false for NaN)
 *   M_NAN(v)        the lanes of v that are NaN
 *   M_NONE(), M_AND(a, b), M_OR(a, b), M_ANY(m)
 *   I_SET1(n), I_LOADU(p), I_STOREU(p, i), I_ADD(a, b), I_MIN(a, b)
 *   I_CVT(v)        v's lanes truncated to integers; any value where they
 *                   do not fit
 *   I_SEL(m, a, b)  a in the lanes of m, b in the others
 *   I_DEC(i, m), I_INC(i, m)  i minus, plus 1 in the lanes of m
 *   M_INE(a, b)     the lanes where index vectors a and b differ
 *   I_EDGE(a, i)    a->edges[i] lane by lane, 0 <= i <= bins
 * and this file undefines them at the end of the second part.
 */

#ifndef CRUNCH_HISTOGRAM_TEMPLATE_H
#define CRUNCH_HISTOGRAM_TEMPLATE_H

#include "internal.h"

#include <stddef.h>
#include <stdint.h>

/* The SIMD kernels convert (x - lo) * norm, at most bins plus a few ulps,
 * to a 32-bit integer: they take calls with at most this many bins, far
 * inside int32 even in float (the driver gives larger ones to the generic
 * kernels). */
#define CRUNCH__HIST_SIMD_MAX_BINS ((size_t)1 << 30)

/*
 * crunch__hist_args_f64 / _f32: one call's binning, in the computation's
 * precision (the input's): lo and hi (elements outside [lo, hi] and NaN
 * are not counted), norm = bins / (hi - lo), and the edges, bins + 1 of
 * them: edges[i] = (T)(i * step + start) for i < bins, the product and
 * the sum each rounded in double, and edges[bins] = hi. Bin b of copy c
 * is sub[c * stride + b]; stride is bins + 1, slot bins being where a
 * kernel may count the elements that do not count. copies is a power of
 * two, at most 8.
 */
#define CRUNCH__HIST_ARGS(T)                                                                  \
    struct {                                                                                  \
        T lo, hi, norm;                                                                       \
        const T *edges;                                                                       \
        double start, step;                                                                   \
        size_t bins, stride;                                                                  \
        unsigned copies;                                                                      \
    }
typedef CRUNCH__HIST_ARGS(double) crunch__hist_args_f64;
typedef CRUNCH__HIST_ARGS(float) crunch__hist_args_f32;

/* A count kernel adds, for each element of x[0..len) that counts, one to
 * its bin in one of a's copies of sub (any copy: the kernel's choice), and
 * for the others at most one to slot bins of a copy. */
typedef void (*crunch__hist_count_f64)(const crunch__hist_args_f64 *a, const double *x,
                                       size_t len, int64_t *sub);
typedef void (*crunch__hist_count_f32)(const crunch__hist_args_f32 *a, const float *x,
                                       size_t len, int64_t *sub);

/* A range kernel lowers *mn to the smallest and raises *mx to the largest
 * element of x[0..len), and returns 0 if one of them is NaN or +-Inf
 * (*mn and *mx are then unspecified), 1 otherwise. */
typedef int (*crunch__hist_range_f64)(const double *x, size_t len, double *mn, double *mx);
typedef int (*crunch__hist_range_f32)(const float *x, size_t len, float *mn, float *mx);

/* crunch__hist_kernels: one path's kernels, an entry of histogram's kernel
 * table (internal.h). */
typedef struct crunch__hist_kernels {
    crunch__hist_count_f64 count_f64;
    crunch__hist_count_f32 count_f32;
    crunch__hist_range_f64 range_f64;
    crunch__hist_range_f32 range_f32;
} crunch__hist_kernels;

#if CRUNCH_X86
CRUNCH_HIDDEN extern const crunch__hist_kernels crunch__hist_kernels_avx2;
CRUNCH_HIDDEN extern const crunch__hist_kernels crunch__hist_kernels_avx512;
#endif

/*
 * CRUNCH__HIST_BIN(T, S) defines crunch__hist_bin_S: the bin of x under a,
 * or a->bins if x does not count; the generic kernels and the SIMD
 * kernels' tails. Step by step NumPy's (histogram.c): the index from
 * (x - lo) * norm, then at most one step down and one step up to agree
 * with the edges. x - lo >= 0 and the product is at most bins plus a few
 * ulps (the driver made hi - lo and norm finite), so the conversion is
 * defined.
 */
#define CRUNCH__HIST_BIN(T, S)                                                                \
    static inline size_t crunch__hist_bin_##S(const crunch__hist_args_##S *a, T x)           \
    {                                                                                         \
        if (!(x >= a->lo && x <= a->hi))                                                      \
            return a->bins; /* NaN too */                                                     \
        T f = (x - a->lo) * a->norm;                                                          \
        size_t i = f < (T)a->bins ? (size_t)f : a->bins - 1; /* NumPy: bins -> bins - 1 */  \
        if (i >= a->bins)                                                                     \
            i = a->bins - 1; /* never taken: keeps the index in bounds whatever (T)bins is */ \
        if (x < a->edges[i])                                                                  \
            i--; /* never below 0: edges[0] is lo */                                          \
        if (i != a->bins - 1 && x >= a->edges[i + 1])                                         \
            i++;                                                                              \
        return i;                                                                             \
    }
CRUNCH__HIST_BIN(double, f64)
CRUNCH__HIST_BIN(float, f32)
#undef CRUNCH__HIST_BIN

#endif /* CRUNCH_HISTOGRAM_TEMPLATE_H */

#ifdef T
#define BLOCK 256 /* elements binned before they are counted: a multiple of W */

static TGT void FN(count)(const ARGS *a, const T *x, size_t len, int64_t *sub)
{
    const V lo = V_SET1(a->lo), hi = V_SET1(a->hi), norm = V_SET1(a->norm);
    const VI last = I_SET1((IT)(a->bins - 1)), none = I_SET1((IT)a->bins);
    const VI zero = I_SET1(0), one = I_SET1(1);
    IT lane[W];
    for (int l = 0; l < W; l++) /* lane l counts into copy l % copies */
        lane[l] = (IT)((size_t)(l & (int)(a->copies - 1)) * a->stride);
    const VI offset = I_LOADU(lane);
    IT bin[BLOCK];
    size_t j = 0;
    while (j + W <= len) {
        size_t m = 0;
        for (; m < BLOCK && j + W <= len; m += W, j += W) {
            V v = V_LOADU(x + j);
            VM keep = M_AND(M_GE(v, lo), M_LE(v, hi));
            VI i = I_MIN(I_CVT(V_MUL(V_SUB(v, lo), norm)), last); /* NumPy: bins -> bins - 1 */
            i = I_SEL(keep, i, zero); /* a lane that does not count may hold anything */
            i = I_DEC(i, M_LT(v, I_EDGE(a, i)));
            i = I_INC(i, M_AND(M_GE(v, I_EDGE(a, I_ADD(i, one))), M_INE(i, last)));
            I_STOREU(bin + m, I_ADD(I_SEL(keep, i, none), offset));
        }
        for (size_t k = 0; k < m; k++)
            sub[bin[k]]++;
    }
    for (; j < len; j++)
        sub[BIN(a, x[j])]++;
}

static TGT int FN(range)(const T *x, size_t len, T *mn, T *mx)
{
    V lo0 = V_SET1(*mn), lo1 = lo0, hi0 = V_SET1(*mx), hi1 = hi0;
    VM bad = M_NONE();
    size_t j = 0;
    for (; j + 2 * W <= len; j += 2 * W) { /* two chains, for the latency of min and max */
        V v0 = V_LOADU(x + j), v1 = V_LOADU(x + j + W);
        lo0 = V_MIN(v0, lo0);
        lo1 = V_MIN(v1, lo1);
        hi0 = V_MAX(v0, hi0);
        hi1 = V_MAX(v1, hi1);
        /* v - v is NaN exactly for NaN and +-Inf */
        bad = M_OR(bad, M_OR(M_NAN(V_SUB(v0, v0)), M_NAN(V_SUB(v1, v1))));
    }
    T l = V_HMIN(V_MIN(lo0, lo1)), h = V_HMAX(V_MAX(hi0, hi1));
    int ok = !M_ANY(bad);
    for (; j < len; j++) {
        T v = x[j];
        ok &= v - v == 0;
        l = v < l ? v : l;
        h = v > h ? v : h;
    }
    *mn = l;
    *mx = h;
    return ok;
}

#undef BLOCK
#undef T
#undef ARGS
#undef BIN
#undef TGT
#undef V
#undef VM
#undef VI
#undef IT
#undef W
#undef FN
#undef V_LOADU
#undef V_SET1
#undef V_SUB
#undef V_MUL
#undef V_MIN
#undef V_MAX
#undef V_HMIN
#undef V_HMAX
#undef M_GE
#undef M_LE
#undef M_LT
#undef M_NAN
#undef M_NONE
#undef M_AND
#undef M_OR
#undef M_ANY
#undef I_SET1
#undef I_LOADU
#undef I_STOREU
#undef I_ADD
#undef I_MIN
#undef I_CVT
#undef I_SEL
#undef I_DEC
#undef I_INC
#undef M_INE
#undef I_EDGE
#endif /* T */
