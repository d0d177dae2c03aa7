/*
 * gemm_kernels.h - what gemm.c (the driver) and gemm_avx2.c / gemm_avx512.c
 * (the micro-kernels) share. Internal: never installed, never exported.
 *
 * The split follows BLIS: the driver owns everything that does not depend
 * on the CPU (argument checks, cache blocking, packing, edge tiles, cancel
 * and progress); a micro-kernel only multiplies one packed MR x kc sliver
 * of A by one packed kc x NR sliver of B into an MR x NR tile of C.
 *
 * Packed layouts, the same for every path and both dtypes:
 *   ap: kc groups of MR elements; ap[p*MR + i] = op(A)[i][p]
 *       (a column of the tile's A rows, so the kernel broadcasts them);
 *   bp: kc groups of NR elements; bp[p*NR + j] = op(B)[p][j]
 *       (a row of B, so the kernel loads it as whole vectors).
 * The driver pads partial slivers with zeros, so a kernel always computes
 * a full tile; a tile that sticks out of C goes to the path's unpacked
 * kernel (below), or, on a path without one, to the micro-kernel with a
 * small temporary tile that the driver merges. Small products skip
 * packing altogether on paths with unpacked kernels.
 *
 * The packing buffers are 64-byte aligned, and on the SIMD paths MR and NR
 * slivers are whole cache lines, but kernels still use unaligned loads:
 * they cost nothing extra on aligned data and keep the contract simple.
 */
#ifndef CRUNCH_GEMM_KERNELS_H
#define CRUNCH_GEMM_KERNELS_H

#include "internal.h"

#include <stddef.h>

/*
 * A micro-kernel's contract (f64; f32 is the same with float):
 *
 *   C[i][j] = alpha * sum_{p < kc} ap[p*MR + i] * bp[p*NR + j]
 *             + beta * C[i][j]          for 0 <= i < MR, 0 <= j < NR,
 *
 * where C[i][j] is c[i*ldc + j]. kc >= 1. When beta == 0 the kernel does
 * not read C (so NaN and Inf in it vanish). ap, bp and c must not overlap,
 * and c needs only the element type's natural alignment.
 */
typedef void (*crunch__gemm_ukr_f64)(size_t kc, const double *ap, const double *bp,
                                     double *c, size_t ldc, double alpha, double beta);
typedef void (*crunch__gemm_ukr_f32)(size_t kc, const float *ap, const float *bp,
                                     float *c, size_t ldc, float alpha, float beta);

/*
 * An unpacked kernel (optional per path; BLIS's "sup") computes
 *
 *   C[i][j] = alpha * sum_{p < kc} A(i, p) * B(p, j) + beta * C[i][j]
 *             for 0 <= i < rows <= MR, 0 <= j < cols <= NR,
 *
 * from operands read where they lie: A(i, p) = a[i*rsa + p*csa], B(p, j) =
 * b[p*ldb + j]. It reads nothing outside the tile's rows of A and columns
 * of B, and C outside the rows x cols corner is neither read nor written
 * (beta == 0: not read at all). The driver gives it the caller's matrices
 * for products too small for packing to pay, and packed slivers (rsa = 1,
 * csa = MR, ldb = NR) for the tiles of a packed product that stick out of
 * C. A path without one packs every product and computes such tiles into
 * a buffer with its micro-kernel.
 */
typedef void (*crunch__gemm_sup_f64)(size_t kc, const double *a, size_t rsa, size_t csa,
                                     const double *b, size_t ldb, double *c, size_t ldc,
                                     double alpha, double beta, size_t rows, size_t cols);
typedef void (*crunch__gemm_sup_f32)(size_t kc, const float *a, size_t rsa, size_t csa,
                                     const float *b, size_t ldb, float *c, size_t ldc,
                                     float alpha, float beta, size_t rows, size_t cols);

/*
 * Register blocking (MR x NR) per path and dtype. The kernels hard-code
 * these shapes, so they live here; the cache blocking (KC, MC, NC) of each
 * path lives in the one table in gemm.c, next to the kernel pointers.
 */
#define CRUNCH__GEMM_GENERIC_F64_MR 4
#define CRUNCH__GEMM_GENERIC_F64_NR 4
#define CRUNCH__GEMM_GENERIC_F32_MR 4
#define CRUNCH__GEMM_GENERIC_F32_NR 8

#define CRUNCH__GEMM_AVX2_F64_MR 6 /* 6 x 2 ymm accumulators = 12 of 16 */
#define CRUNCH__GEMM_AVX2_F64_NR 8
#define CRUNCH__GEMM_AVX2_F32_MR 6
#define CRUNCH__GEMM_AVX2_F32_NR 16

#define CRUNCH__GEMM_AVX512_F64_MR 8 /* 8 x 3 zmm accumulators = 24 of 32 */
#define CRUNCH__GEMM_AVX512_F64_NR 24
#define CRUNCH__GEMM_AVX512_F32_MR 8
#define CRUNCH__GEMM_AVX512_F32_NR 48

/* The largest tile of any path, for the driver's edge-tile buffer. */
#define CRUNCH__GEMM_MAX_TILE 384
#define CRUNCH__GEMM_TILE_FITS(P) (CRUNCH__GEMM_##P##_MR * CRUNCH__GEMM_##P##_NR <= CRUNCH__GEMM_MAX_TILE)
_Static_assert(CRUNCH__GEMM_TILE_FITS(GENERIC_F64) && CRUNCH__GEMM_TILE_FITS(GENERIC_F32) &&
                   CRUNCH__GEMM_TILE_FITS(AVX2_F64) && CRUNCH__GEMM_TILE_FITS(AVX2_F32) &&
                   CRUNCH__GEMM_TILE_FITS(AVX512_F64) && CRUNCH__GEMM_TILE_FITS(AVX512_F32),
               "CRUNCH__GEMM_MAX_TILE is smaller than a micro-kernel's tile");

#if CRUNCH_X86
CRUNCH_HIDDEN void crunch__gemm_ukr_avx2_f64(size_t kc, const double *ap, const double *bp,
                                             double *c, size_t ldc, double alpha, double beta);
CRUNCH_HIDDEN void crunch__gemm_ukr_avx2_f32(size_t kc, const float *ap, const float *bp,
                                             float *c, size_t ldc, float alpha, float beta);
CRUNCH_HIDDEN void crunch__gemm_ukr_avx512_f64(size_t kc, const double *ap, const double *bp,
                                               double *c, size_t ldc, double alpha, double beta);
CRUNCH_HIDDEN void crunch__gemm_ukr_avx512_f32(size_t kc, const float *ap, const float *bp,
                                               float *c, size_t ldc, float alpha, float beta);
CRUNCH_HIDDEN void crunch__gemm_sup_avx2_f64(size_t kc, const double *a, size_t rsa, size_t csa,
                                             const double *b, size_t ldb, double *c, size_t ldc,
                                             double alpha, double beta, size_t rows, size_t cols);
CRUNCH_HIDDEN void crunch__gemm_sup_avx2_f32(size_t kc, const float *a, size_t rsa, size_t csa,
                                             const float *b, size_t ldb, float *c, size_t ldc,
                                             float alpha, float beta, size_t rows, size_t cols);
CRUNCH_HIDDEN void crunch__gemm_sup_avx512_f64(size_t kc, const double *a, size_t rsa,
                                               size_t csa, const double *b, size_t ldb,
                                               double *c, size_t ldc, double alpha,
                                               double beta, size_t rows, size_t cols);
CRUNCH_HIDDEN void crunch__gemm_sup_avx512_f32(size_t kc, const float *a, size_t rsa,
                                               size_t csa, const float *b, size_t ldb, float *c,
                                               size_t ldc, float alpha, float beta, size_t rows,
                                               size_t cols);
#endif

#endif /* CRUNCH_GEMM_KERNELS_H */
