/*
 * fft_avx512.c - the AVX-512 FFT pass kernels: fft_template.h over zmm
 * vectors of 4 complex doubles or 8 complex floats, interleaved (re, im)
 * as in memory, so loads and stores need no shuffles.
 *
 * Complex products use the fmaddsub idiom: with wr, wi the twiddle's real
 * and imaginary parts duplicated into both lanes of each complex slot,
 *   a * w = fmaddsub(a, wr, swap(a) * wi)
 * gives (ar*wr - ai*wi, ai*wr + ar*wi) in one multiply and one FMA, and
 * fmsubadd gives a * conj(w) for the inverse. Multiplying by -i or +i is
 * a swap and a sign flip.
 *
 * The first pass of a transform (s == 1) runs its vectors along p, so its
 * R output vectors must be transposed before they are stored; the common
 * radices do that in registers with lane shuffles (below), others through
 * a small buffer on the stack.
 */
#include "fft_kernels.h"

#if CRUNCH_X86
#include <immintrin.h>
#include <string.h>

/* ---- f64: zmm = 4 complex doubles; a 128-bit lane is one complex ---- */

/* z64_swap exchanges re and im in every complex slot. */
CRUNCH_TARGET_AVX512 static inline __m512d z64_swap(__m512d a)
{
    return _mm512_permute_pd(a, 0x55); /* per pair: take element 1, then 0 */
}

/* z64_rot is a * -i = (im, -re) (inv == 0) or a * +i = (-im, re). */
CRUNCH_TARGET_AVX512 static inline __m512d z64_rot(__m512d a, int inv)
{
    /* _mm512_set_pd lists elements from the highest: odd ones are imag */
    const __m512d neg_im = _mm512_set_pd(-0.0, 0.0, -0.0, 0.0, -0.0, 0.0, -0.0, 0.0);
    const __m512d neg_re = _mm512_set_pd(0.0, -0.0, 0.0, -0.0, 0.0, -0.0, 0.0, -0.0);
    return _mm512_xor_pd(z64_swap(a), inv ? neg_re : neg_im);
}

CRUNCH_TARGET_AVX512 static inline __m512d z64_cmul(__m512d a, __m512d wr, __m512d wi, int inv)
{
    __m512d t = _mm512_mul_pd(z64_swap(a), wi);
    return inv ? _mm512_fmsubadd_pd(a, wr, t) : _mm512_fmaddsub_pd(a, wr, t);
}

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

/* z64_tstore stores lane l of b[k] at complex index l*R + k of y. */
CRUNCH_TARGET_AVX512 static inline void z64_tstore(double *y, const __m512d *b, int R)
{
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
    } else if (R == 2) {
        /* lanes l, l+1 of b0 and b1 interleave into [b0.l b1.l b0.l+1 b1.l+1] */
        const __m512i lo = _mm512_set_epi64(11, 10, 3, 2, 9, 8, 1, 0);
        const __m512i hi = _mm512_set_epi64(15, 14, 7, 6, 13, 12, 5, 4);
        _mm512_storeu_pd(y, _mm512_permutex2var_pd(b[0], lo, b[1]));
        _mm512_storeu_pd(y + 8, _mm512_permutex2var_pd(b[0], hi, b[1]));
    } else {
        /* odd radices: through a buffer; one 16-byte move per complex */
        double tmp[CRUNCH__FFT_MAX_ODD * 8];
        for (int k = 0; k < R; k++)
            _mm512_storeu_pd(tmp + 8 * k, b[k]);
        for (int l = 0; l < 4; l++)
            for (int k = 0; k < R; k++)
                memcpy(y + 2 * (l * R + k), tmp + 8 * k + 2 * l, 2 * sizeof(double));
    }
}

#define FT double
#define VC __m512d
#define VW 4
#define FN(name) name##_avx512_f64
#define TGT CRUNCH_TARGET_AVX512
#define V_LOAD(p) _mm512_loadu_pd(p)
#define V_STORE(p, v) _mm512_storeu_pd(p, v)
#define V_ADD(a, b) _mm512_add_pd(a, b)
#define V_SUB(a, b) _mm512_sub_pd(a, b)
#define V_SET1(x) _mm512_set1_pd(x)
#define V_ZERO() _mm512_setzero_pd()
#define V_MUL(a, r) _mm512_mul_pd(a, r)
#define V_FMA(a, r, c) _mm512_fmadd_pd(a, r, c)
#define V_ROT(a, inv) z64_rot(a, inv)
#define V_CMUL(a, wr, wi, inv) z64_cmul(a, wr, wi, inv)
/* movedup copies each even (re) element up; permute 0xFF copies each odd
 * (im) element down */
#define V_TWDUP(p, wr, wi)                       \
    do {                                         \
        __m512d t_ = _mm512_loadu_pd(p);         \
        (wr) = _mm512_movedup_pd(t_);            \
        (wi) = _mm512_permute_pd(t_, 0xFF);      \
    } while (0)
#define V_TSTORE(y, b, R) z64_tstore(y, b, R)
#include "fft_template.h"

/* ---- f32: zmm = 8 complex floats; a 64-bit element is one complex ---- */

CRUNCH_TARGET_AVX512 static inline __m512 z32_swap(__m512 a)
{
    return _mm512_permute_ps(a, 0xB1); /* per pair: 1, 0 */
}

CRUNCH_TARGET_AVX512 static inline __m512 z32_rot(__m512 a, int inv)
{
    /* the sign bit of the high float (im) or the low float (re) of each
     * 64-bit complex */
    const __m512 neg_im = _mm512_castsi512_ps(_mm512_set1_epi64((long long)0x8000000000000000ULL));
    const __m512 neg_re = _mm512_castsi512_ps(_mm512_set1_epi64(0x80000000LL));
    return _mm512_xor_ps(z32_swap(a), inv ? neg_re : neg_im);
}

CRUNCH_TARGET_AVX512 static inline __m512 z32_cmul(__m512 a, __m512 wr, __m512 wi, int inv)
{
    __m512 t = _mm512_mul_ps(z32_swap(a), wi);
    return inv ? _mm512_fmsubadd_ps(a, wr, t) : _mm512_fmaddsub_ps(a, wr, t);
}

/* z32_tstore stores complex e of b[k] at complex index e*R + k of y. The
 * vectors are handled as 8 doubles, one per complex float. */
CRUNCH_TARGET_AVX512 static inline void z32_tstore(float *y, const __m512 *bf, int R)
{
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
    } else if (R == 4) {
        /* rows e and e+1 (4 complex each) share one zmm:
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
    } else {
        float tmp[CRUNCH__FFT_MAX_ODD * 16];
        for (int k = 0; k < R; k++)
            _mm512_storeu_ps(tmp + 16 * k, bf[k]);
        for (int e = 0; e < 8; e++)
            for (int k = 0; k < R; k++)
                memcpy(y + 2 * (e * R + k), tmp + 16 * k + 2 * e, 2 * sizeof(float));
    }
}

#define FT float
#define VC __m512
#define VW 8
#define FN(name) name##_avx512_f32
#define TGT CRUNCH_TARGET_AVX512
#define V_LOAD(p) _mm512_loadu_ps(p)
#define V_STORE(p, v) _mm512_storeu_ps(p, v)
#define V_ADD(a, b) _mm512_add_ps(a, b)
#define V_SUB(a, b) _mm512_sub_ps(a, b)
#define V_SET1(x) _mm512_set1_ps(x)
#define V_ZERO() _mm512_setzero_ps()
#define V_MUL(a, r) _mm512_mul_ps(a, r)
#define V_FMA(a, r, c) _mm512_fmadd_ps(a, r, c)
#define V_ROT(a, inv) z32_rot(a, inv)
#define V_CMUL(a, wr, wi, inv) z32_cmul(a, wr, wi, inv)
#define V_TWDUP(p, wr, wi)                       \
    do {                                         \
        __m512 t_ = _mm512_loadu_ps(p);          \
        (wr) = _mm512_moveldup_ps(t_);           \
        (wi) = _mm512_movehdup_ps(t_);           \
    } while (0)
#define V_TSTORE(y, b, R) z32_tstore(y, b, R)
#include "fft_template.h"

const crunch__fft_kernels crunch__fft_kernels_avx512 = {
    4,
    8,
    CRUNCH__FFT_TABLE(_avx512_f64),
    CRUNCH__FFT_TABLE(_avx512_f32),
    twmul_avx512_f64,
    twmul_avx512_f32,
};

#endif /* CRUNCH_X86 */
