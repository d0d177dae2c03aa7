/*
 * gemm_bench.c - GFLOP/s of crunch_gemm_f64 / crunch_gemm_f32 on every SIMD
 * path, and optionally of OpenBLAS's cblas_dgemm / cblas_sgemm, at a few
 * square sizes. Not built by default.
 *
 * Build and run from the repository root:
 *   gcc -std=gnu11 -O2 -Iinclude -Inative native/core.c native/scratch.c native/gemm*.c \
 *       native/bench/gemm_bench.c -lpthread -o /tmp/gemm_bench && /tmp/gemm_bench
 * With OpenBLAS for comparison (Debian: libopenblas-dev), single-threaded:
 *   gcc -std=gnu11 -O2 -DWITH_OPENBLAS -Iinclude -Inative native/core.c native/scratch.c native/gemm*.c \
 *       native/bench/gemm_bench.c -lopenblas -lpthread -o /tmp/gemm_bench
 *   env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OPENBLAS_NUM_THREADS=1 /tmp/gemm_bench
 * (OpenBLAS reads OPENBLAS_CORETYPE at load time; unset it to let it pick
 * its kernels for this CPU, or set it to compare a particular core type.)
 *
 * Arguments: the sizes n to time (default 64 256 1024). Every figure is
 * the median of REPS samples; a sample repeats the call until it has run
 * for at least MIN_SAMPLE_S. GFLOP/s = 2 n^3 / time.
 */
#include "crunch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifdef WITH_OPENBLAS
#include <cblas.h>
#endif

enum { REPS = 7 };
static const double MIN_SAMPLE_S = 0.05;

/* now_s returns a monotonic (wall-clock) time in seconds. */
static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* cmp_double orders doubles for qsort. */
static int cmp_double(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;
    return (a > b) - (a < b);
}

/* One thing to time: which library, path and dtype. */
typedef struct target {
    const char *name;
    int openblas;   /* 1: cblas; 0: crunch on path isa */
    crunch_isa isa;
    int f32;
} target;

/* buffers: the operands of one size, in both dtypes. */
typedef struct buffers {
    size_t n;
    double *a, *b, *c;
    float *af, *bf, *cf;
} buffers;

/* run_once makes one call of t on bufs; returns 0 on success. */
static int run_once(const target *t, const buffers *bf)
{
    size_t n = bf->n;
    if (t->openblas) {
#ifdef WITH_OPENBLAS
        if (t->f32)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)n, (int)n, (int)n, 1.0f,
                        bf->af, (int)n, bf->bf, (int)n, 0.0f, bf->cf, (int)n);
        else
            cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)n, (int)n, (int)n, 1.0,
                        bf->a, (int)n, bf->b, (int)n, 0.0, bf->c, (int)n);
#endif
        return 0;
    }
    crunch_ctx ctx;
    crunch_ctx_init(&ctx);
    crunch_ctx_set_isa(&ctx, t->isa);
    crunch_status st = t->f32
        ? crunch_gemm_f32(&ctx, 0, 0, n, n, n, 1.0f, bf->af, n, bf->bf, n, 0.0f, bf->cf, n)
        : crunch_gemm_f64(&ctx, 0, 0, n, n, n, 1.0, bf->a, n, bf->b, n, 0.0, bf->c, n);
    if (st != CRUNCH_OK) {
        fprintf(stderr, "gemm_bench: %s: %s\n", t->name, crunch_strerror(st));
        return 1;
    }
    return 0;
}

/* sample_gflops times t on bufs once: repeats the call for at least
 * MIN_SAMPLE_S and returns GFLOP/s, or -1 on failure. */
static double sample_gflops(const target *t, const buffers *bf)
{
    double flops = 2.0 * (double)bf->n * (double)bf->n * (double)bf->n;
    long calls = 0;
    double start = now_s(), el;
    do {
        if (run_once(t, bf) != 0)
            return -1;
        calls++;
        el = now_s() - start;
    } while (el < MIN_SAMPLE_S);
    return flops * (double)calls / el / 1e9;
}

/* main times every target at every size and prints one table. */
int main(int argc, char **argv)
{
    size_t sizes[16] = {64, 256, 1024};
    int nsizes = 3;
    if (argc > 1) {
        nsizes = 0;
        for (int i = 1; i < argc && nsizes < 16; i++)
            sizes[nsizes++] = (size_t)strtoul(argv[i], NULL, 10);
    }

    target targets[8];
    int nt = 0;
    static const crunch_isa isas[] = {CRUNCH_ISA_GENERIC, CRUNCH_ISA_AVX2, CRUNCH_ISA_AVX512};
    for (int f32 = 0; f32 < 2; f32++) {
        for (int i = 0; i < 3; i++)
            if (isas[i] <= crunch_isa_best())
                targets[nt++] = (target){crunch_isa_name(isas[i]), 0, isas[i], f32};
#ifdef WITH_OPENBLAS
        targets[nt++] = (target){"openblas", 1, CRUNCH_ISA_AUTO, f32};
#endif
    }

#ifdef WITH_OPENBLAS
    openblas_set_num_threads(1);
    const char *ct = getenv("OPENBLAS_CORETYPE");
    printf("# OpenBLAS %s, core %s, OPENBLAS_CORETYPE=%s, 1 thread\n", openblas_get_config(),
           openblas_get_corename(), ct ? ct : "(unset)");
#endif
    printf("# crunch %s, best path %s; GFLOP/s = 2n^3/t, median of %d samples\n",
           crunch_version(), crunch_isa_name(crunch_isa_best()), REPS);
    printf("%-5s %-9s", "dtype", "impl");
    for (int s = 0; s < nsizes; s++)
        printf("   n=%-5zu", sizes[s]);
    printf("\n");

    double res[8][16];
    for (int s = 0; s < nsizes; s++) {
        size_t n = sizes[s], nn = n * n;
        buffers bf = {n, malloc(nn * sizeof(double)), malloc(nn * sizeof(double)),
                      malloc(nn * sizeof(double)), malloc(nn * sizeof(float)),
                      malloc(nn * sizeof(float)), malloc(nn * sizeof(float))};
        if (!bf.a || !bf.b || !bf.c || !bf.af || !bf.bf || !bf.cf) {
            fprintf(stderr, "gemm_bench: out of memory at n=%zu\n", n);
            return 1;
        }
        srand(1);
        for (size_t i = 0; i < nn; i++) {
            bf.a[i] = bf.af[i] = (float)rand() / (float)RAND_MAX - 0.5f;
            bf.b[i] = bf.bf[i] = (float)rand() / (float)RAND_MAX - 0.5f;
            bf.c[i] = bf.cf[i] = 0;
        }
        /* Samples interleave the implementations, so that a noisy
         * neighbour slows all of them alike; then take each one's median. */
        double rate[8][REPS];
        for (int t = 0; t < nt; t++)
            run_once(&targets[t], &bf); /* warm-up: page faults, OpenBLAS's buffers */
        for (int r = 0; r < REPS; r++)
            for (int t = 0; t < nt; t++)
                rate[t][r] = sample_gflops(&targets[t], &bf);
        for (int t = 0; t < nt; t++) {
            qsort(rate[t], REPS, sizeof rate[t][0], cmp_double);
            res[t][s] = rate[t][REPS / 2];
        }
        free(bf.a), free(bf.b), free(bf.c), free(bf.af), free(bf.bf), free(bf.cf);
    }
    for (int t = 0; t < nt; t++) {
        printf("%-5s %-9s", targets[t].f32 ? "f32" : "f64", targets[t].name);
        for (int s = 0; s < nsizes; s++)
            printf(" %9.1f", res[t][s]);
        printf("\n");
    }
    return 0;
}
