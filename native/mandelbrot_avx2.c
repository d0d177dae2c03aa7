/*
 * mandelbrot_avx2.c - the AVX2 row kernel:
 * mandelbrot_template.h (its contract and its loops) with 4 pixels per ymm
 * vector; the lanes still iterating are a vector mask (all bits set).
 */
#include "mandelbrot_template.h"

#if CRUNCH_X86
#include <immintrin.h>

/* store_counts stores the low 32 bits of each 64-bit counter of c. */
CRUNCH_TARGET_AVX2 static inline void store_counts(uint32_t *p, __m256i c)
{
    const __m256i low = _mm256_set_epi32(7, 5, 3, 1, 6, 4, 2, 0); /* the even 32-bit halves first */
    _mm_storeu_si128((__m128i *)p, _mm256_castsi256_si128(_mm256_permutevar8x32_epi32(c, low)));
}

#define TGT CRUNCH_TARGET_AVX2
#define V __m256d
#define VI __m256i
#define VM __m256d
#define W 4
/* With U = 4 the orbits and masks fill AVX2's 16 registers and the
 * compiler keeps the columns' c and some counters on the stack: loads and
 * stores beside the critical multiply-add chain, measured faster than
 * U = 3 all the same. */
#define U 4
#define ROUND(v) CRUNCH__MB_ROUND(v)
#define V_SET1(x) _mm256_set1_pd(x)
#define V_ADD(a, b) _mm256_add_pd(a, b)
#define V_SUB(a, b) _mm256_sub_pd(a, b)
#define V_MUL(a, b) _mm256_mul_pd(a, b)
#define V_DIV(a, b) _mm256_div_pd(a, b)
#define V_LANES() _mm256_set_pd(3, 2, 1, 0)
#define VI_ONE() _mm256_set1_epi64x(1)
/* a lane of the mask is -1: subtracting it adds 1 */
#define VI_INC(c, m) _mm256_sub_epi64(c, _mm256_castpd_si256(m))
#define M_ALL() _mm256_castsi256_pd(_mm256_set1_epi64x(-1))
#define M_NONE() _mm256_setzero_pd()
#define M_INSIDE(m, s, four) _mm256_and_pd(m, _mm256_cmp_pd(s, four, _CMP_NGT_UQ))
#define M_OR(a, b) _mm256_or_pd(a, b)
#define M_EMPTY(m) _mm256_testz_pd(m, m) /* no sign bit set */
#define STORE_COUNTS(p, c) store_counts(p, c)
#include "mandelbrot_template.h"

const crunch__mb_kernels crunch__mb_kernels_avx2 = {mb_row};
#endif
