/*
 * modsum.c - crunch_modsum, the benchmarks' stand-in for heavy CPU work.
 *
 * Each term (i*n) mod 97 is computed, not skipped: with r = n mod 97, the
 * term t_i = (i*r) mod 97 satisfies t_{i+L} = (t_i + (L*r mod 97)) mod 97,
 * so L SIMD lanes holding consecutive i each advance by one add and one
 * conditional subtract per term. No multiplication or division in the loop,
 * no overflow for any int64 n, and the cost is linear in iters.
 */
#include "internal.h"

#if CRUNCH_X86
#include <immintrin.h>
#endif

enum {
    MOD = 97,
    /* Iterations between cancel polls: about 0.1 to 1 ms on any path. Also
     * bounds each 32-bit lane accumulator: CHUNK/lanes * 96 < 2^32. */
    CHUNK = 1 << 22
};

/* residue returns (((start + j) mod 97) * r) mod 97 for start >= 0, j >= 0
 * and 0 <= r < 97, without forming start + j, which may overflow near
 * INT64_MAX. */
static inline uint32_t residue(int64_t start, int j, uint32_t r)
{
    return (uint32_t)((((uint64_t)(start % MOD) + (uint64_t)j) % MOD * r) % MOD);
}

/* sum_generic sums the terms for i in [start, start+count), count <= CHUNK.
 * Sixteen independent lanes let the compiler vectorise with SSE2. */
static uint64_t sum_generic(int64_t start, int64_t count, uint32_t r)
{
    enum { L = 16 };
    uint32_t t[L], acc[L];
    const uint32_t step = (uint32_t)((L * r) % MOD);
    for (int j = 0; j < L; j++) {
        t[j] = residue(start, j, r);
        acc[j] = 0;
    }
    int64_t i = 0;
    for (; i + L <= count; i += L) {
        for (int j = 0; j < L; j++) {
            acc[j] += t[j];
            t[j] += step;
            t[j] = t[j] >= MOD ? t[j] - MOD : t[j];
        }
    }
    uint64_t sum = 0;
    for (int j = 0; j < L; j++)
        sum += acc[j];
    for (int j = 0; i < count; i++, j++) /* the tail continues lane 0, 1, ... */
        sum += t[j];
    return sum;
}

#if CRUNCH_X86
/* STEP advances one vector of lanes: add the terms to the accumulator, then
 * move each lane L positions on. t - 97 wraps to a huge unsigned value when
 * t < 97, so the unsigned minimum of t and t - 97 is t mod 97. The four
 * vectors are named variables, not an array, so that they stay in
 * registers: with an array gcc -O2 keeps them in memory. */
#define STEP(P, acc, t)                                      \
    do {                                                     \
        acc = P##_add_epi32(acc, t);                         \
        t = P##_add_epi32(t, step);                          \
        t = P##_min_epu32(t, P##_sub_epi32(t, mod));         \
    } while (0)

/* hsum_avx2 returns the sum of acc's 8 lanes. */
CRUNCH_TARGET_AVX2 static inline uint64_t hsum_avx2(__m256i acc)
{
    uint32_t sums[8];
    _mm256_storeu_si256((__m256i *)sums, acc);
    uint64_t sum = 0;
    for (int j = 0; j < 8; j++)
        sum += sums[j];
    return sum;
}

/* SUM_SIMD(NAME, TGT, P, B, VI, HSUM) defines NAME: sum_generic with 4
 * vectors VI of B / 32 lanes (4 * B / 32 consecutive i); P is the
 * intrinsics' prefix, B the vector's bits, HSUM(acc) the sum of acc's
 * lanes. Lane sums stay below 2^31 (see CHUNK), so 32-bit adds are exact. */
#define SUM_SIMD(NAME, TGT, P, B, VI, HSUM)                                               \
    TGT static uint64_t NAME(int64_t start, int64_t count, uint32_t r)                    \
    {                                                                                     \
        enum { W = B / 32, L = 4 * W };                                                   \
        uint32_t lanes[L];                                                                \
        for (int j = 0; j < L; j++)                                                       \
            lanes[j] = residue(start, j, r);                                              \
        VI t0 = P##_loadu_si##B((const VI *)(lanes + 0 * W));                             \
        VI t1 = P##_loadu_si##B((const VI *)(lanes + 1 * W));                             \
        VI t2 = P##_loadu_si##B((const VI *)(lanes + 2 * W));                             \
        VI t3 = P##_loadu_si##B((const VI *)(lanes + 3 * W));                             \
        VI a0 = P##_setzero_si##B(), a1 = a0, a2 = a0, a3 = a0;                           \
        const VI step = P##_set1_epi32((int)((L * r) % MOD));                             \
        const VI mod = P##_set1_epi32(MOD);                                               \
        int64_t i = 0;                                                                    \
        for (; i + L <= count; i += L) {                                                  \
            STEP(P, a0, t0);                                                              \
            STEP(P, a1, t1);                                                              \
            STEP(P, a2, t2);                                                              \
            STEP(P, a3, t3);                                                              \
        }                                                                                 \
        uint64_t sum = HSUM(P##_add_epi32(P##_add_epi32(a0, a1), P##_add_epi32(a2, a3))); \
        P##_storeu_si##B((VI *)(lanes + 0 * W), t0);                                      \
        P##_storeu_si##B((VI *)(lanes + 1 * W), t1);                                      \
        P##_storeu_si##B((VI *)(lanes + 2 * W), t2);                                      \
        P##_storeu_si##B((VI *)(lanes + 3 * W), t3);                                      \
        for (int j = 0; i < count; i++, j++) /* the tail continues lane 0, 1, ... */      \
            sum += lanes[j];                                                              \
        return sum;                                                                       \
    }

/* sum_avx2 and sum_avx512: 32 and 64 consecutive i at a time. */
SUM_SIMD(sum_avx2, CRUNCH_TARGET_AVX2, _mm256, 256, __m256i, hsum_avx2)
#define HSUM_AVX512(acc) ((uint32_t)_mm512_reduce_add_epi32(acc))
SUM_SIMD(sum_avx512, CRUNCH_TARGET_AVX512, _mm512, 512, __m512i, HSUM_AVX512)
#undef HSUM_AVX512
#undef SUM_SIMD
#endif

/* paths is modsum's kernel table (internal.h): one function per path. */
typedef uint64_t (*sum_fn)(int64_t start, int64_t count, uint32_t r);
CRUNCH__KERNEL_TABLE(paths, sum_fn, sum_generic, sum_avx2, sum_avx512);

/* Chunks summed per crunch__parallel round: their sums wait in an array
 * on the stack (8 KiB) until the round is over and they are added in
 * order. A round is 2^32 iterations, a fraction of a second. */
enum { ROUND = 1024 };

/* modsum_call: one call's state, shared by the tasks of a round. */
typedef struct modsum_call {
    crunch_ctx *ctx;
    sum_fn sum;
    uint32_t r;
    int64_t iters;
    int64_t first;         /* the round's first chunk */
    uint64_t sums[ROUND];  /* the round's chunk sums, by chunk */
} modsum_call;

/* modsum_chunk sums chunk first + i (crunch__item_fn). */
static crunch_status modsum_chunk(void *arg, size_t i)
{
    modsum_call *mc = arg;
    int64_t start = (mc->first + (int64_t)i) * CHUNK; /* below iters: no overflow */
    int64_t count = mc->iters - start < CHUNK ? mc->iters - start : CHUNK;
    mc->sums[i] = mc->sum(start, count, mc->r);
    crunch__progress_add(mc->ctx, count);
    return CRUNCH_OK;
}

/*
 * crunch_modsum cuts [0, iters) into chunks of CHUNK iterations, which
 * crunch__parallel runs a round of at most ROUND at a time. The sum of
 * integers is exact, so any order would do; the chunks are added in
 * order anyway, and the first that makes the sum overflow gives
 * CRUNCH_ERANGE.
 */
crunch_status crunch_modsum(crunch_ctx *ctx, int64_t n, int64_t iters, int64_t *total)
{
    if (total == NULL || iters < 0)
        return CRUNCH_EINVAL;
    modsum_call mc;
    /* C's % truncates toward zero; add MOD once to get the mathematical
     * remainder, so negative n (INT64_MIN included) needs no negation. */
    mc.r = (uint32_t)((n % MOD + MOD) % MOD);
    mc.sum = CRUNCH__PICK(paths, ctx);
    mc.ctx = ctx;
    mc.iters = iters;
    crunch__progress_begin(ctx, iters);
    const int64_t chunks = iters / CHUNK + (iters % CHUNK != 0);
    int64_t acc = 0;
    for (mc.first = 0; mc.first < chunks; mc.first += ROUND) {
        int64_t round = chunks - mc.first < ROUND ? chunks - mc.first : ROUND;
        crunch_status st = crunch__parallel(ctx, (size_t)round, modsum_chunk, &mc);
        if (st != CRUNCH_OK)
            return st;
        for (int64_t i = 0; i < round; i++) /* a chunk's sum is below CHUNK*96: fits int64 */
            if (__builtin_add_overflow(acc, (int64_t)mc.sums[i], &acc))
                return CRUNCH_ERANGE;
    }
    *total = acc;
    return CRUNCH_OK;
}
