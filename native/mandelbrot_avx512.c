/*
 * mandelbrot_avx512.c - the AVX-512 row kernel (contract in
 * mandelbrot_kernels.h): mandelbrot_avx2.c's chunks with 8 pixels per
 * vector, and mask registers for the lanes still iterating: the escape
 * test compares only those lanes and the counters add one under the mask.
 */
#include "mandelbrot_kernels.h"

#if CRUNCH_X86
#include <immintrin.h>

enum { W = 8, U = 4 };

/*
 * chunk computes the counts of columns j0 .. j0 + nv*W - 1 into out[j0..],
 * nv <= U vectors (a constant after inlining). Returns CRUNCH_ECANCELED or
 * CRUNCH_OK.
 */
CRUNCH_TARGET_AVX512 static inline __attribute__((always_inline)) crunch_status
chunk(const crunch_ctx *ctx, const crunch__mb_row *row, size_t j0, int nv, uint32_t *out)
{
    __m512d cr[U], x[U], y[U];
    __m512i cnt[U];
    __mmask8 in[U];
    const __m512d ci = _mm512_set1_pd(row->ci), four = _mm512_set1_pd(4.0);
    const __m512d xmin = _mm512_set1_pd(row->x_min), dx = _mm512_set1_pd(row->dx);
    const __m512d wd = _mm512_set1_pd(row->width);
    const __m512i one = _mm512_set1_epi64(1);
    /* j0 + v*W + lane is below 2^53, so the sum is the exact (double)j */
    const __m512d lane = _mm512_set_pd(7, 6, 5, 4, 3, 2, 1, 0);
#pragma GCC unroll 8
    for (int v = 0; v < nv; v++) {
        __m512d j = _mm512_add_pd(_mm512_set1_pd((double)(j0 + (size_t)v * W)), lane);
        cr[v] = _mm512_add_pd(xmin, _mm512_div_pd(_mm512_mul_pd(dx, j), wd)); /* crunch__mb_re */
        x[v] = cr[v]; /* z_1 = c */
        y[v] = ci;
        cnt[v] = one;
        in[v] = 0xff; /* every lane still iterating */
    }
    /* Counters as in mandelbrot_avx2.c: k for a lane that escapes at z_k,
     * max_iter for one that never does. */
    const int64_t max_iter = row->max_iter;
    int64_t k = 1;
    while (k < max_iter) {
        int64_t steps = max_iter - k < CRUNCH__MB_POLL ? max_iter - k : CRUNCH__MB_POLL;
        k += steps;
        for (int64_t s = 0; s < steps; s++) {
            __mmask8 any = 0;
#pragma GCC unroll 8
            for (int v = 0; v < nv; v++) {
                __m512d x2 = _mm512_mul_pd(x[v], x[v]);
                __m512d y2 = _mm512_mul_pd(y[v], y[v]);
                __m512d t = _mm512_mul_pd(x[v], y[v]);
                CRUNCH__MB_ROUND512(x2); /* never fused into the adds below */
                CRUNCH__MB_ROUND512(y2);
                CRUNCH__MB_ROUND512(t);
                /* not-greater, unordered: a NaN |z|^2 never escapes */
                in[v] = _mm512_mask_cmp_pd_mask(in[v], _mm512_add_pd(x2, y2), four, _CMP_NGT_UQ);
                cnt[v] = _mm512_mask_add_epi64(cnt[v], in[v], cnt[v], one);
                x[v] = _mm512_add_pd(_mm512_sub_pd(x2, y2), cr[v]);
                __m512d t2 = _mm512_add_pd(t, t);
                CRUNCH__MB_ROUND512(t2); /* exact; no 2*t fused with the add */
                y[v] = _mm512_add_pd(t2, ci);
                any |= in[v];
            }
            if (any == 0) /* every lane escaped */
                goto done;
        }
        if (crunch__canceled(ctx))
            return CRUNCH_ECANCELED;
    }
done:;
#pragma GCC unroll 8
    for (int v = 0; v < nv; v++) /* the low 32 bits of each counter (counts <= 2^31) */
        _mm256_storeu_si256((__m256i *)(out + j0 + (size_t)v * W), _mm512_cvtepi64_epi32(cnt[v]));
    return crunch__canceled(ctx) ? CRUNCH_ECANCELED : CRUNCH_OK; /* a poll per chunk */
}

CRUNCH_TARGET_AVX512 crunch_status crunch__mb_row_avx512(const crunch_ctx *ctx,
                                                         const crunch__mb_row *row, size_t width,
                                                         uint32_t *out)
{
    size_t j = 0;
    for (; j + U * W <= width; j += U * W)
        if (chunk(ctx, row, j, U, out) != CRUNCH_OK)
            return CRUNCH_ECANCELED;
    for (; j + W <= width; j += W) /* whole vectors left over */
        if (chunk(ctx, row, j, 1, out) != CRUNCH_OK)
            return CRUNCH_ECANCELED;
    return crunch__mb_tail(ctx, row, j, width, out);
}
#endif
