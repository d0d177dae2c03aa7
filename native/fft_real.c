/*
 * fft_real.c - crunch_fft_f64 and crunch_fft_f32: the DFT of real rows,
 * the full complex spectrum, as numpy.fft.fft / ifft of a real array.
 *
 * An even length n = 2m goes through one complex DFT of half the length.
 * The row read as m complex numbers is z_j = x_2j + i x_2j+1 (its memory
 * is already laid out so: no copy), and from Z = DFT_m(z) one pass
 * separates the spectra of the even and the odd samples and combines them:
 *
 *   E_k = (Z_k + conj Z_{m-k}) / 2,   O_k = (Z_k - conj Z_{m-k}) / 2i,
 *   X_k = E_k + w^k O_k,   X_{k+m} = E_k - w^k O_k,   w = exp(-2 pi i / n)
 *
 * (Z_m is Z_0). Since E_{m-k} = conj E_k and O_{m-k} = conj O_k, the pair
 * (Z_k, Z_{m-k}) gives the four outputs X_k, X_{k+m}, X_{m-k} and
 * X_{n-k}: the pass reads each Z once and writes each X once. That is
 * half the transform's work of promoting x to complex first, and none of
 * the promoted copy. Odd lengths promote each row into y and transform it
 * in place.
 *
 * The inverse of a real row is the conjugate of its forward transform,
 * scaled: NumPy's norm is applied in the same pass.
 */
#include "internal.h"

#include <math.h>
#include <stdint.h>

/* 2 pi to double precision (M_PI is POSIX, not ISO C). */
#define TWO_PI 6.283185307179586476925286766559

/* twiddles holds w^k = exp(-2 pi i k / n) for k <= m/2 as two short tables
 * whose product gives it: w^k = hi[k / blk] * lo[k % blk]. Each factor is
 * computed directly (no recurrence), so w^k is off by about two roundings
 * whatever k, and the tables take O(sqrt n) sin/cos calls instead of n/4. */
typedef struct twiddles {
    double *lo, *hi; /* blk and nhi complex numbers, (re, im) pairs */
    size_t blk, nhi;
} twiddles;

static crunch_status twiddles_make(twiddles *t, size_t n, size_t *cap)
{
    const size_t count = n / 4 + 1; /* k = 0 .. m/2 */
    size_t blk = 1;
    while (blk * blk < count)
        blk <<= 1;
    t->blk = blk;
    t->nhi = (count + blk - 1) / blk;
    t->lo = crunch__scratch_get(2 * (blk + t->nhi) * sizeof(double), cap);
    if (t->lo == NULL)
        return CRUNCH_ENOMEM;
    t->hi = t->lo + 2 * blk;
    const double step = -TWO_PI / (double)n;
    for (size_t j = 0; j < blk; j++) {
        t->lo[2 * j] = cos(step * (double)j);
        t->lo[2 * j + 1] = sin(step * (double)j);
    }
    for (size_t j = 0; j < t->nhi; j++) {
        /* The angle's product is exact up to its one rounding: j * blk is
         * an integer below 2^53. */
        t->hi[2 * j] = cos(step * (double)(j * blk));
        t->hi[2 * j + 1] = sin(step * (double)(j * blk));
    }
    return CRUNCH_OK;
}

/* The combining pass of a row runs as parallel items of COMBINE_CHUNK
 * values of k each (four outputs per k): a partition fixed by n. Items of
 * one row read and write disjoint elements (k and m - k, k + m and n - k),
 * even where the row's half-length spectrum lies under its output. */
enum { COMBINE_CHUNK = 1 << 14 };

/* combine_call: one row's combining pass, shared by its items. */
typedef struct combine_call {
    const twiddles *tw;
    size_t m;
    const void *z;
    void *x;
    double s;
    int inv;
    crunch_ctx *ctx;
} combine_call;

/* norm_factor is NumPy's scale for a transform of length n in the given
 * direction: 1, 1/sqrt(n) or 1/n. */
static double norm_factor(int inv, crunch_fft_norm norm, size_t n)
{
    if (norm == CRUNCH_FFT_ORTHO)
        return 1.0 / sqrt((double)n);
    if ((norm == CRUNCH_FFT_BACKWARD) == (inv != 0))
        return 1.0 / (double)n;
    return 1.0;
}

/* check_real validates a call as crunch.h states. */
static crunch_status check_real(crunch_fft_norm norm, size_t batch, size_t n, const void *x,
                                const void *y, size_t es)
{
    if (n == 0 || (norm != CRUNCH_FFT_BACKWARD && norm != CRUNCH_FFT_ORTHO && norm != CRUNCH_FFT_FORWARD))
        return CRUNCH_EINVAL;
    if (batch == 0)
        return CRUNCH_OK;
    /* y's bytes, 2 * batch * n * es, must be representable with room to spare. */
    if (x == NULL || y == NULL || batch > SIZE_MAX / 4 / es / n)
        return CRUNCH_EINVAL;
    if (crunch__overlap_1d(x, batch * n, y, 2 * batch * n, es))
        return CRUNCH_EINVAL;
    return CRUNCH_OK;
}

/*
 * REAL_FFT(T, S, COMPLEX_FFT) defines crunch_fft_S for real element type T,
 * COMPLEX_FFT being the complex transform of the same precision. The
 * combining pass computes in double whatever T, rounding once per output.
 */
#define REAL_FFT(T, S, COMPLEX_FFT)                                                                \
    /* combine_S turns one row's half-length spectrum z (m complex) into its                       \
     * full spectrum x (2m complex), scaled by s and conjugated when inv,                          \
     * for k0 <= k < k1 (k <= m/2). z may be x itself (see the file comment                        \
     * for why that is safe); otherwise they do not overlap. */                                    \
    static crunch_status combine_##S(crunch__poll *pl, const twiddles *tw, size_t m, const T *z,   \
                                     T *x, double s, int inv, size_t k0, size_t k1)                \
    {                                                                                              \
        /* Conjugating subtracts from 0, not negates: 0 - (+0) is +0, so an exact                   \
         * zero imaginary part stays +0, as the complex transform leaves it. */                    \
        const size_t n = 2 * m;                                                                    \
        for (size_t k = k0; k < k1; k++) {                                                         \
            if (crunch__poll_work(pl, 4 * CRUNCH__POLL_ITEM)) /* four outputs, ~30 flops */       \
                return CRUNCH_ECANCELED;                                                           \
            const size_t j = k == 0 ? 0 : m - k;                                                   \
            const double ar = z[2 * k], ai = z[2 * k + 1], br = z[2 * j], bi = z[2 * j + 1];       \
            const double er = 0.5 * (ar + br), ei = 0.5 * (ai - bi); /* E_k */                     \
            const double orr = 0.5 * (ai + bi), oi = 0.5 * (br - ar); /* O_k */                    \
            const double *lo = tw->lo + 2 * (k % tw->blk), *hi = tw->hi + 2 * (k / tw->blk);       \
            const double wr = hi[0] * lo[0] - hi[1] * lo[1], wi = hi[0] * lo[1] + hi[1] * lo[0];   \
            const double tr = wr * orr - wi * oi, ti = wr * oi + wi * orr; /* w^k O_k */           \
            const double pr = s * (er + tr), pi = s * (ei + ti); /* X_k */                         \
            const double qr = s * (er - tr), qi = s * (ei - ti); /* X_{k+m} */                     \
            x[2 * k] = (T)pr;                                                                      \
            x[2 * k + 1] = (T)(inv ? 0.0 - pi : pi);                                                           \
            x[2 * (k + m)] = (T)qr;                                                                \
            x[2 * (k + m) + 1] = (T)(inv ? 0.0 - qi : qi);                                                     \
            if (k != 0 && j != k) { /* X_{m-k} = conj X_{k+m}, X_{n-k} = conj X_k */               \
                x[2 * j] = (T)qr;                                                                  \
                x[2 * j + 1] = (T)(inv ? qi : 0.0 - qi);                                                      \
                x[2 * (n - k)] = (T)pr;                                                            \
                x[2 * (n - k) + 1] = (T)(inv ? pi : 0.0 - pi);                                                \
            }                                                                                      \
        }                                                                                          \
        return CRUNCH_OK;                                                                          \
    }                                                                                              \
                                                                                                   \
    /* combine_item_S is item i of a row's combining pass (combine_call). */                       \
    static crunch_status combine_item_##S(void *arg, size_t i)                                     \
    {                                                                                              \
        const combine_call *cc = arg;                                                              \
        const size_t k0 = i * COMBINE_CHUNK, end = cc->m / 2 + 1;                                  \
        crunch__poll pl;                                                                           \
        crunch__poll_init(&pl, cc->ctx);                                                           \
        return combine_##S(&pl, cc->tw, cc->m, cc->z, cc->x, cc->s, cc->inv, k0,                   \
                           end - k0 < COMBINE_CHUNK ? end : k0 + COMBINE_CHUNK);                   \
    }                                                                                              \
                                                                                                   \
    CRUNCH_API crunch_status crunch_fft_##S(crunch_ctx *ctx, int inverse, crunch_fft_norm norm,    \
                                            size_t batch, size_t n, const T *x, T *y)              \
    {                                                                                              \
        crunch_status st = check_real(norm, batch, n, x, y, sizeof(T));                            \
        if (st != CRUNCH_OK)                                                                       \
            return st;                                                                             \
        if (crunch__canceled(ctx))                                                                 \
            return CRUNCH_ECANCELED;                                                               \
        if (batch == 0) {                                                                          \
            crunch__progress_begin(ctx, 0);                                                        \
            return CRUNCH_OK;                                                                      \
        }                                                                                          \
        crunch__poll pl;                                                                           \
        crunch__poll_init(&pl, ctx);                                                               \
        if (n % 2 != 0) { /* promote, then transform in place */                                   \
            const size_t total = batch * n;                                                        \
            for (size_t i = 0; i < total;) {                                                       \
                const size_t run = crunch__poll_span(&pl, 2, total - i);                           \
                for (size_t e = i + run; i < e; i++) {                                             \
                    y[2 * i] = x[i];                                                               \
                    y[2 * i + 1] = 0;                                                              \
                }                                                                                  \
                if (crunch__poll_work(&pl, (int64_t)(2 * run)))                                    \
                    return CRUNCH_ECANCELED;                                                       \
            }                                                                                      \
            return COMPLEX_FFT(ctx, inverse, norm, batch, n, y, y);                                \
        }                                                                                          \
        const size_t m = n / 2;                                                                    \
        /* Every row's half-length spectrum, packed at the start of y: row b's                     \
         * at complex offset b*m, below where its full spectrum goes (b*n). */                     \
        if ((st = COMPLEX_FFT(ctx, 0, CRUNCH_FFT_BACKWARD, batch, m, x, y)) != CRUNCH_OK)          \
            return st;                                                                             \
        twiddles tw;                                                                               \
        size_t cap;                                                                                \
        if ((st = twiddles_make(&tw, n, &cap)) != CRUNCH_OK)                                       \
            return st;                                                                             \
        const double s = norm_factor(inverse, norm, n);                                            \
        /* Last row first: row b's full spectrum covers only half-length                           \
         * spectra of rows after b (already combined) and, for row 0, its own. */                  \
        combine_call cc = {&tw, m, NULL, NULL, s, inverse, ctx};                                   \
        const size_t chunks = m / 2 / COMBINE_CHUNK + 1; /* k = 0 .. m/2 */                        \
        for (size_t b = batch; b-- > 0 && st == CRUNCH_OK;) {                                      \
            cc.z = y + 2 * m * b;                                                                  \
            cc.x = y + 2 * n * b;                                                                  \
            st = crunch__parallel(ctx, chunks, combine_item_##S, &cc);                             \
        }                                                                                          \
        crunch__scratch_put(tw.lo, cap);                                                           \
        return st;                                                                                 \
    }

REAL_FFT(double, f64, crunch_fft_c128)
REAL_FFT(float, f32, crunch_fft_c64)
