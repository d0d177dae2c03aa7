/*
 * solve_kernels.h - what solve.c (the driver and the generic kernels) and
 * solve_avx2.c / solve_avx512.c share: the vector kernels of
 * crunch_solve_f64 that pay for SIMD. Internal: never installed, never
 * exported.
 *
 * The matrix products of the factorisation and of blocked substitution go
 * through the library's gemm, which has its own SIMD paths; these are the
 * level-1 loops around them: the dot products of one-right-hand-side
 * substitution, the row updates of the transposed substitution and of the
 * narrow triangular blocks, and the first pass over A (solve_template.h
 * writes them once for both SIMD paths). Results of
 * different paths may differ in the last bits (their sums associate
 * differently), never by more.
 */
#ifndef CRUNCH_SOLVE_KERNELS_H
#define CRUNCH_SOLVE_KERNELS_H

#include "internal.h"

#include <stddef.h>
#include <stdint.h>

/* crunch__solve_kernels: one path's kernels, an entry of solve's kernel
 * table (internal.h).
 *   dot:      returns sum_{j < len} x[j] * y[j];
 *   axpy:     y[j] -= alpha * x[j] for j < len (x and y do not overlap);
 *   load_row: dst[j] = src[j] and colsum[j] += |src[j]| for j < len;
 *             returns the largest |src[j]| that is not NaN (0 if none):
 *             a NaN reaches colsum, which is how the caller finds it;
 *   chunk_fma: the most multiply-adds per gemm call between two polls of
 *             the caller's ctx: about a millisecond at this path's speed
 *             (some 4, 15 and 30 billion a second on Zen 5 for the
 *             generic, AVX2 and AVX-512 paths). */
typedef struct crunch__solve_kernels {
    double (*dot)(size_t len, const double *x, const double *y);
    void (*axpy)(size_t len, double alpha, const double *x, double *y);
    double (*load_row)(size_t len, const double *src, double *dst, double *colsum);
    uint64_t chunk_fma;
} crunch__solve_kernels;

#if CRUNCH_X86
CRUNCH_HIDDEN extern const crunch__solve_kernels crunch__solve_kernels_avx2;
CRUNCH_HIDDEN extern const crunch__solve_kernels crunch__solve_kernels_avx512;
#endif

#endif /* CRUNCH_SOLVE_KERNELS_H */
