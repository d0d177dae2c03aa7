/*
 * test_parallel.c - calls made on a runner (crunch_ctx_set_runner): for
 * every op that runs in parallel, on every SIMD path this CPU has, the
 * results on 2, 3 and 7 threads (crunch_runner_pthreads) and through a
 * runner that runs its tasks backwards on the calling thread are the
 * serial call's, bit for bit; progress ends at the total; a cancelled
 * parallel call stops every task soon; and the runner API's edges.
 *
 * Build and run (from the repository root): make test-c, which links it
 * with every source in native/.
 */
#include "crunch.h"
#include "check.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const char *NAME = "test_parallel";

/* backwards_runner runs the tasks from last to first on the calling
 * thread: a legal runner with no thread to spare. It counts its calls in
 * *(int *)data. */
static void backwards_runner(void *data, size_t n, crunch_task_fn task, void *arg, int threads)
{
    (void)threads;
    (*(int *)data)++;
    for (size_t i = n; i-- > 0;)
        task(arg, i);
}

/* A configuration of the ctx: serial (threads 1), pthreads on 2, 3 or 7
 * threads, or the backwards runner with a budget of 4. */
enum { N_CONFIGS = 5 };
static const int config_threads[N_CONFIGS] = {1, 2, 3, 7, 4};
static int backwards_calls;

/* setup initialises ctx for path isa and configuration cfg. */
static void setup(crunch_ctx *ctx, crunch_isa isa, int cfg)
{
    crunch_ctx_init(ctx);
    crunch_ctx_set_isa(ctx, isa);
    if (cfg == N_CONFIGS - 1)
        crunch_ctx_set_runner(ctx, backwards_runner, &backwards_calls, config_threads[cfg]);
    else
        crunch_ctx_set_runner(ctx, crunch_runner_pthreads, NULL, config_threads[cfg]);
}

/* check_progress checks that a successful call published done == total. */
static void check_progress(const crunch_ctx *ctx, const char *what, crunch_isa isa, int cfg)
{
    int64_t done, total;
    crunch_ctx_progress(ctx, &done, &total);
    CHECK(done == total, "%s %s cfg %d: progress %lld of %lld", what, crunch_isa_name(isa), cfg,
          (long long)done, (long long)total);
}

/* gemm shapes that take the packed (parallelisable) path: more than 2^26
 * multiply-adds or k beyond a KC block; odd sizes leave partial tiles,
 * partial row groups and partial B panels; m beyond MC. */
typedef struct gshape {
    size_t m, n, k;
    int ta, tb;
} gshape;
static const gshape gshapes[] = {
    {300, 500, 700, 0, 0}, {257, 1300, 260, 1, 0}, {1100, 150, 450, 0, 1},
    {37, 53, 1000, 1, 1},  {520, 521, 300, 0, 0},
};

/* fill_rnd fills x with n values in [-1, 1). */
static void fill_rnd(double *x, size_t n, uint64_t seed)
{
    for (size_t i = 0; i < n; i++)
        x[i] = check_rnd11(&seed);
}

static void test_gemm(crunch_isa isa)
{
    for (size_t s = 0; s < sizeof gshapes / sizeof gshapes[0]; s++) {
        const gshape *g = &gshapes[s];
        size_t lda = g->ta ? g->m : g->k, ldb = g->tb ? g->k : g->n, ldc = g->n + 3;
        double *a = malloc(g->m * g->k * sizeof *a), *b = malloc(g->k * g->n * sizeof *b);
        double *c0 = malloc(g->m * ldc * sizeof *c0), *c = malloc(g->m * ldc * sizeof *c);
        float *af = malloc(g->m * g->k * sizeof *af), *bf = malloc(g->k * g->n * sizeof *bf);
        float *cf0 = malloc(g->m * ldc * sizeof *cf0), *cf = malloc(g->m * ldc * sizeof *cf);
        if (!a || !b || !c0 || !c || !af || !bf || !cf0 || !cf) {
            CHECK(0, "out of memory");
            goto out;
        }
        fill_rnd(a, g->m * g->k, 1 + s);
        fill_rnd(b, g->k * g->n, 2 + s);
        fill_rnd(c0, g->m * ldc, 3 + s);
        for (size_t i = 0; i < g->m * g->k; i++)
            af[i] = (float)a[i];
        for (size_t i = 0; i < g->k * g->n; i++)
            bf[i] = (float)b[i];
        for (size_t i = 0; i < g->m * ldc; i++)
            cf0[i] = (float)c0[i];
        uint64_t want = 0, wantf = 0;
        for (int cfg = 0; cfg < N_CONFIGS; cfg++) {
            crunch_ctx ctx;
            setup(&ctx, isa, cfg);
            memcpy(c, c0, g->m * ldc * sizeof *c);
            crunch_status st = crunch_gemm_f64(&ctx, g->ta, g->tb, g->m, g->n, g->k, 1.5, a,
                                               lda, b, ldb, -0.5, c, ldc);
            CHECK(st == CRUNCH_OK, "gemm f64 status %d", st);
            check_progress(&ctx, "gemm f64", isa, cfg);
            uint64_t h = check_hash(c, g->m * ldc * sizeof *c, CHECK_HASH_INIT);
            setup(&ctx, isa, cfg);
            memcpy(cf, cf0, g->m * ldc * sizeof *cf);
            st = crunch_gemm_f32(&ctx, g->ta, g->tb, g->m, g->n, g->k, 1.5f, af, lda, bf, ldb,
                                 -0.5f, cf, ldc);
            CHECK(st == CRUNCH_OK, "gemm f32 status %d", st);
            check_progress(&ctx, "gemm f32", isa, cfg);
            uint64_t hf = check_hash(cf, g->m * ldc * sizeof *cf, CHECK_HASH_INIT);
            if (cfg == 0) {
                want = h;
                wantf = hf;
            }
            CHECK(h == want && hf == wantf,
                  "gemm %zux%zux%zu ta=%d tb=%d %s on %d threads (cfg %d): f64 %s, f32 %s",
                  g->m, g->n, g->k, g->ta, g->tb, crunch_isa_name(isa), config_threads[cfg], cfg,
                  h == want ? "same" : "DIFFERS", hf == wantf ? "same" : "DIFFERS");
        }
    out:
        free(a), free(b), free(c0), free(c), free(af), free(bf), free(cf0), free(cf);
    }
}

static void test_mandelbrot(crunch_isa isa)
{
    const size_t w = 301, h = 203; /* a partial band of rows at the bottom */
    uint32_t *counts = malloc(w * h * sizeof *counts);
    if (counts == NULL) {
        CHECK(0, "out of memory");
        return;
    }
    uint64_t want = 0;
    for (int cfg = 0; cfg < N_CONFIGS; cfg++) {
        crunch_ctx ctx;
        setup(&ctx, isa, cfg);
        memset(counts, 0xff, w * h * sizeof *counts);
        crunch_status st = crunch_mandelbrot(&ctx, w, h, -2.0, 0.6, -1.2, 1.2, 500, counts);
        CHECK(st == CRUNCH_OK, "mandelbrot status %d", st);
        check_progress(&ctx, "mandelbrot", isa, cfg);
        uint64_t hash = check_hash(counts, w * h * sizeof *counts, CHECK_HASH_INIT);
        if (cfg == 0)
            want = hash;
        CHECK(hash == want, "mandelbrot %s on %d threads (cfg %d) differs", crunch_isa_name(isa),
              config_threads[cfg], cfg);
    }
    free(counts);
}

/* stats sizes: one chunk (2^18 elements) and less, several chunks with a
 * partial last one, more than a round of 256 chunks is too slow for a
 * test on the generic path and is left to the round logic's review. */
static const size_t ssizes[] = {1000, 262144, 262145, 5 * 262144 + 4097, 3000000};

static void test_stats(crunch_isa isa)
{
    size_t nmax = ssizes[sizeof ssizes / sizeof ssizes[0] - 1];
    double *x = malloc(nmax * sizeof *x);
    float *xf = malloc(nmax * sizeof *xf);
    if (x == NULL || xf == NULL) {
        CHECK(0, "out of memory");
        goto out;
    }
    uint64_t seed = 7;
    for (size_t i = 0; i < nmax; i++) /* far from zero, magnitudes mixed: rounding matters */
        x[i] = 1e6 + check_rnd11(&seed) * (i % 3 == 0 ? 1e4 : 1.0);
    for (size_t i = 0; i < nmax; i++)
        xf[i] = (float)x[i];
    for (size_t s = 0; s < sizeof ssizes / sizeof ssizes[0]; s++) {
        crunch_stats want, wantf;
        for (int cfg = 0; cfg < N_CONFIGS; cfg++) {
            crunch_ctx ctx;
            crunch_stats got, gotf;
            setup(&ctx, isa, cfg);
            CHECK(crunch_stats_f64(&ctx, x, ssizes[s], 1, &got) == CRUNCH_OK, "stats f64");
            check_progress(&ctx, "stats f64", isa, cfg);
            setup(&ctx, isa, cfg);
            CHECK(crunch_stats_f32(&ctx, xf, ssizes[s], 0, &gotf) == CRUNCH_OK, "stats f32");
            check_progress(&ctx, "stats f32", isa, cfg);
            if (cfg == 0) {
                want = got;
                wantf = gotf;
            }
            CHECK(memcmp(&got, &want, sizeof got) == 0 && memcmp(&gotf, &wantf, sizeof gotf) == 0,
                  "stats n=%zu %s on %d threads (cfg %d): sum %a vs %a, var %a vs %a", ssizes[s],
                  crunch_isa_name(isa), config_threads[cfg], cfg, got.sum, want.sum, got.var,
                  want.var);
        }
    }
out:
    free(x);
    free(xf);
}

static void test_modsum(crunch_isa isa)
{
    /* 5 chunks of 2^22 and a partial one. */
    const int64_t iters = 5 * ((int64_t)1 << 22) + 12345;
    int64_t want = 0;
    for (int cfg = 0; cfg < N_CONFIGS; cfg++) {
        crunch_ctx ctx;
        setup(&ctx, isa, cfg);
        int64_t got = -1;
        CHECK(crunch_modsum(&ctx, -123456789, iters, &got) == CRUNCH_OK, "modsum");
        check_progress(&ctx, "modsum", isa, cfg);
        if (cfg == 0)
            want = got;
        CHECK(got == want, "modsum %s on %d threads: %lld vs %lld", crunch_isa_name(isa),
              config_threads[cfg], (long long)got, (long long)want);
    }
}

/* fft cases: batches of short rows (groups of rows, the last partial; a
 * non-power-of-two length; Bluestein's), and single long rows and a batch
 * of them that take the four-step form (2^19 complex doubles and 2^20
 * complex floats and up). real: the real transform, whose half-length
 * complex transform is what runs in parallel. */
typedef struct fshape {
    size_t n, batch;
    int inv, norm, inplace;
} fshape;
static const fshape fshapes[] = {
    {1024, 197, 0, 0, 0}, {1000, 131, 1, 1, 1},   {4099, 21, 0, 2, 0},
    {1 << 19, 1, 0, 0, 0}, {1 << 19, 2, 1, 1, 1},  {1 << 20, 1, 0, 2, 0},
};
static const fshape rshapes[] = {
    {2048, 77, 0, 0, 0}, {1 << 20, 1, 0, 0, 0}, {1 << 21, 1, 1, 1, 0},
};

/* fft_hash runs one fft shape on ctx: complex (real = 0) or real, f64 or
 * f32, and returns the hash of y, or 0 with a failed check. */
static uint64_t fft_hash(crunch_ctx *ctx, const fshape *f, int real, int f32, const double *x,
                         void *y, crunch_isa isa, int cfg)
{
    const size_t len = (real ? 1 : 2) * f->n * f->batch, ylen = 2 * f->n * f->batch;
    const size_t es = f32 ? sizeof(float) : sizeof(double);
    const crunch_fft_norm norm = (crunch_fft_norm)f->norm;
    if (f32) {
        float *yf = y;
        for (size_t i = 0; i < len; i++)
            yf[i] = (float)x[i];
    } else {
        memcpy(y, x, len * sizeof(double));
    }
    void *in = y; /* in place, or from a copy of x after y's space */
    if (real || !f->inplace) {
        in = (char *)y + ylen * es;
        memcpy(in, y, len * es);
    }
    crunch_status st;
    if (real)
        st = f32 ? crunch_fft_f32(ctx, f->inv, norm, f->batch, f->n, in, y)
                 : crunch_fft_f64(ctx, f->inv, norm, f->batch, f->n, in, y);
    else
        st = f32 ? crunch_fft_c64(ctx, f->inv, norm, f->batch, f->n, in, y)
                 : crunch_fft_c128(ctx, f->inv, norm, f->batch, f->n, in, y);
    CHECK(st == CRUNCH_OK, "fft %s n=%zu batch=%zu status %d", real ? "real" : "complex", f->n,
          f->batch, st);
    check_progress(ctx, real ? "fft real" : "fft complex", isa, cfg);
    return st == CRUNCH_OK ? check_hash(y, ylen * es, CHECK_HASH_INIT) : 0;
}

static void test_fft(crunch_isa isa)
{
    const size_t most = 6 << 20; /* the largest y and its input copy (real 2^21), in doubles */
    double *x = malloc(most * sizeof *x), *y = malloc(most * sizeof *y);
    if (x == NULL || y == NULL) {
        CHECK(0, "out of memory");
        goto out;
    }
    fill_rnd(x, most, 21);
    for (int real = 0; real < 2; real++) {
        const fshape *shapes = real ? rshapes : fshapes;
        const size_t count = real ? sizeof rshapes / sizeof rshapes[0] : sizeof fshapes / sizeof fshapes[0];
        for (size_t s = 0; s < count; s++)
            for (int f32 = 0; f32 < 2; f32++) {
                uint64_t want = 0;
                for (int cfg = 0; cfg < N_CONFIGS; cfg++) {
                    crunch_ctx ctx;
                    setup(&ctx, isa, cfg);
                    uint64_t h = fft_hash(&ctx, &shapes[s], real, f32, x, y, isa, cfg);
                    if (cfg == 0)
                        want = h;
                    CHECK(h == want, "fft %s %s n=%zu batch=%zu %s on %d threads (cfg %d) differs",
                          real ? "real" : "complex", f32 ? "f32" : "f64", shapes[s].n,
                          shapes[s].batch, crunch_isa_name(isa), config_threads[cfg], cfg);
                }
            }
    }
out:
    free(x);
    free(y);
}

/* conv2d shapes: an empty image, one pixel, several bands with a partial
 * last one (band heights come from the shapes: 2^21 multiply-adds' worth
 * of output rows, even), one row above a band boundary (281 rows of 280),
 * bands shorter than the kernel, and kernels with NaN or Inf (the clipped
 * path). The images hold a NaN and an Inf. */
typedef struct cshape {
    size_t h, w, kh, kw;
    crunch_conv_mode mode;
    int bad_kernel; /* 1: the kernel holds a NaN and an Inf */
} cshape;
static const cshape cshapes[] = {
    {0, 5, 3, 3, CRUNCH_CONV_FULL, 0},    {1, 1, 1, 1, CRUNCH_CONV_SAME, 0},
    {431, 257, 7, 7, CRUNCH_CONV_SAME, 0}, {293, 509, 5, 4, CRUNCH_CONV_FULL, 0},
    {281, 300, 5, 5, CRUNCH_CONV_SAME, 0}, {400, 1000, 33, 9, CRUNCH_CONV_VALID, 0},
    {281, 300, 5, 5, CRUNCH_CONV_SAME, 1}, {700, 301, 4, 5, CRUNCH_CONV_FULL, 1},
};

static void test_conv2d(crunch_isa isa)
{
    for (size_t s = 0; s < sizeof cshapes / sizeof cshapes[0]; s++) {
        const cshape *g = &cshapes[s];
        size_t oh, ow;
        crunch_conv2d_shape(g->mode, g->h, g->w, g->kh, g->kw, &oh, &ow);
        size_t ni = g->h * g->w, nk = g->kh * g->kw, no = oh * ow;
        /* one more element each, so that empty arrays are not NULL */
        double *img = malloc((ni + 1) * sizeof *img), *k = malloc(nk * sizeof *k);
        double *out = malloc((no + 1) * sizeof *out);
        float *imgf = malloc((ni + 1) * sizeof *imgf), *kf = malloc(nk * sizeof *kf);
        float *outf = malloc((no + 1) * sizeof *outf);
        if (!img || !k || !out || !imgf || !kf || !outf) {
            CHECK(0, "out of memory");
            goto out;
        }
        fill_rnd(img, ni, 21 + s);
        fill_rnd(k, nk, 22 + s);
        if (ni > 100) {
            img[ni / 3] = NAN;
            img[ni / 2 + 7] = INFINITY;
        }
        if (g->bad_kernel) {
            k[nk / 2] = NAN;
            k[0] = -INFINITY;
        }
        for (size_t i = 0; i < ni; i++)
            imgf[i] = (float)img[i];
        for (size_t i = 0; i < nk; i++)
            kf[i] = (float)k[i];
        uint64_t want = 0, wantf = 0;
        for (int cfg = 0; cfg < N_CONFIGS; cfg++) {
            crunch_ctx ctx;
            setup(&ctx, isa, cfg);
            memset(out, 0xff, (no + 1) * sizeof *out);
            crunch_status st = crunch_conv2d_f64(&ctx, g->mode, g->h, g->w, img, g->kh, g->kw,
                                                 k, out);
            CHECK(st == CRUNCH_OK, "conv2d f64 status %d", st);
            check_progress(&ctx, "conv2d f64", isa, cfg);
            uint64_t h = check_hash(out, no * sizeof *out, CHECK_HASH_INIT);
            setup(&ctx, isa, cfg);
            memset(outf, 0xff, (no + 1) * sizeof *outf);
            st = crunch_conv2d_f32(&ctx, g->mode, g->h, g->w, imgf, g->kh, g->kw, kf, outf);
            CHECK(st == CRUNCH_OK, "conv2d f32 status %d", st);
            check_progress(&ctx, "conv2d f32", isa, cfg);
            uint64_t hf = check_hash(outf, no * sizeof *outf, CHECK_HASH_INIT);
            if (cfg == 0) {
                want = h;
                wantf = hf;
            }
            CHECK(h == want && hf == wantf,
                  "conv2d %zux%zu * %zux%zu mode %d %s on %d threads (cfg %d): f64 %s, f32 %s",
                  g->h, g->w, g->kh, g->kw, (int)g->mode, crunch_isa_name(isa),
                  config_threads[cfg], cfg, h == want ? "same" : "DIFFERS",
                  hf == wantf ? "same" : "DIFFERS");
        }
    out:
        free(img), free(k), free(out), free(imgf), free(kf), free(outf);
    }
}

/* sort sizes: none, one, below and at the insertion-sort bound, one
 * chunk of the parallel sort (2^16) and one element more, either side of
 * where 2 threads sort halves (2^17; odd: halves of unequal length),
 * several with a partial last chunk. */
static const size_t sort_sizes[] = {0,     1,      47,     48,            65536,
                                    65537, 131071, 131073, 3 * 65536 + 7, 300001};

/* sort_fill fills the n elements of esize bytes at x with pattern pat: 0
 * random bits (floats: every class, NaNs of both signs among them), 1
 * values from a few, with -0.0 and +0.0 (floats), 2 all NaN (floats) or
 * all equal. */
static void sort_fill(void *x, size_t n, size_t esize, int is_float, int pat, uint64_t seed)
{
    for (size_t i = 0; i < n; i++) {
        uint64_t r = check_next(&seed);
        if (pat == 1) {
            static const double few[] = {-0.0, 0.0, 1.5, -2.0, INFINITY, -INFINITY, 3.0};
            double v = few[r % 7];
            if (!is_float)
                r = (uint64_t)(int64_t)(v == INFINITY ? 100 : v == -INFINITY ? -100 : v);
            else if (esize == 8)
                memcpy(&r, &v, 8);
            else {
                float f = (float)v;
                uint32_t u;
                memcpy(&u, &f, 4);
                r = u;
            }
            if (is_float && i % 97 == 0) /* a NaN now and then, its payload its place */
                r = esize == 8 ? 0x7ff8000000000000ULL | i | (r & 1) << 63
                               : (0x7fc00000U | (uint32_t)(i & 0xffff)) | (uint32_t)(r & 1) << 31;
        } else if (pat == 2) {
            r = is_float ? (esize == 8 ? 0xfff8000000000001ULL + (i & 7) : 0xffc00001U + (i & 7)) : 42;
        } else if (is_float && i % 31 == 0) {
            r = esize == 8 ? 0x7ff0000000000000ULL | r : 0x7f800000U | (uint32_t)r; /* NaN or Inf */
        }
        memcpy((char *)x + i * esize, &r, esize);
    }
}

/* sort_dtype calls the sort of dtype t (0 f64, 1 f32, 2 i64, 3 i32, 4 u32). */
static crunch_status sort_dtype(crunch_ctx *ctx, int t, void *x, size_t n, int desc)
{
    switch (t) {
    case 0: return crunch_sort_f64(ctx, x, n, desc);
    case 1: return crunch_sort_f32(ctx, x, n, desc);
    case 2: return crunch_sort_i64(ctx, x, n, desc);
    case 3: return crunch_sort_i32(ctx, x, n, desc);
    default: return crunch_sort_u32(ctx, x, n, desc);
    }
}

/* sort_dtype_into is sort_dtype into another buffer: out from in. */
static crunch_status sort_dtype_into(crunch_ctx *ctx, int t, const void *in, void *out, size_t n,
                                     int desc)
{
    switch (t) {
    case 0: return crunch_sort_into_f64(ctx, in, out, n, desc);
    case 1: return crunch_sort_into_f32(ctx, in, out, n, desc);
    case 2: return crunch_sort_into_i64(ctx, in, out, n, desc);
    case 3: return crunch_sort_into_i32(ctx, in, out, n, desc);
    default: return crunch_sort_into_u32(ctx, in, out, n, desc);
    }
}

/* The sort has no SIMD paths: it runs once, not per path. Each
 * configuration sorts in place and into another buffer. */
static void test_sort(void)
{
    static const char *dtypes[] = {"f64", "f32", "i64", "i32", "u32"};
    size_t nmax = sort_sizes[sizeof sort_sizes / sizeof sort_sizes[0] - 1];
    char *in = malloc(nmax * 8 + 8), *x = malloc(nmax * 8 + 8);
    if (in == NULL || x == NULL) {
        CHECK(0, "out of memory");
        goto out;
    }
    for (int t = 0; t < 5; t++) {
        size_t es = t == 0 || t == 2 ? 8 : 4;
        for (size_t s = 0; s < sizeof sort_sizes / sizeof sort_sizes[0]; s++)
            for (int pat = 0; pat < 3; pat++)
                for (int desc = 0; desc < 2; desc++) {
                    size_t n = sort_sizes[s];
                    sort_fill(in, n, es, t < 2, pat, 31 + s);
                    uint64_t want = 0;
                    for (int cfg = 0; cfg < N_CONFIGS; cfg++) {
                        crunch_ctx ctx;
                        setup(&ctx, CRUNCH_ISA_AUTO, cfg);
                        memcpy(x, in, n * es);
                        crunch_status st = sort_dtype(&ctx, t, x, n, desc);
                        CHECK(st == CRUNCH_OK, "sort %s status %d", dtypes[t], st);
                        check_progress(&ctx, "sort", CRUNCH_ISA_AUTO, cfg);
                        uint64_t h = check_hash(x, n * es, CHECK_HASH_INIT);
                        if (cfg == 0)
                            want = h;
                        CHECK(h == want, "sort %s n=%zu pattern %d desc %d on %d threads (cfg %d) differs",
                              dtypes[t], n, pat, desc, config_threads[cfg], cfg);
                        setup(&ctx, CRUNCH_ISA_AUTO, cfg);
                        memset(x, 0x5a, n * es);
                        st = sort_dtype_into(&ctx, t, in, x, n, desc);
                        CHECK(st == CRUNCH_OK, "sort into %s status %d", dtypes[t], st);
                        check_progress(&ctx, "sort into", CRUNCH_ISA_AUTO, cfg);
                        CHECK(check_hash(x, n * es, CHECK_HASH_INIT) == want,
                              "sort into %s n=%zu pattern %d desc %d on %d threads (cfg %d) differs",
                              dtypes[t], n, pat, desc, config_threads[cfg], cfg);
                    }
                }
    }
out:
    free(in), free(x);
}

/* sort_cancel_call sorts the f64 array arg on its pthreads;
 * test_sort_cancel's call. */
typedef struct sort_cancel {
    double *x;
    size_t n;
    int threads; /* 2: halves and a merge; 3: the chunked passes */
} sort_cancel;

static crunch_status sort_cancel_call(crunch_ctx *ctx, void *arg)
{
    const sort_cancel *sc = arg;
    crunch_ctx_set_runner(ctx, crunch_runner_pthreads, NULL, sc->threads);
    return crunch_sort_f64(ctx, sc->x, sc->n, 0);
}

/* A parallel sort cancelled midway, on either parallel path, stops and
 * leaves x holding its elements: sorted serially afterwards, x equals the
 * sorted input. */
static void test_sort_cancel(void)
{
    const size_t n = 4000037;
    double *in = malloc(n * sizeof *in), *x = malloc(n * sizeof *x);
    if (in == NULL || x == NULL) {
        CHECK(0, "out of memory");
        goto out;
    }
    for (int threads = 2; threads <= 3; threads++) {
        sort_fill(in, n, 8, 1, 0, 77); /* NaNs among them: the compaction's state too */
        memcpy(x, in, n * sizeof *x);
        sort_cancel sc = {x, n, threads};
        /* progress: 9 units an element, and one more for the halves' merge */
        int64_t total = (int64_t)n * (threads == 2 ? 10 : 9);
        check_cancel_midway(threads == 2 ? "sort f64 (halves)" : "sort f64 (chunked)",
                            CRUNCH_ISA_AUTO, total, sort_cancel_call, &sc);
        CHECK(crunch_sort_f64(NULL, x, n, 0) == CRUNCH_OK &&
                  crunch_sort_f64(NULL, in, n, 0) == CRUNCH_OK,
              "serial sorts");
        CHECK(memcmp(x, in, n * sizeof *x) == 0,
              "a cancelled sort on %d threads lost or changed elements", threads);
    }
out:
    free(in), free(x);
}

/* solve shapes: the empty and 1 x 1 systems, a prime order with blocked
 * substitution (4 right-hand sides and more), orders whose Schur updates
 * are several gemm pieces on every path (pieces of about a millisecond
 * of multiply-adds), many right-hand sides, and a NaN in A (refused,
 * the same way on any threads). */
typedef struct sshape {
    size_t n, nrhs;
    int nan;
} sshape;
static const sshape sshapes[] = {{0, 1, 0},   {1, 1, 0},   {97, 4, 0},   {700, 1, 0},
                                 {700, 150, 0}, {1031, 5, 0}, {97, 3, 1}};

static void test_solve(crunch_isa isa)
{
    for (size_t s = 0; s < sizeof sshapes / sizeof sshapes[0]; s++) {
        const sshape *g = &sshapes[s];
        size_t n = g->n, r = g->nrhs;
        double *a = malloc((n * n + 1) * sizeof *a), *b = malloc((n * r + 1) * sizeof *b);
        double *x = malloc((n * r + 1) * sizeof *x);
        if (!a || !b || !x) {
            CHECK(0, "out of memory");
            goto out;
        }
        fill_rnd(a, n * n, 41 + s); /* random: pivoting needed */
        fill_rnd(b, n * r, 42 + s);
        if (g->nan)
            a[n * n / 2] = NAN;
        uint64_t want = 0;
        crunch_status want_st = CRUNCH_OK;
        for (int cfg = 0; cfg < N_CONFIGS; cfg++) {
            crunch_ctx ctx;
            setup(&ctx, isa, cfg);
            memset(x, 0, (n * r + 1) * sizeof *x);
            crunch_status st = crunch_solve_f64(&ctx, n, r, a, n > 0 ? n : 1, b, r, x, r);
            if (st == CRUNCH_OK)
                check_progress(&ctx, "solve", isa, cfg);
            uint64_t h = check_hash(x, n * r * sizeof *x, CHECK_HASH_INIT);
            if (cfg == 0) {
                want = h;
                want_st = st;
                CHECK(st == (g->nan ? CRUNCH_ENUMERICAL : CRUNCH_OK), "solve n=%zu status %d", n, st);
            }
            CHECK(st == want_st && (st != CRUNCH_OK || h == want),
                  "solve n=%zu nrhs=%zu %s on %d threads (cfg %d): status %d (want %d), x %s", n,
                  r, crunch_isa_name(isa), config_threads[cfg], cfg, st, want_st,
                  h == want ? "same" : "DIFFERS");
        }
    out:
        free(a), free(b), free(x);
    }
}

/* cancel_args: a parallel call to cancel, by op. */
typedef struct cancel_args {
    int op; /* 0 gemm, 1 mandelbrot, 2 stats, 3 modsum, 4 conv2d, 5 solve */
    double *a, *b, *c;
    uint32_t *counts;
    size_t n;
} cancel_args;

/* first_cancels wraps a parallel call's tasks so that each, once it has
 * run, cancels the call if its progress has moved. */
typedef struct first_cancels {
    crunch_task_fn task;
    void *arg;
    crunch_ctx *ctx;
} first_cancels;

static void run_then_cancel(void *p, size_t i)
{
    const first_cancels *f = p;
    f->task(f->arg, i);
    int64_t done;
    crunch_ctx_progress(f->ctx, &done, NULL);
    if (done > 0) /* the canceller waits for progress: never cancel before it */
        crunch_ctx_cancel(f->ctx);
}

/* round_cancel: round_cancelling_runner's state: it cancels ctx once the
 * first task of the call's round-th round (counted from 1) has run. */
typedef struct round_cancel {
    crunch_ctx *ctx;
    int round, seen;
} round_cancel;

static void run_then_cancel_now(void *p, size_t i)
{
    const first_cancels *f = p;
    f->task(f->arg, i);
    crunch_ctx_cancel(f->ctx);
}

static void round_cancelling_runner(void *data, size_t n, crunch_task_fn task, void *arg,
                                    int threads)
{
    round_cancel *rc = data;
    if (++rc->seen != rc->round) {
        crunch_runner_pthreads(NULL, n, task, arg, threads);
        return;
    }
    first_cancels f = {task, arg, rc->ctx};
    crunch_runner_pthreads(NULL, n, run_then_cancel_now, &f, threads);
}

/* The sort on 2 threads cancelled in each of its rounds: the halves, the
 * merge (x keeps the sorted halves) and the copy back (it finishes: the
 * call succeeds). x always holds its elements; into another buffer, the
 * input is never touched. */
static void test_sort_halves_cancel_rounds(void)
{
    const size_t n = 1000003;
    double *in = malloc(n * sizeof *in), *x = malloc(n * sizeof *x);
    double *want = malloc(n * sizeof *want);
    if (in == NULL || x == NULL || want == NULL) {
        CHECK(0, "out of memory");
        goto out;
    }
    sort_fill(in, n, 8, 1, 0, 78);
    memcpy(want, in, n * sizeof *want);
    CHECK(crunch_sort_f64(NULL, want, n, 0) == CRUNCH_OK, "serial sort");
    const uint64_t hin = check_hash(in, n * sizeof *in, CHECK_HASH_INIT);
    for (int into = 0; into < 2; into++)
        for (int round = 1; round <= 3; round++) {
            crunch_ctx ctx;
            crunch_ctx_init(&ctx);
            round_cancel rc = {&ctx, round, 0};
            crunch_ctx_set_runner(&ctx, round_cancelling_runner, &rc, 2);
            memcpy(x, in, n * sizeof *x);
            crunch_status st = into ? crunch_sort_into_f64(&ctx, in, x, n, 0)
                                    : crunch_sort_f64(&ctx, x, n, 0);
            /* the last round in place copies back and cannot be stopped */
            crunch_status wst = !into && round == 3 ? CRUNCH_OK : CRUNCH_ECANCELED;
            CHECK(st == wst, "sort %s on 2 threads cancelled in round %d: status %d, want %d",
                  into ? "into" : "in place", round, st, wst);
            if (into) {
                CHECK(check_hash(in, n * sizeof *in, CHECK_HASH_INIT) == hin,
                      "sort into changed its input");
                continue;
            }
            if (st == CRUNCH_OK) {
                CHECK(memcmp(x, want, n * sizeof *x) == 0, "sort finished after a cancel differs");
                continue;
            }
            CHECK(crunch_sort_f64(NULL, x, n, 0) == CRUNCH_OK, "serial sort");
            CHECK(memcmp(x, want, n * sizeof *x) == 0,
                  "sort cancelled in round %d lost or changed elements", round);
        }
out:
    free(in), free(x), free(want);
}

/* cancelling_runner runs the tasks on crunch_runner_pthreads and cancels
 * the call (data, its ctx) as soon as a finished task finds progress: the rest of
 * the call must then stop midway even when a loaded machine keeps
 * check_cancel_midway's canceller thread off the CPU until the end. */
static void cancelling_runner(void *data, size_t n, crunch_task_fn task, void *arg, int threads)
{
    first_cancels f = {task, arg, data};
    crunch_runner_pthreads(NULL, n, run_then_cancel, &f, threads);
}

/* cancel_call runs the op on 3 pthreads; check_cancel_midway's call. */
static crunch_status cancel_call(crunch_ctx *ctx, void *arg)
{
    const cancel_args *ca = arg;
    crunch_ctx_set_runner(ctx, cancelling_runner, ctx, 3);
    crunch_stats st;
    int64_t t;
    switch (ca->op) {
    case 0: return crunch_gemm_f64(ctx, 0, 0, ca->n, ca->n, ca->n, 1, ca->a, ca->n, ca->b, ca->n, 0, ca->c, ca->n);
    case 1: return crunch_mandelbrot(ctx, ca->n, ca->n, -2, 1, -1.5, 1.5, 2000, ca->counts);
    case 2: return crunch_stats_f64(ctx, ca->a, 8 * ca->n * ca->n, 0, &st);
    case 3: return crunch_modsum(ctx, 5, (int64_t)1 << 32, &t);
    case 4: return crunch_conv2d_f64(ctx, CRUNCH_CONV_SAME, ca->n, ca->n, ca->a, 15, 15, ca->b, ca->c);
    default: return crunch_solve_f64(ctx, ca->n, 1, ca->a, ca->n, ca->b, 1, ca->c, 1);
    }
}

static void test_cancel(crunch_isa isa)
{
    const size_t n = 1024;
    /* a is large enough for 32 of stats's chunks too */
    cancel_args ca = {0, malloc(8 * n * n * sizeof(double)), malloc(n * n * sizeof(double)),
                      malloc(n * n * sizeof(double)), malloc(n * n * sizeof(uint32_t)), n};
    if (!ca.a || !ca.b || !ca.c || !ca.counts) {
        CHECK(0, "out of memory");
        goto out;
    }
    fill_rnd(ca.a, 8 * n * n, 11);
    fill_rnd(ca.b, n * n, 12);
    static const char *names[] = {"gemm", "mandelbrot", "stats", "modsum", "conv2d", "solve"};
    /* solve: sum_{j<n} (n-1-j)^2 for the factorisation, n^2 for one right-hand side */
    const int64_t totals[] = {(int64_t)n * n * n, (int64_t)n * n, 8 * (int64_t)n * n,
                              (int64_t)1 << 32, (int64_t)n * n,
                              (int64_t)(n - 1) * n * (2 * n - 1) / 6 + (int64_t)n * n};
    for (ca.op = 0; ca.op < 6; ca.op++)
        check_cancel_midway(names[ca.op], isa, totals[ca.op], cancel_call, &ca);
out:
    free(ca.a), free(ca.b), free(ca.c), free(ca.counts);
}

/* A cancelled parallel gemm returns soon: every task stops at its next
 * poll, and the runner returns once they all have. Loose bound: this is
 * a shared machine; the kernels poll every few tens of microseconds. */
typedef struct late {
    crunch_ctx *ctx;
    double t;
} late;

static void *cancel_at_progress(void *p)
{
    late *l = p;
    int64_t done = 0;
    while (done == 0)
        crunch_ctx_progress(l->ctx, &done, NULL);
    l->t = check_now_s();
    crunch_ctx_cancel(l->ctx);
    return NULL;
}

static void test_cancel_prompt(void)
{
    const size_t n = 1536;
    double *a = malloc(n * n * sizeof *a), *b = malloc(n * n * sizeof *b), *c = malloc(n * n * sizeof *c);
    if (!a || !b || !c) {
        CHECK(0, "out of memory");
        goto out;
    }
    fill_rnd(a, n * n, 1);
    fill_rnd(b, n * n, 2);
    crunch_ctx ctx;
    crunch_ctx_init(&ctx);
    crunch_ctx_set_runner(&ctx, crunch_runner_pthreads, NULL, 4);
    late l = {&ctx, 0};
    pthread_t th;
    pthread_create(&th, NULL, cancel_at_progress, &l);
    crunch_status st = crunch_gemm_f64(&ctx, 0, 0, n, n, n, 1, a, n, b, n, 0, c, n);
    double back = check_now_s();
    pthread_join(th, NULL);
    CHECK(st == CRUNCH_ECANCELED, "gemm on 4 threads: status %d, want cancelled", st);
    CHECK(back - l.t < 0.1, "cancelled gemm on 4 threads returned %.1f ms after the cancel",
          (back - l.t) * 1e3);
    printf("%s: cancelled gemm on 4 threads returned %.2f ms after the cancel\n", NAME,
           (back - l.t) * 1e3);
out:
    free(a), free(b), free(c);
}

/* count_task counts its runs in ((int *)arg)[i] (a crunch_task_fn). */
static void count_task(void *arg, size_t i)
{
    __atomic_fetch_add(&((int *)arg)[i], 1, __ATOMIC_RELAXED);
}

static void test_api(void)
{
    crunch_ctx ctx;
    crunch_ctx_init(&ctx);
    CHECK(ctx.runner == NULL && ctx.threads == 0, "init leaves a runner");
    CHECK(crunch_ctx_set_runner(NULL, crunch_runner_pthreads, NULL, 2) == CRUNCH_EINVAL, "NULL ctx");
    CHECK(crunch_ctx_set_runner(&ctx, crunch_runner_pthreads, NULL, 1) == CRUNCH_OK &&
              ctx.runner == NULL,
          "one thread is serial");
    CHECK(crunch_ctx_set_runner(&ctx, NULL, NULL, 8) == CRUNCH_OK && ctx.runner == NULL,
          "no runner is serial");
    /* A serial ctx never calls the runner; a parallel one does. */
    int before = backwards_calls;
    crunch_ctx_set_runner(&ctx, backwards_runner, &backwards_calls, 1);
    int64_t t;
    crunch_modsum(&ctx, 3, (int64_t)3 << 22, &t);
    CHECK(backwards_calls == before, "serial ctx called its runner");
    crunch_ctx_set_runner(&ctx, backwards_runner, &backwards_calls, 2);
    crunch_modsum(&ctx, 3, (int64_t)3 << 22, &t);
    CHECK(backwards_calls == before + 1, "parallel ctx: %d runner calls", backwards_calls - before);
    /* The pthreads runner runs every task once, with more threads than
     * tasks and with none to spare. */
    for (int threads = 0; threads < 6; threads++) {
        int hits[4] = {0, 0, 0, 0};
        crunch_runner_pthreads(NULL, 4, count_task, hits, threads);
        CHECK(hits[0] == 1 && hits[1] == 1 && hits[2] == 1 && hits[3] == 1,
              "pthreads runner on %d threads: tasks ran %d %d %d %d times", threads, hits[0],
              hits[1], hits[2], hits[3]);
    }
}

int main(void)
{
    test_api();
    for (int i = 0; i < CHECK_N_ISAS; i++) {
        crunch_isa isa = check_isas[i];
        if (!check_isa_available(NAME, isa))
            continue;
        test_gemm(isa);
        test_mandelbrot(isa);
        test_stats(isa);
        test_modsum(isa);
        test_fft(isa);
        test_conv2d(isa);
        test_solve(isa);
        test_cancel(isa);
    }
    test_sort();
    test_sort_cancel();
    test_sort_halves_cancel_rounds();
    test_cancel_prompt();
    return check_exit(NAME);
}
