/*
 * histogram_template.h - the SIMD count and range kernels (contracts in
 * histogram_kernels.h), written once over an abstract vector of W
 * elements and stamped out per path and precision: histogram_avx2.c and
 * histogram_avx512.c include it once for double and once for float.
 *
 * Counting: each vector of W elements is binned at once with NumPy's
 * steps (histogram.c): the compares that keep an element, (x - lo) * norm
 * truncated, the clamp to bins - 1, and the two corrections, each a
 * compare with W edges that I_EDGE computes (the driver's arithmetic,
 * cheaper than gathering them from its table). Elements that do not count
 * get slot bins. The bins of BLOCK elements, offset so that lane l counts
 * into copy l % copies, are stored, then incremented one by one: the
 * increments are what limits the loop, and spreading neighbouring
 * elements over copies keeps them from waiting on each other when they
 * fall into the same bin. (Incrementing right after each vector was
 * slower when the edges were gathered: the gathers then waited on the
 * increments' stores.) The last len % W elements go through BIN one at a
 * time.
 *
 * No include guard: it is included once per instantiation. The includer
 * defines, before each inclusion:
 *   T               the element type (double or float)
 *   ARGS, BIN       its crunch__hist_args_ type and crunch__hist_bin_ function
 *   TGT             the target attribute of every function
 *   V               the vector type, W elements
 *   VM              a set of lanes (a mask)
 *   VI              W bin indices (32- or 64-bit lanes); IT a lane's type
 *   W               elements per vector
 *   FN(name)        the name of an instantiated function (adds a suffix)
 *   V_LOADU(p), V_SET1(x), V_SUB(a, b), V_MUL(a, b)
 *   V_MIN(a, b), V_MAX(a, b)  lane by lane (NaN: either)
 *   V_HMIN(v), V_HMAX(v)      v's lanes reduced to a T
 *   M_GE(a, b), M_LE(a, b), M_LT(a, b)   ordered compares (false for NaN)
 *   M_NAN(v)        the lanes of v that are NaN
 *   M_NONE(), M_AND(a, b), M_OR(a, b), M_ANY(m)
 *   I_SET1(n), I_LOADU(p), I_STOREU(p, i), I_ADD(a, b), I_MIN(a, b)
 *   I_CVT(v)        v's lanes truncated to integers; any value where they
 *                   do not fit
 *   I_SEL(m, a, b)  a in the lanes of m, b in the others
 *   I_DEC(i, m), I_INC(i, m)  i minus, plus 1 in the lanes of m
 *   M_INE(a, b)     the lanes where index vectors a and b differ
 *   I_EDGE(a, i)    a->edges[i] lane by lane, 0 <= i <= bins
 * and this file undefines them at its end.
 */

#define BLOCK 256 /* elements binned before they are counted: a multiple of W */

static TGT void FN(count)(const ARGS *a, const T *x, size_t len, int64_t *sub)
{
    const V lo = V_SET1(a->lo), hi = V_SET1(a->hi), norm = V_SET1(a->norm);
    const VI last = I_SET1((IT)(a->bins - 1)), none = I_SET1((IT)a->bins);
    const VI zero = I_SET1(0), one = I_SET1(1);
    IT lane[W];
    for (int l = 0; l < W; l++) /* lane l counts into copy l % copies */
        lane[l] = (IT)((size_t)(l & (int)(a->copies - 1)) * a->stride);
    const VI offset = I_LOADU(lane);
    IT bin[BLOCK];
    size_t j = 0;
    while (j + W <= len) {
        size_t m = 0;
        for (; m < BLOCK && j + W <= len; m += W, j += W) {
            V v = V_LOADU(x + j);
            VM keep = M_AND(M_GE(v, lo), M_LE(v, hi));
            VI i = I_MIN(I_CVT(V_MUL(V_SUB(v, lo), norm)), last); /* NumPy: bins -> bins - 1 */
            i = I_SEL(keep, i, zero); /* a lane that does not count may hold anything */
            i = I_DEC(i, M_LT(v, I_EDGE(a, i)));
            i = I_INC(i, M_AND(M_GE(v, I_EDGE(a, I_ADD(i, one))), M_INE(i, last)));
            I_STOREU(bin + m, I_ADD(I_SEL(keep, i, none), offset));
        }
        for (size_t k = 0; k < m; k++)
            sub[bin[k]]++;
    }
    for (; j < len; j++)
        sub[BIN(a, x[j])]++;
}

static TGT int FN(range)(const T *x, size_t len, T *mn, T *mx)
{
    V lo0 = V_SET1(*mn), lo1 = lo0, hi0 = V_SET1(*mx), hi1 = hi0;
    VM bad = M_NONE();
    size_t j = 0;
    for (; j + 2 * W <= len; j += 2 * W) { /* two chains, for the latency of min and max */
        V v0 = V_LOADU(x + j), v1 = V_LOADU(x + j + W);
        lo0 = V_MIN(v0, lo0);
        lo1 = V_MIN(v1, lo1);
        hi0 = V_MAX(v0, hi0);
        hi1 = V_MAX(v1, hi1);
        /* v - v is NaN exactly for NaN and +-Inf */
        bad = M_OR(bad, M_OR(M_NAN(V_SUB(v0, v0)), M_NAN(V_SUB(v1, v1))));
    }
    T l = V_HMIN(V_MIN(lo0, lo1)), h = V_HMAX(V_MAX(hi0, hi1));
    int ok = !M_ANY(bad);
    for (; j < len; j++) {
        T v = x[j];
        ok &= v - v == 0;
        l = v < l ? v : l;
        h = v > h ? v : h;
    }
    *mn = l;
    *mx = h;
    return ok;
}

#undef BLOCK
#undef T
#undef ARGS
#undef BIN
#undef TGT
#undef V
#undef VM
#undef VI
#undef IT
#undef W
#undef FN
#undef V_LOADU
#undef V_SET1
#undef V_SUB
#undef V_MUL
#undef V_MIN
#undef V_MAX
#undef V_HMIN
#undef V_HMAX
#undef M_GE
#undef M_LE
#undef M_LT
#undef M_NAN
#undef M_NONE
#undef M_AND
#undef M_OR
#undef M_ANY
#undef I_SET1
#undef I_LOADU
#undef I_STOREU
#undef I_ADD
#undef I_MIN
#undef I_CVT
#undef I_SEL
#undef I_DEC
#undef I_INC
#undef M_INE
#undef I_EDGE
