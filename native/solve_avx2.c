/*
 * solve_avx2.c - crunch_solve_f64's vector kernels (contract in
 * solve_kernels.h) with AVX2 + FMA: four 4-wide accumulators or row
 * chunks per iteration, scalar tails.
 */
#include "solve_kernels.h"

#if CRUNCH_X86
#include <immintrin.h>
#include <math.h>

CRUNCH_TARGET_AVX2 double crunch__solve_dot_avx2(size_t len, const double *x, const double *y)
{
    __m256d s0 = _mm256_setzero_pd(), s1 = s0, s2 = s0, s3 = s0;
    size_t j = 0;
    for (; j + 16 <= len; j += 16) { /* four chains hide the FMA latency */
        s0 = _mm256_fmadd_pd(_mm256_loadu_pd(x + j), _mm256_loadu_pd(y + j), s0);
        s1 = _mm256_fmadd_pd(_mm256_loadu_pd(x + j + 4), _mm256_loadu_pd(y + j + 4), s1);
        s2 = _mm256_fmadd_pd(_mm256_loadu_pd(x + j + 8), _mm256_loadu_pd(y + j + 8), s2);
        s3 = _mm256_fmadd_pd(_mm256_loadu_pd(x + j + 12), _mm256_loadu_pd(y + j + 12), s3);
    }
    for (; j + 4 <= len; j += 4)
        s0 = _mm256_fmadd_pd(_mm256_loadu_pd(x + j), _mm256_loadu_pd(y + j), s0);
    __m256d s = _mm256_add_pd(_mm256_add_pd(s0, s1), _mm256_add_pd(s2, s3));
    __m128d h = _mm_add_pd(_mm256_castpd256_pd128(s), _mm256_extractf128_pd(s, 1));
    double sum = _mm_cvtsd_f64(_mm_add_sd(h, _mm_unpackhi_pd(h, h)));
    for (; j < len; j++)
        sum += x[j] * y[j];
    return sum;
}

CRUNCH_TARGET_AVX2 void crunch__solve_axpy_avx2(size_t len, double alpha, const double *x,
                                                double *y)
{
    __m256d a = _mm256_set1_pd(alpha);
    size_t j = 0;
    for (; j + 8 <= len; j += 8) { /* y - a x, two vectors per iteration */
        _mm256_storeu_pd(y + j, _mm256_fnmadd_pd(a, _mm256_loadu_pd(x + j), _mm256_loadu_pd(y + j)));
        _mm256_storeu_pd(y + j + 4,
                         _mm256_fnmadd_pd(a, _mm256_loadu_pd(x + j + 4), _mm256_loadu_pd(y + j + 4)));
    }
    for (; j + 4 <= len; j += 4)
        _mm256_storeu_pd(y + j, _mm256_fnmadd_pd(a, _mm256_loadu_pd(x + j), _mm256_loadu_pd(y + j)));
    for (; j < len; j++)
        y[j] -= alpha * x[j];
}

CRUNCH_TARGET_AVX2 double crunch__solve_load_row_avx2(size_t len, const double *src, double *dst,
                                                      double *colsum)
{
    const __m256d absmask = _mm256_castsi256_pd(_mm256_set1_epi64x(0x7fffffffffffffffLL));
    __m256d mx = _mm256_setzero_pd();
    size_t j = 0;
    for (; j + 4 <= len; j += 4) {
        __m256d v = _mm256_loadu_pd(src + j), a = _mm256_and_pd(v, absmask);
        _mm256_storeu_pd(dst + j, v);
        _mm256_storeu_pd(colsum + j, _mm256_add_pd(_mm256_loadu_pd(colsum + j), a));
        mx = _mm256_max_pd(a, mx); /* returns mx when a is NaN: NaN is skipped */
    }
    __m128d h = _mm_max_pd(_mm256_castpd256_pd128(mx), _mm256_extractf128_pd(mx, 1));
    double m = _mm_cvtsd_f64(_mm_max_sd(h, _mm_unpackhi_pd(h, h)));
    for (; j < len; j++) {
        double a = fabs(src[j]);
        dst[j] = src[j];
        colsum[j] += a;
        m = a > m ? a : m;
    }
    return m;
}
#endif
