/*
 * solve_avx512.c - crunch_solve_f64's vector kernels (contract in
 * solve_kernels.h) with AVX-512: solve_template.h with zmm vectors of 8
 * doubles, tails under a mask instead of scalar loops.
 */
#include "solve_kernels.h"

#if CRUNCH_X86
#include <immintrin.h>
#include <math.h>

#define SIMD_F64_AVX512 1
#include "simd_f64.h"
#define V_ABS(v) _mm512_abs_pd(v)
#define VM __mmask8
#define V_TAIL(r) ((__mmask8)((1u << (r)) - 1)) /* r < 8: the shift stays in range */
#define V_LOADZ(m, p) _mm512_maskz_loadu_pd(m, p)
#define V_STOREM(p, m, v) _mm512_mask_storeu_pd(p, m, v)
#include "solve_template.h"

/* About a millisecond of gemm work on this path (solve.c). */
const crunch__solve_kernels crunch__solve_kernels_avx512 = {
    solve_dot, solve_axpy, solve_load_row, (uint64_t)1 << 24};
#endif
