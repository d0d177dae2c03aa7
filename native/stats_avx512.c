/*
 * stats_avx512.c - the AVX-512 stats block kernel (contract in
 * stats_kernels.h).
 *
 * Pass 1 keeps four sum accumulators (32 lanes: each lane adds at most
 * 64 of a block's 2048 elements, which keeps the lane sums short and
 * accurate) and two each for min and max, so that no chain of dependent
 * adds or compares limits the loop; the OR and AND of the bits run on the
 * integer side. Pass 2 re-reads the block from L1 and sums the deviations
 * with Kahan compensation in every lane (four dependent adds per vector,
 * spread over four independent accumulators). While it runs, the next
 * block is prefetched: pass 2 issues no demand misses of its own, and
 * without the prefetches memory would sit idle during it (measured: 20-50%
 * slower).
 */
#include "stats_kernels.h"

#if CRUNCH_X86
#include <immintrin.h>
#include <math.h>

/* Bytes ahead of the current position that pass 2 prefetches: exactly one
 * block, i.e. the same offset in the next block. */
enum { W = 8, U = 4 * W, AHEAD = CRUNCH__STATS_BLOCK * 8 };

/* KAHAN adds d to the compensated sum (c, e): e holds what the last add to
 * c lost, negated (Kahan's summation, lane by lane). */
#define KAHAN(c, e, d)                                                       \
    do {                                                                     \
        __m512d y_ = _mm512_sub_pd(d, e);                                    \
        __m512d t_ = _mm512_add_pd(c, y_);                                   \
        e = _mm512_sub_pd(_mm512_sub_pd(t_, c), y_);                         \
        c = t_;                                                              \
    } while (0)

CRUNCH_TARGET_AVX512 void crunch__stats_block_avx512(const double *x, size_t len,
                                                     crunch__stats_part *p)
{
    __m512d s0 = _mm512_setzero_pd(), s1 = s0, s2 = s0, s3 = s0;
    __m512d mn0 = _mm512_set1_pd(INFINITY), mn1 = mn0;
    __m512d mx0 = _mm512_set1_pd(-INFINITY), mx1 = mx0;
    __m512i orv = _mm512_setzero_si512(), andv = _mm512_set1_epi64(-1);
    size_t i = 0;
    for (; i + U <= len; i += U) {
        __m512d v0 = _mm512_loadu_pd(x + i), v1 = _mm512_loadu_pd(x + i + W);
        __m512d v2 = _mm512_loadu_pd(x + i + 2 * W), v3 = _mm512_loadu_pd(x + i + 3 * W);
        s0 = _mm512_add_pd(s0, v0);
        s1 = _mm512_add_pd(s1, v1);
        s2 = _mm512_add_pd(s2, v2);
        s3 = _mm512_add_pd(s3, v3);
        /* min(v, acc) returns acc when v is NaN: NaN never enters. */
        mn0 = _mm512_min_pd(v0, mn0);
        mn1 = _mm512_min_pd(v1, mn1);
        mn0 = _mm512_min_pd(v2, mn0);
        mn1 = _mm512_min_pd(v3, mn1);
        mx0 = _mm512_max_pd(v0, mx0);
        mx1 = _mm512_max_pd(v1, mx1);
        mx0 = _mm512_max_pd(v2, mx0);
        mx1 = _mm512_max_pd(v3, mx1);
        __m512i b0 = _mm512_castpd_si512(v0), b1 = _mm512_castpd_si512(v1);
        __m512i b2 = _mm512_castpd_si512(v2), b3 = _mm512_castpd_si512(v3);
        orv = _mm512_or_si512(orv, _mm512_or_si512(_mm512_or_si512(b0, b1),
                                                  _mm512_or_si512(b2, b3)));
        andv = _mm512_and_si512(andv, _mm512_and_si512(_mm512_and_si512(b0, b1),
                                                     _mm512_and_si512(b2, b3)));
    }
    for (; i + W <= len; i += W) { /* whole vectors left over */
        __m512d v = _mm512_loadu_pd(x + i);
        s0 = _mm512_add_pd(s0, v);
        mn0 = _mm512_min_pd(v, mn0);
        mx0 = _mm512_max_pd(v, mx0);
        orv = _mm512_or_si512(orv, _mm512_castpd_si512(v));
        andv = _mm512_and_si512(andv, _mm512_castpd_si512(v));
    }
    size_t whole = i;
    double sum = _mm512_reduce_add_pd(_mm512_add_pd(_mm512_add_pd(s0, s1), _mm512_add_pd(s2, s3)));
    double mn = _mm512_reduce_min_pd(_mm512_min_pd(mn0, mn1));
    double mx = _mm512_reduce_max_pd(_mm512_max_pd(mx0, mx1));
    uint64_t orb = (uint64_t)_mm512_reduce_or_epi64(orv);
    uint64_t andb = (uint64_t)_mm512_reduce_and_epi64(andv);
    crunch__stats_tail1(x + whole, len - whole, &sum, &mn, &mx, &orb, &andb);
    p->sum = sum;
    p->min = mn;
    p->max = mx;
    p->orbits = orb;
    p->andbits = andb;
    if (!isfinite(sum))
        return;

    double m = sum / (double)len;
    const __m512d mv = _mm512_set1_pd(m);
    __m512d c0 = _mm512_setzero_pd(), c1 = c0, c2 = c0, c3 = c0;
    __m512d e0 = c0, e1 = c0, e2 = c0, e3 = c0;
    __m512d q0 = c0, q1 = c0, q2 = c0, q3 = c0;
    for (i = 0; i + U <= len; i += U) {
        /* Four cache lines ahead per four vectors: the next block, line by
         * line. Prefetches past the array's end are harmless (they never
         * fault). */
        const char *pf = (const char *)(x + i) + AHEAD;
        _mm_prefetch(pf, _MM_HINT_T0);
        _mm_prefetch(pf + 64, _MM_HINT_T0);
        _mm_prefetch(pf + 128, _MM_HINT_T0);
        _mm_prefetch(pf + 192, _MM_HINT_T0);
        __m512d d0 = _mm512_sub_pd(_mm512_loadu_pd(x + i), mv);
        __m512d d1 = _mm512_sub_pd(_mm512_loadu_pd(x + i + W), mv);
        __m512d d2 = _mm512_sub_pd(_mm512_loadu_pd(x + i + 2 * W), mv);
        __m512d d3 = _mm512_sub_pd(_mm512_loadu_pd(x + i + 3 * W), mv);
        KAHAN(c0, e0, d0);
        KAHAN(c1, e1, d1);
        KAHAN(c2, e2, d2);
        KAHAN(c3, e3, d3);
        q0 = _mm512_fmadd_pd(d0, d0, q0);
        q1 = _mm512_fmadd_pd(d1, d1, q1);
        q2 = _mm512_fmadd_pd(d2, d2, q2);
        q3 = _mm512_fmadd_pd(d3, d3, q3);
    }
    for (; i + W <= len; i += W) {
        __m512d d = _mm512_sub_pd(_mm512_loadu_pd(x + i), mv);
        KAHAN(c0, e0, d);
        q0 = _mm512_fmadd_pd(d, d, q0);
    }
    /* apply the last corrections */
    c0 = _mm512_sub_pd(c0, e0);
    c1 = _mm512_sub_pd(c1, e1);
    c2 = _mm512_sub_pd(c2, e2);
    c3 = _mm512_sub_pd(c3, e3);
    double c = _mm512_reduce_add_pd(_mm512_add_pd(_mm512_add_pd(c0, c1), _mm512_add_pd(c2, c3)));
    double q = _mm512_reduce_add_pd(_mm512_add_pd(_mm512_add_pd(q0, q1), _mm512_add_pd(q2, q3)));
    crunch__stats_tail2(x + whole, len - whole, m, &c, &q);
    p->m = m;
    p->c = c;
    p->q = q;
}

/* crunch__stats_widen_avx512 converts floats to doubles, 16 per step. */
CRUNCH_TARGET_AVX512 void crunch__stats_widen_avx512(const float *x, size_t len, double *out)
{
    size_t i = 0;
    for (; i + 16 <= len; i += 16) {
        _mm512_storeu_pd(out + i, _mm512_cvtps_pd(_mm256_loadu_ps(x + i)));
        _mm512_storeu_pd(out + i + 8, _mm512_cvtps_pd(_mm256_loadu_ps(x + i + 8)));
    }
    for (; i < len; i++)
        out[i] = x[i];
}
#endif
