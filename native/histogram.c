/*
 * histogram.c - crunch_histogram_f64 / _f32 and crunch_histogram_range_f64
 * / _f32: NumPy's np.histogram with equal bins, count for count.
 *
 * NumPy's equal-bins path (numpy/lib/histograms.py), which every count
 * here follows operation for operation, in T, the input's type, with
 * lo_T, hi_T and norm_T the double values rounded to T:
 *   edges[i] = lo + i * ((hi - lo) / bins) in double (np.linspace: the
 *              product and the sum each rounded), edges[bins] = hi; then
 *              rounded to T;
 *   norm     = bins / (hi - lo) in double;
 *   x counts when lo_T <= x <= hi_T (so NaN never does); its bin is
 *   i = (x - lo_T) * norm_T in T, truncated; bins - 1 if it is bins;
 *   then one less if x < edges[i]; then one more if x >= edges[i + 1]
 *   and i is not the last bin.
 * The two corrections make the bins agree with the edges wherever the
 * product was off by one. crunch__hist_bin_f64 / _f32 (histogram_template.h)
 * are this rule for one element; the SIMD kernels (histogram_template.h)
 * apply it to a vector at a time. NumPy itself fails (IndexError) or
 * returns NaN edges when hi - lo or norm overflows, or when lo_T, hi_T or
 * hi_T - lo_T is not finite in T; those calls are refused here.
 *
 * Counting goes into `copies` sub-histograms of int64 (more for fewer
 * bins, as long as they stay small in L1), one slot more than bins each
 * for the elements that do not count, from a per-thread scratch buffer
 * with the edges in T; they are added into counts at the end. Cancel is
 * polled every CHUNK elements, where progress (in elements) advances, and
 * by work done (internal.h) in the loops over the bins: setting up the
 * edges and sub-histograms and adding them up.
 */
#include "histogram_template.h"

#include <math.h>
#include <string.h>

enum { CHUNK = 1 << 16 };

/* The most bins a call takes: its scratch, (bins + 1) * 16 bytes (one
 * copy and the edges), and every index stay far from overflow. */
#define MAX_BINS ((size_t)1 << 56)

/* The generic kernels: the rule one element at a time (count), the
 * plainest loop (range). Count uses all the copies too: neighbouring
 * elements in one bin would otherwise wait on each other's increment. */
#define GENERIC(T, S)                                                                         \
    static void count_generic_##S(const crunch__hist_args_##S *a, const T *x, size_t len,     \
                                  int64_t *sub)                                               \
    {                                                                                         \
        const size_t mask = a->copies - 1;                                                    \
        for (size_t j = 0; j < len; j++)                                                      \
            sub[(j & mask) * a->stride + crunch__hist_bin_##S(a, x[j])]++;                    \
    }                                                                                         \
    static int range_generic_##S(const T *x, size_t len, T *mn, T *mx)                        \
    {                                                                                         \
        int ok = 1;                                                                           \
        T l = *mn, h = *mx;                                                                   \
        for (size_t j = 0; j < len; j++) {                                                    \
            T v = x[j];                                                                       \
            ok &= v - v == 0; /* NaN exactly for NaN and +-Inf */                             \
            l = v < l ? v : l;                                                                \
            h = v > h ? v : h;                                                                \
        }                                                                                     \
        *mn = l;                                                                              \
        *mx = h;                                                                              \
        return ok;                                                                            \
    }
GENERIC(double, f64)
GENERIC(float, f32)

/* paths is histogram's kernel table (internal.h). */
static const crunch__hist_kernels generic_kernels = {count_generic_f64, count_generic_f32,
                                                     range_generic_f64, range_generic_f32};
CRUNCH__KERNEL_TABLE(paths, crunch__hist_kernels *const, &generic_kernels,
                     &crunch__hist_kernels_avx2, &crunch__hist_kernels_avx512);

/* kernels_for returns the kernels a call with ctx and bins bins takes: its
 * path's, or the generic ones for more bins than the SIMD kernels take. */
static const crunch__hist_kernels *kernels_for(const crunch_ctx *ctx, size_t bins)
{
    return bins <= CRUNCH__HIST_SIMD_MAX_BINS ? CRUNCH__PICK(paths, ctx) : &generic_kernels;
}

/*
 * binning checks a call's bins and range as crunch.h states, widens a
 * range of width 0 as NumPy does, and sets *lo, *hi, *norm and *step (the
 * edges' spacing) in double.
 */
static crunch_status binning(size_t bins, double *lo, double *hi, double *norm, double *step)
{
    if (bins == 0 || bins > MAX_BINS || !isfinite(*lo) || !isfinite(*hi) || *lo > *hi)
        return CRUNCH_EINVAL;
    if (*lo == *hi) {
        *lo -= 0.5;
        *hi += 0.5;
    }
    double width = *hi - *lo;
    *norm = (double)bins / width;
    *step = width / (double)bins;
    /* width finite and norm finite: then step > 0 too (a step that
     * underflows to 0 means a norm beyond DBL_MAX) */
    return isfinite(width) && isfinite(*norm) ? CRUNCH_OK : CRUNCH_EINVAL;
}

/* edge returns np.linspace's edge i < bins: the product and the sum each
 * rounded, never fused into one multiply-add (NumPy runs them as two
 * array operations; volatile keeps the compiler from fusing them). */
static double edge(size_t i, double lo, double step)
{
    volatile double p = (double)i * step;
    return p + lo;
}

/* copies_for returns how many sub-histograms of stride slots to keep: as
 * many as fit in 16 KiB, at most 8, at least 1. */
static unsigned copies_for(size_t stride)
{
    unsigned c = 8;
    while (c > 1 && (size_t)c * stride * sizeof(int64_t) > 16384)
        c /= 2;
    return c;
}

/*
 * HISTOGRAM(T, S) defines histogram_S, crunch_histogram_S's body: checks
 * (for float also that the range and norm survive rounding to float),
 * edges, the counting in chunks, the sum of the copies.
 */
#define HISTOGRAM(T, S)                                                                       \
    static crunch_status histogram_##S(crunch_ctx *ctx, const T *x, size_t n, size_t bins,    \
                                       double lo, double hi, int64_t *counts, double *edges)  \
    {                                                                                         \
        double norm, step;                                                                    \
        crunch_status st;                                                                     \
        if (counts == NULL || (x == NULL && n > 0))                                           \
            return CRUNCH_EINVAL;                                                             \
        if ((st = binning(bins, &lo, &hi, &norm, &step)) != CRUNCH_OK)                        \
            return st;                                                                        \
        /* counts and edges are written while x is read, and each other */                    \
        if (crunch__overlap_1d(counts, bins * sizeof *counts, x, n * sizeof *x, 1) ||          \
            (edges != NULL &&                                                                 \
             (crunch__overlap_1d(edges, (bins + 1) * sizeof *edges, x, n * sizeof *x, 1) ||   \
              crunch__overlap_1d(edges, (bins + 1) * sizeof *edges, counts,                   \
                                 bins * sizeof *counts, 1))))                                 \
            return CRUNCH_EINVAL;                                                             \
        crunch__hist_args_##S a = {(T)lo, (T)hi, (T)norm, NULL, lo, step, bins, bins + 1,     \
                                   copies_for(bins + 1)};                                     \
        if (!isfinite(a.lo) || !isfinite(a.hi) || !isfinite(a.hi - a.lo) || !isfinite(a.norm)) \
            return CRUNCH_EINVAL; /* float only: a double range is finite already */         \
        if (crunch__canceled(ctx))                                                            \
            return CRUNCH_ECANCELED;                                                          \
        crunch__progress_begin(ctx, (int64_t)n);                                              \
        /* Loops over the bins are charged to pl: a call may have 2^56 bins                   \
         * and a single element. */                                                           \
        crunch__poll pl;                                                                      \
        crunch__poll_init(&pl, ctx);                                                          \
        size_t nsub = a.copies * a.stride, cap;                                               \
        int64_t *sub = crunch__scratch_get(nsub * sizeof *sub + (bins + 1) * sizeof(T), &cap);\
        if (sub == NULL)                                                                      \
            return CRUNCH_ENOMEM;                                                             \
        T *e = (T *)(void *)(sub + nsub); /* int64 slots leave e aligned for T */             \
        for (size_t i0 = 0; i0 < bins + 1; i0 += CHUNK) {                                     \
            size_t i1 = bins + 1 - i0 < CHUNK ? bins + 1 : i0 + CHUNK;                        \
            for (size_t i = i0; i < i1; i++)                                                  \
                e[i] = i < bins ? (T)edge(i, lo, step) : (T)hi;                               \
            memset(sub + i0 * a.copies, 0, (i1 - i0) * a.copies * sizeof *sub);               \
            if (crunch__poll_work(&pl, (int64_t)((i1 - i0) * (a.copies + 2)))) {              \
                crunch__scratch_put(sub, cap);                                                \
                return CRUNCH_ECANCELED;                                                      \
            }                                                                                 \
        }                                                                                     \
        a.edges = e;                                                                          \
        const crunch__hist_count_##S count = kernels_for(ctx, bins)->count_##S;               \
        for (size_t i = 0; i < n; i += CHUNK) {                                               \
            if (crunch__poll_now(&pl)) {                                                      \
                crunch__scratch_put(sub, cap);                                                \
                return CRUNCH_ECANCELED;                                                      \
            }                                                                                 \
            size_t len = n - i < CHUNK ? n - i : CHUNK;                                       \
            count(&a, x + i, len, sub);                                                       \
            crunch__progress_add(ctx, (int64_t)len);                                          \
        }                                                                                     \
        for (size_t b0 = 0; b0 < bins; b0 += CHUNK) {                                         \
            size_t b1 = bins - b0 < CHUNK ? bins : b0 + CHUNK;                                \
            for (size_t b = b0; b < b1; b++) {                                                \
                int64_t c = 0;                                                                \
                for (unsigned k = 0; k < a.copies; k++)                                       \
                    c += sub[k * a.stride + b];                                               \
                counts[b] = c;                                                                \
                if (edges != NULL)                                                            \
                    edges[b] = (double)e[b];                                                  \
            }                                                                                 \
            if (crunch__poll_work(&pl, (int64_t)((b1 - b0) * (a.copies + 2)))) {              \
                crunch__scratch_put(sub, cap);                                                \
                return CRUNCH_ECANCELED;                                                      \
            }                                                                                 \
        }                                                                                     \
        if (edges != NULL)                                                                    \
            edges[bins] = (double)e[bins];                                                    \
        crunch__scratch_put(sub, cap);                                                        \
        return CRUNCH_OK;                                                                     \
    }
HISTOGRAM(double, f64)
HISTOGRAM(float, f32)

/* RANGE(T, S) defines range_S, crunch_histogram_range_S's body. */
#define RANGE(T, S)                                                                           \
    static crunch_status range_##S(crunch_ctx *ctx, const T *x, size_t n, double *lo,         \
                                   double *hi)                                                \
    {                                                                                         \
        if (lo == NULL || hi == NULL || (x == NULL && n > 0))                                 \
            return CRUNCH_EINVAL;                                                             \
        if (lo == hi || crunch__overlap_1d(lo, sizeof *lo, x, n * sizeof *x, 1) ||             \
            crunch__overlap_1d(hi, sizeof *hi, x, n * sizeof *x, 1))                          \
            return CRUNCH_EINVAL; /* outputs apart from x and from each other */              \
        if (crunch__canceled(ctx))                                                            \
            return CRUNCH_ECANCELED;                                                          \
        crunch__progress_begin(ctx, (int64_t)n);                                              \
        if (n == 0) { /* NumPy's range for no data */                                         \
            *lo = 0;                                                                          \
            *hi = 1;                                                                          \
            return CRUNCH_OK;                                                                 \
        }                                                                                     \
        const crunch__hist_range_##S range = CRUNCH__PICK(paths, ctx)->range_##S;             \
        T mn = INFINITY, mx = -INFINITY;                                                      \
        int ok = 1;                                                                           \
        for (size_t i = 0; i < n; i += CHUNK) {                                               \
            if (crunch__canceled(ctx))                                                        \
                return CRUNCH_ECANCELED;                                                      \
            size_t len = n - i < CHUNK ? n - i : CHUNK;                                       \
            ok &= range(x + i, len, &mn, &mx);                                                \
            crunch__progress_add(ctx, (int64_t)len);                                          \
        }                                                                                     \
        if (!ok)                                                                              \
            return CRUNCH_ENUMERICAL;                                                         \
        *lo = mn;                                                                             \
        *hi = mx;                                                                             \
        if (*lo == *hi) { /* in double, as NumPy widens float32 bounds too */                 \
            *lo -= 0.5;                                                                       \
            *hi += 0.5;                                                                       \
        }                                                                                     \
        return CRUNCH_OK;                                                                     \
    }
RANGE(double, f64)
RANGE(float, f32)

crunch_status crunch_histogram_f64(crunch_ctx *ctx, const double *x, size_t n, size_t bins,
                                   double lo, double hi, int64_t *counts, double *edges)
{
    return histogram_f64(ctx, x, n, bins, lo, hi, counts, edges);
}

crunch_status crunch_histogram_f32(crunch_ctx *ctx, const float *x, size_t n, size_t bins,
                                   double lo, double hi, int64_t *counts, double *edges)
{
    return histogram_f32(ctx, x, n, bins, lo, hi, counts, edges);
}

crunch_status crunch_histogram_range_f64(crunch_ctx *ctx, const double *x, size_t n, double *lo,
                                         double *hi)
{
    return range_f64(ctx, x, n, lo, hi);
}

crunch_status crunch_histogram_range_f32(crunch_ctx *ctx, const float *x, size_t n, double *lo,
                                         double *hi)
{
    return range_f32(ctx, x, n, lo, hi);
}
