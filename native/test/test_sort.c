/*
 * test_sort.c - crunch_sort_{f64,f32,i64,i32,u32} against a naive
 * reference (NaNs moved to the end in input order, then qsort with a
 * plain comparison function), bit for bit, over one table of sizes and
 * patterns in both directions; plus progress, cancellation and bad
 * arguments. The sort has one code path; make test-c still runs this under
 * every CRUNCH_DISABLE setting.
 *
 * Build and run (from the repository root):
 *   gcc -std=gnu11 -O2 -g -Wall -Wextra -Werror -Iinclude -Inative \
 *       native/core.c native/sort.c native/test/test_sort.c -lpthread -lm \
 *       -o /tmp/test_sort && /tmp/test_sort
 */
#include "crunch.h"
#include "check.h"

#include <float.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* The shared table: both sides of the insertion-sort cutoff (48), powers
 * of two and their neighbours, primes, the cancel-poll chunk (65536), and
 * large. */
static const size_t sizes[] = {0,   1,    2,    3,    5,    7,     15,    16,    17,     31,
                               32,  33,   47,   48,   49,   63,    64,    65,    127,    128,
                               129, 255,  256,  257,  1023, 1024,  1025,  4099,  65535,  65536,
                               65537, 100003, 1000000};

enum pattern {
    P_RANDOM,   /* random bits (floats: every class but NaN) */
    P_SMALL,    /* random in a small range: many duplicates */
    P_SORTED,   /* already in the wanted order */
    P_REVERSED, /* in the opposite order */
    P_EQUAL,    /* one value */
    P_SPECIAL,  /* the extremes and special values, cycled, with NaNs */
    P_SAWTOOTH, /* i mod 37 */
    N_PATTERNS
};

static const char *pattern_names[N_PATTERNS] = {"random", "small",   "sorted",  "reversed",
                                                "equal",  "special", "sawtooth"};

/* Special values per type: extremes, signed zeros, infinities, subnormals
 * and NaNs of both signs with different payloads (bit patterns, so that
 * the payloads survive). */
static const uint64_t special_f64[] = {
    0x7ff8000000000000ULL, /* NaN */
    0x0000000000000000ULL, /* +0 */
    0x8000000000000000ULL, /* -0 */
    0x7ff0000000000000ULL, /* +Inf */
    0xfff0000000000000ULL, /* -Inf */
    0x0000000000000001ULL, /* smallest subnormal */
    0x8000000000000001ULL, /* its negative */
    0x7fefffffffffffffULL, /* DBL_MAX */
    0xffefffffffffffffULL, /* -DBL_MAX */
    0x0010000000000000ULL, /* DBL_MIN */
    0xfff8000000000123ULL, /* negative NaN with a payload */
    0x3ff0000000000000ULL, /* 1 */
    0xbff0000000000000ULL, /* -1 */
    0x7ff0000000000001ULL, /* signalling NaN */
};
static const uint32_t special_f32[] = {
    0x7fc00000U, 0x00000000U, 0x80000000U, 0x7f800000U, 0xff800000U, 0x00000001U, 0x80000001U,
    0x7f7fffffU, 0xff7fffffU, 0x00800000U, 0xffc00123U, 0x3f800000U, 0xbf800000U, 0x7f800001U,
};
static const int64_t special_i64[] = {INT64_MIN, INT64_MIN + 1, -1, 0, 1, INT64_MAX - 1, INT64_MAX,
                                      (int64_t)1 << 32, -((int64_t)1 << 32)};
static const int32_t special_i32[] = {INT32_MIN, INT32_MIN + 1, -1, 0, 1, INT32_MAX - 1,
                                      INT32_MAX, 1 << 16, -(1 << 16)};
static const uint32_t special_u32[] = {0, 1, UINT32_MAX, UINT32_MAX - 1, 0x80000000U,
                                       0x7fffffffU, 1U << 16, 255, 256};

/* Per type: is_nan and less (a strictly before b ascending, NaN-free). */
static int nan_f64(double a) { return isnan(a); }
static int nan_f32(float a) { return isnan(a); }
static int nan_i64(int64_t a) { (void)a; return 0; }
static int nan_i32(int32_t a) { (void)a; return 0; }
static int nan_u32(uint32_t a) { (void)a; return 0; }
static int less_f64(double a, double b)
{
    return a < b || (a == 0 && b == 0 && signbit(a) && !signbit(b));
}
static int less_f32(float a, float b)
{
    return a < b || (a == 0 && b == 0 && signbit(a) && !signbit(b));
}
static int less_i64(int64_t a, int64_t b) { return a < b; }
static int less_i32(int32_t a, int32_t b) { return a < b; }
static int less_u32(uint32_t a, uint32_t b) { return a < b; }

/* random_f64/f32 turn random bits into a value of any class but NaN. */
static double random_f64(uint64_t bits)
{
    double d;
    memcpy(&d, &bits, sizeof d);
    return isnan(d) ? (double)(bits >> 40) : d;
}

static float random_f32(uint64_t bits)
{
    uint32_t b = (uint32_t)bits;
    float f;
    memcpy(&f, &b, sizeof f);
    return isnan(f) ? (float)(bits >> 40) : f;
}

static double small_f64(uint64_t bits) { return (double)(int)(bits % 21) - 10; }
static float small_f32(uint64_t bits) { return (float)(int)(bits % 21) - 10; }
static int64_t random_i64(uint64_t bits) { return (int64_t)bits; }
static int32_t random_i32(uint64_t bits) { return (int32_t)(uint32_t)bits; }
static uint32_t random_u32(uint64_t bits) { return (uint32_t)bits; }
static int64_t small_i64(uint64_t bits) { return (int64_t)(bits % 21) - 10; }
static int32_t small_i32(uint64_t bits) { return (int32_t)(bits % 21) - 10; }
static uint32_t small_u32(uint64_t bits) { return (uint32_t)(bits % 21); }

/* The radix sort's progress total: one pass to build histograms, one per
 * key byte. */
#define TOTAL(n, T) ((int64_t)(n) * (int64_t)(sizeof(T) + 1))

/*
 * TEST_TYPE(S, T, SPECIAL) defines, for element type T with suffix S:
 *   cmp_S_asc/desc: qsort comparators (NaN-free input);
 *   reference_S: the naive sort;
 *   fill_S: a pattern;
 *   test_S: the table.
 */
#define TEST_TYPE(S, T, SPECIAL)                                                           \
    static int cmp_##S##_asc(const void *a, const void *b)                                 \
    {                                                                                      \
        T x = *(const T *)a, y = *(const T *)b;                                            \
        return less_##S(x, y) ? -1 : less_##S(y, x) ? 1 : 0;                               \
    }                                                                                      \
    static int cmp_##S##_desc(const void *a, const void *b)                                \
    {                                                                                      \
        return cmp_##S##_asc(b, a);                                                        \
    }                                                                                      \
                                                                                           \
    /* reference_S sorts x as crunch.h says, naively: NaNs to the end in                   \
     * their order, qsort for the rest (equal keys are equal bits, so                      \
     * qsort's instability cannot show). */                                                \
    static void reference_##S(T *x, size_t n, int desc)                                    \
    {                                                                                      \
        T *nans = malloc((n + 1) * sizeof(T));                                             \
        size_t m = 0, k = 0;                                                               \
        for (size_t i = 0; i < n; i++) {                                                   \
            if (nan_##S(x[i]))                                                             \
                nans[k++] = x[i];                                                          \
            else                                                                           \
                x[m++] = x[i];                                                             \
        }                                                                                  \
        memcpy(x + m, nans, k * sizeof(T));                                                \
        free(nans);                                                                        \
        qsort(x, m, sizeof(T), desc ? cmp_##S##_desc : cmp_##S##_asc);                     \
    }                                                                                      \
                                                                                           \
    static void fill_##S(enum pattern p, T *x, size_t n, uint64_t seed, int desc)          \
    {                                                                                      \
        uint64_t s = seed;                                                                 \
        const size_t nspecial = sizeof SPECIAL / sizeof SPECIAL[0];                        \
        for (size_t i = 0; i < n; i++) {                                                   \
            uint64_t r = check_next(&s);                                                         \
            switch (p) {                                                                   \
            case P_SMALL: x[i] = small_##S(r); break;                                      \
            case P_EQUAL: x[i] = small_##S(seed); break;                                   \
            case P_SPECIAL: memcpy(&x[i], &SPECIAL[r % nspecial], sizeof(T)); break;       \
            case P_SAWTOOTH: x[i] = (T)(i % 37); break;                                    \
            default: x[i] = random_##S(r); break;                                          \
            }                                                                              \
        }                                                                                  \
        if (p == P_SORTED)                                                                 \
            reference_##S(x, n, desc);                                                     \
        if (p == P_REVERSED)                                                               \
            reference_##S(x, n, !desc);                                                    \
    }                                                                                      \
                                                                                           \
    static void test_##S(void)                                                             \
    {                                                                                      \
        size_t maxn = sizes[sizeof sizes / sizeof sizes[0] - 1];                           \
        T *x = malloc(maxn * sizeof(T)), *want = malloc(maxn * sizeof(T));                 \
        T *y = malloc(maxn * sizeof(T));                                                   \
        CHECK(x && want && y, "out of memory");                                            \
        if (!x || !want || !y)                                                             \
            goto out;                                                                      \
        for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++) {                   \
            size_t n = sizes[si];                                                          \
            for (int p = 0; p < N_PATTERNS; p++) {                                         \
                /* the qsort reference is slow (0.3 s for 10^6): large sizes for a         \
                 * few patterns */                                                         \
                if ((n > 70000 && p != P_RANDOM && p != P_SPECIAL && p != P_SMALL) ||      \
                    (n > 200000 && p != P_RANDOM))                                         \
                    continue;                                                              \
                for (int desc = 0; desc <= 1; desc++) {                                    \
                    fill_##S((enum pattern)p, x, n, 7919 * si + (uint64_t)p, desc);        \
                    memcpy(want, x, n * sizeof(T));                                        \
                    /* Into y (poisoned): x must stay as it was. */                        \
                    memset(y, 0xa5, maxn * sizeof(T));                                     \
                    crunch_ctx into;                                                       \
                    crunch_ctx_init(&into);                                                \
                    crunch_status st = crunch_sort_into_##S(&into, x, y, n, desc);         \
                    CHECK(st == CRUNCH_OK, #S " into n=%zu %s desc=%d: status %d", n,      \
                          pattern_names[p], desc, st);                                     \
                    CHECK(n == 0 || memcmp(x, want, n * sizeof(T)) == 0,                   \
                          #S " into n=%zu %s: the input changed", n, pattern_names[p]);    \
                    reference_##S(want, n, desc);                                          \
                    crunch_ctx ctx;                                                        \
                    crunch_ctx_init(&ctx);                                                 \
                    st = crunch_sort_##S(&ctx, x, n, desc);                                \
                    CHECK(st == CRUNCH_OK, #S " n=%zu %s desc=%d: status %d", n,           \
                          pattern_names[p], desc, st);                                     \
                    for (int k = 0; k < 2; k++) {                                          \
                        const T *got = k ? y : x;                                          \
                        crunch_ctx *c = k ? &into : &ctx;                                  \
                        size_t bad = n;                                                    \
                        for (size_t i = 0; i < n && bad == n; i++)                         \
                            if (memcmp(&got[i], &want[i], sizeof(T)) != 0)                 \
                                bad = i;                                                   \
                        CHECK(bad == n, #S "%s n=%zu %s desc=%d: differs from the "        \
                              "reference at %zu", k ? " into" : "", n, pattern_names[p],   \
                              desc, bad);                                                  \
                        int64_t done, total;                                               \
                        crunch_ctx_progress(c, &done, &total);                             \
                        CHECK(done == TOTAL(n, T) && total == TOTAL(n, T),                 \
                              #S "%s n=%zu: progress %lld/%lld", k ? " into" : "", n,      \
                              (long long)done, (long long)total);                          \
                    }                                                                      \
                }                                                                          \
            }                                                                              \
        }                                                                                  \
    out:                                                                                   \
        free(x);                                                                           \
        free(want);                                                                        \
        free(y);                                                                           \
    }

TEST_TYPE(f64, double, special_f64)
TEST_TYPE(f32, float, special_f32)
TEST_TYPE(i64, int64_t, special_i64)
TEST_TYPE(i32, int32_t, special_i32)
TEST_TYPE(u32, uint32_t, special_u32)

/* test_zero_order spells out the signed-zero and NaN rules on a tiny
 * array and on one large enough for the radix path. */
static void test_zero_order(void)
{
    for (size_t n = 6; n <= 6000; n *= 1000) {
        double *x = malloc(n * sizeof *x);
        if (x == NULL)
            return;
        for (size_t i = 0; i < n; i++)
            x[i] = (double[]){0.0, NAN, -0.0, 1, -1, -NAN}[i % 6];
        for (int desc = 0; desc <= 1; desc++) {
            CHECK(crunch_sort_f64(NULL, x, n, desc) == CRUNCH_OK, "n=%zu", n);
            size_t q = n / 6;
            /* ascending: -1, -0, +0, 1, NaN; descending: 1, +0, -0, -1, NaN */
            double a = desc ? 1 : -1, b = desc ? 0.0 : -0.0, c = desc ? -0.0 : 0.0, d = -a;
            CHECK(x[0] == a && x[q] == b && signbit(x[q]) == signbit(b) &&
                      x[2 * q] == c && signbit(x[2 * q]) == signbit(c) && x[3 * q] == d &&
                      isnan(x[4 * q]) && isnan(x[n - 1]),
                  "n=%zu desc=%d: %g %g %g %g %g", n, desc, x[0], x[q], x[2 * q], x[3 * q],
                  x[4 * q]);
        }
        free(x);
    }
}

static void test_cancel(void)
{
    double two[2] = {2, 1};
    crunch_ctx ctx;
    crunch_ctx_init(&ctx);
    crunch_ctx_cancel(&ctx);
    CHECK(crunch_sort_f64(&ctx, two, 2, 0) == CRUNCH_ECANCELED && two[0] == 2,
          "pre-cancelled sort ran");
    CHECK(crunch_sort_f64(&ctx, two, 1, 0) == CRUNCH_OK, "one element on a cancelled ctx");

    /* Cancelled mid-way, x still holds its elements: sorting it again
     * gives the reference. A few tries: the canceller may lose the race. */
    const size_t n = 4 * 1000 * 1000;
    double *in = malloc(n * sizeof *in), *x = malloc(n * sizeof *x),
           *want = malloc(n * sizeof *want);
    CHECK(in && x && want, "out of memory");
    if (!in || !x || !want)
        goto out;
    fill_f64(P_SPECIAL, in, n / 2, 11, 0); /* NaNs too */
    fill_f64(P_RANDOM, in + n / 2, n - n / 2, 12, 0);
    memcpy(want, in, n * sizeof *x);
    reference_f64(want, n, 1);
    int stopped = 0;
    for (int attempt = 0; attempt < 5 && !stopped; attempt++) {
        memcpy(x, in, n * sizeof *x);
        crunch_ctx_init(&ctx);
        pthread_t th;
        pthread_create(&th, NULL, check_cancel_when_started, &ctx);
        crunch_status st = crunch_sort_f64(&ctx, x, n, 1);
        pthread_join(th, NULL);
        if (st != CRUNCH_ECANCELED) {
            CHECK(st == CRUNCH_OK, "status %d", st);
            continue;
        }
        stopped = 1;
        int64_t done, total;
        crunch_ctx_progress(&ctx, &done, &total);
        CHECK(done > 0 && done < total, "progress %lld/%lld", (long long)done, (long long)total);
        CHECK(crunch_sort_f64(NULL, x, n, 1) == CRUNCH_OK, "sort after cancel");
        CHECK(memcmp(x, want, n * sizeof *x) == 0, "a cancelled sort lost elements");
    }
    CHECK(stopped, "never cancelled in 5 tries");

    /* Into another buffer, cancelled mid-way: the input is untouched. */
    stopped = 0;
    memcpy(x, in, n * sizeof *x);
    for (int attempt = 0; attempt < 5 && !stopped; attempt++) {
        crunch_ctx_init(&ctx);
        pthread_t th;
        pthread_create(&th, NULL, check_cancel_when_started, &ctx);
        crunch_status st = crunch_sort_into_f64(&ctx, x, want, n, 1);
        pthread_join(th, NULL);
        stopped = st == CRUNCH_ECANCELED;
        CHECK(stopped || st == CRUNCH_OK, "into: status %d", st);
    }
    CHECK(stopped, "into: never cancelled in 5 tries");
    CHECK(memcmp(x, in, n * sizeof *x) == 0, "a cancelled sort into another buffer changed its input");
out:
    free(in);
    free(x);
    free(want);
}

static void test_bad_args(void)
{
    CHECK(crunch_sort_f64(NULL, NULL, 3, 0) == CRUNCH_EINVAL, "NULL x");
    CHECK(crunch_sort_u32(NULL, NULL, 0, 1) == CRUNCH_OK, "NULL x, n = 0");
    int32_t one = 5;
    CHECK(crunch_sort_i32(NULL, &one, SIZE_MAX, 0) == CRUNCH_EINVAL, "n = SIZE_MAX");
    CHECK(crunch_sort_i64(NULL, (int64_t *)&one, (size_t)PTRDIFF_MAX / 4, 0) == CRUNCH_EINVAL,
          "n beyond memory");
    double v[8] = {3, 1, 2, 0, 5, 4, 7, 6};
    CHECK(crunch_sort_into_f64(NULL, v, NULL, 3, 0) == CRUNCH_EINVAL, "into NULL out");
    CHECK(crunch_sort_into_f64(NULL, NULL, v, 3, 0) == CRUNCH_EINVAL, "into from NULL x");
    CHECK(crunch_sort_into_f64(NULL, NULL, NULL, 0, 0) == CRUNCH_OK, "into, NULL, n = 0");
    CHECK(crunch_sort_into_f64(NULL, v, v + 2, 4, 0) == CRUNCH_EINVAL, "into overlapping after");
    CHECK(crunch_sort_into_f64(NULL, v + 2, v, 4, 0) == CRUNCH_EINVAL, "into overlapping before");
    CHECK(crunch_sort_into_f64(NULL, v, v + 4, 4, 0) == CRUNCH_OK && v[4] == 0 && v[7] == 3,
          "into the adjacent half");
    CHECK(crunch_sort_into_f64(NULL, v, v, 8, 1) == CRUNCH_OK && v[0] == 3 && v[7] == 0,
          "into itself sorts in place");
}

int main(void)
{
    test_bad_args();
    test_zero_order();
    test_f64();
    test_f32();
    test_i64();
    test_i32();
    test_u32();
    test_cancel();
    return check_exit("test_sort");
}
