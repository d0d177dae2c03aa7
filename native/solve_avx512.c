/*
 * solve_avx512.c - crunch_solve_f64's vector kernels (contract in
 * solve_kernels.h) with AVX-512: 8-wide vectors, tails under a mask
 * instead of scalar loops.
 */
#include "solve_kernels.h"

#if CRUNCH_X86
#include <immintrin.h>

/* tail_mask selects the first r < 8 lanes. */
CRUNCH_TARGET_AVX512 static inline __mmask8 tail_mask(size_t r)
{
    return (__mmask8)((1u << r) - 1);
}

CRUNCH_TARGET_AVX512 double crunch__solve_dot_avx512(size_t len, const double *x,
                                                     const double *y)
{
    __m512d s0 = _mm512_setzero_pd(), s1 = s0, s2 = s0, s3 = s0;
    size_t j = 0;
    for (; j + 32 <= len; j += 32) { /* four chains hide the FMA latency */
        s0 = _mm512_fmadd_pd(_mm512_loadu_pd(x + j), _mm512_loadu_pd(y + j), s0);
        s1 = _mm512_fmadd_pd(_mm512_loadu_pd(x + j + 8), _mm512_loadu_pd(y + j + 8), s1);
        s2 = _mm512_fmadd_pd(_mm512_loadu_pd(x + j + 16), _mm512_loadu_pd(y + j + 16), s2);
        s3 = _mm512_fmadd_pd(_mm512_loadu_pd(x + j + 24), _mm512_loadu_pd(y + j + 24), s3);
    }
    for (; j + 8 <= len; j += 8)
        s0 = _mm512_fmadd_pd(_mm512_loadu_pd(x + j), _mm512_loadu_pd(y + j), s0);
    if (j < len) { /* masked loads read nothing beyond len */
        __mmask8 m = tail_mask(len - j);
        s1 = _mm512_fmadd_pd(_mm512_maskz_loadu_pd(m, x + j), _mm512_maskz_loadu_pd(m, y + j), s1);
    }
    return _mm512_reduce_add_pd(_mm512_add_pd(_mm512_add_pd(s0, s1), _mm512_add_pd(s2, s3)));
}

CRUNCH_TARGET_AVX512 void crunch__solve_axpy_avx512(size_t len, double alpha, const double *x,
                                                    double *y)
{
    __m512d a = _mm512_set1_pd(alpha);
    size_t j = 0;
    for (; j + 16 <= len; j += 16) { /* y - a x, two vectors per iteration */
        _mm512_storeu_pd(y + j, _mm512_fnmadd_pd(a, _mm512_loadu_pd(x + j), _mm512_loadu_pd(y + j)));
        _mm512_storeu_pd(y + j + 8,
                         _mm512_fnmadd_pd(a, _mm512_loadu_pd(x + j + 8), _mm512_loadu_pd(y + j + 8)));
    }
    for (; j + 8 <= len; j += 8)
        _mm512_storeu_pd(y + j, _mm512_fnmadd_pd(a, _mm512_loadu_pd(x + j), _mm512_loadu_pd(y + j)));
    if (j < len) {
        __mmask8 m = tail_mask(len - j);
        __m512d r = _mm512_fnmadd_pd(a, _mm512_maskz_loadu_pd(m, x + j), _mm512_maskz_loadu_pd(m, y + j));
        _mm512_mask_storeu_pd(y + j, m, r);
    }
}

CRUNCH_TARGET_AVX512 double crunch__solve_load_row_avx512(size_t len, const double *src,
                                                          double *dst, double *colsum)
{
    __m512d mx = _mm512_setzero_pd();
    size_t j = 0;
    for (; j + 8 <= len; j += 8) {
        __m512d v = _mm512_loadu_pd(src + j), a = _mm512_abs_pd(v);
        _mm512_storeu_pd(dst + j, v);
        _mm512_storeu_pd(colsum + j, _mm512_add_pd(_mm512_loadu_pd(colsum + j), a));
        mx = _mm512_max_pd(a, mx); /* returns mx when a is NaN: NaN is skipped */
    }
    if (j < len) {
        __mmask8 m = tail_mask(len - j);
        __m512d v = _mm512_maskz_loadu_pd(m, src + j), a = _mm512_abs_pd(v); /* 0 outside m */
        _mm512_mask_storeu_pd(dst + j, m, v);
        _mm512_mask_storeu_pd(colsum + j, m, _mm512_add_pd(_mm512_maskz_loadu_pd(m, colsum + j), a));
        mx = _mm512_max_pd(a, mx);
    }
    return _mm512_reduce_max_pd(mx);
}
#endif
