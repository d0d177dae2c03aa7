/*
 * test_alias.c - outputs that overlap inputs, for every kernel with both:
 * what crunch.h allows (fft and solve in place, blocks of one matrix that
 * share no element) gives the results of separate buffers on every SIMD
 * path, and what it forbids is refused with CRUNCH_EINVAL before anything
 * is written. Also crunch__overlap itself, which decides.
 */
#include "check.h"
#include "internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* test_overlap: the decision on hand-made layouts. */
static void test_overlap(void)
{
    static double m[64]; /* only its addresses matter */
    const size_t d = sizeof(double);
    /* empty arrays overlap nothing, even at the same address */
    CHECK(!crunch__overlap(m, 0, 4, 4, m, 2, 2, 4, d), "empty rows");
    CHECK(!crunch__overlap(m, 2, 0, 4, m, 2, 2, 4, d), "empty columns");
    /* plain arrays */
    CHECK(crunch__overlap_1d(m, 8, m, 8, d), "same array");
    CHECK(crunch__overlap_1d(m, 8, m + 7, 8, d), "last element shared");
    CHECK(!crunch__overlap_1d(m, 8, m + 8, 8, d), "adjacent arrays");
    CHECK(!crunch__overlap_1d(m + 8, 8, m, 8, d), "adjacent arrays, other order");
    CHECK(crunch__overlap_1d((char *)m + 4, 8, m + 8, 8, d), "misaligned, last bytes shared");
    /* blocks of one 8 x 8 matrix (ld 8) */
    CHECK(!crunch__overlap(m, 8, 4, 8, m + 4, 8, 4, 8, d), "left and right halves");
    CHECK(!crunch__overlap(m + 4, 8, 4, 8, m, 8, 4, 8, d), "right and left halves");
    CHECK(!crunch__overlap(m, 4, 8, 8, m + 32, 4, 8, 8, d), "top and bottom halves");
    CHECK(crunch__overlap(m, 4, 5, 8, m + 4, 8, 4, 8, d), "one column shared");
    CHECK(crunch__overlap(m + 9, 2, 2, 8, m, 4, 4, 8, d), "a block inside another");
    CHECK(!crunch__overlap(m + 6, 2, 2, 8, m + 16, 2, 6, 8, d), "wrapping past the row end: apart");
    CHECK(crunch__overlap(m + 6, 2, 4, 8, m + 16, 2, 2, 8, d), "wrapping past the row end: met");
    /* different strides: spans decide */
    CHECK(crunch__overlap(m, 4, 2, 8, m + 4, 2, 2, 16, d), "different strides, spans meet");
    CHECK(!crunch__overlap(m, 2, 2, 8, m + 32, 2, 2, 16, d), "different strides, spans apart");
    /* a single row takes the other's stride */
    CHECK(!crunch__overlap(m + 4, 1, 4, 4, m, 8, 4, 8, d), "a row between two rows' blocks");
    CHECK(crunch__overlap(m + 3, 1, 4, 4, m, 8, 4, 8, d), "a row reaching into a block");
}

/* fill fills x[0..n) with values in [-1, 1) from seed. */
static void fill(double *x, size_t n, uint64_t seed)
{
    for (size_t i = 0; i < n; i++)
        x[i] = check_rnd11(&seed);
}

/* ctx_for returns a fresh ctx capped at isa. */
static crunch_ctx ctx_for(crunch_isa isa)
{
    crunch_ctx c;
    crunch_ctx_init(&c);
    crunch_ctx_set_isa(&c, isa);
    return c;
}

/* test_gemm: C may not share an element with A or B (the SIMD paths
 * read A and B in place or a block at a time while C is written: C over
 * A gave wrong results there); blocks of one matrix that share none are
 * fine. */
static void test_gemm(crunch_isa isa)
{
    enum { N = 64 };
    const char *p = crunch_isa_name(isa);
    double *a = malloc(2 * N * N * sizeof *a), *b = malloc(N * N * sizeof *b);
    double *c = malloc(N * N * sizeof *c), *w = malloc(2 * N * N * sizeof *w);
    float *af = malloc(N * N * sizeof *af), *bf = malloc(N * N * sizeof *bf);
    fill(a, 2 * N * N, 1);
    fill(b, N * N, 2);
    for (size_t i = 0; i < N * N; i++)
        af[i] = (float)a[i], bf[i] = (float)b[i];
    crunch_ctx ctx = ctx_for(isa);
    memcpy(w, a, N * N * sizeof *w);
    CHECK(crunch_gemm_f64(&ctx, 0, 0, N, N, N, 1.0, w, N, b, N, 0.0, w, N) == CRUNCH_EINVAL,
          "gemm %s: C == A accepted", p);
    CHECK(memcmp(w, a, N * N * sizeof *w) == 0, "gemm %s: a refused call wrote C", p);
    CHECK(crunch_gemm_f64(&ctx, 0, 0, N, N, N, 1.0, a, N, w, N, 1.0, w, N) == CRUNCH_EINVAL,
          "gemm %s: C == B accepted", p);
    CHECK(crunch_gemm_f64(&ctx, 1, 1, N, N, N, 1.0, w, N, b, N, 0.0, w + N * N / 2, N) ==
              CRUNCH_EINVAL,
          "gemm %s: C over the second half of a transposed A accepted", p);
    CHECK(crunch_gemm_f64(&ctx, 0, 0, N, N, N, 1.0, w, 2 * N, b, N, 0.0, w + 1, 2 * N) ==
              CRUNCH_EINVAL,
          "gemm %s: C one column right of A, same stride, accepted", p);
    CHECK(crunch_gemm_f32(&ctx, 0, 1, N, N, N, 1.0f, af, N, bf, N, 0.0f, bf, N) ==
              CRUNCH_EINVAL,
          "gemm f32 %s: C == B accepted", p);
    /* Allowed: C = beta C reads neither A nor B; A and B may be one. */
    CHECK(crunch_gemm_f64(&ctx, 0, 0, N, N, 0, 1.0, w, N, w, N, 2.0, w, N) == CRUNCH_OK,
          "gemm %s: k == 0 refused", p);
    CHECK(crunch_gemm_f64(&ctx, 0, 1, N, N, N, 1.0, a, N, a, N, 0.0, c, N) == CRUNCH_OK,
          "gemm %s: A == B refused", p);
    /* Allowed: A the left half of a 64 x 128 matrix, C its right half:
     * the same results as separate buffers. */
    for (size_t i = 0; i < N; i++)
        memcpy(w + i * 2 * N, a + i * N, N * sizeof *w);
    CHECK(crunch_gemm_f64(&ctx, 0, 0, N, N, N, 1.0, w, 2 * N, b, N, 0.0, w + N, 2 * N) ==
              CRUNCH_OK,
          "gemm %s: blocks of one matrix refused", p);
    CHECK(crunch_gemm_f64(&ctx, 0, 0, N, N, N, 1.0, a, N, b, N, 0.0, c, N) == CRUNCH_OK,
          "gemm %s: separate buffers", p);
    int same = 1;
    for (size_t i = 0; i < N; i++)
        same &= memcmp(w + i * 2 * N + N, c + i * N, N * sizeof *c) == 0 &&
                memcmp(w + i * 2 * N, a + i * N, N * sizeof *w) == 0;
    CHECK(same, "gemm %s: blocks of one matrix differ from separate buffers", p);
    free(a);
    free(b);
    free(c);
    free(w);
    free(af);
    free(bf);
}

/* test_fft: in place (y == x) gives the out-of-place results; any other
 * overlap is refused. */
static void test_fft(crunch_isa isa)
{
    static const size_t lens[] = {1, 2, 8, 12, 97, 1024};
    const char *p = crunch_isa_name(isa);
    for (size_t li = 0; li < sizeof lens / sizeof lens[0]; li++) {
        size_t n = lens[li], batch = 3, len = 2 * n * batch;
        double *x = malloc((len + 2) * sizeof *x), *y = malloc(len * sizeof *y);
        float *xf = malloc((len + 2) * sizeof *xf), *yf = malloc(len * sizeof *yf);
        fill(x, len, 3 + n);
        for (size_t i = 0; i < len; i++)
            xf[i] = (float)x[i];
        crunch_ctx ctx = ctx_for(isa);
        CHECK(crunch_fft_c128(&ctx, 0, CRUNCH_FFT_ORTHO, batch, n, x, y) == CRUNCH_OK,
              "fft %s n=%zu: out of place", p, n);
        CHECK(crunch_fft_c128(&ctx, 0, CRUNCH_FFT_ORTHO, batch, n, x, x) == CRUNCH_OK &&
                  memcmp(x, y, len * sizeof *x) == 0,
              "fft %s n=%zu: in place differs", p, n);
        CHECK(crunch_fft_c64(&ctx, 1, CRUNCH_FFT_BACKWARD, batch, n, xf, yf) == CRUNCH_OK &&
                  crunch_fft_c64(&ctx, 1, CRUNCH_FFT_BACKWARD, batch, n, xf, xf) == CRUNCH_OK &&
                  memcmp(xf, yf, len * sizeof *xf) == 0,
              "fft c64 %s n=%zu: in place differs", p, n);
        CHECK(crunch_fft_c128(&ctx, 0, CRUNCH_FFT_ORTHO, batch, n, x, x + 2) == CRUNCH_EINVAL,
              "fft %s n=%zu: y one element past x accepted", p, n);
        CHECK(crunch_fft_c64(&ctx, 0, CRUNCH_FFT_ORTHO, batch, n, xf + 2, xf) == CRUNCH_EINVAL,
              "fft c64 %s n=%zu: y one element before x accepted", p, n);
        free(x);
        free(y);
        free(xf);
        free(yf);
    }
}

/* test_solve: X == B (same layout) solves in place, as a separate X
 * does; X partly over B, or over A, is refused. */
static void test_solve(crunch_isa isa)
{
    enum { N = 40, R = 6 };
    const char *p = crunch_isa_name(isa);
    double *a = malloc(N * N * sizeof *a), *b = malloc(N * R * sizeof *b);
    double *x = malloc(N * R * sizeof *x), *w = malloc((N * R + R) * sizeof *w);
    fill(a, N * N, 5);
    for (size_t i = 0; i < N; i++)
        a[i * N + i] += N; /* well conditioned */
    fill(b, N * R, 6);
    crunch_ctx ctx = ctx_for(isa);
    CHECK(crunch_solve_f64(&ctx, N, R, a, N, b, R, x, R) == CRUNCH_OK, "solve %s", p);
    memcpy(w, b, N * R * sizeof *w);
    CHECK(crunch_solve_f64(&ctx, N, R, a, N, w, R, w, R) == CRUNCH_OK &&
              memcmp(w, x, N * R * sizeof *w) == 0,
          "solve %s: in place differs", p);
    memcpy(w, b, N * R * sizeof *w);
    CHECK(crunch_solve_f64(&ctx, N, R, a, N, w, R, w + R, R) == CRUNCH_EINVAL,
          "solve %s: X one row below B accepted", p);
    CHECK(memcmp(w, b, N * R * sizeof *w) == 0, "solve %s: a refused call wrote X", p);
    CHECK(crunch_solve_f64(&ctx, N, R, a, N, b, R, a + N, R) == CRUNCH_EINVAL,
          "solve %s: X inside A accepted", p);
    CHECK(crunch_solve_f64(&ctx, N, R, a, N, w, R, w, R + 1) == CRUNCH_EINVAL,
          "solve %s: X == B with another stride accepted", p);
    free(a);
    free(b);
    free(x);
    free(w);
}

/* test_conv2d: out may overlap neither the image nor the kernel. */
static void test_conv2d(crunch_isa isa)
{
    const char *p = crunch_isa_name(isa);
    double img[64], ker[9], out[64];
    float imgf[64], kerf[32]; /* room for an output over the kernel */
    fill(img, 64, 7);
    fill(ker, 9, 8);
    for (int i = 0; i < 64; i++)
        imgf[i] = (float)img[i];
    for (int i = 0; i < 9; i++)
        kerf[i] = (float)ker[i];
    crunch_ctx ctx = ctx_for(isa);
    CHECK(crunch_conv2d_f64(&ctx, CRUNCH_CONV_SAME, 8, 8, img, 3, 3, ker, out) == CRUNCH_OK,
          "conv2d %s", p);
    CHECK(crunch_conv2d_f64(&ctx, CRUNCH_CONV_SAME, 8, 8, img, 3, 3, ker, img) == CRUNCH_EINVAL,
          "conv2d %s: out == image accepted", p);
    CHECK(crunch_conv2d_f64(&ctx, CRUNCH_CONV_VALID, 4, 8, img + 32, 3, 3, ker, img + 24) ==
              CRUNCH_EINVAL,
          "conv2d %s: out reaching into the image accepted", p);
    CHECK(crunch_conv2d_f32(&ctx, CRUNCH_CONV_FULL, 2, 2, imgf, 3, 3, kerf, kerf + 4) ==
              CRUNCH_EINVAL,
          "conv2d f32 %s: out over the kernel accepted", p);
    /* apart, in one buffer: fine */
    CHECK(crunch_conv2d_f64(&ctx, CRUNCH_CONV_VALID, 4, 8, img + 32, 3, 3, ker, img) ==
              CRUNCH_OK,
          "conv2d %s: out before the image, apart, refused", p);
}

/* test_reductions: stats and histogram outputs may not overlap x. */
static void test_reductions(void)
{
    double x[80]; /* 64 elements, and room for outputs that overlap their end */
    int64_t counts[8], cbuf[24];
    double edges[9], lo, hi;
    fill(x, 80, 9);
    crunch_stats *st = (crunch_stats *)(void *)(x + 8);
    CHECK(crunch_stats_f64(NULL, x, 64, 0, st) == CRUNCH_EINVAL, "stats: out inside x accepted");
    CHECK(crunch_stats_f32(NULL, (const float *)x, 24, 0, st) == CRUNCH_EINVAL,
          "stats f32: out inside x accepted");
    CHECK(crunch_stats_f64(NULL, x + 16, 48, 0, (crunch_stats *)(void *)x) == CRUNCH_OK,
          "stats: out before x, apart, refused");
    CHECK(crunch_histogram_f64(NULL, x, 64, 8, -1, 1, (int64_t *)(void *)(x + 60), NULL) ==
              CRUNCH_EINVAL,
          "histogram: counts over x's end accepted");
    CHECK(crunch_histogram_f64(NULL, x, 64, 8, -1, 1, cbuf, (double *)(void *)(cbuf + 4)) ==
              CRUNCH_EINVAL,
          "histogram: edges over counts accepted");
    CHECK(crunch_histogram_f32(NULL, (const float *)x, 128, 8, -1, 1, counts, x + 63) ==
              CRUNCH_EINVAL,
          "histogram f32: edges over x accepted");
    CHECK(crunch_histogram_f64(NULL, x, 64, 8, -1, 1, counts, edges) == CRUNCH_OK,
          "histogram: apart refused");
    CHECK(crunch_histogram_range_f64(NULL, x, 64, x + 3, &hi) == CRUNCH_EINVAL,
          "histogram_range: lo inside x accepted");
    CHECK(crunch_histogram_range_f32(NULL, (const float *)x, 128, &lo, &lo) == CRUNCH_EINVAL,
          "histogram_range: lo == hi accepted");
    CHECK(crunch_histogram_range_f64(NULL, x, 64, &lo, &hi) == CRUNCH_OK,
          "histogram_range: apart refused");
}

int main(void)
{
    test_overlap();
    test_reductions();
    for (int i = 0; i < CHECK_N_ISAS; i++) {
        if (!check_isa_available("test_alias", check_isas[i]))
            continue;
        test_gemm(check_isas[i]);
        test_fft(check_isas[i]);
        test_solve(check_isas[i]);
        test_conv2d(check_isas[i]);
    }
    crunch_fft_cache_clear();
    return check_exit("test_alias");
}
