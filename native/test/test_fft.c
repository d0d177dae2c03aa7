/*
 * test_fft.c - tests of crunch_fft_c128 and crunch_fft_c64 on every SIMD
 * path this CPU has, against the DFT's definition summed in long double.
 *
 * One table of lengths (powers of two and their neighbours, small primes,
 * products of small primes, large primes that take Bluestein's path) is
 * run in both precisions, both directions and every norm, on random,
 * tiny and huge values, batched and in place. Up to FULL_MAX the whole
 * spectrum is compared with the O(n^2) reference; above, a sample of bins
 * (each O(n) to compute) is. The error bound is relative to the row's
 * 2-norm and grows with log2(n), as an FFT's does.
 *
 * Build and run (from the repository root):
 *   gcc -std=gnu11 -O2 -g -Wall -Wextra -Werror -Iinclude -Inative \
 *       native/core.c native/fft*.c native/test/test_fft.c -lpthread -lm \
 *       -o /tmp/test_fft && /tmp/test_fft
 */
#include "crunch.h"
#include "check.h"

#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Lengths up to this get the full O(n^2) reference; above, SPOT bins: the
 * ends, the middle and random ones. Under the sanitizers, which look for
 * memory errors (the same kernels' answers are checked without them), only
 * the ends and the middle: a random bin's reference walks the roots with a
 * random stride, and at 2^20 the twelve bins took five minutes there. */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_UNDEFINED__)
enum { FULL_MAX = 1100, SPOT = 3 };
#else
enum { FULL_MAX = 1100, SPOT = 12 };
#endif

/* Errors are at most TOL_C * eps * (log2(n) + 1) * scale * ||row||_2 per
 * bin. An FFT's rms error is about eps * log2(n) * ||X||_2 / sqrt(n), which
 * is eps * log2(n) * scale * ||x||_2 by Parseval; TOL_C leaves room for
 * the worst bin and for Bluestein's three transforms. main prints the
 * largest ratio seen, so the margin stays visible. */
#define TOL_C 8.0

/* The guard after y holds check_sentinel(), so a stray write shows up. */
enum { GUARD = 16 };

static double worst_ratio[2]; /* largest error / (eps log2 n scale ||x||), per precision */

/* roots: cos and sin of 2 pi t / n for t < n, in long double. */
typedef struct roots {
    size_t n;
    long double *c, *s;
} roots;

static int roots_init(roots *r, size_t n)
{
    r->n = n;
    r->c = malloc(n * sizeof *r->c);
    r->s = malloc(n * sizeof *r->s);
    if (r->c == NULL || r->s == NULL)
        return 0;
    for (size_t t = 0; t < n; t++) {
        long double a = 6.283185307179586476925286766559005768L * (long double)t / (long double)n;
        r->c[t] = cosl(a);
        r->s[t] = sinl(a);
    }
    return 1;
}

static void roots_free(roots *r)
{
    free(r->c);
    free(r->s);
}

/* dft_bin computes bin k of the unnormalised DFT of x[0..n) (interleaved
 * doubles), forward or inverse, in long double: the reference. */
static void dft_bin(const roots *r, const double *x, size_t k, int inv, long double *re,
                    long double *im)
{
    long double sr = 0, si = 0;
    size_t t = 0; /* j*k mod n, kept in range by one subtraction per step */
    const size_t n = r->n, kk = k % n;
    for (size_t j = 0; j < n; j++) {
        long double c = r->c[t], s = inv ? r->s[t] : -r->s[t];
        long double xr = x[2 * j], xi = x[2 * j + 1];
        sr += xr * c - xi * s;
        si += xr * s + xi * c;
        t += kk;
        if (t >= n)
            t -= n;
    }
    *re = sr;
    *im = si;
}

static double norm_scale(crunch_fft_norm norm, int inv, size_t n)
{
    if (norm == CRUNCH_FFT_ORTHO)
        return 1.0 / sqrt((double)n);
    if ((norm == CRUNCH_FFT_FORWARD) != inv)
        return 1.0 / (double)n;
    return 1.0;
}

static const char *norm_name(crunch_fft_norm norm)
{
    return norm == CRUNCH_FFT_ORTHO ? "ortho" : norm == CRUNCH_FFT_FORWARD ? "forward" : "backward";
}

/* Value kinds of a case's input. */
enum { VAL_RANDOM, VAL_TINY, VAL_HUGE, VAL_SPECIAL };

/* fcase: one length, batch and value kind, run on every path, precision,
 * direction and norm. VAL_SPECIAL makes row 1 hold a NaN and row 2 an
 * Inf (batch >= 3): those rows must come out all non-finite, the others
 * right. */
typedef struct fcase {
    size_t n, batch;
    int values;
    int inplace;
} fcase;

/* value_scale gives the magnitude of a value kind in a precision: tiny
 * and huge stay normal numbers through an n-point transform. */
static double value_scale(int values, int f32)
{
    if (values == VAL_TINY)
        return f32 ? 1e-30 : 1e-300;
    if (values == VAL_HUGE)
        return f32 ? 1e30 : 1e300;
    return 1;
}

/* run_case checks one case (see fcase). */
static void run_case(const fcase *fc, uint64_t seed)
{
    const size_t n = fc->n, batch = fc->batch, len = 2 * n * batch;
    const int full = n <= FULL_MAX;
    const size_t nbins = full ? n : SPOT;
    double *xd = malloc(len * sizeof *xd), *xq = malloc(len * sizeof *xq);
    float *xf = malloc(len * sizeof *xf);
    double *yd = malloc((len + GUARD) * sizeof *yd);
    float *yf = malloc((len + GUARD) * sizeof *yf);
    size_t *bins = malloc(nbins * sizeof *bins);
    long double *ref = malloc(2 * nbins * batch * sizeof *ref);
    roots r = {0};
    if (!xd || !xq || !xf || !yd || !yf || !bins || !ref || !roots_init(&r, n)) {
        CHECK(0, "out of memory in the test (n=%zu)", n);
        goto out;
    }
    uint64_t s = seed;
    for (size_t k = 0; k < nbins; k++) { /* all bins, or the ends, the middle and random ones */
        const size_t any = (size_t)((check_rnd11(&s) + 1) / 2 * (double)n) % n;
        bins[k] = full ? k : k == 0 ? 0 : k == 1 ? n - 1 : k == 2 ? n / 2 : any;
    }

    for (int f32 = 0; f32 < 2; f32++) {
        const double vs = value_scale(fc->values, f32);
        for (size_t i = 0; i < len; i++) {
            xd[i] = check_rnd11(&s) * vs;
            xf[i] = (float)xd[i];
            xq[i] = f32 ? (double)xf[i] : xd[i]; /* the values crunch sees, for the reference */
        }
        if (fc->values == VAL_SPECIAL && batch >= 3) {
            size_t j = n / 3; /* somewhere inside the row */
            xd[2 * (n + j)] = NAN, xf[2 * (n + j)] = NAN, xq[2 * (n + j)] = NAN;
            xd[2 * (2 * n + j) + 1] = -INFINITY, xf[2 * (2 * n + j) + 1] = -INFINITY;
            xq[2 * (2 * n + j) + 1] = -INFINITY;
        }
        for (int inv = 0; inv < 2; inv++) {
            /* reference bins for every row, unscaled, and each row's norm */
            for (size_t b = 0; b < batch; b++)
                for (size_t k = 0; k < nbins; k++)
                    dft_bin(&r, xq + 2 * n * b, bins[k], inv, &ref[2 * (b * nbins + k)],
                            &ref[2 * (b * nbins + k) + 1]);
            for (int ii = 0; ii < CHECK_N_ISAS; ii++) {
                if (!check_isa_available("test_fft", check_isas[ii]))
                    continue;
                /* every norm for small n, one (cycling) for large */
                for (int nm = 0; nm < 3; nm++) {
                    if (n > 4096 && nm != (int)((seed + (uint64_t)inv) % 3))
                        continue;
                    crunch_fft_norm norm = (crunch_fft_norm)nm;
                    const double scale = norm_scale(norm, inv, n);
                    for (size_t i = 0; i < len + GUARD; i++) {
                        if (i < len && fc->inplace)
                            yd[i] = xd[i], yf[i] = xf[i];
                        else
                            yd[i] = check_sentinel(), yf[i] = (float)check_sentinel();
                    }
                    crunch_ctx ctx;
                    crunch_ctx_init(&ctx);
                    crunch_ctx_set_isa(&ctx, check_isas[ii]);
                    crunch_status st;
                    if (f32)
                        st = crunch_fft_c64(&ctx, inv, norm, batch, n, fc->inplace ? yf : xf, yf);
                    else
                        st = crunch_fft_c128(&ctx, inv, norm, batch, n, fc->inplace ? yd : xd, yd);
                    char desc[160];
                    snprintf(desc, sizeof desc, "%s %s %s norm=%s n=%zu batch=%zu values=%d%s",
                             crunch_isa_name(check_isas[ii]), f32 ? "c64" : "c128",
                             inv ? "inverse" : "forward", norm_name(norm), n, batch, fc->values,
                             fc->inplace ? " in place" : "");
                    CHECK(st == CRUNCH_OK, "status %s: %s", crunch_strerror(st), desc);
                    if (st != CRUNCH_OK)
                        continue;
                    int64_t done, total;
                    crunch_ctx_progress(&ctx, &done, &total);
                    CHECK(done == total && total > 0 && total % (int64_t)batch == 0,
                          "progress %lld/%lld: %s", (long long)done, (long long)total, desc);

                    const double eps = f32 ? 0x1p-24 : 0x1p-53;
                    for (size_t b = 0; b < batch; b++) {
                        const int special = fc->values == VAL_SPECIAL && (b == 1 || b == 2);
                        long double nx = 0;
                        for (size_t j = 0; j < 2 * n; j++)
                            nx += (long double)xq[2 * n * b + j] * xq[2 * n * b + j];
                        const double tol_unit =
                            eps * (log2((double)n) + 1) * scale * (double)sqrtl(nx);
                        int bad = 0;
                        for (size_t k = 0; k < nbins && !bad; k++) {
                            size_t at = 2 * (n * b + bins[k]);
                            double gr = f32 ? yf[at] : yd[at], gi = f32 ? yf[at + 1] : yd[at + 1];
                            if (special) {
                                bad = isfinite(gr) && isfinite(gi);
                                CHECK(!bad, "row %zu holds a NaN or Inf, but bin %zu = %g%+gi: %s",
                                      b, bins[k], gr, gi, desc);
                                continue;
                            }
                            long double wr = ref[2 * (b * nbins + k)] * scale;
                            long double wi = ref[2 * (b * nbins + k) + 1] * scale;
                            double err = (double)hypotl(gr - wr, gi - wi);
                            double ratio =
                                tol_unit > 0 ? err / tol_unit : (err == 0 ? 0 : INFINITY);
                            if (ratio > worst_ratio[f32])
                                worst_ratio[f32] = ratio;
                            bad = !(ratio <= TOL_C); /* NaN too */
                            CHECK(!bad,
                                  "row %zu bin %zu = %.17g%+.17gi, want %.17Lg%+.17Lgi "
                                  "(error %.3g = %.1f units): %s",
                                  b, bins[k], gr, gi, wr, wi, err, ratio, desc);
                        }
                    }
                    int touched = 0;
                    for (size_t i = len; i < len + GUARD; i++) {
                        double g = f32 ? (double)yf[i] : yd[i];
                        touched |= !isnan(g);
                        if (!f32) {
                            uint64_t bits;
                            memcpy(&bits, &yd[i], sizeof bits);
                            touched |= bits != CHECK_SENTINEL_BITS;
                        }
                    }
                    CHECK(!touched, "the guard after y was written: %s", desc);
                }
            }
        }
    }
out:
    roots_free(&r);
    free(xd);
    free(xq);
    free(xf);
    free(yd);
    free(yf);
    free(bins);
    free(ref);
}

/* test_table runs the shared case table. */
static void test_table(void)
{
    static const size_t sizes[] = {
        1,    2,    3,    4,    5,    6,    7,    8,    9,    10,   11,   12,   13,  15,
        16,   17,   24,   25,   27,   31,   32,   49,   60,   61,   64,   67,   97,  100,
        127,  128,  243,  256,  343,  360,  512,  625,  720,  1000, 1009, 1023, 1024, 1025,
        2048, 3125, 4096, 4099, 6561, 8192, 65536, 65537,
    };
    uint64_t seed = 1;
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++, seed++) {
        const size_t n = sizes[i];
        fcase c = {n, 1, VAL_RANDOM, 0};
        run_case(&c, seed);
        if (n <= 4099) { /* batches, in place, extreme and special values */
            fcase b = {n, 3, (int)(i % 3), (int)(i % 2)};
            run_case(&b, seed * 7);
            fcase sp = {n, 3, VAL_SPECIAL, (int)(i % 2 == 0)};
            run_case(&sp, seed * 11);
        }
    }
    /* 2^20: one forward random row, spot-checked */
    fcase big = {1 << 20, 1, VAL_RANDOM, 1};
    run_case(&big, 99);
    /* Either side of the four-step threshold (8 MiB: 2^19 complex doubles,
     * 2^20 complex floats), a length above it that is not a power of two
     * (which keeps the one-pass form), and the split form with a batch, in
     * place, with extreme values and with NaN and Inf rows. */
    static const fcase split[] = {
        {1 << 18, 1, VAL_RANDOM, 0}, {1 << 19, 1, VAL_RANDOM, 0}, {3 << 18, 1, VAL_RANDOM, 1},
        {1 << 19, 3, VAL_SPECIAL, 1}, {1 << 19, 2, VAL_HUGE, 0},  {1 << 21, 1, VAL_TINY, 0},
    };
    /* Not under the sanitizers (several times slower, and the reference
     * bins in long double are O(n) each): there the 2^20 row above runs
     * the four-step code of both precisions, and the table would take a
     * quarter of an hour. */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_UNDEFINED__)
    const size_t nsplit = 0;
#else
    const size_t nsplit = sizeof split / sizeof split[0];
#endif
    for (size_t i = 0; i < nsplit; i++)
        run_case(&split[i], 200 + i);
}

/* test_roundtrip: ifft(fft(x)) == x to rounding, for backward norm (the
 * inverse divides by n) and ortho, through the same buffer in place. */
static void test_roundtrip(void)
{
    static const size_t sizes[] = {1, 7, 60, 1024, 1031, 4096 + 1, 65537};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        size_t n = sizes[i];
        double *x = malloc(2 * n * sizeof *x), *y = malloc(2 * n * sizeof *y);
        if (!x || !y) {
            CHECK(0, "out of memory in the test");
            free(x), free(y);
            return;
        }
        uint64_t s = n;
        for (size_t j = 0; j < 2 * n; j++)
            x[j] = check_rnd11(&s);
        for (int ii = 0; ii < CHECK_N_ISAS; ii++) {
            if (!check_isa_available("test_fft", check_isas[ii]))
                continue;
            for (int nm = 0; nm < 2; nm++) {
                crunch_ctx ctx;
                crunch_ctx_init(&ctx);
                crunch_ctx_set_isa(&ctx, check_isas[ii]);
                memcpy(y, x, 2 * n * sizeof *y);
                crunch_status st = crunch_fft_c128(&ctx, 0, (crunch_fft_norm)nm, 1, n, y, y);
                if (st == CRUNCH_OK)
                    st = crunch_fft_c128(&ctx, 1, (crunch_fft_norm)nm, 1, n, y, y);
                double worst = 0;
                for (size_t j = 0; j < 2 * n; j++)
                    worst = fmax(worst, fabs(y[j] - x[j]));
                CHECK(st == CRUNCH_OK && worst < 1e-13 * (log2((double)n) + 1),
                      "%s round trip n=%zu norm=%d: %s, error %g", crunch_isa_name(check_isas[ii]), n,
                      nm, crunch_strerror(st), worst);
            }
        }
        free(x);
        free(y);
    }
}

/* test_paths_agree: every SIMD path within rounding of the generic one,
 * on lengths where the SIMD kernels take every slice form (s == 1 with a
 * scalar tail, s >= W with and without a tail). */
static void test_paths_agree(void)
{
    static const size_t sizes[] = {8, 24, 40, 72, 96, 104, 200, 264, 1000, 1536, 4096, 6144, 98304};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        size_t n = sizes[i];
        double *x = malloc(2 * n * sizeof *x), *g = malloc(2 * n * sizeof *g);
        double *y = malloc(2 * n * sizeof *y);
        float *xf = malloc(2 * n * sizeof *xf), *gf = malloc(2 * n * sizeof *gf);
        float *yf = malloc(2 * n * sizeof *yf);
        if (!x || !g || !y || !xf || !gf || !yf) {
            CHECK(0, "out of memory in the test");
            goto next;
        }
        uint64_t s = 3 * n;
        double nx = 0;
        for (size_t j = 0; j < 2 * n; j++) {
            x[j] = check_rnd11(&s);
            xf[j] = (float)x[j];
            nx += x[j] * x[j];
        }
        for (int inv = 0; inv < 2; inv++) {
            crunch_ctx ctx;
            crunch_ctx_init(&ctx);
            crunch_ctx_set_isa(&ctx, CRUNCH_ISA_GENERIC);
            crunch_fft_c128(&ctx, inv, CRUNCH_FFT_BACKWARD, 1, n, x, g);
            crunch_fft_c64(&ctx, inv, CRUNCH_FFT_BACKWARD, 1, n, xf, gf);
            for (int ii = 1; ii < CHECK_N_ISAS; ii++) {
                if (!check_isa_available("test_fft", check_isas[ii]))
                    continue;
                crunch_ctx_init(&ctx);
                crunch_ctx_set_isa(&ctx, check_isas[ii]);
                crunch_status st = crunch_fft_c128(&ctx, inv, CRUNCH_FFT_BACKWARD, 1, n, x, y);
                crunch_status stf = crunch_fft_c64(&ctx, inv, CRUNCH_FFT_BACKWARD, 1, n, xf, yf);
                double d = 0, df = 0;
                for (size_t j = 0; j < 2 * n; j++) {
                    d = fmax(d, fabs(y[j] - g[j]));
                    df = fmax(df, fabs((double)yf[j] - gf[j]));
                }
                double unit = (log2((double)n) + 1) * sqrt(nx);
                CHECK(st == CRUNCH_OK && d <= 2 * TOL_C * 0x1p-53 * unit,
                      "%s c128 n=%zu inv=%d differs from generic by %g",
                      crunch_isa_name(check_isas[ii]), n, inv, d);
                CHECK(stf == CRUNCH_OK && df <= 2 * TOL_C * 0x1p-24 * unit,
                      "%s c64 n=%zu inv=%d differs from generic by %g",
                      crunch_isa_name(check_isas[ii]), n, inv, df);
            }
        }
    next:
        free(x), free(g), free(y), free(xf), free(gf), free(yf);
    }
}

/* test_bad_args: every invalid argument gives CRUNCH_EINVAL; batch 0 is a
 * no-op that reads nothing. */
static void test_bad_args(void)
{
    double x[16] = {0}, y[16] = {0};
    float xf[16] = {0}, yf[16] = {0};
#define EXPECT(want, call)                                                                    \
    do {                                                                                      \
        crunch_status st_ = (call);                                                           \
        CHECK(st_ == (want), "got %s, want %s: %s", crunch_strerror(st_),                   \
              crunch_strerror(want), #call);                                                  \
    } while (0)
    EXPECT(CRUNCH_EINVAL, crunch_fft_c128(NULL, 0, CRUNCH_FFT_BACKWARD, 1, 0, x, y));
    EXPECT(CRUNCH_EINVAL, crunch_fft_c64(NULL, 1, CRUNCH_FFT_ORTHO, 0, 0, xf, yf));
    EXPECT(CRUNCH_EINVAL, crunch_fft_c128(NULL, 0, (crunch_fft_norm)3, 1, 4, x, y));
    EXPECT(CRUNCH_EINVAL, crunch_fft_c128(NULL, 0, (crunch_fft_norm)-1, 1, 4, x, y));
    EXPECT(CRUNCH_EINVAL, crunch_fft_c128(NULL, 0, CRUNCH_FFT_BACKWARD, 1, 4, NULL, y));
    EXPECT(CRUNCH_EINVAL, crunch_fft_c64(NULL, 0, CRUNCH_FFT_BACKWARD, 2, 4, xf, NULL));
    EXPECT(CRUNCH_EINVAL, crunch_fft_c128(NULL, 0, CRUNCH_FFT_BACKWARD, SIZE_MAX / 2, 4, x, y));
    EXPECT(CRUNCH_EINVAL, crunch_fft_c128(NULL, 0, CRUNCH_FFT_BACKWARD, 1, SIZE_MAX / 16, x, y));
    EXPECT(CRUNCH_EINVAL,
           crunch_fft_c64(NULL, 0, CRUNCH_FFT_BACKWARD, 0, SIZE_MAX / 8, NULL, NULL));
    EXPECT(CRUNCH_OK, crunch_fft_c128(NULL, 0, CRUNCH_FFT_BACKWARD, 0, 4, NULL, NULL));
    EXPECT(CRUNCH_OK, crunch_fft_c64(NULL, 1, CRUNCH_FFT_FORWARD, 0, 1000003, NULL, NULL));
    EXPECT(CRUNCH_OK, crunch_fft_c128(NULL, 1, CRUNCH_FFT_FORWARD, 2, 4, x, y));
#undef EXPECT
}

/* test_null_ctx: a NULL ctx works; the FFT of [1, 2, 3, 4] is
 * [10, -2+2i, -2, -2-2i], exactly. */
static void test_null_ctx(void)
{
    double x[8] = {1, 0, 2, 0, 3, 0, 4, 0}, y[8];
    const double want[8] = {10, 0, -2, 2, -2, 0, -2, -2};
    crunch_status st = crunch_fft_c128(NULL, 0, CRUNCH_FFT_BACKWARD, 1, 4, x, y);
    CHECK(st == CRUNCH_OK && memcmp(y, want, sizeof y) == 0,
          "NULL ctx: %s, y = [%g%+gi %g%+gi %g%+gi %g%+gi]",
          crunch_strerror(st), y[0], y[1], y[2], y[3], y[4], y[5], y[6], y[7]);
}

/* test_cancel_before: a ctx cancelled before the call stops it at once. */
static void test_cancel_before(void)
{
    double x[64] = {0};
    float xf[64] = {0};
    crunch_ctx ctx;
    crunch_ctx_init(&ctx);
    crunch_ctx_cancel(&ctx);
    CHECK(crunch_fft_c128(&ctx, 0, CRUNCH_FFT_BACKWARD, 2, 16, x, x) == CRUNCH_ECANCELED,
          "pre-cancelled c128 call did not stop");
    CHECK(crunch_fft_c64(&ctx, 1, CRUNCH_FFT_ORTHO, 4, 16, xf, xf) == CRUNCH_ECANCELED,
          "pre-cancelled c64 call did not stop");
}

/* test_cancel_during: another thread cancels a long batch of Bluestein
 * rows (n = 65537, 48 rows: a second or more on the generic path); the
 * call must stop within a couple of passes. */
static void test_cancel_during(void)
{
    const size_t n = 65537, batch = 48;
    double *x = calloc(2 * n * batch, sizeof *x);
    if (x == NULL) {
        CHECK(0, "out of memory in the test");
        return;
    }
    for (int ii = 0; ii < CHECK_N_ISAS; ii++) {
        if (!check_isa_available("test_fft", check_isas[ii]))
            continue;
        crunch_ctx ctx;
        crunch_ctx_init(&ctx);
        crunch_ctx_set_isa(&ctx, check_isas[ii]);
        check_canceller cn = {&ctx, 0.002, 0, 0};
        pthread_t th;
        if (pthread_create(&th, NULL, check_canceller_thread, &cn) != 0) {
            CHECK(0, "pthread_create failed");
            continue;
        }
        crunch_status st = crunch_fft_c128(&ctx, 0, CRUNCH_FFT_BACKWARD, batch, n, x, x);
        double ret = check_now_s();
        pthread_join(th, NULL);
        int64_t done, total;
        crunch_ctx_progress(&ctx, &done, &total);
        double lag_ms = (ret - cn.when) * 1e3;
        CHECK(st == CRUNCH_ECANCELED, "%s: cancelled call gave %s (done %lld of %lld)",
              crunch_isa_name(check_isas[ii]), crunch_strerror(st), (long long)done,
              (long long)total);
        if (st == CRUNCH_ECANCELED) {
            /* polled before every pass: at most the pass in flight and a
             * pointwise step finish after the cancel */
            CHECK(done - cn.done_at <= 3, "%s: %lld passes after the cancel",
                  crunch_isa_name(check_isas[ii]), (long long)(done - cn.done_at));
            CHECK(lag_ms < 500, "%s: returned %.1f ms after the cancel",
                  crunch_isa_name(check_isas[ii]), lag_ms);
            CHECK(done > 0 && done < total, "%s: progress %lld of %lld", crunch_isa_name(check_isas[ii]),
                  (long long)done, (long long)total);
        }
        printf("test_fft: cancel %s: returned %.2f ms and %lld passes after the cancel, at %.1f%%\n",
               crunch_isa_name(check_isas[ii]), lag_ms, (long long)(done - cn.done_at),
               total > 0 ? 100.0 * (double)done / (double)total : 0.0);
    }
    free(x);
}

/* run_threads runs fn on n threads at once (argument: the thread's index)
 * and checks that each returned NULL, where non-NULL means a wrong or
 * failed transform (where says on what, for the message). */
static void run_threads(int n, void *(*fn)(void *), const char *where)
{
    pthread_t th[8];
    if (n > 8) {
        CHECK(0, "run_threads: %d threads, at most 8", n);
        return;
    }
    for (int t = 0; t < n; t++)
        if (pthread_create(&th[t], NULL, fn, (void *)(intptr_t)t) != 0) {
            CHECK(0, "pthread_create failed");
            n = t;
            break;
        }
    for (int t = 0; t < n; t++) {
        void *bad;
        pthread_join(th[t], &bad);
        CHECK(bad == NULL, "thread %d saw a wrong or failed transform%s", t, where);
    }
}

/* The concurrency test: threads transform many lengths (more than the
 * cache holds, so plans are evicted and rebuilt while others use them)
 * and compare bit for bit with a single-threaded result; one thread also
 * clears the cache now and then. */
enum { CC_THREADS = 4, CC_ROUNDS = 3, CC_SIZES = 48 };
static size_t cc_size(int i) { return (size_t)(i < 40 ? 100 + 7 * i : 4000 + 1013 * i); }
static double *cc_in, *cc_want[CC_SIZES];

static void *cc_thread(void *arg)
{
    int id = (int)(intptr_t)arg, bad = 0;
    for (int round = 0; round < CC_ROUNDS; round++)
        for (int k = 0; k < CC_SIZES; k++) {
            int i = (k * 7 + id * 13 + round) % CC_SIZES; /* each thread its own order */
            size_t n = cc_size(i);
            double *y = malloc(2 * n * sizeof *y);
            if (y == NULL)
                return (void *)1;
            if (id == 0 && k % 16 == 0)
                crunch_fft_cache_clear();
            crunch_status st = crunch_fft_c128(NULL, i & 1, CRUNCH_FFT_BACKWARD, 1, n, cc_in, y);
            bad |= st != CRUNCH_OK || memcmp(y, cc_want[i], 2 * n * sizeof *y) != 0;
            free(y);
        }
    return (void *)(intptr_t)bad;
}

static void test_concurrent(void)
{
    size_t maxn = cc_size(CC_SIZES - 1);
    cc_in = malloc(2 * maxn * sizeof *cc_in);
    if (cc_in == NULL) {
        CHECK(0, "out of memory in the test");
        return;
    }
    uint64_t s = 5;
    for (size_t j = 0; j < 2 * maxn; j++)
        cc_in[j] = check_rnd11(&s);
    for (int i = 0; i < CC_SIZES; i++) {
        size_t n = cc_size(i);
        cc_want[i] = malloc(2 * n * sizeof *cc_want[i]);
        if (cc_want[i] == NULL ||
            crunch_fft_c128(NULL, i & 1, CRUNCH_FFT_BACKWARD, 1, n, cc_in, cc_want[i]) != CRUNCH_OK)
            CHECK(0, "reference transform n=%zu failed", n);
    }
    run_threads(CC_THREADS, cc_thread, "");
    for (int i = 0; i < CC_SIZES; i++)
        free(cc_want[i]);
    free(cc_in);
}

/* Work buffers kept between calls (crunch_work_buffers_release): threads
 * transforming their own rows at once, again and again, each get a
 * buffer of their own (a shared one would mix their rows), and releasing
 * unmaps what was kept. */
enum { WB_THREADS = 3, WB_ROUNDS = 4 };
static const size_t WB_N = (size_t)1 << 19; /* 8 MiB of work rows: mapped, not malloc'ed */
static double *wb_in[WB_THREADS], *wb_want[WB_THREADS];

static void *wb_thread(void *arg)
{
    int id = (int)(intptr_t)arg, bad = 0;
    double *y = malloc(2 * WB_N * sizeof *y);
    if (y == NULL)
        return (void *)1;
    for (int round = 0; round < WB_ROUNDS; round++) {
        crunch_status st = crunch_fft_c128(NULL, 0, CRUNCH_FFT_BACKWARD, 1, WB_N, wb_in[id], y);
        bad |= st != CRUNCH_OK || memcmp(y, wb_want[id], 2 * WB_N * sizeof *y) != 0;
    }
    free(y);
    return (void *)(intptr_t)bad;
}

static void test_work_buffers(void)
{
    uint64_t s = 11;
    for (int t = 0; t < WB_THREADS; t++) {
        wb_in[t] = malloc(2 * WB_N * sizeof *wb_in[t]);
        wb_want[t] = malloc(2 * WB_N * sizeof *wb_want[t]);
        if (wb_in[t] == NULL || wb_want[t] == NULL) {
            CHECK(0, "out of memory in the test");
            return;
        }
        for (size_t j = 0; j < 2 * WB_N; j++)
            wb_in[t][j] = check_rnd11(&s);
        /* each reference made with nothing kept: a fresh buffer */
        crunch_work_buffers_release();
        CHECK(crunch_fft_c128(NULL, 0, CRUNCH_FFT_BACKWARD, 1, WB_N, wb_in[t], wb_want[t]) ==
                  CRUNCH_OK,
              "reference transform %d failed", t);
    }
    run_threads(WB_THREADS, wb_thread, " on kept buffers");
#if defined(__linux__)
    CHECK(crunch_work_buffers_release() > 0, "no work buffer was kept after the transforms");
#endif
    CHECK(crunch_work_buffers_release() == 0, "a second release found buffers still kept");
    for (int t = 0; t < WB_THREADS; t++) {
        free(wb_in[t]);
        free(wb_want[t]);
    }
}

int main(void)
{
    printf("test_fft: best path %s\n", crunch_isa_name(crunch_isa_best()));
    static const struct {
        const char *name;
        void (*fn)(void);
    } tests[] = {
        {"null_ctx", test_null_ctx},         {"bad_args", test_bad_args},
        {"table", test_table},               {"roundtrip", test_roundtrip},
        {"paths_agree", test_paths_agree},   {"cancel_before", test_cancel_before},
        {"cancel_during", test_cancel_during}, {"concurrent", test_concurrent},
        {"work_buffers", test_work_buffers},
    };
    for (size_t i = 0; i < sizeof tests / sizeof tests[0]; i++) {
        double t0 = check_now_s();
        tests[i].fn();
        printf("test_fft: %s %.2f s\n", tests[i].name, check_now_s() - t0);
    }
    crunch_fft_cache_clear(); /* nothing cached is left for leak checkers */
    crunch_work_buffers_release();
    printf("test_fft: largest error, in units of eps*log2(n)*scale*||x||: "
           "c128 %.2f, c64 %.2f (limit %.0f)\n",
           worst_ratio[0], worst_ratio[1], TOL_C);
    return check_exit("test_fft");
}
