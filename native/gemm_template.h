/*
 * gemm_template.h - gemm's kernels, in two parts. The first, guarded (a
 * file that includes this one with TGT undefined gets only it), is what
 * gemm.c (the driver) and gemm_avx2.c / gemm_avx512.c (the micro-kernels)
 * share. Internal: never installed, never exported.
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
 *
 * The second part, stamped out once per inclusion with TGT defined, is a
 * SIMD path's two kernels for one dtype, written once over an abstract
 * vector of W elements: gemm_avx2.c includes it for ymm vectors,
 * gemm_avx512.c for zmm vectors, once per dtype each.
 *
 * The micro-kernel holds an MR-row tile of C in MR x NVR accumulators,
 * NVR vectors per row: per step p it loads one packed row of B (NVR
 * vectors) and, for each of the MR rows, broadcasts one element of A and
 * issues NVR FMAs. AVX2: 6 x 2 (12 + 2 + a broadcast fit the 16 ymm
 * registers); AVX-512: 8 x 3 (24 FMAs per 3 vector loads and 8
 * broadcasts, enough independent accumulators to cover the FMA latency on
 * two pipes, and 24 + 3 + a broadcast or two leave the 32 registers
 * without spills).
 *
 * The unpacked ("sup", as BLIS calls its small-problem path) kernels
 * compute a rows x cols tile (1 <= rows <= MR, 1 <= cols <= NR) straight
 * into C, reading A and B where they lie: A(i, p) is a[i*rsa + p*csa] and
 * B(p, j) is b[p*ldb + j]. They run only the NV = ceil(cols / W) vectors
 * a row needs, loading and storing the last one under a mask (AVX2's
 * maskload and maskstore, like AVX-512's masked moves, neither read nor
 * write masked-off elements), and rows past `rows` broadcast row 0 again
 * (it exists) and are not stored: nothing outside the tile's rows of A,
 * columns of B and corner of C is read or written.
 *
 * The includer defines, before each inclusion of the second part:
 *   TGT             the target attribute of every function
 *   NVR             vectors per row of a tile (2 or 3)
 *   SUP_FULL        1 when the path has a separate unpacked kernel for a
 *                   full-width tile (one that loads B without the mask)
 *   SUP_SCALARS     the storage of the unpacked kernels' copies of alpha
 *                   and beta: volatile keeps them in memory, out of the
 *                   registers the accumulators need; empty otherwise
 *   T, V, W         the element type, the vector type, elements per vector
 *   MR              rows of a tile (6 or 8)
 *   UKR, SUP        the exported micro-kernel's and unpacked kernel's names
 *   FN(name)        the name of an internal function (adds a suffix)
 *   OP(name)        the intrinsic `name` for V: setzero, set1, loadu,
 *                   storeu, fmadd and mul
 *   BCAST(x)        the element x (an lvalue) in every lane
 *   MASK            a set of lanes; FULL, every lane
 *   LAST_T          what the unpacked kernels take to build the last
 *                   vector's mask; LAST(rem) makes it from rem, the
 *                   elements in the last vector (1 to W)
 *   SUP_LAST(masked, last)  that mask, or FULL when not masked
 *   MLOADV(p, m), MSTORE(p, m, v)  masked load (masked-off lanes 0) and
 *                   store
 * and this file undefines them, and its own macros, at its end.
 */
#ifndef CRUNCH_GEMM_TEMPLATE_H
#define CRUNCH_GEMM_TEMPLATE_H

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

#endif /* CRUNCH_GEMM_TEMPLATE_H */

#ifdef TGT

/* The plain vector operations, from OP. */
#define Z() OP(setzero)()
#define SET1(x) OP(set1)(x)
#define LOADV(p) OP(loadu)(p)
#define STOREU(p, v) OP(storeu)(p, v)
#define FMA(a, b, c) OP(fmadd)(a, b, c)
#define MUL(a, b) OP(mul)(a, b)

/* ROW_BYTES is a tile row of C: NVR vectors. PREFETCH_ROW(r) pulls the
 * cache lines of the row at r (a const char *) toward L1: its first and
 * last byte's (two lines for AVX2's 64 unaligned bytes), and for longer
 * rows the lines between (four for AVX-512's 192). */
#define ROW_BYTES (NVR * W * (int)sizeof(T))
#define PREFETCH_ROW(r)                                                                    \
    do {                                                                                   \
        const char *r_ = (r);                                                              \
        _mm_prefetch(r_, _MM_HINT_T0);                                                     \
        if (ROW_BYTES > 128) {                                                             \
            _mm_prefetch(r_ + 64, _MM_HINT_T0);                                            \
            _mm_prefetch(r_ + 128, _MM_HINT_T0);                                           \
        }                                                                                  \
        _mm_prefetch(r_ + ROW_BYTES - 1, _MM_HINT_T0);                                     \
    } while (0)

/* How far ahead, in k steps, the micro-kernel prefetches the A sliver (it
 * streams from L2, MR elements per step). */
#define PF_A 8

/* ROWS(X) is X(0); X(1); ... for each of the MR rows of a tile. */
#if MR > 6
#define ROWS(X) X(0); X(1); X(2); X(3); X(4); X(5); X(6); X(7)
#else
#define ROWS(X) X(0); X(1); X(2); X(3); X(4); X(5)
#endif

/* THIRD(s) is the statement s where rows have a third vector, nothing
 * where they have two. */
#if NVR > 2
#define THIRD(s) s
#else
#define THIRD(s) (void)0
#endif

/* The accumulators are named variables, not an array: with an array gcc
 * keeps them in memory at -O2. ACC(i) declares row i's NVR. */
#define ACC(i) V c##i##0 = Z(), c##i##1 = Z(); THIRD(V c##i##2 = Z())

/* STEP(i): row i's NVR FMAs with one broadcast element of A. */
#define STEP(i)                                                                            \
    do {                                                                                   \
        V ai = BCAST(ap[i]);                                                               \
        c##i##0 = FMA(ai, b0, c##i##0);                                                    \
        c##i##1 = FMA(ai, b1, c##i##1);                                                    \
        THIRD(c##i##2 = FMA(ai, b2, c##i##2));                                             \
    } while (0)

/* The three ways of storing alpha*acc + beta*C; beta == 0 never reads C. */
#define ST_B0(p, acc) STOREU(p, MUL(va, acc))
#define ST_B1(p, acc) STOREU(p, FMA(va, acc, LOADV(p)))
#define ST_BX(p, acc) STOREU(p, FMA(va, acc, MUL(vb, LOADV(p))))

/* STORE_ROW(i) writes row i's NVR vectors through ST, one of the beta
 * cases. */
#define STORE_ROW(i)                                                                       \
    do {                                                                                   \
        ST(c + (i) * ldc + 0 * W, c##i##0);                                                \
        ST(c + (i) * ldc + 1 * W, c##i##1);                                                \
        THIRD(ST(c + (i) * ldc + 2 * W, c##i##2));                                         \
    } while (0)

/* UKR: the micro-kernel (contract in the first part). */
TGT void UKR(size_t kc, const T *restrict ap, const T *restrict bp, T *restrict c, size_t ldc,
             T alpha, T beta)
{
    ROWS(ACC);
    /* the tile's rows of C come toward L1 while the k loop runs */
    for (int i_ = 0; i_ < MR; i_++)
        PREFETCH_ROW((const char *)(c + (size_t)i_ * ldc));
    /* Unrolled so the loop overhead and pointer bumps are amortised; the
     * FMAs themselves are already independent across rows. */
#pragma GCC unroll 4
    for (size_t p = 0; p < kc; p++) {
        V b0 = LOADV(bp + 0 * W);
        V b1 = LOADV(bp + 1 * W);
        THIRD(V b2 = LOADV(bp + 2 * W));
        _mm_prefetch((const char *)(ap + PF_A * MR), _MM_HINT_T0);
        ROWS(STEP);
        ap += MR;
        bp += NVR * W;
    }
    V va = SET1(alpha);
    if (beta == 0) {
#define ST ST_B0
        ROWS(STORE_ROW);
#undef ST
    } else if (beta == 1) {
#define ST ST_B1
        ROWS(STORE_ROW);
#undef ST
    } else {
        V vb = SET1(beta);
#define ST ST_BX
        ROWS(STORE_ROW);
#undef ST
    }
}

/* EST(p, m, acc): alpha*acc + beta*C into the lanes m of C at p (beta == 0
 * never reads C). */
#define EST(p, m, acc)                                                                     \
    (beta == 0 ? MSTORE(p, m, MUL(va, acc)) : MSTORE(p, m, FMA(va, acc, MUL(vb, MLOADV(p, m)))))

/* SSTEP(i): row i's NV FMAs with one element of A read in place. */
#define SSTEP(i)                                                                           \
    do {                                                                                   \
        V ai = BCAST(a##i[q]);                                                             \
        c##i##0 = FMA(ai, b0, c##i##0);                                                    \
        if (NV > 1)                                                                        \
            c##i##1 = FMA(ai, b1, c##i##1);                                                \
        THIRD(if (NV > 2) c##i##2 = FMA(ai, b2, c##i##2));                                 \
    } while (0)

/* SSTORE(i): row i's NV vectors into C, the last under mask `last`, if
 * the tile has a row i. */
#define SSTORE(i)                                                                          \
    do {                                                                                   \
        if ((i) < rows) {                                                                  \
            T *r_ = c + (size_t)(i) * ldc;                                                 \
            EST(r_, NV == 1 ? last : full, c##i##0);                                       \
            if (NV > 1)                                                                    \
                EST(r_ + W, NV == 2 ? last : full, c##i##1);                               \
            THIRD(if (NV > 2) EST(r_ + 2 * W, last, c##i##2));                             \
        }                                                                                  \
    } while (0)

/* AROW(i) points a##i at row i of A, or at row 0 past the tile's rows. */
#define AROW(i) const T *a##i = a + (rows > (i) ? (i) * rsa : 0)

/* SLOAD(v): vector v of B's row, under the mask when it is the row's last
 * and the kernel is MASKED. A full tile loads B without the mask: masked
 * loads cost more than plain ones on some CPUs (AMD's among them), every
 * step. */
#define SLOAD(v) (MASKED && (v) == NV - 1 ? MLOADV(b + (v) * W, last) : LOADV(b + (v) * W))

/* SUP_NV(NAME, NV_, MASKED_) defines the unpacked kernel whose rows need
 * NV_ vectors, the last one under the mask when MASKED_. */
#define SUP_NV(NAME, NV_, MASKED_)                                                          \
    static TGT void NAME(size_t kc, const T *a, size_t rsa, size_t csa, const T *b,         \
                         size_t ldb, T *restrict c, size_t ldc, T alpha, T beta,            \
                         size_t rows, LAST_T last_arg)                                      \
    {                                                                                       \
        enum { NV = NV_, MASKED = MASKED_ };                                                \
        /* AVX2 builds its mask here from the element count: a full tile                    \
         * then holds no register for it through the loop (12 accumulators,                 \
         * 2 vectors of B and a broadcast take 15 of the 16). */                             \
        const MASK full = FULL;                                                             \
        const MASK last = SUP_LAST(MASKED, last_arg);                                       \
        SUP_SCALARS T alpha_ = alpha, beta_ = beta;                                         \
        ROWS(AROW);                                                                         \
        ROWS(ACC);                                                                          \
        for (size_t p = 0, q = 0; p < kc; p++, q += csa, b += ldb) {                        \
            V b0 = SLOAD(0), b1 = b0;                                                       \
            THIRD(V b2 = b0);                                                               \
            if (NV > 1)                                                                     \
                b1 = SLOAD(1);                                                              \
            THIRD(if (NV > 2) b2 = SLOAD(2));                                               \
            ROWS(SSTEP);                                                                    \
        }                                                                                   \
        V va = SET1(alpha_), vb = SET1(beta_);                                              \
        beta = beta_; /* EST tests it */                                                    \
        ROWS(SSTORE);                                                                       \
    }

SUP_NV(FN(sup_1), 1, 1)
SUP_NV(FN(sup_2), 2, 1)
#if NVR > 2
SUP_NV(FN(sup_3), 3, 1)
#endif
#if SUP_FULL
SUP_NV(FN(sup_full), NVR, 0)
#endif

/* SUP: the unpacked kernel (contract in the first part); it picks the one
 * for the tile's width. */
TGT void SUP(size_t kc, const T *a, size_t rsa, size_t csa, const T *b, size_t ldb, T *c,
             size_t ldc, T alpha, T beta, size_t rows, size_t cols)
{
    size_t nv = (cols + W - 1) / W;
    LAST_T last = LAST((int)(cols - (nv - 1) * W)); /* elements in the last vector: 1 to W */
#if SUP_FULL
    if (cols == NVR * W)
        FN(sup_full)(kc, a, rsa, csa, b, ldb, c, ldc, alpha, beta, rows, last);
    else
#endif
    if (nv == 1)
        FN(sup_1)(kc, a, rsa, csa, b, ldb, c, ldc, alpha, beta, rows, last);
#if NVR > 2
    else if (nv == 2)
        FN(sup_2)(kc, a, rsa, csa, b, ldb, c, ldc, alpha, beta, rows, last);
    else
        FN(sup_3)(kc, a, rsa, csa, b, ldb, c, ldc, alpha, beta, rows, last);
#else
    else
        FN(sup_2)(kc, a, rsa, csa, b, ldb, c, ldc, alpha, beta, rows, last);
#endif
}

#undef Z
#undef SET1
#undef LOADV
#undef STOREU
#undef FMA
#undef MUL
#undef ROW_BYTES
#undef PREFETCH_ROW
#undef PF_A
#undef ROWS
#undef THIRD
#undef ACC
#undef STEP
#undef ST_B0
#undef ST_B1
#undef ST_BX
#undef STORE_ROW
#undef EST
#undef SSTEP
#undef SSTORE
#undef AROW
#undef SLOAD
#undef SUP_NV
#undef TGT
#undef T
#undef V
#undef W
#undef MR
#undef NVR
#undef UKR
#undef SUP
#undef FN
#undef OP
#undef BCAST
#undef MASK
#undef FULL
#undef LAST_T
#undef LAST
#undef SUP_LAST
#undef MLOADV
#undef MSTORE
#undef SUP_FULL
#undef SUP_SCALARS
#endif /* TGT */
