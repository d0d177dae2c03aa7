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

/*
 * The unpacked kernels (contract in gemm_kernels.h): a rows x cols tile
 * (rows <= 6, cols <= NR) straight into C from A and B where they lie,
 * A(i, p) = a[i*rsa + p*csa], B(p, j) = b[p*ldb + j]. Only the NV =
 * ceil(cols / W) vectors a row needs run, the last loaded and stored
 * under a mask (AVX2's maskload and maskstore neither read nor write
 * masked-off elements); rows past `rows` broadcast row 0 again and are not
 * stored. As in gemm_avx512.c, where they are described at length.
 */

/* SSTEP(i): row i's NV FMAs with one element of A read in place. */
#define SSTEP(i)                                                \
    do {                                                        \
        V ai = BCAST(a##i[q]);                                  \
        c##i##0 = FMA(ai, b0, c##i##0);                         \
        if (NV > 1)                                             \
            c##i##1 = FMA(ai, b1, c##i##1);                     \
    } while (0)

/* SSTORE(i): row i's NV vectors into C, the last under mask `last`. */
#define SSTORE(i)                                               \
    do {                                                        \
        if ((i) < rows) {                                       \
            T *r_ = c + (size_t)(i) * ldc;                      \
            if (NV == 1)                                        \
                EST(r_, last, c##i##0);                         \
            if (NV == 2) {                                      \
                EST(r_, full, c##i##0);                         \
                EST(r_ + W, last, c##i##1);                     \
            }                                                   \
        }                                                       \
    } while (0)

/* SUP_NV(NAME, NV_, MASKED) defines the unpacked kernel whose rows need
 * NV_ vectors; when MASKED, the final vector's first rem elements are
 * loaded and stored (lane j of the mask is set when j < rem; LANES holds
 * 0, 1, 2, ... in the mask's element width). A full
 * tile loads B without the mask: vmaskmov loads cost more than plain ones
 * on some CPUs (AMD's among them), every step. */
#define SUP_NV(NAME, NV_, MASKED)                                                       \
    static CRUNCH_TARGET_AVX2 void NAME(size_t kc, const T *a, size_t rsa, size_t csa,   \
                                        const T *b, size_t ldb, T *restrict c,           \
                                        size_t ldc, T alpha, T beta, size_t rows,        \
                                        int rem)                                         \
    {                                                                                    \
        enum { NV = NV_ };                                                               \
        /* The mask is built here, not passed: a full tile then holds no                 \
         * register for it through the loop (its 12 accumulators, 2 vectors              \
         * of B and a broadcast take 15 of the 16). */                                   \
        const __m256i full = _mm256_set1_epi32(-1);                                      \
        const __m256i last = MASKED ? CMPGT(SET1I(rem), LANES) : full;                   \
        /* alpha and beta wait in memory, not in two of the registers: else              \
         * gcc spills an accumulator, and its FMAs chain through the stack. */            \
        volatile T alpha_ = alpha, beta_ = beta;                                         \
        const T *a0 = a, *a1 = a + (rows > 1 ? 1 * rsa : 0),                             \
                *a2 = a + (rows > 2 ? 2 * rsa : 0), *a3 = a + (rows > 3 ? 3 * rsa : 0),  \
                *a4 = a + (rows > 4 ? 4 * rsa : 0), *a5 = a + (rows > 5 ? 5 * rsa : 0);  \
        ACC(V, 0); ACC(V, 1); ACC(V, 2);                                                 \
        ACC(V, 3); ACC(V, 4); ACC(V, 5);                                                 \
        for (size_t p = 0, q = 0; p < kc; p++, q += csa, b += ldb) {                     \
            V b0 = NV == 1 && MASKED ? MLOADV(b, last) : LOADV(b), b1 = b0;              \
            if (NV > 1)                                                                  \
                b1 = MASKED ? MLOADV(b + W, last) : LOADV(b + W);                        \
            SSTEP(0); SSTEP(1); SSTEP(2);                                                \
            SSTEP(3); SSTEP(4); SSTEP(5);                                                \
        }                                                                                \
        V va = SET1(alpha_), vb = SET1(beta_);                                           \
        beta = beta_; /* EST tests it */                                                 \
        SSTORE(0); SSTORE(1); SSTORE(2);                                                 \
        SSTORE(3); SSTORE(4); SSTORE(5);                                                 \
    }

/* SUP(NAME, SUP1, SUP2, SUPF) defines the exported unpacked kernel: it
 * picks the one for the tile's width (SUPF: a full one). */
#define SUP(NAME, SUP1, SUP2, SUPF)                                                     \
    CRUNCH_TARGET_AVX2 void NAME(size_t kc, const T *a, size_t rsa, size_t csa,         \
                                 const T *b, size_t ldb, T *c, size_t ldc, T alpha,     \
                                 T beta, size_t rows, size_t cols)                      \
    {                                                                                   \
        size_t nv = (cols + W - 1) / W;                                                 \
        int last = (int)(cols - (nv - 1) * W); /* elements in the last vector */        \
        if (cols == 2 * W)                                                              \
            SUPF(kc, a, rsa, csa, b, ldb, c, ldc, alpha, beta, rows, last);             \
        else if (nv == 1)                                                               \
            SUP1(kc, a, rsa, csa, b, ldb, c, ldc, alpha, beta, rows, last);             \
        else                                                                            \
            SUP2(kc, a, rsa, csa, b, ldb, c, ldc, alpha, beta, rows, last);             \
    }

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

/* the unpacked kernels' element type, masks and stores (beta == 0 never
 * reads C) */
#define T double
#define LOADV(p) _mm256_loadu_pd(p)
#define MLOADV(p, m) _mm256_maskload_pd(p, m)
#define SET1(x) _mm256_set1_pd(x)
#define SET1I(x) _mm256_set1_epi64x(x)
#define CMPGT(x, y) _mm256_cmpgt_epi64(x, y)
#define LANES _mm256_setr_epi64x(0, 1, 2, 3)
#define EST(p, m, acc)                                                                   \
    (beta == 0 ? _mm256_maskstore_pd(p, m, _mm256_mul_pd(va, acc))                       \
               : _mm256_maskstore_pd(                                                    \
                     p, m, _mm256_fmadd_pd(va, acc, _mm256_mul_pd(vb, _mm256_maskload_pd(p, m)))))

SUP_NV(sup_f64_1, 1, 1)
SUP_NV(sup_f64_2, 2, 1)
SUP_NV(sup_f64_full, 2, 0)

/* crunch__gemm_sup_avx2_f64: the f64 unpacked kernel (contract in
 * gemm_kernels.h). */
SUP(crunch__gemm_sup_avx2_f64, sup_f64_1, sup_f64_2, sup_f64_full)

#undef T
#undef LOADV
#undef MLOADV
#undef SET1
#undef SET1I
#undef CMPGT
#undef LANES
#undef EST

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

#define T float
#define LOADV(p) _mm256_loadu_ps(p)
#define MLOADV(p, m) _mm256_maskload_ps(p, m)
#define SET1(x) _mm256_set1_ps(x)
#define SET1I(x) _mm256_set1_epi32(x)
#define CMPGT(x, y) _mm256_cmpgt_epi32(x, y)
#define LANES _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7)
#define EST(p, m, acc)                                                                   \
    (beta == 0 ? _mm256_maskstore_ps(p, m, _mm256_mul_ps(va, acc))                       \
               : _mm256_maskstore_ps(                                                    \
                     p, m, _mm256_fmadd_ps(va, acc, _mm256_mul_ps(vb, _mm256_maskload_ps(p, m)))))

SUP_NV(sup_f32_1, 1, 1)
SUP_NV(sup_f32_2, 2, 1)
SUP_NV(sup_f32_full, 2, 0)

/* crunch__gemm_sup_avx2_f32: the f32 unpacked kernel (contract in
 * gemm_kernels.h). */
SUP(crunch__gemm_sup_avx2_f32, sup_f32_1, sup_f32_2, sup_f32_full)

#undef T
#undef LOADV
#undef MLOADV
#undef SET1
#undef SET1I
#undef CMPGT
#undef LANES
#undef EST

#endif /* CRUNCH_X86 */
