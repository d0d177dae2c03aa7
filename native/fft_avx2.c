/*
 * fft_avx2.c - the AVX2+FMA FFT pass kernels: fft_template.h over ymm
 * vectors of 2 complex doubles or 4 complex floats, interleaved (re, im).
 * The arithmetic is that of fft_avx512.c (fmaddsub complex products, swap
 * and sign flip for -i and +i) at half the width; see there.
 */
#include "fft_kernels.h"

#if CRUNCH_X86
#include <immintrin.h>
#include <string.h>

/* ---- f64: ymm = 2 complex doubles; a 128-bit lane is one complex ---- */

CRUNCH_TARGET_AVX2 static inline __m256d y64_swap(__m256d a)
{
    return _mm256_permute_pd(a, 0x5); /* per pair: element 1, then 0 */
}

CRUNCH_TARGET_AVX2 static inline __m256d y64_rot(__m256d a, int inv)
{
    const __m256d neg_im = _mm256_set_pd(-0.0, 0.0, -0.0, 0.0); /* highest element first */
    const __m256d neg_re = _mm256_set_pd(0.0, -0.0, 0.0, -0.0);
    return _mm256_xor_pd(y64_swap(a), inv ? neg_re : neg_im);
}

CRUNCH_TARGET_AVX2 static inline __m256d y64_cmul(__m256d a, __m256d wr, __m256d wi, int inv)
{
    __m256d t = _mm256_mul_pd(y64_swap(a), wi);
    return inv ? _mm256_fmsubadd_pd(a, wr, t) : _mm256_fmaddsub_pd(a, wr, t);
}

/* y64_tstore stores lane l of b[k] at complex index l*R + k of y: for
 * even R, pairs of outputs exchange 128-bit lanes (0x20: both low lanes,
 * 0x31: both high lanes). */
CRUNCH_TARGET_AVX2 static inline void y64_tstore(double *y, const __m256d *b, int R)
{
    if ((R & 1) == 0) {
        #pragma GCC unroll 8
        for (int k = 0; k < R; k += 2) {
            _mm256_storeu_pd(y + 2 * k, _mm256_permute2f128_pd(b[k], b[k + 1], 0x20));
            _mm256_storeu_pd(y + 2 * (R + k), _mm256_permute2f128_pd(b[k], b[k + 1], 0x31));
        }
    } else {
        for (int k = 0; k < R; k++) {
            _mm_storeu_pd(y + 2 * k, _mm256_castpd256_pd128(b[k]));
            _mm_storeu_pd(y + 2 * (R + k), _mm256_extractf128_pd(b[k], 1));
        }
    }
}

#define FT double
#define VC __m256d
#define VW 2
#define FN(name) name##_avx2_f64
#define TGT CRUNCH_TARGET_AVX2
#define V_LOAD(p) _mm256_loadu_pd(p)
#define V_STORE(p, v) _mm256_storeu_pd(p, v)
#define V_ADD(a, b) _mm256_add_pd(a, b)
#define V_SUB(a, b) _mm256_sub_pd(a, b)
#define V_SET1(x) _mm256_set1_pd(x)
#define V_ZERO() _mm256_setzero_pd()
#define V_MUL(a, r) _mm256_mul_pd(a, r)
#define V_FMA(a, r, c) _mm256_fmadd_pd(a, r, c)
#define V_ROT(a, inv) y64_rot(a, inv)
#define V_CMUL(a, wr, wi, inv) y64_cmul(a, wr, wi, inv)
#define V_TWDUP(p, wr, wi)                       \
    do {                                         \
        __m256d t_ = _mm256_loadu_pd(p);         \
        (wr) = _mm256_movedup_pd(t_);            \
        (wi) = _mm256_permute_pd(t_, 0xF);       \
    } while (0)
#define V_TSTORE(y, b, R) y64_tstore(y, b, R)
#include "fft_template.h"

/* ---- f32: ymm = 4 complex floats; a 64-bit element is one complex ---- */

CRUNCH_TARGET_AVX2 static inline __m256 y32_swap(__m256 a)
{
    return _mm256_permute_ps(a, 0xB1); /* per pair: 1, 0 */
}

CRUNCH_TARGET_AVX2 static inline __m256 y32_rot(__m256 a, int inv)
{
    const __m256 neg_im = _mm256_castsi256_ps(_mm256_set1_epi64x((long long)0x8000000000000000ULL));
    const __m256 neg_re = _mm256_castsi256_ps(_mm256_set1_epi64x(0x80000000LL));
    return _mm256_xor_ps(y32_swap(a), inv ? neg_re : neg_im);
}

CRUNCH_TARGET_AVX2 static inline __m256 y32_cmul(__m256 a, __m256 wr, __m256 wi, int inv)
{
    __m256 t = _mm256_mul_ps(y32_swap(a), wi);
    return inv ? _mm256_fmsubadd_ps(a, wr, t) : _mm256_fmaddsub_ps(a, wr, t);
}

/* y32_t4 transposes four vectors of 4 complex floats, handled as doubles
 * (one per complex): r[e] = [b0.e, b1.e, b2.e, b3.e]. */
CRUNCH_TARGET_AVX2 static inline void y32_t4(const __m256 *bf, __m256d *r)
{
    __m256d u0 = _mm256_castps_pd(bf[0]), u1 = _mm256_castps_pd(bf[1]);
    __m256d u2 = _mm256_castps_pd(bf[2]), u3 = _mm256_castps_pd(bf[3]);
    __m256d t0 = _mm256_unpacklo_pd(u0, u1), t1 = _mm256_unpackhi_pd(u0, u1);
    __m256d t2 = _mm256_unpacklo_pd(u2, u3), t3 = _mm256_unpackhi_pd(u2, u3);
    r[0] = _mm256_permute2f128_pd(t0, t2, 0x20);
    r[1] = _mm256_permute2f128_pd(t1, t3, 0x20);
    r[2] = _mm256_permute2f128_pd(t0, t2, 0x31);
    r[3] = _mm256_permute2f128_pd(t1, t3, 0x31);
}

/* y32_tstore stores complex e of b[k] at complex index e*R + k of y. */
CRUNCH_TARGET_AVX2 static inline void y32_tstore(float *y, const __m256 *b, int R)
{
    if (R == 4 || R == 8) {
        #pragma GCC unroll 8
        for (int g = 0; g < R; g += 4) {
            __m256d r[4];
            y32_t4(b + g, r);
            #pragma GCC unroll 8
            for (int e = 0; e < 4; e++)
                _mm256_storeu_pd((double *)(void *)(y + 2 * (e * R + g)), r[e]);
        }
    } else {
        float tmp[CRUNCH__FFT_MAX_ODD * 8];
        for (int k = 0; k < R; k++)
            _mm256_storeu_ps(tmp + 8 * k, b[k]);
        for (int e = 0; e < 4; e++)
            for (int k = 0; k < R; k++)
                memcpy(y + 2 * (e * R + k), tmp + 8 * k + 2 * e, 2 * sizeof(float));
    }
}

#define FT float
#define VC __m256
#define VW 4
#define FN(name) name##_avx2_f32
#define TGT CRUNCH_TARGET_AVX2
#define V_LOAD(p) _mm256_loadu_ps(p)
#define V_STORE(p, v) _mm256_storeu_ps(p, v)
#define V_ADD(a, b) _mm256_add_ps(a, b)
#define V_SUB(a, b) _mm256_sub_ps(a, b)
#define V_SET1(x) _mm256_set1_ps(x)
#define V_ZERO() _mm256_setzero_ps()
#define V_MUL(a, r) _mm256_mul_ps(a, r)
#define V_FMA(a, r, c) _mm256_fmadd_ps(a, r, c)
#define V_ROT(a, inv) y32_rot(a, inv)
#define V_CMUL(a, wr, wi, inv) y32_cmul(a, wr, wi, inv)
#define V_TWDUP(p, wr, wi)                       \
    do {                                         \
        __m256 t_ = _mm256_loadu_ps(p);          \
        (wr) = _mm256_moveldup_ps(t_);           \
        (wi) = _mm256_movehdup_ps(t_);           \
    } while (0)
#define V_TSTORE(y, b, R) y32_tstore(y, b, R)
#include "fft_template.h"

const crunch__fft_kernels crunch__fft_kernels_avx2 = {
    2,
    4,
    CRUNCH__FFT_TABLE(_avx2_f64),
    CRUNCH__FFT_TABLE(_avx2_f32),
    twmul_avx2_f64,
    twmul_avx2_f32,
};

#endif /* CRUNCH_X86 */
