/*
 * example.c - a small program that uses an installed libcrunch.
 *
 * It shows the C API end to end and checks every answer against a naive
 * computation, so it doubles as the install test's smoke test: it exits 0
 * only when everything matched.
 *
 * Build it against an installed crunch with either of:
 *   cmake -S native/examples -B build-example -DCMAKE_PREFIX_PATH=<prefix>
 *   cc example.c $(pkg-config --cflags --libs crunch)
 */
#include <crunch.h>

#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int failures;

#define EXPECT(cond, ...)                                        \
    do {                                                         \
        if (!(cond)) {                                           \
            failures++;                                          \
            fprintf(stderr, "example: MISMATCH: " __VA_ARGS__);  \
            fputc('\n', stderr);                                 \
        }                                                        \
    } while (0)

/* modsum_naive is crunch_modsum's definition, spelled out: the sum of
 * ((i * n) mod 97) for 0 <= i < iters. Small n only (no overflow). */
static int64_t modsum_naive(int64_t n, int64_t iters)
{
    int64_t sum = 0;
    for (int64_t i = 0; i < iters; i++)
        sum += ((i * n) % 97 + 97) % 97;
    return sum;
}

static void demo_modsum(void)
{
    /* Equals Python's sum((i*7) % 97 for i in range(1000000)): 47999900. */
    const int64_t n = 7, iters = 1000000;
    int64_t t = 0;
    crunch_status st = crunch_modsum(NULL, n, iters, &t);
    EXPECT(st == CRUNCH_OK, "crunch_modsum: %s", crunch_strerror(st));
    printf("modsum(%" PRId64 ", %" PRId64 ") = %" PRId64 "\n", n, iters, t);
    int64_t want = modsum_naive(n, iters);
    EXPECT(t == want, "modsum: got %" PRId64 ", want %" PRId64, t, want);

    /* The same call with a ctx reports its progress: all iterations done. */
    crunch_ctx ctx;
    crunch_ctx_init(&ctx);
    st = crunch_modsum(&ctx, n, iters, &t);
    int64_t done = 0, total = 0;
    double frac = crunch_ctx_progress(&ctx, &done, &total);
    printf("progress after the call: %" PRId64 "/%" PRId64 " (%.0f%%)\n", done, total,
           100.0 * frac);
    EXPECT(st == CRUNCH_OK && done == iters && total == iters,
           "progress: status %d, %" PRId64 "/%" PRId64, (int)st, done, total);
}

/* fill puts small integers in x: every product and sum below is then exact
 * in double, so crunch's result must equal the naive one bit for bit,
 * whatever the order of its additions or its use of FMA. */
static void fill(double *x, size_t count, unsigned seed)
{
    for (size_t i = 0; i < count; i++) {
        seed = seed * 1103515245u + 12345u;
        x[i] = (double)((int)((seed >> 16) % 9u) - 4); /* -4 .. 4 */
    }
}

/* check_gemm computes C = alpha*op(A)*op(B) + beta*C with crunch_gemm_f64
 * and with three loops, and compares. */
static void check_gemm(size_t m, size_t n, size_t k, int ta, int tb)
{
    const double alpha = 2.0, beta = -1.0;
    size_t lda = ta ? m : k, ldb = tb ? k : n, ldc = n;
    double *a = malloc(m * k * sizeof *a), *b = malloc(k * n * sizeof *b);
    double *c = malloc(m * n * sizeof *c), *want = malloc(m * n * sizeof *want);
    if (a == NULL || b == NULL || c == NULL || want == NULL) {
        EXPECT(0, "out of memory");
        goto out;
    }
    fill(a, m * k, 1);
    fill(b, k * n, 2);
    fill(c, m * n, 3);
    for (size_t i = 0; i < m * n; i++)
        want[i] = c[i];

    for (size_t i = 0; i < m; i++) {
        for (size_t j = 0; j < n; j++) {
            double s = 0;
            for (size_t p = 0; p < k; p++) {
                double aip = ta ? a[p * lda + i] : a[i * lda + p];
                double bpj = tb ? b[j * ldb + p] : b[p * ldb + j];
                s += aip * bpj;
            }
            want[i * ldc + j] = alpha * s + beta * want[i * ldc + j];
        }
    }

    crunch_status st = crunch_gemm_f64(NULL, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    EXPECT(st == CRUNCH_OK, "crunch_gemm_f64: %s", crunch_strerror(st));
    size_t bad = 0;
    for (size_t i = 0; i < m * n; i++)
        bad += c[i] != want[i];
    printf("gemm_f64 %zux%zux%zu%s%s: %s\n", m, n, k, ta ? " A^T" : "", tb ? " B^T" : "",
           bad == 0 && st == CRUNCH_OK ? "matches the naive loop" : "MISMATCH");
    EXPECT(bad == 0, "gemm %zux%zux%zu ta=%d tb=%d: %zu of %zu elements differ", m, n, k, ta,
           tb, bad, m * n);
out:
    free(a);
    free(b);
    free(c);
    free(want);
}

static void demo_cancel(void)
{
    /* Any thread may cancel a ctx; here it is cancelled before the call
     * even starts, so the kernel must give up with CRUNCH_ECANCELED. */
    crunch_ctx ctx;
    crunch_ctx_init(&ctx);
    crunch_ctx_cancel(&ctx);
    int64_t t = 0;
    crunch_status st = crunch_modsum(&ctx, 7, 1000000, &t);
    printf("cancelled call: status %d (%s)\n", (int)st, crunch_strerror(st));
    EXPECT(st == CRUNCH_ECANCELED, "cancel: got status %d, want %d", (int)st,
           (int)CRUNCH_ECANCELED);

    /* Invalid arguments are a status too, never a crash. */
    st = crunch_modsum(NULL, 7, -1, &t);
    printf("iters < 0: status %d (%s)\n", (int)st, crunch_strerror(st));
    EXPECT(st == CRUNCH_EINVAL, "einval: got status %d", (int)st);
}

/* demo_parallel runs one product on four threads, which the library's
 * pthreads runner starts for the call, and checks that it equals the
 * serial product bit for bit: results never depend on the thread count. */
static void demo_parallel(void)
{
    const size_t n = 500;
    double *a = malloc(n * n * sizeof *a), *b = malloc(n * n * sizeof *b);
    double *c1 = malloc(n * n * sizeof *c1), *c4 = malloc(n * n * sizeof *c4);
    if (a == NULL || b == NULL || c1 == NULL || c4 == NULL) {
        EXPECT(0, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < n * n; i++) { /* not small integers: rounding shows */
        a[i] = 1.0 / (double)(i % 7 + 1);
        b[i] = 1.0 / (double)(i % 11 + 3);
    }
    crunch_status st = crunch_gemm_f64(NULL, 0, 0, n, n, n, 1.0, a, n, b, n, 0.0, c1, n);
    EXPECT(st == CRUNCH_OK, "serial gemm: %s", crunch_strerror(st));

    crunch_ctx ctx;
    crunch_ctx_init(&ctx);
    crunch_ctx_set_runner(&ctx, crunch_runner_pthreads, NULL, 4);
    st = crunch_gemm_f64(&ctx, 0, 0, n, n, n, 1.0, a, n, b, n, 0.0, c4, n);
    EXPECT(st == CRUNCH_OK, "parallel gemm: %s", crunch_strerror(st));
    size_t bad = 0;
    for (size_t i = 0; i < n * n; i++)
        bad += memcmp(&c1[i], &c4[i], sizeof c1[i]) != 0;
    int64_t done = 0, total = 0;
    crunch_ctx_progress(&ctx, &done, &total);
    printf("gemm_f64 %zux%zux%zu on 4 threads: %s the serial result, progress %" PRId64
           "/%" PRId64 "\n",
           n, n, n, bad == 0 ? "bit for bit" : "DIFFERS FROM", done, total);
    EXPECT(bad == 0, "parallel gemm: %zu elements differ from the serial ones", bad);
    EXPECT(done == total, "parallel progress %" PRId64 "/%" PRId64, done, total);
out:
    free(a);
    free(b);
    free(c1);
    free(c4);
}

int main(void)
{
    printf("crunch version: %s\n", crunch_version());
    printf("best isa: %s\n", crunch_isa_name(crunch_isa_best()));

    demo_modsum();
    check_gemm(3, 5, 4, 0, 0);    /* small enough to check by hand */
    check_gemm(67, 45, 130, 0, 0); /* odd sizes: partial register blocks */
    check_gemm(33, 70, 29, 1, 1);  /* both operands transposed */
    demo_cancel();
    demo_parallel();

    if (failures != 0) {
        printf("example: %d mismatches\n", failures);
        return 1;
    }
    printf("example: all results match\n");
    return 0;
}
