/*
 * histogram_kernels.h - what histogram.c (the driver and the generic
 * kernels) and histogram_avx2.c / histogram_avx512.c (the SIMD kernels,
 * from histogram_template.h) share. Internal: never installed, never
 * exported.
 *
 * A count kernel bins a run of elements the way NumPy's equal-bins path
 * does (histogram.c states the rule; crunch__hist_bin_f64 and _f32 below
 * are its scalar form) and adds one per element to a sub-histogram: the
 * driver keeps `copies` of them, stride elements apart, so that elements
 * close together in x count into different memory and do not wait on
 * each other's increments; it adds the copies up at the end. A range
 * kernel finds the smallest and largest element of a run and whether all
 * are finite. Those loops are the only code that differs between paths.
 */
#ifndef CRUNCH_HISTOGRAM_KERNELS_H
#define CRUNCH_HISTOGRAM_KERNELS_H

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

#endif /* CRUNCH_HISTOGRAM_KERNELS_H */
