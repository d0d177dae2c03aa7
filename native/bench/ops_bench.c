/*
 * ops_bench.c - the time of one call of each SIMD-dispatched op on every
 * path this CPU has: how to check that a change to the kernels or to their
 * dispatch costs nothing. Not built by default.
 *
 * Build and run from the repository root:
 *   gcc -std=gnu11 -O2 -Iinclude -Inative native/[a-z]*.c native/bench/ops_bench.c \
 *       -lpthread -lm -o /tmp/ops_bench && /tmp/ops_bench
 * Arguments: the ops to time (default all): gemm fft conv2d stats mandelbrot
 * solve modsum. Every figure is the median of REPS samples; a sample
 * repeats the call until it has run for at least MIN_SAMPLE_S. Times are
 * the calling thread's CPU time (the kernels are single-threaded), which
 * other programs on a shared machine disturb less than the wall clock. To
 * compare two builds, run them alternately a few times and compare the
 * medians.
 */
#include "crunch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { REPS = 7 };
static const double MIN_SAMPLE_S = 0.03;

/* now_s returns the CPU time this thread has used, in seconds. */
static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* cmp_double orders doubles for qsort. */
static int cmp_double(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;
    return (a > b) - (a < b);
}

/* rnd returns a pseudo-random double in [-1, 1) from state *s (splitmix64). */
static double rnd(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    z ^= z >> 31;
    return (double)(z >> 11) * 0x1p-52 - 1.0;
}

/* The operands, sized for calls of about a millisecond or more. */
enum {
    GEMM_N = 256,
    FFT_N = 4096, FFT_BATCH = 16,
    CONV_H = 512, CONV_K = 5,
    STATS_N = 1 << 20,
    MB_W = 256, MB_ITER = 256,
    SOLVE_N = 256, SOLVE_RHS = 1,
    MODSUM_ITERS = 1 << 24,
    BUF = 1 << 21 /* doubles per buffer: enough for each of the above */
};

static double *da, *db, *dc;
static float *fa, *fb, *fc;
static uint32_t *counts;

/* op: one call to time. run makes the call on ctx and returns its status. */
typedef struct op {
    const char *name;  /* the group the command line selects */
    const char *label; /* what the row shows */
    crunch_status (*run)(crunch_ctx *ctx);
} op;

static crunch_status gemm_f64(crunch_ctx *c)
{
    return crunch_gemm_f64(c, 0, 0, GEMM_N, GEMM_N, GEMM_N, 1.0, da, GEMM_N, db, GEMM_N, 0.0, dc,
                           GEMM_N);
}
static crunch_status gemm_f32(crunch_ctx *c)
{
    return crunch_gemm_f32(c, 0, 0, GEMM_N, GEMM_N, GEMM_N, 1.0f, fa, GEMM_N, fb, GEMM_N, 0.0f, fc,
                           GEMM_N);
}
static crunch_status fft_c128(crunch_ctx *c)
{
    return crunch_fft_c128(c, 0, CRUNCH_FFT_BACKWARD, FFT_BATCH, FFT_N, da, dc);
}
static crunch_status fft_c64(crunch_ctx *c)
{
    return crunch_fft_c64(c, 0, CRUNCH_FFT_BACKWARD, FFT_BATCH, FFT_N, fa, fc);
}
static crunch_status conv2d_f64(crunch_ctx *c)
{
    return crunch_conv2d_f64(c, CRUNCH_CONV_SAME, CONV_H, CONV_H, da, CONV_K, CONV_K, db, dc);
}
static crunch_status conv2d_f32(crunch_ctx *c)
{
    return crunch_conv2d_f32(c, CRUNCH_CONV_SAME, CONV_H, CONV_H, fa, CONV_K, CONV_K, fb, fc);
}
static crunch_status stats_f64(crunch_ctx *c)
{
    crunch_stats s;
    return crunch_stats_f64(c, da, STATS_N, 0, &s);
}
static crunch_status stats_f32(crunch_ctx *c)
{
    crunch_stats s;
    return crunch_stats_f32(c, fa, STATS_N, 0, &s);
}
static crunch_status mandelbrot(crunch_ctx *c)
{
    return crunch_mandelbrot(c, MB_W, MB_W, -2.0, 0.5, -1.25, 1.25, MB_ITER, counts);
}
static crunch_status solve_f64(crunch_ctx *c)
{
    return crunch_solve_f64(c, SOLVE_N, SOLVE_RHS, da, SOLVE_N, db, SOLVE_RHS, dc, SOLVE_RHS);
}
static crunch_status modsum(crunch_ctx *c)
{
    int64_t t;
    return crunch_modsum(c, 12345, MODSUM_ITERS, &t);
}

static const op ops[] = {
    {"gemm", "gemm f64 256^3", gemm_f64},
    {"gemm", "gemm f32 256^3", gemm_f32},
    {"fft", "fft c128 16x4096", fft_c128},
    {"fft", "fft c64 16x4096", fft_c64},
    {"conv2d", "conv2d f64 512^2 * 5^2", conv2d_f64},
    {"conv2d", "conv2d f32 512^2 * 5^2", conv2d_f32},
    {"stats", "stats f64 2^20", stats_f64},
    {"stats", "stats f32 2^20", stats_f32},
    {"mandelbrot", "mandelbrot 256^2 x 256", mandelbrot},
    {"solve", "solve f64 256, 1 rhs", solve_f64},
    {"modsum", "modsum 2^24", modsum},
};

/* time_op returns the median seconds per call of o on path isa, or -1 if
 * a call fails. */
static double time_op(const op *o, crunch_isa isa)
{
    double samples[REPS];
    crunch_ctx ctx;
    crunch_ctx_init(&ctx);
    crunch_ctx_set_isa(&ctx, isa);
    if (o->run(&ctx) != CRUNCH_OK) /* also warms caches and plans */
        return -1;
    for (int r = 0; r < REPS; r++) {
        long calls = 0;
        double t0 = now_s(), t;
        do {
            o->run(&ctx);
            calls++;
            t = now_s() - t0;
        } while (t < MIN_SAMPLE_S);
        samples[r] = t / (double)calls;
    }
    qsort(samples, REPS, sizeof samples[0], cmp_double);
    return samples[REPS / 2];
}

/* wanted reports whether the command line selects group name. */
static int wanted(int argc, char **argv, const char *name)
{
    if (argc < 2)
        return 1;
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], name) == 0)
            return 1;
    return 0;
}

int main(int argc, char **argv)
{
    static const crunch_isa isas[] = {CRUNCH_ISA_GENERIC, CRUNCH_ISA_AVX2, CRUNCH_ISA_AVX512};
    da = malloc(BUF * sizeof *da), db = malloc(BUF * sizeof *db), dc = malloc(BUF * sizeof *dc);
    fa = malloc(BUF * sizeof *fa), fb = malloc(BUF * sizeof *fb), fc = malloc(BUF * sizeof *fc);
    counts = malloc(MB_W * MB_W * sizeof *counts);
    if (!da || !db || !dc || !fa || !fb || !fc || !counts) {
        fprintf(stderr, "ops_bench: out of memory\n");
        return 1;
    }
    uint64_t s = 42;
    for (size_t i = 0; i < BUF; i++) {
        da[i] = rnd(&s), db[i] = rnd(&s);
        fa[i] = (float)da[i], fb[i] = (float)db[i];
    }
    for (size_t i = 0; i < SOLVE_N; i++)
        da[i * SOLVE_N + i] += SOLVE_N; /* diagonally dominant: well conditioned */
    printf("%-26s", "median us per call");
    for (size_t j = 0; j < sizeof isas / sizeof isas[0]; j++)
        printf(" %10s", crunch_isa_name(isas[j]));
    printf("\n");
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
        if (!wanted(argc, argv, ops[i].name))
            continue;
        printf("%-26s", ops[i].label);
        for (size_t j = 0; j < sizeof isas / sizeof isas[0]; j++) {
            if (isas[j] > crunch_isa_best()) {
                printf(" %10s", "-");
                continue;
            }
            double t = time_op(&ops[i], isas[j]);
            if (t < 0)
                printf(" %10s", "failed");
            else
                printf(" %10.1f", t * 1e6);
            fflush(stdout);
        }
        printf("\n");
    }
    return 0;
}
