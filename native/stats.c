/*
 * stats.c - crunch_stats_f64 and crunch_stats_f32: the driver, the
 * numerics of merging, and the generic block kernel.
 *
 * One pass over memory. The input is cut into blocks of at most
 * CRUNCH__STATS_BLOCK doubles (f32 input is converted block by block into
 * a buffer on the stack). A block kernel (stats_template.h) reads its block
 * twice, the second time from L1:
 *   pass 1: s = sum(x) in several SIMD lanes, min, max, OR and AND of bits;
 *   pass 2: with m = s / len, c = sum(x - m), Kahan-compensated in each
 *           lane, and q = sum((x - m)^2).
 * From these the driver forms the block's summary (n, S, M2):
 *   S  = len*m + c as a double-double: len*m exactly (an FMA gives its
 *        rounding error) plus c, which is what pass 1 lost: x - m is exact
 *        when x is near m, and the compensated c errs by about 2 eps
 *        sum(|x - m|), so S is accurate even when the lanes of pass 1 are
 *        not (zero-mean data of wildly different magnitudes);
 *   M2 = q - c^2/len, the "corrected two-pass" sum of squared deviations
 *        (Chan, Golub and LeVeque 1983, eq. 1.7): exact for any shift m in
 *        exact arithmetic, and the correction cancels m's error to first
 *        order.
 * Block summaries are merged pairwise, as a binary counter (a stack where
 * two summaries of equal size are merged as soon as both exist), so the
 * summation tree has depth log2(n / block): pairwise summation over
 * blocks, in double-double so that the tree adds almost nothing to the
 * error. Two summaries merge by Chan, Golub and LeVeque's formula:
 *   n = na + nb,  S = Sa + Sb,  delta = Sb/nb - Sa/na,
 *   M2 = M2a + M2b + delta^2 * na * nb / n,
 * with the means taken in double-double, so that delta is accurate even
 * when the means are huge and nearly equal.
 *
 * Result: the sum's error is within a few ulps of sum(|x|) and does not
 * grow with n (the per-block lane sums are short, and everything above a
 * block is compensated); the variance is stable for data far from zero.
 *
 * Non-finite values: a block whose pass-1 sum is not finite (it holds
 * NaN or Inf, or overflowed) is scanned for NaN; NaN anywhere makes every
 * result NaN. Otherwise a non-finite sum takes the plain IEEE sum of the
 * block sums (+Inf, -Inf or NaN for both), and var and std are NaN.
 * min and max ignore NaN in the kernels; their zero's sign comes from the
 * bit masks: if the minimum is zero no element is negative, so a set sign
 * bit in the OR of all elements means that a -0.0 was there (and the AND's
 * clear sign bit likewise means a +0.0 for a zero maximum).
 *
 * Cancel is polled every POLL_BLOCKS blocks (256 Ki elements, 2 MiB of
 * doubles: about 0.1 ms on the SIMD paths, 0.5 ms on the generic one), and
 * progress, in elements, advances there too. Those POLL_BLOCKS blocks are
 * also the items of a parallel call (see "Parallel calls" below).
 *
 * This file assumes IEEE double arithmetic without extended precision
 * (SSE2 on x86-64): the error-free transformations below depend on it.
 */
#include "stats_template.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum {
    BLOCK = CRUNCH__STATS_BLOCK,
    POLL_BLOCKS = 128,
    /* Summaries on the merge stack: one per set bit of the block count
     * (at most 64) plus the last, partial block. */
    STACK = 66
};

/* block_generic is the portable block kernel, and the reference the SIMD
 * kernels are tested against. Eight independent lanes, as the AVX2 path
 * has sixteen and the AVX-512 path thirty-two. */
static void block_generic(const double *x, size_t len, crunch__stats_part *p)
{
    enum { L = 8 };
    double s[L] = {0}, c[L] = {0}, e[L] = {0}, q[L] = {0};
    double mn = INFINITY, mx = -INFINITY;
    uint64_t orb = 0, andb = ~(uint64_t)0;
    size_t i = 0;
    for (; i + L <= len; i += L) {
        for (int j = 0; j < L; j++) {
            double v = x[i + j];
            uint64_t b;
            memcpy(&b, &v, sizeof b); /* the bits; memcpy does not break aliasing rules */
            s[j] += v;
            mn = v < mn ? v : mn; /* false for NaN: NaN is ignored here */
            mx = v > mx ? v : mx;
            orb |= b;
            andb &= b;
        }
    }
    double sum = ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]));
    sum = crunch__stats_end1(x + i, len - i, sum, mn, mx, orb, andb, p);
    if (!isfinite(sum))
        return; /* the driver ignores m, c and q then */
    double m = sum / (double)len;
    for (i = 0; i + L <= len; i += L) {
        for (int j = 0; j < L; j++) {
            double d = x[i + j] - m;
            /* Kahan: e[j] holds what the last add to c[j] lost (negated) */
            double y = d - e[j];
            double t = c[j] + y;
            e[j] = (t - c[j]) - y;
            c[j] = t;
            q[j] += d * d;
        }
    }
    for (int j = 0; j < L; j++)
        c[j] -= e[j]; /* apply the last corrections */
    double cs = ((c[0] + c[1]) + (c[2] + c[3])) + ((c[4] + c[5]) + (c[6] + c[7]));
    double qs = ((q[0] + q[1]) + (q[2] + q[3])) + ((q[4] + q[5]) + (q[6] + q[7]));
    crunch__stats_tail2(x + i, len - i, m, &cs, &qs);
    p->m = m;
    p->c = cs;
    p->q = qs;
}

/* widen_generic converts floats to doubles (exactly: every float is a
 * double). */
static void widen_generic(const float *x, size_t len, double *out)
{
    for (size_t i = 0; i < len; i++)
        out[i] = x[i];
}

/* paths is stats's kernel table (internal.h). */
static const crunch__stats_kernels generic_kernels = {block_generic, widen_generic};
CRUNCH__KERNEL_TABLE(paths, crunch__stats_kernels *const, &generic_kernels,
                     &crunch__stats_kernels_avx2, &crunch__stats_kernels_avx512);

/* two_sum sets *s + *e = a + b exactly, *s = fl(a + b) (Knuth's TwoSum:
 * no condition on the magnitudes). */
static inline void two_sum(double a, double b, double *s, double *e)
{
    double x = a + b;
    double bv = x - a; /* the part of b that made it into x */
    *e = (a - (x - bv)) + (b - bv);
    *s = x;
}

/* summary: n elements, their sum hi + lo (a double-double; lo == 0 when
 * hi is not finite) and their sum of squared deviations from the mean. */
typedef struct summary {
    uint64_t n;
    double hi, lo;
    double m2;
} summary;

/* mean_dd sets *mh + *ml to a's mean in double-double: *mh = hi/n rounded,
 * *ml the rest. n is exact as a double (n < 2^53 elements exist). */
static inline void mean_dd(const summary *a, double *mh, double *ml)
{
    double n = (double)a->n;
    double h = a->hi / n;
    double r = fma(-h, n, a->hi) + a->lo; /* hi - h*n is exact in an FMA */
    *mh = h;
    *ml = r / n;
}

/* merge combines two summaries, a's elements before b's. */
static summary merge(const summary *a, const summary *b)
{
    summary r;
    double ah, al, bh, bl;
    r.n = a->n + b->n;
    mean_dd(a, &ah, &al);
    mean_dd(b, &bh, &bl);
    /* bh - ah is exact when the means are within a factor 2 of each other
     * (Sterbenz), the case where it matters; the low parts add the rest. */
    double delta = (bh - ah) + (bl - al);
    double na = (double)a->n, nb = (double)b->n;
    r.m2 = a->m2 + b->m2 + delta * delta * (na * (nb / (double)r.n));
    double s, e;
    two_sum(a->hi, b->hi, &s, &e);
    if (!isfinite(s)) { /* overflow or Inf: the error terms would be NaN */
        r.hi = s;
        r.lo = 0;
        return r;
    }
    two_sum(s, e + (a->lo + b->lo), &r.hi, &r.lo);
    return r;
}

/* block_summary turns a kernel's summary of len elements into (n, S, M2)
 * as the file comment explains. Only called with a finite p->sum. */
static summary block_summary(const crunch__stats_part *p, size_t len)
{
    summary a;
    double l = (double)len;
    a.n = len;
    if (!isfinite(p->c) || !isfinite(p->q)) {
        /* Deviations near DBL_MAX overflowed: the variance cannot be
         * represented either, and the plain sum is the best S. */
        a.hi = p->sum;
        a.lo = 0;
        a.m2 = INFINITY;
        return a;
    }
    double h = l * p->m;
    double lo = fma(l, p->m, -h) + p->c; /* len*m's rounding error, plus c */
    two_sum(h, lo, &a.hi, &a.lo);
    double m2 = p->q - p->c * (p->c / l);
    a.m2 = m2 > 0 ? m2 : 0; /* rounding may push a zero variance below 0 */
    return a;
}

/* acc: the running state of one call. */
typedef struct acc {
    summary stack[STACK];
    int top;          /* summaries on the stack */
    double plain;     /* plain sum of the blocks' pass-1 sums: decides the
                         IEEE result when the sum is not finite */
    int nonfinite;    /* some block's pass-1 sum was not finite */
    int nan;          /* some element is NaN */
    double mn, mx;    /* by value, NaNs ignored */
    uint64_t orb, andb;
} acc;

/* push adds the summary of the next block to the stack, merging equal
 * sizes: full blocks form a binary counter, so each merge joins two
 * subtrees of the same depth. */
static void push(acc *a, summary s)
{
    while (a->top > 0 && a->stack[a->top - 1].n == s.n) {
        s = merge(&a->stack[a->top - 1], &s);
        a->top--;
    }
    a->stack[a->top++] = s;
}

static int has_nan(const double *x, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (x[i] != x[i])
            return 1;
    return 0;
}

/* add_block summarises x[0..len) with kernel k and adds it to a. */
static void add_block(acc *a, crunch__stats_kernel k, const double *x, size_t len)
{
    crunch__stats_part p;
    k(x, len, &p);
    a->mn = p.min < a->mn ? p.min : a->mn;
    a->mx = p.max > a->mx ? p.max : a->mx;
    a->orb |= p.orbits;
    a->andb &= p.andbits;
    a->plain += p.sum;
    if (isfinite(p.sum)) {
        push(a, block_summary(&p, len));
        return;
    }
    a->nonfinite = 1;
    /* A NaN sum comes from a NaN element or from +Inf + -Inf: tell them
     * apart (rare, and the block is in L1). */
    if (!a->nan && isnan(p.sum))
        a->nan = has_nan(x, len);
    summary s = {len, p.sum, 0, NAN};
    push(a, s);
}

/* finish folds the stack and fills *out for n > 0 elements. */
static void finish(acc *a, size_t n, size_t ddof, crunch_stats *out)
{
    summary t = a->stack[a->top - 1];
    for (int i = a->top - 2; i >= 0; i--) /* older (left) summaries first */
        t = merge(&a->stack[i], &t);
    out->count = n;
    if (a->nan) {
        out->sum = out->mean = out->var = out->std = out->min = out->max = NAN;
        return;
    }
    double mn = a->mn, mx = a->mx;
    if (mn == 0) /* no negative element: a sign bit in the OR is a -0.0 */
        mn = (a->orb >> 63) ? -0.0 : 0.0;
    if (mx == 0) /* no positive element: a clear sign bit in the AND is a +0.0 */
        mx = (a->andb >> 63) ? -0.0 : 0.0;
    out->min = mn;
    out->max = mx;
    if (a->nonfinite || !isfinite(t.hi)) {
        /* IEEE's answer: the plain sum, or the tree's overflow if the plain
         * order happened to stay finite. */
        double s = isfinite(a->plain) ? t.hi : a->plain;
        out->sum = s;
        out->mean = s / (double)n;
        out->var = out->std = NAN;
        return;
    }
    double mh, ml;
    mean_dd(&t, &mh, &ml);
    out->sum = t.hi + t.lo;
    out->mean = mh + ml;
    out->var = t.m2 / (double)(n - ddof);
    out->std = sqrt(out->var);
}

/*
 * Parallel calls, and serial ones the same way: the input is cut into
 * chunks of CHUNK elements (POLL_BLOCKS blocks), each summarised on its
 * own into a chunk record, and the records are then added in order to
 * the call's acc. A full chunk's binary counter ends as one summary of
 * CHUNK elements, exactly the subtree the call's counter would have
 * built from its blocks, and pushing that summary merges it exactly as
 * pushing its last block would have (the counter's entries below it are
 * all smaller). Only the last chunk may leave several summaries, pushed
 * in order, which merge with nothing. So the merge tree, and every bit of
 * the result, is that of one pass over the blocks, whatever the number of
 * threads. (The plain sum, used only for non-finite results, is summed
 * per chunk, then over the chunks in order.)
 */
enum {
    CHUNK = POLL_BLOCKS * BLOCK,
    /* A chunk's counter holds at most one summary per bit of POLL_BLOCKS
     * - 1 (7) plus a partial last block. */
    CHUNK_STACK = 9,
    /* Chunks per crunch__parallel round: records of one round wait in an
     * array (about 90 KiB) until it is over. A round is 512 MiB of
     * doubles. */
    ROUND = 256
};
_Static_assert(POLL_BLOCKS == 128, "CHUNK_STACK assumes POLL_BLOCKS = 2^7");

/* chunk: what one chunk contributes to the call's acc. */
typedef struct chunk {
    summary stack[CHUNK_STACK];
    int top;
    int nonfinite, nan;
    double plain, mn, mx;
    uint64_t orb, andb;
} chunk;

/* stats_call: one call's state, shared by the tasks of a round. */
typedef struct stats_call {
    crunch_ctx *ctx;
    const crunch__stats_kernels *K;
    const void *x;
    int f32;
    size_t n;
    size_t first; /* the round's first chunk */
    chunk *res;   /* the round's records, by chunk */
} stats_call;

/* acc_init sets a to the state of an empty input. */
static void acc_init(acc *a)
{
    a->top = 0;
    a->plain = 0;
    a->nonfinite = a->nan = 0;
    a->mn = INFINITY;
    a->mx = -INFINITY;
    a->orb = 0;
    a->andb = ~(uint64_t)0;
}

/* stats_chunk summarises chunk first + i into its record (crunch__item_fn). */
static crunch_status stats_chunk(void *arg, size_t i)
{
    const stats_call *sc = arg;
    size_t lo = (sc->first + i) * CHUNK;
    size_t hi = sc->n - lo < CHUNK ? sc->n : lo + CHUNK;
    acc a;
    acc_init(&a);
    _Alignas(64) double buf[BLOCK]; /* f32 input, converted */
    for (size_t j = lo; j < hi;) {
        size_t len = hi - j < BLOCK ? hi - j : BLOCK;
        const double *blk;
        if (sc->f32) {
            sc->K->widen((const float *)sc->x + j, len, buf);
            blk = buf;
        } else {
            blk = (const double *)sc->x + j;
        }
        add_block(&a, sc->K->block, blk, len);
        j += len;
    }
    chunk *c = &sc->res[i];
    for (int t = 0; t < a.top; t++) /* a.top <= CHUNK_STACK: see CHUNK_STACK */
        c->stack[t] = a.stack[t];
    c->top = a.top;
    c->nonfinite = a.nonfinite;
    c->nan = a.nan;
    c->plain = a.plain;
    c->mn = a.mn;
    c->mx = a.mx;
    c->orb = a.orb;
    c->andb = a.andb;
    crunch__progress_add(sc->ctx, (int64_t)(hi - lo));
    return CRUNCH_OK;
}

/* add_chunk adds chunk record c, the next in order, to a. */
static void add_chunk(acc *a, const chunk *c)
{
    a->mn = c->mn < a->mn ? c->mn : a->mn;
    a->mx = c->mx > a->mx ? c->mx : a->mx;
    a->orb |= c->orb;
    a->andb &= c->andb;
    a->plain += c->plain;
    a->nonfinite |= c->nonfinite;
    a->nan |= c->nan;
    for (int t = 0; t < c->top; t++)
        push(a, c->stack[t]);
}

/* stats runs the call for n elements of x, float when f32 (converted
 * block by block), double otherwise. */
static crunch_status stats(crunch_ctx *ctx, const void *x, int f32, size_t n, size_t ddof,
                           crunch_stats *out)
{
    if (out == NULL || (n > 0 && (x == NULL || ddof >= n)))
        return CRUNCH_EINVAL;
    /* out is written as x is read: they must not share a byte */
    if (crunch__overlap_1d(out, sizeof *out, x, n * (f32 ? sizeof(float) : sizeof(double)), 1))
        return CRUNCH_EINVAL;
    if (n == 0) {
        crunch__progress_begin(ctx, 0);
        out->count = 0;
        out->sum = 0;
        out->mean = out->var = out->std = out->min = out->max = NAN;
        return CRUNCH_OK;
    }
    const size_t chunks = n / CHUNK + (n % CHUNK != 0);
    /* Without memory for a round's records, rounds of two (on the stack)
     * give the same result, only less parallel. */
    chunk local[2], *res = local;
    size_t round = 2;
    if (chunks > 2 && (res = malloc((chunks < ROUND ? chunks : ROUND) * sizeof *res)) != NULL)
        round = ROUND;
    else
        res = local;
    stats_call sc = {ctx, CRUNCH__PICK(paths, ctx), x, f32, n, 0, res};
    acc a;
    acc_init(&a);
    crunch__progress_begin(ctx, (int64_t)n);
    crunch_status st = CRUNCH_OK;
    for (; sc.first < chunks && st == CRUNCH_OK; sc.first += round) {
        size_t count = chunks - sc.first < round ? chunks - sc.first : round;
        st = crunch__parallel(ctx, count, stats_chunk, &sc);
        for (size_t i = 0; i < count && st == CRUNCH_OK; i++)
            add_chunk(&a, &res[i]);
    }
    if (res != local)
        free(res);
    if (st != CRUNCH_OK)
        return st;
    finish(&a, n, ddof, out);
    return CRUNCH_OK;
}

crunch_status crunch_stats_f64(crunch_ctx *ctx, const double *x, size_t n, size_t ddof,
                               crunch_stats *out)
{
    return stats(ctx, x, 0, n, ddof, out);
}

crunch_status crunch_stats_f32(crunch_ctx *ctx, const float *x, size_t n, size_t ddof,
                               crunch_stats *out)
{
    return stats(ctx, x, 1, n, ddof, out);
}
