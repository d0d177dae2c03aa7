/*
 * gemm_avx2.c - the AVX2+FMA gemm micro-kernels (contract and packed
 * layouts in gemm_kernels.h).
 *
 * The classic 6 x 2-vector shape: a 6-row tile of C in 12 ymm
 * accumulators, two vectors per row. Per step p: load one packed row of B
 * (two vectors), and for each of the 6 rows broadcast one element of A and
 * issue two FMAs. 12 + 2 + a broadcast fit the 16 ymm registers.
 *   f64: 6 x 8 doubles;  f32: 6 x 16 floats.
 */
#include "gemm_kernels.h"

#if CRUNCH_X86
#include <immintrin.h>

/* How far ahead, in k steps, the A sliver is prefetched (it streams from
 * L2, 48 bytes (f64) or 24 bytes (f32) per step). */
enum { PF_A = 8 };

/* Named accumulators, not an array: with an array gcc keeps them in
 * memory at -O2. */
#define ACC(V, i) V c##i##0 = Z(), c##i##1 = Z()

/* STEP(i): row i's two FMAs with one broadcast element of A. */
#define STEP(i)                                 \
    do {                                        \
        V ai = BCAST(ap[i]);                    \
        c##i##0 = FMA(ai, b0, c##i##0);         \
        c##i##1 = FMA(ai, b1, c##i##1);         \
    } while (0)

/* STORE(i, OP): writes row i's two vectors through OP, one of the beta
 * cases. W is the vector width in elements. */
#define STORE(i, OP)                            \
    do {                                        \
        OP(c + (i) * ldc + 0 * W, c##i##0);     \
        OP(c + (i) * ldc + 1 * W, c##i##1);     \
    } while (0)

#define STORE_ALL(OP)                                                        \
    do {                                                                     \
        STORE(0, OP); STORE(1, OP); STORE(2, OP);                            \
        STORE(3, OP); STORE(4, OP); STORE(5, OP);                            \
    } while (0)

/* PREFETCH_C pulls the tile's rows of C (64 bytes each, two lines when
 * unaligned) toward L1 while the k loop runs. */
#define PREFETCH_C()                                                         \
    do {                                                                     \
        for (int i_ = 0; i_ < 6; i_++) {                                     \
            const char *r_ = (const char *)(c + (size_t)i_ * ldc);           \
            _mm_prefetch(r_, _MM_HINT_T0);                                   \
            _mm_prefetch(r_ + 63, _MM_HINT_T0);                              \
        }                                                                    \
    } while (0)

/* ---- f64: 6 x 8 ---- */
#define V __m256d
#define W 4
#define Z() _mm256_setzero_pd()
#define BCAST(x) _mm256_broadcast_sd(&(x))
#define FMA(x, y, z) _mm256_fmadd_pd(x, y, z)
/* the three ways of storing alpha*acc + beta*C; beta == 0 never reads C */
#define ST_B0(p, acc) _mm256_storeu_pd(p, _mm256_mul_pd(va, acc))
#define ST_B1(p, acc) _mm256_storeu_pd(p, _mm256_fmadd_pd(va, acc, _mm256_loadu_pd(p)))
#define ST_BX(p, acc) \
    _mm256_storeu_pd(p, _mm256_fmadd_pd(va, acc, _mm256_mul_pd(vb, _mm256_loadu_pd(p))))

/* crunch__gemm_ukr_avx2_f64: the f64 6x8 micro-kernel (contract in
 * gemm_kernels.h). */
CRUNCH_TARGET_AVX2 void crunch__gemm_ukr_avx2_f64(size_t kc, const double *restrict ap,
                                                  const double *restrict bp,
                                                  double *restrict c, size_t ldc,
                                                  double alpha, double beta)
{
    ACC(V, 0); ACC(V, 1); ACC(V, 2);
    ACC(V, 3); ACC(V, 4); ACC(V, 5);
    PREFETCH_C();
    /* Unrolled to amortise the loop overhead and pointer bumps. */
#pragma GCC unroll 4
    for (size_t p = 0; p < kc; p++) {
        V b0 = _mm256_loadu_pd(bp + 0);
        V b1 = _mm256_loadu_pd(bp + 4);
        _mm_prefetch((const char *)(ap + PF_A * 6), _MM_HINT_T0);
        STEP(0); STEP(1); STEP(2);
        STEP(3); STEP(4); STEP(5);
        ap += 6;
        bp += 8;
    }
    V va = _mm256_set1_pd(alpha);
    if (beta == 0) {
        STORE_ALL(ST_B0);
    } else if (beta == 1) {
        STORE_ALL(ST_B1);
    } else {
        V vb = _mm256_set1_pd(beta);
        STORE_ALL(ST_BX);
    }
}

#undef V
#undef W
#undef Z
#undef BCAST
#undef FMA
#undef ST_B0
#undef ST_B1
#undef ST_BX

/* ---- f32: 6 x 16 ---- */
#define V __m256
#define W 8
#define Z() _mm256_setzero_ps()
#define BCAST(x) _mm256_broadcast_ss(&(x))
#define FMA(x, y, z) _mm256_fmadd_ps(x, y, z)
#define ST_B0(p, acc) _mm256_storeu_ps(p, _mm256_mul_ps(va, acc))
#define ST_B1(p, acc) _mm256_storeu_ps(p, _mm256_fmadd_ps(va, acc, _mm256_loadu_ps(p)))
#define ST_BX(p, acc) \
    _mm256_storeu_ps(p, _mm256_fmadd_ps(va, acc, _mm256_mul_ps(vb, _mm256_loadu_ps(p))))

/* crunch__gemm_ukr_avx2_f32: the f32 6x16 micro-kernel (contract in
 * gemm_kernels.h). */
CRUNCH_TARGET_AVX2 void crunch__gemm_ukr_avx2_f32(size_t kc, const float *restrict ap,
                                                  const float *restrict bp,
                                                  float *restrict c, size_t ldc,
                                                  float alpha, float beta)
{
    ACC(V, 0); ACC(V, 1); ACC(V, 2);
    ACC(V, 3); ACC(V, 4); ACC(V, 5);
    PREFETCH_C();
#pragma GCC unroll 4
    for (size_t p = 0; p < kc; p++) {
        V b0 = _mm256_loadu_ps(bp + 0);
        V b1 = _mm256_loadu_ps(bp + 8);
        _mm_prefetch((const char *)(ap + PF_A * 6), _MM_HINT_T0);
        STEP(0); STEP(1); STEP(2);
        STEP(3); STEP(4); STEP(5);
        ap += 6;
        bp += 16;
    }
    V va = _mm256_set1_ps(alpha);
    if (beta == 0) {
        STORE_ALL(ST_B0);
    } else if (beta == 1) {
        STORE_ALL(ST_B1);
    } else {
        V vb = _mm256_set1_ps(beta);
        STORE_ALL(ST_BX);
    }
}

#endif /* CRUNCH_X86 */
