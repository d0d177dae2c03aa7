/*
 * simd_f64_undef.h - undefines what simd_f64.h defines, at the end of a
 * template that takes it, so that the next inclusion may define it again.
 */
#undef SIMD_F64_AVX512
#undef SIMD_F64_OP
#undef TGT
#undef V
#undef W
#undef V_ZERO
#undef V_SET1
#undef V_LOADU
#undef V_STOREU
#undef V_ADD
#undef V_SUB
#undef V_MIN
#undef V_MAX
#undef V_FMA
#undef V_FNMA
#undef V_HSUM
#undef V_HMIN
#undef V_HMAX
