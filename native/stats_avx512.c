/*
 * stats_avx512.c - the AVX-512 stats block kernel:
 * stats_template.h (its contract and its loops) with zmm vectors of 8 doubles.
 */
#include "stats_template.h"

#if CRUNCH_X86
#include <immintrin.h>
#include <math.h>

#define TGT CRUNCH_TARGET_AVX512
#define V __m512d
#define VI __m512i
#define W 8
#define V_ZERO() _mm512_setzero_pd()
#define V_SET1(x) _mm512_set1_pd(x)
#define V_LOADU(p) _mm512_loadu_pd(p)
#define V_STOREU(p, v) _mm512_storeu_pd(p, v)
#define V_ADD(a, b) _mm512_add_pd(a, b)
#define V_SUB(a, b) _mm512_sub_pd(a, b)
#define V_MIN(a, b) _mm512_min_pd(a, b)
#define V_MAX(a, b) _mm512_max_pd(a, b)
#define V_FMA(a, b, c) _mm512_fmadd_pd(a, b, c)
#define V_BITS(v) _mm512_castpd_si512(v)
#define VI_ZERO() _mm512_setzero_si512()
#define VI_ONES() _mm512_set1_epi64(-1)
#define VI_OR(a, b) _mm512_or_si512(a, b)
#define VI_AND(a, b) _mm512_and_si512(a, b)
#define V_HSUM(v) _mm512_reduce_add_pd(v)
#define V_HMIN(v) _mm512_reduce_min_pd(v)
#define V_HMAX(v) _mm512_reduce_max_pd(v)
#define VI_HOR(v) ((uint64_t)_mm512_reduce_or_epi64(v))
#define VI_HAND(v) ((uint64_t)_mm512_reduce_and_epi64(v))
#define V_WIDEN(p) _mm512_cvtps_pd(_mm256_loadu_ps(p))
#include "stats_template.h"

const crunch__stats_kernels crunch__stats_kernels_avx512 = {stats_block, stats_widen};
#endif
