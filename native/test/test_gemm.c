/*
 * test_gemm.c - tests of crunch_gemm_f64 and crunch_gemm_f32 on every SIMD
 * path this CPU has, against a naive triple loop accumulated in long
 * double.
 *
 * Build and run (from the repository root):
 *   gcc -std=gnu11 -O2 -g -Wall -Wextra -Werror -Iinclude -Inative \
 *       native/core.c native/scratch.c native/gemm*.c native/test/test_gemm.c -lpthread \
 *       -o /tmp/test_gemm && /tmp/test_gemm
 */
#include "crunch.h"
#include "check.h"

#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* max1 returns max(1, x), the smallest valid leading dimension. */
static size_t max1(size_t x)
{
    return x > 1 ? x : 1;
}

/* gcase: one call to test. */
typedef struct gcase {
    crunch_isa isa;
    int f32;
    int ta, tb;
    size_t m, n, k;
    double alpha, beta;
    size_t pad; /* extra elements per row beyond the minimum leading dimension */
} gcase;

/*
 * run_case runs one gemm on random inputs (seeded by seed, so every path
 * sees the same numbers) and checks: status OK, progress done == total ==
 * m*n*k, every element of C within a rounding bound of the long-double
 * reference (finite even when C held NaN and beta == 0), and the padding
 * between C's rows and a guard after its last row untouched. If out is not
 * NULL it receives the m x n result (densely, as doubles).
 */
static void run_case(const gcase *g, uint64_t seed, double *out)
{
    const size_t m = g->m, n = g->n, k = g->k;
    const size_t a_rows = g->ta ? k : m, a_cols = g->ta ? m : k;
    const size_t b_rows = g->tb ? n : k, b_cols = g->tb ? k : n;
    const size_t lda = max1(a_cols) + g->pad, ldb = max1(b_cols) + g->pad;
    const size_t ldc = max1(n) + g->pad;
    const size_t guard = 64;
    const size_t na = a_rows * lda, nb = b_rows * ldb, nc = m * ldc + guard;
    double *A = malloc(max1(na) * sizeof *A), *B = malloc(max1(nb) * sizeof *B);
    double *C = malloc(nc * sizeof *C), *C0 = malloc(nc * sizeof *C0);
    float *Af = malloc(max1(na) * sizeof *Af), *Bf = malloc(max1(nb) * sizeof *Bf);
    float *Cf = malloc(nc * sizeof *Cf);
    if (!A || !B || !C || !C0 || !Af || !Bf || !Cf) {
        CHECK(0, "out of memory in the test");
        goto out;
    }
    uint64_t s = seed;
    /* f32 cases use values that floats hold exactly, so the reference,
     * computed from the doubles, sees the very inputs crunch saw. */
    for (size_t i = 0; i < na; i++)
        A[i] = g->f32 ? (double)(float)check_rnd11(&s) : check_rnd11(&s);
    for (size_t i = 0; i < nb; i++)
        B[i] = g->f32 ? (double)(float)check_rnd11(&s) : check_rnd11(&s);
    for (size_t i = 0; i < nc; i++) {
        size_t row = i / ldc, col = i % ldc;
        if (row >= m || col >= n)
            C[i] = check_sentinel(); /* padding and guard */
        else if (g->beta == 0)
            C[i] = NAN; /* must vanish: beta == 0 never reads C */
        else
            C[i] = g->f32 ? (double)(float)check_rnd11(&s) : check_rnd11(&s);
    }
    memcpy(C0, C, nc * sizeof *C);
    for (size_t i = 0; i < na; i++)
        Af[i] = (float)A[i];
    for (size_t i = 0; i < nb; i++)
        Bf[i] = (float)B[i];
    for (size_t i = 0; i < nc; i++)
        Cf[i] = (float)C[i]; /* the sentinel NaN stays a NaN with its payload's top bits */
    float *Cf0 = malloc(nc * sizeof *Cf0);
    if (Cf0 == NULL) {
        CHECK(0, "out of memory in the test");
        goto out;
    }
    memcpy(Cf0, Cf, nc * sizeof *Cf);

    crunch_ctx ctx;
    crunch_ctx_init(&ctx);
    crunch_ctx_set_isa(&ctx, g->isa);
    crunch_status st;
    if (g->f32)
        st = crunch_gemm_f32(&ctx, g->ta, g->tb, m, n, k, (float)g->alpha, Af, lda, Bf, ldb,
                             (float)g->beta, Cf, ldc);
    else
        st = crunch_gemm_f64(&ctx, g->ta, g->tb, m, n, k, g->alpha, A, lda, B, ldb, g->beta, C,
                             ldc);

    char desc[192]; /* the case, for failure messages */
    snprintf(desc, sizeof desc, "%s %s ta=%d tb=%d m=%zu n=%zu k=%zu alpha=%g beta=%g pad=%zu",
             crunch_isa_name(g->isa), g->f32 ? "f32" : "f64", g->ta, g->tb, m, n, k, g->alpha,
             g->beta, g->pad);
    CHECK(st == CRUNCH_OK, "status %s: %s", crunch_strerror(st), desc);

    int64_t done, total;
    crunch_ctx_progress(&ctx, &done, &total);
    CHECK(done == total && total == (int64_t)(m * n * k),
          "progress %lld/%lld, want %zu: %s", (long long)done, (long long)total, m * n * k,
          desc);

    /* Compare with the reference; report only the first bad element. */
    const double eps = g->f32 ? 0x1p-23 : 0x1p-52;
    int bad = 0;
    size_t bi = 0, bj = 0;
    double got_bad = 0, want_bad = 0;
    for (size_t i = 0; i < m && !bad; i++) {
        for (size_t j = 0; j < n; j++) {
            long double sum = 0, mag = 0;
            for (size_t p = 0; p < k; p++) {
                double x = g->ta ? A[p * lda + i] : A[i * lda + p];
                double y = g->tb ? B[j * ldb + p] : B[p * ldb + j];
                sum += (long double)x * y;
                mag += fabsl((long double)x * y);
            }
            long double want = (long double)g->alpha * sum;
            long double bound = fabsl((long double)g->alpha) * mag;
            if (g->beta != 0) {
                want += (long double)g->beta * C0[i * ldc + j];
                bound += fabsl((long double)g->beta * C0[i * ldc + j]);
            }
            double got = g->f32 ? (double)Cf[i * ldc + j] : C[i * ldc + j];
            /* a rounding error per multiply-add, on operands of size bound,
             * plus the final scalings; twice that for slack */
            double tol = 2.0 * eps * (double)(k + 3) * (double)bound + 1e-300;
            if (!isfinite(got) || fabs(got - (double)want) > tol) {
                bad = 1;
                bi = i, bj = j, got_bad = got, want_bad = (double)want;
                break;
            }
            if (out != NULL)
                out[i * n + j] = got;
        }
    }
    CHECK(!bad, "C[%zu][%zu] = %.17g, want %.17g: %s", bi, bj, got_bad, want_bad, desc);

    /* Everything outside the m x n block must be bit-for-bit unchanged. */
    int touched = 0;
    for (size_t i = 0; i < nc && !touched; i++) {
        size_t row = i / ldc, col = i % ldc;
        if (row < m && col < n)
            continue;
        touched = g->f32 ? memcmp(&Cf[i], &Cf0[i], sizeof *Cf) != 0
                         : memcmp(&C[i], &C0[i], sizeof *C) != 0;
    }
    CHECK(!touched, "an element outside C was written: %s", desc);
    free(Cf0);
out:
    free(A);
    free(B);
    free(C);
    free(C0);
    free(Af);
    free(Bf);
    free(Cf);
}

/* test_small_shapes: every (m, n, k) from a set of small sizes on every
 * path and dtype, cycling the transposes, alpha, beta and the padding. */
static void test_small_shapes(void)
{
    static const size_t sizes[] = {0, 1, 2, 7, 31, 40, 64, 65};
    static const double alphas[] = {1, -0.5, 0}, betas[] = {0, 1, 2.5};
    enum { NS = sizeof sizes / sizeof sizes[0] };
    unsigned variant = 0;
    for (int ii = 0; ii < CHECK_N_ISAS; ii++) {
        if (!check_isa_available("test_gemm", check_isas[ii]))
            continue;
        for (int f32 = 0; f32 < 2; f32++)
            for (size_t im = 0; im < NS; im++)
                for (size_t in = 0; in < NS; in++)
                    for (size_t ik = 0; ik < NS; ik++, variant++) {
                        gcase g = {check_isas[ii], f32, (int)(variant & 1), (int)(variant >> 1 & 1),
                                   sizes[im], sizes[in], sizes[ik],
                                   alphas[variant % 3], betas[variant / 3 % 3], variant % 5 == 0 ? 3 : 0};
                        run_case(&g, variant, NULL);
                    }
    }
}

/* test_full_grid: a few non-square shapes with all four transposes, every
 * alpha and beta, with and without padding, on every path and dtype. */
static void test_full_grid(void)
{
    static const size_t shapes[][3] = {
        {65, 7, 129}, {1, 257, 3}, {7, 65, 31}, {127, 31, 65}, {64, 127, 2}, {257, 1, 64},
        {2, 2, 257},
    };
    static const double alphas[] = {1, -0.5, 0}, betas[] = {0, 1, 2.5};
    uint64_t seed = 1000;
    for (int ii = 0; ii < CHECK_N_ISAS; ii++) {
        if (!check_isa_available("test_gemm", check_isas[ii]))
            continue;
        for (int f32 = 0; f32 < 2; f32++)
            for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
                for (int t = 0; t < 4; t++)
                    for (int ia = 0; ia < 3; ia++)
                        for (int ib = 0; ib < 3; ib++, seed++) {
                            gcase g = {check_isas[ii], f32, t & 1, t >> 1, shapes[s][0],
                                       shapes[s][1], shapes[s][2], alphas[ia], betas[ib],
                                       (size_t)(seed % 2) * 5};
                            run_case(&g, seed, NULL);
                        }
    }
}

/* test_large: shapes that span several cache blocks in every dimension
 * (k > KC, m > MC, n > NC on every path, with partial last blocks), all
 * transposes, and a check that the paths agree with the generic one. */
static void test_large(void)
{
    static const size_t shapes[][3] = {
        {257, 257, 257}, {3, 4500, 5}, {9, 50, 1100}, {300, 41, 600}, {130, 4100, 2},
        {1100, 30, 400}, {2100, 5, 3}, {20, 40, 500},
    };
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        size_t m = shapes[s][0], n = shapes[s][1];
        for (int f32 = 0; f32 < 2; f32++)
            for (int t = 0; t < 4; t++) {
                double *res[CHECK_N_ISAS] = {0};
                for (int ii = 0; ii < CHECK_N_ISAS; ii++) {
                    if (!check_isa_available("test_gemm", check_isas[ii]))
                        continue;
                    res[ii] = malloc(m * n * sizeof(double));
                    /* beta = 0 (NaN in C) on even t, 2.5 on odd t; same seed
                     * on every path so the results are comparable */
                    gcase g = {check_isas[ii], f32, t & 1, t >> 1, m, n, shapes[s][2],
                               t == 3 ? 1 : -0.5, t & 1 ? 2.5 : 0, 1};
                    run_case(&g, 77 + s * 8 + (size_t)t, res[ii]);
                }
                /* Paths sum in different orders, so they agree to rounding:
                 * each is within run_case's bound (|a|, |b| <= 1, so the
                 * magnitudes are at most k + 2.5) of the reference. */
                double eps = f32 ? 0x1p-23 : 0x1p-52;
                for (int ii = 1; ii < CHECK_N_ISAS; ii++) {
                    if (res[ii] == NULL || res[0] == NULL)
                        continue;
                    double worst = 0;
                    for (size_t e = 0; e < m * n; e++) {
                        double d = fabs(res[ii][e] - res[0][e]);
                        worst = d > worst ? d : worst;
                    }
                    double kk = (double)(shapes[s][2] + 3);
                    double tol = 4.0 * eps * kk * kk; /* twice run_case's bound */
                    CHECK(worst <= tol, "%s and generic differ by %g (tolerance %g), %s t=%d %zux%zux%zu",
                          crunch_isa_name(check_isas[ii]), worst, tol, f32 ? "f32" : "f64", t, m, n,
                          shapes[s][2]);
                }
                for (int ii = 0; ii < CHECK_N_ISAS; ii++)
                    free(res[ii]);
            }
    }
}

/* test_bad_args: every invalid argument gives CRUNCH_EINVAL, and pointers
 * that are not read may be NULL. */
static void test_bad_args(void)
{
    double a[64] = {0}, b[64] = {0}, c[64] = {0};
    float af[64] = {0}, bf[64] = {0}, cf[64] = {0};
    const size_t big = SIZE_MAX / 8 + 1; /* big * sizeof(double) overflows size_t */
    for (int ii = 0; ii < CHECK_N_ISAS; ii++) {
        crunch_ctx ctx;
        if (!check_ctx_for("test_gemm", check_isas[ii], &ctx))
            continue;
        crunch_ctx *x = &ctx;
#define EXPECT(want, call)                                                                  \
    do {                                                                                    \
        crunch_status st_ = (call);                                                         \
        CHECK(st_ == (want), "%s: got %s, want %s: %s", crunch_isa_name(check_isas[ii]),      \
              crunch_strerror(st_), crunch_strerror(want), #call);                          \
    } while (0)
        /* NULL pointers that would be read or written */
        EXPECT(CRUNCH_EINVAL, crunch_gemm_f64(x, 0, 0, 2, 3, 4, 1, NULL, 4, b, 3, 0, c, 3));
        EXPECT(CRUNCH_EINVAL, crunch_gemm_f64(x, 0, 0, 2, 3, 4, 1, a, 4, NULL, 3, 0, c, 3));
        EXPECT(CRUNCH_EINVAL, crunch_gemm_f64(x, 0, 0, 2, 3, 4, 1, a, 4, b, 3, 0, NULL, 3));
        EXPECT(CRUNCH_EINVAL, crunch_gemm_f64(x, 0, 0, 2, 3, 0, 1, NULL, 1, NULL, 3, 0, NULL, 3));
        EXPECT(CRUNCH_EINVAL, crunch_gemm_f32(x, 1, 1, 2, 3, 4, 1, NULL, 2, bf, 4, 1, cf, 3));
        EXPECT(CRUNCH_EINVAL, crunch_gemm_f32(x, 1, 1, 2, 3, 4, 1, af, 2, NULL, 4, 1, cf, 3));
        EXPECT(CRUNCH_EINVAL, crunch_gemm_f32(x, 1, 1, 2, 3, 4, 1, af, 2, bf, 4, 1, NULL, 3));
        /* ... and ones that are not: A and B unread when k == 0 or alpha == 0,
         * nothing touched when m == 0 or n == 0 */
        EXPECT(CRUNCH_OK, crunch_gemm_f64(x, 0, 0, 2, 3, 0, 1, NULL, 1, NULL, 3, 0, c, 3));
        EXPECT(CRUNCH_OK, crunch_gemm_f64(x, 0, 0, 2, 3, 4, 0, NULL, 4, NULL, 3, 1, c, 3));
        EXPECT(CRUNCH_OK, crunch_gemm_f64(x, 0, 0, 0, 3, 4, 1, NULL, 4, NULL, 3, 1, NULL, 3));
        EXPECT(CRUNCH_OK, crunch_gemm_f32(x, 0, 0, 2, 0, 4, 1, NULL, 4, NULL, 1, 1, NULL, 1));

        /* leading dimensions one too small, for each transpose case:
         * A is m x k (lda >= k) or k x m when trans_a (lda >= m);
         * B is k x n (ldb >= n) or n x k when trans_b (ldb >= k); ldc >= n. */
        const size_t m = 2, n = 3, k = 4;
        EXPECT(CRUNCH_EINVAL, crunch_gemm_f64(x, 0, 0, m, n, k, 1, a, k - 1, b, n, 0, c, n));
        EXPECT(CRUNCH_EINVAL, crunch_gemm_f64(x, 1, 0, m, n, k, 1, a, m - 1, b, n, 0, c, n));
        EXPECT(CRUNCH_EINVAL, crunch_gemm_f64(x, 0, 0, m, n, k, 1, a, k, b, n - 1, 0, c, n));
        EXPECT(CRUNCH_EINVAL, crunch_gemm_f64(x, 0, 1, m, n, k, 1, a, k, b, k - 1, 0, c, n));
        EXPECT(CRUNCH_EINVAL, crunch_gemm_f64(x, 0, 0, m, n, k, 1, a, k, b, n, 0, c, n - 1));
        EXPECT(CRUNCH_EINVAL, crunch_gemm_f32(x, 0, 0, m, n, k, 1, af, k - 1, bf, n, 0, cf, n));
        EXPECT(CRUNCH_EINVAL, crunch_gemm_f32(x, 1, 0, m, n, k, 1, af, m - 1, bf, n, 0, cf, n));
        EXPECT(CRUNCH_EINVAL, crunch_gemm_f32(x, 0, 0, m, n, k, 1, af, k, bf, n - 1, 0, cf, n));
        EXPECT(CRUNCH_EINVAL, crunch_gemm_f32(x, 0, 1, m, n, k, 1, af, k, bf, k - 1, 0, cf, n));
        EXPECT(CRUNCH_EINVAL, crunch_gemm_f32(x, 0, 0, m, n, k, 1, af, k, bf, n, 0, cf, n - 1));
        /* the minimum is max(1, ...): 0 is too small even for empty sizes */
        EXPECT(CRUNCH_EINVAL, crunch_gemm_f64(x, 0, 0, m, n, 0, 1, a, 0, b, n, 0, c, n));
        EXPECT(CRUNCH_EINVAL, crunch_gemm_f64(x, 0, 0, 0, 0, 0, 1, a, 1, b, 1, 0, c, 0));
        /* the exact minimums are fine, transposed or not */
        EXPECT(CRUNCH_OK, crunch_gemm_f64(x, 1, 1, m, n, k, 1, a, m, b, k, 0, c, n));
        EXPECT(CRUNCH_OK, crunch_gemm_f32(x, 0, 0, m, n, k, 1, af, k, bf, n, 0, cf, n));

        /* byte counts that overflow: C's, A's, B's, and a leading
         * dimension times rows */
        EXPECT(CRUNCH_EINVAL, crunch_gemm_f64(x, 0, 0, big, 1, 1, 1, a, 1, b, 1, 0, c, 1));
        EXPECT(CRUNCH_EINVAL, crunch_gemm_f64(x, 0, 0, 1, big, 1, 1, a, 1, b, big, 0, c, big));
        EXPECT(CRUNCH_EINVAL, crunch_gemm_f64(x, 0, 0, 1, 1, big, 1, a, big, b, 1, 0, c, 1));
        EXPECT(CRUNCH_EINVAL, crunch_gemm_f64(x, 0, 0, 2, 2, 2, 1, a, SIZE_MAX, b, 2, 0, c, 2));
        EXPECT(CRUNCH_EINVAL, crunch_gemm_f64(x, 0, 0, 2, 2, 2, 1, a, 2, b, 2, 0, c, SIZE_MAX / 2));
        EXPECT(CRUNCH_EINVAL, crunch_gemm_f32(x, 0, 0, SIZE_MAX / 2, 1, 1, 1, af, 1, bf, 1, 0, cf, 1));
        EXPECT(CRUNCH_EINVAL, crunch_gemm_f32(x, 1, 1, 1, 1, SIZE_MAX / 2, 1, af, 1, bf, SIZE_MAX / 2, 0, cf, 1));
        /* ... even when the call would have nothing to compute */
        EXPECT(CRUNCH_EINVAL, crunch_gemm_f64(x, 0, 0, big, 1, 0, 1, a, 1, b, 1, 0, c, 1));
#undef EXPECT
    }
}

/* test_cancel_before: a ctx cancelled before the call stops it at once. */
static void test_cancel_before(void)
{
    enum { N = 64 };
    static double a[N * N], b[N * N], c[N * N];
    static float af[N * N], bf[N * N], cf[N * N];
    for (int ii = 0; ii < CHECK_N_ISAS; ii++) {
        crunch_ctx ctx;
        if (!check_ctx_for("test_gemm", check_isas[ii], &ctx))
            continue;
        crunch_ctx_cancel(&ctx);
        crunch_status st = crunch_gemm_f64(&ctx, 0, 0, N, N, N, 1, a, N, b, N, 0, c, N);
        CHECK(st == CRUNCH_ECANCELED, "%s f64: pre-cancelled call gave %s",
              crunch_isa_name(check_isas[ii]), crunch_strerror(st));
        st = crunch_gemm_f32(&ctx, 1, 1, N, N, N, 1, af, N, bf, N, 0, cf, N);
        CHECK(st == CRUNCH_ECANCELED, "%s f32: pre-cancelled call gave %s",
              crunch_isa_name(check_isas[ii]), crunch_strerror(st));
    }
}

/* test_cancel_during: another thread cancels a 1500^3 call (seconds of
 * work on the generic path, a tenth of one on AVX-512); the call must
 * return CRUNCH_ECANCELED soon after, having done only part of the work. */
static void test_cancel_during(void)
{
    enum { N = 1500 };
    double *a = calloc((size_t)N * N, sizeof *a), *b = calloc((size_t)N * N, sizeof *b);
    double *c = calloc((size_t)N * N, sizeof *c);
    float *af = calloc((size_t)N * N, sizeof *af), *bf = calloc((size_t)N * N, sizeof *bf);
    float *cf = calloc((size_t)N * N, sizeof *cf);
    if (!a || !b || !c || !af || !bf || !cf) {
        CHECK(0, "out of memory in the test");
        goto out;
    }
    for (int ii = 0; ii < CHECK_N_ISAS; ii++) {
        if (!check_isa_available("test_gemm", check_isas[ii]))
            continue;
        for (int f32 = 0; f32 < 2; f32++) {
            crunch_ctx ctx;
            crunch_ctx_init(&ctx);
            crunch_ctx_set_isa(&ctx, check_isas[ii]);
            check_canceller cn = {&ctx, 0.005, 0, 0};
            pthread_t th;
            if (pthread_create(&th, NULL, check_canceller_thread, &cn) != 0) {
                CHECK(0, "pthread_create failed");
                continue;
            }
            crunch_status st;
            if (f32)
                st = crunch_gemm_f32(&ctx, 0, 1, N, N, N, 1, af, N, bf, N, 0, cf, N);
            else
                st = crunch_gemm_f64(&ctx, 0, 1, N, N, N, 1, a, N, b, N, 0, c, N);
            double ret = check_now_s();
            pthread_join(th, NULL);
            int64_t done, total;
            crunch_ctx_progress(&ctx, &done, &total);
            double lag_ms = (ret - cn.when) * 1e3;
            CHECK(st == CRUNCH_ECANCELED, "%s %s: cancelled call gave %s (done %lld of %lld)",
                  crunch_isa_name(check_isas[ii]), f32 ? "f32" : "f64", crunch_strerror(st),
                  (long long)done, (long long)total);
            if (st == CRUNCH_ECANCELED) {
                /* The kernel polls at least every million multiply-adds or
                 * so; counting work, not time, keeps this check exact on a
                 * loaded machine. The time limit is only a sanity bound:
                 * a busy CI box may deschedule us for a while. */
                CHECK(done - cn.done_at <= 4000000,
                      "%s %s: %lld multiply-adds done after the cancel",
                      crunch_isa_name(check_isas[ii]), f32 ? "f32" : "f64",
                      (long long)(done - cn.done_at));
                CHECK(lag_ms < 500, "%s %s: returned %.1f ms after the cancel",
                      crunch_isa_name(check_isas[ii]), f32 ? "f32" : "f64", lag_ms);
                CHECK(done > 0 && done < total, "%s %s: progress %lld of %lld at cancel",
                      crunch_isa_name(check_isas[ii]), f32 ? "f32" : "f64", (long long)done,
                      (long long)total);
            }
            printf("test_gemm: cancel %s %s: returned %.2f ms and %lld multiply-adds after "
                   "the cancel, at %.1f%%\n",
                   crunch_isa_name(check_isas[ii]), f32 ? "f32" : "f64", lag_ms,
                   (long long)(done - cn.done_at),
                   total > 0 ? 100.0 * (double)done / (double)total : 0.0);
        }
    }
out:
    free(a);
    free(b);
    free(c);
    free(af);
    free(bf);
    free(cf);
}

/* test_null_ctx: a NULL ctx works (best path, no cancel, no progress). */
static void test_null_ctx(void)
{
    double a[6] = {1, 2, 3, 4, 5, 6}, b[6] = {1, 0, 0, 1, 1, 1}, c[4] = {NAN, NAN, NAN, NAN};
    /* [1 2 3; 4 5 6] * [1 0; 0 1; 1 1] = [4 5; 10 11] */
    crunch_status st = crunch_gemm_f64(NULL, 0, 0, 2, 2, 3, 1, a, 3, b, 2, 0, c, 2);
    CHECK(st == CRUNCH_OK && c[0] == 4 && c[1] == 5 && c[2] == 10 && c[3] == 11,
          "NULL ctx: %s, C = [%g %g; %g %g]", crunch_strerror(st), c[0], c[1], c[2], c[3]);
}

/* main runs every test and returns 0 when all checks passed. */
/* scratch_thread runs one packed-path product (k beyond every path's KC)
 * and one unpacked one with B transposed, both needing scratch memory, on
 * a thread of its own; arg is where it stores the two statuses. */
static void *scratch_thread(void *arg)
{
    enum { M = 40, N = 30, K = 1000 };
    static _Thread_local double a[M * K], b[K * N], c[M * N];
    crunch_status *st = arg;
    st[0] = crunch_gemm_f64(NULL, 0, 0, M, N, K, 1, a, K, b, N, 0, c, N);
    st[1] = crunch_gemm_f64(NULL, 0, 1, M, N, 20, 1, a, 20, b, 20, 0, c, N);
    return NULL;
}

/* test_scratch_per_thread: threads that multiply and exit. Each keeps its
 * packing buffer between calls (scratch.c) and must free it when it exits:
 * the sanitizer build's leak check fails otherwise. */
static void test_scratch_per_thread(void)
{
    for (int i = 0; i < 8; i++) {
        pthread_t th;
        crunch_status st[2] = {CRUNCH_EINVAL, CRUNCH_EINVAL};
        CHECK(pthread_create(&th, NULL, scratch_thread, st) == 0, "pthread_create");
        pthread_join(th, NULL);
        CHECK(st[0] == CRUNCH_OK && st[1] == CRUNCH_OK, "thread %d: %s, %s", i,
              crunch_strerror(st[0]), crunch_strerror(st[1]));
    }
}

int main(void)
{
    printf("test_gemm: best path %s\n", crunch_isa_name(crunch_isa_best()));
    test_null_ctx();
    test_bad_args();
    test_small_shapes();
    test_full_grid();
    test_large();
    test_cancel_before();
    test_cancel_during();
    test_scratch_per_thread();
    return check_exit("test_gemm");
}
