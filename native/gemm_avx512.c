/*
 * gemm_avx512.c - the AVX-512 gemm kernels: gemm_template.h (their
 * contracts, packed layouts and loops) with zmm vectors, 8-row tiles of
 * three vectors a row, and mask registers for the unpacked kernels' last
 * vector:
 *   f64: 8 x 24 doubles;  f32: 8 x 48 floats.
 */
#include "gemm_template.h"

#if CRUNCH_X86
#include <immintrin.h>

/* ---- f64: 8 x 24 ---- */
#define TGT CRUNCH_TARGET_AVX512
#define NVR 3
#define SUP_FULL 0
#define SUP_SCALARS
#define T double
#define V __m512d
#define W 8
#define MR CRUNCH__GEMM_AVX512_F64_MR
#define UKR crunch__gemm_ukr_avx512_f64
#define SUP crunch__gemm_sup_avx512_f64
#define FN(name) name##_f64
#define OP(name) _mm512_##name##_pd
#define BCAST(x) _mm512_set1_pd(x)
#define MASK __mmask8
#define FULL ((__mmask8)0xFF)
#define LAST_T __mmask8
/* rem is 1..W <= 16: the shift stays within 32 bits */
#define LAST(rem) ((__mmask8)((1u << (rem)) - 1))
#define SUP_LAST(masked, last) ((masked) ? (last) : FULL)
#define MLOADV(p, m) _mm512_maskz_loadu_pd(m, p)
#define MSTORE(p, m, v) _mm512_mask_storeu_pd(p, m, v)
#include "gemm_template.h"

/* ---- f32: 8 x 48 ---- */
#define TGT CRUNCH_TARGET_AVX512
#define NVR 3
#define SUP_FULL 0
#define SUP_SCALARS
#define T float
#define V __m512
#define W 16
#define MR CRUNCH__GEMM_AVX512_F32_MR
#define UKR crunch__gemm_ukr_avx512_f32
#define SUP crunch__gemm_sup_avx512_f32
#define FN(name) name##_f32
#define OP(name) _mm512_##name##_ps
#define BCAST(x) _mm512_set1_ps(x)
#define MASK __mmask16
#define FULL ((__mmask16)0xFFFF)
#define LAST_T __mmask16
#define LAST(rem) ((__mmask16)((1u << (rem)) - 1))
#define SUP_LAST(masked, last) ((masked) ? (last) : FULL)
#define MLOADV(p, m) _mm512_maskz_loadu_ps(m, p)
#define MSTORE(p, m, v) _mm512_mask_storeu_ps(p, m, v)
#include "gemm_template.h"

#endif /* CRUNCH_X86 */
