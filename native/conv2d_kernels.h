/*
 * conv2d_kernels.h - what conv2d.c (the driver) and conv2d_avx2.c /
 * conv2d_avx512.c (the row kernels) share. Internal: never installed,
 * never exported.
 *
 * The driver copies each image row once into a ring of zero-padded rows,
 * so that every tap of the kernel reads a whole output row's worth of
 * image without clipping; for each output row it hands a row kernel the
 * padded rows that the row's kernel rows meet. A row kernel is the only
 * code that differs between the SIMD paths; conv2d_template.h writes it
 * once for all of them.
 */
#ifndef CRUNCH_CONV2D_KERNELS_H
#define CRUNCH_CONV2D_KERNELS_H

#include "internal.h"

#include <stddef.h>

/* Zeros past the right end of each padded row: a row kernel's last,
 * partial vector may read up to a vector width (16 floats) minus one
 * element beyond the last column it computes. */
#define CRUNCH__CONV2D_PAD 16

/*
 * A row kernel's contract: for 0 <= c < n,
 *
 *   out[c] = (add ? out[c] : 0)
 *            + sum_{t < nr} sum_{q < kw} k[t*kw + q] * rows[t][off + c - q],
 *
 * the terms added in that order (t outer, q inner, each to the running
 * sum of its column), so that splitting t into groups with add set for
 * all but the first gives the very same sums. rows[t][j] must be readable
 * for off - (kw - 1) <= j < off + n + CRUNCH__CONV2D_PAD - 1. nr, kw and
 * n are at least 1. out overlaps no row and not k.
 */
typedef void (*crunch__conv2d_row_f64)(const double *const *rows, const double *k, size_t nr,
                                       size_t kw, size_t off, double *out, size_t n, int add);
typedef void (*crunch__conv2d_row_f32)(const float *const *rows, const float *k, size_t nr,
                                       size_t kw, size_t off, float *out, size_t n, int add);

/*
 * A pair kernel computes two consecutive output rows that meet the same
 * kernel rows, 0 .. nr-1, in one pass: for 0 <= c < n,
 *
 *   o0[c] = (add ? o0[c] : 0) + sum_{t < nr} sum_{q < kw} k[t*kw + q] * rows[t+1][off + c - q],
 *   o1[c] = (add ? o1[c] : 0) + sum_{t < nr} sum_{q < kw} k[t*kw + q] * rows[t][off + c - q],
 *
 * each sum in the row kernel's order (so a pair gives the very results of
 * two row-kernel calls). rows has nr + 1 entries, each readable as for
 * the row kernel; o0 and o1 overlap nothing else.
 */
typedef void (*crunch__conv2d_pair_f64)(const double *const *rows, const double *k, size_t nr,
                                        size_t kw, size_t off, double *o0, double *o1, size_t n,
                                        int add);
typedef void (*crunch__conv2d_pair_f32)(const float *const *rows, const float *k, size_t nr,
                                        size_t kw, size_t off, float *o0, float *o1, size_t n,
                                        int add);

/* crunch__conv2d_kernels: one path's row and pair kernels, both
 * precisions: an entry of conv2d's kernel table (internal.h). */
typedef struct crunch__conv2d_kernels {
    crunch__conv2d_row_f64 row_f64;
    crunch__conv2d_pair_f64 pair_f64;
    crunch__conv2d_row_f32 row_f32;
    crunch__conv2d_pair_f32 pair_f32;
} crunch__conv2d_kernels;

#if CRUNCH_X86
CRUNCH_HIDDEN extern const crunch__conv2d_kernels crunch__conv2d_kernels_avx2;
CRUNCH_HIDDEN extern const crunch__conv2d_kernels crunch__conv2d_kernels_avx512;
#endif

#endif /* CRUNCH_CONV2D_KERNELS_H */
