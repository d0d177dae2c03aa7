/*
 * mandelbrot_avx512.c - the AVX-512 row kernel:
 * mandelbrot_template.h (its contract and its loops) with 8 pixels per zmm
 * vector, and mask registers for the lanes still iterating: the escape
 * test compares only those lanes and the counters add one under the mask.
 */
#include "mandelbrot_template.h"

#if CRUNCH_X86
#include <immintrin.h>

#define TGT CRUNCH_TARGET_AVX512
#define V __m512d
#define VI __m512i
#define VM __mmask8
#define W 8
#define U 4
#define ROUND(v) CRUNCH__MB_ROUND512(v)
#define V_SET1(x) _mm512_set1_pd(x)
#define V_ADD(a, b) _mm512_add_pd(a, b)
#define V_SUB(a, b) _mm512_sub_pd(a, b)
#define V_MUL(a, b) _mm512_mul_pd(a, b)
#define V_DIV(a, b) _mm512_div_pd(a, b)
#define V_LANES() _mm512_set_pd(7, 6, 5, 4, 3, 2, 1, 0)
#define VI_ONE() _mm512_set1_epi64(1)
#define VI_INC(c, m) _mm512_mask_add_epi64(c, m, c, _mm512_set1_epi64(1))
#define M_ALL() ((__mmask8)0xff)
#define M_NONE() ((__mmask8)0)
#define M_INSIDE(m, s, four) _mm512_mask_cmp_pd_mask(m, s, four, _CMP_NGT_UQ)
#define M_OR(a, b) ((__mmask8)((a) | (b)))
#define M_EMPTY(m) ((m) == 0)
#define STORE_COUNTS(p, c) _mm256_storeu_si256((__m256i *)(p), _mm512_cvtepi64_epi32(c))
#include "mandelbrot_template.h"

const crunch__mb_kernels crunch__mb_kernels_avx512 = {mb_row};
#endif
