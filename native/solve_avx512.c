/*
 * solve_avx512.c - crunch_solve_f64's vector kernels (contract in
 * solve_kernels.h) with AVX-512: solve_template.h with zmm vectors of 8
 * doubles, tails under a mask instead of scalar loops.
 */
#include "solve_kernels.h"

#if CRUNCH_X86
#include <immintrin.h>
#include <math.h>

#define TGT CRUNCH_TARGET_AVX512
#define V __m512d
#define W 8
#define V_ZERO() _mm512_setzero_pd()
#define V_SET1(x) _mm512_set1_pd(x)
#define V_LOADU(p) _mm512_loadu_pd(p)
#define V_STOREU(p, v) _mm512_storeu_pd(p, v)
#define V_ADD(a, b) _mm512_add_pd(a, b)
#define V_MAX(a, b) _mm512_max_pd(a, b)
#define V_ABS(v) _mm512_abs_pd(v)
#define V_FMA(a, b, c) _mm512_fmadd_pd(a, b, c)
#define V_FNMA(a, b, c) _mm512_fnmadd_pd(a, b, c)
#define V_HSUM(v) _mm512_reduce_add_pd(v)
#define V_HMAX(v) _mm512_reduce_max_pd(v)
#define VM __mmask8
#define V_TAIL(r) ((__mmask8)((1u << (r)) - 1)) /* r < 8: the shift stays in range */
#define V_LOADZ(m, p) _mm512_maskz_loadu_pd(m, p)
#define V_STOREM(p, m, v) _mm512_mask_storeu_pd(p, m, v)
#include "solve_template.h"

/* About a millisecond of gemm work on this path (solve.c). */
const crunch__solve_kernels crunch__solve_kernels_avx512 = {
    solve_dot, solve_axpy, solve_load_row, (uint64_t)1 << 24};
#endif
