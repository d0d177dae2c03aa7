/*
 * fft_generic.c - the portable FFT pass kernels: fft_template.h with a
 * "vector" of one complex number (a struct of two scalars) and plain C
 * arithmetic. They take any slice of a pass, so they also finish the
 * slices a SIMD kernel leaves (fft_kernels.h), and they run the whole
 * transform on CPUs without AVX2. The plain formulas make this the path
 * to read first.
 */
#include "fft_kernels.h"

#include <string.h>

/* ---- f64 ---- */

/* cx_f64: one complex double; as a "real broadcast" both parts hold the
 * same value, so V_MUL and V_FMA are lane-wise like the SIMD versions. */
typedef struct cx_f64 {
    double re, im;
} cx_f64;

static inline cx_f64 g64_load(const double *p) { return (cx_f64){p[0], p[1]}; }
static inline void g64_store(double *p, cx_f64 v) { p[0] = v.re, p[1] = v.im; }
static inline cx_f64 g64_add(cx_f64 a, cx_f64 b) { return (cx_f64){a.re + b.re, a.im + b.im}; }
static inline cx_f64 g64_sub(cx_f64 a, cx_f64 b) { return (cx_f64){a.re - b.re, a.im - b.im}; }
static inline cx_f64 g64_mul(cx_f64 a, cx_f64 r) { return (cx_f64){a.re * r.re, a.im * r.im}; }
static inline cx_f64 g64_fma(cx_f64 a, cx_f64 r, cx_f64 c)
{
    return (cx_f64){a.re * r.re + c.re, a.im * r.im + c.im};
}
/* a * -i = (im, -re); a * +i = (-im, re) */
static inline cx_f64 g64_rot(cx_f64 a, int inv)
{
    return inv ? (cx_f64){-a.im, a.re} : (cx_f64){a.im, -a.re};
}
/* a * w, or a * conj(w) for the inverse, w = (wr.re, wi.re) */
static inline cx_f64 g64_cmul(cx_f64 a, cx_f64 wr, cx_f64 wi, int inv)
{
    if (inv)
        return (cx_f64){a.re * wr.re + a.im * wi.re, a.im * wr.re - a.re * wi.re};
    return (cx_f64){a.re * wr.re - a.im * wi.re, a.im * wr.re + a.re * wi.re};
}

#define FT double
#define VC cx_f64
#define VW 1
#define FN(name) name##_generic_f64
#define TGT
#define V_LOAD(p) g64_load(p)
#define V_STORE(p, v) g64_store(p, v)
#define V_ADD(a, b) g64_add(a, b)
#define V_SUB(a, b) g64_sub(a, b)
#define V_SET1(x) ((cx_f64){(x), (x)})
#define V_ZERO() ((cx_f64){0, 0})
#define V_MUL(a, r) g64_mul(a, r)
#define V_FMA(a, r, c) g64_fma(a, r, c)
#define V_ROT(a, inv) g64_rot(a, inv)
#define V_CMUL(a, wr, wi, inv) g64_cmul(a, wr, wi, inv)
#define V_TWDUP(p, wr, wi) ((wr) = V_SET1((p)[0]), (wi) = V_SET1((p)[1]))
/* one lane: the R outputs of a butterfly are already contiguous */
#define V_TSTORE(y, b, R)                  \
    do {                                   \
        for (int k_ = 0; k_ < (R); k_++)   \
            g64_store((y) + 2 * k_, (b)[k_]); \
    } while (0)
#include "fft_template.h"

/* ---- f32: the same with float ---- */

typedef struct cx_f32 {
    float re, im;
} cx_f32;

static inline cx_f32 g32_load(const float *p) { return (cx_f32){p[0], p[1]}; }
static inline void g32_store(float *p, cx_f32 v) { p[0] = v.re, p[1] = v.im; }
static inline cx_f32 g32_add(cx_f32 a, cx_f32 b) { return (cx_f32){a.re + b.re, a.im + b.im}; }
static inline cx_f32 g32_sub(cx_f32 a, cx_f32 b) { return (cx_f32){a.re - b.re, a.im - b.im}; }
static inline cx_f32 g32_mul(cx_f32 a, cx_f32 r) { return (cx_f32){a.re * r.re, a.im * r.im}; }
static inline cx_f32 g32_fma(cx_f32 a, cx_f32 r, cx_f32 c)
{
    return (cx_f32){a.re * r.re + c.re, a.im * r.im + c.im};
}
static inline cx_f32 g32_rot(cx_f32 a, int inv)
{
    return inv ? (cx_f32){-a.im, a.re} : (cx_f32){a.im, -a.re};
}
static inline cx_f32 g32_cmul(cx_f32 a, cx_f32 wr, cx_f32 wi, int inv)
{
    if (inv)
        return (cx_f32){a.re * wr.re + a.im * wi.re, a.im * wr.re - a.re * wi.re};
    return (cx_f32){a.re * wr.re - a.im * wi.re, a.im * wr.re + a.re * wi.re};
}

#define FT float
#define VC cx_f32
#define VW 1
#define FN(name) name##_generic_f32
#define TGT
#define V_LOAD(p) g32_load(p)
#define V_STORE(p, v) g32_store(p, v)
#define V_ADD(a, b) g32_add(a, b)
#define V_SUB(a, b) g32_sub(a, b)
#define V_SET1(x) ((cx_f32){(x), (x)})
#define V_ZERO() ((cx_f32){0, 0})
#define V_MUL(a, r) g32_mul(a, r)
#define V_FMA(a, r, c) g32_fma(a, r, c)
#define V_ROT(a, inv) g32_rot(a, inv)
#define V_CMUL(a, wr, wi, inv) g32_cmul(a, wr, wi, inv)
#define V_TWDUP(p, wr, wi) ((wr) = V_SET1((p)[0]), (wi) = V_SET1((p)[1]))
#define V_TSTORE(y, b, R)                  \
    do {                                   \
        for (int k_ = 0; k_ < (R); k_++)   \
            g32_store((y) + 2 * k_, (b)[k_]); \
    } while (0)
#include "fft_template.h"

const crunch__fft_kernels crunch__fft_kernels_generic = {
    1,
    1,
    CRUNCH__FFT_TABLE(_generic_f64),
    CRUNCH__FFT_TABLE(_generic_f32),
    twmul_generic_f64,
    twmul_generic_f32,
};
