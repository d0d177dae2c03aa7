/*
 * test_modsum.c - crunch_modsum against the literal definition on every
 * SIMD path, plus cancellation, progress and bad arguments.
 */
#include "check.h"
#include "internal.h"

#include <pthread.h>
#include <string.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>

/* naive is the definition itself: exact 128-bit product, Python's modulo. */
static int64_t naive(int64_t n, int64_t iters)
{
    int64_t sum = 0;
    for (int64_t i = 0; i < iters; i++) {
        int64_t m = (int64_t)(((__int128)i * n) % 97);
        sum += m < 0 ? m + 97 : m;
    }
    return sum;
}

static const int64_t ns[] = {0, 1, 7, -1, -7, 96, 97, 98, -97, -98, 12345678901LL,
                             INT64_MAX, INT64_MIN, INT64_MIN + 1, -4611686018427387904LL};
static const int64_t iters_list[] = {0, 1, 2, 15, 16, 17, 31, 32, 33, 63, 64, 65, 96, 97,
                                     98, 1000, 4095, (1 << 22) - 1, 1 << 22,
                                     (1 << 22) + 1, 3 * (1 << 22) + 77};

static void test_values(crunch_isa isa)
{
    crunch_ctx ctx;
    for (size_t a = 0; a < sizeof ns / sizeof ns[0]; a++) {
        for (size_t b = 0; b < sizeof iters_list / sizeof iters_list[0]; b++) {
            int64_t n = ns[a], iters = iters_list[b];
            if (iters > 100000 && a % 4 != 0)
                continue; /* the naive loop is slow; long runs for a few n only */
            crunch_ctx_init(&ctx);
            crunch_ctx_set_isa(&ctx, isa);
            int64_t got = -1;
            crunch_status st = crunch_modsum(&ctx, n, iters, &got);
            int64_t want = naive(n, iters);
            CHECK(st == CRUNCH_OK, "isa %s n=%lld iters=%lld: status %d", crunch_isa_name(isa),
                  (long long)n, (long long)iters, st);
            CHECK(got == want, "isa %s n=%lld iters=%lld: got %lld want %lld",
                  crunch_isa_name(isa), (long long)n, (long long)iters, (long long)got,
                  (long long)want);
            int64_t done, total;
            crunch_ctx_progress(&ctx, &done, &total);
            CHECK(done == iters && total == iters, "progress %lld/%lld after %lld iters",
                  (long long)done, (long long)total, (long long)iters);
        }
    }
}

static void test_cancel(crunch_isa isa)
{
    crunch_ctx ctx;
    int64_t total = 0;
    crunch_ctx_init(&ctx);
    crunch_ctx_set_isa(&ctx, isa);
    crunch_ctx_cancel(&ctx);
    CHECK(crunch_modsum(&ctx, 3, 1000000, &total) == CRUNCH_ECANCELED, "pre-cancelled call ran");
    /* Cancelling an empty job still succeeds: there is nothing to stop. */
    CHECK(crunch_modsum(&ctx, 3, 0, &total) == CRUNCH_OK && total == 0, "empty job");

    crunch_ctx_init(&ctx);
    crunch_ctx_set_isa(&ctx, isa);
    pthread_t th;
    /* cancelled once it has made progress (a loaded machine may start the
     * call late): the progress it reports must then be partial */
    check_canceller cn = {.ctx = &ctx, .delay_s = 0.005};
    pthread_create(&th, NULL, check_canceller_thread, &cn);
    crunch_status st = crunch_modsum(&ctx, 3, (int64_t)1e15, &total);
    pthread_join(th, NULL);
    double took = check_now_s() - cn.when;
    CHECK(st == CRUNCH_ECANCELED, "isa %s: huge job not cancelled: %d", crunch_isa_name(isa), st);
    CHECK(took < 2.0, "isa %s: returned %.3f s after the cancel", crunch_isa_name(isa), took);
    int64_t done, tot;
    double f = crunch_ctx_progress(&ctx, &done, &tot);
    CHECK(done > 0 && done < tot && tot == (int64_t)1e15 && f > 0 && f < 1,
          "progress of a cancelled job: %lld/%lld (%g)", (long long)done, (long long)tot, f);
}

static void test_bad_args(void)
{
    int64_t total;
    CHECK(crunch_modsum(NULL, 1, 10, NULL) == CRUNCH_EINVAL, "NULL total");
    CHECK(crunch_modsum(NULL, 1, -1, &total) == CRUNCH_EINVAL, "negative iters");
    CHECK(crunch_modsum(NULL, 1, INT64_MIN, &total) == CRUNCH_EINVAL, "INT64_MIN iters");
    CHECK(crunch_modsum(NULL, 5, 1000, &total) == CRUNCH_OK && total == naive(5, 1000),
          "NULL ctx");
}

static void test_core(void)
{
    CHECK(strcmp(crunch_version(), CRUNCH_VERSION_STRING) == 0, "version %s", crunch_version());
    CHECK(strcmp(crunch_strerror(CRUNCH_OK), "ok") == 0, "strerror ok");
    CHECK(strcmp(crunch_strerror(CRUNCH_ECANCELED), "canceled") == 0, "strerror canceled");
    CHECK(strcmp(crunch_strerror((crunch_status)999), "unknown status") == 0, "strerror 999");
    crunch_isa best = crunch_isa_best();
    CHECK(best >= CRUNCH_ISA_GENERIC && best <= CRUNCH_ISA_AVX512, "best isa %d", best);
    CHECK(strcmp(crunch_isa_name(CRUNCH_ISA_AVX2), "avx2") == 0, "isa name");
    crunch_ctx ctx;
    crunch_ctx_init(&ctx);
    CHECK(crunch_ctx_set_isa(&ctx, (crunch_isa)7) == CRUNCH_EINVAL, "bad isa accepted");
    CHECK(crunch_ctx_set_isa(NULL, CRUNCH_ISA_AVX2) == CRUNCH_EINVAL, "NULL ctx accepted");
    CHECK(crunch_ctx_progress(NULL, NULL, NULL) == 0.0, "NULL progress");
    CHECK(crunch_noop(NULL) == CRUNCH_OK && crunch_noop(&ctx) == CRUNCH_OK, "noop");
    crunch_ctx_cancel(&ctx);
    CHECK(crunch_noop(&ctx) == CRUNCH_ECANCELED, "noop after cancel");
    crunch_ctx_set_isa(&ctx, CRUNCH_ISA_GENERIC);
    CHECK(crunch__isa_for(&ctx) == CRUNCH_ISA_GENERIC, "isa cap ignored");
}

/* test_pick: a kernel table entry is the capped level's, or the next
 * lower filled one's. */
static void test_pick(void)
{
    static const char g = 'g', a2 = '2', a5 = '5';
    static const char *const full[CRUNCH__ISA_LEVELS] = {
        [CRUNCH_ISA_GENERIC] = &g, [CRUNCH_ISA_AVX2] = &a2, [CRUNCH_ISA_AVX512] = &a5};
    static const char *const no_avx2[CRUNCH__ISA_LEVELS] = {
        [CRUNCH_ISA_GENERIC] = &g, [CRUNCH_ISA_AVX512] = &a5};
    static const char *const generic_only[CRUNCH__ISA_LEVELS] = {[CRUNCH_ISA_GENERIC] = &g};
    crunch_ctx ctx;
    crunch_ctx_init(&ctx);
    for (int isa = CRUNCH_ISA_AUTO; isa <= CRUNCH_ISA_AVX512; isa++) {
        crunch_ctx_set_isa(&ctx, (crunch_isa)isa);
        int level = (int)crunch__isa_for(&ctx);
        CHECK(*CRUNCH__PICK(full, &ctx) == *full[level], "cap %d: full table", isa);
        CHECK(*CRUNCH__PICK(no_avx2, &ctx) == (level == CRUNCH_ISA_AVX512 ? '5' : 'g'),
              "cap %d: table without avx2", isa);
        CHECK(*CRUNCH__PICK(generic_only, &ctx) == 'g', "cap %d: generic-only table", isa);
    }
    CHECK(*CRUNCH__PICK(full, NULL) == *full[crunch_isa_best()], "NULL ctx");
}

int main(void)
{
    test_core();
    test_pick();
    test_bad_args();
    for (int isa = CRUNCH_ISA_GENERIC; isa <= CRUNCH_ISA_AVX512; isa++) {
        if (isa > (int)crunch_isa_best()) {
            printf("test_modsum: skipping %s: not supported here\n", crunch_isa_name((crunch_isa)isa));
            continue;
        }
        test_values((crunch_isa)isa);
        test_cancel((crunch_isa)isa);
    }
    return check_exit("test_modsum");
}
