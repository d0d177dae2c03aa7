/*
 * histogram_avx512.c - the AVX-512 histogram kernels:
 * histogram_template.h (their contracts and their loops) with zmm vectors of 8
 * doubles (64-bit bin lanes) or 16 floats (32-bit bin lanes), and mask
 * registers for the lanes that count and the corrections.
 */
#include "histogram_template.h"

#if CRUNCH_X86
#include <immintrin.h>

/*
 * edges_f64 and edges_f32 return a->edges[i] lane by lane, computed as
 * the driver computed them (histogram.c): i * step + start in double, the
 * product rounded on its own (the empty asm keeps the compiler from
 * fusing it into the add), rounded to T, and hi at i == bins. Faster than
 * gathering them from the table (measured 9 against 13 to 28 ms for 10^7
 * doubles). f32 does the arithmetic on two halves of 8 lanes.
 */
CRUNCH_TARGET_AVX512 static inline __m512d edges_f64(const crunch__hist_args_f64 *a, __m512i i)
{
    __m512d p = _mm512_mul_pd(_mm512_cvtepi64_pd(i), _mm512_set1_pd(a->step));
    __asm__("" : "+v"(p));
    __m512d e = _mm512_add_pd(p, _mm512_set1_pd(a->start));
    __mmask8 top = _mm512_cmpeq_epi64_mask(i, _mm512_set1_epi64((long long)a->bins));
    return _mm512_mask_blend_pd(top, e, _mm512_set1_pd(a->hi));
}

CRUNCH_TARGET_AVX512 static inline __m256 edges8_f32(const crunch__hist_args_f32 *a, __m256i i)
{
    __m512d p = _mm512_mul_pd(_mm512_cvtepi32_pd(i), _mm512_set1_pd(a->step));
    __asm__("" : "+v"(p));
    return _mm512_cvtpd_ps(_mm512_add_pd(p, _mm512_set1_pd(a->start)));
}

CRUNCH_TARGET_AVX512 static inline __m512 edges_f32(const crunch__hist_args_f32 *a, __m512i i)
{
    __m512 e = _mm512_insertf32x8(_mm512_castps256_ps512(edges8_f32(a, _mm512_castsi512_si256(i))),
                                  edges8_f32(a, _mm512_extracti64x4_epi64(i, 1)), 1);
    __mmask16 top = _mm512_cmpeq_epi32_mask(i, _mm512_set1_epi32((int)a->bins));
    return _mm512_mask_blend_ps(top, e, _mm512_set1_ps(a->hi));
}

#define T double
#define ARGS crunch__hist_args_f64
#define BIN crunch__hist_bin_f64
#define TGT CRUNCH_TARGET_AVX512
#define V __m512d
#define VM __mmask8
#define VI __m512i
#define IT int64_t
#define W 8
#define FN(name) name##_f64
#define V_LOADU(p) _mm512_loadu_pd(p)
#define V_SET1(x) _mm512_set1_pd(x)
#define V_SUB(a, b) _mm512_sub_pd(a, b)
#define V_MUL(a, b) _mm512_mul_pd(a, b)
#define V_MIN(a, b) _mm512_min_pd(a, b)
#define V_MAX(a, b) _mm512_max_pd(a, b)
#define V_HMIN(v) _mm512_reduce_min_pd(v)
#define V_HMAX(v) _mm512_reduce_max_pd(v)
#define M_GE(a, b) _mm512_cmp_pd_mask(a, b, _CMP_GE_OQ)
#define M_LE(a, b) _mm512_cmp_pd_mask(a, b, _CMP_LE_OQ)
#define M_LT(a, b) _mm512_cmp_pd_mask(a, b, _CMP_LT_OQ)
#define M_NAN(v) _mm512_cmp_pd_mask(v, v, _CMP_UNORD_Q)
#define M_NONE() ((__mmask8)0)
#define M_AND(a, b) ((__mmask8)((a) & (b)))
#define M_OR(a, b) ((__mmask8)((a) | (b)))
#define M_ANY(m) ((m) != 0)
#define I_SET1(n) _mm512_set1_epi64(n)
#define I_LOADU(p) _mm512_loadu_si512(p)
#define I_STOREU(p, i) _mm512_storeu_si512(p, i)
#define I_ADD(a, b) _mm512_add_epi64(a, b)
#define I_MIN(a, b) _mm512_min_epi64(a, b)
#define I_CVT(v) _mm512_cvttpd_epi64(v)
#define I_SEL(m, a, b) _mm512_mask_blend_epi64(m, b, a) /* the second where m is set */
#define I_DEC(i, m) _mm512_mask_sub_epi64(i, m, i, _mm512_set1_epi64(1))
#define I_INC(i, m) _mm512_mask_add_epi64(i, m, i, _mm512_set1_epi64(1))
#define M_INE(a, b) _mm512_cmpneq_epi64_mask(a, b)
#define I_EDGE(a, i) edges_f64(a, i)
#include "histogram_template.h"

#define T float
#define ARGS crunch__hist_args_f32
#define BIN crunch__hist_bin_f32
#define TGT CRUNCH_TARGET_AVX512
#define V __m512
#define VM __mmask16
#define VI __m512i
#define IT int32_t
#define W 16
#define FN(name) name##_f32
#define V_LOADU(p) _mm512_loadu_ps(p)
#define V_SET1(x) _mm512_set1_ps(x)
#define V_SUB(a, b) _mm512_sub_ps(a, b)
#define V_MUL(a, b) _mm512_mul_ps(a, b)
#define V_MIN(a, b) _mm512_min_ps(a, b)
#define V_MAX(a, b) _mm512_max_ps(a, b)
#define V_HMIN(v) _mm512_reduce_min_ps(v)
#define V_HMAX(v) _mm512_reduce_max_ps(v)
#define M_GE(a, b) _mm512_cmp_ps_mask(a, b, _CMP_GE_OQ)
#define M_LE(a, b) _mm512_cmp_ps_mask(a, b, _CMP_LE_OQ)
#define M_LT(a, b) _mm512_cmp_ps_mask(a, b, _CMP_LT_OQ)
#define M_NAN(v) _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q)
#define M_NONE() ((__mmask16)0)
#define M_AND(a, b) ((__mmask16)((a) & (b)))
#define M_OR(a, b) ((__mmask16)((a) | (b)))
#define M_ANY(m) ((m) != 0)
#define I_SET1(n) _mm512_set1_epi32(n)
#define I_LOADU(p) _mm512_loadu_si512(p)
#define I_STOREU(p, i) _mm512_storeu_si512(p, i)
#define I_ADD(a, b) _mm512_add_epi32(a, b)
#define I_MIN(a, b) _mm512_min_epi32(a, b)
#define I_CVT(v) _mm512_cvttps_epi32(v)
#define I_SEL(m, a, b) _mm512_mask_blend_epi32(m, b, a) /* the second where m is set */
#define I_DEC(i, m) _mm512_mask_sub_epi32(i, m, i, _mm512_set1_epi32(1))
#define I_INC(i, m) _mm512_mask_add_epi32(i, m, i, _mm512_set1_epi32(1))
#define M_INE(a, b) _mm512_cmpneq_epi32_mask(a, b)
#define I_EDGE(a, i) edges_f32(a, i)
#include "histogram_template.h"

const crunch__hist_kernels crunch__hist_kernels_avx512 = {count_f64, count_f32, range_f64,
                                                          range_f32};
#endif
