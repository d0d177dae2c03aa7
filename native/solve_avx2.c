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

#include "simd_f64.h"
/* clears the sign bits */
#define V_ABS(v) _mm256_and_pd(v, _mm256_castsi256_pd(_mm256_set1_epi64x(0x7fffffffffffffffLL)))
#include "solve_template.h"

/* About a millisecond of gemm work on this path (solve.c). */
const crunch__solve_kernels crunch__solve_kernels_avx2 = {
    solve_dot, solve_axpy, solve_load_row, (uint64_t)1 << 23};
#endif
