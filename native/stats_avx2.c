/*
 * stats_avx2.c - the AVX2 stats block kernel (contract in
 * stats_kernels.h): stats_avx512.c's loops with 4-wide vectors, so 16
 * sum lanes of at most 128 elements each.
 */
#include "stats_kernels.h"

#if CRUNCH_X86
#include <immintrin.h>
#include <math.h>

enum { W = 4, U = 4 * W, AHEAD = CRUNCH__STATS_BLOCK * 8 };

/* KAHAN adds d to the compensated sum (c, e): e holds what the last add to
 * c lost, negated (Kahan's summation, lane by lane). */
#define KAHAN(c, e, d)                                                       \
    do {                                                                     \
        __m256d y_ = _mm256_sub_pd(d, e);                                    \
        __m256d t_ = _mm256_add_pd(c, y_);                                   \
        e = _mm256_sub_pd(_mm256_sub_pd(t_, c), y_);                         \
        c = t_;                                                              \
    } while (0)

/* hsum, hmin, hmax reduce one vector to a scalar. */
CRUNCH_TARGET_AVX2 static inline double hsum(__m256d v)
{
    __m128d s = _mm_add_pd(_mm256_castpd256_pd128(v), _mm256_extractf128_pd(v, 1));
    return _mm_cvtsd_f64(_mm_add_sd(s, _mm_unpackhi_pd(s, s)));
}

CRUNCH_TARGET_AVX2 static inline double hmin(__m256d v)
{
    __m128d s = _mm_min_pd(_mm256_castpd256_pd128(v), _mm256_extractf128_pd(v, 1));
    return _mm_cvtsd_f64(_mm_min_sd(s, _mm_unpackhi_pd(s, s)));
}

CRUNCH_TARGET_AVX2 static inline double hmax(__m256d v)
{
    __m128d s = _mm_max_pd(_mm256_castpd256_pd128(v), _mm256_extractf128_pd(v, 1));
    return _mm_cvtsd_f64(_mm_max_sd(s, _mm_unpackhi_pd(s, s)));
}

CRUNCH_TARGET_AVX2 void crunch__stats_block_avx2(const double *x, size_t len,
                                                 crunch__stats_part *p)
{
    __m256d s0 = _mm256_setzero_pd(), s1 = s0, s2 = s0, s3 = s0;
    __m256d mn0 = _mm256_set1_pd(INFINITY), mn1 = mn0;
    __m256d mx0 = _mm256_set1_pd(-INFINITY), mx1 = mx0;
    __m256i orv = _mm256_setzero_si256(), andv = _mm256_set1_epi64x(-1);
    size_t i = 0;
    for (; i + U <= len; i += U) {
        __m256d v0 = _mm256_loadu_pd(x + i), v1 = _mm256_loadu_pd(x + i + W);
        __m256d v2 = _mm256_loadu_pd(x + i + 2 * W), v3 = _mm256_loadu_pd(x + i + 3 * W);
        s0 = _mm256_add_pd(s0, v0);
        s1 = _mm256_add_pd(s1, v1);
        s2 = _mm256_add_pd(s2, v2);
        s3 = _mm256_add_pd(s3, v3);
        /* min(v, acc) returns acc when v is NaN: NaN never enters. */
        mn0 = _mm256_min_pd(v0, mn0);
        mn1 = _mm256_min_pd(v1, mn1);
        mn0 = _mm256_min_pd(v2, mn0);
        mn1 = _mm256_min_pd(v3, mn1);
        mx0 = _mm256_max_pd(v0, mx0);
        mx1 = _mm256_max_pd(v1, mx1);
        mx0 = _mm256_max_pd(v2, mx0);
        mx1 = _mm256_max_pd(v3, mx1);
        __m256i b0 = _mm256_castpd_si256(v0), b1 = _mm256_castpd_si256(v1);
        __m256i b2 = _mm256_castpd_si256(v2), b3 = _mm256_castpd_si256(v3);
        orv = _mm256_or_si256(orv, _mm256_or_si256(_mm256_or_si256(b0, b1),
                                                  _mm256_or_si256(b2, b3)));
        andv = _mm256_and_si256(andv, _mm256_and_si256(_mm256_and_si256(b0, b1),
                                                     _mm256_and_si256(b2, b3)));
    }
    for (; i + W <= len; i += W) { /* whole vectors left over */
        __m256d v = _mm256_loadu_pd(x + i);
        s0 = _mm256_add_pd(s0, v);
        mn0 = _mm256_min_pd(v, mn0);
        mx0 = _mm256_max_pd(v, mx0);
        orv = _mm256_or_si256(orv, _mm256_castpd_si256(v));
        andv = _mm256_and_si256(andv, _mm256_castpd_si256(v));
    }
    size_t whole = i;
    double sum = hsum(_mm256_add_pd(_mm256_add_pd(s0, s1), _mm256_add_pd(s2, s3)));
    double mn = hmin(_mm256_min_pd(mn0, mn1));
    double mx = hmax(_mm256_max_pd(mx0, mx1));
    uint64_t lanes[W];
    _mm256_storeu_si256((__m256i *)lanes, orv);
    uint64_t orb = lanes[0] | lanes[1] | lanes[2] | lanes[3];
    _mm256_storeu_si256((__m256i *)lanes, andv);
    uint64_t andb = lanes[0] & lanes[1] & lanes[2] & lanes[3];
    crunch__stats_tail1(x + whole, len - whole, &sum, &mn, &mx, &orb, &andb);
    p->sum = sum;
    p->min = mn;
    p->max = mx;
    p->orbits = orb;
    p->andbits = andb;
    if (!isfinite(sum))
        return;

    double m = sum / (double)len;
    const __m256d mv = _mm256_set1_pd(m);
    __m256d c0 = _mm256_setzero_pd(), c1 = c0, c2 = c0, c3 = c0;
    __m256d e0 = c0, e1 = c0, e2 = c0, e3 = c0;
    __m256d q0 = c0, q1 = c0, q2 = c0, q3 = c0;
    for (i = 0; i + U <= len; i += U) {
        /* Two cache lines per four vectors: the next block, line by line
         * (prefetches never fault, even past the array's end). */
        const char *pf = (const char *)(x + i) + AHEAD;
        _mm_prefetch(pf, _MM_HINT_T0);
        _mm_prefetch(pf + 64, _MM_HINT_T0);
        __m256d d0 = _mm256_sub_pd(_mm256_loadu_pd(x + i), mv);
        __m256d d1 = _mm256_sub_pd(_mm256_loadu_pd(x + i + W), mv);
        __m256d d2 = _mm256_sub_pd(_mm256_loadu_pd(x + i + 2 * W), mv);
        __m256d d3 = _mm256_sub_pd(_mm256_loadu_pd(x + i + 3 * W), mv);
        KAHAN(c0, e0, d0);
        KAHAN(c1, e1, d1);
        KAHAN(c2, e2, d2);
        KAHAN(c3, e3, d3);
        q0 = _mm256_fmadd_pd(d0, d0, q0);
        q1 = _mm256_fmadd_pd(d1, d1, q1);
        q2 = _mm256_fmadd_pd(d2, d2, q2);
        q3 = _mm256_fmadd_pd(d3, d3, q3);
    }
    for (; i + W <= len; i += W) {
        __m256d d = _mm256_sub_pd(_mm256_loadu_pd(x + i), mv);
        KAHAN(c0, e0, d);
        q0 = _mm256_fmadd_pd(d, d, q0);
    }
    /* apply the last corrections */
    c0 = _mm256_sub_pd(c0, e0);
    c1 = _mm256_sub_pd(c1, e1);
    c2 = _mm256_sub_pd(c2, e2);
    c3 = _mm256_sub_pd(c3, e3);
    double c = hsum(_mm256_add_pd(_mm256_add_pd(c0, c1), _mm256_add_pd(c2, c3)));
    double q = hsum(_mm256_add_pd(_mm256_add_pd(q0, q1), _mm256_add_pd(q2, q3)));
    crunch__stats_tail2(x + whole, len - whole, m, &c, &q);
    p->m = m;
    p->c = c;
    p->q = q;
}

/* crunch__stats_widen_avx2 converts floats to doubles, 8 per step. */
CRUNCH_TARGET_AVX2 void crunch__stats_widen_avx2(const float *x, size_t len, double *out)
{
    size_t i = 0;
    for (; i + 8 <= len; i += 8) {
        _mm256_storeu_pd(out + i, _mm256_cvtps_pd(_mm_loadu_ps(x + i)));
        _mm256_storeu_pd(out + i + 4, _mm256_cvtps_pd(_mm_loadu_ps(x + i + 4)));
    }
    for (; i < len; i++)
        out[i] = x[i];
}
#endif
