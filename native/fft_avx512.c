/*
 * fft_avx512.c - the AVX-512 FFT pass kernels: fft_template.h, through
 * fft_x86_template.h (which has the complex arithmetic), over zmm vectors
 * of 4 complex doubles or 8 complex floats, interleaved (re, im) as in
 * memory, so loads and stores need no shuffles. What is this path's own
 * is how it transposes the first pass's outputs (s == 1) in registers,
 * with lane shuffles, for the common radices.
 */
#include "fft_kernels.h"

#if CRUNCH_X86
#include <immintrin.h>

/* ---- f64: zmm = 4 complex doubles; a 128-bit lane is one complex ---- */

/* z64_lanes4 transposes a 4 x 4 matrix of 128-bit lanes (rows in r[]):
 * afterwards r[l] holds lane l of the four inputs, in order. */
CRUNCH_TARGET_AVX512 static inline void z64_lanes4(__m512d *r0, __m512d *r1, __m512d *r2,
                                                   __m512d *r3)
{
    /* 0x44 takes lanes 0,1 of each source, 0xEE lanes 2,3; then 0x88
     * picks lanes 0,2 and 0xDD lanes 1,3 of the intermediate pairs. */
    __m512d t0 = _mm512_shuffle_f64x2(*r0, *r1, 0x44), t1 = _mm512_shuffle_f64x2(*r2, *r3, 0x44);
    __m512d t2 = _mm512_shuffle_f64x2(*r0, *r1, 0xEE), t3 = _mm512_shuffle_f64x2(*r2, *r3, 0xEE);
    *r0 = _mm512_shuffle_f64x2(t0, t1, 0x88);
    *r1 = _mm512_shuffle_f64x2(t0, t1, 0xDD);
    *r2 = _mm512_shuffle_f64x2(t2, t3, 0x88);
    *r3 = _mm512_shuffle_f64x2(t2, t3, 0xDD);
}

/* z64_tstore stores lane l of b[k] at complex index l*R + k of y for
 * R = 2, 4 and 8; odd R go through the buffer. */
CRUNCH_TARGET_AVX512 static inline int z64_tstore(double *y, const __m512d *b, int R)
{
    if (R & 1)
        return 0;
    if (R == 4 || R == 8) {
        /* each group of four outputs is a 4 x 4 lane transpose; lane l's
         * group g lands at complex l*R + 4g */
        #pragma GCC unroll 8
        for (int g = 0; g < R; g += 4) {
            __m512d r0 = b[g], r1 = b[g + 1], r2 = b[g + 2], r3 = b[g + 3];
            z64_lanes4(&r0, &r1, &r2, &r3);
            _mm512_storeu_pd(y + 2 * (0 * R + g), r0);
            _mm512_storeu_pd(y + 2 * (1 * R + g), r1);
            _mm512_storeu_pd(y + 2 * (2 * R + g), r2);
            _mm512_storeu_pd(y + 2 * (3 * R + g), r3);
        }
    } else {
        /* R == 2 (the even radices are 2, 4, 8): lanes l, l+1 of b0 and
         * b1 interleave into [b0.l b1.l b0.l+1 b1.l+1] */
        const __m512i lo = _mm512_set_epi64(11, 10, 3, 2, 9, 8, 1, 0);
        const __m512i hi = _mm512_set_epi64(15, 14, 7, 6, 13, 12, 5, 4);
        _mm512_storeu_pd(y, _mm512_permutex2var_pd(b[0], lo, b[1]));
        _mm512_storeu_pd(y + 8, _mm512_permutex2var_pd(b[0], hi, b[1]));
    }
    return 1;
}

#define FT double
#define VC __m512d
#define VW 4
#define FN(name) name##_avx512_f64
#define TGT CRUNCH_TARGET_AVX512
#define VI(op) _mm512_##op##_pd
#define V_F32 0
#define V_TSTORE_FAST(y, b, R) z64_tstore(y, b, R)
#include "fft_x86_template.h"

/* ---- f32: zmm = 8 complex floats; a 64-bit element is one complex ---- */

/* z32_tstore stores complex e of b[k] at complex index e*R + k of y for
 * R = 4 and 8; other R go through the buffer. The vectors are handled as
 * 8 doubles, one per complex float. */
CRUNCH_TARGET_AVX512 static inline int z32_tstore(float *y, const __m512 *bf, int R)
{
    if (R != 4 && R != 8)
        return 0;
    if (R == 8) {
        /* unpack pairs of rows, then a 4 x 4 lane transpose per half:
         * out_e = [b0.e .. b7.e] */
        __m512d t[8];
        #pragma GCC unroll 8
        for (int k = 0; k < 8; k += 2) {
            __m512d u = _mm512_castps_pd(bf[k]), v = _mm512_castps_pd(bf[k + 1]);
            t[k] = _mm512_unpacklo_pd(u, v);     /* lanes: [b_k.2j, b_k+1.2j] */
            t[k + 1] = _mm512_unpackhi_pd(u, v); /* lanes: [b_k.2j+1, b_k+1.2j+1] */
        }
        z64_lanes4(&t[0], &t[2], &t[4], &t[6]); /* t[2j] = out_{2j} */
        z64_lanes4(&t[1], &t[3], &t[5], &t[7]); /* t[2j+1] = out_{2j+1} */
        #pragma GCC unroll 8
        for (int e = 0; e < 8; e++)
            _mm512_storeu_pd((double *)(void *)(y + 2 * 8 * e), t[e]);
    } else {
        /* R == 4: rows e and e+1 (4 complex each) share one zmm:
         * [t0.L, t2.L, t1.L, t3.L] for lane L = e/2 */
        __m512d u0 = _mm512_castps_pd(bf[0]), u1 = _mm512_castps_pd(bf[1]);
        __m512d u2 = _mm512_castps_pd(bf[2]), u3 = _mm512_castps_pd(bf[3]);
        __m512d t0 = _mm512_unpacklo_pd(u0, u1), t1 = _mm512_unpackhi_pd(u0, u1);
        __m512d t2 = _mm512_unpacklo_pd(u2, u3), t3 = _mm512_unpackhi_pd(u2, u3);
        z64_lanes4(&t0, &t2, &t1, &t3);
        _mm512_storeu_pd((double *)(void *)(y + 0), t0);
        _mm512_storeu_pd((double *)(void *)(y + 16), t2);
        _mm512_storeu_pd((double *)(void *)(y + 32), t1);
        _mm512_storeu_pd((double *)(void *)(y + 48), t3);
    }
    return 1;
}

#define FT float
#define VC __m512
#define VW 8
#define FN(name) name##_avx512_f32
#define TGT CRUNCH_TARGET_AVX512
#define VI(op) _mm512_##op##_ps
#define V_F32 1
#define V_TSTORE_FAST(y, b, R) z32_tstore(y, b, R)
#include "fft_x86_template.h"

const crunch__fft_kernels crunch__fft_kernels_avx512 = {
    4,
    8,
    CRUNCH__FFT_TABLE(_avx512_f64),
    CRUNCH__FFT_TABLE(_avx512_f32),
    twmul_avx512_f64,
    twmul_avx512_f32,
};

#endif /* CRUNCH_X86 */
