/*
 * test_mandelbrot.c - crunch_mandelbrot on every SIMD path this CPU has,
 * against the naive scalar definition, count for count (every path must
 * match it exactly): a table of image sizes (empty, 1 x 1, single rows and
 * columns, primes, around the vector widths and chunk sizes) times windows
 * (the whole set, regions straddling its boundary, huge, tiny and
 * degenerate ones) times max_iter (1, 2, around the cancel-poll interval,
 * large); single points with known counts (in the set, on the escape
 * boundary); progress; cancellation before and during a huge max_iter;
 * bad arguments.
 *
 * Build and run (from the repository root):
 *   gcc -std=gnu11 -O2 -g -Wall -Wextra -Werror -Iinclude -Inative \
 *       native/core.c native/mandelbrot*.c native/test/test_mandelbrot.c \
 *       -lpthread -lm \
 *       -o /tmp/test_mandelbrot && /tmp/test_mandelbrot
 */
#include "crunch.h"
#include "check.h"

#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>


/* ref_count is the definition, literally: z_0 = 0, z_{k+1} = z_k^2 + c,
 * the count is the first k >= 1 with |z_k|^2 > 4, else max_iter. Products
 * go through volatile doubles so that none is fused with an add. */
static uint32_t ref_count(double cr, double ci, int64_t max_iter)
{
    double x = 0, y = 0;
    for (int64_t k = 1; k <= max_iter; k++) {
        volatile double xx = x * x, yy = y * y, xy = x * y;
        double nx = (xx - yy) + cr;
        double ny = (xy + xy) + ci;
        x = nx;
        y = ny;
        volatile double mx = x * x, my = y * y;
        if (mx + my > 4)
            return (uint32_t)k;
    }
    return (uint32_t)max_iter;
}

/* ref_image fills out with the reference counts of an image. */
static void ref_image(size_t w, size_t h, double x0, double x1, double y0, double y1,
                      int64_t max_iter, uint32_t *out)
{
    for (size_t r = 0; r < h; r++) {
        double ci = y0 + (y1 - y0) * (double)r / (double)h;
        for (size_t j = 0; j < w; j++) {
            double cr = x0 + (x1 - x0) * (double)j / (double)w;
            out[r * w + j] = ref_count(cr, ci, max_iter);
        }
    }
}

/* Image sizes: empty, single pixels, rows and columns, primes, and widths
 * around 4 (AVX2 vector), 8 (AVX-512 vector), 16 and 32 (their chunks). */
static const size_t sizes[][2] = {
    {0, 0},  {0, 5},  {5, 0},  {1, 1},  {1, 17}, {37, 1}, {2, 3},  {3, 2},   {4, 4},   {5, 3},
    {7, 7},  {8, 2},  {9, 4},  {13, 7}, {15, 3}, {16, 5}, {17, 6}, {31, 29}, {32, 3},  {33, 4},
    {47, 5}, {63, 2}, {64, 3}, {65, 2}, {97, 3}, {127, 2}, {257, 129}};

/* Windows: x_min, x_max, y_min, y_max. */
static const double windows[][4] = {
    {-2, 1, -1.5, 1.5},                /* the whole set */
    {-0.75, -0.74, 0.1, 0.11},         /* seahorse valley: straddles the boundary */
    {-1.8, -1.7, -0.05, 0.05},         /* the needle, through c = -1.75 */
    {0.2, 0.3, -0.1, 0.1},             /* the cusp, through c = 0.25 */
    {-2.5, 2.5, -2.5, 2.5},            /* mostly outside: fast escapes */
    {-0.1, 0.1, -0.1, 0.1},            /* all inside */
    {-1e-300, 1e-300, -1e-300, 1e-300}, /* products underflow */
    {-1e300, 1e300, -1e300, 1e300},    /* products overflow at once */
    {-1.7e308, 1.7e308, -1, 1},        /* x_max - x_min overflows: NaN and Inf c */
    {0.3, 0.3, -0.5, -0.5},            /* degenerate: every pixel the same c */
    {1, -2, 1.5, -1.5},                /* reversed bounds */
};
enum { N_WINDOWS = sizeof windows / sizeof windows[0] };

static const int64_t iters[] = {1, 2, 3, 50, 4097};

/* run calls crunch_mandelbrot on isa; out has room for one more count,
 * a guard that must survive. */
static crunch_status run(crunch_isa isa, size_t w, size_t h, const double *win,
                         int64_t max_iter, uint32_t *out, crunch_ctx *ctx)
{
    crunch_ctx_init(ctx);
    crunch_ctx_set_isa(ctx, isa);
    return crunch_mandelbrot(ctx, w, h, win[0], win[1], win[2], win[3], max_iter, out);
}

/* compare checks got against want, reporting the first difference. */
static void compare(const char *what, const uint32_t *got, const uint32_t *want, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (got[i] != want[i]) {
            CHECK(0, "%s: pixel %zu is %u, want %u", what, i, got[i], want[i]);
            return;
        }
    }
    CHECK(got[n] == 0xdeadbeef, "%s: wrote past the image", what);
}

static void test_table(crunch_isa isa)
{
    enum { N_SIZES = sizeof sizes / sizeof sizes[0], N_ITERS = sizeof iters / sizeof iters[0] };
    for (size_t s = 0; s < N_SIZES; s++) {
        size_t w = sizes[s][0], h = sizes[s][1], n = w * h;
        uint32_t *got = malloc((n + 1) * sizeof *got), *want = malloc((n + 1) * sizeof *want);
        CHECK(got != NULL && want != NULL, "out of memory");
        if (got == NULL || want == NULL)
            return;
        for (int wi = 0; wi < N_WINDOWS; wi++) {
            for (int ii = 0; ii < N_ITERS; ii++) {
                int64_t mi = iters[ii];
                if (n > 5000 && mi > 50)
                    continue; /* the reference is slow; the large image has 1, 2, 3, 50 */
                const double *win = windows[wi];
                ref_image(w, h, win[0], win[1], win[2], win[3], mi, want);
                got[n] = 0xdeadbeef;
                crunch_ctx ctx;
                crunch_status st = run(isa, w, h, win, mi, got, &ctx);
                char what[160];
                snprintf(what, sizeof what, "%s %zux%zu window %d max_iter %lld",
                         crunch_isa_name(isa), w, h, wi, (long long)mi);
                CHECK(st == CRUNCH_OK, "%s: status %d", what, st);
                compare(what, got, want, n);
                int64_t done, total;
                crunch_ctx_progress(&ctx, &done, &total);
                CHECK(done == (int64_t)n && total == (int64_t)n, "%s: progress %lld/%lld", what,
                      (long long)done, (long long)total);
            }
        }
        free(got);
        free(want);
    }
}

/* test_large_iter: a boundary-straddling image with max_iter 100000 (many
 * poll intervals, long-lived lanes beside escaped ones). */
static void test_large_iter(crunch_isa isa)
{
    const size_t w = 21, h = 11;
    const double win[4] = {-0.75, -0.74, 0.1, 0.11}; /* escapes up to ~9000 */
    const int64_t mi = 100000;
    uint32_t want[21 * 11 + 1], got[21 * 11 + 1];
    ref_image(w, h, win[0], win[1], win[2], win[3], mi, want);
    got[w * h] = 0xdeadbeef;
    crunch_ctx ctx;
    CHECK(run(isa, w, h, win, mi, got, &ctx) == CRUNCH_OK, "large max_iter failed");
    char what[64];
    snprintf(what, sizeof what, "%s max_iter %lld", crunch_isa_name(isa), (long long)mi);
    compare(what, got, want, w * h);
    int distinct = 0; /* the window must really straddle: escapes and not */
    for (size_t i = 0; i < w * h; i++)
        distinct += got[i] == (uint32_t)mi;
    CHECK(distinct > 0 && distinct < (int)(w * h), "%s: %d of %zu pixels in the set", what,
          distinct, w * h);
}

/* test_points: single pixels at c with known counts. A 1 x 1 image
 * samples exactly (x_min, y_min). */
static void test_points(crunch_isa isa)
{
    static const struct {
        double re, im;
        int64_t max_iter;
        uint32_t want;
    } pts[] = {
        {0, 0, 1000, 1000},    /* in the set: z stays 0 */
        {-0.0, -0.0, 7, 7},
        {-1, 0, 1000, 1000},   /* period 2: 0, -1, 0, -1 */
        {-2, 0, 1000, 1000},   /* |z|^2 = 4 forever, never above */
        {2, 0, 1000, 2},       /* |z_1|^2 = 4 is not > 4; z_2 = 6 */
        {2, 0, 1, 1},          /* capped by max_iter */
        {0, 2, 1000, 2},       /* z_1 = 2i, z_2 = -4 + 2i */
        {0.25, 0, 5000, 5000}, /* the cusp: z -> 1/2 from below */
        {1, 0, 1000, 3},       /* 1, 2 (|z|^2 = 4), 5 */
        {3, 0, 1000, 1},       /* escapes at once */
        {0, 1, 1000, 1000},    /* i, -1 + i, -i, -1 + i, ... */
        {-1.75, 0, 1000, 1000},
        {1e300, 0, 10, 1},     /* |z_1|^2 overflows to Inf > 4 */
    };
    for (size_t i = 0; i < sizeof pts / sizeof pts[0]; i++) {
        uint32_t got[2] = {0, 0xdeadbeef};
        double win[4] = {pts[i].re, pts[i].re + 1, pts[i].im, pts[i].im + 1};
        crunch_ctx ctx;
        crunch_status st = run(isa, 1, 1, win, pts[i].max_iter, got, &ctx);
        CHECK(st == CRUNCH_OK && got[0] == pts[i].want && got[1] == 0xdeadbeef,
              "%s c = %g%+gi max_iter %lld: count %u, want %u", crunch_isa_name(isa), pts[i].re,
              pts[i].im, (long long)pts[i].max_iter, got[0], pts[i].want);
        CHECK(ref_count(pts[i].re, pts[i].im, pts[i].max_iter) == pts[i].want,
              "reference at c = %g%+gi", pts[i].re, pts[i].im);
    }
    /* The same points inside full vector chunks: a 64 x 1 image of one c. */
    uint32_t row[65];
    for (size_t i = 0; i < sizeof pts / sizeof pts[0]; i++) {
        double win[4] = {pts[i].re, pts[i].re, pts[i].im, pts[i].im + 1};
        row[64] = 0xdeadbeef;
        crunch_ctx ctx;
        crunch_status st = run(isa, 64, 1, win, pts[i].max_iter, row, &ctx);
        int ok = st == CRUNCH_OK && row[64] == 0xdeadbeef;
        for (int j = 0; j < 64; j++)
            ok = ok && row[j] == pts[i].want;
        CHECK(ok, "%s row of c = %g%+gi: status %d, counts %u .. %u, want %u",
              crunch_isa_name(isa), pts[i].re, pts[i].im, st, row[0], row[63], pts[i].want);
    }
    /* max_iter at its limit, on a pixel that escapes at once */
    double win[4] = {3, 4, 0, 1};
    uint32_t one[2] = {0, 0xdeadbeef};
    crunch_ctx ctx;
    CHECK(run(isa, 1, 1, win, CRUNCH_MANDELBROT_MAX_ITER, one, &ctx) == CRUNCH_OK && one[0] == 1,
          "max_iter 2^31: count %u", one[0]);
}

/* cancel_later cancels the ctx after 20 ms. */
static void *cancel_later(void *arg)
{
    struct timespec d = {0, 20 * 1000 * 1000};
    nanosleep(&d, NULL);
    crunch_ctx_cancel(arg);
    return NULL;
}

/* test_cancel: a pre-cancelled ctx stops a non-empty call; a call on
 * pixels that would iterate 2^31 times each (many seconds) stops soon
 * after the cancel, whether the pixels sit in vector chunks or in the
 * scalar tail. */
static void test_cancel(crunch_isa isa)
{
    uint32_t out[70];
    const double inside[4] = {-0.1, 0.1, -0.1, 0.1}; /* every c in the set */
    crunch_ctx ctx;
    crunch_ctx_init(&ctx);
    crunch_ctx_set_isa(&ctx, isa);
    crunch_ctx_cancel(&ctx);
    CHECK(crunch_mandelbrot(&ctx, 2, 2, -2, 1, -1, 1, 10, out) == CRUNCH_ECANCELED,
          "pre-cancelled call ran");
    CHECK(crunch_mandelbrot(&ctx, 0, 2, -2, 1, -1, 1, 10, NULL) == CRUNCH_OK,
          "empty call on a cancelled ctx");
    static const size_t widths[] = {1, 3, 8, 64, 67};
    for (size_t i = 0; i < sizeof widths / sizeof widths[0]; i++) {
        crunch_ctx_init(&ctx);
        crunch_ctx_set_isa(&ctx, isa);
        pthread_t th;
        pthread_create(&th, NULL, cancel_later, &ctx);
        double t0 = check_now_s();
        crunch_status st = crunch_mandelbrot(&ctx, widths[i], 1, inside[0], inside[1], inside[2],
                                             inside[3], CRUNCH_MANDELBROT_MAX_ITER, out);
        double secs = check_now_s() - t0;
        pthread_join(th, NULL);
        int64_t done, total;
        crunch_ctx_progress(&ctx, &done, &total);
        CHECK(st == CRUNCH_ECANCELED && secs < 1.0 && done == 0 && total == (int64_t)widths[i],
              "%s width %zu: status %d after %.3f s, progress %lld/%lld", crunch_isa_name(isa),
              widths[i], st, secs, (long long)done, (long long)total);
    }
}

static void test_bad_args(void)
{
    uint32_t out[4];
    const double nan = NAN, inf = INFINITY;
    CHECK(crunch_mandelbrot(NULL, 2, 2, nan, 1, -1, 1, 10, out) == CRUNCH_EINVAL, "NaN x_min");
    CHECK(crunch_mandelbrot(NULL, 2, 2, -2, inf, -1, 1, 10, out) == CRUNCH_EINVAL, "Inf x_max");
    CHECK(crunch_mandelbrot(NULL, 2, 2, -2, 1, -inf, 1, 10, out) == CRUNCH_EINVAL, "-Inf y_min");
    CHECK(crunch_mandelbrot(NULL, 2, 2, -2, 1, -1, nan, 10, out) == CRUNCH_EINVAL, "NaN y_max");
    CHECK(crunch_mandelbrot(NULL, 0, 0, nan, 1, -1, 1, 10, NULL) == CRUNCH_EINVAL,
          "NaN bound, empty image");
    CHECK(crunch_mandelbrot(NULL, 2, 2, -2, 1, -1, 1, 0, out) == CRUNCH_EINVAL, "max_iter 0");
    CHECK(crunch_mandelbrot(NULL, 2, 2, -2, 1, -1, 1, -5, out) == CRUNCH_EINVAL, "max_iter < 0");
    CHECK(crunch_mandelbrot(NULL, 2, 2, -2, 1, -1, 1, CRUNCH_MANDELBROT_MAX_ITER + 1, out) ==
              CRUNCH_EINVAL,
          "max_iter 2^31 + 1");
    CHECK(crunch_mandelbrot(NULL, 2, 2, -2, 1, -1, 1, INT64_MAX, out) == CRUNCH_EINVAL,
          "max_iter INT64_MAX");
    CHECK(crunch_mandelbrot(NULL, 2, 2, -2, 1, -1, 1, 10, NULL) == CRUNCH_EINVAL, "NULL counts");
    CHECK(crunch_mandelbrot(NULL, SIZE_MAX / 2, 3, -2, 1, -1, 1, 10, out) == CRUNCH_EINVAL,
          "width * height overflows");
    CHECK(crunch_mandelbrot(NULL, SIZE_MAX / 4, 2, -2, 1, -1, 1, 10, out) == CRUNCH_EINVAL,
          "byte count overflows");
    CHECK(crunch_mandelbrot(NULL, SIZE_MAX, 0, -2, 1, -1, 1, 10, NULL) == CRUNCH_OK,
          "huge width, no rows");
    CHECK(crunch_mandelbrot(NULL, 0, 0, -2, 1, -1, 1, 1, NULL) == CRUNCH_OK, "0 x 0");
    crunch_ctx ctx;
    crunch_ctx_init(&ctx);
    CHECK(crunch_mandelbrot(&ctx, 2, 2, -2, 1, -1, 1, 10, out) == CRUNCH_OK &&
              crunch_ctx_progress(&ctx, NULL, NULL) == 1.0,
          "progress of a finished call");
}

int main(void)
{
    test_bad_args();
    static const check_path_test tests[] = {test_table, test_large_iter, test_points, test_cancel};
    check_on_paths("test_mandelbrot", tests, sizeof tests / sizeof tests[0]);
    return check_exit("test_mandelbrot");
}
