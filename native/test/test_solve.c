/*
 * test_solve.c - crunch_solve_f64 on every SIMD path this CPU has, against
 * a naive reference (unblocked Gaussian elimination with partial pivoting
 * in long double), over a table of sizes (around every block width), kinds
 * of matrix and numbers of right-hand sides; plus the singular and nearly
 * singular cases, non-finite input, overflow, in-place solves, progress,
 * cancellation and bad arguments.
 *
 * Accuracy is judged two ways: the scaled residual
 *   ||A x - b||_inf / (||A||_inf ||x||_inf n eps)
 * (computed in long double) must be small, as for any backward stable
 * solver, and x must agree with the reference to within what the
 * condition number allows.
 *
 * Build and run (from the repository root):
 *   gcc -std=gnu11 -O2 -g -Wall -Wextra -Werror -Iinclude -Inative \
 *       native/core.c native/scratch.c native/gemm*.c native/solve.c native/test/test_solve.c \
 *       -lpthread -lm -o /tmp/test_solve && /tmp/test_solve
 */
#include "crunch.h"
#include "check.h"
#include "solve_kernels.h"

#include <float.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>


/* Sizes: tiny, primes, around 8, 32 and 128 (the block widths) and their
 * multiples, and large. */
static const size_t sizes[] = {1,  2,  3,  5,  7,  8,   9,   13,  31,  32,  33,  63,
                               64, 65, 97, 127, 128, 129, 160, 255, 257, 300, 500};
/* Right-hand sides: 0 = a vector b ([n]), else an n x k matrix. */
static const size_t rhs_counts[] = {0, 1, 3, 4, 17};

/* Well-conditioned kinds, solved and compared with the reference. */
enum kind {
    K_RANDOM,    /* uniform [-1, 1) */
    K_DOMINANT,  /* random plus n on the diagonal: no pivoting needed */
    K_ZERODIAG,  /* random with a zero diagonal: every step must pivot */
    K_PERM,      /* a permutation matrix: x is b permuted */
    K_LOWER,     /* random lower triangle with a zero diagonal shifted: pivots far down */
    K_TINY,      /* random * 1e-300 */
    K_HUGE,      /* random * 1e306: at n = 500 column sums overflow, the norm must not */
    K_SUBNORMAL, /* the dominant matrix * 2e-308/n: pivots below 4 DBL_MIN, subnormals off
                    the diagonal */
    N_KINDS
};
static const char *kind_names[N_KINDS] = {"random", "dominant", "zerodiag", "perm",
                                         "lower",  "tiny",     "huge",     "subnormal"};

/* fill_matrix writes an n x n matrix of kind k, row stride ld, to a. */
static void fill_matrix(enum kind k, double *a, size_t n, size_t ld, uint64_t seed)
{
    uint64_t s = seed;
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++)
            a[i * ld + j] = 2 * check_rnd01(&s) - 1;
    switch (k) {
    case K_DOMINANT:
    case K_SUBNORMAL:
        for (size_t i = 0; i < n; i++)
            a[i * ld + i] += (double)n;
        if (k == K_SUBNORMAL)
            for (size_t i = 0; i < n; i++)
                for (size_t j = 0; j < n; j++)
                    a[i * ld + j] *= 2e-308 / (double)n;
        break;
    case K_ZERODIAG:
        for (size_t i = 0; i < n; i++)
            a[i * ld + i] = 0;
        if (n == 1)
            a[0] = 0.5; /* the one 1 x 1 with a zero diagonal is singular */
        break;
    case K_PERM: {
        /* a random permutation (Fisher-Yates), one 1 per row */
        size_t *p = malloc(n * sizeof *p);
        for (size_t i = 0; i < n; i++)
            p[i] = i;
        for (size_t i = n; i > 1; i--) {
            size_t j = (size_t)(check_rnd01(&s) * (double)i);
            size_t t = p[i - 1];
            p[i - 1] = p[j];
            p[j] = t;
        }
        for (size_t i = 0; i < n; i++)
            for (size_t j = 0; j < n; j++)
                a[i * ld + j] = j == p[i] ? 1 : 0;
        free(p);
        break;
    }
    case K_LOWER:
        /* row i has a 1 in column (i + 1) mod n and random entries left of
         * it, zeros elsewhere: a cyclic shift of a triangle, well
         * conditioned, with every pivot in a row below the diagonal */
        for (size_t i = 0; i < n; i++)
            for (size_t j = 0; j < n; j++) {
                size_t c = (i + 1) % n;
                a[i * ld + j] = j == c ? 1 : (j < c ? 0.25 * a[i * ld + j] / (double)n : 0);
            }
        break;
    case K_TINY:
        for (size_t i = 0; i < n * ld; i++)
            a[i] *= 1e-300;
        break;
    case K_HUGE:
        for (size_t i = 0; i < n * ld; i++)
            a[i] *= 1e306;
        break;
    default:
        break;
    }
}

/*
 * ref_solve solves A X = B (n x k, stride k) by unblocked Gaussian
 * elimination with partial pivoting in long double, into x (stride k).
 * Returns 0 if a pivot is exactly zero.
 */
static int ref_solve(size_t n, size_t k, const double *a, size_t lda, const double *b,
                     double *x)
{
    long double *m = malloc(n * n * sizeof *m), *r = malloc(n * (k ? k : 1) * sizeof *r);
    int ok = 1;
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < n; j++)
            m[i * n + j] = a[i * lda + j];
        for (size_t j = 0; j < k; j++)
            r[i * k + j] = b[i * k + j];
    }
    for (size_t c = 0; c < n && ok; c++) {
        size_t p = c;
        for (size_t i = c + 1; i < n; i++)
            if (fabsl(m[i * n + c]) > fabsl(m[p * n + c]))
                p = i;
        if (m[p * n + c] == 0) {
            ok = 0;
            break;
        }
        for (size_t j = 0; j < n && p != c; j++) {
            long double t = m[c * n + j];
            m[c * n + j] = m[p * n + j];
            m[p * n + j] = t;
        }
        for (size_t j = 0; j < k && p != c; j++) {
            long double t = r[c * k + j];
            r[c * k + j] = r[p * k + j];
            r[p * k + j] = t;
        }
        for (size_t i = c + 1; i < n; i++) {
            long double l = m[i * n + c] / m[c * n + c];
            for (size_t j = c + 1; j < n; j++)
                m[i * n + j] -= l * m[c * n + j];
            for (size_t j = 0; j < k; j++)
                r[i * k + j] -= l * r[c * k + j];
        }
    }
    for (size_t i = n; i-- > 0 && ok;)
        for (size_t j = 0; j < k; j++) {
            long double s = r[i * k + j];
            for (size_t p = i + 1; p < n; p++)
                s -= m[i * n + p] * r[p * k + j];
            r[i * k + j] = s / m[i * n + i];
            x[i * k + j] = (double)r[i * k + j];
        }
    free(m);
    free(r);
    return ok;
}

/* scaled_residual returns max over columns of
 * ||A x - b||_inf / (||A||_inf ||x||_inf n eps), in long double. */
static double scaled_residual(size_t n, size_t k, const double *a, size_t lda, const double *b,
                              const double *x)
{
    long double anorm = 0, worst = 0;
    for (size_t i = 0; i < n; i++) {
        long double s = 0;
        for (size_t j = 0; j < n; j++)
            s += fabsl((long double)a[i * lda + j]);
        anorm = s > anorm ? s : anorm;
    }
    for (size_t c = 0; c < k; c++) {
        long double rmax = 0, xmax = 0;
        for (size_t i = 0; i < n; i++) {
            long double s = -(long double)b[i * k + c];
            for (size_t j = 0; j < n; j++)
                s += (long double)a[i * lda + j] * x[j * k + c];
            rmax = fabsl(s) > rmax ? fabsl(s) : rmax;
            xmax = fabsl((long double)x[i * k + c]) > xmax ? fabsl((long double)x[i * k + c]) : xmax;
        }
        if (rmax == 0)
            continue;
        long double r = rmax / (anorm * xmax * (long double)n * DBL_EPSILON);
        worst = r > worst ? r : worst;
    }
    return (double)worst;
}

/* max_rel_diff returns max |x - y| / max |y| over n*k elements. */
static double max_rel_diff(size_t nk, const double *x, const double *y)
{
    double d = 0, m = 0;
    for (size_t i = 0; i < nk; i++) {
        d = fabs(x[i] - y[i]) > d ? fabs(x[i] - y[i]) : d;
        m = fabs(y[i]) > m ? fabs(y[i]) : m;
    }
    return m > 0 ? d / m : d;
}

static double worst_residual; /* printed at the end: how far below the bound we are */

/* solve_on calls crunch_solve_f64 on isa with a fresh ctx. */
static crunch_status solve_on(crunch_isa isa, size_t n, size_t k, const double *a, size_t lda,
                              const double *b, double *x)
{
    crunch_ctx ctx;
    crunch_ctx_init(&ctx);
    crunch_ctx_set_isa(&ctx, isa);
    size_t ld = k > 1 ? k : 1;
    crunch_status st = crunch_solve_f64(&ctx, n, k, a, lda, b, ld, x, ld);
    int64_t done, total;
    crunch_ctx_progress(&ctx, &done, &total);
    if (st == CRUNCH_OK)
        CHECK(done == total && (total > 0) == (n > 1 || k > 0),
              "%s n=%zu k=%zu: progress %lld/%lld", crunch_isa_name(isa), n, k, (long long)done,
              (long long)total);
    return st;
}

/*
 * test_pinned: the SIMD paths' vector kernels (solve_kernels.h), called
 * directly, give exactly the results they gave when they were written.
 * The table below only bounds the solutions' error; this catches a change
 * of a kernel's association order, which would change them by some ulps.
 * Lengths are whole unrolled steps of every path: the scalar tails'
 * rounding depends on the compiler's flags (at -O3 GCC may vectorise the
 * products of a tail and no longer fuse them into its adds), the vector
 * loops' does not. Pinned for GCC, whose rules for fusing multiply-adds
 * the kernels were built with.
 */
static void test_pinned(void)
{
#if CRUNCH_X86 && defined(__GNUC__) && !defined(__clang__)
    static const struct {
        crunch_isa isa;
        const crunch__solve_kernels *k;
        uint64_t want;
    } paths[] = {
        {CRUNCH_ISA_AVX2, &crunch__solve_kernels_avx2, 0x8e58db283e376093ULL},
        {CRUNCH_ISA_AVX512, &crunch__solve_kernels_avx512, 0x1d22d13c25b79e30ULL},
    };
    enum { MAXLEN = 2048 };
    static double x[MAXLEN], y[MAXLEN], dst[MAXLEN], colsum[MAXLEN];
    for (size_t p = 0; p < sizeof paths / sizeof paths[0]; p++) {
        if (paths[p].isa > crunch_isa_best())
            continue;
        const crunch__solve_kernels *k = paths[p].k;
        uint64_t s = 500, h = CHECK_HASH_INIT;
        for (size_t i = 0; i < MAXLEN; i++) {
            x[i] = 2 * check_rnd01(&s) - 1;
            y[i] = i % 7 == 0 ? -1e3 * x[i] : 2 * check_rnd01(&s) - 1; /* cancellation */
            colsum[i] = 0;
        }
        for (size_t len = 32; len <= MAXLEN; len += 32) {
            double d = k->dot(len, x, y);
            h = check_hash(&d, sizeof d, h);
            k->axpy(len, d, x, y);
            h = check_hash(y, len * sizeof *y, h);
            double m = k->load_row(len, y, dst, colsum);
            h = check_hash(&m, sizeof m, h);
            h = check_hash(colsum, len * sizeof *colsum, h);
        }
        CHECK(h == paths[p].want, "%s: the kernels' exact results changed: hash 0x%016llx, "
              "want 0x%016llx", crunch_isa_name(paths[p].isa), (unsigned long long)h,
              (unsigned long long)paths[p].want);
    }
#endif
}

/* test_table: every size, kind and rhs count, on every path, against the
 * reference, and the paths against each other. */
static void test_table(void)
{
    for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++) {
        size_t n = sizes[si];
        size_t lda = n + (si % 3); /* some padded leading dimensions */
        double *a = malloc(n * lda * sizeof *a);
        for (int kd = 0; kd < N_KINDS; kd++) {
            if (n > 300 && kd != K_RANDOM && kd != K_ZERODIAG && kd != K_HUGE)
                continue; /* the long double reference is slow: three kinds at 500 */
            fill_matrix((enum kind)kd, a, n, lda, 100 * si + (uint64_t)kd);
            for (size_t ri = 0; ri < sizeof rhs_counts / sizeof rhs_counts[0]; ri++) {
                size_t k = rhs_counts[ri] ? rhs_counts[ri] : 1;
                uint64_t s = 7 * si + ri;
                double *b = malloc(n * k * sizeof *b), *want = malloc(n * k * sizeof *want);
                double *got[CHECK_N_ISAS] = {0};
                for (size_t i = 0; i < n * k; i++)
                    b[i] = (2 * check_rnd01(&s) - 1) * (kd == K_TINY        ? 1e-300
                                                : kd == K_HUGE      ? 1e306
                                                : kd == K_SUBNORMAL ? 2e-308
                                                                    : 1);
                int ok = ref_solve(n, k, a, lda, b, want);
                CHECK(ok, "reference: %s n=%zu singular", kind_names[kd], n);
                for (int ii = 0; ii < CHECK_N_ISAS; ii++) {
                    crunch_isa isa = check_isas[ii];
                    got[ii] = malloc(n * k * sizeof(double));
                    crunch_status st = solve_on(isa, n, k, a, lda, b, got[ii]);
                    CHECK(st == CRUNCH_OK, "%s %s n=%zu k=%zu: status %d", crunch_isa_name(isa),
                          kind_names[kd], n, k, st);
                    if (st != CRUNCH_OK)
                        continue;
                    double r = scaled_residual(n, k, a, lda, b, got[ii]);
                    worst_residual = r > worst_residual ? r : worst_residual;
                    CHECK(r < 4, "%s %s n=%zu k=%zu: scaled residual %g", crunch_isa_name(isa),
                          kind_names[kd], n, k, r);
                    /* these matrices have condition numbers below about 1e4
                     * (random ones of order n): 1e-9 leaves a wide margin */
                    double d = max_rel_diff(n * k, got[ii], want);
                    CHECK(d < 1e-9, "%s %s n=%zu k=%zu: differs from the reference by %g",
                          crunch_isa_name(isa), kind_names[kd], n, k, d);
                    if (kd == K_PERM) /* a permutation is solved exactly */
                        CHECK(d == 0, "%s perm n=%zu: not exact (%g)", crunch_isa_name(isa), n, d);
                }
                for (int ii = 1; ii < CHECK_N_ISAS; ii++)
                    if (got[0] && got[ii])
                        CHECK(max_rel_diff(n * k, got[ii], got[0]) < 1e-9,
                              "%s vs generic, %s n=%zu k=%zu", crunch_isa_name(check_isas[ii]),
                              kind_names[kd], n, k);
                for (int ii = 0; ii < CHECK_N_ISAS; ii++)
                    free(got[ii]);
                free(b);
                free(want);
            }
        }
        free(a);
    }
}

/* expect_numerical checks that every path refuses A (n x n) with b = 1s. */
static void expect_numerical(const char *what, size_t n, const double *a)
{
    double *b = malloc(n * sizeof *b), *x = malloc(n * sizeof *x);
    for (size_t i = 0; i < n; i++)
        b[i] = 1;
    for (int ii = 0; ii < CHECK_N_ISAS; ii++) {
        crunch_status st = solve_on(check_isas[ii], n, 1, a, n, b, x);
        CHECK(st == CRUNCH_ENUMERICAL, "%s on %s: status %d, want numerical", what,
              crunch_isa_name(check_isas[ii]), st);
    }
    free(b);
    free(x);
}

static void hilbert(double *a, size_t n)
{
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++)
            a[i * n + j] = 1.0 / (double)(i + j + 1);
}

/* test_singular: exactly and nearly singular matrices give
 * CRUNCH_ENUMERICAL; moderately ill-conditioned ones are solved. */
static void test_singular(void)
{
    const size_t ns[] = {1, 2, 3, 7, 64, 129, 200};
    for (size_t ni = 0; ni < sizeof ns / sizeof ns[0]; ni++) {
        size_t n = ns[ni];
        double *a = malloc(n * n * sizeof *a);
        char what[96];
        uint64_t s = 42 + n;
        memset(a, 0, n * n * sizeof *a);
        snprintf(what, sizeof what, "zero n=%zu", n);
        expect_numerical(what, n, a);
        for (size_t i = 0; i < n * n; i++)
            a[i] = 2 * check_rnd01(&s) - 1;
        if (n >= 2) {
            for (size_t j = 0; j < n; j++) /* a zero row, in the middle */
                a[(n / 2) * n + j] = 0;
            snprintf(what, sizeof what, "zero row n=%zu", n);
            expect_numerical(what, n, a);
            for (size_t j = 0; j < n; j++) /* a duplicate row instead */
                a[(n / 2) * n + j] = a[0 * n + j];
            snprintf(what, sizeof what, "duplicate rows n=%zu", n);
            expect_numerical(what, n, a);
            for (size_t j = 0; j < n; j++) /* a fresh row, then a zero column */
                a[(n / 2) * n + j] = 2 * check_rnd01(&s) - 1;
            for (size_t i = 0; i < n; i++)
                a[i * n + n - 1] = 0;
            snprintf(what, sizeof what, "zero column n=%zu", n);
            expect_numerical(what, n, a);
        }
        if (n >= 3) {
            /* rank n-2: the product of an n x (n-2) and an (n-2) x n random
             * matrix, whose pivots decay to rounding noise, not to zero */
            size_t r = n - 2;
            double *u = malloc(n * r * sizeof *u), *v = malloc(r * n * sizeof *v);
            for (size_t i = 0; i < n * r; i++)
                u[i] = 2 * check_rnd01(&s) - 1, v[i] = 2 * check_rnd01(&s) - 1;
            for (size_t i = 0; i < n; i++)
                for (size_t j = 0; j < n; j++) {
                    double t = 0;
                    for (size_t p = 0; p < r; p++)
                        t += u[i * r + p] * v[p * n + j];
                    a[i * n + j] = t;
                }
            snprintf(what, sizeof what, "rank n-2 n=%zu", n);
            expect_numerical(what, n, a);
            free(u);
            free(v);
        }
        free(a);
    }
    /* Hilbert 14: cond ~ 1e18, singular to working precision. Hilbert 12
     * (cond ~ 1e16) likewise; Hilbert 8 (cond 1.5e10) is solved, to about
     * cond * eps. */
    double h[14 * 14], x[14], b[14], want[14];
    hilbert(h, 14);
    expect_numerical("hilbert 14", 14, h);
    hilbert(h, 12);
    expect_numerical("hilbert 12", 12, h);
    hilbert(h, 8);
    for (size_t i = 0; i < 8; i++)
        b[i] = 1;
    CHECK(ref_solve(8, 1, h, 8, b, want), "reference hilbert 8");
    for (int ii = 0; ii < CHECK_N_ISAS; ii++) {
        crunch_status st = solve_on(check_isas[ii], 8, 1, h, 8, b, x);
        CHECK(st == CRUNCH_OK && max_rel_diff(8, x, want) < 1e-4 &&
                  scaled_residual(8, 1, h, 8, b, x) < 4,
              "hilbert 8 on %s: status %d, error %g", crunch_isa_name(check_isas[ii]), st,
              max_rel_diff(8, x, want));
    }
    /* diag(1, 1e-20): cond 1e20, refused although the answer is easy:
     * singular to working precision in the norm sense */
    double d2[4] = {1, 0, 0, 1e-20};
    expect_numerical("diag(1, 1e-20)", 2, d2);
}

/* test_nonfinite: NaN or Inf in A or B, and an x that overflows. */
static void test_nonfinite(void)
{
    const double specials[] = {NAN, INFINITY, -INFINITY};
    const size_t n = 65;
    double *a = malloc(n * n * sizeof *a), *b = malloc(n * 3 * sizeof *b), *x = malloc(n * 3 * sizeof *x);
    uint64_t s = 5;
    for (int sp = 0; sp < 3; sp++)
        for (int in_b = 0; in_b < 2; in_b++)
            for (size_t k = 1; k <= 3; k += 2) {
                fill_matrix(K_DOMINANT, a, n, n, 9);
                for (size_t i = 0; i < n * k; i++)
                    b[i] = 2 * check_rnd01(&s) - 1;
                if (in_b)
                    b[(n - 1) * k + k - 1] = specials[sp];
                else
                    a[40 * n + 3] = specials[sp];
                for (int ii = 0; ii < CHECK_N_ISAS; ii++) {
                    crunch_status st = solve_on(check_isas[ii], n, k, a, n, b, x);
                    CHECK(st == CRUNCH_ENUMERICAL, "%g in %s, k=%zu, %s: status %d", specials[sp],
                          in_b ? "b" : "a", k, crunch_isa_name(check_isas[ii]), st);
                }
            }
    /* x overflows: A = 1e-300 I, b = 1e300 */
    double a1[4] = {1e-300, 0, 0, 1e-300}, b1[2] = {1e300, 1}, x1[2];
    for (int ii = 0; ii < CHECK_N_ISAS; ii++)
        CHECK(solve_on(check_isas[ii], 2, 1, a1, 2, b1, x1) == CRUNCH_ENUMERICAL,
              "overflowing x on %s", crunch_isa_name(check_isas[ii]));
    /* huge entries whose column sums overflow: still solved */
    double a2[4] = {1.5e308, 1.5e308, -1.5e308, 1.5e308}, b2[2] = {1.5e308, 0}, x2[2];
    for (int ii = 0; ii < CHECK_N_ISAS; ii++) {
        crunch_status st = solve_on(check_isas[ii], 2, 1, a2, 2, b2, x2);
        CHECK(st == CRUNCH_OK && fabs(x2[0] - 0.5) < 1e-15 && fabs(x2[1] - 0.5) < 1e-15,
              "huge 2x2 on %s: status %d, x = %g %g", crunch_isa_name(check_isas[ii]), st, x2[0],
              x2[1]);
    }
    free(a);
    free(b);
    free(x);
}

/* test_small_exact: hand-checked systems, including one needing a swap. */
static void test_small_exact(void)
{
    double a[9] = {0, 2, 1, 1, 1, 1, 2, 1, 0}, b[3] = {5, 4, 4}, x[3];
    /* x = (1, 2, 1): row 0 has a zero pivot in column 0 */
    for (int ii = 0; ii < CHECK_N_ISAS; ii++) {
        crunch_status st = solve_on(check_isas[ii], 3, 1, a, 3, b, x);
        CHECK(st == CRUNCH_OK && fabs(x[0] - 1) < 1e-15 && fabs(x[1] - 2) < 1e-15 &&
                  fabs(x[2] - 1) < 1e-15,
              "3x3 on %s: %d %g %g %g", crunch_isa_name(check_isas[ii]), st, x[0], x[1], x[2]);
    }
    double one = 4, rhs = 2, out = 0;
    CHECK(crunch_solve_f64(NULL, 1, 1, &one, 1, &rhs, 1, &out, 1) == CRUNCH_OK && out == 0.5,
          "1x1: %g", out);
    double neg0 = -0.0;
    CHECK(crunch_solve_f64(NULL, 1, 1, &neg0, 1, &rhs, 1, &out, 1) == CRUNCH_ENUMERICAL,
          "1x1 -0: not numerical");
}

/* test_inplace: x == b, and padded leading dimensions for b and x. */
static void test_inplace(void)
{
    const size_t n = 70, k = 5, ldb = 9, ldx = 7;
    double *a = malloc(n * n * sizeof *a), *b = malloc(n * ldb * sizeof *b);
    double *x = malloc(n * ldx * sizeof *x), *bd = malloc(n * k * sizeof *bd);
    double *want = malloc(n * k * sizeof *want);
    uint64_t s = 11;
    fill_matrix(K_RANDOM, a, n, n, 3);
    for (size_t i = 0; i < n * ldb; i++)
        b[i] = 2 * check_rnd01(&s) - 1;
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < k; j++)
            bd[i * k + j] = b[i * ldb + j];
    ref_solve(n, k, a, n, bd, want);
    for (size_t i = 0; i < n * ldx; i++)
        x[i] = 12345; /* padding must survive */
    CHECK(crunch_solve_f64(NULL, n, k, a, n, b, ldb, x, ldx) == CRUNCH_OK, "strided solve");
    double d = 0;
    int pad_ok = 1;
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < k; j++)
            d = fmax(d, fabs(x[i * ldx + j] - want[i * k + j]));
        for (size_t j = k; j < ldx; j++)
            pad_ok &= x[i * ldx + j] == 12345;
    }
    CHECK(d < 1e-10 && pad_ok, "strided solve: error %g, padding %s", d, pad_ok ? "kept" : "written");
    for (size_t kk = 1; kk <= k; kk += 4) { /* vector path (1) and blocked path (5) in place */
        for (size_t i = 0; i < n; i++)
            for (size_t j = 0; j < k; j++)
                b[i * ldb + j] = bd[i * k + j];
        CHECK(crunch_solve_f64(NULL, n, kk, a, n, b, ldb, b, ldb) == CRUNCH_OK, "in place");
        d = 0;
        for (size_t i = 0; i < n; i++)
            for (size_t j = 0; j < kk; j++)
                d = fmax(d, fabs(b[i * ldb + j] - want[i * k + j]));
        CHECK(d < 1e-10, "in place k=%zu: error %g", kk, d);
    }
    free(a);
    free(b);
    free(x);
    free(bd);
    free(want);
}

/* test_empty: n == 0 and nrhs == 0. */
static void test_empty(void)
{
    crunch_ctx ctx;
    crunch_ctx_init(&ctx);
    CHECK(crunch_solve_f64(&ctx, 0, 3, NULL, 1, NULL, 3, NULL, 3) == CRUNCH_OK, "n = 0");
    double a[4] = {1, 2, 3, 4}, sing[4] = {1, 2, 2, 4};
    CHECK(crunch_solve_f64(&ctx, 2, 0, a, 2, NULL, 1, NULL, 1) == CRUNCH_OK, "nrhs = 0");
    int64_t done, total;
    crunch_ctx_progress(&ctx, &done, &total);
    CHECK(done == 1 && total == 1, "nrhs = 0 progress %lld/%lld", (long long)done, (long long)total);
    CHECK(crunch_solve_f64(&ctx, 2, 0, sing, 2, NULL, 1, NULL, 1) == CRUNCH_ENUMERICAL,
          "nrhs = 0, singular");
}

/* test_progress: a finished call has done == total == the documented sum. */
static void test_progress(void)
{
    const size_t n = 300, k = 2;
    double *a = malloc(n * n * sizeof *a), *b = malloc(n * k * sizeof *b), *x = malloc(n * k * sizeof *x);
    fill_matrix(K_RANDOM, a, n, n, 77);
    for (size_t i = 0; i < n * k; i++)
        b[i] = (double)i;
    for (int ii = 0; ii < CHECK_N_ISAS; ii++) {
        crunch_ctx ctx;
        crunch_ctx_init(&ctx);
        crunch_ctx_set_isa(&ctx, check_isas[ii]);
        CHECK(crunch_solve_f64(&ctx, n, k, a, n, b, k, x, k) == CRUNCH_OK, "progress solve");
        int64_t done, total, want = (int64_t)((n - 1) * n * (2 * n - 1) / 6 + n * n * k);
        crunch_ctx_progress(&ctx, &done, &total);
        CHECK(done == want && total == want, "%s: progress %lld/%lld, want %lld",
              crunch_isa_name(check_isas[ii]), (long long)done, (long long)total, (long long)want);
    }
    free(a);
    free(b);
    free(x);
}

static void test_cancel(void)
{
    double one = 1, x;
    crunch_ctx ctx;
    crunch_ctx_init(&ctx);
    crunch_ctx_cancel(&ctx);
    CHECK(crunch_solve_f64(&ctx, 1, 1, &one, 1, &one, 1, &x, 1) == CRUNCH_ECANCELED,
          "pre-cancelled call ran");

    const size_t n = 1500;
    double *a = malloc(n * n * sizeof *a), *b = malloc(n * sizeof *b), *xs = malloc(n * sizeof *xs);
    fill_matrix(K_RANDOM, a, n, n, 8);
    for (size_t i = 0; i < n; i++)
        b[i] = 1;
    for (int ii = 0; ii < CHECK_N_ISAS; ii++) {
        int stopped = 0;
        for (int attempt = 0; attempt < 5 && !stopped; attempt++) {
            crunch_ctx_init(&ctx);
            crunch_ctx_set_isa(&ctx, check_isas[ii]);
            pthread_t th;
            pthread_create(&th, NULL, check_cancel_when_started, &ctx);
            crunch_status st = crunch_solve_f64(&ctx, n, 1, a, n, b, 1, xs, 1);
            pthread_join(th, NULL);
            int64_t done, total;
            crunch_ctx_progress(&ctx, &done, &total);
            if (st == CRUNCH_ECANCELED) {
                stopped = 1;
                CHECK(done > 0 && done < total, "progress %lld/%lld", (long long)done,
                      (long long)total);
            } else {
                CHECK(st == CRUNCH_OK, "status %d", st);
            }
        }
        CHECK(stopped, "%s: never cancelled in 5 tries", crunch_isa_name(check_isas[ii]));
    }
    free(a);
    free(b);
    free(xs);
}

static void test_bad_args(void)
{
    double a[4] = {1, 0, 0, 1}, b[2] = {1, 2}, x[2];
    CHECK(crunch_solve_f64(NULL, 2, 1, NULL, 2, b, 1, x, 1) == CRUNCH_EINVAL, "NULL a");
    CHECK(crunch_solve_f64(NULL, 2, 1, a, 2, NULL, 1, x, 1) == CRUNCH_EINVAL, "NULL b");
    CHECK(crunch_solve_f64(NULL, 2, 1, a, 2, b, 1, NULL, 1) == CRUNCH_EINVAL, "NULL x");
    CHECK(crunch_solve_f64(NULL, 2, 1, a, 1, b, 1, x, 1) == CRUNCH_EINVAL, "lda < n");
    CHECK(crunch_solve_f64(NULL, 2, 0, a, 0, NULL, 0, NULL, 0) == CRUNCH_EINVAL, "lda 0");
    CHECK(crunch_solve_f64(NULL, 1, 2, a, 1, b, 1, x, 2) == CRUNCH_EINVAL, "ldb < nrhs");
    CHECK(crunch_solve_f64(NULL, 1, 2, a, 1, b, 2, x, 1) == CRUNCH_EINVAL, "ldx < nrhs");
    CHECK(crunch_solve_f64(NULL, 1, 1, a, 1, b, 2, b, 1) == CRUNCH_EINVAL, "in place, two lds");
    CHECK(crunch_solve_f64(NULL, SIZE_MAX / 4, 1, a, SIZE_MAX / 4, b, 1, x, 1) == CRUNCH_EINVAL,
          "huge n");
    CHECK(crunch_solve_f64(NULL, 2, 1, a, 2, b, 1, x, 1) == CRUNCH_OK && x[0] == 1 && x[1] == 2,
          "identity");
    CHECK(crunch_solve_f64(NULL, 0, 0, NULL, 0, NULL, 0, NULL, 0) == CRUNCH_EINVAL, "ld 0 even for n 0");
    CHECK(strcmp(crunch_strerror(CRUNCH_ENUMERICAL), "unknown status") != 0, "strerror");
}

int main(void)
{
    test_bad_args();
    test_empty();
    test_small_exact();
    test_inplace();
    test_nonfinite();
    test_singular();
    test_progress();
    test_pinned();
    test_table();
    test_cancel();
    printf("test_solve: worst scaled residual %.3g (bound 4)\n", worst_residual);
    return check_exit("test_solve");
}
