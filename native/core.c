/*
 * core.c - status strings, version, the ctx functions and run-time CPU
 * dispatch (which SIMD path this CPU and OS support).
 */
#include "internal.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

const char *crunch_strerror(crunch_status s)
{
    switch (s) {
    case CRUNCH_OK: return "ok";
    case CRUNCH_EINVAL: return "invalid argument";
    case CRUNCH_ENOMEM: return "out of memory";
    case CRUNCH_ECANCELED: return "canceled";
    case CRUNCH_ERANGE: return "result out of range";
    case CRUNCH_ENUMERICAL: return "no reliable numerical result";
    }
    return "unknown status";
}

const char *crunch_version(void)
{
    return CRUNCH_VERSION_STRING;
}

const char *crunch_isa_name(crunch_isa isa)
{
    switch (isa) {
    case CRUNCH_ISA_AUTO: return "auto";
    case CRUNCH_ISA_GENERIC: return "generic";
    case CRUNCH_ISA_AVX2: return "avx2";
    case CRUNCH_ISA_AVX512: return "avx512";
    }
    return "unknown";
}

/* disabled reports whether CRUNCH_DISABLE names feature (a comma-separated,
 * case-sensitive list). */
static int disabled(const char *list, const char *feature)
{
    size_t flen = strlen(feature);
    const char *p = list;
    while (p != NULL && *p != '\0') {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len == flen && strncmp(p, feature, flen) == 0)
            return 1;
        p = end ? end + 1 : NULL;
    }
    return 0;
}

static crunch_isa detect_isa(void)
{
    crunch_isa best = CRUNCH_ISA_GENERIC;
#if CRUNCH_X86
    /* __builtin_cpu_supports also checks that the OS saves the wider
     * registers (XGETBV), so a supported answer is safe to use. */
    __builtin_cpu_init();
    const char *off = getenv("CRUNCH_DISABLE");
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && !disabled(off, "avx2"))
        best = CRUNCH_ISA_AVX2;
    if (best == CRUNCH_ISA_AVX2 && __builtin_cpu_supports("avx512f") &&
        __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512vl") && !disabled(off, "avx512"))
        best = CRUNCH_ISA_AVX512;
#endif
    return best;
}

crunch_isa crunch_isa_best(void)
{
    /* Detection is idempotent, so racing first callers may both run it and
     * store the same answer; no lock is needed. */
    static int cached; /* 0: not yet detected */
    int isa = __atomic_load_n(&cached, __ATOMIC_RELAXED);
    if (isa == 0) {
        isa = (int)detect_isa();
        __atomic_store_n(&cached, isa, __ATOMIC_RELAXED);
    }
    return (crunch_isa)isa;
}

crunch_isa crunch__isa_for(const crunch_ctx *ctx)
{
    crunch_isa best = crunch_isa_best();
    if (ctx == NULL)
        return best;
    int cap = __atomic_load_n(&ctx->isa, __ATOMIC_RELAXED);
    if (cap > CRUNCH_ISA_AUTO && cap < (int)best)
        return (crunch_isa)cap;
    return best;
}

void crunch_ctx_init(crunch_ctx *ctx)
{
    if (ctx != NULL)
        memset(ctx, 0, sizeof *ctx);
}

void crunch_ctx_cancel(crunch_ctx *ctx)
{
    if (ctx != NULL)
        __atomic_store_n(&ctx->cancel, 1, __ATOMIC_RELAXED);
}

crunch_status crunch_ctx_set_isa(crunch_ctx *ctx, crunch_isa isa)
{
    if (ctx == NULL || (int)isa < CRUNCH_ISA_AUTO || (int)isa > CRUNCH_ISA_AVX512)
        return CRUNCH_EINVAL;
    __atomic_store_n(&ctx->isa, (int32_t)isa, __ATOMIC_RELAXED);
    return CRUNCH_OK;
}

crunch_status crunch_ctx_set_runner(crunch_ctx *ctx, crunch_runner_fn runner, void *data,
                                    int threads)
{
    if (ctx == NULL)
        return CRUNCH_EINVAL;
    if (runner == NULL || threads < 2) { /* serial: forget the runner altogether */
        runner = NULL;
        data = NULL;
        threads = 1;
    }
    ctx->runner = runner;
    ctx->runner_data = data;
    ctx->threads = threads;
    return CRUNCH_OK;
}

double crunch_ctx_progress(const crunch_ctx *ctx, int64_t *done, int64_t *total)
{
    int64_t d = 0, t = 0;
    if (ctx != NULL) {
        d = __atomic_load_n(&ctx->done, __ATOMIC_RELAXED);
        t = __atomic_load_n(&ctx->total, __ATOMIC_RELAXED);
    }
    if (done != NULL)
        *done = d;
    if (total != NULL)
        *total = t;
    if (t <= 0)
        return 0.0;
    double f = (double)d / (double)t;
    return f > 1.0 ? 1.0 : (f < 0.0 ? 0.0 : f);
}

crunch_status crunch_noop(crunch_ctx *ctx)
{
    return crunch__canceled(ctx) ? CRUNCH_ECANCELED : CRUNCH_OK;
}

/* span_end returns one past the last byte of a rows x cols array with row
 * stride ld (the caller checked that the byte counts fit). */
static uintptr_t span_end(uintptr_t p, size_t rows, size_t cols, size_t ld, size_t esize)
{
    return p + ((rows - 1) * ld + cols) * esize;
}

/* runs_meet reports whether [a0, a1) and [b0, b1) intersect. */
static int runs_meet(size_t a0, size_t a1, size_t b0, size_t b1)
{
    return a0 < b1 && b0 < a1;
}

int crunch__overlap(const void *p, size_t rows, size_t cols, size_t ld, const void *q,
                    size_t rows2, size_t cols2, size_t ld2, size_t esize)
{
    if (rows == 0 || cols == 0 || rows2 == 0 || cols2 == 0)
        return 0;
    /* One row's stride is never used: give it the other's, which may make
     * the exact test below apply. */
    if (rows == 1 && ld2 >= cols)
        ld = ld2;
    if (rows2 == 1 && ld >= cols2)
        ld2 = ld;
    uintptr_t p0 = (uintptr_t)p, q0 = (uintptr_t)q;
    if (p0 > q0) { /* p first */
        uintptr_t t = p0;
        p0 = q0, q0 = t;
        size_t r = rows, c = cols, l = ld;
        rows = rows2, cols = cols2, ld = ld2;
        rows2 = r, cols2 = c, ld2 = l;
    }
    if (span_end(p0, rows, cols, ld, esize) <= q0)
        return 0; /* q starts past p's last byte */
    if (ld != ld2 || (q0 - p0) % esize != 0)
        return 1; /* spans meet; element-exact only on one grid */
    /* q's element (i, j) is p's grid cell (qr + i, r + j): columns
     * [r, r + cols2) of rows from qr, the part past ld wrapping to the
     * next row's first columns. p covers rows [0, rows), columns
     * [0, cols) of that grid. */
    size_t d = (q0 - p0) / esize, qr = d / ld, r = d % ld;
    size_t c1 = r + cols2 < ld ? r + cols2 : ld;
    if (runs_meet(0, rows, qr, qr + rows2) && runs_meet(0, cols, r, c1))
        return 1;
    if (r + cols2 > ld && runs_meet(0, rows, qr + 1, qr + 1 + rows2) &&
        runs_meet(0, cols, 0, r + cols2 - ld))
        return 1;
    return 0;
}
