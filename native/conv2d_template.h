/*
 * conv2d_template.h - the row kernel (contract in conv2d_kernels.h),
 * written once over an abstract "vector of W elements" and stamped out
 * per SIMD path and precision: conv2d.c includes it with W = 1 (plain
 * scalars), conv2d_avx2.c and conv2d_avx512.c with ymm / zmm vectors.
 *
 * Register blocking: a block of NV vectors of outputs (NV = 8, then 4,
 * then 1) stays in registers while every tap is applied to it: per tap
 * one broadcast of the kernel value and NV unaligned loads of image, NV
 * fused multiply-adds, and no store until the block is done. Eight
 * independent accumulators cover the latency of the FMA units. The pair
 * kernel does two output rows at once, 4 vectors each, sharing each load
 * of image between them: loads, not FMAs, are what limits the row kernel.
 *
 * It also writes the pair kernel (same contract file).
 *
 * No include guard: it is included once per instantiation. The includer
 * defines, before each inclusion:
 *   T               the scalar type (double or float)
 *   V               the vector type, W elements
 *   W               elements per vector
 *   FN(name)        the name of an instantiated function (adds a suffix)
 *   TGT             the target attribute of every function (may be empty)
 *   V_ZERO()        every lane +0
 *   V_SET1(x)       every lane x
 *   V_LOADU(p)      W elements at p (unaligned)
 *   V_STOREU(p, v)  W elements to p (unaligned)
 *   V_FMA(a, b, c)  a * b + c, lane by lane
 *   VM              a lane mask type
 *   V_MASK(r)       the mask of the first r lanes, 0 < r < W
 *   V_LOADM(p, m), V_STOREM(p, v, m)  only the lanes of mask m (the
 *                   others read as 0, and are not written)
 * and undefines them afterwards; this file undefines its own macros.
 */

/* Every block is inlined into the row kernel with a constant NV, so that
 * its accumulator array becomes NV registers. */
#define CONV_INLINE static inline __attribute__((always_inline))
/* ... and its loops over the NV accumulators are unrolled completely. */
#define CONV_UNROLL _Pragma("GCC unroll 8")

/* FN(block) computes NV * W outputs at out (columns off .. off + NV*W of
 * the rows), per the row-kernel contract. */
CONV_INLINE TGT void FN(block)(const T *const *rows, const T *k, size_t nr, size_t kw, size_t off,
                               T *out, int add, const int nv)
{
    V a[8];
    CONV_UNROLL
    for (int j = 0; j < nv; j++)
        a[j] = add ? V_LOADU(out + j * W) : V_ZERO();
    for (size_t t = 0; t < nr; t++) {
        const T *r = rows[t] + off;
        const T *kt = k + t * kw;
        for (size_t q = 0; q < kw; q++) {
            V kv = V_SET1(kt[q]);
            const T *s = r - q; /* tap q reads q columns to the left: the flip */
            CONV_UNROLL
            for (int j = 0; j < nv; j++)
                a[j] = V_FMA(kv, V_LOADU(s + j * W), a[j]);
        }
    }
    CONV_UNROLL
    for (int j = 0; j < nv; j++)
        V_STOREU(out + j * W, a[j]);
}

/* FN(row) is the row kernel: blocks of 8, then 4, then 1 vector, then a
 * masked partial one. Static: each path's file wraps it under its own name. */
static TGT void FN(row)(const T *const *rows, const T *k, size_t nr, size_t kw, size_t off,
                        T *out, size_t n, int add)
{
    size_t c = 0;
    for (; c + 8 * W <= n; c += 8 * W)
        FN(block)(rows, k, nr, kw, off + c, out + c, add, 8);
    if (c + 4 * W <= n) {
        FN(block)(rows, k, nr, kw, off + c, out + c, add, 4);
        c += 4 * W;
    }
    for (; c + W <= n; c += W)
        FN(block)(rows, k, nr, kw, off + c, out + c, add, 1);
    if (c < n) {
        /* The last, partial vector: its loads of image may run past the
         * row into the padding (zeros, or values that feed only the lanes
         * the masked store drops), the output is touched only within n. */
        VM m = V_MASK(n - c);
        V a = add ? V_LOADM(out + c, m) : V_ZERO();
        for (size_t t = 0; t < nr; t++) {
            const T *s = rows[t] + off + c;
            const T *kt = k + t * kw;
            for (size_t q = 0; q < kw; q++)
                a = V_FMA(V_SET1(kt[q]), V_LOADU(s - q), a);
        }
        V_STOREM(out + c, a, m);
    }
}

/* FN(pblock) computes 4 * W outputs in each of two consecutive output
 * rows, per the pair-kernel contract: each load of image feeds both rows
 * (with different kernel rows), so a tap costs 4 loads, 2 broadcasts and
 * 8 FMAs, where two single-row blocks would load 8 times. */
CONV_INLINE TGT void FN(pblock)(const T *const *rows, const T *k, size_t nr, size_t kw,
                                size_t off, T *o0, T *o1, int add)
{
    V a[4], b[4]; /* a: the upper output row, b: the lower one */
    CONV_UNROLL
    for (int j = 0; j < 4; j++) {
        a[j] = add ? V_LOADU(o0 + j * W) : V_ZERO();
        b[j] = add ? V_LOADU(o1 + j * W) : V_ZERO();
    }
    /* rows[0] meets only the lower row (kernel row 0) */
    for (size_t q = 0; q < kw; q++) {
        V kb = V_SET1(k[q]);
        const T *s = rows[0] + off - q;
        CONV_UNROLL
        for (int j = 0; j < 4; j++)
            b[j] = V_FMA(kb, V_LOADU(s + j * W), b[j]);
    }
    /* rows[u], 0 < u < nr, meets the upper row with kernel row u - 1 and
     * the lower with kernel row u */
    for (size_t u = 1; u < nr; u++) {
        const T *r = rows[u] + off;
        const T *ka = k + (u - 1) * kw, *kb = ka + kw;
        for (size_t q = 0; q < kw; q++) {
            V va = V_SET1(ka[q]), vb = V_SET1(kb[q]);
            const T *s = r - q;
            CONV_UNROLL
            for (int j = 0; j < 4; j++) {
                V x = V_LOADU(s + j * W);
                a[j] = V_FMA(va, x, a[j]);
                b[j] = V_FMA(vb, x, b[j]);
            }
        }
    }
    /* rows[nr] meets only the upper row (kernel row nr - 1) */
    for (size_t q = 0; q < kw; q++) {
        V ka = V_SET1(k[(nr - 1) * kw + q]);
        const T *s = rows[nr] + off - q;
        CONV_UNROLL
        for (int j = 0; j < 4; j++)
            a[j] = V_FMA(ka, V_LOADU(s + j * W), a[j]);
    }
    CONV_UNROLL
    for (int j = 0; j < 4; j++) {
        V_STOREU(o0 + j * W, a[j]);
        V_STOREU(o1 + j * W, b[j]);
    }
}

/* FN(pair) is the pair kernel: blocks of 4 vectors per row, then the rest
 * of each row through FN(row). */
static TGT void FN(pair)(const T *const *rows, const T *k, size_t nr, size_t kw, size_t off,
                         T *o0, T *o1, size_t n, int add)
{
    size_t c = 0;
    for (; c + 4 * W <= n; c += 4 * W)
        FN(pblock)(rows, k, nr, kw, off + c, o0 + c, o1 + c, add);
    if (c < n) {
        FN(row)(rows + 1, k, nr, kw, off + c, o0 + c, n - c, add);
        FN(row)(rows, k, nr, kw, off + c, o1 + c, n - c, add);
    }
}

#undef CONV_INLINE
#undef CONV_UNROLL
