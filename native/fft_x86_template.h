/*
 * fft_x86_template.h - fft_template.h's vector operations for one x86
 * SIMD path (AVX2 or AVX-512) and precision, written once for both paths:
 * a vector holds VW complex numbers interleaved (re, im) as in memory.
 *
 * Complex products use the fmaddsub idiom: with wr, wi the twiddle's real
 * and imaginary parts duplicated into both lanes of each complex slot,
 *   a * w = fmaddsub(a, wr, swap(a) * wi)
 * gives (ar*wr - ai*wi, ai*wr + ar*wi) in one multiply and one FMA, and
 * fmsubadd gives a * conj(w) for the inverse. Multiplying by -i or +i is
 * a swap and a sign flip.
 *
 * The first pass of a transform (s == 1) runs its vectors along p, so its
 * R output vectors must be transposed before they are stored: each path
 * does the radices it can in registers (V_TSTORE_FAST), and the rest go
 * through a small buffer on the stack (tstore, below).
 *
 * No include guard: it is included once per path and precision. The
 * includer defines FT, VC, VW, FN and TGT (see fft_template.h) and:
 *   VI(op)          the intrinsic op at this width and precision, e.g.
 *                   VI(add) is _mm256_add_pd
 *   V_F32           1 for float, 0 for double
 *   V_TSTORE_FAST(y, b, R)  stores the R vectors b transposed (lane l of
 *                   b[k] at complex index l*R + k of y) and returns
 *                   nonzero, or returns 0 for an R it leaves to the buffer
 * and this file undefines them (fft_template.h those it shares) at its end.
 */
#include <immintrin.h>
#include <string.h>

/* Sign masks, element by element (re, im, re, im, ...): xor with one
 * negates the imaginary or the real part of every complex slot. For
 * floats they are the sign bits of the high or low half of each 64-bit
 * complex; the first 2*VW of them fill a vector of either width. */
static const FT FN(neg_im)[16] = {0.0, -0.0, 0.0, -0.0, 0.0, -0.0, 0.0, -0.0,
                                  0.0, -0.0, 0.0, -0.0, 0.0, -0.0, 0.0, -0.0};
static const FT FN(neg_re)[16] = {-0.0, 0.0, -0.0, 0.0, -0.0, 0.0, -0.0, 0.0,
                                  -0.0, 0.0, -0.0, 0.0, -0.0, 0.0, -0.0, 0.0};

/* swap exchanges re and im in every complex slot. A permute immediate has
 * one bit per element: a double at an even place takes the odd one of its
 * pair (bit set) and the reverse, so 0b0101... over 2*VW bits; 0xB1 per
 * four floats is the order 1, 0, 3, 2. */
#if V_F32
#define FX_SWAP_IMM 0xB1
#else
#define FX_SWAP_IMM (0x55 & ((1 << (2 * VW)) - 1))
#endif

TGT static inline VC FN(swap)(VC a)
{
    return VI(permute)(a, FX_SWAP_IMM);
}

/* rot is a * -i = (im, -re) (inv == 0) or a * +i = (-im, re). */
TGT static inline VC FN(rot)(VC a, int inv)
{
    return VI(xor)(FN(swap)(a), VI(loadu)(inv ? FN(neg_re) : FN(neg_im)));
}

/* cmul is a * (wr + i wi), or a * conj(...) when inv. */
TGT static inline VC FN(cmul)(VC a, VC wr, VC wi, int inv)
{
    VC t = VI(mul)(FN(swap)(a), wi);
    return inv ? VI(fmsubadd)(a, wr, t) : VI(fmaddsub)(a, wr, t);
}

/* tstore is the transposed store (V_TSTORE in fft_template.h); the
 * radices the path does not transpose in registers go through a buffer,
 * with one move per complex number. Inlined into every pass, as the
 * butterflies are: with R a constant the compiler turns the buffer's
 * moves into shuffles, and keeps only the branch R takes. */
TGT static inline __attribute__((always_inline)) void FN(tstore)(FT *y, const VC *b, int R)
{
    if (V_TSTORE_FAST(y, b, R))
        return;
    FT tmp[CRUNCH__FFT_MAX_ODD * 2 * VW];
    for (int k = 0; k < R; k++)
        VI(storeu)(tmp + 2 * VW * k, b[k]);
    for (int l = 0; l < VW; l++)
        for (int k = 0; k < R; k++)
            memcpy(y + 2 * (l * R + k), tmp + 2 * VW * k + 2 * l, 2 * sizeof(FT));
}

#define V_LOAD(p) VI(loadu)(p)
#define V_STORE(p, v) VI(storeu)(p, v)
#define V_ADD(a, b) VI(add)(a, b)
#define V_SUB(a, b) VI(sub)(a, b)
#define V_SET1(x) VI(set1)(x)
#define V_ZERO() VI(setzero)()
#define V_MUL(a, r) VI(mul)(a, r)
#define V_FMA(a, r, c) VI(fmadd)(a, r, c)
#define V_ROT(a, inv) FN(rot)(a, inv)
#define V_CMUL(a, wr, wi, inv) FN(cmul)(a, wr, wi, inv)
/* The twiddles' parts duplicated into both lanes of their slot: for
 * doubles movedup copies each even (re) element up and a permute with
 * every bit set copies each odd (im) element down; for floats moveldup
 * and movehdup do the same. */
#if V_F32
#define V_TWDUP(p, wr, wi)                 \
    do {                                   \
        const VC t_ = VI(loadu)(p);        \
        (wr) = VI(moveldup)(t_);           \
        (wi) = VI(movehdup)(t_);           \
    } while (0)
#else
#define V_TWDUP(p, wr, wi)                                \
    do {                                                  \
        const VC t_ = VI(loadu)(p);                       \
        (wr) = VI(movedup)(t_);                           \
        (wi) = VI(permute)(t_, (1 << (2 * VW)) - 1);      \
    } while (0)
#endif
#define V_TSTORE(y, b, R) FN(tstore)(y, b, R)
#include "fft_template.h"

#undef FX_SWAP_IMM
#undef VI
#undef V_F32
#undef V_TSTORE_FAST
