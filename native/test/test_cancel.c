/*
 * test_cancel.c - the header's cancellation promise, for every kernel, on
 * every SIMD path, and for the shapes that defeat polling by loop
 * structure: rows of length 1, a single huge row, many right-hand sides
 * on a tiny system, the NaN/Inf paths, tiny images with huge kernels,
 * huge bin counts, a single pixel iterating for ever.
 *
 * Each case runs the kernel on a thread of its own, cancels it once it
 * has started (its progress moved, or a few milliseconds passed) and
 * checks that it returns CRUNCH_ECANCELED:
 *   - soon: the call's thread uses at most CPU_MS of CPU time after the
 *     cancel and returns within WALL_MS of wall time (the promise is
 *     about a millisecond of work; CPU time is what the machine's load
 *     stretches least, but page faults, the sanitizers and memory
 *     contention still do). Both bounds are generous, a try that misses
 *     either is run again, and only a case that misses in every try
 *     fails;
 *   - where the kernel's progress is finer than its polling, after at
 *     most max_after progress units counted from the moment the flag was
 *     set: the canceller reads the progress after setting the flag, so
 *     load can only make this figure smaller, never fail it.
 * Every case is sized so that running to the end takes far longer than
 * the test waits: a kernel that does not poll returns CRUNCH_OK late and
 * fails. Nothing is printed on success but the closing line; with TIMING
 * set in the environment, every run's figures go to stderr, and
 * TEST_CANCEL_CASE=name runs that case only.
 */
#include "check.h"

#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

/* The sanitizers slow the kernels several times over. */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_UNDEFINED__)
#define SLOWER 3
#else
#define SLOWER 1
#endif

enum {
    WALL_MS = 50 * SLOWER, /* the most wall time from cancel to return */
    CPU_MS = 20 * SLOWER,  /* the most CPU time the call uses from cancel to return */
    WAIT_MS = 3,   /* the longest wait for progress before cancelling */
    TRIES = 4      /* runs of a case on one path before a late return fails */
};

/* A case: run makes the call on ctx with the case's data. */
typedef struct tcase {
    const char *name;
    void (*prep)(void); /* run before the clock starts; may be NULL */
    crunch_status (*run)(crunch_ctx *ctx);
    int64_t max_after; /* progress units allowed after the cancel; < 0: not checked */
    int wait_ms;       /* the longest wait for the total, then for progress, to move; 0: WAIT_MS */
} tcase;

/* ---- the data: allocated once, big enough for the largest case ---- */

enum { BIG = 1 << 24 }; /* elements of each big buffer (128 MiB of doubles) */
static double *big_a, *big_b;

/* ---- the cases ---- */

static crunch_status modsum_long(crunch_ctx *c)
{
    int64_t total;
    return crunch_modsum(c, 12345, (int64_t)1 << 42, &total);
}

static crunch_status stats_f64(crunch_ctx *c)
{
    crunch_stats st;
    return crunch_stats_f64(c, big_a, BIG, 0, &st);
}

static crunch_status stats_f32(crunch_ctx *c)
{
    crunch_stats st;
    return crunch_stats_f32(c, (const float *)big_a, 2 * (size_t)BIG, 0, &st);
}

static int64_t hist_counts[100];
static crunch_status histogram_f64(crunch_ctx *c)
{
    return crunch_histogram_f64(c, big_a, BIG, 100, -1, 1, hist_counts, NULL);
}

static crunch_status histogram_f32(crunch_ctx *c)
{
    return crunch_histogram_f32(c, (const float *)big_a, 2 * (size_t)BIG, 100, -1, 1,
                                hist_counts, NULL);
}

/* One element, 2^24 - 1 bins: all the work is in the bins (edges,
 * sub-histograms, counts). Under the sanitizers, whose allocator takes
 * hundreds of milliseconds to release 256 MiB of work space (whatever
 * the kernel does), 2^20 - 1. */
static crunch_status histogram_many_bins(crunch_ctx *c)
{
    return crunch_histogram_f64(c, big_a, 1, (SLOWER > 1 ? BIG / 16 : BIG) - 1, -1, 1,
                                (int64_t *)big_b, NULL);
}

static crunch_status histogram_range_f64(crunch_ctx *c)
{
    double lo, hi;
    return crunch_histogram_range_f64(c, big_a, BIG, &lo, &hi);
}

static crunch_status histogram_range_f32(crunch_ctx *c)
{
    double lo, hi;
    return crunch_histogram_range_f32(c, (const float *)big_a, 2 * (size_t)BIG, &lo, &hi);
}

/* sort_prep gives the sorts unsorted data (big_b may hold anything). */
static void sort_prep(void)
{
    memcpy(big_b, big_a, BIG * sizeof(double));
}

static crunch_status sort_f64(crunch_ctx *c)
{
    return crunch_sort_f64(c, big_b, BIG, 0);
}

/* Into another buffer: the first pass reads big_a, the last writes big_b. */
static crunch_status sort_into_f64(crunch_ctx *c)
{
    return crunch_sort_into_f64(c, big_a, big_b, BIG, 1);
}

static crunch_status sort_i32(crunch_ctx *c)
{
    return crunch_sort_i32(c, (int32_t *)big_b, 2 * (size_t)BIG, 1);
}

static crunch_status sort_f32(crunch_ctx *c)
{
    return crunch_sort_f32(c, (float *)big_b, 2 * (size_t)BIG, 0);
}

static crunch_status sort_i64(crunch_ctx *c)
{
    return crunch_sort_i64(c, (int64_t *)big_b, BIG, 0);
}

static crunch_status sort_u32(crunch_ctx *c)
{
    return crunch_sort_u32(c, (uint32_t *)big_b, 2 * (size_t)BIG, 1);
}

enum { GN = 1536 };
static crunch_status gemm_f64_square(crunch_ctx *c)
{
    return crunch_gemm_f64(c, 0, 0, GN, GN, GN, 1.0, big_a, GN, big_a + GN * GN, GN, 0.0, big_b,
                           GN);
}

static crunch_status gemm_f32_square(crunch_ctx *c)
{
    const float *a = (const float *)big_a;
    return crunch_gemm_f32(c, 1, 1, 2 * GN, GN, GN, 1.0f, a, 2 * GN, a + 2 * GN * GN, GN, 0.0f,
                           (float *)big_b, GN);
}

/* A dot product 2^24 long: m = n = 1, all the work along k. */
static double dot_c;
static crunch_status gemm_dot(crunch_ctx *c)
{
    return crunch_gemm_f64(c, 0, 0, 1, 1, BIG, 1.0, big_a, BIG, big_b, 1, 0.0, &dot_c, 1);
}

/* C = beta C on one row of 2^24: no product at all. */
static crunch_status gemm_scale_row(crunch_ctx *c)
{
    return crunch_gemm_f64(c, 0, 0, 1, BIG, 0, 1.0, NULL, 1, NULL, BIG, 0.5, big_b, BIG);
}

/* An outer product: k = 1, tall and wide. */
static crunch_status gemm_outer(crunch_ctx *c)
{
    return crunch_gemm_f64(c, 0, 0, 4096, 4096, 1, 1.0, big_a, 1, big_a, 4096, 1.0, big_b, 4096);
}

/* Rows of length 1, many of them (in place, as the finding had it). */
static crunch_status fft_c128_n1(crunch_ctx *c)
{
    return crunch_fft_c128(c, 0, CRUNCH_FFT_ORTHO, BIG / 2, 1, big_b, big_b);
}

static crunch_status fft_c64_n1(crunch_ctx *c)
{
    return crunch_fft_c64(c, 1, CRUNCH_FFT_BACKWARD, BIG, 1, (const float *)big_a,
                          (float *)big_b);
}

static crunch_status fft_c128_n2(crunch_ctx *c)
{
    return crunch_fft_c128(c, 1, CRUNCH_FFT_FORWARD, BIG / 4, 2, big_a, big_b);
}

static crunch_status fft_c128_n3(crunch_ctx *c)
{
    return crunch_fft_c128(c, 0, CRUNCH_FFT_BACKWARD, BIG / 6, 3, big_a, big_b);
}

/* Real rows: many of length 1 (promoted), many of length 2 (the half
 * transform has rows of length 1), one long row (a combining pass of
 * 2^20 outputs). y takes twice x's doubles. */
static crunch_status fft_f64_n1(crunch_ctx *c)
{
    return crunch_fft_f64(c, 0, CRUNCH_FFT_BACKWARD, BIG / 2, 1, big_a, big_b);
}

static crunch_status fft_f64_n2(crunch_ctx *c)
{
    return crunch_fft_f64(c, 1, CRUNCH_FFT_ORTHO, BIG / 4, 2, big_a, big_b);
}

static crunch_status fft_f32_long(crunch_ctx *c)
{
    return crunch_fft_f32(c, 0, CRUNCH_FFT_FORWARD, 1, BIG / 4, (const float *)big_a, (float *)big_b);
}

/* One row of 2^22 complex doubles: the four-step form, its blocks polled
 * and counted one by one. Under the sanitizers 2^20, four-step too: freeing
 * the 2^22 plan's 64 MiB buffers after the cancel (not polled: the
 * allocator's) poisons 16 MiB of shadow memory there, 50-90 ms of page
 * faults in a VM. */
static crunch_status fft_c128_split(crunch_ctx *c)
{
    return crunch_fft_c128(c, 1, CRUNCH_FFT_BACKWARD, 1, SLOWER > 1 ? BIG / 16 : BIG / 4, big_a,
                           big_b);
}

/* One long row (2^21 complex), scaled. */
static crunch_status fft_c128_long(crunch_ctx *c)
{
    return crunch_fft_c128(c, 0, CRUNCH_FFT_ORTHO, 1, BIG / 8, big_a, big_b);
}

/* A prime length: Bluestein, its pointwise steps on long rows. */
static crunch_status fft_c64_bluestein(crunch_ctx *c)
{
    return crunch_fft_c64(c, 0, CRUNCH_FFT_ORTHO, 4, 1000003, (const float *)big_a,
                          (float *)big_b);
}

/* Conv2d: the shapes of the NaN/Inf path (one row, a wide kernel), its
 * finite twin, a tiny image under a huge kernel, and many rows of one
 * column. big_a[0..] is the image, big_b the output; the kernels are
 * their own buffers. */
static double *conv_ker_nan, *conv_ker_fin, *conv_ker_wide;
static float conv_ker_f32[81];
enum { CW = 200000, CKW = 1000, WIDE = 1 << 20 };
static crunch_status conv2d_nan_row(crunch_ctx *c)
{
    return crunch_conv2d_f64(c, CRUNCH_CONV_SAME, 1, CW, big_a, 1, CKW, conv_ker_nan, big_b);
}

static crunch_status conv2d_finite_row(crunch_ctx *c)
{
    return crunch_conv2d_f64(c, CRUNCH_CONV_SAME, 1, CW, big_a, 1, 4 * CKW, conv_ker_fin, big_b);
}

static crunch_status conv2d_tiny_image(crunch_ctx *c)
{
    return crunch_conv2d_f64(c, CRUNCH_CONV_FULL, 1, 1, big_a, 1, WIDE, conv_ker_wide, big_b);
}

static crunch_status conv2d_tiny_image_nan(crunch_ctx *c)
{
    return crunch_conv2d_f64(c, CRUNCH_CONV_FULL, 2, 64, big_a, 2, WIDE / 2, conv_ker_nan, big_b);
}

/* An empty image under a tall kernel: an output of zeros, 2^24 of them. */
static crunch_status conv2d_empty_image(crunch_ctx *c)
{
    return crunch_conv2d_f64(c, CRUNCH_CONV_FULL, 0, 1024, NULL, BIG / 1024 + 1, 1, conv_ker_fin,
                             big_b);
}

static crunch_status conv2d_one_column(crunch_ctx *c)
{
    return crunch_conv2d_f64(c, CRUNCH_CONV_SAME, BIG, 1, big_a, 3, 1, conv_ker_fin, big_b);
}

static crunch_status conv2d_f32_rows(crunch_ctx *c)
{
    return crunch_conv2d_f32(c, CRUNCH_CONV_VALID, 2048, 4096, (const float *)big_a, 9, 9,
                             conv_ker_f32, (float *)big_b);
}

static uint32_t *mb_counts;
static crunch_status mandelbrot_image(crunch_ctx *c)
{
    return crunch_mandelbrot(c, 2048, 2048, -2, 1, -1.5, 1.5, 4096, mb_counts);
}

/* One row of 2^24 pixels, one iteration each: nothing but the row loop. */
static crunch_status mandelbrot_row(crunch_ctx *c)
{
    return crunch_mandelbrot(c, BIG, 1, -2, 1, -1.5, 1.5, 1, mb_counts);
}

static crunch_status mandelbrot_column(crunch_ctx *c)
{
    return crunch_mandelbrot(c, 1, BIG, -2, 1, -1.5, 1.5, 1, mb_counts);
}

/* One pixel inside the set, iterating 2^31 times. */
static crunch_status mandelbrot_pixel(crunch_ctx *c)
{
    return crunch_mandelbrot(c, 1, 1, 0, 0.001, 0, 0.001, CRUNCH_MANDELBROT_MAX_ITER, mb_counts);
}

/* A tiny system, many right-hand sides (as the finding had it). A is
 * 8 x 8 of big_a's head, B the rest of big_a, X big_b. */
enum { SN = 8, SRHS = (BIG - 64) / SN };
static crunch_status solve_many_rhs(crunch_ctx *c)
{
    return crunch_solve_f64(c, SN, SRHS, big_a, SN, big_a + 64, SRHS, big_b, SRHS);
}

static crunch_status solve_one_row(crunch_ctx *c)
{
    return crunch_solve_f64(c, 1, BIG - 1, big_a, 1, big_a + 1, BIG - 1, big_b, BIG - 1);
}

static crunch_status solve_large(crunch_ctx *c)
{
    return crunch_solve_f64(c, 2048, 1, big_a, 2048, big_a + 2048 * 2048, 1, big_b, 1);
}

/* Progress units allowed after the cancel, where they are finer than the
 * polling: a budget of about 2^18 units of work, in each kernel's units,
 * with room to spare (a poll may just have passed). */
static const tcase cases[] = {
    {"modsum", NULL, modsum_long, 1 << 22, 0},
    {"stats_f64", NULL, stats_f64, 1 << 20, 0},
    {"stats_f32", NULL, stats_f32, 1 << 20, 0},
    {"histogram_f64", NULL, histogram_f64, 1 << 18, 0},
    {"histogram_f32", NULL, histogram_f32, 1 << 18, 0},
    {"histogram_many_bins", NULL, histogram_many_bins, -1, 0},
    {"histogram_range_f64", NULL, histogram_range_f64, 1 << 18, 0},
    {"histogram_range_f32", NULL, histogram_range_f32, 1 << 18, 0},
    {"sort_f64", sort_prep, sort_f64, 1 << 18, 0},
    {"sort_into_f64", NULL, sort_into_f64, 1 << 18, 0},
    {"sort_i32", sort_prep, sort_i32, 1 << 18, 0},
    {"sort_f32", sort_prep, sort_f32, 1 << 18, 0},
    {"sort_i64", sort_prep, sort_i64, 1 << 18, 0},
    {"sort_u32", sort_prep, sort_u32, 1 << 18, 0},
    {"gemm_f64_square", NULL, gemm_f64_square, -1, 0},
    {"gemm_f32_square", NULL, gemm_f32_square, -1, 0},
    {"gemm_dot", NULL, gemm_dot, -1, 0},
    /* k = 0: no multiply-adds, so no progress to wait for; the whole
     * call is one pass over 128 MiB, a few milliseconds on a fast machine */
    {"gemm_scale_row", NULL, gemm_scale_row, -1, 1},
    {"gemm_outer", NULL, gemm_outer, (int64_t)1 << 22, 0},
    {"fft_c128_n1", NULL, fft_c128_n1, 1 << 16, 0},
    {"fft_c64_n1", NULL, fft_c64_n1, 1 << 16, 0},
    {"fft_c128_n2", NULL, fft_c128_n2, 1 << 16, 0},
    {"fft_c128_n3", NULL, fft_c128_n3, 1 << 16, 0},
    {"fft_c128_long", NULL, fft_c128_long, 2, 0},
    {"fft_c128_split", NULL, fft_c128_split, 2, 0},
    {"fft_f64_n1", NULL, fft_f64_n1, 1 << 16, 0},
    {"fft_f64_n2", NULL, fft_f64_n2, 1 << 16, 0},
    {"fft_f32_long", NULL, fft_f32_long, -1, 0},
    {"fft_c64_bluestein", NULL, fft_c64_bluestein, 3, 0},
    {"conv2d_nan_row", NULL, conv2d_nan_row, -1, 0},
    {"conv2d_finite_row", NULL, conv2d_finite_row, -1, 0},
    {"conv2d_tiny_image", NULL, conv2d_tiny_image, -1, 0},
    {"conv2d_tiny_image_nan", NULL, conv2d_tiny_image_nan, 1 << 20, 0},
    {"conv2d_empty_image", NULL, conv2d_empty_image, -1, 0},
    {"conv2d_one_column", NULL, conv2d_one_column, 1 << 18, 0},
    {"conv2d_f32_rows", NULL, conv2d_f32_rows, 1 << 16, 0},
    {"mandelbrot_image", NULL, mandelbrot_image, 1 << 16, 0},
    {"mandelbrot_row", NULL, mandelbrot_row, -1, 0},
    {"mandelbrot_column", NULL, mandelbrot_column, 1 << 18, 0},
    {"mandelbrot_pixel", NULL, mandelbrot_pixel, -1, 0},
    /* past the copy of B: progress moves once A is factored */
    {"solve_many_rhs", NULL, solve_many_rhs, (int64_t)1 << 22, 500},
    {"solve_one_row", NULL, solve_one_row, (int64_t)1 << 22, 0},
    {"solve_large", NULL, solve_large, (int64_t)1 << 26, 0},
};

/* ---- the runner ---- */

typedef struct runner {
    const tcase *tc;
    crunch_ctx ctx;
    crunch_status st;
    double t_end;   /* when the call returned */
    double cpu_end; /* the thread's CPU time then */
    int started;    /* set (atomically) just before the call */
    int finished;   /* set (atomically) when it has returned */
} runner;

/* cpu_s returns the CPU time thread clock c has used, in seconds. */
static double cpu_s(clockid_t c)
{
    struct timespec t;
    clock_gettime(c, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static void *run_thread(void *arg)
{
    runner *r = arg;
    __atomic_store_n(&r->started, 1, __ATOMIC_RELEASE);
    r->st = r->tc->run(&r->ctx);
    r->t_end = check_now_s();
    r->cpu_end = cpu_s(CLOCK_THREAD_CPUTIME_ID);
    __atomic_store_n(&r->finished, 1, __ATOMIC_RELEASE);
    return NULL;
}

/* run_case runs tc on path isa until one run shows the promise kept or
 * broken (a run that ended before the cancel is no evidence: tried
 * again). */
static void run_case(const tcase *tc, crunch_isa isa)
{
    double worst_ms = 0, worst_cpu_ms = 0; /* of the tries that were too slow */
    int late = 0;
    for (int attempt = 0; attempt < TRIES; attempt++) {
        runner r;
        memset(&r, 0, sizeof r);
        r.tc = tc;
        if (tc->prep != NULL)
            tc->prep();
        crunch_ctx_init(&r.ctx);
        crunch_ctx_set_isa(&r.ctx, isa);
        pthread_t th;
        if (pthread_create(&th, NULL, run_thread, &r) != 0) {
            CHECK(0, "%s %s: pthread_create failed", tc->name, crunch_isa_name(isa));
            return;
        }
        /* Wait for the thread to run (on a loaded machine that may take
         * a while), then for the call to publish its total, then for its
         * progress to move, each of the last two for WAIT_MS at most:
         * some calls publish neither before the end. */
        int64_t done = 0, total = 0;
        double t0 = check_now_s();
        while (!__atomic_load_n(&r.started, __ATOMIC_ACQUIRE) && check_now_s() - t0 < 10.0)
            sched_yield(); /* leave the CPU to the thread that is starting */
        const double wait_s = (tc->wait_ms > 0 ? tc->wait_ms : WAIT_MS) * 1e-3;
        t0 = check_now_s();
        while (!__atomic_load_n(&r.finished, __ATOMIC_ACQUIRE) && total == 0 &&
               check_now_s() - t0 < wait_s)
            crunch_ctx_progress(&r.ctx, NULL, &total);
        t0 = check_now_s();
        while (!__atomic_load_n(&r.finished, __ATOMIC_ACQUIRE) && done == 0 &&
               check_now_s() - t0 < wait_s)
            crunch_ctx_progress(&r.ctx, &done, NULL);
        clockid_t th_clock;
        int have_clock = pthread_getcpuclockid(th, &th_clock) == 0;
        crunch_ctx_cancel(&r.ctx);
        double t_cancel = check_now_s();
        /* the call's CPU time from here on: what the machine's load does
         * not stretch (read after the flag: never too low) */
        double cpu_cancel = have_clock ? cpu_s(th_clock) : 0;
        int64_t at_cancel, total_at_cancel, at_end;
        /* after the flag: never too low */
        crunch_ctx_progress(&r.ctx, &at_cancel, &total_at_cancel);
        pthread_join(th, NULL);
        crunch_ctx_progress(&r.ctx, &at_end, &total);
        if (r.st == CRUNCH_OK && r.t_end <= t_cancel) {
            if (getenv("TIMING"))
                fprintf(stderr, "  %s %s try %d: done before the cancel\n", tc->name,
                        crunch_isa_name(isa), attempt);
            continue; /* done before the cancel (a stalled canceller): no evidence */
        }
        if (r.st == CRUNCH_ECANCELED && total_at_cancel == 0 && total > 0)
            continue; /* cancelled before it started (a slow thread start): no evidence */
        CHECK(r.st == CRUNCH_ECANCELED,
              "%s %s: status %d %.1f ms after the cancel, progress %lld/%lld", tc->name,
              crunch_isa_name(isa), r.st, (r.t_end - t_cancel) * 1e3, (long long)at_end,
              (long long)total);
        if (r.st != CRUNCH_ECANCELED)
            return;
        CHECK(tc->max_after < 0 || at_end - at_cancel <= tc->max_after,
              "%s %s: %lld progress units after the cancel (at most %lld)", tc->name,
              crunch_isa_name(isa), (long long)(at_end - at_cancel), (long long)tc->max_after);
        double ms = (r.t_end - t_cancel) * 1e3;
        double cpu_ms = have_clock ? (r.cpu_end - cpu_cancel) * 1e3 : 0;
        if (getenv("TIMING"))
            fprintf(stderr,
                    "  %s %s try %d: %.2f ms (CPU %.2f ms), %lld units after the cancel, "
                    "%.1f%% done at it\n",
                    tc->name, crunch_isa_name(isa), attempt, ms, cpu_ms,
                    (long long)(at_end - at_cancel),
                    total > 0 ? 100.0 * (double)at_cancel / (double)total : 0.0);
        if (ms <= WALL_MS && cpu_ms <= CPU_MS)
            return;
        late++;
        worst_ms = ms > worst_ms ? ms : worst_ms;
        worst_cpu_ms = cpu_ms > worst_cpu_ms ? cpu_ms : worst_cpu_ms;
    }
    CHECK(late > 0, "%s %s: finished before every cancel: too small a case", tc->name,
          crunch_isa_name(isa));
    CHECK(late == 0,
          "%s %s: too slow after the cancel in every try: up to %.1f ms (limit %d), "
          "%.1f ms of CPU time (limit %d)",
          tc->name, crunch_isa_name(isa), worst_ms, WALL_MS, worst_cpu_ms, CPU_MS);
}

/* fill_data fills the big buffers with values in [-1, 1) (every float
 * reading of them is finite too) and builds the conv2d kernels. */
static int fill_data(void)
{
    big_a = malloc(BIG * sizeof *big_a);
    big_b = malloc(BIG * sizeof *big_b);
    conv_ker_nan = malloc(WIDE * sizeof *conv_ker_nan);
    conv_ker_fin = malloc(WIDE * sizeof *conv_ker_fin);
    conv_ker_wide = malloc(WIDE * sizeof *conv_ker_wide);
    mb_counts = malloc(BIG * sizeof *mb_counts);
    if (!big_a || !big_b || !conv_ker_nan || !conv_ker_fin || !conv_ker_wide || !mb_counts)
        return 0;
    uint64_t s = 42;
    for (size_t i = 0; i < BIG; i++) {
        float f[2] = {(float)check_rnd11(&s), (float)check_rnd11(&s)};
        memcpy(&big_a[i], f, sizeof f); /* two floats in [-1, 1): also a finite double */
    }
    /* solve's A: 8 x 8 and 1 x 1 heads, diagonally dominant */
    for (size_t i = 0; i < SN; i++)
        big_a[i * SN + i] = 100;
    big_a[0] = 100;
    memset(big_b, 0, BIG * sizeof *big_b);
    /* The compiler may turn malloc + memset into calloc, leaving big_b's
     * pages unmapped; their first-touch faults are the OS's time, not
     * the kernels' (a few milliseconds per poll budget on a slow VM), so
     * map them here. */
    for (size_t i = 0; i < BIG; i += 512)
        ((volatile double *)big_b)[i] = 0;
    for (size_t i = 0; i < WIDE; i++)
        conv_ker_nan[i] = conv_ker_fin[i] = conv_ker_wide[i] = (double)(i % 7) - 3;
    conv_ker_nan[CKW / 2] = NAN;
    for (size_t i = 0; i < 81; i++)
        conv_ker_f32[i] = (float)(i % 5) - 2;
    return 1;
}

int main(void)
{
    if (!fill_data()) {
        printf("test_cancel: out of memory\n");
        return 1;
    }
    /* 2048 x 2048 for solve_large: make it well conditioned */
    for (size_t i = 0; i < 2048; i++)
        big_a[i * 2048 + i] = 4096;
    const char *only = getenv("TEST_CANCEL_CASE"); /* run one case, when investigating */
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++)
        for (int i = 0; i < CHECK_N_ISAS && (only == NULL || strcmp(only, cases[c].name) == 0);
             i++)
            if (check_isa_available("test_cancel", check_isas[i])) {
                double t = check_now_s();
                run_case(&cases[c], check_isas[i]);
                if (getenv("TIMING"))
                    fprintf(stderr, "%s %s %.1f ms\n", cases[c].name,
                            crunch_isa_name(check_isas[i]), (check_now_s() - t) * 1e3);
            }
    free(big_a);
    free(big_b);
    free(conv_ker_nan);
    free(conv_ker_fin);
    free(conv_ker_wide);
    free(mb_counts);
    crunch_fft_cache_clear();
    return check_exit("test_cancel");
}
