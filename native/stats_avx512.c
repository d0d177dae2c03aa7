/*
 * stats_avx512.c - the AVX-512 stats block kernel:
 * stats_template.h (its contract and its loops) with zmm vectors of 8 doubles.
 */
#include "stats_template.h"

#if CRUNCH_X86
#include <immintrin.h>
#include <math.h>

#define SIMD_F64_AVX512 1
#include "simd_f64.h"
#define VI __m512i
#define V_BITS(v) _mm512_castpd_si512(v)
#define VI_ZERO() _mm512_setzero_si512()
#define VI_ONES() _mm512_set1_epi64(-1)
#define VI_OR(a, b) _mm512_or_si512(a, b)
#define VI_AND(a, b) _mm512_and_si512(a, b)
#define VI_HOR(v) ((uint64_t)_mm512_reduce_or_epi64(v))
#define VI_HAND(v) ((uint64_t)_mm512_reduce_and_epi64(v))
#define V_WIDEN(p) _mm512_cvtps_pd(_mm256_loadu_ps(p))
#include "stats_template.h"

const crunch__stats_kernels crunch__stats_kernels_avx512 = {stats_block, stats_widen};
#endif
