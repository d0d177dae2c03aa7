/*
 * fft.c - crunch_fft_c128 and crunch_fft_c64: plans, the plan cache, the
 * Stockham driver and Bluestein's algorithm. The pass kernels live in
 * fft_generic.c, fft_avx2.c and fft_avx512.c (contract in fft_kernels.h).
 *
 * A plan is everything about a length n and a precision that does not
 * depend on the data: the factorisation of n into radices, the twiddle
 * factors of every pass, and for Bluestein the chirp and the transformed
 * convolution kernel. It is built once and then only read, so any number
 * of threads may use one plan at once; the cache (bottom of this file)
 * hands plans out and takes them back under a mutex.
 *
 * Lengths whose prime factors are all <= CRUNCH__FFT_MAX_ODD use a mixed
 * radix Stockham FFT: powers of two as radix-8 passes (with a 4, 4 or a
 * 2 to finish), then 3, 5, 7 and the other odd primes, each one pass.
 * Powers of two go first so that every later pass has a stride s that is
 * a multiple of 8, which is what the SIMD kernels vectorise along. Other
 * lengths go through Bluestein's chirp-z algorithm: a convolution of
 * length bm >= 2n - 1 (a product of 2, 3, 5 and 7) computed with two
 * mixed-radix FFTs and a pointwise product.
 *
 * Powers of two of FS_MIN_BYTES and more take the four-step form
 * (fft_fourstep_plan.h, fft_fourstep.h): two passes over memory built from
 * in-cache transforms of about sqrt(n), where the one-pass form makes one
 * per radix.
 *
 * Parallel calls (internal.h): a batch's rows go to items in groups of a
 * fixed number of rows; a four-step row's column blocks, then its row
 * blocks, are items. Each element is computed by the same operations
 * whichever item or thread computes it.
 *
 * Everything is computed in the caller's precision; twiddles and chirps
 * are computed in long double and rounded once.
 */
#include "fft_kernels.h"

#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* n < 2^64 has fewer than 64 prime factors, so no plan has more passes. */
enum { MAX_STAGES = 64 };

/* fft_stage: one pass (fft_kernels.h has its loop nest). */
typedef struct fft_stage {
    int radix;
    int kind;         /* CRUNCH__FFT_R2 ... CRUNCH__FFT_RODD */
    size_t s, m;      /* stride before the pass, butterflies per column */
    size_t tw_off;    /* complex offset of the pass's twiddles in plan->tw */
    size_t roots_off; /* complex offset of its roots (odd radices) in plan->tw */
} fft_stage;

typedef struct fft_plan fft_plan;

/* fft_plan: read-only once built, except the cache fields. */
struct fft_plan {
    size_t n;
    int f32; /* 0: double, 1: float; tw, chirp and bfft hold that type */
    int nstages;
    fft_stage st[MAX_STAGES];
    void *tw;     /* interleaved complex: every pass's twiddles and roots */
    size_t bytes; /* memory the plan holds, for the cache's budget */
    /* Bluestein, when n has a prime factor above CRUNCH__FFT_MAX_ODD: */
    fft_plan *sub; /* the (smooth) plan of length bm, owned */
    size_t bm;
    void *chirp; /* n complex: exp(-pi i k^2 / n) */
    void *bfft;  /* bm complex: the FFT of the conjugate chirp, divided by bm */
    /* Four-step, when n is a large power of two (fft_fourstep.h): */
    fft_plan *col; /* length n1 over FS_COLS(f32) interleaved columns, owned */
    fft_plan *row; /* length n2, owned */
    size_t n1, n2; /* n = n1 * n2, n1 <= n2 */
    /* The twiddles between the passes, w^(k1 j) for row k1 and column j =
     * b C + c (C = FS_COLS(f32)), as the product of two tables: */
    void *fs_twc; /* n1 * C complex: w^(k1 c), row k1 then c */
    void *fs_twb; /* n2 / C * n1 complex: w^(k1 b C), block b then row k1 */
    /* cache bookkeeping, guarded by cache_mu */
    int refs;       /* calls using the plan */
    int cached;     /* whether the cache holds it (else the last user frees it) */
    uint64_t stamp; /* last use, for least-recently-used eviction */
};

/* 2 pi as a long double, for the twiddles. */
#define TWO_PI_L 6.283185307179586476925286766559005768L

/*
 * twiddle stores exp(-2 pi i j / N), 0 <= j < N <= 2^60, in *re and *im.
 * The angle is first reduced, in exact integer arithmetic, to [0, pi/4]
 * (by the symmetries of cos and sin about pi, pi/2 and pi/4), so that the
 * long double cosl/sinl see a small argument and the result is correctly
 * rounded to double or nearly so, whatever N.
 */
static void twiddle(uint64_t j, uint64_t N, double *re, double *im)
{
    /* The angle is 2 pi u / (8N) with u = 8j: working in eighths keeps
     * every reflection point (4N, 2N, N) an integer. */
    uint64_t u = 8 * j;
    int conj = 0, negc = 0, swap = 0;
    if (u > 4 * N) { /* angle in (pi, 2pi): 2pi - angle, sin negated */
        u = 8 * N - u;
        conj = 1;
    }
    if (u > 2 * N) { /* (pi/2, pi]: pi - angle, cos negated */
        u = 4 * N - u;
        negc = 1;
    }
    if (u > N) { /* (pi/4, pi/2]: pi/2 - angle, cos and sin exchanged */
        u = 2 * N - u;
        swap = 1;
    }
    long double th = TWO_PI_L * (long double)u / (8.0L * (long double)N);
    long double c = cosl(th), s = sinl(th);
    if (swap) {
        long double t = c;
        c = s;
        s = t;
    }
    if (negc)
        c = -c;
    if (conj)
        s = -s;
    *re = (double)c;
    *im = (double)-s; /* exp(-i angle) = cos - i sin */
}

/* factorize writes n's radices, in pass order, to rad and returns their
 * count, or -1 when n has a prime factor above CRUNCH__FFT_MAX_ODD. */
static int factorize(size_t n, int *rad)
{
    int c = 0, e = 0;
    while (n % 2 == 0) {
        n /= 2;
        e++;
    }
    /* 2^e as 8s, then a 4 or a 2; when e = 1 mod 3 (e >= 7) two 4s rather
     * than an 8 and a 2: as many passes, less arithmetic. The first radix
     * is 8 whenever e >= 3, so that later strides are multiples of 8. */
    if (e % 3 == 1 && e >= 7) {
        for (; e > 4; e -= 3)
            rad[c++] = 8;
        rad[c++] = 4;
        rad[c++] = 4;
    } else {
        for (; e >= 3; e -= 3)
            rad[c++] = 8;
        if (e == 2)
            rad[c++] = 4;
        else if (e == 1)
            rad[c++] = 2;
    }
    /* odd primes by trial division (composite p never divide: their
     * factors are gone) */
    for (size_t p = 3; n > 1; p += 2) {
        if (p > CRUNCH__FFT_MAX_ODD)
            return -1;
        while (n % p == 0) {
            n /= p;
            rad[c++] = (int)p;
        }
    }
    return c;
}

static int kind_of(int radix)
{
    switch (radix) {
    case 2: return CRUNCH__FFT_R2;
    case 3: return CRUNCH__FFT_R3;
    case 4: return CRUNCH__FFT_R4;
    case 5: return CRUNCH__FFT_R5;
    case 7: return CRUNCH__FFT_R7;
    case 8: return CRUNCH__FFT_R8;
    }
    return CRUNCH__FFT_RODD;
}

/* aligned_buffer allocates bytes on a 64-byte boundary, or returns NULL
 * (also when bytes rounded up overflows). Free it with free(). */
static void *aligned_buffer(size_t bytes)
{
    if (bytes > SIZE_MAX - 64)
        return NULL;
    return aligned_alloc(64, (bytes + 63) / 64 * 64 + (bytes == 0 ? 64 : 0));
}

static void plan_free(fft_plan *p)
{
    if (p == NULL)
        return;
    plan_free(p->sub);
    plan_free(p->col);
    plan_free(p->row);
    free(p->fs_twc);
    free(p->fs_twb);
    free(p->tw);
    free(p->chirp);
    free(p->bfft);
    free(p);
}

/* About how many complex elements a pass computes between cancel polls:
 * some tens of microseconds on the generic path, a few on the SIMD ones. */
enum { POLL_ELEMS = 1 << 15 };

/* How many table entries plan building computes between cancel polls
 * (tens of microseconds of cosl/sinl). */
enum { BUILD_POLL = 1 << 12 };

/* store_cx writes complex number i of a plan-precision array. */
static inline void store_cx(void *a, int f32, size_t i, double re, double im)
{
    if (f32) {
        ((float *)a)[2 * i] = (float)re;
        ((float *)a)[2 * i + 1] = (float)im;
    } else {
        ((double *)a)[2 * i] = re;
        ((double *)a)[2 * i + 1] = im;
    }
}

/*
 * plan_build_smooth fills in the passes and twiddles of p (n and f32 set)
 * from the radices rad[0..c). s0 is the stride of the first pass: 1 for
 * one transform of length n, or c > 1 for c transforms of length n / c
 * interleaved (element t of transform q at q + c*t; the passes are those
 * of length n / c with every stride times c, which fft_kernels.h's loop
 * nest computes unchanged). Returns CRUNCH_ENOMEM, CRUNCH_ECANCELED
 * (polled on cctx while computing twiddles) or CRUNCH_OK.
 */
static crunch_status plan_build_smooth(fft_plan *p, const int *rad, int c, size_t s0,
                                       const crunch_ctx *cctx)
{
    const size_t es = p->f32 ? 2 * sizeof(float) : 2 * sizeof(double);
    size_t total = 0, s = s0;
    p->nstages = c;
    for (int i = 0; i < c; i++) {
        fft_stage *st = &p->st[i];
        st->radix = rad[i];
        st->kind = kind_of(rad[i]);
        st->s = s;
        st->m = p->n / (s * (size_t)rad[i]);
        st->tw_off = total;
        total += st->m * (size_t)(rad[i] - 1); /* < n per pass: no overflow */
        st->roots_off = total;
        if (rad[i] & 1)
            total += (size_t)rad[i];
        s *= (size_t)rad[i];
    }
    p->tw = aligned_buffer(total * es);
    if (p->tw == NULL)
        return CRUNCH_ENOMEM;
    p->bytes += total * es;
    size_t since_poll = 0;
    for (int i = 0; i < c; i++) {
        const fft_stage *st = &p->st[i];
        const size_t R = (size_t)st->radix, m = st->m, N = R * m;
        for (size_t pp = 0; pp < m; pp++) {
            for (size_t k = 1; k < R; k++) {
                double re, im;
                twiddle(pp * k, N, &re, &im); /* pp*k < m*R = N */
                /* s == 1 passes want their twiddles k-major (fft_kernels.h) */
                size_t at = st->s == 1 ? (k - 1) * m + pp : pp * (R - 1) + (k - 1);
                store_cx(p->tw, p->f32, st->tw_off + at, re, im);
            }
            since_poll += R;
            if (since_poll >= BUILD_POLL) {
                since_poll = 0;
                if (crunch__canceled(cctx))
                    return CRUNCH_ECANCELED;
            }
        }
        if (R & 1) /* roots: cos and +sin of 2 pi t / R */
            for (size_t t = 0; t < R; t++) {
                double re, im;
                twiddle(t, R, &re, &im);
                store_cx(p->tw, p->f32, st->roots_off + t, re, -im);
            }
    }
    return CRUNCH_OK;
}

static crunch_status plan_build(size_t n, int f32, int split, const crunch_ctx *cctx,
                                fft_plan **out);
static crunch_status stockham_f64(const crunch__fft_kernels *K, const fft_plan *pl, int inv,
                                  const double *x, double *y, double *w1, double *w2,
                                  const crunch_ctx *cctx, crunch_ctx *pctx);

/*
 * bluestein_length returns the convolution length for Bluestein's
 * algorithm on n: the smallest m >= 2n - 1 of the form 2^a 3^b 5^c 7^d
 * with 2^a >= 8. Such lengths run on the mixed-radix path with every pass
 * vectorised (the power of two goes first), and one is usually much
 * closer to 2n - 1 than the next power of two (138240 rather than 262144
 * for n = 65537), which halves the work. n <= 2^59 (the byte limit), so
 * no product below overflows.
 */
static size_t bluestein_length(size_t n)
{
    const size_t target = 2 * n - 1;
    size_t best = 8;
    while (best < target) /* a power of two always qualifies */
        best *= 2;
    for (size_t p2 = 8; p2 < best; p2 *= 2)
        for (size_t p3 = p2; p3 < best; p3 *= 3)
            for (size_t p5 = p3; p5 < best; p5 *= 5)
                for (size_t p7 = p5; p7 < best; p7 *= 7)
                    if (p7 >= target) { /* the smallest for this p5: go on */
                        best = p7;
                        break;
                    }
    return best;
}

/*
 * plan_build_bluestein fills in p (n, f32 set) for Bluestein's algorithm:
 * with c_k = exp(-pi i k^2 / n), X_k = c_k * sum_j (x_j c_j) conj(c_{k-j}),
 * a convolution, computed cyclically with length bm >= 2n - 1
 * (bluestein_length). The plan keeps the chirp c and the transformed
 * kernel FFT(b) / bm, where b[t] = conj(c_|t|) at t and bm - t for
 * |t| < n (the 1/bm saves the inverse transform its scaling). The
 * kernel's FFT is computed in double with the generic kernels (the plan
 * must not depend on the path that happened to build it) and rounded once
 * for f32.
 */
static crunch_status plan_build_bluestein(fft_plan *p, const crunch_ctx *cctx)
{
    const size_t n = p->n, es = p->f32 ? 2 * sizeof(float) : 2 * sizeof(double);
    const size_t bm = bluestein_length(n);
    p->bm = bm;
    crunch_status st = plan_build(bm, p->f32, 0, cctx, &p->sub); /* stockham_S runs it */
    if (st != CRUNCH_OK)
        return st;
    p->bytes += p->sub->bytes;
    fft_plan *sub64 = p->sub; /* the f64 plan that transforms the kernel */
    if (p->f32 && (st = plan_build(bm, 0, 0, cctx, &sub64)) != CRUNCH_OK)
        return st;
    /* b is transformed in place: up to two work buffers (see stockham_S) */
    double *b = aligned_buffer(bm * 2 * sizeof(double));
    double *w = aligned_buffer(2 * bm * 2 * sizeof(double));
    p->chirp = aligned_buffer(n * es);
    p->bfft = aligned_buffer(bm * es);
    if (b == NULL || w == NULL || p->chirp == NULL || p->bfft == NULL) {
        st = CRUNCH_ENOMEM;
        goto out;
    }
    p->bytes += (n + bm) * es;
    memset(b, 0, bm * 2 * sizeof(double));
    uint64_t r = 0; /* k^2 mod 2n, updated by (k+1)^2 - k^2 = 2k + 1 < 2n */
    for (size_t k = 0; k < n; k++) {
        double re, im;
        twiddle(r, 2 * (uint64_t)n, &re, &im); /* exp(-2 pi i r / 2n) */
        store_cx(p->chirp, p->f32, k, re, im);
        b[2 * k] = re, b[2 * k + 1] = -im;
        if (k > 0)
            b[2 * (bm - k)] = re, b[2 * (bm - k) + 1] = -im;
        r += 2 * (uint64_t)k + 1;
        if (r >= 2 * (uint64_t)n)
            r -= 2 * (uint64_t)n;
        if (k % BUILD_POLL == 0 && crunch__canceled(cctx)) {
            st = CRUNCH_ECANCELED;
            goto out;
        }
    }
    st = stockham_f64(&crunch__fft_kernels_generic, sub64, 0, b, b, w, w + 2 * bm, cctx, NULL);
    if (st != CRUNCH_OK)
        goto out;
    for (size_t k = 0; k < bm; k++)
        store_cx(p->bfft, p->f32, k, b[2 * k] / (double)bm, b[2 * k + 1] / (double)bm);
out:
    if (sub64 != p->sub)
        plan_free(sub64);
    free(b);
    free(w);
    return st;
}

#include "fft_fourstep_plan.h"

/* plan_build makes the plan for length n >= 1 and the given precision;
 * split allows the four-step form (fs_split) for the top-level plan of a
 * call, never for the sub-plans that stockham_S runs directly. */
static crunch_status plan_build(size_t n, int f32, int split, const crunch_ctx *cctx,
                                fft_plan **out)
{
    int rad[MAX_STAGES];
    fft_plan *p = calloc(1, sizeof *p);
    *out = NULL;
    if (p == NULL)
        return CRUNCH_ENOMEM;
    p->n = n;
    p->f32 = f32;
    p->bytes = sizeof *p;
    int c = factorize(n, rad);
    crunch_status st;
    if (split && fs_split(n, f32, &p->n1, &p->n2))
        st = plan_build_fourstep(p, cctx);
    else if (c >= 0)
        st = plan_build_smooth(p, rad, c, 1, cctx);
    else
        st = plan_build_bluestein(p, cctx);
    if (st != CRUNCH_OK) {
        plan_free(p);
        return st;
    }
    *out = p;
    return CRUNCH_OK;
}

/* plan_passes is the number of progress units (passes, and Bluestein's
 * pointwise steps) one row of the plan's transform takes: at least 1. */
static size_t plan_passes(const fft_plan *p)
{
    if (p->col != NULL) /* four-step: one unit per item of either pass */
        return fs_col_items(p) + fs_row_items(p);
    if (p->sub != NULL)
        return 3 + 2 * (size_t)p->sub->nstages;
    return p->nstages > 0 ? (size_t)p->nstages : 1;
}

/* needs_w2 reports whether a Stockham transform with plan p needs its
 * second work buffer: in place, with an odd pass count of at least 3
 * (stockham_S explains why). */
static int needs_w2(const fft_plan *p, int inplace)
{
    return inplace && p->nstages >= 3 && (p->nstages & 1);
}

/* work_elems is how many complex elements of work space one call with
 * plan p needs: w1 and maybe w2 (smooth n), or the padded row, w1 and
 * maybe w2 of the sub-plan (Bluestein, whose transforms run in place).
 * Asking no more than that matters for large n: the allocator maps big
 * blocks afresh on every call, and each page costs a fault. */
static size_t work_elems(const fft_plan *p, int inplace)
{
    if (p->sub != NULL)
        return (2 + (size_t)needs_w2(p->sub, 1)) * p->bm;
    return (1 + (size_t)needs_w2(p, inplace)) * p->n;
}

/*
 * work_slots: the work buffers of one call's items. A call allocates one
 * per thread it may use (at most SLOTS_MAX) in one block; an item takes a
 * free one for its duration and gives it back. A runner running more
 * items at once than its thread budget would find none free: such an
 * item allocates its own (crunch__scratch_get). Which buffer an item
 * uses never changes what it computes, so the thread count only decides
 * how much memory a call takes.
 */
enum { SLOTS_MAX = 64 };

typedef struct work_slots {
    crunch__bigbuf buf; /* the slots, one after the other */
    size_t each;        /* bytes per slot, a multiple of 64 */
    int count;
    uint64_t busy; /* bit i: slot i is taken; atomic */
} work_slots;

/* slot: what an item took (slot_take) and gives back (slot_give). */
typedef struct slot {
    void *p;
    int idx;    /* the slot, or -1: p came from crunch__scratch_get */
    size_t cap; /* crunch__scratch_get's capacity */
} slot;

/* slots_init allocates the slots of a call of items items needing bytes
 * each: CRUNCH_ENOMEM or CRUNCH_OK (release with slots_free either way). */
static crunch_status slots_init(work_slots *ws, size_t bytes, size_t items, const crunch_ctx *ctx)
{
    size_t count = (size_t)crunch__threads(ctx), total;
    count = count < items ? count : items;
    count = count < SLOTS_MAX ? count : SLOTS_MAX;
    count = count > 0 ? count : 1;
    ws->each = bytes / 64 * 64 + (bytes % 64 != 0 ? 64 : 0); /* whole lines: no false sharing */
    ws->count = (int)count;
    ws->busy = 0;
    ws->buf.p = NULL;
    ws->buf.map = NULL;
    if (ws->each < bytes || __builtin_mul_overflow(ws->each, count, &total))
        return CRUNCH_ENOMEM;
    crunch__bigbuf_alloc(&ws->buf, total);
    return ws->buf.p == NULL ? CRUNCH_ENOMEM : CRUNCH_OK;
}

static void slots_free(work_slots *ws)
{
    if (ws->buf.p != NULL)
        crunch__bigbuf_free(&ws->buf);
}

/* slot_take returns a free slot's buffer (ws->each bytes), or NULL when
 * none is free and memory runs out. */
static void *slot_take(work_slots *ws, slot *sl)
{
    uint64_t cur = __atomic_load_n(&ws->busy, __ATOMIC_RELAXED);
    for (int i = 0; i < ws->count; i++) {
        const uint64_t bit = (uint64_t)1 << i;
        if (cur & bit)
            continue;
        /* acquire: the previous holder's writes to the slot come first */
        if (__atomic_compare_exchange_n(&ws->busy, &cur, cur | bit, 0, __ATOMIC_ACQUIRE,
                                        __ATOMIC_RELAXED)) {
            sl->idx = i;
            sl->p = (char *)ws->buf.p + (size_t)i * ws->each;
            return sl->p;
        }
        i = -1; /* cur was reloaded: scan it again */
    }
    sl->idx = -1;
    sl->p = crunch__scratch_get(ws->each, &sl->cap);
    return sl->p;
}

static void slot_give(work_slots *ws, slot *sl)
{
    if (sl->idx >= 0)
        __atomic_fetch_and(&ws->busy, ~((uint64_t)1 << sl->idx), __ATOMIC_RELEASE);
    else
        crunch__scratch_put(sl->p, sl->cap);
}

/* The rows of a batch of short transforms go to items in groups of about
 * ROW_GROUP_ELEMS elements (one row at least): a fixed partition of the
 * batch, a few tens of microseconds of work each. */
enum { ROW_GROUP_ELEMS = 1 << 16 };

/* rows_call: one call's state for the batch items (rows_item_S). */
typedef struct rows_call {
    const crunch__fft_kernels *K;
    const fft_plan *pl;
    int inv;
    double scale;
    crunch_ctx *ctx;
    const void *x;
    void *y;
    size_t batch, group; /* rows, and rows per item */
    work_slots ws;       /* work_elems complex each */
} rows_call;

#include "fft_fourstep.h"

/*
 * FFT_TYPED(T, S) defines, for element type T (double or float) and
 * suffix S (f64 or f32), the typed half of the driver: running one pass,
 * one Stockham transform, one Bluestein transform, and a whole call.
 */
#define FFT_TYPED(T, S)                                                                            \
                                                                                                   \
    /* pass_S runs stage st from in to out in blocks of p (fft_kernels.h),                         \
     * polling cctx between blocks: within each block the SIMD kernel                              \
     * takes what it can vectorise and the generic kernel the rest.                                \
     * Returns CRUNCH_ECANCELED or CRUNCH_OK. */                                                   \
    static crunch_status pass_##S(const crunch__fft_kernels *K, const fft_plan *pl,                \
                                  const fft_stage *st, int inv, const T *in, T *out,               \
                                  const crunch_ctx *cctx)                                          \
    {                                                                                              \
        const T *tw = (const T *)pl->tw + 2 * st->tw_off;                                          \
        const T *roots = (const T *)pl->tw + 2 * st->roots_off;                                    \
        const crunch__fft_pass_##S simd = K->S[inv][st->kind];                                     \
        const crunch__fft_pass_##S gen = crunch__fft_kernels_generic.S[inv][st->kind];             \
        const size_t W = K->w_##S, R = (size_t)st->radix, s = st->s, m = st->m;                    \
        /* p per block: about POLL_ELEMS elements, whole vectors along p */                        \
        size_t pstep = POLL_ELEMS / (R * s) > 0 ? POLL_ELEMS / (R * s) : 1;                        \
        if (s == 1)                                                                                \
            pstep = (pstep + W - 1) / W * W;                                                       \
        /* along q (s > 1), the SIMD kernel takes [0, qv) */                                       \
        const size_t qv = W > 1 && s >= W ? s - s % W : 0;                                         \
        for (size_t p0 = 0; p0 < m; p0 += pstep) {                                                 \
            if (p0 > 0 && crunch__canceled(cctx)) /* the caller polled before p0 = 0 */            \
                return CRUNCH_ECANCELED;                                                           \
            const size_t p1 = m - p0 < pstep ? m : p0 + pstep;                                     \
            crunch__fft_block b = {st->radix, s, m, p0, p1, 0, s};                                 \
            if (s == 1) {                                                                          \
                const size_t pv = p0 + (p1 - p0) / W * W; /* end of the vectorised part */         \
                if (W > 1 && pv > p0) {                                                            \
                    b.p1 = pv;                                                                     \
                    simd(&b, in, out, tw, roots);                                                  \
                    b.p0 = pv, b.p1 = p1;                                                          \
                }                                                                                  \
                if (b.p0 < p1)                                                                     \
                    gen(&b, in, out, tw, roots);                                                   \
            } else {                                                                               \
                if (qv > 0) {                                                                      \
                    b.q1 = qv;                                                                     \
                    simd(&b, in, out, tw, roots);                                                  \
                    b.q0 = qv, b.q1 = s;                                                           \
                }                                                                                  \
                if (b.q0 < s)                                                                      \
                    gen(&b, in, out, tw, roots);                                                   \
            }                                                                                      \
        }                                                                                          \
        return CRUNCH_OK;                                                                          \
    }                                                                                              \
                                                                                                   \
    /* stockham_S transforms one row of pl->n complex numbers from x to y                          \
     * (which may be x itself) with the passes of the smooth plan pl. w1                           \
     * (n complex) is work space, and so is w2 when needs_w2 says so (x ==                         \
     * y and an odd pass count >= 3: the ping-pong must not write x before                         \
     * the first pass has read it). Polls cctx before every pass (and                              \
     * pass_S within it) and adds one to pctx's progress after it (either                          \
     * may be NULL). */                                                                            \
    static crunch_status stockham_##S(const crunch__fft_kernels *K, const fft_plan *pl,            \
                                      int inv, const T *x, T *y, T *w1, T *w2,                     \
                                      const crunch_ctx *cctx, crunch_ctx *pctx)                    \
    {                                                                                              \
        const int P = pl->nstages;                                                                 \
        if (P == 0) { /* n == 1: the DFT is the identity */                                        \
            if (x != y)                                                                            \
                memcpy(y, x, 2 * sizeof(T));                                                       \
            crunch__progress_add(pctx, 1);                                                         \
            return CRUNCH_OK;                                                                      \
        }                                                                                          \
        /* Pass i writes dst[i]; the last writes y, and the ones before it                         \
         * alternate w1, y, w1, ... backwards, so each reads what the                              \
         * previous one wrote. */                                                                  \
        T *dst[MAX_STAGES];                                                                        \
        dst[P - 1] = y;                                                                            \
        for (int i = P - 2; i >= 0; i--)                                                           \
            dst[i] = dst[i + 1] == y ? w1 : y;                                                     \
        int copy_back = 0;                                                                         \
        if (x == y && dst[0] == y) { /* the first pass would overwrite its input */                \
            if (P == 1) {                                                                          \
                dst[0] = w1;                                                                       \
                copy_back = 1;                                                                     \
            } else {                                                                               \
                dst[0] = w2; /* dst[1] is w1: pass 2 reads w2, writes w1 */                        \
            }                                                                                      \
        }                                                                                          \
        const T *src = x;                                                                          \
        for (int i = 0; i < P; i++) {                                                              \
            if (crunch__canceled(cctx))                                                            \
                return CRUNCH_ECANCELED;                                                           \
            if (pass_##S(K, pl, &pl->st[i], inv, src, dst[i], cctx) != CRUNCH_OK)                  \
                return CRUNCH_ECANCELED;                                                           \
            src = dst[i];                                                                          \
            crunch__progress_add(pctx, 1);                                                         \
        }                                                                                          \
        if (copy_back)                                                                             \
            memcpy(y, w1, pl->n * 2 * sizeof(T));                                                  \
        return CRUNCH_OK;                                                                          \
    }                                                                                              \
                                                                                                   \
    /* bluestein_S transforms one row with Bluestein's algorithm (see                              \
     * plan_build_bluestein). The inverse is the forward transform                                 \
     * conjugated on the way in and out. work holds the padded row a (bm                           \
     * complex), then the sub-plan's w1 and, if it needs one, w2                                   \
     * (work_elems). x may equal y: x is read completely before y is                               \
     * written. */                                                                                 \
    static crunch_status bluestein_##S(const crunch__fft_kernels *K, const fft_plan *pl,           \
                                       int inv, const T *x, T *y, T *work,                         \
                                       const crunch_ctx *cctx, crunch_ctx *pctx)                   \
    {                                                                                              \
        const size_t n = pl->n, bm = pl->bm;                                                       \
        const T *c = pl->chirp, *bf = pl->bfft;                                                    \
        T *a = work, *w1 = work + 2 * bm;                                                          \
        T *w2 = needs_w2(pl->sub, 1) ? work + 4 * bm : NULL; /* see work_elems */                  \
        const T sg = inv ? -1 : 1; /* conjugation: the sign of im */                               \
        for (size_t k0 = 0; k0 < n; k0 += POLL_ELEMS) { /* a = conj?(x) * c */                     \
            if (k0 > 0 && crunch__canceled(cctx))                                                  \
                return CRUNCH_ECANCELED; /* a long row: as often as a pass polls */                \
            const size_t k1 = n - k0 < POLL_ELEMS ? n : k0 + POLL_ELEMS;                           \
            for (size_t k = k0; k < k1; k++) {                                                     \
                T xr = x[2 * k], xi = sg * x[2 * k + 1];                                           \
                a[2 * k] = xr * c[2 * k] - xi * c[2 * k + 1];                                      \
                a[2 * k + 1] = xr * c[2 * k + 1] + xi * c[2 * k];                                  \
            }                                                                                      \
        }                                                                                          \
        memset(a + 2 * n, 0, (bm - n) * 2 * sizeof(T));                                            \
        crunch__progress_add(pctx, 1);                                                             \
        crunch_status st = stockham_##S(K, pl->sub, 0, a, a, w1, w2, cctx, pctx);                  \
        if (st != CRUNCH_OK)                                                                       \
            return st;                                                                             \
        if (crunch__canceled(cctx))                                                                \
            return CRUNCH_ECANCELED;                                                               \
        for (size_t k0 = 0; k0 < bm; k0 += POLL_ELEMS) { /* a *= FFT(b) / bm */                    \
            if (k0 > 0 && crunch__canceled(cctx))                                                  \
                return CRUNCH_ECANCELED; /* a long row: as often as a pass polls */                \
            const size_t k1 = bm - k0 < POLL_ELEMS ? bm : k0 + POLL_ELEMS;                         \
            for (size_t k = k0; k < k1; k++) {                                                     \
                T ar = a[2 * k], ai = a[2 * k + 1];                                                \
                a[2 * k] = ar * bf[2 * k] - ai * bf[2 * k + 1];                                    \
                a[2 * k + 1] = ar * bf[2 * k + 1] + ai * bf[2 * k];                                \
            }                                                                                      \
        }                                                                                          \
        crunch__progress_add(pctx, 1);                                                             \
        st = stockham_##S(K, pl->sub, 1, a, a, w1, w2, cctx, pctx);                                \
        if (st != CRUNCH_OK)                                                                       \
            return st;                                                                             \
        for (size_t k0 = 0; k0 < n; k0 += POLL_ELEMS) { /* y = conj?(a * c) */                     \
            if (k0 > 0 && crunch__canceled(cctx))                                                  \
                return CRUNCH_ECANCELED; /* a long row: as often as a pass polls */                \
            const size_t k1 = n - k0 < POLL_ELEMS ? n : k0 + POLL_ELEMS;                           \
            for (size_t k = k0; k < k1; k++) {                                                     \
                T ar = a[2 * k], ai = a[2 * k + 1];                                                \
                y[2 * k] = ar * c[2 * k] - ai * c[2 * k + 1];                                      \
                y[2 * k + 1] = sg * (ar * c[2 * k + 1] + ai * c[2 * k]);                           \
            }                                                                                      \
        }                                                                                          \
        crunch__progress_add(pctx, 1);                                                             \
        return CRUNCH_OK;                                                                          \
    }                                                                                              \
                                                                                                   \
    FOURSTEP_TYPED(T, S)                                                                           \
                                                                                                   \
    /* rows_item_S transforms item i's group of rows (rows_call), each                             \
     * with the Stockham or Bluestein transform and scaled, as a serial                            \
     * call would: rows are charged by work done, short rows (n = 1 has no                         \
     * pass to poll in) by the thousand between polls, long ones polled                            \
     * within. */                                                                                  \
    static crunch_status rows_item_##S(void *arg, size_t i)                                        \
    {                                                                                              \
        rows_call *rc = arg;                                                                       \
        const fft_plan *pl = rc->pl;                                                               \
        const size_t n = pl->n, b0 = i * rc->group;                                                \
        const size_t b1 = rc->batch - b0 < rc->group ? rc->batch : b0 + rc->group;                 \
        const int inplace = rc->x == rc->y;                                                        \
        slot sl;                                                                                   \
        T *work = slot_take(&rc->ws, &sl);                                                         \
        if (work == NULL)                                                                          \
            return CRUNCH_ENOMEM;                                                                  \
        crunch__poll bp;                                                                           \
        crunch__poll_init(&bp, rc->ctx);                                                           \
        const int64_t row_work = (int64_t)(n * (plan_passes(pl) + 1)) + CRUNCH__POLL_ITEM;         \
        crunch_status st = CRUNCH_OK;                                                              \
        for (size_t b = b0; b < b1 && st == CRUNCH_OK; b++) {                                      \
            const T *xr = (const T *)rc->x + 2 * n * b;                                            \
            T *yr = (T *)rc->y + 2 * n * b;                                                        \
            if (pl->sub != NULL)                                                                   \
                st = bluestein_##S(rc->K, pl, rc->inv, xr, yr, work, rc->ctx, rc->ctx);            \
            else                                                                                   \
                st = stockham_##S(rc->K, pl, rc->inv, xr, yr, work,                                \
                                  needs_w2(pl, inplace) ? work + 2 * n : NULL, rc->ctx, rc->ctx);  \
            if (st == CRUNCH_OK && rc->scale != 1.0)                                               \
                for (size_t i0 = 0; i0 < 2 * n; i0 += 2 * POLL_ELEMS) {                            \
                    if (i0 > 0 && crunch__canceled(rc->ctx)) { /* a long row: as a pass polls */   \
                        st = CRUNCH_ECANCELED;                                                     \
                        break;                                                                     \
                    }                                                                              \
                    const size_t i1 = 2 * n - i0 < 2 * POLL_ELEMS ? 2 * n : i0 + 2 * POLL_ELEMS;   \
                    for (size_t e = i0; e < i1; e++)                                               \
                        yr[e] *= (T)rc->scale;                                                     \
                }                                                                                  \
            if (st == CRUNCH_OK && crunch__poll_work(&bp, row_work))                               \
                st = CRUNCH_ECANCELED;                                                             \
        }                                                                                          \
        slot_give(&rc->ws, &sl);                                                                   \
        return st;                                                                                 \
    }                                                                                              \
                                                                                                   \
    /* fft_S is crunch_fft_c128 / crunch_fft_c64 (crunch.h has the                                 \
     * contract) for element type T: a four-step plan's rows one after the                         \
     * other, each in parallel within; other rows in parallel groups. */                           \
    static crunch_status fft_##S(crunch_ctx *ctx, int inv, crunch_fft_norm norm, size_t batch,     \
                                 size_t n, const T *x, T *y)                                       \
    {                                                                                              \
        crunch_status st = check_args(inv, norm, batch, n, x, y, 2 * sizeof(T));                   \
        if (st != CRUNCH_OK)                                                                       \
            return st;                                                                             \
        if (crunch__canceled(ctx))                                                                 \
            return CRUNCH_ECANCELED;                                                               \
        if (batch == 0) {                                                                          \
            crunch__progress_begin(ctx, 0);                                                        \
            return CRUNCH_OK;                                                                      \
        }                                                                                          \
        fft_plan *pl;                                                                              \
        if ((st = plan_acquire(n, sizeof(T) == sizeof(float), ctx, &pl)) != CRUNCH_OK)             \
            return st;                                                                             \
        crunch__progress_begin(ctx, (int64_t)(batch * plan_passes(pl)));                           \
        const crunch__fft_kernels *K = CRUNCH__PICK(paths, ctx);                                   \
        const double scale = norm_scale(inv, norm, n);                                             \
        if (pl->col != NULL) {                                                                     \
            st = fourstep_##S(ctx, K, pl, inv, batch, x, y, scale);                                \
        } else {                                                                                   \
            rows_call rc = {.K = K, .pl = pl, .inv = inv, .scale = scale, .ctx = ctx,              \
                            .x = x, .y = y, .batch = batch};                                       \
            rc.group = n < ROW_GROUP_ELEMS ? ROW_GROUP_ELEMS / n : 1;                              \
            const size_t items = (batch - 1) / rc.group + 1;                                       \
            st = slots_init(&rc.ws, work_elems(pl, x == y) * 2 * sizeof(T), items, ctx);           \
            if (st == CRUNCH_OK)                                                                   \
                st = crunch__parallel(ctx, items, rows_item_##S, &rc);                             \
            slots_free(&rc.ws);                                                                    \
        }                                                                                          \
        plan_release(pl);                                                                          \
        return st;                                                                                 \
    }

/* ---- the plan cache ---- */

/*
 * The cache holds at most CACHE_SLOTS plans using at most CACHE_BYTES
 * together. A call takes a reference to its plan (plan_acquire) and gives
 * it back (plan_release); a plan is only freed when no call uses it, so
 * eviction never pulls a plan from under a running transform. When the
 * cache is full, the least recently used plan nobody is using goes; a
 * plan that cannot be fitted is used uncached and freed by its last user.
 * The mutex only guards this bookkeeping: plans are built outside it, so
 * a slow build never blocks another length's calls.
 */
enum { CACHE_SLOTS = 32 };
#define CACHE_BYTES ((size_t)128 << 20)

static pthread_mutex_t cache_mu = PTHREAD_MUTEX_INITIALIZER;
static fft_plan *cache[CACHE_SLOTS];
static size_t cache_bytes;
static uint64_t cache_clock;

/* cache_find returns the cached plan for (n, f32) with a new reference,
 * or NULL. Call with cache_mu held. */
static fft_plan *cache_find(size_t n, int f32)
{
    for (int i = 0; i < CACHE_SLOTS; i++)
        if (cache[i] != NULL && cache[i]->n == n && cache[i]->f32 == f32) {
            cache[i]->refs++;
            cache[i]->stamp = ++cache_clock;
            return cache[i];
        }
    return NULL;
}

/* cache_insert adds p (referenced once by the caller) if it can make room
 * by evicting unused plans. The plans it evicts go to evicted[*nevicted]
 * for the caller to free once it has unlocked (freeing a large plan takes
 * a while). Call with cache_mu held. */
static void cache_insert(fft_plan *p, fft_plan **evicted, int *nevicted)
{
    if (p->bytes > CACHE_BYTES)
        return;
    for (;;) {
        int free_slot = -1, lru = -1;
        for (int i = 0; i < CACHE_SLOTS; i++) {
            if (cache[i] == NULL) {
                if (free_slot < 0)
                    free_slot = i;
            } else if (cache[i]->refs == 0 && (lru < 0 || cache[i]->stamp < cache[lru]->stamp)) {
                lru = i;
            }
        }
        if (free_slot >= 0 && cache_bytes + p->bytes <= CACHE_BYTES) {
            cache[free_slot] = p;
            p->cached = 1;
            cache_bytes += p->bytes;
            return;
        }
        if (lru < 0)
            return; /* every cached plan is in use: run uncached */
        cache_bytes -= cache[lru]->bytes;
        evicted[(*nevicted)++] = cache[lru];
        cache[lru] = NULL;
    }
}

/* plan_acquire returns in *out the plan for (n, f32), referenced: from the
 * cache, or built (and cached if it fits). Returns CRUNCH_ENOMEM or
 * CRUNCH_ECANCELED (the build polls ctx) or CRUNCH_OK. */
static crunch_status plan_acquire(size_t n, int f32, const crunch_ctx *ctx, fft_plan **out)
{
    pthread_mutex_lock(&cache_mu);
    fft_plan *p = cache_find(n, f32);
    pthread_mutex_unlock(&cache_mu);
    if (p != NULL) {
        *out = p;
        return CRUNCH_OK;
    }
    crunch_status st = plan_build(n, f32, 1, ctx, &p);
    if (st != CRUNCH_OK)
        return st;
    fft_plan *evicted[CACHE_SLOTS];
    int nevicted = 0;
    pthread_mutex_lock(&cache_mu);
    fft_plan *other = cache_find(n, f32); /* built by another thread meanwhile? */
    if (other == NULL) {
        p->refs = 1;
        p->stamp = ++cache_clock;
        cache_insert(p, evicted, &nevicted);
    }
    pthread_mutex_unlock(&cache_mu);
    for (int i = 0; i < nevicted; i++)
        plan_free(evicted[i]); /* unused (refs == 0) and out of the cache */
    if (other != NULL) {
        plan_free(p);
        p = other;
    }
    *out = p;
    return CRUNCH_OK;
}

/* plan_release drops a reference taken by plan_acquire; the last user of
 * a plan the cache does not hold frees it. */
static void plan_release(fft_plan *p)
{
    pthread_mutex_lock(&cache_mu);
    int free_it = --p->refs == 0 && !p->cached;
    pthread_mutex_unlock(&cache_mu);
    if (free_it)
        plan_free(p);
}

void crunch_fft_cache_clear(void)
{
    fft_plan *unused[CACHE_SLOTS];
    int nunused = 0;
    pthread_mutex_lock(&cache_mu);
    for (int i = 0; i < CACHE_SLOTS; i++) {
        if (cache[i] == NULL)
            continue;
        cache_bytes -= cache[i]->bytes;
        cache[i]->cached = 0; /* a plan in use is freed by its last user */
        if (cache[i]->refs == 0)
            unused[nunused++] = cache[i];
        cache[i] = NULL;
    }
    pthread_mutex_unlock(&cache_mu);
    for (int i = 0; i < nunused; i++)
        plan_free(unused[i]);
}

/* ---- the driver ---- */

/* paths is fft's kernel table (internal.h): the pass kernels per path. */
CRUNCH__KERNEL_TABLE(paths, crunch__fft_kernels *const, &crunch__fft_kernels_generic,
                     &crunch__fft_kernels_avx2, &crunch__fft_kernels_avx512);

/* norm_scale is the factor NumPy's norm applies to the unnormalised
 * transform: forward "backward" 1, "ortho" 1/sqrt(n), "forward" 1/n, and
 * the inverse the other way round. */
static double norm_scale(int inv, crunch_fft_norm norm, size_t n)
{
    if (norm == CRUNCH_FFT_ORTHO)
        return 1.0 / sqrt((double)n);
    if ((norm == CRUNCH_FFT_FORWARD) != (inv != 0)) /* forward+forward, inverse+backward */
        return 1.0 / (double)n;
    return 1.0;
}

/*
 * check_args validates a call as crunch.h states: a known norm, n >= 1,
 * batch * n complex elements of es bytes representable (and the largest
 * work buffer, 3 * 4n for Bluestein, with them), and x and y non-NULL
 * when there is a row to transform.
 */
static crunch_status check_args(int inv, crunch_fft_norm norm, size_t batch, size_t n,
                                const void *x, const void *y, size_t es)
{
    (void)inv;
    size_t elems, bytes;
    if (norm != CRUNCH_FFT_BACKWARD && norm != CRUNCH_FFT_ORTHO && norm != CRUNCH_FFT_FORWARD)
        return CRUNCH_EINVAL;
    if (n == 0)
        return CRUNCH_EINVAL;
    /* n itself must leave room for Bluestein's 3 * bm < 12n buffer */
    if (__builtin_mul_overflow(n, 12 * es, &bytes) || bytes > (size_t)PTRDIFF_MAX)
        return CRUNCH_EINVAL;
    if (__builtin_mul_overflow(batch, n, &elems) || __builtin_mul_overflow(elems, es, &bytes) ||
        bytes > (size_t)PTRDIFF_MAX)
        return CRUNCH_EINVAL;
    if (batch > 0 && (x == NULL || y == NULL))
        return CRUNCH_EINVAL;
    if (x != y && crunch__overlap_1d(x, bytes, y, bytes, 1))
        return CRUNCH_EINVAL; /* in place, or apart: rows are read after others are written */
    return CRUNCH_OK;
}

FFT_TYPED(double, f64)
FFT_TYPED(float, f32)

crunch_status crunch_fft_c128(crunch_ctx *ctx, int inverse, crunch_fft_norm norm, size_t batch,
                              size_t n, const double *x, double *y)
{
    return fft_f64(ctx, inverse != 0, norm, batch, n, x, y);
}

crunch_status crunch_fft_c64(crunch_ctx *ctx, int inverse, crunch_fft_norm norm, size_t batch,
                             size_t n, const float *x, float *y)
{
    return fft_f32(ctx, inverse != 0, norm, batch, n, x, y);
}
