/*
 * fft_generic.c - the portable FFT pass kernels: fft_template.h with a
 * "vector" of one complex number (a struct of two scalars) and plain C
 * arithmetic (fft_scalar_template.h), once per precision. They take any
 * slice of a pass, so they also finish the slices a SIMD kernel leaves
 * (fft_kernels.h), and they run the whole transform on CPUs without AVX2.
 * The plain formulas make this the path to read first.
 */
#include "fft_kernels.h"

#define FT double
#define FN(name) name##_generic_f64
#include "fft_scalar_template.h"

#define FT float
#define FN(name) name##_generic_f32
#include "fft_scalar_template.h"

const crunch__fft_kernels crunch__fft_kernels_generic = {
    1,
    1,
    CRUNCH__FFT_TABLE(_generic_f64),
    CRUNCH__FFT_TABLE(_generic_f32),
    twmul_generic_f64,
    twmul_generic_f32,
};
