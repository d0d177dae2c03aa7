/*
 * conv2d_avx2.c - the AVX2 conv2d row and pair kernels (contract in
 * conv2d_kernels.h): conv2d_template.h with ymm vectors, 4 doubles or 8
 * floats, and vmaskmov for the last, partial vector of a row.
 */
#include "conv2d_kernels.h"

#if CRUNCH_X86
#include <immintrin.h>

#define TGT CRUNCH_TARGET_AVX2
#define VM __m256i /* a lane is selected when its sign bit is set */

#define T double
#define V __m256d
#define W 4
#define FN(name) conv2d_##name##_f64
#define V_ZERO() _mm256_setzero_pd()
#define V_SET1(x) _mm256_set1_pd(x)
#define V_LOADU(p) _mm256_loadu_pd(p)
#define V_STOREU(p, v) _mm256_storeu_pd(p, v)
#define V_FMA(a, b, c) _mm256_fmadd_pd(a, b, c)
/* lane i is all ones when i < r */
#define V_MASK(r) _mm256_cmpgt_epi64(_mm256_set1_epi64x((long long)(r)), _mm256_setr_epi64x(0, 1, 2, 3))
#define V_LOADM(p, m) _mm256_maskload_pd(p, m)
#define V_STOREM(p, v, m) _mm256_maskstore_pd(p, m, v)
#include "conv2d_template.h"
#undef T
#undef V
#undef W
#undef FN
#undef V_ZERO
#undef V_SET1
#undef V_LOADU
#undef V_STOREU
#undef V_FMA
#undef V_MASK
#undef V_LOADM
#undef V_STOREM

#define T float
#define V __m256
#define W 8
#define FN(name) conv2d_##name##_f32
#define V_ZERO() _mm256_setzero_ps()
#define V_SET1(x) _mm256_set1_ps(x)
#define V_LOADU(p) _mm256_loadu_ps(p)
#define V_STOREU(p, v) _mm256_storeu_ps(p, v)
#define V_FMA(a, b, c) _mm256_fmadd_ps(a, b, c)
#define V_MASK(r) _mm256_cmpgt_epi32(_mm256_set1_epi32((int)(r)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7))
#define V_LOADM(p, m) _mm256_maskload_ps(p, m)
#define V_STOREM(p, v, m) _mm256_maskstore_ps(p, m, v)
#include "conv2d_template.h"

const crunch__conv2d_kernels crunch__conv2d_kernels_avx2 = {
    conv2d_row_f64,
    conv2d_pair_f64,
    conv2d_row_f32,
    conv2d_pair_f32,
};

#endif /* CRUNCH_X86 */
