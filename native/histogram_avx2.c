/*
 * histogram_avx2.c - the AVX2 histogram kernels:
 * histogram_template.h (their contracts and their loops) with ymm vectors of 4
 * doubles (64-bit bin lanes) or 8 floats (32-bit bin lanes). Masks are
 * vectors whose lanes are all ones or all zeros, so a mask added to the
 * bins subtracts 1 where it is set.
 */
#include "histogram_template.h"
#include "avx2_reduce.h"

#if CRUNCH_X86
#include <immintrin.h>

/*
 * edges_f64 and edges_f32 return a->edges[i] lane by lane, computed as
 * the driver computed them (histogram.c): i * step + start in double, the
 * product rounded on its own (the empty asm keeps the compiler from
 * fusing it into the add), rounded to T, and hi at i == bins. Faster than
 * gathering them from the table. f32 does the arithmetic on two halves of
 * 4 lanes.
 */
CRUNCH_TARGET_AVX2 static inline __m256d edges_f64(const crunch__hist_args_f64 *a, __m256i i)
{
    /* (double)i for 0 <= i < 2^52: i in the mantissa of 2^52, minus 2^52 */
    const __m256d big = _mm256_set1_pd(0x1p52);
    __m256i bits = _mm256_or_si256(i, _mm256_castpd_si256(big));
    __m256d d = _mm256_sub_pd(_mm256_castsi256_pd(bits), big);
    __m256d p = _mm256_mul_pd(d, _mm256_set1_pd(a->step));
    __asm__("" : "+x"(p));
    __m256d e = _mm256_add_pd(p, _mm256_set1_pd(a->start));
    __m256i top = _mm256_cmpeq_epi64(i, _mm256_set1_epi64x((long long)a->bins));
    return _mm256_blendv_pd(e, _mm256_set1_pd(a->hi), _mm256_castsi256_pd(top));
}

CRUNCH_TARGET_AVX2 static inline __m128 edges4_f32(const crunch__hist_args_f32 *a, __m128i i)
{
    __m256d p = _mm256_mul_pd(_mm256_cvtepi32_pd(i), _mm256_set1_pd(a->step));
    __asm__("" : "+x"(p));
    return _mm256_cvtpd_ps(_mm256_add_pd(p, _mm256_set1_pd(a->start)));
}

CRUNCH_TARGET_AVX2 static inline __m256 edges_f32(const crunch__hist_args_f32 *a, __m256i i)
{
    __m256 e = _mm256_set_m128(edges4_f32(a, _mm256_extracti128_si256(i, 1)),
                               edges4_f32(a, _mm256_castsi256_si128(i)));
    __m256i top = _mm256_cmpeq_epi32(i, _mm256_set1_epi32((int)a->bins));
    return _mm256_blendv_ps(e, _mm256_set1_ps(a->hi), _mm256_castsi256_ps(top));
}

#define T double
#define ARGS crunch__hist_args_f64
#define BIN crunch__hist_bin_f64
#define TGT CRUNCH_TARGET_AVX2
#define V __m256d
#define VM __m256d
#define VI __m256i
#define IT int64_t
#define W 4
#define FN(name) name##_f64
#define V_LOADU(p) _mm256_loadu_pd(p)
#define V_SET1(x) _mm256_set1_pd(x)
#define V_SUB(a, b) _mm256_sub_pd(a, b)
#define V_MUL(a, b) _mm256_mul_pd(a, b)
#define V_MIN(a, b) _mm256_min_pd(a, b)
#define V_MAX(a, b) _mm256_max_pd(a, b)
#define V_HMIN(v) crunch__hmin_f64(v)
#define V_HMAX(v) crunch__hmax_f64(v)
#define M_GE(a, b) _mm256_cmp_pd(a, b, _CMP_GE_OQ)
#define M_LE(a, b) _mm256_cmp_pd(a, b, _CMP_LE_OQ)
#define M_LT(a, b) _mm256_cmp_pd(a, b, _CMP_LT_OQ)
#define M_NAN(v) _mm256_cmp_pd(v, v, _CMP_UNORD_Q)
#define M_NONE() _mm256_setzero_pd()
#define M_AND(a, b) _mm256_and_pd(a, b)
#define M_OR(a, b) _mm256_or_pd(a, b)
#define M_ANY(m) (_mm256_movemask_pd(m) != 0)
#define I_SET1(n) _mm256_set1_epi64x(n)
#define I_LOADU(p) _mm256_loadu_si256((const __m256i *)(p))
#define I_STOREU(p, i) _mm256_storeu_si256((__m256i *)(p), i)
#define I_ADD(a, b) _mm256_add_epi64(a, b)
/* no 64-bit min before AVX-512: a compare and a blend */
#define I_MIN(a, b) _mm256_blendv_epi8(a, b, _mm256_cmpgt_epi64(a, b))
/* no double to 64-bit conversion before AVX-512: the bins fit 32 bits */
#define I_CVT(v) _mm256_cvtepi32_epi64(_mm256_cvttpd_epi32(v))
#define I_SEL(m, a, b) _mm256_blendv_epi8(b, a, _mm256_castpd_si256(m))
#define I_DEC(i, m) _mm256_add_epi64(i, _mm256_castpd_si256(m))
#define I_INC(i, m) _mm256_sub_epi64(i, _mm256_castpd_si256(m))
#define M_INE(a, b) \
    _mm256_castsi256_pd(_mm256_xor_si256(_mm256_cmpeq_epi64(a, b), _mm256_set1_epi64x(-1)))
#define I_EDGE(a, i) edges_f64(a, i)
#include "histogram_template.h"

#define T float
#define ARGS crunch__hist_args_f32
#define BIN crunch__hist_bin_f32
#define TGT CRUNCH_TARGET_AVX2
#define V __m256
#define VM __m256
#define VI __m256i
#define IT int32_t
#define W 8
#define FN(name) name##_f32
#define V_LOADU(p) _mm256_loadu_ps(p)
#define V_SET1(x) _mm256_set1_ps(x)
#define V_SUB(a, b) _mm256_sub_ps(a, b)
#define V_MUL(a, b) _mm256_mul_ps(a, b)
#define V_MIN(a, b) _mm256_min_ps(a, b)
#define V_MAX(a, b) _mm256_max_ps(a, b)
#define V_HMIN(v) crunch__hmin_f32(v)
#define V_HMAX(v) crunch__hmax_f32(v)
#define M_GE(a, b) _mm256_cmp_ps(a, b, _CMP_GE_OQ)
#define M_LE(a, b) _mm256_cmp_ps(a, b, _CMP_LE_OQ)
#define M_LT(a, b) _mm256_cmp_ps(a, b, _CMP_LT_OQ)
#define M_NAN(v) _mm256_cmp_ps(v, v, _CMP_UNORD_Q)
#define M_NONE() _mm256_setzero_ps()
#define M_AND(a, b) _mm256_and_ps(a, b)
#define M_OR(a, b) _mm256_or_ps(a, b)
#define M_ANY(m) (_mm256_movemask_ps(m) != 0)
#define I_SET1(n) _mm256_set1_epi32(n)
#define I_LOADU(p) _mm256_loadu_si256((const __m256i *)(p))
#define I_STOREU(p, i) _mm256_storeu_si256((__m256i *)(p), i)
#define I_ADD(a, b) _mm256_add_epi32(a, b)
#define I_MIN(a, b) _mm256_min_epi32(a, b)
#define I_CVT(v) _mm256_cvttps_epi32(v)
#define I_SEL(m, a, b) _mm256_blendv_epi8(b, a, _mm256_castps_si256(m))
#define I_DEC(i, m) _mm256_add_epi32(i, _mm256_castps_si256(m))
#define I_INC(i, m) _mm256_sub_epi32(i, _mm256_castps_si256(m))
#define M_INE(a, b) \
    _mm256_castsi256_ps(_mm256_xor_si256(_mm256_cmpeq_epi32(a, b), _mm256_set1_epi32(-1)))
#define I_EDGE(a, i) edges_f32(a, i)
#include "histogram_template.h"

const crunch__hist_kernels crunch__hist_kernels_avx2 = {count_f64, count_f32, range_f64,
                                                        range_f32};
#endif
