/*
 * test_fft_real.c - tests of crunch_fft_f64 and crunch_fft_f32 (real rows,
 * full complex spectrum) on every SIMD path this CPU has: against the
 * DFT's definition summed in long double for short rows, and against the
 * complex transform of the promoted rows (crunch_fft_c128, itself tested
 * against the definition in test_fft.c) for every length, both directions,
 * every norm, batched, on random, tiny, huge and NaN values.
 *
 * Build and run (from the repository root):
 *   gcc -std=gnu11 -O2 -g -Wall -Wextra -Werror -Iinclude -Inative \
 *       native/core.c native/scratch.c native/bigbuf.c native/fft*.c \
 *       native/test/test_fft_real.c -lpthread -lm -o /tmp/t && /tmp/t
 */
#include "crunch.h"
#include "check.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Errors are at most TOL_C * eps * (log2(n) + 1) * scale * ||row||_2 per
 * bin, the bound test_fft.c holds the complex transform to. */
#define TOL_C 8.0

/* Lengths: 1 and 2, odd (promoted) and even (halved) neighbours, powers of
 * two, halves that are odd or prime (Bluestein's path for 2 * 1031), and
 * halves that take the four-step form (2^19 complex doubles, 2^20 complex
 * floats) or, for f32 at 2^20, fall just short of it. */
static const size_t lengths[] = {1,  2,  3,   4,   5,   6,   7,   8,    9,    10,   12,   15,   16,
                                 17, 30, 31,  32,  33,  62,  64,  97,   100,  128,  254,  255,  256,
                                 510, 1000, 1024, 1031, 2062, 4096, 6000, 65536, 65538,
                                 1 << 20, 1 << 21};

enum { VALUES_RANDOM, VALUES_TINY, VALUES_HUGE, VALUES_NAN, N_VALUES };

static double value_scale(int values, int f32)
{
    switch (values) {
    case VALUES_TINY:
        return f32 ? 0x1p-100 : 0x1p-900;
    case VALUES_HUGE:
        return f32 ? 0x1p100 : 0x1p900;
    }
    return 1.0;
}

static double norm_scale(crunch_fft_norm norm, int inv, size_t n)
{
    if (norm == CRUNCH_FFT_ORTHO)
        return 1.0 / sqrt((double)n);
    if ((norm == CRUNCH_FFT_BACKWARD) == (inv != 0))
        return 1.0 / (double)n;
    return 1.0;
}

/* dft_bin is bin k of the DFT of the real row x[0..n), unnormalised, in
 * long double: the reference for short rows. */
static void dft_bin(const double *x, size_t n, size_t k, int inv, long double *re, long double *im)
{
    long double sr = 0, si = 0;
    for (size_t j = 0; j < n; j++) {
        long double a = 6.283185307179586476925286766559005768L * (long double)((j * k) % n) / (long double)n;
        sr += x[j] * cosl(a);
        si += (inv ? 1 : -1) * x[j] * sinl(a);
    }
    *re = sr;
    *im = si;
}

/* run_case checks one (length, batch, direction, norm, values, precision)
 * on path isa. */
static void run_case(crunch_isa isa, size_t n, size_t batch, int inv, crunch_fft_norm norm, int values,
                     int f32, uint64_t *seed)
{
    const size_t total = batch * n;
    double *x = malloc((total + 1) * sizeof *x);        /* the rows, as doubles */
    double *xc = malloc((2 * total + 1) * sizeof *xc);  /* promoted, for the complex reference */
    double *want = malloc((2 * total + 1) * sizeof *want);
    double *got = malloc((2 * total + 1) * sizeof *got);
    float *xf = malloc((total + 1) * sizeof *xf);
    float *gotf = malloc((2 * total + 1) * sizeof *gotf);
    if (!x || !xc || !want || !got || !xf || !gotf) {
        CHECK(0, "out of memory");
        goto out;
    }
    const double vs = value_scale(values, f32);
    for (size_t i = 0; i < total; i++) {
        double v = check_rnd11(seed) * vs;
        if (f32) {
            xf[i] = (float)v;
            v = xf[i]; /* the reference transforms what the kernel sees */
        }
        x[i] = v;
    }
    if (values == VALUES_NAN && total > 0) {
        x[n / 2] = NAN; /* row 0 only */
        xf[n / 2] = NAN;
    }
    for (size_t i = 0; i < total; i++) {
        xc[2 * i] = x[i];
        xc[2 * i + 1] = 0;
    }
    crunch_ctx ctx;
    crunch_ctx_init(&ctx);
    crunch_ctx_set_isa(&ctx, isa);
    /* The reference: the complex transform of the promoted rows, in double
     * (for f32 too: its error is far below float's). */
    crunch_status st = crunch_fft_c128(NULL, inv, norm, batch, n, xc, want);
    CHECK(st == CRUNCH_OK, "c128 reference: status %d", st);
    got[2 * total] = check_sentinel();
    gotf[2 * total] = (float)check_sentinel();
    if (f32) {
        st = crunch_fft_f32(&ctx, inv, norm, batch, n, xf, gotf);
        for (size_t i = 0; i < 2 * total; i++)
            got[i] = gotf[i];
        CHECK(isnan(gotf[2 * total]), "f32 n=%zu: wrote past y", n);
    } else {
        st = crunch_fft_f64(&ctx, inv, norm, batch, n, x, got);
        CHECK(isnan(got[2 * total]), "f64 n=%zu: wrote past y", n);
    }
    CHECK(st == CRUNCH_OK, "%s n=%zu batch=%zu: status %d", f32 ? "f32" : "f64", n, batch, st);
    int64_t done, all;
    crunch_ctx_progress(&ctx, &done, &all);
    CHECK(done == all, "n=%zu: progress %lld of %lld after success", n, (long long)done, (long long)all);
    const double eps = f32 ? FLT_EPSILON : DBL_EPSILON;
    const double scale = norm_scale(norm, inv, n);
    for (size_t b = 0; b < batch; b++) {
        const double *xr = x + b * n, *wr = want + 2 * b * n, *gr = got + 2 * b * n;
        double norm2 = 0;
        int has_nan = 0;
        for (size_t j = 0; j < n; j++) {
            has_nan |= isnan(xr[j]);
            if (!isnan(xr[j]))
                norm2 += (xr[j] / vs) * (xr[j] / vs); /* scaled: no overflow or underflow */
        }
        if (has_nan) { /* as crunch_fft_c128: every output of the row is non-finite */
            int all_bad = 1;
            for (size_t k = 0; k < n; k++)
                all_bad &= !isfinite(gr[2 * k]) || !isfinite(gr[2 * k + 1]);
            CHECK(all_bad, "n=%zu row %zu: a NaN input leaves a finite output", n, b);
            continue;
        }
        const double tol = TOL_C * eps * (log2((double)n) + 1) * scale * sqrt(norm2) * vs;
        for (size_t k = 0; k < n; k++) {
            double er = fabs(gr[2 * k] - wr[2 * k]), ei = fabs(gr[2 * k + 1] - wr[2 * k + 1]);
            if (!(er <= tol && ei <= tol)) {
                CHECK(0, "%s %s n=%zu batch=%zu inv=%d norm=%d values=%d: bin %zu (%g, %g) want (%g, %g)",
                      crunch_isa_name(isa), f32 ? "f32" : "f64", n, batch, inv, norm, values, k, gr[2 * k],
                      gr[2 * k + 1], wr[2 * k], wr[2 * k + 1]);
                break;
            }
        }
        if (n <= 64 && values == VALUES_RANDOM) { /* and against the definition itself */
            for (size_t k = 0; k < n; k++) {
                long double re, im;
                dft_bin(xr, n, k, inv, &re, &im);
                CHECK(fabsl(gr[2 * k] - re * scale) <= tol && fabsl(gr[2 * k + 1] - im * scale) <= tol,
                      "%s n=%zu bin %zu: (%g, %g) want (%Lg, %Lg)", crunch_isa_name(isa), n, k, gr[2 * k],
                      gr[2 * k + 1], re * scale, im * scale);
            }
        }
    }
out:
    free(x);
    free(xc);
    free(want);
    free(got);
    free(xf);
    free(gotf);
}

static void test_table(void)
{
    uint64_t seed = 42;
    for (int i = 0; i < CHECK_N_ISAS; i++) {
        if (!check_isa_available("test_fft_real", check_isas[i]))
            continue;
        for (size_t l = 0; l < sizeof lengths / sizeof lengths[0]; l++) {
            const size_t n = lengths[l], batch = n > 5000 ? 1 : 3;
            for (int f32 = 0; f32 <= 1; f32++)
                for (int inv = 0; inv <= 1; inv++)
                    for (int norm = 0; norm <= 2; norm++)
                        for (int v = 0; v < N_VALUES; v++) {
                            if (v != VALUES_RANDOM && (inv || norm != 0) && n > 16)
                                continue; /* values matter less than lengths: keep it quick */
                            run_case(check_isas[i], n, batch, inv, (crunch_fft_norm)norm, v, f32, &seed);
                        }
        }
    }
}

static void test_bad_args(void)
{
    double x[8] = {0}, y[16];
    float xf[8] = {0}, yf[16];
    CHECK(crunch_fft_f64(NULL, 0, CRUNCH_FFT_BACKWARD, 1, 0, x, y) == CRUNCH_EINVAL, "n = 0");
    CHECK(crunch_fft_f64(NULL, 0, (crunch_fft_norm)7, 1, 8, x, y) == CRUNCH_EINVAL, "bad norm");
    CHECK(crunch_fft_f64(NULL, 0, CRUNCH_FFT_BACKWARD, 1, 8, NULL, y) == CRUNCH_EINVAL, "x NULL");
    CHECK(crunch_fft_f64(NULL, 0, CRUNCH_FFT_BACKWARD, 1, 8, x, NULL) == CRUNCH_EINVAL, "y NULL");
    CHECK(crunch_fft_f64(NULL, 0, CRUNCH_FFT_BACKWARD, 1, 4, y + 2, y) == CRUNCH_EINVAL, "x inside y");
    CHECK(crunch_fft_f64(NULL, 0, CRUNCH_FFT_BACKWARD, 1, 4, y, y) == CRUNCH_EINVAL, "in place");
    CHECK(crunch_fft_f64(NULL, 0, CRUNCH_FFT_BACKWARD, SIZE_MAX / 8, 8, x, y) == CRUNCH_EINVAL, "overflow");
    CHECK(crunch_fft_f32(NULL, 0, CRUNCH_FFT_BACKWARD, 1, 4, yf, yf) == CRUNCH_EINVAL, "f32 in place");
    CHECK(crunch_fft_f64(NULL, 0, CRUNCH_FFT_BACKWARD, 0, 8, NULL, NULL) == CRUNCH_OK, "batch 0");
    CHECK(crunch_fft_f32(NULL, 1, CRUNCH_FFT_ORTHO, 1, 8, xf, yf) == CRUNCH_OK, "f32 ok");
    crunch_ctx ctx;
    crunch_ctx_init(&ctx);
    crunch_ctx_cancel(&ctx);
    CHECK(crunch_fft_f64(&ctx, 0, CRUNCH_FFT_BACKWARD, 1, 8, x, y) == CRUNCH_ECANCELED, "cancelled before");
}

/* A large even row is cancelled midway, on every path. */
static crunch_status big_call(crunch_ctx *ctx, void *arg)
{
    double *x = arg;
    return crunch_fft_f64(ctx, 0, CRUNCH_FFT_BACKWARD, 4, 1 << 20, x, x + (4 << 20));
}

static void test_cancel_during(void)
{
    double *buf = calloc(12 << 20, sizeof *buf);
    if (buf == NULL) {
        CHECK(0, "out of memory");
        return;
    }
    for (int i = 0; i < CHECK_N_ISAS; i++) {
        if (!check_isa_available("test_fft_real", check_isas[i]))
            continue;
        crunch_ctx probe; /* the complex transform's progress total, of length n/2 */
        crunch_ctx_init(&probe);
        crunch_ctx_set_isa(&probe, check_isas[i]);
        crunch_fft_f64(&probe, 0, CRUNCH_FFT_BACKWARD, 1, 1 << 20, buf, buf + (4 << 20));
        int64_t total;
        crunch_ctx_progress(&probe, NULL, &total);
        check_cancel_midway("fft_f64 4 x 2^20", check_isas[i], 4 * total, big_call, buf);
    }
    free(buf);
}

int main(void)
{
    test_table();
    test_bad_args();
    test_cancel_during();
    return check_exit("test_fft_real");
}
