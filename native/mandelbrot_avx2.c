/*
 * mandelbrot_avx2.c - the AVX2 row kernel (contract in
 * mandelbrot_kernels.h): 4 pixels per vector, U vectors per chunk.
 *
 * One iteration's dependency chain (multiply, subtract, add: about 10
 * cycles) is much longer than the time the FPU needs to issue one vector's
 * ten operations, so a chunk iterates U independent vectors together to
 * fill the pipelines. Lanes that escaped go on iterating (their values
 * run off to Inf and NaN, harmlessly) but their counters stop; the chunk
 * ends when no lane of it is left or at max_iter. Counters are 64-bit
 * lanes, as wide as the doubles beside them, so 2^31 iterations fit.
 */
#include "mandelbrot_kernels.h"

#if CRUNCH_X86
#include <immintrin.h>

enum { W = 4, U = 4 };

/*
 * chunk computes the counts of columns j0 .. j0 + nv*W - 1 into out[j0..],
 * nv <= U vectors (a constant after inlining, so the loops over v unroll).
 * With U = 4 the orbits and masks fill AVX2's 16 registers and the
 * compiler keeps the columns' c and some counters on the stack: loads and
 * stores beside the critical multiply-add chain, measured faster than
 * U = 3 all the same. Returns CRUNCH_ECANCELED or CRUNCH_OK.
 */
CRUNCH_TARGET_AVX2 static inline __attribute__((always_inline)) crunch_status
chunk(const crunch_ctx *ctx, const crunch__mb_row *row, size_t j0, int nv, uint32_t *out)
{
    __m256d cr[U], x[U], y[U], in[U];
    __m256i cnt[U];
    const __m256d ci = _mm256_set1_pd(row->ci), four = _mm256_set1_pd(4.0);
    const __m256d xmin = _mm256_set1_pd(row->x_min), dx = _mm256_set1_pd(row->dx);
    const __m256d wd = _mm256_set1_pd(row->width);
    /* j0 + v*W + lane is below 2^53, so the sum is the exact (double)j */
    const __m256d lane = _mm256_set_pd(3, 2, 1, 0);
#pragma GCC unroll 8
    for (int v = 0; v < nv; v++) {
        __m256d j = _mm256_add_pd(_mm256_set1_pd((double)(j0 + (size_t)v * W)), lane);
        cr[v] = _mm256_add_pd(xmin, _mm256_div_pd(_mm256_mul_pd(dx, j), wd)); /* crunch__mb_re */
        x[v] = cr[v]; /* z_1 = c */
        y[v] = ci;
        cnt[v] = _mm256_set1_epi64x(1);
        in[v] = _mm256_castsi256_pd(_mm256_set1_epi64x(-1)); /* every lane still iterating */
    }
    /* A lane's counter is 1 plus the number of k in [1, max_iter) with
     * z_1 .. z_k all inside: k for a lane that escapes at z_k, max_iter
     * for one that never does. */
    const int64_t max_iter = row->max_iter;
    int64_t k = 1;
    while (k < max_iter) {
        int64_t steps = max_iter - k < CRUNCH__MB_POLL ? max_iter - k : CRUNCH__MB_POLL;
        k += steps;
        for (int64_t s = 0; s < steps; s++) {
            __m256d any = _mm256_setzero_pd();
#pragma GCC unroll 8
            for (int v = 0; v < nv; v++) {
                __m256d x2 = _mm256_mul_pd(x[v], x[v]);
                __m256d y2 = _mm256_mul_pd(y[v], y[v]);
                __m256d t = _mm256_mul_pd(x[v], y[v]);
                CRUNCH__MB_ROUND(x2); /* never fused into the adds below */
                CRUNCH__MB_ROUND(y2);
                CRUNCH__MB_ROUND(t);
                /* not-greater, unordered: a NaN |z|^2 never escapes */
                __m256d inside = _mm256_cmp_pd(_mm256_add_pd(x2, y2), four, _CMP_NGT_UQ);
                in[v] = _mm256_and_pd(in[v], inside);
                cnt[v] = _mm256_sub_epi64(cnt[v], _mm256_castpd_si256(in[v])); /* -(-1) */
                x[v] = _mm256_add_pd(_mm256_sub_pd(x2, y2), cr[v]);
                __m256d t2 = _mm256_add_pd(t, t);
                CRUNCH__MB_ROUND(t2); /* exact; no 2*t fused with the add */
                y[v] = _mm256_add_pd(t2, ci);
                any = _mm256_or_pd(any, in[v]);
            }
            if (_mm256_testz_pd(any, any)) /* no sign bit set: every lane escaped */
                goto done;
        }
        if (crunch__canceled(ctx))
            return CRUNCH_ECANCELED;
    }
done:;
    /* The low 32 bits of each 64-bit counter (counts <= 2^31). */
    const __m256i low = _mm256_set_epi32(7, 5, 3, 1, 6, 4, 2, 0);
#pragma GCC unroll 8
    for (int v = 0; v < nv; v++) {
        __m256i c = _mm256_permutevar8x32_epi32(cnt[v], low);
        _mm_storeu_si128((__m128i *)(out + j0 + (size_t)v * W), _mm256_castsi256_si128(c));
    }
    return crunch__canceled(ctx) ? CRUNCH_ECANCELED : CRUNCH_OK; /* a poll per chunk */
}

CRUNCH_TARGET_AVX2 crunch_status crunch__mb_row_avx2(const crunch_ctx *ctx,
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
