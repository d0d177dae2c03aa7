/*
 * gemm.c - crunch_gemm_f64 and crunch_gemm_f32: the driver and the generic
 * micro-kernels.
 *
 * The driver is BLIS's five loops around a micro-kernel (gemm_template.h
 * states the kernels' contract and the packed layouts), with the roles of
 * A and B swapped relative to BLIS's column-major kernels: ours broadcast
 * elements of A and load vectors of B, so it is the A sliver that stays
 * in L1 and the B slivers that stream from L2.
 *
 *   for ic in m step MC:            A block mc x kc: packed, lives in L3
 *     for pc in k step KC:
 *       pack op(A)[ic:ic+mc, pc:pc+kc] into MR-row slivers
 *       for jc in n step NC:        B block kc x nc: packed, lives in L2
 *         pack op(B)[pc:pc+kc, jc:jc+nc] into NR-column slivers
 *         for ir in mc step MR:     one A sliver, stays in L1
 *           for jr in nc step NR:   one B sliver, streams from L2
 *             micro-kernel: C tile (MR x NR) = alpha * A sliver * B sliver
 *                                              + beta' * C tile
 *
 * A is packed once per call; B once per MC rows of C (once when m <= MC).
 * beta' is the caller's beta for the first KC block and 1 afterwards, so
 * C is read (if at all) once per element per KC block. Packing takes care
 * of both transposes, so a micro-kernel sees one layout. Tiles that stick
 * out of C go to the path's unpacked kernel (masked, straight into C) or
 * are computed into a small buffer and merged.
 *
 * Small products (use_sup) skip packing on paths that have unpacked
 * kernels: the loops over jc, ir and jr remain, kc is all of k, and the
 * kernels read A and B where they lie (B is packed only when transposed).
 * The packing buffers come from a per-thread cache (scratch.c).
 *
 * Cancel is polled after each A sliver's row of tiles (MR*NC*KC multiply-
 * adds, at most about a million: tens of microseconds on the SIMD paths,
 * well under a millisecond on the generic one), and progress advances
 * there too.
 *
 * The typed code (packing, the macro-kernel, the generic micro-kernel) is
 * written once as a macro template, BLIS-style, and stamped out for double
 * and float; argument checks and progress bookkeeping do not depend on the
 * element type and are plain functions.
 */
#include "gemm_template.h"
#include "gemm_parallel.h"

#include <stdint.h>
#include <stdlib.h>

/* gemm_blocks: one path's register blocking (mr x nr, fixed by its
 * micro-kernel) and cache blocking (kc, mc, nc). Any positive values are
 * correct; these only decide the speed. */
typedef struct gemm_blocks {
    size_t mr, nr;
    size_t kc; /* depth of the packed blocks: an A sliver (mr x kc) fits in L1 */
    size_t mc; /* rows of the packed A block (mc x kc), for L3; a multiple of mr */
    size_t nc; /* columns of the packed B block (kc x nc), for L2; a multiple of nr */
} gemm_blocks;

/* gemm_path: everything one SIMD path contributes, for both dtypes. */
typedef struct gemm_path {
    gemm_blocks f64;
    crunch__gemm_ukr_f64 ukr_f64;
    gemm_blocks f32;
    crunch__gemm_ukr_f32 ukr_f32;
    crunch__gemm_sup_f64 sup_f64; /* NULL: every product packed, edge tiles through a buffer */
    crunch__gemm_sup_f32 sup_f32;
    double sup_mnk; /* the most multiply-adds a product may have to go unpacked (use_sup) */
} gemm_path;

static void ukr_generic_f64(size_t kc, const double *ap, const double *bp, double *c,
                            size_t ldc, double alpha, double beta);
static void ukr_generic_f32(size_t kc, const float *ap, const float *bp, float *c,
                            size_t ldc, float alpha, float beta);

/* generic: A sliver 4*256*8 = 8 KiB (f64) or 4*512*4 (f32); B block
 * 256*256*8 = 512 KiB. */
static const gemm_path generic_path = {
    {CRUNCH__GEMM_GENERIC_F64_MR, CRUNCH__GEMM_GENERIC_F64_NR, 256, 1024, 256},
    ukr_generic_f64,
    {CRUNCH__GEMM_GENERIC_F32_MR, CRUNCH__GEMM_GENERIC_F32_NR, 512, 1024, 256},
    ukr_generic_f32,
    NULL,
    NULL,
    0,
};

/*
 * The SIMD paths' sizes were tuned on AMD Zen 5 (48 KiB L1D, 1 MiB L2,
 * 32 MiB L3): an A sliver of 18-24 KiB leaves half of L1 for the streaming
 * B slivers, a B block of 256-450 KiB sits in L2, and an A block of up to
 * 1024 rows (3 MiB) in L3. They are sound, only slower, on CPUs with
 * 32 KiB L1D and 512 KiB L2.
 */
#if CRUNCH_X86
/* SIMD_PATH(P, p, F64_BLOCKS, F32_BLOCKS, SUP_MNK): path P's entry, its
 * kernels named for p, each dtype's cache blocking KC, MC, NC after its
 * MR x NR, and its bound for unpacked products (use_sup). */
#define SIMD_PATH(P, p, KC64, MC64, NC64, KC32, MC32, NC32, SUP_MNK)                         \
    {{CRUNCH__GEMM_##P##_F64_MR, CRUNCH__GEMM_##P##_F64_NR, KC64, MC64, NC64},                 \
     crunch__gemm_ukr_##p##_f64,                                                             \
     {CRUNCH__GEMM_##P##_F32_MR, CRUNCH__GEMM_##P##_F32_NR, KC32, MC32, NC32},                 \
     crunch__gemm_ukr_##p##_f32,                                                             \
     crunch__gemm_sup_##p##_f64,                                                             \
     crunch__gemm_sup_##p##_f32,                                                             \
     SUP_MNK}

/* f64 6x8: A sliver 6*256*8 = 12 KiB; B block 256*128*8 = 256 KiB.
 * f32 6x16: A sliver 6*768*4 = 18 KiB; B block 768*128*4 = 384 KiB.
 * Unpacked up to 2^20 multiply-adds (about 100^3): on Zen 3 the packed
 * path is as fast from 128^3 and faster beyond (f64 256^3: 0.97-1.02 of
 * OpenBLAS packed, 0.75-0.80 unpacked, alternating in gemm_bench). */
static const gemm_path avx2_path =
    SIMD_PATH(AVX2, avx2, 256, 1020, 128, 768, 1020, 128, 0x1p20);

/* f64 8x24: A sliver 8*384*8 = 24 KiB; B block 384*144*8 = 432 KiB.
 * f32 8x48: A sliver 8*768*4 = 24 KiB; B block 768*144*4 = 432 KiB.
 * Unpacked up to 2^26 multiply-adds (use_sup says why). */
static const gemm_path avx512_path =
    SIMD_PATH(AVX512, avx512, 384, 1024, 144, 768, 1024, 144, 0x1p26);
#undef SIMD_PATH
#endif

/* paths is gemm's kernel table (internal.h), like BLIS's per-CPU context:
 * kernels and block sizes per path. */
CRUNCH__KERNEL_TABLE(paths, gemm_path *const, &generic_path, &avx2_path, &avx512_path);

static inline size_t min_size(size_t x, size_t y)
{
    return x < y ? x : y;
}

/* round_up returns x rounded up to a multiple of r > 0; the caller ensures
 * that it does not overflow. */
static inline size_t round_up(size_t x, size_t r)
{
    return (x + r - 1) / r * r;
}

/*
 * extent_ok reports whether a rows x cols matrix with leading dimension ld
 * and elements of es bytes spans a byte range that can exist: its last
 * element is at (rows-1)*ld + cols - 1, and objects are at most PTRDIFF_MAX
 * bytes. An empty matrix spans nothing.
 */
static int extent_ok(size_t rows, size_t cols, size_t ld, size_t es)
{
    size_t elems, bytes;
    if (rows == 0 || cols == 0)
        return 1;
    if (__builtin_mul_overflow(rows - 1, ld, &elems) || __builtin_add_overflow(elems, cols, &elems) ||
        __builtin_mul_overflow(elems, es, &bytes))
        return 0;
    return bytes <= (size_t)PTRDIFF_MAX;
}

/*
 * check_args validates a gemm call's arguments, for elements of es bytes,
 * as crunch.h states: leading dimensions are checked whatever the sizes
 * (as BLAS does), every matrix's byte extent must be representable, C must
 * be non-NULL when it is written (m, n > 0), and A and B when they are
 * read (m, n, k > 0 and alpha != 0, given as reads_ab).
 */
static crunch_status check_args(int ta, int tb, size_t m, size_t n, size_t k, int reads_ab,
                                const void *a, size_t lda, const void *b, size_t ldb,
                                const void *c, size_t ldc, size_t es)
{
    size_t a_rows = ta ? k : m, a_cols = ta ? m : k; /* A as stored */
    size_t b_rows = tb ? n : k, b_cols = tb ? k : n; /* B as stored */
    if (lda < (a_cols > 1 ? a_cols : 1) || ldb < (b_cols > 1 ? b_cols : 1) ||
        ldc < (n > 1 ? n : 1))
        return CRUNCH_EINVAL;
    if (!extent_ok(a_rows, a_cols, lda, es) || !extent_ok(b_rows, b_cols, ldb, es) ||
        !extent_ok(m, n, ldc, es))
        return CRUNCH_EINVAL;
    if (m > 0 && n > 0) {
        if (c == NULL)
            return CRUNCH_EINVAL;
        if (k > 0 && reads_ab && (a == NULL || b == NULL))
            return CRUNCH_EINVAL;
        /* C written while A and B are still read (packed a block at a
         * time, or read in place): no element of C may be one of theirs */
        if (k > 0 && reads_ab && (crunch__overlap(c, m, n, ldc, a, a_rows, a_cols, lda, es) ||
                                  crunch__overlap(c, m, n, ldc, b, b_rows, b_cols, ldb, es)))
            return CRUNCH_EINVAL;
    }
    return CRUNCH_OK;
}

/*
 * gemm_progress publishes progress in multiply-adds. When m*n*k does not
 * fit int64 (possible in principle: the byte checks allow m*n*k up to about
 * 2^95) every count is divided by 2^shift, with the remainder carried so
 * that nothing is lost between calls of progress_add.
 */
typedef struct gemm_progress {
    crunch_ctx *ctx;
    unsigned shift; /* published units are 2^shift multiply-adds; < 64 */
    uint64_t carry; /* multiply-adds not yet published, < 2^shift after each add */
    int64_t done;   /* units published so far */
    int64_t total;  /* units in the whole call */
} gemm_progress;

/* progress_init sets up pr for an m x n x k product and publishes its
 * total with zero done. */
static void progress_init(gemm_progress *pr, crunch_ctx *ctx, size_t m, size_t n, size_t k)
{
    uint64_t mn, mnk;
    pr->ctx = ctx;
    pr->shift = 0;
    pr->carry = 0;
    pr->done = 0;
    if (!__builtin_mul_overflow((uint64_t)m, (uint64_t)n, &mn) &&
        !__builtin_mul_overflow(mn, (uint64_t)k, &mnk) && mnk <= (uint64_t)INT64_MAX) {
        pr->total = (int64_t)mnk;
    } else {
        /* double has the range (not the precision) for m*n*k; the total
         * only needs to be close, and progress_finish makes done equal it. */
        double x = (double)m * (double)n * (double)k;
        while (x >= 0x1p62) {
            x *= 0.5;
            pr->shift++;
        }
        pr->total = (int64_t)x;
    }
    crunch__progress_begin(ctx, pr->total);
}

/* progress_add reports fmas more multiply-adds done. */
static void progress_add(gemm_progress *pr, uint64_t fmas)
{
    uint64_t units;
    pr->carry += fmas; /* fmas is one block's work (< 2^40): no overflow */
    units = pr->carry >> pr->shift;
    pr->carry -= units << pr->shift;
    if (units > 0) {
        pr->done += (int64_t)units;
        crunch__progress_add(pr->ctx, (int64_t)units);
    }
}

/* progress_finish makes done equal total after a successful call (the
 * scaled counts may round differently, and quick returns skip the work). */
static void progress_finish(gemm_progress *pr)
{
    if (pr->total != pr->done)
        crunch__progress_add(pr->ctx, pr->total - pr->done);
    pr->done = pr->total;
}

/*
 * use_sup reports whether an m x n x k product goes to path's unpacked
 * kernels. One A sliver (MR rows of k) must fit L1 as a packed one would
 * (k <= kc), and the product may have at most path->sup_mnk multiply-adds.
 * On AVX-512 (Zen 5), unpacked is as fast as packed or faster for every
 * square size up to 384 (n = 64: 1.4x for f64, 1.9x for f32) and slower
 * beyond about 400^3 multiply-adds: large strides of B read in place map
 * its rows onto a few cache sets, which packing avoids (2048 x 2048 x 64
 * f64: 69 against 95 GFLOP/s). With AVX2's narrower tiles the crossing
 * comes sooner (avx2_path). Each bound is a power of two near its
 * crossing; CRUNCH_GEMM_SUP_MNK overrides every path's at build time, for
 * measuring.
 */
static int use_sup(const gemm_path *path, const gemm_blocks *bs, size_t m, size_t n, size_t k)
{
#ifdef CRUNCH_GEMM_SUP_MNK
    const double bound = CRUNCH_GEMM_SUP_MNK;
#else
    const double bound = path->sup_mnk;
#endif
    return k <= bs->kc && (double)m * (double)n * (double)k <= bound;
}

/*
 * GEMM_TYPED(T, S, GMR, GNR) defines the typed half of the driver for
 * element type T and suffix S, with GMR x GNR the generic micro-kernel's
 * tile. Each function has its contract in the comment before it.
 */
#define GEMM_TYPED(T, S, GMR, GNR)                                                            \
                                                                                              \
    /* ukr_generic_S is the portable micro-kernel (gemm_template.h has the                     \
     * contract): plain loops over a GMR x GNR accumulator block, which the                   \
     * compiler keeps in registers and may vectorise with SSE2. It is also                    \
     * the obviously-right path. */                                                           \
    static void ukr_generic_##S(size_t kc, const T *restrict ap, const T *restrict bp,        \
                                T *restrict c, size_t ldc, T alpha, T beta)                   \
    {                                                                                         \
        T acc[GMR][GNR] = {{0}};                                                              \
        for (size_t p = 0; p < kc; p++, ap += GMR, bp += GNR)                                 \
            for (int i = 0; i < GMR; i++)                                                     \
                for (int j = 0; j < GNR; j++)                                                 \
                    acc[i][j] += ap[i] * bp[j];                                               \
        for (int i = 0; i < GMR; i++) {                                                       \
            T *row = c + (size_t)i * ldc;                                                     \
            for (int j = 0; j < GNR; j++) /* beta == 0: C is not read */                      \
                row[j] = beta == 0 ? alpha * acc[i][j] : alpha * acc[i][j] + beta * row[j];   \
        }                                                                                     \
    }                                                                                         \
                                                                                              \
    /* pack_sliver_S writes kc groups of w elements to dst, dst[p*w + i]                      \
     * being the element at src[i*rs + p*cs] for i < len and 0 for                            \
     * len <= i < w (the padding of an edge sliver). Always inlined, so that                  \
     * pack_S's constant widths unroll; rs == 1 (a group is contiguous) and                   \
     * cs == 1 (a group gathers w contiguous runs) get their own loops so                     \
     * that the compiler sees unit strides. */                                                \
    static inline __attribute__((always_inline)) void pack_sliver_##S(                        \
        size_t w, size_t len, size_t kc, const T *src, size_t rs, size_t cs, T *restrict dst) \
    {                                                                                         \
        if (len == w && rs == 1) {                                                            \
            for (size_t p = 0; p < kc; p++)                                                   \
                for (size_t i = 0; i < w; i++)                                                \
                    dst[p * w + i] = src[p * cs + i];                                         \
        } else if (len == w && cs == 1) {                                                     \
            /* w rows read in parallel: with rows a multiple of 4 KiB apart                   \
             * they share one L1 set, so take at most 8 at a time */                          \
            for (size_t i0 = 0; i0 < w; i0 += 8)                                              \
                for (size_t p = 0; p < kc; p++)                                               \
                    for (size_t i = i0; i < i0 + 8 && i < w; i++)                             \
                        dst[p * w + i] = src[i * rs + p];                                     \
        } else {                                                                              \
            for (size_t p = 0; p < kc; p++)                                                   \
                for (size_t i = 0; i < w; i++)                                                \
                    dst[p * w + i] = i < len ? src[i * rs + p * cs] : 0;                      \
        }                                                                                     \
    }                                                                                         \
                                                                                              \
    /* pack_S packs a block of len x kc elements, element (i, p) at                           \
     * src[i*rs + p*cs], into ceil(len/w) slivers of kc groups of w                           \
     * (pack_sliver_S's layout), the last one zero-padded. Both operands are                  \
     * packed this way:                                                                       \
     *   A (w = mr, i a row of op(A)):    rs, cs = lda, 1, or 1, lda when ta;                 \
     *   B (w = nr, i a column of op(B)): rs, cs = 1, ldb, or ldb, 1 when tb.                 \
     * The switch gives each width the kernels use a constant-width copy. */                  \
    static void pack_##S(size_t w, size_t len, size_t kc, const T *src, size_t rs, size_t cs, \
                         T *restrict dst)                                                     \
    {                                                                                         \
        for (size_t i0 = 0; i0 < len; i0 += w, dst += w * kc) {                               \
            size_t n_ = min_size(w, len - i0);                                                \
            const T *s_ = src + i0 * rs;                                                      \
            switch (w) {                                                                      \
            case 4: pack_sliver_##S(4, n_, kc, s_, rs, cs, dst); break;                       \
            case 6: pack_sliver_##S(6, n_, kc, s_, rs, cs, dst); break;                       \
            case 8: pack_sliver_##S(8, n_, kc, s_, rs, cs, dst); break;                       \
            case 16: pack_sliver_##S(16, n_, kc, s_, rs, cs, dst); break;                     \
            case 24: pack_sliver_##S(24, n_, kc, s_, rs, cs, dst); break;                     \
            case 48: pack_sliver_##S(48, n_, kc, s_, rs, cs, dst); break;                     \
            default: pack_sliver_##S(w, n_, kc, s_, rs, cs, dst); break;                      \
            }                                                                                 \
        }                                                                                     \
    }                                                                                         \
                                                                                              \
    /* scale_c_S sets the m x n matrix C to beta * C, storing zeros without                   \
     * reading C when beta == 0. Polls cancel by work done (internal.h);                     \
     * returns CRUNCH_ECANCELED or CRUNCH_OK. */                                              \
    static crunch_status scale_c_##S(const crunch_ctx *ctx, size_t m, size_t n, T beta, T *c, \
                                     size_t ldc)                                              \
    {                                                                                         \
        if (beta == 1)                                                                        \
            return CRUNCH_OK; /* C = 1 * C: nothing to do, and NaN stays NaN */               \
        crunch__poll pl;                                                                      \
        crunch__poll_init(&pl, ctx);                                                          \
        for (size_t i = 0; i < m; i++) {                                                      \
            T *row = c + i * ldc;                                                             \
            for (size_t j0 = 0; j0 < n;) { /* one row may be far beyond the budget */         \
                size_t j1 = j0 + crunch__poll_span(&pl, 1, n - j0);                           \
                for (size_t j = j0; j < j1; j++)                                              \
                    row[j] = beta == 0 ? 0 : beta * row[j];                                   \
                if (crunch__poll_work(&pl, (int64_t)(j1 - j0) + CRUNCH__POLL_ITEM))           \
                    return CRUNCH_ECANCELED;                                                  \
                j0 = j1;                                                                      \
            }                                                                                 \
        }                                                                                     \
        return CRUNCH_OK;                                                                     \
    }                                                                                         \
                                                                                              \
    /* merge_S stores the rows x cols top-left corner of tile (row stride                     \
     * ldt) into C as tile + beta * C, without reading C when beta == 0. */                   \
    static void merge_##S(size_t rows, size_t cols, const T *tile, size_t ldt, T beta, T *c,  \
                          size_t ldc)                                                         \
    {                                                                                         \
        for (size_t i = 0; i < rows; i++)                                                     \
            for (size_t j = 0; j < cols; j++)                                                 \
                c[i * ldc + j] = beta == 0 ? tile[i * ldt + j]                                \
                                           : tile[i * ldt + j] + beta * c[i * ldc + j];       \
    }                                                                                         \
                                                                                              \
    /* macro_S computes C = alpha * Ablock * Bblock + beta * C for the packed                 \
     * mc x kc block ap and kc x nc block bp (as pack_S lays them out)         \
     * and the mc x nc block of C at c, tile by tile with the                       \
     * path's micro-kernel. After each B sliver it reports progress and polls                 \
     * cancel: returns CRUNCH_ECANCELED or CRUNCH_OK. */                                      \
    static crunch_status macro_##S(const gemm_blocks *bs, crunch__gemm_ukr_##S ukr,           \
                                   crunch__gemm_sup_##S sup, size_t mc, size_t nc,            \
                                   size_t kc, T alpha, const T *ap,                           \
                                   const T *bp, T beta, T *c, size_t ldc, gemm_progress *pr)  \
    {                                                                                         \
        const size_t mr = bs->mr, nr = bs->nr;                                                \
        _Alignas(64) T tile[CRUNCH__GEMM_MAX_TILE]; /* edge tiles; gemm_template.h: fits */ \
        for (size_t i0 = 0; i0 < mc; i0 += mr) {                                              \
            size_t rows = min_size(mr, mc - i0);                                              \
            const T *a_sliver = ap + i0 * kc; /* sliver i0/mr starts at (i0/mr)*mr*kc */      \
            for (size_t j0 = 0; j0 < nc; j0 += nr) {                                          \
                size_t cols = min_size(nr, nc - j0);                                          \
                const T *b_sliver = bp + j0 * kc;                                             \
                T *ct = c + i0 * ldc + j0;                                                    \
                if (rows == mr && cols == nr) {                                               \
                    ukr(kc, a_sliver, b_sliver, ct, ldc, alpha, beta);                        \
                } else if (sup != NULL) { /* the tile sticks out of C: in place */            \
                    sup(kc, a_sliver, 1, mr, b_sliver, nr, ct, ldc, alpha, beta, rows, cols); \
                } else { /* ... and this path computes it aside, then merges */              \
                    ukr(kc, a_sliver, b_sliver, tile, nr, alpha, 0);                          \
                    merge_##S(rows, cols, tile, nr, beta, ct, ldc);                           \
                }                                                                             \
            }                                                                                 \
            progress_add(pr, (uint64_t)rows * nc * kc);                                       \
            if (crunch__canceled(pr->ctx))                                                    \
                return CRUNCH_ECANCELED;                                                      \
        }                                                                                     \
        return CRUNCH_OK;                                                                     \
    }                                                                                         \
                                                                                              \
    /* sup_S computes C = alpha * op(A) * op(B) + beta * C (m, n, k > 0)                      \
     * with the path's unpacked kernel: A is read in place, and B too                        \
     * unless it is transposed (its rows are then packed into slivers, as                    \
     * the packed path does). Cancel is polled, and progress reported,                       \
     * after each row of tiles. Returns CRUNCH_OK, CRUNCH_ECANCELED or                        \
     * CRUNCH_ENOMEM. */                                                                      \
    static crunch_status sup_##S(const gemm_blocks *bs, crunch__gemm_sup_##S sup, int ta,    \
                                 int tb, size_t m, size_t n, size_t k, T alpha, const T *a,  \
                                 size_t lda, const T *b, size_t ldb, T beta, T *c,           \
                                 size_t ldc, gemm_progress *pr)                              \
    {                                                                                         \
        const size_t mr = bs->mr, nr = bs->nr;                                                \
        const size_t rsa = ta ? 1 : lda, csa = ta ? lda : 1; /* A(i,p) = a[i*rsa + p*csa] */ \
        T *bp = NULL;                                                                         \
        size_t cap = 0;                                                                       \
        if (tb) { /* op(B)[p][j] = b[j*ldb + p]: packed a block at a time */                  \
            bp = crunch__scratch_get(k * round_up(min_size(bs->nc, n), nr) * sizeof(T), &cap); \
            if (bp == NULL)                                                                   \
                return CRUNCH_ENOMEM;                                                         \
        }                                                                                     \
        crunch_status st = CRUNCH_OK;                                                         \
        /* Blocks of nc columns, as the packed path: k x nc of B stays in                     \
         * L2 while every row of tiles of the block reads it. */                              \
        for (size_t jc = 0; jc < n && st == CRUNCH_OK; jc += bs->nc) {                        \
            size_t nc = min_size(bs->nc, n - jc);                                             \
            if (tb)                                                                           \
                pack_##S(nr, nc, k, b + jc * ldb, ldb, 1, bp);                                \
            for (size_t i0 = 0; i0 < m; i0 += mr) {                                           \
                size_t rows = min_size(mr, m - i0);                                           \
                for (size_t j0 = jc; j0 < jc + nc; j0 += nr) {                                \
                    size_t cols = min_size(nr, jc + nc - j0);                                 \
                    /* packed: the block's sliver (j0-jc)/nr, k groups of nr */               \
                    const T *bj = tb ? bp + (j0 - jc) * k : b + j0;                           \
                    sup(k, a + i0 * rsa, rsa, csa, bj, tb ? nr : ldb, c + i0 * ldc + j0, ldc, \
                        alpha, beta, rows, cols);                                             \
                }                                                                             \
                progress_add(pr, (uint64_t)rows * nc * k);                                    \
                if (crunch__canceled(pr->ctx)) {                                              \
                    st = CRUNCH_ECANCELED;                                                    \
                    break;                                                                    \
                }                                                                             \
            }                                                                                 \
        }                                                                                     \
        crunch__scratch_put(bp, cap);                                                         \
        return st;                                                                            \
    }                                                                                         \
                                                                                              \
    GEMM_PARALLEL_TYPED(T, S)                                                                 \
                                                                                              \
    /* gemm_S is crunch_gemm_f64 / crunch_gemm_f32 (crunch.h has the                          \
     * contract) for element type T. */                                                       \
    static crunch_status gemm_##S(crunch_ctx *ctx, int ta, int tb, size_t m, size_t n,        \
                                  size_t k, T alpha, const T *a, size_t lda, const T *b,      \
                                  size_t ldb, T beta, T *c, size_t ldc)                       \
    {                                                                                         \
        gemm_progress pr;                                                                     \
        crunch_status st = check_args(ta, tb, m, n, k, alpha != 0, a, lda, b, ldb, c, ldc,    \
                                      sizeof(T));                                             \
        if (st != CRUNCH_OK)                                                                  \
            return st;                                                                        \
        if (crunch__canceled(ctx))                                                            \
            return CRUNCH_ECANCELED;                                                          \
        progress_init(&pr, ctx, m, n, k);                                                     \
        if (m == 0 || n == 0)                                                                 \
            return CRUNCH_OK;                                                                 \
        if (k == 0 || alpha == 0) { /* C = beta * C; A and B are not read */                  \
            st = scale_c_##S(ctx, m, n, beta, c, ldc);                                        \
            if (st == CRUNCH_OK)                                                              \
                progress_finish(&pr);                                                         \
            return st;                                                                        \
        }                                                                                     \
                                                                                              \
        const gemm_path *path = CRUNCH__PICK(paths, ctx);                                     \
        const gemm_blocks *bs = &path->S;                                                     \
        crunch__gemm_ukr_##S ukr = path->ukr_##S;                                             \
        if (path->sup_##S != NULL && use_sup(path, bs, m, n, k)) {                            \
            st = sup_##S(bs, path->sup_##S, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c,  \
                         ldc, &pr);                                                           \
            if (st == CRUNCH_OK)                                                              \
                progress_finish(&pr);                                                         \
            return st;                                                                        \
        }                                                                                     \
        if (crunch__threads(ctx) > 1) {                                                       \
            st = gemm_par_##S(ctx, path, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, \
                              &pr);                                                           \
            if (st == CRUNCH_OK)                                                              \
                progress_finish(&pr);                                                         \
            return st;                                                                        \
        }                                                                                     \
        /* Buffers as large as this call needs, at most one block each,                       \
         * whole slivers (a block's last sliver is padded to mr or nr). */                    \
        size_t kc_max = min_size(bs->kc, k);                                                  \
        size_t mc_max = round_up(min_size(bs->mc, m), bs->mr);                                \
        size_t nc_max = round_up(min_size(bs->nc, n), bs->nr);                                \
        /* One scratch buffer holds both, B's part on a cache line of its                     \
         * own; the sizes are bounded by the blocks, so nothing overflows. */                 \
        size_t a_bytes = round_up(mc_max * kc_max * sizeof(T), 64), cap;                      \
        T *ap = crunch__scratch_get(a_bytes + kc_max * nc_max * sizeof(T), &cap);             \
        if (ap == NULL)                                                                       \
            return CRUNCH_ENOMEM;                                                             \
        T *bp = (T *)((char *)ap + a_bytes);                                                  \
        /* Rows of A per packed piece: whole slivers, an eighth of a poll's                   \
         * budget, since the first call's buffer is fresh memory and its                      \
         * first touch can cost a page fault per 4 KiB (10-20 us in a VM). */                 \
        size_t a_rows = (size_t)CRUNCH__POLL_WORK / 8 / kc_max / bs->mr * bs->mr;             \
        a_rows = a_rows > bs->mr ? a_rows : bs->mr;                                           \
                                                                                              \
        for (size_t ic = 0; ic < m && st == CRUNCH_OK; ic += bs->mc) {                        \
            size_t mc = min_size(bs->mc, m - ic);                                             \
            for (size_t pc = 0; pc < k && st == CRUNCH_OK; pc += bs->kc) {                    \
                size_t kc = min_size(bs->kc, k - pc);                                         \
                /* A block is up to mc x kc (a million elements): packed in                   \
                 * pieces of whole slivers, polling after each. */                            \
                for (size_t i0 = 0; i0 < mc && st == CRUNCH_OK; i0 += a_rows) {               \
                    size_t len = min_size(a_rows, mc - i0);                                   \
                    if (ta) /* op(A)[i][p] = a[p*lda + i] */                                  \
                        pack_##S(bs->mr, len, kc, a + pc * lda + ic + i0, 1, lda,             \
                                 ap + i0 * kc);                                               \
                    else /* op(A)[i][p] = a[i*lda + p] */                                     \
                        pack_##S(bs->mr, len, kc, a + (ic + i0) * lda + pc, lda, 1,           \
                                 ap + i0 * kc);                                               \
                    if (crunch__canceled(ctx))                                                \
                        st = CRUNCH_ECANCELED;                                                \
                }                                                                             \
                /* Later KC blocks add to what the first one stored. */                       \
                T beta_blk = pc == 0 ? beta : 1;                                              \
                for (size_t jc = 0; jc < n && st == CRUNCH_OK; jc += bs->nc) {                \
                    size_t nc = min_size(bs->nc, n - jc);                                     \
                    if (tb) /* op(B)[p][j] = b[j*ldb + p] */                                  \
                        pack_##S(bs->nr, nc, kc, b + jc * ldb + pc, ldb, 1, bp);              \
                    else /* op(B)[p][j] = b[p*ldb + j] */                                     \
                        pack_##S(bs->nr, nc, kc, b + pc * ldb + jc, 1, ldb, bp);              \
                    st = macro_##S(bs, ukr, path->sup_##S, mc, nc, kc, alpha, ap, bp,        \
                                   beta_blk,                                                  \
                                   c + ic * ldc + jc, ldc, &pr);                              \
                }                                                                             \
            }                                                                                 \
        }                                                                                     \
        crunch__scratch_put(ap, cap);                                                         \
        if (st == CRUNCH_OK)                                                                  \
            progress_finish(&pr);                                                             \
        return st;                                                                            \
    }

GEMM_TYPED(double, f64, CRUNCH__GEMM_GENERIC_F64_MR, CRUNCH__GEMM_GENERIC_F64_NR)
GEMM_TYPED(float, f32, CRUNCH__GEMM_GENERIC_F32_MR, CRUNCH__GEMM_GENERIC_F32_NR)

crunch_status crunch_gemm_f64(crunch_ctx *ctx, int trans_a, int trans_b, size_t m, size_t n,
                              size_t k, double alpha, const double *a, size_t lda,
                              const double *b, size_t ldb, double beta, double *c, size_t ldc)
{
    return gemm_f64(ctx, trans_a != 0, trans_b != 0, m, n, k, alpha, a, lda, b, ldb, beta, c,
                    ldc);
}

crunch_status crunch_gemm_f32(crunch_ctx *ctx, int trans_a, int trans_b, size_t m, size_t n,
                              size_t k, float alpha, const float *a, size_t lda, const float *b,
                              size_t ldb, float beta, float *c, size_t ldc)
{
    return gemm_f32(ctx, trans_a != 0, trans_b != 0, m, n, k, alpha, a, lda, b, ldb, beta, c,
                    ldc);
}
