/*
 * solve_avx2.c - crunch_solve_f64's vector kernels (contract in
 * solve_kernels.h) with AVX2 + FMA: solve_template.h with ymm vectors of
 * 4 doubles, scalar tails.
 */
#include "solve_kernels.h"
#include "avx2_reduce.h"

#if CRUNCH_X86
#include <immintrin.h>
#include <math.h>

#define TGT CRUNCH_TARGET_AVX2
#define V __m256d
#define W 4
#define V_ZERO() _mm256_setzero_pd()
#define V_SET1(x) _mm256_set1_pd(x)
#define V_LOADU(p) _mm256_loadu_pd(p)
#define V_STOREU(p, v) _mm256_storeu_pd(p, v)
#define V_ADD(a, b) _mm256_add_pd(a, b)
#define V_MAX(a, b) _mm256_max_pd(a, b)
/* clears the sign bits */
#define V_ABS(v) _mm256_and_pd(v, _mm256_castsi256_pd(_mm256_set1_epi64x(0x7fffffffffffffffLL)))
#define V_FMA(a, b, c) _mm256_fmadd_pd(a, b, c)
#define V_FNMA(a, b, c) _mm256_fnmadd_pd(a, b, c)
#define V_HSUM(v) crunch__hsum_f64(v)
#define V_HMAX(v) crunch__hmax_f64(v)
#include "solve_template.h"

/* About a millisecond of gemm work on this path (solve.c). */
const crunch__solve_kernels crunch__solve_kernels_avx2 = {
    solve_dot, solve_axpy, solve_load_row, (uint64_t)1 << 23};
#endif
