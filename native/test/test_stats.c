/*
 * test_stats.c - crunch_stats_f64 and crunch_stats_f32 on every SIMD path
 * this CPU has, against a naive reference in long double (compensated
 * sum, two-pass variance), over one table of sizes and value kinds; plus
 * the accuracy of 10^7-element sums, progress, cancellation and bad
 * arguments.
 *
 * Build and run (from the repository root):
 *   gcc -std=gnu11 -O2 -g -Wall -Wextra -Werror -Iinclude -Inative \
 *       native/core.c native/stats*.c native/test/test_stats.c -lpthread -lm \
 *       -o /tmp/test_stats && /tmp/test_stats
 */
#include "crunch.h"
#include "check.h"

#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>


/* The shared table: sizes around every boundary of the code (vector
 * widths, unrolled loops, the 2048-element block, the 128-block poll
 * chunk), primes, and large. */
static const size_t sizes[] = {0,    1,    2,    3,    5,    7,    8,    13,   15,    16,
                               17,   31,   32,   33,   63,   64,   65,   127,  128,   129,
                               1023, 1024, 1025, 2047, 2048, 2049, 4095, 4096, 4097,  6143,
                               10007, 65537, 262143, 262144, 262145, 1000003};

/* Value kinds. */
enum kind {
    K_UNIFORM,  /* [-1, 1) */
    K_OFFSET,   /* 1e8 + [0, 1): mean huge against the spread */
    K_POSITIVE, /* [0, 1) */
    K_MIXED,    /* magnitudes from subnormal to 1e150, and signed zeros */
    K_EXTREME,  /* a few +-1e300 among [-1, 1): var overflows to +Inf */
    K_NEGZERO,  /* all -0.0 */
    K_ZEROS,    /* -0.0 and +0.0 alternating */
    K_EQUAL,    /* all 3.25: var exactly 0 */
    K_INTS,     /* 0 .. 9: a zero minimum that is +0.0 */
    K_NEGINTS,  /* -9 .. -0.0: a zero maximum that is -0.0 */
    K_NAN,      /* [-1, 1) with one NaN */
    K_PINF,     /* [-1, 1) with one +Inf */
    K_NINF,     /* [-1, 1) with one -Inf */
    K_BOTHINF,  /* [-1, 1) with +Inf and -Inf */
    K_TENTH,    /* 0.1 repeated */
    N_KINDS
};

static const char *kind_names[N_KINDS] = {"uniform", "offset",  "positive", "mixed", "extreme",
                                         "negzero", "zeros",   "equal",    "ints",  "negints",
                                         "nan",     "pinf",    "ninf",     "bothinf", "tenth"};

/* fill writes n values of kind k to x. */
static void fill(enum kind k, double *x, size_t n, uint64_t seed)
{
    uint64_t s = seed;
    for (size_t i = 0; i < n; i++) {
        double u = check_rnd01(&s), v = 2 * u - 1;
        switch (k) {
        case K_UNIFORM: x[i] = v; break;
        case K_OFFSET: x[i] = 1e8 + u; break;
        case K_POSITIVE: x[i] = u; break;
        case K_MIXED:
            switch (i % 7) {
            case 0: x[i] = v * 1e-310; break; /* subnormal */
            case 1: x[i] = -0.0; break;
            case 2: x[i] = v * 1e150; break;
            case 3: x[i] = 0.0; break;
            case 4: x[i] = v * 1e-300; break;
            default: x[i] = v; break;
            }
            break;
        case K_EXTREME: x[i] = i % 97 == 5 ? (i % 2 ? 1e300 : -1e300) : v; break;
        case K_NEGZERO: x[i] = -0.0; break;
        case K_ZEROS: x[i] = i % 2 ? 0.0 : -0.0; break;
        case K_EQUAL: x[i] = 3.25; break;
        case K_INTS: x[i] = (double)(i % 10); break;
        case K_NEGINTS: x[i] = i % 10 == 0 ? -0.0 : -(double)(i % 10); break;
        case K_NAN:
        case K_PINF:
        case K_NINF:
        case K_BOTHINF: x[i] = v; break;
        case K_TENTH: x[i] = 0.1; break;
        default: x[i] = 0; break;
        }
    }
    if (n == 0)
        return;
    /* The special value sits where the code has seams: a block's tail, the
     * middle, the end. */
    size_t at = n > 2100 ? 2047 : n / 2;
    switch (k) {
    case K_NAN: x[at] = NAN; break;
    case K_PINF: x[at] = INFINITY; break;
    case K_NINF: x[n - 1] = -INFINITY; break;
    case K_BOTHINF:
        x[0] = INFINITY;
        x[n - 1] = -INFINITY;
        break;
    default: break;
    }
}

/* before reports a < b with -0.0 below +0.0 (no NaN here). */
static int before(double a, double b)
{
    return a < b || (a == 0 && b == 0 && signbit(a) && !signbit(b));
}

/* reference computes what crunch.h promises, naively, in long double:
 * a Kahan-compensated sum (64-bit mantissa, so far below double's
 * rounding), the mean, and the two-pass variance about that mean. It also
 * returns sum(|x|), the scale of the sum's error bound. */
static crunch_stats reference(const double *x, size_t n, size_t ddof, long double *abs_sum)
{
    crunch_stats r;
    r.count = n;
    int nan = 0, pinf = 0, ninf = 0;
    long double s = 0, c = 0, a = 0;
    double mn = INFINITY, mx = -INFINITY;
    for (size_t i = 0; i < n; i++) {
        if (isnan(x[i])) {
            nan = 1;
            continue;
        }
        if (isinf(x[i])) {
            pinf |= x[i] > 0;
            ninf |= x[i] < 0;
        }
        mn = before(x[i], mn) ? x[i] : mn;
        mx = before(mx, x[i]) ? x[i] : mx;
        long double y = (long double)x[i] - c; /* Kahan */
        long double t = s + y;
        c = (t - s) - y;
        s = t;
        a += fabsl((long double)x[i]);
    }
    *abs_sum = a;
    if (n == 0) {
        r.sum = 0;
        r.mean = r.var = r.std = r.min = r.max = NAN;
        return r;
    }
    if (nan) {
        r.sum = r.mean = r.var = r.std = r.min = r.max = NAN;
        return r;
    }
    r.min = mn;
    r.max = mx;
    if (pinf || ninf) {
        r.sum = pinf && ninf ? NAN : (pinf ? INFINITY : -INFINITY);
        r.mean = r.sum;
        r.var = r.std = NAN;
        return r;
    }
    long double mean = s / (long double)n, q = 0;
    for (size_t i = 0; i < n; i++) {
        long double d = (long double)x[i] - mean;
        q += d * d;
    }
    long double var = q / (long double)(n - ddof);
    r.sum = (double)s;
    r.mean = (double)mean;
    r.var = (double)var; /* +Inf when it does not fit a double */
    r.std = sqrt(r.var);  /* crunch.h: std is sqrt(var), +Inf with it */
    return r;
}

/* same_bits reports whether a and b are the same double, NaN matching any
 * NaN. */
static int same_bits(double a, double b)
{
    if (isnan(a) || isnan(b))
        return isnan(a) && isnan(b);
    return memcmp(&a, &b, sizeof a) == 0;
}

/* close_to reports whether got is want within tol, NaN and Inf exactly. */
static int close_to(double got, double want, double tol)
{
    if (!isfinite(want) || !isfinite(got))
        return same_bits(got, want);
    return fabs(got - want) <= tol;
}

/* check_result compares a result with the reference for the values x. */
static void check_result(const char *what, const crunch_stats *got, const double *x, size_t n,
                         size_t ddof)
{
    long double abs_sum;
    crunch_stats want = reference(x, n, ddof, &abs_sum);
    const double eps = DBL_EPSILON;
    /* The sum: a few ulps of the result, plus a small multiple of
     * eps * sum(|x|) for cancellation (crunch.h's promise). */
    double tol_sum = 2 * eps * fabs(want.sum) + 4 * eps * (double)abs_sum + DBL_TRUE_MIN;
    /* The variance: 13 digits, plus what the reference's own mean error
     * (long double rounding, about 1e-19 relative) adds to each squared
     * deviation, which matters only when the variance is (nearly) 0. */
    double ref_err = n ? 16 * LDBL_EPSILON * (double)(abs_sum / (long double)n) : 0;
    double tol_var = 1e-13 * fabs(want.var) + ref_err * ref_err + 1e-300;
    CHECK(got->count == n, "%s: count %llu", what, (unsigned long long)got->count);
    CHECK(close_to(got->sum, want.sum, tol_sum), "%s: sum %.17g, want %.17g (tol %g)", what,
          got->sum, want.sum, tol_sum);
    CHECK(close_to(got->mean, want.mean, n ? tol_sum / (double)n + DBL_TRUE_MIN : 0),
          "%s: mean %.17g, want %.17g", what, got->mean, want.mean);
    CHECK(close_to(got->var, want.var, tol_var), "%s: var %.17g, want %.17g", what, got->var,
          want.var);
    CHECK(close_to(got->std, want.std, 1e-13 * fabs(want.std) + ref_err + 1e-300),
          "%s: std %.17g, want %.17g", what, got->std, want.std);
    CHECK(same_bits(got->min, want.min), "%s: min %.17g, want %.17g", what, got->min, want.min);
    CHECK(same_bits(got->max, want.max), "%s: max %.17g, want %.17g", what, got->max, want.max);
}

/* test_table runs every size and kind, f64 and f32, ddof 0 and 1, on isa. */
static void test_table(crunch_isa isa)
{
    size_t maxn = sizes[sizeof sizes / sizeof sizes[0] - 1];
    double *x = malloc(maxn * sizeof *x), *xd = malloc(maxn * sizeof *xd);
    float *xf = malloc(maxn * sizeof *xf);
    CHECK(x && xd && xf, "out of memory");
    if (!x || !xd || !xf)
        goto out;
    for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++) {
        size_t n = sizes[si];
        for (int k = 0; k < N_KINDS; k++) {
            fill((enum kind)k, x, n, 1000 * si + (uint64_t)k);
            for (size_t i = 0; i < n; i++) {
                xf[i] = (float)x[i];
                xd[i] = xf[i]; /* what the f32 call sees, as doubles */
            }
            for (size_t ddof = 0; ddof <= 1; ddof++) {
                if (ddof >= n && n > 0)
                    continue;
                char what[128];
                crunch_ctx ctx;
                crunch_stats got;
                int64_t done, total;

                snprintf(what, sizeof what, "%s f64 n=%zu %s ddof=%zu", crunch_isa_name(isa), n,
                         kind_names[k], ddof);
                crunch_ctx_init(&ctx);
                crunch_ctx_set_isa(&ctx, isa);
                crunch_status st = crunch_stats_f64(&ctx, x, n, ddof, &got);
                CHECK(st == CRUNCH_OK, "%s: status %d", what, st);
                if (st == CRUNCH_OK)
                    check_result(what, &got, x, n, ddof);
                crunch_ctx_progress(&ctx, &done, &total);
                CHECK(done == (int64_t)n && total == (int64_t)n, "%s: progress %lld/%lld", what,
                      (long long)done, (long long)total);

                snprintf(what, sizeof what, "%s f32 n=%zu %s ddof=%zu", crunch_isa_name(isa), n,
                         kind_names[k], ddof);
                crunch_ctx_init(&ctx);
                crunch_ctx_set_isa(&ctx, isa);
                st = crunch_stats_f32(&ctx, xf, n, ddof, &got);
                CHECK(st == CRUNCH_OK, "%s: status %d", what, st);
                if (st == CRUNCH_OK)
                    check_result(what, &got, xd, n, ddof);
            }
        }
    }
out:
    free(x);
    free(xd);
    free(xf);
}

/* ulps returns |a - b| in units of the last place of b. */
static double ulps(double a, double b)
{
    return fabs(a - b) / (nextafter(fabs(b), INFINITY) - fabs(b));
}

/* test_accuracy: 10^7 elements. A naive sum's error grows with n (for
 * 0.1 repeated it is about 10^-10 relative); crunch's must stay within a
 * couple of ulps of the exact sum, on every path. The variance of data
 * whose mean is 10^8 times its spread must keep about 13 digits. */
static void test_accuracy(crunch_isa isa)
{
    const size_t n = 10 * 1000 * 1000;
    double *x = malloc(n * sizeof *x);
    CHECK(x != NULL, "out of memory");
    if (x == NULL)
        return;
    static const enum kind kinds[] = {K_POSITIVE, K_TENTH, K_OFFSET, K_UNIFORM};
    for (size_t ki = 0; ki < sizeof kinds / sizeof kinds[0]; ki++) {
        enum kind k = kinds[ki];
        fill(k, x, n, 77 + ki);
        long double abs_sum;
        crunch_stats want = reference(x, n, 1, &abs_sum), got;
        crunch_ctx ctx;
        crunch_ctx_init(&ctx);
        crunch_ctx_set_isa(&ctx, isa);
        CHECK(crunch_stats_f64(&ctx, x, n, 1, &got) == CRUNCH_OK, "10^7 %s", kind_names[k]);
        double naive = 0;
        for (size_t i = 0; i < n; i++)
            naive += x[i];
        double e = ulps(got.sum, want.sum);
        if (k == K_UNIFORM) /* cancellation: the bound is in terms of sum(|x|) */
            CHECK(fabs(got.sum - want.sum) <= 2 * DBL_EPSILON * (double)abs_sum,
                  "%s 10^7 %s: sum %.17g, want %.17g", crunch_isa_name(isa), kind_names[k],
                  got.sum, want.sum);
        else
            CHECK(e <= 2, "%s 10^7 %s: sum off by %.1f ulps (%.17g, want %.17g)",
                  crunch_isa_name(isa), kind_names[k], e, got.sum, want.sum);
        CHECK(ulps(got.mean, want.mean) <= 2 || k == K_UNIFORM,
              "%s 10^7 %s: mean %.17g, want %.17g", crunch_isa_name(isa), kind_names[k], got.mean,
              want.mean);
        /* 0.1 repeated: the variance is exactly 0 */
        double var_err = want.var > 0 ? fabs(got.var - want.var) / want.var : fabs(got.var);
        CHECK(var_err <= 1e-13, "%s 10^7 %s: var %.17g, want %.17g", crunch_isa_name(isa),
              kind_names[k], got.var, want.var);
        printf("test_stats: %s 10^7 %-8s sum error %.2g ulp (naive loop: %.3g ulp), var error "
               "%.2g\n",
               crunch_isa_name(isa), kind_names[k], e, ulps(naive, want.sum), var_err);
    }
    free(x);
}

/*
 * test_pinned: path isa's exact results on fixed inputs (every field's
 * bits, f64 and f32, one and several blocks), as they were when its kernel
 * was written. The table above only bounds the error; this catches a
 * change of the association order, which would change the results by some
 * ulps. Sizes are whole unrolled steps of every path: the scalar tails'
 * rounding depends on the compiler's flags (at -O3 GCC may vectorise the
 * products of a tail and no longer fuse them into its adds), the vector
 * loops' does not. Pinned for GCC, whose rules for fusing multiply-adds
 * the kernels were built with.
 */
static void test_pinned(crunch_isa isa)
{
#if defined(__GNUC__) && !defined(__clang__)
    static const uint64_t want[CRUNCH_ISA_AVX512 + 1] = {
        [CRUNCH_ISA_GENERIC] = 0x023ea07fed3c13e8ULL,
        [CRUNCH_ISA_AVX2] = 0x7431951898866521ULL,
        [CRUNCH_ISA_AVX512] = 0x99490d03b384cb37ULL,
    };
    static const size_t ns[] = {32, 37 * 64, 3 * 2048, 5 * 2048 + 1088};
    static const enum kind kinds[] = {K_UNIFORM, K_OFFSET, K_MIXED, K_TENTH};
    const size_t maxn = 5 * 2048 + 1088;
    double *x = malloc(maxn * sizeof *x);
    float *xf = malloc(maxn * sizeof *xf);
    CHECK(x && xf, "out of memory");
    if (x && xf) {
        crunch_ctx ctx;
        crunch_ctx_init(&ctx);
        crunch_ctx_set_isa(&ctx, isa);
        uint64_t h = CHECK_HASH_INIT;
        for (size_t i = 0; i < sizeof ns / sizeof ns[0]; i++)
            for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
                crunch_stats out;
                fill(kinds[k], x, ns[i], 77 + i);
                for (size_t j = 0; j < ns[i]; j++)
                    xf[j] = (float)x[j];
                crunch_stats_f64(&ctx, x, ns[i], 1, &out);
                h = check_hash(&out, sizeof out, h);
                crunch_stats_f32(&ctx, xf, ns[i], 0, &out);
                h = check_hash(&out, sizeof out, h);
            }
        CHECK(h == want[isa], "%s: the exact results changed: hash 0x%016llx, want 0x%016llx",
              crunch_isa_name(isa), (unsigned long long)h, (unsigned long long)want[isa]);
    }
    free(x);
    free(xf);
#else
    (void)isa;
#endif
}

/* stats_call is a check_call: crunch_stats_f64 over STATS_CANCEL_N
 * elements at arg. */
enum { STATS_CANCEL_N = 20 * 1000 * 1000 };
static crunch_status stats_call(crunch_ctx *ctx, void *arg)
{
    crunch_stats out;
    return crunch_stats_f64(ctx, arg, STATS_CANCEL_N, 0, &out);
}

static void test_cancel(crunch_isa isa)
{
    crunch_ctx ctx;
    crunch_stats out;
    double one = 1;
    crunch_ctx_init(&ctx);
    crunch_ctx_set_isa(&ctx, isa);
    crunch_ctx_cancel(&ctx);
    CHECK(crunch_stats_f64(&ctx, &one, 1, 0, &out) == CRUNCH_ECANCELED, "pre-cancelled call ran");
    CHECK(crunch_stats_f64(&ctx, NULL, 0, 0, &out) == CRUNCH_OK && out.count == 0,
          "empty call on a cancelled ctx");

    /* A call cancelled as soon as it has started stops before the end. */
    const size_t n = STATS_CANCEL_N;
    double *x = calloc(n, sizeof *x);
    CHECK(x != NULL, "out of memory");
    if (x == NULL)
        return;
    check_cancel_midway("stats", isa, (int64_t)n, stats_call, x);
    free(x);
}

static void test_bad_args(void)
{
    crunch_stats out;
    double x[3] = {1, 2, 3};
    float xf[3] = {1, 2, 3};
    CHECK(crunch_stats_f64(NULL, x, 3, 0, NULL) == CRUNCH_EINVAL, "NULL out");
    CHECK(crunch_stats_f64(NULL, NULL, 3, 0, &out) == CRUNCH_EINVAL, "NULL x");
    CHECK(crunch_stats_f64(NULL, x, 3, 3, &out) == CRUNCH_EINVAL, "ddof == n");
    CHECK(crunch_stats_f32(NULL, xf, 3, 7, &out) == CRUNCH_EINVAL, "ddof > n");
    CHECK(crunch_stats_f64(NULL, NULL, 0, 5, &out) == CRUNCH_OK && out.count == 0 &&
              out.sum == 0 && isnan(out.mean) && isnan(out.min),
          "empty input");
    CHECK(crunch_stats_f64(NULL, x, 3, 2, &out) == CRUNCH_OK && out.var == 2 && out.mean == 2 &&
              out.sum == 6 && out.min == 1 && out.max == 3 && out.std == sqrt(2.0),
          "1,2,3 ddof=2: var %g", out.var);
    CHECK(crunch_stats_f32(NULL, xf, 3, 0, &out) == CRUNCH_OK && out.var == 2.0 / 3 &&
              out.count == 3,
          "f32 1,2,3: var %.17g", out.var);
}

int main(void)
{
    test_bad_args();
    static const check_path_test tests[] = {test_table, test_accuracy, test_pinned, test_cancel};
    check_on_paths("test_stats", tests, sizeof tests / sizeof tests[0]);
    return check_exit("test_stats");
}
