/*
 * conv2d.c - crunch_conv2d_shape, crunch_conv2d_f64 and crunch_conv2d_f32:
 * the geometry, the driver (conv2d_driver.h, once per precision) and the
 * generic row kernels.
 *
 * The convolution, as scipy.signal.convolve2d: with the full result
 *   full[i][j] = sum over p < kh, q < kw with 0 <= i-p < h, 0 <= j-q < w
 *                of image[i-p][j-q] * kernel[p][q],
 * a mode's output (r, c) is full[r + r0][c + c0]: (r0, c0) is (0, 0) for
 * full, ((kh-1)/2, (kw-1)/2) for same, (kh-1, kw-1) for valid.
 *
 * Method. Output row r (full row i = r + r0) meets the image rows i - p
 * for the kernel rows p with 0 <= i - p < h, a run plo .. plo+nr-1. The
 * driver keeps the last min(kh + 1, h) image rows in a ring, each copied
 * once between zeros (kw - 1 - c0 on the left, enough on the right), so
 * that tap (p, q) reads one contiguous, unclipped run of its padded row for
 * the whole output row. A row kernel (conv2d_template.h) then computes the
 * output row in register blocks: each block of outputs takes every tap as
 * a broadcast, a load and an FMA, and is stored once. Two consecutive
 * output rows that meet the same kernel rows (all rows but kh - 1 at the
 * top and bottom when kh <= h) go to a pair kernel instead, which shares
 * each load of image between them: loads, not FMAs, bound these loops. Rows are clipped
 * (no padding rows), columns padded: the work per output is nr * kw
 * multiply-adds, sum over the taps that meet the image in rows.
 *
 * Padding zeros times a finite kernel value are zeros, which leave every
 * sum exactly as the definition's (a zero sum is +0 either way: the sum
 * starts at +0). A kernel with NaN or Inf would turn them into NaN, so it
 * takes the clipped path instead (conv2d_driver.h), which forms only the
 * definition's terms. NaN and Inf in the image need nothing special.
 *
 * In parallel (a ctx with a runner), threads claim bands of output rows
 * (band_rows: the height depends on the shapes only) one at a time, each
 * band with a ring of its own that it fills with the image rows it
 * meets; the few rows a band shares with the one above are copied twice.
 * Every output element is computed by the same kernel code with the same
 * terms in the same order whichever band holds it, so the result does not
 * depend on the threads.
 *
 * Cancel is polled by work done (internal.h's crunch__poll): every
 * row-kernel call, which the driver keeps at most CHUNK multiply-adds
 * (well under a millisecond even on the generic path; a kernel too wide
 * for that is cut into runs of taps), every run of an image row copied
 * into the ring, and on the clipped path every tap's run of columns, is
 * charged, whatever the shape. Progress counts output elements, advanced
 * after each output row (or pair).
 */
#include "conv2d_kernels.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* The most multiply-adds between two cancel polls. */
#define CHUNK ((size_t)1 << 18)

/* geom: one call's sizes, its output's and the output's offset in full. */
typedef struct geom {
    size_t h, w, kh, kw;
    size_t oh, ow;
    size_t r0, c0;
} geom;

/* dims computes the output's size and offset along one axis of n image
 * and m kernel elements (m >= 1). Returns 0 if n + m - 1 overflows. */
static int dims(crunch_conv_mode mode, size_t n, size_t m, size_t *on, size_t *off)
{
    size_t full;
    if (__builtin_add_overflow(n, m - 1, &full))
        return 0;
    switch (mode) {
    case CRUNCH_CONV_FULL: *on = full, *off = 0; break;
    case CRUNCH_CONV_SAME: *on = n, *off = (m - 1) / 2; break;
    default: *on = n >= m ? n - m + 1 : 0, *off = m - 1; break; /* valid */
    }
    return 1;
}

crunch_status crunch_conv2d_shape(crunch_conv_mode mode, size_t h, size_t w, size_t kh,
                                  size_t kw, size_t *oh, size_t *ow)
{
    size_t r0, c0;
    if (oh == NULL || ow == NULL || kh == 0 || kw == 0 ||
        (mode != CRUNCH_CONV_FULL && mode != CRUNCH_CONV_SAME && mode != CRUNCH_CONV_VALID))
        return CRUNCH_EINVAL;
    if (!dims(mode, h, kh, oh, &r0) || !dims(mode, w, kw, ow, &c0))
        return CRUNCH_EINVAL;
    return CRUNCH_OK;
}

/* fits reports whether a * b elements of esize bytes fit in one object. */
static int fits(size_t a, size_t b, size_t esize)
{
    size_t n;
    return !__builtin_mul_overflow(a, b, &n) && !__builtin_mul_overflow(n, esize, &n) &&
           n <= PTRDIFF_MAX; /* no object may be larger */
}

/* geom_init fills *g, checking what crunch_conv2d_shape checks and that
 * the image, the kernel and the output each fit in memory as elements of
 * esize bytes. */
static crunch_status geom_init(geom *g, crunch_conv_mode mode, size_t h, size_t w, size_t kh,
                               size_t kw, size_t esize)
{
    crunch_status st = crunch_conv2d_shape(mode, h, w, kh, kw, &g->oh, &g->ow);
    if (st != CRUNCH_OK)
        return st;
    dims(mode, h, kh, &g->oh, &g->r0); /* cannot fail now: only for the offsets */
    dims(mode, w, kw, &g->ow, &g->c0);
    g->h = h, g->w = w, g->kh = kh, g->kw = kw;
    if (!fits(h, w, esize) || !fits(kh, kw, esize) || !fits(g->oh, g->ow, esize))
        return CRUNCH_EINVAL;
    return CRUNCH_OK;
}

/* rows_of sets the run of kernel rows that full row i meets: p from *plo,
 * *nr of them (0 <= i - p < h; at least one for every i < h + kh - 1
 * when h >= 1). */
static void rows_of(const geom *g, size_t i, size_t *plo, size_t *nr)
{
    size_t lo = i >= g->h ? i - g->h + 1 : 0;
    size_t hi = i < g->kh - 1 ? i : g->kh - 1;
    *plo = lo;
    *nr = hi >= lo ? hi - lo + 1 : 0;
}

/* Multiply-adds a band of a parallel call aims at: a fraction of a
 * millisecond on the SIMD paths, a few hundred bands on a 4096 x 4096
 * image with a 5 x 5 kernel, so that threads claiming bands one at a
 * time balance. */
#define BAND_WORK ((size_t)1 << 21)

/* A ring of this many bytes or more is a fresh mapping (bigbuf.c maps
 * from 4 MiB): zero already, so its pads need no memset. */
#define RING_MAP_BYTES ((size_t)4 << 20)

/* band_rows returns the output rows per item of a parallel call: about
 * BAND_WORK multiply-adds' worth, even (pairs of rows stay pairs), at
 * least 2. Only the shapes decide it. The divisions cannot overflow where
 * ow * kh * kw might. */
static size_t band_rows(const geom *g)
{
    size_t rows = BAND_WORK / g->ow / g->kh / g->kw;
    rows += rows & 1;
    return rows < 2 ? 2 : rows;
}

/* The generic row kernels: the template with W = 1, eight scalar
 * accumulators per block (which the compiler may pair into SSE2). */
#define TGT
#define VM int
#define V_MASK(r) ((int)(r))   /* never used: W = 1 leaves no partial vector */
#define W 1
#define V_SET1(x) (x)
#define V_LOADU(p) (*(p))
#define V_STOREU(p, v) (*(p) = (v))
#define V_FMA(a, b, c) ((a) * (b) + (c))
#define V_LOADM(p, m) ((void)(m), *(p))
#define V_STOREM(p, v, m) ((void)(m), *(p) = (v))

#define T double
#define V double
#define FN(name) conv2d_generic_##name##_f64
#define V_ZERO() 0.0
#include "conv2d_template.h"
#undef T
#undef V
#undef FN
#undef V_ZERO

#define T float
#define V float
#define FN(name) conv2d_generic_##name##_f32
#define V_ZERO() 0.0f
#include "conv2d_template.h"
#undef T
#undef V
#undef FN
#undef V_ZERO

/* paths is conv2d's kernel table (internal.h). */
static const crunch__conv2d_kernels generic_kernels = {
    conv2d_generic_row_f64,
    conv2d_generic_pair_f64,
    conv2d_generic_row_f32,
    conv2d_generic_pair_f32,
};
CRUNCH__KERNEL_TABLE(paths, crunch__conv2d_kernels *const, &generic_kernels,
                     &crunch__conv2d_kernels_avx2, &crunch__conv2d_kernels_avx512);

/* The drivers. */
#define T double
#define DN(name) name##_f64
#define ROW crunch__conv2d_row_f64
#define PAIR crunch__conv2d_pair_f64
#define KF(name) name##_f64
#include "conv2d_driver.h"
#undef T
#undef DN
#undef ROW
#undef PAIR
#undef KF

#define T float
#define DN(name) name##_f32
#define ROW crunch__conv2d_row_f32
#define PAIR crunch__conv2d_pair_f32
#define KF(name) name##_f32
#include "conv2d_driver.h"

crunch_status crunch_conv2d_f64(crunch_ctx *ctx, crunch_conv_mode mode, size_t h, size_t w,
                                const double *image, size_t kh, size_t kw, const double *kernel,
                                double *out)
{
    return conv2d_f64(ctx, mode, h, w, image, kh, kw, kernel, out);
}

crunch_status crunch_conv2d_f32(crunch_ctx *ctx, crunch_conv_mode mode, size_t h, size_t w,
                                const float *image, size_t kh, size_t kw, const float *kernel,
                                float *out)
{
    return conv2d_f32(ctx, mode, h, w, image, kh, kw, kernel, out);
}
