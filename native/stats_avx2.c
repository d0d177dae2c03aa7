/*
 * stats_avx2.c - the AVX2 stats block kernel:
 * stats_template.h (its contract and its loops) with ymm vectors of 4 doubles.
 */
#include "stats_template.h"
#include "avx2_reduce.h"

#if CRUNCH_X86
#include <immintrin.h>
#include <math.h>

/* hor, hand reduce the four 64-bit lanes of v by OR, AND. */
CRUNCH_TARGET_AVX2 static inline uint64_t hor(__m256i v)
{
    uint64_t lanes[4];
    _mm256_storeu_si256((__m256i *)lanes, v);
    return lanes[0] | lanes[1] | lanes[2] | lanes[3];
}

CRUNCH_TARGET_AVX2 static inline uint64_t hand(__m256i v)
{
    uint64_t lanes[4];
    _mm256_storeu_si256((__m256i *)lanes, v);
    return lanes[0] & lanes[1] & lanes[2] & lanes[3];
}

#include "simd_f64.h"
#define VI __m256i
#define V_BITS(v) _mm256_castpd_si256(v)
#define VI_ZERO() _mm256_setzero_si256()
#define VI_ONES() _mm256_set1_epi64x(-1)
#define VI_OR(a, b) _mm256_or_si256(a, b)
#define VI_AND(a, b) _mm256_and_si256(a, b)
#define VI_HOR(v) hor(v)
#define VI_HAND(v) hand(v)
#define V_WIDEN(p) _mm256_cvtps_pd(_mm_loadu_ps(p))
#include "stats_template.h"

const crunch__stats_kernels crunch__stats_kernels_avx2 = {stats_block, stats_widen};
#endif
