/*
 * simd_f64.h - the double-precision vector operations of one x86 SIMD
 * path, in the form the solve and stats templates take them, written once
 * per path rather than once per kernel file: TGT, V (the vector), W (its
 * doubles), V_ZERO(), V_SET1(x), V_LOADU(p), V_STOREU(p, v), V_ADD,
 * V_SUB, V_MIN, V_MAX (a, b), V_FMA(a, b, c) = a*b + c,
 * V_FNMA(a, b, c) = c - a*b, and the reductions to a scalar V_HSUM,
 * V_HMIN, V_HMAX (v). Internal: never installed.
 *
 * No include guard: included before each template inclusion, with
 * SIMD_F64_AVX512 defined to 1 for zmm vectors (else ymm, whose
 * reductions are avx2_reduce.h's, which the includer includes); the
 * template undefines them all at its end (simd_f64_undef.h).
 */
#if SIMD_F64_AVX512
#define TGT CRUNCH_TARGET_AVX512
#define V __m512d
#define W 8
#define SIMD_F64_OP(name) _mm512_##name##_pd
#define V_HSUM(v) _mm512_reduce_add_pd(v)
#define V_HMIN(v) _mm512_reduce_min_pd(v)
#define V_HMAX(v) _mm512_reduce_max_pd(v)
#else
#define TGT CRUNCH_TARGET_AVX2
#define V __m256d
#define W 4
#define SIMD_F64_OP(name) _mm256_##name##_pd
#define V_HSUM(v) crunch__hsum_f64(v)
#define V_HMIN(v) crunch__hmin_f64(v)
#define V_HMAX(v) crunch__hmax_f64(v)
#endif
#define V_ZERO() SIMD_F64_OP(setzero)()
#define V_SET1(x) SIMD_F64_OP(set1)(x)
#define V_LOADU(p) SIMD_F64_OP(loadu)(p)
#define V_STOREU(p, v) SIMD_F64_OP(storeu)(p, v)
#define V_ADD(a, b) SIMD_F64_OP(add)(a, b)
#define V_SUB(a, b) SIMD_F64_OP(sub)(a, b)
#define V_MIN(a, b) SIMD_F64_OP(min)(a, b)
#define V_MAX(a, b) SIMD_F64_OP(max)(a, b)
#define V_FMA(a, b, c) SIMD_F64_OP(fmadd)(a, b, c)
#define V_FNMA(a, b, c) SIMD_F64_OP(fnmadd)(a, b, c)
