/*
 * gemm_avx512.c - the AVX-512 gemm micro-kernels (contract and packed
 * layouts in gemm_kernels.h).
 *
 * Both kernels hold an 8-row tile of C in 24 zmm accumulators, three
 * vectors per row: per step p they load one packed row of B (three
 * vectors) and, for each of the 8 rows, broadcast one element of A and
 * issue three FMAs. That is 24 FMAs per 3 vector loads and 8 broadcasts,
 * enough independent accumulators to cover the FMA latency on two pipes,
 * and 24 + 3 + a broadcast or two leaves the 32 registers without spills.
 *   f64: 8 x 24 doubles;  f32: 8 x 48 floats.
 */
#include "gemm_kernels.h"

#if CRUNCH_X86
#include <immintrin.h>

/* How far ahead, in k steps, the A sliver is prefetched: it streams from
 * L2, 64 bytes (f64) or 32 bytes (f32) per step. */
enum { PF_A = 8 };

/* The accumulators are named variables, not an array: with an array gcc
 * keeps them in memory at -O2. ACC(i) declares row i's three. */
#define ACC(V, i) V c##i##0 = Z(), c##i##1 = Z(), c##i##2 = Z()

/* STEP(i): row i's three FMAs with one broadcast element of A. */
#define STEP(i)                                 \
    do {                                        \
        V ai = BCAST(ap[i]);                    \
        c##i##0 = FMA(ai, b0, c##i##0);         \
        c##i##1 = FMA(ai, b1, c##i##1);         \
        c##i##2 = FMA(ai, b2, c##i##2);         \
    } while (0)

/* STORE(i, OP): writes row i's three vectors through OP (one of the
 * beta cases below). W is the vector width in elements. */
#define STORE(i, OP)                            \
    do {                                        \
        OP(c + (i) * ldc + 0 * W, c##i##0);     \
        OP(c + (i) * ldc + 1 * W, c##i##1);     \
        OP(c + (i) * ldc + 2 * W, c##i##2);     \
    } while (0)

#define STORE_ALL(OP)                                                        \
    do {                                                                     \
        STORE(0, OP); STORE(1, OP); STORE(2, OP); STORE(3, OP);              \
        STORE(4, OP); STORE(5, OP); STORE(6, OP); STORE(7, OP);              \
    } while (0)

/* PREFETCH_C pulls the tile's rows of C toward L1 while the k loop runs:
 * three vectors are 192 bytes, four cache lines when unaligned. */
#define PREFETCH_C()                                                         \
    do {                                                                     \
        for (int i_ = 0; i_ < 8; i_++) {                                     \
            const char *r_ = (const char *)(c + (size_t)i_ * ldc);           \
            _mm_prefetch(r_, _MM_HINT_T0);                                   \
            _mm_prefetch(r_ + 64, _MM_HINT_T0);                              \
            _mm_prefetch(r_ + 128, _MM_HINT_T0);                             \
            _mm_prefetch(r_ + 191, _MM_HINT_T0);                             \
        }                                                                    \
    } while (0)

/*
 * The unpacked ("sup", as BLIS calls its small-problem path) kernels
 * compute a rows x cols tile (1 <= rows <= 8, 1 <= cols <= NR) straight
 * into C, reading A and B where they lie: A(i, p) is a[i*rsa + p*csa] and
 * B(p, j) is b[p*ldb + j]. The driver gives them the caller's matrices for
 * products so small that packing would cost as much as multiplying, and
 * packed slivers (rsa = 1, csa = MR, ldb = NR) for the tiles of a packed
 * product that stick out of C. They run only the NV = ceil(cols / W)
 * vectors a row needs, loading and storing the last one under a mask, and
 * rows past `rows` broadcast row 0 again (it exists) and are not stored:
 * nothing outside the tile's rows of A, columns of B and corner of C is
 * read or written.
 */

/* SSTORE(i): row i's NV vectors into C, the last under mask `last`, if
 * the tile has a row i. */
#define SSTORE(i)                                               \
    do {                                                        \
        if ((i) < rows) {                                       \
            T *r_ = c + (size_t)(i) * ldc;                      \
            if (NV == 1)                                        \
                EST(r_, last, c##i##0);                         \
            if (NV == 2) {                                      \
                EST(r_, FULL, c##i##0);                         \
                EST(r_ + W, last, c##i##1);                     \
            }                                                   \
            if (NV == 3) {                                      \
                EST(r_, FULL, c##i##0);                         \
                EST(r_ + W, FULL, c##i##1);                     \
                EST(r_ + 2 * W, last, c##i##2);                 \
            }                                                   \
        }                                                       \
    } while (0)

/* SSTEP(i): row i's NV FMAs with one element of A read in place. */
#define SSTEP(i)                                                \
    do {                                                        \
        V ai = BCAST(a##i[q]);                                  \
        c##i##0 = FMA(ai, b0, c##i##0);                         \
        if (NV > 1)                                             \
            c##i##1 = FMA(ai, b1, c##i##1);                     \
        if (NV > 2)                                             \
            c##i##2 = FMA(ai, b2, c##i##2);                     \
    } while (0)

/* SUP_NV(NAME, NV_) defines the unpacked kernel whose rows need NV_
 * vectors. */
#define SUP_NV(NAME, NV_)                                                               \
    static CRUNCH_TARGET_AVX512 void NAME(size_t kc, const T *a, size_t rsa, size_t csa, \
                                          const T *b, size_t ldb, T *restrict c,         \
                                          size_t ldc, T alpha, T beta, size_t rows,      \
                                          MASK last)                                     \
    {                                                                                    \
        enum { NV = NV_ };                                                               \
        const T *a0 = a, *a1 = a + (rows > 1 ? 1 * rsa : 0),                             \
                *a2 = a + (rows > 2 ? 2 * rsa : 0), *a3 = a + (rows > 3 ? 3 * rsa : 0),  \
                *a4 = a + (rows > 4 ? 4 * rsa : 0), *a5 = a + (rows > 5 ? 5 * rsa : 0),  \
                *a6 = a + (rows > 6 ? 6 * rsa : 0), *a7 = a + (rows > 7 ? 7 * rsa : 0);  \
        ACC(V, 0); ACC(V, 1); ACC(V, 2); ACC(V, 3);                                      \
        ACC(V, 4); ACC(V, 5); ACC(V, 6); ACC(V, 7);                                      \
        for (size_t p = 0, q = 0; p < kc; p++, q += csa, b += ldb) {                     \
            V b0 = NV == 1 ? MLOADV(last, b) : LOADV(b), b1 = b0, b2 = b0;               \
            if (NV > 1)                                                                  \
                b1 = NV == 2 ? MLOADV(last, b + W) : LOADV(b + W);                       \
            if (NV > 2)                                                                  \
                b2 = MLOADV(last, b + 2 * W);                                            \
            SSTEP(0); SSTEP(1); SSTEP(2); SSTEP(3);                                      \
            SSTEP(4); SSTEP(5); SSTEP(6); SSTEP(7);                                      \
        }                                                                                \
        V va = SET1(alpha), vb = SET1(beta);                                             \
        SSTORE(0); SSTORE(1); SSTORE(2); SSTORE(3);                                      \
        SSTORE(4); SSTORE(5); SSTORE(6); SSTORE(7);                                      \
    }

/* SUP(NAME, SUP1, SUP2, SUP3) defines the exported unpacked kernel. */
#define SUP(NAME, SUP1, SUP2, SUP3)                                                     \
    CRUNCH_TARGET_AVX512 void NAME(size_t kc, const T *a, size_t rsa, size_t csa,       \
                                   const T *b, size_t ldb, T *c, size_t ldc, T alpha,   \
                                   T beta, size_t rows, size_t cols)                    \
    {                                                                                   \
        size_t nv = (cols + W - 1) / W;                                                 \
        /* cols - (nv-1)*W is 1..W <= 16: the shift stays within 32 bits */            \
        MASK last = (MASK)((1u << (cols - (nv - 1) * W)) - 1);                          \
        if (nv == 1)                                                                    \
            SUP1(kc, a, rsa, csa, b, ldb, c, ldc, alpha, beta, rows, last);             \
        else if (nv == 2)                                                               \
            SUP2(kc, a, rsa, csa, b, ldb, c, ldc, alpha, beta, rows, last);             \
        else                                                                            \
            SUP3(kc, a, rsa, csa, b, ldb, c, ldc, alpha, beta, rows, last);             \
    }

/* ---- f64: 8 x 24 ---- */
#define V __m512d
#define W 8
#define Z() _mm512_setzero_pd()
#define BCAST(x) _mm512_set1_pd(x)
#define FMA(x, y, z) _mm512_fmadd_pd(x, y, z)
/* the three ways of storing alpha*acc + beta*C; beta == 0 never reads C */
#define ST_B0(p, acc) _mm512_storeu_pd(p, _mm512_mul_pd(va, acc))
#define ST_B1(p, acc) _mm512_storeu_pd(p, _mm512_fmadd_pd(va, acc, _mm512_loadu_pd(p)))
#define ST_BX(p, acc) \
    _mm512_storeu_pd(p, _mm512_fmadd_pd(va, acc, _mm512_mul_pd(vb, _mm512_loadu_pd(p))))

/* crunch__gemm_ukr_avx512_f64: the f64 8x24 micro-kernel (contract in
 * gemm_kernels.h). */
CRUNCH_TARGET_AVX512 void crunch__gemm_ukr_avx512_f64(size_t kc, const double *restrict ap,
                                                      const double *restrict bp,
                                                      double *restrict c, size_t ldc,
                                                      double alpha, double beta)
{
    ACC(V, 0); ACC(V, 1); ACC(V, 2); ACC(V, 3);
    ACC(V, 4); ACC(V, 5); ACC(V, 6); ACC(V, 7);
    PREFETCH_C();
    /* Unrolled so the loop overhead and pointer bumps are amortised; the
     * FMAs themselves are already independent across rows. */
#pragma GCC unroll 4
    for (size_t p = 0; p < kc; p++) {
        V b0 = _mm512_loadu_pd(bp + 0);
        V b1 = _mm512_loadu_pd(bp + 8);
        V b2 = _mm512_loadu_pd(bp + 16);
        _mm_prefetch((const char *)(ap + PF_A * 8), _MM_HINT_T0);
        STEP(0); STEP(1); STEP(2); STEP(3);
        STEP(4); STEP(5); STEP(6); STEP(7);
        ap += 8;
        bp += 24;
    }
    V va = _mm512_set1_pd(alpha);
    if (beta == 0) {
        STORE_ALL(ST_B0);
    } else if (beta == 1) {
        STORE_ALL(ST_B1);
    } else {
        V vb = _mm512_set1_pd(beta);
        STORE_ALL(ST_BX);
    }
}

/* the unpacked kernels' element type, mask and stores (beta == 0 never reads C) */
#define T double
#define MASK __mmask8
#define FULL ((__mmask8)0xFF)
#define LOADV(p) _mm512_loadu_pd(p)
#define MLOADV(m, p) _mm512_maskz_loadu_pd(m, p)
#define SET1(x) _mm512_set1_pd(x)
#define EST(p, m, acc)                                                                   \
    (beta == 0 ? _mm512_mask_storeu_pd(p, m, _mm512_mul_pd(va, acc))                     \
               : _mm512_mask_storeu_pd(                                                  \
                     p, m, _mm512_fmadd_pd(va, acc, _mm512_mul_pd(vb, _mm512_maskz_loadu_pd(m, p)))))

SUP_NV(sup_f64_1, 1)
SUP_NV(sup_f64_2, 2)
SUP_NV(sup_f64_3, 3)

/* crunch__gemm_sup_avx512_f64: the f64 unpacked kernel (contract in
 * gemm_kernels.h). */
SUP(crunch__gemm_sup_avx512_f64, sup_f64_1, sup_f64_2, sup_f64_3)

#undef T
#undef MASK
#undef FULL
#undef LOADV
#undef MLOADV
#undef SET1
#undef EST

#undef V
#undef W
#undef Z
#undef BCAST
#undef FMA
#undef ST_B0
#undef ST_B1
#undef ST_BX

/* ---- f32: 8 x 48 ---- */
#define V __m512
#define W 16
#define Z() _mm512_setzero_ps()
#define BCAST(x) _mm512_set1_ps(x)
#define FMA(x, y, z) _mm512_fmadd_ps(x, y, z)
#define ST_B0(p, acc) _mm512_storeu_ps(p, _mm512_mul_ps(va, acc))
#define ST_B1(p, acc) _mm512_storeu_ps(p, _mm512_fmadd_ps(va, acc, _mm512_loadu_ps(p)))
#define ST_BX(p, acc) \
    _mm512_storeu_ps(p, _mm512_fmadd_ps(va, acc, _mm512_mul_ps(vb, _mm512_loadu_ps(p))))

/* crunch__gemm_ukr_avx512_f32: the f32 8x48 micro-kernel (contract in
 * gemm_kernels.h). */
CRUNCH_TARGET_AVX512 void crunch__gemm_ukr_avx512_f32(size_t kc, const float *restrict ap,
                                                      const float *restrict bp,
                                                      float *restrict c, size_t ldc,
                                                      float alpha, float beta)
{
    ACC(V, 0); ACC(V, 1); ACC(V, 2); ACC(V, 3);
    ACC(V, 4); ACC(V, 5); ACC(V, 6); ACC(V, 7);
    PREFETCH_C();
#pragma GCC unroll 4
    for (size_t p = 0; p < kc; p++) {
        V b0 = _mm512_loadu_ps(bp + 0);
        V b1 = _mm512_loadu_ps(bp + 16);
        V b2 = _mm512_loadu_ps(bp + 32);
        _mm_prefetch((const char *)(ap + PF_A * 8), _MM_HINT_T0);
        STEP(0); STEP(1); STEP(2); STEP(3);
        STEP(4); STEP(5); STEP(6); STEP(7);
        ap += 8;
        bp += 48;
    }
    V va = _mm512_set1_ps(alpha);
    if (beta == 0) {
        STORE_ALL(ST_B0);
    } else if (beta == 1) {
        STORE_ALL(ST_B1);
    } else {
        V vb = _mm512_set1_ps(beta);
        STORE_ALL(ST_BX);
    }
}

#define T float
#define MASK __mmask16
#define FULL ((__mmask16)0xFFFF)
#define LOADV(p) _mm512_loadu_ps(p)
#define MLOADV(m, p) _mm512_maskz_loadu_ps(m, p)
#define SET1(x) _mm512_set1_ps(x)
#define EST(p, m, acc)                                                                   \
    (beta == 0 ? _mm512_mask_storeu_ps(p, m, _mm512_mul_ps(va, acc))                     \
               : _mm512_mask_storeu_ps(                                                  \
                     p, m, _mm512_fmadd_ps(va, acc, _mm512_mul_ps(vb, _mm512_maskz_loadu_ps(m, p)))))

SUP_NV(sup_f32_1, 1)
SUP_NV(sup_f32_2, 2)
SUP_NV(sup_f32_3, 3)

/* crunch__gemm_sup_avx512_f32: the f32 unpacked kernel (contract in
 * gemm_kernels.h). */
SUP(crunch__gemm_sup_avx512_f32, sup_f32_1, sup_f32_2, sup_f32_3)

#undef T
#undef MASK
#undef FULL
#undef LOADV
#undef MLOADV
#undef SET1
#undef EST

#endif /* CRUNCH_X86 */
