/*
 * test_conv2d.c - crunch_conv2d_f64 and crunch_conv2d_f32 on every SIMD
 * path this CPU has, against a naive reference (a direct quadruple loop
 * over the full convolution, in double, then cropped to the mode), over
 * one table of image and kernel sizes in every mode; plus special values
 * (NaN, Inf, -0), exact integer results, progress, cancellation and bad
 * arguments.
 *
 * Build and run (from the repository root):
 *   gcc -std=gnu11 -O2 -g -Wall -Wextra -Werror -Iinclude -Inative \
 *       native/core.c native/conv2d*.c native/test/test_conv2d.c -lpthread -lm \
 *       -o /tmp/test_conv2d && /tmp/test_conv2d
 */
#include "crunch.h"
#include "check.h"

#include <float.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>


static const crunch_conv_mode modes[] = {CRUNCH_CONV_SAME, CRUNCH_CONV_VALID, CRUNCH_CONV_FULL};
static const char *mode_names[] = {"same", "valid", "full"};

typedef struct size2 {
    size_t r, c;
} size2;

/* Images: empty in either dimension, single rows and columns, primes,
 * powers of two and their neighbours (around the 4, 8, 16 lane vectors and
 * the 8-vector blocks), non-square. */
static const size2 images[] = {{0, 0},   {0, 5},   {5, 0},   {1, 1},    {1, 7},   {7, 1},
                               {2, 2},   {3, 5},   {8, 8},   {13, 17},  {16, 31}, {31, 16},
                               {33, 65}, {64, 64}, {65, 127}, {100, 37}, {127, 200}};

/* Kernels: 1x1, single rows and columns, even and odd sides (same mode's
 * centre), larger than some images, and larger than every image in one
 * dimension. */
static const size2 kernels[] = {{1, 1}, {1, 3},   {3, 1},   {2, 2},   {3, 3},  {2, 5},
                                {5, 5}, {4, 7},   {8, 8},   {9, 2},   {13, 13}, {31, 31},
                                {63, 63}, {70, 3}, {3, 150}};

/* Value kinds. */
enum kind {
    K_UNIFORM, /* [-1, 1) */
    K_INTS,    /* integers in [-8, 8]: every sum exact, zeros +0.0 */
    K_TINY,    /* [-1, 1) scaled so that products are near 1e-300 (f32: 1e-30) */
    K_HUGE,    /* [-1, 1) scaled so that products are near 1e300 (f32: 1e30) */
    K_NEGZERO, /* image all -0.0: every output +0.0 */
    K_IMG_NAN, /* uniform, one NaN pixel */
    K_IMG_INF, /* uniform, +Inf and -Inf pixels, and a zero kernel value */
    K_KER_INF, /* uniform, an Inf in the kernel: the clipped path */
    K_KER_NAN, /* uniform, a NaN in the kernel: the clipped path */
    N_KINDS
};

static const char *kind_names[N_KINDS] = {"uniform", "ints",   "tiny",    "huge",   "negzero",
                                          "img-nan", "img-inf", "ker-inf", "ker-nan"};

/* fill writes an image (is_kernel 0) or kernel of n values of kind k,
 * rounded to float when f32 so that both precisions see the same numbers. */
static void fill(enum kind k, int is_kernel, int f32, double *x, size_t n, uint64_t seed)
{
    uint64_t s = seed;
    double scale = 1;
    if (k == K_TINY)
        scale = f32 ? 1e-15 : 1e-150;
    if (k == K_HUGE)
        scale = f32 ? 1e15 : 1e150;
    for (size_t i = 0; i < n; i++) {
        double v = 2 * check_rnd01(&s) - 1;
        if (k == K_INTS)
            v = floor(17 * check_rnd01(&s)) - 8;
        if (k == K_NEGZERO && !is_kernel)
            v = -0.0;
        x[i] = f32 ? (double)(float)(v * scale) : v * scale;
    }
    if (n == 0)
        return;
    if (!is_kernel && k == K_IMG_NAN)
        x[n / 2] = NAN;
    if (!is_kernel && k == K_IMG_INF) {
        x[n / 3] = INFINITY;
        x[n - 1] = -INFINITY;
    }
    if (is_kernel && k == K_IMG_INF)
        x[0] = 0; /* Inf times a zero tap: NaN */
    if (is_kernel && k == K_KER_INF)
        x[n / 2] = -INFINITY;
    if (is_kernel && k == K_KER_NAN)
        x[n - 1] = NAN;
}

/* out_size is the mode's output size along one axis (reference version). */
static size_t out_size(crunch_conv_mode m, size_t n, size_t kn)
{
    if (m == CRUNCH_CONV_FULL)
        return n + kn - 1;
    if (m == CRUNCH_CONV_SAME)
        return n;
    return n >= kn ? n - kn + 1 : 0;
}

/* offset is where the mode's output starts in full, along one axis. */
static size_t offset(crunch_conv_mode m, size_t kn)
{
    return m == CRUNCH_CONV_FULL ? 0 : m == CRUNCH_CONV_SAME ? (kn - 1) / 2 : kn - 1;
}

/* reference computes the full convolution by the definition (a direct
 * quadruple loop, terms in p then q order, from +0.0) and crops it to the
 * mode: want[oh*ow], and per output the sum of |term| (abs) and the
 * number of terms (nt), the scale of the error bound. */
static void reference(crunch_conv_mode m, size_t h, size_t w, const double *img, size_t kh,
                      size_t kw, const double *ker, double *want, double *abs, size_t *nt)
{
    size_t oh = out_size(m, h, kh), ow = out_size(m, w, kw);
    size_t r0 = offset(m, kh), c0 = offset(m, kw);
    for (size_t r = 0; r < oh; r++) {
        for (size_t c = 0; c < ow; c++) {
            size_t i = r + r0, j = c + c0;
            double s = 0, a = 0;
            size_t n = 0;
            for (size_t p = 0; p < kh; p++) {
                for (size_t q = 0; q < kw; q++) {
                    if (i < p || i - p >= h || j < q || j - q >= w)
                        continue;
                    double t = img[(i - p) * w + (j - q)] * ker[p * kw + q];
                    s += t;
                    a += fabs(t);
                    n++;
                }
            }
            want[r * ow + c] = s;
            abs[r * ow + c] = a;
            nt[r * ow + c] = n;
        }
    }
}

/* agree reports whether got is within the error bound of want: NaN for
 * NaN, the same infinity, else within (nt + 2) * eps * abs. exact asks
 * for the same value and the same sign of zero. */
static int agree(double got, double want, double abs, size_t nt, int f32, int exact)
{
    if (isnan(want) || isinf(want))
        return (isnan(want) && isnan(got)) || got == want;
    if (exact)
        return got == want && signbit(got) == signbit(want);
    double eps = f32 ? FLT_EPSILON : DBL_EPSILON;
    return fabs(got - want) <= (double)(nt + 2) * eps * abs;
}

/* run_one convolves with isa and checks every output against want. */
static void run_one(crunch_isa isa, crunch_conv_mode m, int f32, size_t h, size_t w,
                    const double *img, size_t kh, size_t kw, const double *ker,
                    const double *want, const double *abs, const size_t *nt, int exact,
                    const char *what)
{
    size_t oh = out_size(m, h, kh), ow = out_size(m, w, kw), n = oh * ow;
    size_t soh = 0, sow = 0;
    CHECK(crunch_conv2d_shape(m, h, w, kh, kw, &soh, &sow) == CRUNCH_OK && soh == oh && sow == ow,
          "%s: shape %zux%zu, want %zux%zu", what, soh, sow, oh, ow);
    crunch_ctx ctx;
    crunch_ctx_init(&ctx);
    crunch_ctx_set_isa(&ctx, isa);
    double *got = malloc((n + 1) * sizeof *got);
    crunch_status st;
    if (f32) {
        float *fi = malloc((h * w + 1) * sizeof *fi), *fk = malloc(kh * kw * sizeof *fk);
        float *fo = malloc((n + 1) * sizeof *fo);
        for (size_t i = 0; i < h * w; i++)
            fi[i] = (float)img[i];
        for (size_t i = 0; i < kh * kw; i++)
            fk[i] = (float)ker[i];
        fo[n] = 12345; /* a guard: nothing past the output is written */
        st = crunch_conv2d_f32(&ctx, m, h, w, fi, kh, kw, fk, fo);
        CHECK(fo[n] == 12345, "%s: wrote past the output", what);
        for (size_t i = 0; i < n; i++)
            got[i] = fo[i];
        free(fi);
        free(fk);
        free(fo);
    } else {
        got[n] = 12345;
        st = crunch_conv2d_f64(&ctx, m, h, w, img, kh, kw, ker, got);
        CHECK(got[n] == 12345, "%s: wrote past the output", what);
    }
    CHECK(st == CRUNCH_OK, "%s: status %d", what, st);
    int64_t done, total;
    crunch_ctx_progress(&ctx, &done, &total);
    CHECK(done == (int64_t)n && total == (int64_t)n, "%s: progress %lld/%lld, want %zu", what,
          (long long)done, (long long)total, n);
    int bad = 0;
    for (size_t i = 0; i < n && st == CRUNCH_OK && bad < 3; i++) {
        if (!agree(got[i], want[i], abs[i], nt[i], f32, exact)) {
            bad++;
            CHECK(0, "%s: out[%zu][%zu] = %.17g, want %.17g (sum|t| %.3g, %zu terms)", what,
                  i / ow, i % ow, got[i], want[i], abs[i], nt[i]);
        }
    }
    free(got);
}

/* run_case builds a case's values, its reference, and runs every path. */
static void run_case(enum kind k, crunch_conv_mode m, int f32, size2 im, size2 ke, uint64_t seed)
{
    size_t h = im.r, w = im.c, kh = ke.r, kw = ke.c;
    size_t oh = out_size(m, h, kh), ow = out_size(m, w, kw), n = oh * ow;
    double *img = malloc((h * w + 1) * sizeof *img), *ker = malloc(kh * kw * sizeof *ker);
    double *want = malloc((n + 1) * sizeof *want), *abs = malloc((n + 1) * sizeof *abs);
    size_t *nt = malloc((n + 1) * sizeof *nt);
    fill(k, 0, f32, img, h * w, seed);
    fill(k, 1, f32, ker, kh * kw, seed * 31 + 7);
    reference(m, h, w, img, kh, kw, ker, want, abs, nt);
    for (int i = 0; i < CHECK_N_ISAS; i++) {
        if (check_isas[i] > crunch_isa_best())
            continue;
        char what[160];
        snprintf(what, sizeof what, "%s %s %s image %zux%zu kernel %zux%zu %s",
                 crunch_isa_name(check_isas[i]), f32 ? "f32" : "f64", mode_names[m], h, w, kh, kw,
                 kind_names[k]);
        run_one(check_isas[i], m, f32, h, w, img, kh, kw, ker, want, abs, nt,
                k == K_INTS || k == K_NEGZERO, what);
    }
    free(img);
    free(ker);
    free(want);
    free(abs);
    free(nt);
}

/* test_table: every image with every kernel in every mode and precision,
 * the value kind rotating through the table. */
static void test_table(void)
{
    size_t idx = 0;
    for (size_t a = 0; a < sizeof images / sizeof images[0]; a++)
        for (size_t b = 0; b < sizeof kernels / sizeof kernels[0]; b++)
            for (int m = 0; m < 3; m++)
                for (int f32 = 0; f32 < 2; f32++, idx++)
                    run_case((enum kind)(idx % N_KINDS), modes[m], f32, images[a], kernels[b],
                             idx + 1);
}

/* test_kinds: every value kind on a few shapes that reach the block
 * boundaries of every path (8 * 16 floats, partial vectors, both edges). */
static void test_kinds(void)
{
    static const size2 ims[] = {{9, 131}, {40, 70}, {3, 3}};
    static const size2 ks[] = {{3, 3}, {5, 8}, {6, 9}};
    uint64_t seed = 1000;
    for (int k = 0; k < N_KINDS; k++)
        for (size_t a = 0; a < 3; a++)
            for (int m = 0; m < 3; m++)
                for (int f32 = 0; f32 < 2; f32++)
                    run_case((enum kind)k, modes[m], f32, ims[a], ks[a], seed++);
}

/* test_large: sizes that matter for speed, and prime ones; kernel rows and
 * columns long enough that a row is split into several calls (columns in
 * runs, kernel rows in groups) to keep cancel polls frequent. */
static void test_large(void)
{
    run_case(K_UNIFORM, CRUNCH_CONV_SAME, 0, (size2){1024, 1024}, (size2){5, 5}, 77);
    run_case(K_UNIFORM, CRUNCH_CONV_SAME, 1, (size2){509, 1031}, (size2){7, 3}, 78);
    run_case(K_INTS, CRUNCH_CONV_FULL, 0, (size2){101, 257}, (size2){11, 13}, 79);
    for (int m = 0; m < 3; m++) {
        run_case(K_UNIFORM, modes[m], 0, (size2){24, 300}, (size2){24, 200}, 80 + m);
        run_case(K_INTS, modes[m], 1, (size2){20, 700}, (size2){17, 160}, 90 + m);
        /* Kernels so wide that one kernel row over a run of output
         * columns exceeds a poll's budget: cut into runs of taps, in
         * pairs of rows and single rows, on both the padded and the
         * clipped paths. */
        run_case(K_UNIFORM, modes[m], 0, (size2){4, 300}, (size2){2, 1100}, 100 + m);
        run_case(K_INTS, modes[m], 1, (size2){3, 140}, (size2){1, 2500}, 110 + m);
        run_case(K_KER_NAN, modes[m], 0, (size2){3, 300}, (size2){2, 1100}, 120 + m);
    }
}

static void test_cancel(crunch_isa isa)
{
    crunch_ctx ctx;
    double one = 1, out[4];
    crunch_ctx_init(&ctx);
    crunch_ctx_set_isa(&ctx, isa);
    crunch_ctx_cancel(&ctx);
    CHECK(crunch_conv2d_f64(&ctx, CRUNCH_CONV_SAME, 1, 1, &one, 1, 1, &one, out) ==
              CRUNCH_ECANCELED,
          "pre-cancelled call ran");
    CHECK(crunch_conv2d_f64(&ctx, CRUNCH_CONV_VALID, 1, 1, &one, 2, 2, &one, NULL) == CRUNCH_OK,
          "empty output on a cancelled ctx");

    /* A call cancelled as soon as it has started stops before the end, on
     * the padded and the clipped paths. The canceller may lose the race on
     * a busy machine: a few tries. */
    const size_t n = 1500, kn = 15;
    double *img = calloc(n * n, sizeof *img), *ker = calloc(kn * kn, sizeof *ker);
    double *o = malloc(n * n * sizeof *o);
    CHECK(img != NULL && ker != NULL && o != NULL, "out of memory");
    if (img == NULL || ker == NULL || o == NULL)
        goto done;
    for (int clipped = 0; clipped < 2; clipped++) {
        ker[kn * kn / 2] = clipped ? INFINITY : 1;
        int stopped = 0;
        for (int attempt = 0; attempt < 5 && !stopped; attempt++) {
            crunch_ctx_init(&ctx);
            crunch_ctx_set_isa(&ctx, isa);
            pthread_t th;
            pthread_create(&th, NULL, check_cancel_when_started, &ctx);
            crunch_status st = crunch_conv2d_f64(&ctx, CRUNCH_CONV_SAME, n, n, img, kn, kn, ker, o);
            pthread_join(th, NULL);
            int64_t done, total;
            crunch_ctx_progress(&ctx, &done, &total);
            if (st == CRUNCH_ECANCELED) {
                stopped = 1;
                CHECK(done > 0 && done < total && total == (int64_t)(n * n), "progress %lld/%lld",
                      (long long)done, (long long)total);
            } else {
                CHECK(st == CRUNCH_OK, "status %d", st);
            }
        }
        CHECK(stopped, "%s clipped=%d: never cancelled in 5 tries", crunch_isa_name(isa), clipped);
    }
done:
    free(img);
    free(ker);
    free(o);
}

static void test_bad_args(void)
{
    double x[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9}, out[32];
    float xf[4] = {1, 2, 3, 4}, of[16];
    size_t oh = 0, ow = 0;
    const size_t big = SIZE_MAX / 2 + 1;
    CHECK(crunch_conv2d_f64(NULL, CRUNCH_CONV_SAME, 3, 3, x, 2, 2, NULL, out) == CRUNCH_EINVAL,
          "NULL kernel");
    CHECK(crunch_conv2d_f64(NULL, CRUNCH_CONV_SAME, 3, 3, NULL, 2, 2, x, out) == CRUNCH_EINVAL,
          "NULL image");
    CHECK(crunch_conv2d_f64(NULL, CRUNCH_CONV_SAME, 3, 3, x, 2, 2, x, NULL) == CRUNCH_EINVAL,
          "NULL out");
    CHECK(crunch_conv2d_f64(NULL, CRUNCH_CONV_SAME, 3, 3, x, 0, 2, x, out) == CRUNCH_EINVAL,
          "kh == 0");
    CHECK(crunch_conv2d_f32(NULL, CRUNCH_CONV_FULL, 2, 2, xf, 2, 0, xf, of) == CRUNCH_EINVAL,
          "kw == 0");
    CHECK(crunch_conv2d_f64(NULL, (crunch_conv_mode)7, 3, 3, x, 2, 2, x, out) == CRUNCH_EINVAL,
          "unknown mode");
    CHECK(crunch_conv2d_f64(NULL, (crunch_conv_mode)-1, 3, 3, x, 2, 2, x, out) == CRUNCH_EINVAL,
          "negative mode");
    /* Sizes whose byte counts overflow: never dereferenced. */
    CHECK(crunch_conv2d_f64(NULL, CRUNCH_CONV_VALID, big, 4, x, 1, 1, x, out) == CRUNCH_EINVAL,
          "image bytes overflow");
    CHECK(crunch_conv2d_f64(NULL, CRUNCH_CONV_VALID, 1, 1, x, big, 4, x, out) == CRUNCH_EINVAL,
          "kernel bytes overflow");
    CHECK(crunch_conv2d_f64(NULL, CRUNCH_CONV_FULL, 1, SIZE_MAX, x, 1, 2, x, out) ==
              CRUNCH_EINVAL,
          "w + kw - 1 overflows");
    /* image 2^62 bytes, kernel 3 * 2^61: both fit; the full output
     * (3 x (2^59 + 2^58 - 1) doubles) does not. */
    CHECK(crunch_conv2d_f64(NULL, CRUNCH_CONV_FULL, 1, (size_t)1 << 59, x, 3, (size_t)1 << 58, x,
                            out) == CRUNCH_EINVAL,
          "output bytes overflow");
    CHECK(crunch_conv2d_f32(NULL, CRUNCH_CONV_VALID, 2, (size_t)1 << 61, xf, 1, 1, xf, of) ==
              CRUNCH_EINVAL,
          "image larger than PTRDIFF_MAX bytes");
    CHECK(crunch_conv2d_shape(CRUNCH_CONV_SAME, 3, 3, 2, 2, NULL, &ow) == CRUNCH_EINVAL, "NULL oh");
    CHECK(crunch_conv2d_shape(CRUNCH_CONV_SAME, 3, 3, 2, 2, &oh, NULL) == CRUNCH_EINVAL, "NULL ow");
    CHECK(crunch_conv2d_shape(CRUNCH_CONV_FULL, SIZE_MAX, 3, 2, 2, &oh, &ow) == CRUNCH_EINVAL,
          "h + kh - 1 overflows");
    CHECK(crunch_conv2d_shape(CRUNCH_CONV_FULL, 4, 5, 3, 2, &oh, &ow) == CRUNCH_OK && oh == 6 &&
              ow == 6,
          "full 4x5 * 3x2: %zux%zu", oh, ow);
    CHECK(crunch_conv2d_shape(CRUNCH_CONV_SAME, 4, 5, 30, 2, &oh, &ow) == CRUNCH_OK && oh == 4 &&
              ow == 5,
          "same 4x5 * 30x2: %zux%zu", oh, ow);
    CHECK(crunch_conv2d_shape(CRUNCH_CONV_VALID, 4, 5, 3, 6, &oh, &ow) == CRUNCH_OK && oh == 2 &&
              ow == 0,
          "valid 4x5 * 3x6: %zux%zu", oh, ow);
    /* An empty image needs no pointer; its full output is zeros. */
    for (size_t i = 0; i < 32; i++)
        out[i] = 7;
    CHECK(crunch_conv2d_f64(NULL, CRUNCH_CONV_FULL, 0, 4, NULL, 3, 2, x, out) == CRUNCH_OK &&
              out[0] == 0 && out[9] == 0 && !signbit(out[9]) && out[10] == 7,
          "empty image, full: a 2x5 block of +0");
    CHECK(crunch_conv2d_f64(NULL, CRUNCH_CONV_VALID, 2, 2, x, 3, 3, x, NULL) == CRUNCH_OK,
          "valid with a larger kernel: empty, out may be NULL");
    /* A small case by hand: [[1,2],[3,4]] * [[1,1],[1,-1]] in full mode. */
    double a[4] = {1, 2, 3, 4}, k[4] = {1, 1, 1, -1}, f[9];
    static const double want[9] = {1, 3, 2, 4, 8, 2, 3, 1, -4};
    CHECK(crunch_conv2d_f64(NULL, CRUNCH_CONV_FULL, 2, 2, a, 2, 2, k, f) == CRUNCH_OK &&
              memcmp(f, want, sizeof want) == 0,
          "2x2 full: %g %g %g / %g %g %g / %g %g %g", f[0], f[1], f[2], f[3], f[4], f[5], f[6],
          f[7], f[8]);
}

int main(void)
{
    for (int i = 0; i < CHECK_N_ISAS; i++)
        if (check_isas[i] > crunch_isa_best())
            printf("test_conv2d: skipping %s: not supported here\n", crunch_isa_name(check_isas[i]));
    test_bad_args();
    test_table();
    test_kinds();
    test_large();
    for (int i = 0; i < CHECK_N_ISAS; i++)
        if (check_isas[i] <= crunch_isa_best())
            test_cancel(check_isas[i]);
    return check_exit("test_conv2d");
}
