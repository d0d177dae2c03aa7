/*
 * gemm_avx2.c - the AVX2+FMA gemm kernels: gemm_template.h (their
 * contracts, packed layouts and loops) with ymm vectors, in the classic
 * 6 x 2-vector shape:
 *   f64: 6 x 8 doubles;  f32: 6 x 16 floats.
 * Masks are vectors whose lanes are all ones or all zeros; maskload and
 * maskstore neither read nor write the lanes a mask leaves out.
 */
#include "gemm_template.h"

#if CRUNCH_X86
#include <immintrin.h>

/* ---- f64: 6 x 8 ---- */
#define TGT CRUNCH_TARGET_AVX2
#define NVR 2
#define SUP_FULL 1
/* alpha and beta wait in memory, not in two of the registers: else gcc
 * spills an accumulator, and its FMAs chain through the stack */
#define SUP_SCALARS volatile
#define T double
#define V __m256d
#define W 4
#define MR CRUNCH__GEMM_AVX2_F64_MR
#define UKR crunch__gemm_ukr_avx2_f64
#define SUP crunch__gemm_sup_avx2_f64
#define FN(name) name##_f64
#define OP(name) _mm256_##name##_pd
#define BCAST(x) _mm256_broadcast_sd(&(x))
#define MASK __m256i
#define FULL _mm256_set1_epi32(-1)
#define LAST_T int
#define LAST(rem) (rem)
/* lane j of the mask is set when j < rem */
#define SUP_LAST(masked, rem) \
    ((masked) ? _mm256_cmpgt_epi64(_mm256_set1_epi64x(rem), _mm256_setr_epi64x(0, 1, 2, 3)) : FULL)
#define MLOADV(p, m) _mm256_maskload_pd(p, m)
#define MSTORE(p, m, v) _mm256_maskstore_pd(p, m, v)
#include "gemm_template.h"

/* ---- f32: 6 x 16 ---- */
#define TGT CRUNCH_TARGET_AVX2
#define NVR 2
#define SUP_FULL 1
#define SUP_SCALARS volatile
#define T float
#define V __m256
#define W 8
#define MR CRUNCH__GEMM_AVX2_F32_MR
#define UKR crunch__gemm_ukr_avx2_f32
#define SUP crunch__gemm_sup_avx2_f32
#define FN(name) name##_f32
#define OP(name) _mm256_##name##_ps
#define BCAST(x) _mm256_broadcast_ss(&(x))
#define MASK __m256i
#define FULL _mm256_set1_epi32(-1)
#define LAST_T int
#define LAST(rem) (rem)
#define SUP_LAST(masked, rem)                                                                \
    ((masked) ? _mm256_cmpgt_epi32(_mm256_set1_epi32(rem), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, \
                                                                             6, 7))          \
              : FULL)
#define MLOADV(p, m) _mm256_maskload_ps(p, m)
#define MSTORE(p, m, v) _mm256_maskstore_ps(p, m, v)
#include "gemm_template.h"

#endif /* CRUNCH_X86 */
