/*
 * test_histogram.c - crunch_histogram_f64 / _f32 and
 * crunch_histogram_range_f64 / _f32 on every SIMD path this CPU has:
 * against a literal transcription of NumPy's equal-bins code (ref_f64,
 * ref_f32) over a table of sizes, value kinds, ranges and bin counts;
 * against NumPy's own output for a few fixed inputs that sit on and
 * beside the edges; plus the range, bad arguments, progress and
 * cancellation.
 *
 * Build and run (from the repository root):
 *   gcc -std=gnu11 -O2 -g -Wall -Wextra -Werror -Iinclude -Inative \
 *       native/core.c native/scratch.c native/histogram*.c \
 *       native/test/test_histogram.c -lpthread -lm -o /tmp/test_histogram && /tmp/test_histogram
 */
#include "crunch.h"
#include "check.h"

#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* ---- NumPy's output for fixed inputs ----
 * From NumPy 1.24.2: counts, edges = np.histogram(x, bins, range=(lo, hi))
 * with x a float64 or float32 array (f32 inputs below are exact floats),
 * and for g, np.histogram(x, 7) without a range. */
static const double x_a[] = {0x0.0p+0, 0x1.999999999999ap-4, 0x1.999999999999ap-3,
    0x1.3333333333334p-2, 0x1.999999999999ap-2, 0x1.0000000000000p-1, 0x1.3333333333334p-1,
    0x1.6666666666667p-1, 0x1.999999999999ap-1, 0x1.ccccccccccccdp-1, 0x1.0000000000000p+0,
    -0x0.0p+0, 0x1.70ef54646d497p-57, 0x1.3333333333333p-2, 0x1.6666666666666p-1,
    0x1.fffffffffffffp-1, 0x1.0000000000001p+0, NAN, INFINITY, -INFINITY, -0x1.56e1fc2f8f359p-997};
static const int64_t counts_a[] = {3, 1, 2, 1, 1, 1, 2, 1, 1, 3};
static const double edges_a[] = {0x0.0p+0, 0x1.999999999999ap-4, 0x1.999999999999ap-3,
    0x1.3333333333334p-2, 0x1.999999999999ap-2, 0x1.0000000000000p-1, 0x1.3333333333334p-1,
    0x1.6666666666667p-1, 0x1.999999999999ap-1, 0x1.ccccccccccccdp-1, 0x1.0000000000000p+0};
static const double x_b[] = {-0x1.4000000000001p+1, -0x1.4000000000000p+1, -0x1.3ffffffffffffp+1,
    -0x1.b333333333335p+0, -0x1.b333333333334p+0, -0x1.b333333333333p+0, -0x1.ccccccccccccfp-1,
    -0x1.ccccccccccccep-1, -0x1.ccccccccccccdp-1, -0x1.99999999999a1p-4, -0x1.99999999999a0p-4,
    -0x1.999999999999fp-4, 0x1.6666666666663p-1, 0x1.6666666666664p-1, 0x1.6666666666665p-1,
    0x1.7fffffffffffdp+0, 0x1.7fffffffffffep+0, 0x1.7ffffffffffffp+0, 0x1.2666666666665p+1,
    0x1.2666666666666p+1, 0x1.2666666666667p+1, 0x1.8cccccccccccbp+1, 0x1.8ccccccccccccp+1,
    0x1.8cccccccccccdp+1, 0x1.f333333333331p+1, 0x1.f333333333332p+1, 0x1.f333333333333p+1,
    0x1.2cccccccccccbp+2, 0x1.2ccccccccccccp+2, 0x1.2cccccccccccdp+2, 0x1.5fffffffffffep+2,
    0x1.5ffffffffffffp+2, 0x1.6000000000000p+2, 0x1.9333333333331p+2, 0x1.9333333333332p+2,
    0x1.9333333333333p+2, 0x1.c666666666665p+2, 0x1.c666666666666p+2, 0x1.c666666666667p+2};
static const int64_t counts_b[] = {3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 4};
static const double edges_b[] = {-0x1.4000000000000p+1, -0x1.b333333333334p+0,
    -0x1.ccccccccccccep-1, -0x1.99999999999a0p-4, 0x1.6666666666664p-1, 0x1.7fffffffffffep+0,
    0x1.2666666666666p+1, 0x1.8ccccccccccccp+1, 0x1.f333333333332p+1, 0x1.2ccccccccccccp+2,
    0x1.5ffffffffffffp+2, 0x1.9333333333332p+2, 0x1.c666666666666p+2};
static const double x_c[] = {0x1.9999980000000p-4, 0x1.99999a0000000p-4, 0x1.99999c0000000p-4,
    0x1.9999980000000p-3, 0x1.99999a0000000p-3, 0x1.99999c0000000p-3, 0x1.3333320000000p-2,
    0x1.3333340000000p-2, 0x1.3333360000000p-2, 0x1.9999980000000p-2, 0x1.99999a0000000p-2,
    0x1.99999c0000000p-2, 0x1.fffffe0000000p-2, 0x1.0000000000000p-1, 0x1.0000020000000p-1,
    0x1.3333320000000p-1, 0x1.3333340000000p-1, 0x1.3333360000000p-1, 0x1.6666640000000p-1,
    0x1.6666660000000p-1, 0x1.6666680000000p-1, 0x1.99999a0000000p-4, 0x1.6666660000000p-1, NAN};
static const int64_t counts_c[] = {4, 3, 3, 3, 3, 5};
static const double edges_c[] = {0x1.99999a0000000p-4, 0x1.99999a0000000p-3, 0x1.3333340000000p-2,
    0x1.99999a0000000p-2, 0x1.0000000000000p-1, 0x1.3333340000000p-1, 0x1.6666660000000p-1};
static const double x_d[] = {0x1.8000000000000p+1, 0x1.8000000000000p+1, 0x1.4000000000000p+1,
    0x1.c000000000000p+1, 0x1.a000000000000p+1};
static const int64_t counts_d[] = {1, 0, 2, 2};
static const double edges_d[] = {0x1.4000000000000p+1, 0x1.6000000000000p+1, 0x1.8000000000000p+1,
    0x1.a000000000000p+1, 0x1.c000000000000p+1};
static const double x_e[] = {0x1.7e43c8800759cp+996, -0x1.7e43c8800759cp+996,
    0x1.7e43c8800759cp+995, 0x0.0p+0, -0x1.7e43c8800759cp+995, 0x1.fdafb60009ccfp+994};
static const int64_t counts_e[] = {2, 2, 2};
static const double edges_e[] = {-0x1.7e43c8800759cp+996, -0x1.fdafb60009cd0p+994,
    0x1.fdafb60009cd0p+994, 0x1.7e43c8800759cp+996};
static const double x_f[] = {0x1.0000000000000p+0, 0x1.0000020000000p+0, 0x1.0000000000000p+1,
    0x1.8000000000000p+0};
static const int64_t counts_f[] = {2, 2};
static const double edges_f[] = {0x1.0000000000000p+0, 0x1.8000000000000p+0, 0x1.0000000000000p+1};
static const double x_gf32[] = {-0x1.4ccccc0000000p+0, 0x1.59999a0000000p+1, 0x1.0000000000000p-1,
    0x1.0624de0000000p-10, 0x1.59999a0000000p+1, -0x1.4ccccc0000000p+0, 0x1.0000000000000p-2};
static const int64_t counts_gf32[] = {2, 0, 2, 1, 0, 0, 2};
static const double edges_gf32[] = {-0x1.4ccccc0000000p+0, -0x1.75074e0000000p-1,
    -0x1.41d4160000000p-3, 0x1.a83a860000000p-2, 0x1.f8af8c0000000p-1, 0x1.8ea0ea0000000p+0,
    0x1.1075080000000p+1, 0x1.59999a0000000p+1};
static const double x_gf64[] = {-0x1.4cccccccccccdp+0, 0x1.599999999999ap+1, 0x1.0000000000000p-1,
    0x1.0624dd2f1a9fcp-10, 0x1.599999999999ap+1, -0x1.4cccccccccccdp+0, 0x1.0000000000000p-2};
static const int64_t counts_gf64[] = {2, 0, 2, 1, 0, 0, 2};
static const double edges_gf64[] = {-0x1.4cccccccccccdp+0, -0x1.7507507507508p-1,
    -0x1.41d41d41d41d8p-3, 0x1.a83a83a83a838p-2, 0x1.f8af8af8af8aep-1, 0x1.8ea0ea0ea0e9fp+0,
    0x1.1075075075074p+1, 0x1.599999999999ap+1};

typedef struct npcase {
    const char *name;
    int f32;
    const double *x;
    size_t n, bins;
    int auto_range; /* no range: crunch_histogram_range_* gives it */
    double lo, hi;
    const int64_t *counts;
    const double *edges;
} npcase;

#define NP(name, f32, bins, autor, lo, hi)                                                      \
    {#name, f32, x_##name, sizeof x_##name / sizeof x_##name[0], bins, autor, lo, hi,          \
     counts_##name, edges_##name}
static const npcase np_cases[] = {
    NP(a, 0, 10, 0, 0.0, 1.0),
    NP(b, 0, 12, 0, -2.5, 7.1),
    NP(c, 1, 6, 0, 0.1, 0.7),
    NP(d, 1, 4, 0, 3.0, 3.0),
    NP(e, 0, 3, 0, -1e300, 1e300),
    NP(f, 1, 2, 0, 1.00000001, 1.99999999),
    NP(gf32, 1, 7, 1, 0, 0),
    NP(gf64, 0, 7, 1, 0, 0),
};

/* same_bits reports whether a and b are the same double, bit for bit. */
static int same_bits(double a, double b)
{
    return memcmp(&a, &b, sizeof a) == 0;
}

/* ---- the reference ---- */

/*
 * REF(T, S) defines ref_S: NumPy's np.histogram(x, bins, range=(lo, hi))
 * transcribed line by line (numpy/lib/histograms.py, its equal-bins path,
 * and np.linspace), with T the array's type: the status crunch.h
 * promises, the counts and the edges. volatile makes each operation round
 * on its own, as NumPy's separate array operations do.
 */
#define REF(T, S)                                                                               \
    static crunch_status ref_##S(const T *x, size_t n, size_t bins, double lo, double hi,      \
                                 int64_t *counts, double *edges)                               \
    {                                                                                           \
        if (bins == 0 || !isfinite(lo) || !isfinite(hi) || lo > hi)                             \
            return CRUNCH_EINVAL;                                                               \
        if (lo == hi) { /* expand empty range to avoid divide by zero */                        \
            lo = lo - 0.5;                                                                      \
            hi = hi + 0.5;                                                                      \
        }                                                                                       \
        double delta = hi - lo;                                                                 \
        double step = delta / (double)bins;                                                     \
        double norm = (double)bins / delta;                                                     \
        T first = (T)lo, last = (T)hi, tnorm = (T)norm;                                         \
        if (!isfinite(delta) || !isfinite(norm) || !isfinite(first) || !isfinite(last) ||      \
            !isfinite(last - first) || !isfinite(tnorm))                                        \
            return CRUNCH_EINVAL; /* NumPy: IndexError or NaN edges */                          \
        T *e = malloc((bins + 1) * sizeof *e);                                                  \
        if (e == NULL)                                                                          \
            return CRUNCH_ENOMEM;                                                               \
        for (size_t i = 0; i < bins; i++) { /* y = arange(num); y *= step; y += start */       \
            volatile double y = (double)i;                                                      \
            y *= step;                                                                          \
            y += lo;                                                                            \
            e[i] = (T)y;                                                                        \
        }                                                                                       \
        e[bins] = (T)hi; /* y[-1] = stop */                                                     \
        memset(counts, 0, bins * sizeof *counts);                                               \
        for (size_t j = 0; j < n; j++) {                                                        \
            T a = x[j];                                                                         \
            if (!(a >= first) || !(a <= last)) /* keep = (a >= first) & (a <= last) */         \
                continue;                                                                       \
            volatile T f = a - first;                                                           \
            f *= tnorm;                            /* f_indices = (a - first) * norm */          \
            int64_t ind = (int64_t)f;              /* indices = f_indices.astype(intp) */        \
            if (ind == (int64_t)bins)              /* indices[indices == n] -= 1 */              \
                ind -= 1;                                                                       \
            if (a < e[ind])                        /* decrement = a < bin_edges[indices] */      \
                ind -= 1;                                                                       \
            if (a >= e[ind + 1] && ind != (int64_t)bins - 1) /* increment */                    \
                ind += 1;                                                                       \
            counts[ind]++;                         /* bincount */                               \
        }                                                                                       \
        for (size_t i = 0; i <= bins; i++)                                                      \
            edges[i] = (double)e[i];                                                            \
        free(e);                                                                                \
        return CRUNCH_OK;                                                                       \
    }
REF(double, f64)
REF(float, f32)

/* by_edges counts x[0..n) (as T, given by f32) by binary search in edges:
 * bin b holds edges[b] <= x < edges[b + 1], the last one x == edges[bins]
 * too. NumPy's rule must agree wherever bins are not absurdly narrow. */
static void by_edges(const double *x, int f32, size_t n, size_t bins, const double *edges,
                     int64_t *counts)
{
    memset(counts, 0, bins * sizeof *counts);
    for (size_t j = 0; j < n; j++) {
        double a = f32 ? (double)(float)x[j] : x[j];
        if (!(a >= edges[0] && a <= edges[bins]))
            continue;
        size_t lo = 0, hi = bins; /* edges[lo] <= a, and a < edges[hi] or hi == bins */
        while (hi - lo > 1) {
            size_t mid = lo + (hi - lo) / 2;
            if (a >= edges[mid])
                lo = mid;
            else
                hi = mid;
        }
        counts[lo]++;
    }
}

/* ---- the table ---- */

static const size_t sizes[] = {0,  1,  2,  3,   5,   7,    8,     9,          15,    16,
                               17, 31, 33, 100, 257, 1000, 65536, 65536 + 17, 200003};
static const size_t bin_counts[] = {1, 2, 3, 10, 100, 255, 256, 1000, 4097};

typedef struct range {
    double lo, hi;
} range;
static const range ranges[] = {
    {0, 1}, {-3, 3}, {-1e300, 1e300}, {1e-300, 3e-300}, {5, 5}, {1e6, 1e6 + 1}, {-0.5, 1e-3},
};

enum kind {
    K_UNIFORM, /* the range and a tenth beyond each end */
    K_NORMAL,  /* about normal, around the middle of the range */
    K_EDGES,   /* the edges, lo and hi exactly, and their neighbours */
    K_SPECIAL, /* NaN, +-Inf, +-0, huge, tiny, lo and hi among uniform ones */
    K_INTS,    /* whole numbers: ties on whole-number edges */
    N_KINDS
};
static const char *kind_names[N_KINDS] = {"uniform", "normal", "edges", "special", "ints"};

/* fill writes n values of kind k for range r and bins bins to x. */
static void fill(enum kind k, double *x, size_t n, range r, size_t bins, uint64_t seed)
{
    uint64_t s = seed;
    double lo = r.lo, hi = r.hi;
    if (lo == hi)
        lo -= 0.5, hi += 0.5;
    double w = hi - lo;
    for (size_t i = 0; i < n; i++) {
        double u = check_rnd01(&s), v;
        switch (k) {
        case K_UNIFORM: v = lo - 0.1 * w + 1.2 * w * u; break;
        case K_NORMAL: {
            double g = u + check_rnd01(&s) + check_rnd01(&s) + check_rnd01(&s) - 2;
            v = lo + w / 2 + g * w / 4;
            break;
        }
        case K_EDGES: {
            size_t b = (size_t)(u * (double)(bins + 1)) % (bins + 1);
            volatile double p = (double)b * (w / (double)bins); /* as the edges are made */
            double e = b == bins ? hi : p + lo;
            int d = (int)(check_next(&s) % 3);
            v = d == 0 ? e : nextafter(e, d == 1 ? -INFINITY : INFINITY);
            break;
        }
        case K_SPECIAL: {
            static const double sp[] = {NAN, INFINITY, -INFINITY, 0.0, -0.0, 1e308, -1e308,
                                        DBL_TRUE_MIN, -DBL_MIN, 1e38, 3.4e38};
            uint64_t c = check_next(&s) % 16;
            v = c < 11 ? sp[c] : c == 11 ? lo : c == 12 ? hi : lo + w * u;
            break;
        }
        default: v = floor(lo - 2 + (w + 4) * u); break;
        }
        x[i] = v;
    }
}

/* run_case runs one input on every path in both precisions (x rounded to
 * float for f32) against the reference. */
static void run_case(const double *x, float *xf, size_t n, size_t bins, range r,
                     const char *what, int check_edges)
{
    int64_t *want = malloc(bins * sizeof *want), *got = malloc(bins * sizeof *got);
    int64_t *alt = malloc(bins * sizeof *alt);
    double *we = malloc((bins + 1) * sizeof *we), *ge = malloc((bins + 1) * sizeof *ge);
    CHECK(want && got && alt && we && ge, "out of memory");
    for (int f32 = 0; f32 < 2 && want && got && alt && we && ge; f32++) {
        if (f32)
            for (size_t i = 0; i < n; i++)
                xf[i] = (float)x[i];
        crunch_status wst = f32 ? ref_f32(xf, n, bins, r.lo, r.hi, want, we)
                                : ref_f64(x, n, bins, r.lo, r.hi, want, we);
        if (wst == CRUNCH_OK && check_edges) {
            by_edges(x, f32, n, bins, we, alt);
            CHECK(memcmp(alt, want, bins * sizeof *alt) == 0,
                  "%s %s: NumPy's rule disagrees with the edges", what, f32 ? "f32" : "f64");
        }
        for (int ii = 0; ii < CHECK_N_ISAS; ii++) {
            crunch_ctx ctx;
            if (!check_ctx_for("test_histogram", check_isas[ii], &ctx))
                continue;
            for (size_t i = 0; i <= bins; i++)
                ge[i] = check_sentinel();
            crunch_status st = f32 ? crunch_histogram_f32(&ctx, xf, n, bins, r.lo, r.hi, got, ge)
                                   : crunch_histogram_f64(&ctx, x, n, bins, r.lo, r.hi, got, ge);
            const char *path = crunch_isa_name(check_isas[ii]);
            CHECK(st == wst, "%s %s %s: status %d, want %d", path, f32 ? "f32" : "f64", what, st,
                  wst);
            if (st != CRUNCH_OK || wst != CRUNCH_OK)
                continue;
            for (size_t b = 0; b < bins; b++)
                if (got[b] != want[b]) {
                    CHECK(0, "%s %s %s: bin %zu has %lld, want %lld", path, f32 ? "f32" : "f64",
                          what, b, (long long)got[b], (long long)want[b]);
                    break;
                }
            for (size_t i = 0; i <= bins; i++)
                if (!same_bits(ge[i], we[i])) {
                    CHECK(0, "%s %s %s: edge %zu is %a, want %a", path, f32 ? "f32" : "f64", what,
                          i, ge[i], we[i]);
                    break;
                }
            int64_t done, total;
            crunch_ctx_progress(&ctx, &done, &total);
            CHECK(done == (int64_t)n && total == (int64_t)n, "%s %s: progress %lld/%lld", path,
                  what, (long long)done, (long long)total);
        }
    }
    free(want);
    free(got);
    free(alt);
    free(we);
    free(ge);
}

/* test_table: every size and kind with every range, the bin counts taken
 * in turn; the largest size with a few combinations only. */
static void test_table(void)
{
    const size_t maxn = sizes[sizeof sizes / sizeof sizes[0] - 1];
    double *x = malloc(maxn * sizeof *x);
    float *xf = malloc(maxn * sizeof *xf);
    CHECK(x && xf, "out of memory");
    size_t turn = 0;
    for (size_t si = 0; si < sizeof sizes / sizeof sizes[0] && x && xf; si++)
        for (int k = 0; k < N_KINDS; k++)
            for (size_t ri = 0; ri < sizeof ranges / sizeof ranges[0]; ri++) {
                size_t n = sizes[si];
                if (n > 100000 && (ri + (size_t)k) % 4 != 0)
                    continue;
                size_t bins = bin_counts[turn++ % (sizeof bin_counts / sizeof bin_counts[0])];
                range r = ranges[ri];
                fill((enum kind)k, x, n, r, bins, 1000 + turn);
                char what[128];
                snprintf(what, sizeof what, "n=%zu %s bins=%zu range [%g, %g]", n, kind_names[k],
                         bins, r.lo, r.hi);
                /* (1e6, 1e6 + 1) in float: edges closer than float's spacing */
                run_case(x, xf, n, bins, r, what, k != K_SPECIAL && ri != 5);
            }
    free(x);
    free(xf);
}

/* test_numpy: NumPy's own counts and edges for the fixed inputs. */
static void test_numpy(void)
{
    for (size_t c = 0; c < sizeof np_cases / sizeof np_cases[0]; c++) {
        const npcase *p = &np_cases[c];
        float xf[64];
        int64_t got[16];
        double ge[17];
        for (size_t i = 0; i < p->n; i++)
            xf[i] = (float)p->x[i];
        for (int ii = 0; ii < CHECK_N_ISAS; ii++) {
            crunch_ctx ctx;
            if (!check_ctx_for("test_histogram", check_isas[ii], &ctx))
                continue;
            double lo = p->lo, hi = p->hi;
            crunch_status st = CRUNCH_OK;
            if (p->auto_range)
                st = p->f32 ? crunch_histogram_range_f32(&ctx, xf, p->n, &lo, &hi)
                            : crunch_histogram_range_f64(&ctx, p->x, p->n, &lo, &hi);
            if (st == CRUNCH_OK)
                st = p->f32 ? crunch_histogram_f32(&ctx, xf, p->n, p->bins, lo, hi, got, ge)
                            : crunch_histogram_f64(&ctx, p->x, p->n, p->bins, lo, hi, got, ge);
            const char *path = crunch_isa_name(check_isas[ii]);
            CHECK(st == CRUNCH_OK, "%s numpy %s: status %d", path, p->name, st);
            if (st != CRUNCH_OK)
                continue;
            CHECK(memcmp(got, p->counts, p->bins * sizeof *got) == 0, "%s numpy %s: counts differ",
                  path, p->name);
            for (size_t i = 0; i <= p->bins; i++)
                CHECK(same_bits(ge[i], p->edges[i]), "%s numpy %s: edge %zu is %a, want %a", path,
                      p->name, i, ge[i], p->edges[i]);
        }
    }
}

/* test_range: the range without one, against a plain loop; NaN and Inf
 * anywhere (vector body or tail) refused; the empty and constant cases. */
static void test_range(void)
{
    enum { N = 1000 };
    static double x[N];
    static float xf[N];
    for (int ii = 0; ii < CHECK_N_ISAS; ii++) {
        crunch_ctx ctx;
        if (!check_ctx_for("test_histogram", check_isas[ii], &ctx))
            continue;
        const char *path = crunch_isa_name(check_isas[ii]);
        uint64_t s = 7;
        for (size_t n = 1; n <= N; n = n < 40 ? n + 1 : n * 3) {
            double mn = INFINITY, mx = -INFINITY;
            float mnf = INFINITY, mxf = -INFINITY;
            for (size_t i = 0; i < n; i++) {
                x[i] = ldexp(check_rnd11(&s), (int)(check_next(&s) % 200) - 100);
                xf[i] = (float)x[i];
                mn = fmin(mn, x[i]), mx = fmax(mx, x[i]);
                mnf = fminf(mnf, xf[i]), mxf = fmaxf(mxf, xf[i]);
            }
            double lo, hi;
            crunch_status st = crunch_histogram_range_f64(&ctx, x, n, &lo, &hi);
            if (mn == mx)
                mn -= 0.5, mx += 0.5;
            CHECK(st == CRUNCH_OK && lo == mn && hi == mx, "%s range f64 n=%zu: %d [%a, %a]", path,
                  n, st, lo, hi);
            st = crunch_histogram_range_f32(&ctx, xf, n, &lo, &hi);
            double mnd = mnf, mxd = mxf;
            if (mnd == mxd)
                mnd -= 0.5, mxd += 0.5;
            CHECK(st == CRUNCH_OK && lo == mnd && hi == mxd, "%s range f32 n=%zu: %d [%a, %a]",
                  path, n, st, lo, hi);
            int64_t done, total;
            crunch_ctx_progress(&ctx, &done, &total);
            CHECK(done == (int64_t)n && total == (int64_t)n, "%s range progress", path);
            static const double bad[] = {NAN, INFINITY, -INFINITY};
            for (size_t b = 0; b < 3; b++)
                for (size_t at = 0; at < n; at += n / 3 + 1) {
                    double keep = x[at];
                    x[at] = bad[b];
                    xf[at] = (float)bad[b];
                    CHECK(crunch_histogram_range_f64(&ctx, x, n, &lo, &hi) == CRUNCH_ENUMERICAL,
                          "%s range f64 n=%zu: %g at %zu accepted", path, n, bad[b], at);
                    CHECK(crunch_histogram_range_f32(&ctx, xf, n, &lo, &hi) == CRUNCH_ENUMERICAL,
                          "%s range f32 n=%zu: %g at %zu accepted", path, n, bad[b], at);
                    x[at] = keep;
                    xf[at] = (float)keep;
                }
        }
        double lo = -1, hi = -1;
        CHECK(crunch_histogram_range_f64(&ctx, NULL, 0, &lo, &hi) == CRUNCH_OK && lo == 0 &&
                  hi == 1, "%s empty range [%g, %g]", path, lo, hi);
        const float big[3] = {1e8f, 1e8f, 1e8f};
        CHECK(crunch_histogram_range_f32(&ctx, big, 3, &lo, &hi) == CRUNCH_OK &&
                  lo == 1e8 - 0.5 && hi == 1e8 + 0.5, "%s constant f32 range [%.17g, %.17g]",
              path, lo, hi);
    }
}

static void test_bad_args(void)
{
    double x[3] = {1, 2, 3}, e[4], lo, hi;
    float xf[3] = {1, 2, 3};
    int64_t c[3];
    CHECK(crunch_histogram_f64(NULL, x, 3, 3, 0, 4, NULL, e) == CRUNCH_EINVAL, "NULL counts");
    CHECK(crunch_histogram_f64(NULL, NULL, 3, 3, 0, 4, c, e) == CRUNCH_EINVAL, "NULL x");
    CHECK(crunch_histogram_f64(NULL, NULL, 0, 3, 0, 4, c, e) == CRUNCH_OK && c[0] == 0 &&
              c[2] == 0 && e[3] == 4, "empty x");
    CHECK(crunch_histogram_f64(NULL, x, 3, 3, 0, 4, c, NULL) == CRUNCH_OK && c[0] == 1,
          "NULL edges");
    CHECK(crunch_histogram_f64(NULL, x, 3, 0, 0, 4, c, e) == CRUNCH_EINVAL, "0 bins");
    CHECK(crunch_histogram_f64(NULL, x, 3, (size_t)1 << 57, 0, 4, c, e) == CRUNCH_EINVAL,
          "2^57 bins");
    CHECK(crunch_histogram_f64(NULL, x, 3, 3, 4, 0, c, e) == CRUNCH_EINVAL, "lo > hi");
    CHECK(crunch_histogram_f64(NULL, x, 3, 3, NAN, 4, c, e) == CRUNCH_EINVAL, "NaN lo");
    CHECK(crunch_histogram_f64(NULL, x, 3, 3, 0, INFINITY, c, e) == CRUNCH_EINVAL, "Inf hi");
    CHECK(crunch_histogram_f64(NULL, x, 3, 3, -1e308, 1e308, c, e) == CRUNCH_EINVAL,
          "hi - lo overflows");
    CHECK(crunch_histogram_f64(NULL, x, 3, 3, 0, 1e-308, c, e) == CRUNCH_EINVAL,
          "bins / (hi - lo) overflows");
    CHECK(crunch_histogram_f32(NULL, xf, 3, 3, 0, 1e39, c, e) == CRUNCH_EINVAL, "hi beyond float");
    CHECK(crunch_histogram_f32(NULL, xf, 3, 3, -3e38, 3e38, c, e) == CRUNCH_EINVAL,
          "float hi - lo overflows");
    CHECK(crunch_histogram_f32(NULL, xf, 3, 3, 0, 1e-39, c, e) == CRUNCH_EINVAL,
          "float norm overflows");
    CHECK(crunch_histogram_range_f64(NULL, x, 3, NULL, &hi) == CRUNCH_EINVAL, "NULL lo");
    CHECK(crunch_histogram_range_f32(NULL, xf, 3, &lo, NULL) == CRUNCH_EINVAL, "NULL hi");
    CHECK(crunch_histogram_range_f64(NULL, NULL, 3, &lo, &hi) == CRUNCH_EINVAL, "NULL x range");
    crunch_ctx ctx;
    crunch_ctx_init(&ctx);
    crunch_ctx_cancel(&ctx);
    CHECK(crunch_histogram_f64(&ctx, x, 3, 3, 0, 4, c, e) == CRUNCH_ECANCELED,
          "pre-cancelled call ran");
    CHECK(crunch_histogram_range_f32(&ctx, xf, 3, &lo, &hi) == CRUNCH_ECANCELED,
          "pre-cancelled range ran");
}

/* hist_call is a check_call: crunch_histogram_f32 of HIST_CANCEL_N
 * elements at arg into 100 bins over [0, 1]. */
enum { HIST_CANCEL_N = 1 << 23 };
static crunch_status hist_call(crunch_ctx *ctx, void *arg)
{
    int64_t c[100];
    return crunch_histogram_f32(ctx, arg, HIST_CANCEL_N, 100, 0, 1, c, NULL);
}

/* test_cancel: a call cancelled while it runs stops early. */
static void test_cancel(crunch_isa isa)
{
    float *x = malloc(HIST_CANCEL_N * sizeof *x);
    CHECK(x != NULL, "out of memory");
    if (x == NULL)
        return;
    uint64_t s = 3;
    for (size_t i = 0; i < HIST_CANCEL_N; i++)
        x[i] = (float)check_rnd01(&s);
    check_cancel_midway("histogram", isa, HIST_CANCEL_N, hist_call, x);
    free(x);
}

int main(void)
{
    test_bad_args();
    test_numpy();
    test_range();
    test_table();
    for (int ii = 0; ii < CHECK_N_ISAS; ii++)
        if (check_isa_available("test_histogram", check_isas[ii]))
            test_cancel(check_isas[ii]);
    return check_exit("test_histogram");
}
