/*
 * conv2d_avx512.c - the AVX-512 conv2d row and pair kernels (contract in
 * conv2d_kernels.h): conv2d_template.h with zmm vectors, 8 doubles or 16
 * floats, and mask registers for the last, partial vector of a row.
 */
#include "conv2d_kernels.h"

#if CRUNCH_X86
#include <immintrin.h>

#define TGT CRUNCH_TARGET_AVX512
#define VM __mmask16 /* wide enough for both precisions' lane counts */
#define V_MASK(r) ((VM)((1u << (r)) - 1)) /* r < W <= 16: the shift stays in range */

#define T double
#define V __m512d
#define W 8
#define FN(name) conv2d_##name##_f64
#define V_ZERO() _mm512_setzero_pd()
#define V_SET1(x) _mm512_set1_pd(x)
#define V_LOADU(p) _mm512_loadu_pd(p)
#define V_STOREU(p, v) _mm512_storeu_pd(p, v)
#define V_FMA(a, b, c) _mm512_fmadd_pd(a, b, c)
#define V_LOADM(p, m) _mm512_maskz_loadu_pd((__mmask8)(m), p)
#define V_STOREM(p, v, m) _mm512_mask_storeu_pd(p, (__mmask8)(m), v)
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
#undef V_LOADM
#undef V_STOREM

#define T float
#define V __m512
#define W 16
#define FN(name) conv2d_##name##_f32
#define V_ZERO() _mm512_setzero_ps()
#define V_SET1(x) _mm512_set1_ps(x)
#define V_LOADU(p) _mm512_loadu_ps(p)
#define V_STOREU(p, v) _mm512_storeu_ps(p, v)
#define V_FMA(a, b, c) _mm512_fmadd_ps(a, b, c)
#define V_LOADM(p, m) _mm512_maskz_loadu_ps(m, p)
#define V_STOREM(p, v, m) _mm512_mask_storeu_ps(p, m, v)
#include "conv2d_template.h"

const crunch__conv2d_kernels crunch__conv2d_kernels_avx512 = {
    conv2d_row_f64,
    conv2d_pair_f64,
    conv2d_row_f32,
    conv2d_pair_f32,
};

#endif /* CRUNCH_X86 */
