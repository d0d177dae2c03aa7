/*
 * fft_avx2.c - the AVX2+FMA FFT pass kernels: fft_template.h, through
 * fft_x86_template.h, over ymm vectors of 2 complex doubles or 4 complex
 * floats, interleaved (re, im). What is this path's own is how it
 * transposes the first pass's outputs in registers.
 */
#include "fft_kernels.h"

#if CRUNCH_X86
#include <immintrin.h>

/* ---- f64: ymm = 2 complex doubles; a 128-bit lane is one complex ---- */

/* y64_tstore stores lane l of b[k] at complex index l*R + k of y, every
 * R: for even R, pairs of outputs exchange 128-bit lanes (0x20: both low
 * lanes, 0x31: both high lanes); for odd R, one 128-bit store a complex. */
CRUNCH_TARGET_AVX2 static inline int y64_tstore(double *y, const __m256d *b, int R)
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
    return 1;
}

#define FT double
#define VC __m256d
#define VW 2
#define FN(name) name##_avx2_f64
#define TGT CRUNCH_TARGET_AVX2
#define VI(op) _mm256_##op##_pd
#define V_F32 0
#define V_TSTORE_FAST(y, b, R) y64_tstore(y, b, R)
#include "fft_x86_template.h"

/* ---- f32: ymm = 4 complex floats; a 64-bit element is one complex ---- */

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

/* y32_tstore stores complex e of b[k] at complex index e*R + k of y for
 * R = 4 and 8, four outputs at a time; other R go through the buffer. */
CRUNCH_TARGET_AVX2 static inline int y32_tstore(float *y, const __m256 *b, int R)
{
    if (R != 4 && R != 8)
        return 0;
    #pragma GCC unroll 8
    for (int g = 0; g < R; g += 4) {
        __m256d r[4];
        y32_t4(b + g, r);
        #pragma GCC unroll 8
        for (int e = 0; e < 4; e++)
            _mm256_storeu_pd((double *)(void *)(y + 2 * (e * R + g)), r[e]);
    }
    return 1;
}

#define FT float
#define VC __m256
#define VW 4
#define FN(name) name##_avx2_f32
#define TGT CRUNCH_TARGET_AVX2
#define VI(op) _mm256_##op##_ps
#define V_F32 1
#define V_TSTORE_FAST(y, b, R) y32_tstore(y, b, R)
#include "fft_x86_template.h"

const crunch__fft_kernels crunch__fft_kernels_avx2 = {
    2,
    4,
    CRUNCH__FFT_TABLE(_avx2_f64),
    CRUNCH__FFT_TABLE(_avx2_f32),
    twmul_avx2_f64,
    twmul_avx2_f32,
};

#endif /* CRUNCH_X86 */
