/*
 * fft_template.h - the Stockham pass kernels (contract in fft_kernels.h),
 * written once over an abstract "vector of W complex numbers" and stamped
 * out per SIMD path and precision, BLIS-style: fft_scalar_template.h
 * includes it with W = 1 (a plain struct of two scalars) for
 * fft_generic.c, fft_x86_template.h with ymm/zmm vectors holding W
 * interleaved complex numbers for fft_avx2.c and fft_avx512.c.
 *
 * No include guard: it is included once per instantiation. The includer
 * defines, before each inclusion:
 *   FT              the scalar type (double or float)
 *   VC              the vector type, VW complex numbers interleaved (re, im)
 *   VW              complex numbers per vector
 *   FN(name)        the name of an instantiated function (adds a suffix)
 *   TGT             the target attribute of every function (may be empty)
 *   V_LOAD(p), V_STORE(p, v)      VW complex numbers at p (unaligned)
 *   V_ADD(a, b), V_SUB(a, b)
 *   V_SET1(x)       every lane x (a "real broadcast")
 *   V_ZERO()
 *   V_MUL(a, r)     a times the real broadcast r
 *   V_FMA(a, r, c)  a * r + c, r a real broadcast
 *   V_ROT(a, inv)   a * (-i) when inv == 0, a * (+i) when inv == 1
 *   V_CMUL(a, wr, wi, inv)  a * (wr + i*wi), or a * conj(...) when inv,
 *                   with wr, wi holding each twiddle's re, im in both
 *                   lanes of its complex slot
 *   V_TWDUP(p, wr, wi)      loads VW twiddles at p into that form
 *   V_TSTORE(y, b, R)       the transposed store of the s == 1 pass: lane
 *                   l of b[k] goes to y[l*R + k] (complex indices)
 * and this file undefines them, and its own macros, at its end.
 */

/* Every helper is inlined into its pass, so that the radix, the direction
 * and the vector arrays become constants and registers. */
#define FFT_INLINE static inline __attribute__((always_inline))

/* bf2: the radix-2 butterfly in place. */
FFT_INLINE TGT void FN(bf2)(VC *a)
{
    VC t = a[0];
    a[0] = V_ADD(t, a[1]);
    a[1] = V_SUB(t, a[1]);
}

/* bf4: the radix-4 butterfly in place; -i (forward) or +i (inverse) is
 * the fourth root of unity, applied as a swap and a sign flip. */
FFT_INLINE TGT void FN(bf4)(VC *a, int inv)
{
    VC t0 = V_ADD(a[0], a[2]), t1 = V_SUB(a[0], a[2]);
    VC t2 = V_ADD(a[1], a[3]), t3 = V_ROT(V_SUB(a[1], a[3]), inv);
    a[0] = V_ADD(t0, t2);
    a[2] = V_SUB(t0, t2);
    a[1] = V_ADD(t1, t3);
    a[3] = V_SUB(t1, t3);
}

/* bf8: the radix-8 butterfly in place, as two radix-4 butterflies on the
 * even and odd inputs joined by the eighth roots w8^k: w8 = (1 -+ i)/sqrt2
 * is (o + rot(o)) / sqrt2, w8^2 = rot, w8^3 = (rot(o) - o) / sqrt2. */
FFT_INLINE TGT void FN(bf8)(VC *a, int inv, VC h)
{
    /* Written out: at -O2 gcc neither unrolls a loop here nor then keeps
     * the arrays in registers. */
    VC e[4] = {a[0], a[2], a[4], a[6]}, o[4] = {a[1], a[3], a[5], a[7]};
    FN(bf4)(e, inv);
    FN(bf4)(o, inv);
    o[1] = V_MUL(V_ADD(o[1], V_ROT(o[1], inv)), h);
    o[2] = V_ROT(o[2], inv);
    o[3] = V_MUL(V_SUB(V_ROT(o[3], inv), o[3]), h);
    a[0] = V_ADD(e[0], o[0]);
    a[4] = V_SUB(e[0], o[0]);
    a[1] = V_ADD(e[1], o[1]);
    a[5] = V_SUB(e[1], o[1]);
    a[2] = V_ADD(e[2], o[2]);
    a[6] = V_SUB(e[2], o[2]);
    a[3] = V_ADD(e[3], o[3]);
    a[7] = V_SUB(e[3], o[3]);
}

/*
 * BFODD(NAME, RA) defines NAME: the DFT of odd size R <= RA in place,
 * directly, using the symmetry of the roots: with t_j = a_j + a_{R-j} and
 * d_j = a_j - a_{R-j} (1 <= j <= h = (R-1)/2),
 *   b_0     = a_0 + sum_j t_j
 *   b_k     = m_k -+ i n_k,  b_{R-k} = m_k +- i n_k  (1 <= k <= h)
 *   m_k     = a_0 + sum_j cos(2 pi jk/R) t_j,  n_k = sum_j sin(2 pi jk/R) d_j
 * (upper signs forward). cr[t], ci[t] broadcast cos, sin(2 pi t/R).
 * About R/2 complex-by-real multiply-adds per element.
 */
#define BFODD(NAME, RA)                                                                            \
    FFT_INLINE TGT void FN(NAME)(VC *a, int R, const VC *cr, const VC *ci, int inv)                \
    {                                                                                              \
        VC t[RA / 2 + 1], d[RA / 2 + 1], out[RA];                                                  \
        const int h = (R - 1) / 2;                                                                 \
        VC b0 = a[0];                                                                              \
        _Pragma("GCC unroll 4") for (int j = 1; j <= h; j++)                                       \
        {                                                                                          \
            t[j] = V_ADD(a[j], a[R - j]);                                                          \
            d[j] = V_SUB(a[j], a[R - j]);                                                          \
            b0 = V_ADD(b0, t[j]);                                                                  \
        }                                                                                          \
        _Pragma("GCC unroll 4") for (int k = 1; k <= h; k++)                                       \
        {                                                                                          \
            VC mk = a[0], nk = V_ZERO();                                                           \
            int idx = 0; /* j*k mod R, kept small without a division */                            \
            _Pragma("GCC unroll 4") for (int j = 1; j <= h; j++)                                   \
            {                                                                                      \
                idx += k;                                                                          \
                if (idx >= R)                                                                      \
                    idx -= R;                                                                      \
                mk = V_FMA(t[j], cr[idx], mk);                                                     \
                nk = V_FMA(d[j], ci[idx], nk);                                                     \
            }                                                                                      \
            VC r = V_ROT(nk, inv); /* -i*n_k forward, +i*n_k inverse */                            \
            out[k] = V_ADD(mk, r);                                                                 \
            out[R - k] = V_SUB(mk, r);                                                             \
        }                                                                                          \
        a[0] = b0;                                                                                 \
        _Pragma("GCC unroll 8") for (int k = 1; k < R; k++) a[k] = out[k];                         \
    }

BFODD(bfodd3, 3)
BFODD(bfodd5, 5)
BFODD(bfodd7, 7)
BFODD(bfoddmax, CRUNCH__FFT_MAX_ODD)

/*
 * BODY(K, RA, ODD, BF) defines body_K, one pass (fft_kernels.h) of radix
 * R <= RA whose butterfly is the statement BF on the array a. ODD says
 * that BF needs the root broadcasts cr, ci. Both loop forms are here:
 *   s == 1: vectors run along p; each of the R outputs of W butterflies
 *           is one vector, stored transposed (V_TSTORE);
 *   s > 1:  vectors run along q: loads and stores are contiguous and the
 *           twiddles of one p are broadcasts hoisted out of the q loop.
 */
#define BODY(K, RA, ODD, BF)                                                                       \
    FFT_INLINE TGT void FN(body_##K)(int R, int inv, const crunch__fft_block *b,                   \
                                     const FT *restrict x, FT *restrict y,                         \
                                     const FT *restrict tw, const FT *restrict roots)              \
    {                                                                                              \
        const size_t s = b->s, m = b->m;                                                           \
        VC cr[(ODD) ? (RA) : 1], ci[(ODD) ? (RA) : 1];                                             \
        const VC h = V_SET1((FT)0.70710678118654752440084436210484904L); /* 1/sqrt2 */             \
        (void)h, (void)cr, (void)ci; /* each is used by some butterflies only */                   \
        if (R < 2 || R > (RA))                                                                     \
            return; /* never: the driver's radices; tells the compiler a[0] is set */              \
        if (ODD)                                                                                   \
            for (int t = 0; t < R; t++) {                                                          \
                cr[t] = V_SET1(roots[2 * t]);                                                      \
                ci[t] = V_SET1(roots[2 * t + 1]);                                                  \
            }                                                                                      \
        if (s == 1) {                                                                              \
            for (size_t p = b->p0; p < b->p1; p += VW) {                                           \
                VC a[RA];                                                                          \
                _Pragma("GCC unroll 8") for (int j = 0; j < R; j++) a[j] =                         \
                    V_LOAD(x + 2 * (p + (size_t)j * m));                                           \
                BF;                                                                                \
                _Pragma("GCC unroll 8") for (int k = 1; k < R; k++)                                \
                {                                                                                  \
                    VC wr, wi;                                                                     \
                    V_TWDUP(tw + 2 * ((size_t)(k - 1) * m + p), wr, wi);                           \
                    a[k] = V_CMUL(a[k], wr, wi, inv);                                              \
                }                                                                                  \
                V_TSTORE(y + 2 * (size_t)R * p, a, R);                                             \
            }                                                                                      \
        } else {                                                                                   \
            const size_t sm = s * m; /* distance between a butterfly's inputs */                   \
            for (size_t p = b->p0; p < b->p1; p++) {                                               \
                VC wr[RA], wi[RA];                                                                 \
                const FT *w = tw + 2 * p * (size_t)(R - 1);                                        \
                _Pragma("GCC unroll 8") for (int k = 1; k < R; k++)                                \
                {                                                                                  \
                    wr[k] = V_SET1(w[2 * (k - 1)]);                                                \
                    wi[k] = V_SET1(w[2 * (k - 1) + 1]);                                            \
                }                                                                                  \
                const FT *xp = x + 2 * s * p;                                                      \
                FT *yp = y + 2 * s * (size_t)R * p;                                                \
                for (size_t q = b->q0; q < b->q1; q += VW) {                                       \
                    VC a[RA];                                                                      \
                    _Pragma("GCC unroll 8") for (int j = 0; j < R; j++) a[j] =                     \
                        V_LOAD(xp + 2 * (q + (size_t)j * sm));                                     \
                    BF;                                                                            \
                    V_STORE(yp + 2 * q, a[0]);                                                     \
                    _Pragma("GCC unroll 8") for (int k = 1; k < R; k++)                            \
                        V_STORE(yp + 2 * (q + (size_t)k * s), V_CMUL(a[k], wr[k], wi[k], inv));    \
                }                                                                                  \
            }                                                                                      \
        }                                                                                          \
    }

BODY(r2, 2, 0, FN(bf2)(a))
BODY(r4, 4, 0, FN(bf4)(a, inv))
BODY(r8, 8, 0, FN(bf8)(a, inv, h))
BODY(r3, 3, 1, FN(bfodd3)(a, R, cr, ci, inv))
BODY(r5, 5, 1, FN(bfodd5)(a, R, cr, ci, inv))
BODY(r7, 7, 1, FN(bfodd7)(a, R, cr, ci, inv))
BODY(rodd, CRUNCH__FFT_MAX_ODD, 1, FN(bfoddmax)(a, R, cr, ci, inv))

/* PASS(K, REXPR) defines the two kernels of body_K the tables hold,
 * forward and inverse, each with the direction (and for the fixed radices
 * R) a constant, so the compiler specialises the body for it. */
#define PASS(K, REXPR)                                                                             \
    static TGT void FN(pass_##K##_fwd)(const crunch__fft_block *b, const FT *x, FT *y,             \
                                       const FT *tw, const FT *roots)                              \
    {                                                                                              \
        FN(body_##K)(REXPR, 0, b, x, y, tw, roots);                                                \
    }                                                                                              \
    static TGT void FN(pass_##K##_inv)(const crunch__fft_block *b, const FT *x, FT *y,             \
                                       const FT *tw, const FT *roots)                              \
    {                                                                                              \
        FN(body_##K)(REXPR, 1, b, x, y, tw, roots);                                                \
    }

PASS(r2, 2)
PASS(r3, 3)
PASS(r4, 4)
PASS(r5, 5)
PASS(r7, 7)
PASS(r8, 8)
PASS(rodd, b->radix)

/* twmul: the twiddle kernel (fft_kernels.h), a vector of cols at a time;
 * the direction is a constant in each of its two loops. */
static TGT void FN(twmul)(const FT *x, const FT *tw, const FT *rtw, FT *y, size_t rows,
                          size_t cols, size_t ldy, int inv)
{
    for (size_t r = 0; r < rows; r++) {
        const FT *xr = x + 2 * r * cols, *tr = tw + 2 * r * cols;
        const VC br = V_SET1(rtw[2 * r]), bi = V_SET1(rtw[2 * r + 1]); /* the row's factor */
        FT *yr = y + 2 * r * ldy;
        for (size_t c = 0; c < cols; c += VW) {
            VC wr, wi;
            V_TWDUP(tr + 2 * c, wr, wi);
            const VC a = V_LOAD(xr + 2 * c);
            V_STORE(yr + 2 * c, inv ? V_CMUL(V_CMUL(a, wr, wi, 1), br, bi, 1)
                                    : V_CMUL(V_CMUL(a, wr, wi, 0), br, bi, 0));
        }
    }
}

/* CRUNCH__FFT_TABLE(SUF) is the initializer of one precision's kernel
 * table [direction][kind] for the instantiation whose FN adds SUF. */
#ifndef CRUNCH__FFT_TABLE
#define CRUNCH__FFT_TABLE_DIR(SUF, DIR)                                                            \
    {                                                                                              \
        [CRUNCH__FFT_R2] = pass_r2_##DIR##SUF, [CRUNCH__FFT_R3] = pass_r3_##DIR##SUF,              \
        [CRUNCH__FFT_R4] = pass_r4_##DIR##SUF, [CRUNCH__FFT_R5] = pass_r5_##DIR##SUF,              \
        [CRUNCH__FFT_R7] = pass_r7_##DIR##SUF, [CRUNCH__FFT_R8] = pass_r8_##DIR##SUF,              \
        [CRUNCH__FFT_RODD] = pass_rodd_##DIR##SUF                                                  \
    }
#define CRUNCH__FFT_TABLE(SUF) {CRUNCH__FFT_TABLE_DIR(SUF, fwd), CRUNCH__FFT_TABLE_DIR(SUF, inv)}
#endif

#undef FFT_INLINE
#undef BFODD
#undef BODY
#undef PASS
#undef FT
#undef VC
#undef VW
#undef FN
#undef TGT
#undef V_LOAD
#undef V_STORE
#undef V_ADD
#undef V_SUB
#undef V_SET1
#undef V_ZERO
#undef V_MUL
#undef V_FMA
#undef V_ROT
#undef V_CMUL
#undef V_TWDUP
#undef V_TSTORE
