/*
 * avx2_reduce.h - horizontal reductions of AVX2 vectors to a scalar, for
 * the AVX2 kernels (AVX-512 has them as intrinsics). Internal: never
 * installed, never exported. Each adds, or compares, the upper half into
 * the lower half until one lane is left: the order in which a sum is
 * associated is part of its result, so it is fixed here once.
 */
#ifndef CRUNCH_AVX2_REDUCE_H
#define CRUNCH_AVX2_REDUCE_H

#include "internal.h"

#if CRUNCH_X86
#include <immintrin.h>

CRUNCH_TARGET_AVX2 static inline double crunch__hsum_f64(__m256d v)
{
    __m128d s = _mm_add_pd(_mm256_castpd256_pd128(v), _mm256_extractf128_pd(v, 1));
    return _mm_cvtsd_f64(_mm_add_sd(s, _mm_unpackhi_pd(s, s)));
}

CRUNCH_TARGET_AVX2 static inline double crunch__hmin_f64(__m256d v)
{
    __m128d s = _mm_min_pd(_mm256_castpd256_pd128(v), _mm256_extractf128_pd(v, 1));
    return _mm_cvtsd_f64(_mm_min_sd(s, _mm_unpackhi_pd(s, s)));
}

CRUNCH_TARGET_AVX2 static inline double crunch__hmax_f64(__m256d v)
{
    __m128d s = _mm_max_pd(_mm256_castpd256_pd128(v), _mm256_extractf128_pd(v, 1));
    return _mm_cvtsd_f64(_mm_max_sd(s, _mm_unpackhi_pd(s, s)));
}

CRUNCH_TARGET_AVX2 static inline float crunch__hmin_f32(__m256 v)
{
    __m128 s = _mm_min_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_min_ps(s, _mm_movehl_ps(s, s));
    return _mm_cvtss_f32(_mm_min_ss(s, _mm_movehdup_ps(s)));
}

CRUNCH_TARGET_AVX2 static inline float crunch__hmax_f32(__m256 v)
{
    __m128 s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_max_ps(s, _mm_movehl_ps(s, s));
    return _mm_cvtss_f32(_mm_max_ss(s, _mm_movehdup_ps(s)));
}
#endif

#endif /* CRUNCH_AVX2_REDUCE_H */
