/*
 * fft_scalar_template.h - fft_template.h's vector operations for the
 * portable path: a "vector" of one complex number (a struct of two
 * scalars) and plain C arithmetic, written once for both precisions.
 *
 * No include guard: fft_generic.c includes it once per precision, having
 * defined FT (double or float) and FN(name) (see fft_template.h), which
 * fft_template.h undefines at its end with the macros below.
 */

/* cx: one complex number; as a "real broadcast" both parts hold the same
 * value, so mul and fma are lane-wise like the SIMD versions. */
typedef struct FN(cx) {
    FT re, im;
} FN(cx);

static inline FN(cx) FN(load)(const FT *p) { return (FN(cx)){p[0], p[1]}; }
static inline void FN(store)(FT *p, FN(cx) v) { p[0] = v.re, p[1] = v.im; }
static inline FN(cx) FN(add)(FN(cx) a, FN(cx) b) { return (FN(cx)){a.re + b.re, a.im + b.im}; }
static inline FN(cx) FN(sub)(FN(cx) a, FN(cx) b) { return (FN(cx)){a.re - b.re, a.im - b.im}; }
static inline FN(cx) FN(mul)(FN(cx) a, FN(cx) r) { return (FN(cx)){a.re * r.re, a.im * r.im}; }
static inline FN(cx) FN(fma)(FN(cx) a, FN(cx) r, FN(cx) c)
{
    return (FN(cx)){a.re * r.re + c.re, a.im * r.im + c.im};
}
/* a * -i = (im, -re); a * +i = (-im, re) */
static inline FN(cx) FN(rot)(FN(cx) a, int inv)
{
    return inv ? (FN(cx)){-a.im, a.re} : (FN(cx)){a.im, -a.re};
}
/* a * w, or a * conj(w) for the inverse, w = (wr.re, wi.re) */
static inline FN(cx) FN(cmul)(FN(cx) a, FN(cx) wr, FN(cx) wi, int inv)
{
    if (inv)
        return (FN(cx)){a.re * wr.re + a.im * wi.re, a.im * wr.re - a.re * wi.re};
    return (FN(cx)){a.re * wr.re - a.im * wi.re, a.im * wr.re + a.re * wi.re};
}

#define VC FN(cx)
#define VW 1
#define TGT
#define V_LOAD(p) FN(load)(p)
#define V_STORE(p, v) FN(store)(p, v)
#define V_ADD(a, b) FN(add)(a, b)
#define V_SUB(a, b) FN(sub)(a, b)
#define V_SET1(x) ((FN(cx)){(x), (x)})
#define V_ZERO() ((FN(cx)){0, 0})
#define V_MUL(a, r) FN(mul)(a, r)
#define V_FMA(a, r, c) FN(fma)(a, r, c)
#define V_ROT(a, inv) FN(rot)(a, inv)
#define V_CMUL(a, wr, wi, inv) FN(cmul)(a, wr, wi, inv)
#define V_TWDUP(p, wr, wi) ((wr) = V_SET1((p)[0]), (wi) = V_SET1((p)[1]))
/* one lane: the R outputs of a butterfly are already contiguous */
#define V_TSTORE(y, b, R)                    \
    do {                                     \
        for (int k_ = 0; k_ < (R); k_++)     \
            FN(store)((y) + 2 * k_, (b)[k_]); \
    } while (0)
#include "fft_template.h"
