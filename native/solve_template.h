/*
 * solve_template.h - crunch_solve_f64's vector kernels (contract in
 * solve_kernels.h), written once over an abstract vector of W doubles and
 * stamped out per path: solve_avx2.c includes it with ymm vectors (W = 4)
 * and scalar tails, solve_avx512.c with zmm vectors (W = 8) and the last
 * len % W elements under a mask. Four accumulators or two row chunks per
 * iteration hide the FMA latency.
 *
 * No include guard: it is included once per path. The includer defines,
 * before the inclusion (simd_f64.h has all but V_ABS and the masked
 * ones for each x86 path):
 *   TGT             the target attribute of every function
 *   V               the vector type, W doubles
 *   W               doubles per vector
 *   V_ZERO(), V_SET1(x), V_LOADU(p), V_STOREU(p, v)   (unaligned p)
 *   V_ADD(a, b)
 *   V_MAX(a, b)     lane by lane; b where a is NaN
 *   V_ABS(v)        |v| lane by lane
 *   V_FMA(a, b, c)  a * b + c, fused
 *   V_FNMA(a, b, c) c - a * b, fused
 *   V_HSUM(v), V_HMAX(v)    v's lanes reduced to a double
 * and, for masked tails (without them the tails are scalar loops):
 *   VM              a lane mask
 *   V_TAIL(r)       the mask of the first r < W lanes
 *   V_LOADZ(m, p)   the lanes of m at p, zero elsewhere (reads no other)
 *   V_STOREM(p, m, v)       the lanes of m to p (writes no other)
 * and this file undefines them at its end. It defines the static functions
 * solve_dot, solve_axpy and solve_load_row, for the includer's table entry.
 */

static TGT double solve_dot(size_t len, const double *x, const double *y)
{
    V s0 = V_ZERO(), s1 = s0, s2 = s0, s3 = s0;
    size_t j = 0;
    for (; j + 4 * W <= len; j += 4 * W) { /* four chains hide the FMA latency */
        s0 = V_FMA(V_LOADU(x + j), V_LOADU(y + j), s0);
        s1 = V_FMA(V_LOADU(x + j + W), V_LOADU(y + j + W), s1);
        s2 = V_FMA(V_LOADU(x + j + 2 * W), V_LOADU(y + j + 2 * W), s2);
        s3 = V_FMA(V_LOADU(x + j + 3 * W), V_LOADU(y + j + 3 * W), s3);
    }
    for (; j + W <= len; j += W)
        s0 = V_FMA(V_LOADU(x + j), V_LOADU(y + j), s0);
#ifdef V_TAIL
    if (j < len) { /* masked loads read nothing beyond len */
        VM m = V_TAIL(len - j);
        s1 = V_FMA(V_LOADZ(m, x + j), V_LOADZ(m, y + j), s1);
        j = len;
    }
#endif
    double sum = V_HSUM(V_ADD(V_ADD(s0, s1), V_ADD(s2, s3)));
    for (; j < len; j++)
        sum += x[j] * y[j];
    return sum;
}

static TGT void solve_axpy(size_t len, double alpha, const double *x, double *y)
{
    V a = V_SET1(alpha);
    size_t j = 0;
    for (; j + 2 * W <= len; j += 2 * W) { /* y - a x, two vectors per iteration */
        V_STOREU(y + j, V_FNMA(a, V_LOADU(x + j), V_LOADU(y + j)));
        V_STOREU(y + j + W, V_FNMA(a, V_LOADU(x + j + W), V_LOADU(y + j + W)));
    }
    for (; j + W <= len; j += W)
        V_STOREU(y + j, V_FNMA(a, V_LOADU(x + j), V_LOADU(y + j)));
#ifdef V_TAIL
    if (j < len) {
        VM m = V_TAIL(len - j);
        V_STOREM(y + j, m, V_FNMA(a, V_LOADZ(m, x + j), V_LOADZ(m, y + j)));
        j = len;
    }
#endif
    for (; j < len; j++)
        y[j] -= alpha * x[j];
}

static TGT double solve_load_row(size_t len, const double *src, double *dst, double *colsum)
{
    V mx = V_ZERO();
    size_t j = 0;
    for (; j + W <= len; j += W) {
        V v = V_LOADU(src + j), a = V_ABS(v);
        V_STOREU(dst + j, v);
        V_STOREU(colsum + j, V_ADD(V_LOADU(colsum + j), a));
        mx = V_MAX(a, mx); /* returns mx when a is NaN: NaN is skipped */
    }
#ifdef V_TAIL
    if (j < len) {
        VM m = V_TAIL(len - j);
        V v = V_LOADZ(m, src + j), a = V_ABS(v); /* 0 outside m */
        V_STOREM(dst + j, m, v);
        V_STOREM(colsum + j, m, V_ADD(V_LOADZ(m, colsum + j), a));
        mx = V_MAX(a, mx);
        j = len;
    }
#endif
    double m = V_HMAX(mx);
    for (; j < len; j++) {
        double a = fabs(src[j]);
        dst[j] = src[j];
        colsum[j] += a;
        m = a > m ? a : m;
    }
    return m;
}

#include "simd_f64_undef.h"
#undef V_ABS
#undef VM
#undef V_TAIL
#undef V_LOADZ
#undef V_STOREM
