/*
 * gemm_parallel.h - gemm's parallel driver, for a ctx with a runner
 * (crunch_ctx_set_runner). Included once by gemm.c, whose GEMM_TYPED
 * stamps it out per element type next to the serial driver, with whose
 * packing routines, macro-kernel and progress accounting it shares
 * everything but the loops.
 *
 * The loops are the serial driver's, with the packed panels shared by
 * every thread (BLIS's way of parallelising its ic and jc loops):
 *
 *   for ic in m step MC:
 *     for pc in k step KC:
 *       for jp in n step PANEL_BLOCKS * NC:
 *         round 1: pack op(A)[ic:ic+mc, pc:pc+kc] (when jp == 0) in groups
 *                  of ROW_GROUP rows, and op(B)[pc:pc+kc, jp:jp+np] in
 *                  blocks of NC columns: one item per group or block;
 *         round 2: for each ROW_GROUP rows x NC columns of the C block,
 *                  one item: the macro-kernel on that part.
 *
 * A round is a crunch__parallel call, so the packed panels are complete
 * before the round that reads them starts. The A block sits in L3 and is
 * read by every thread; an item's B block moves into its thread's L2
 * once and is then streamed ROW_GROUP / MR times, as the serial driver
 * streams it MC / MR times. The B panel is packed once per (ic, pc, jp),
 * which is as often as the serial driver packs the same columns.
 *
 * Identical results on any number of threads: every tile of C is the same
 * micro-kernel (or edge kernel) call over the same packed data as in the
 * serial driver, because ROW_GROUP is a multiple of MR and NC of NR (so
 * tiles start where the serial driver's start, and only the matrix's edge
 * tiles are partial), and every tile sees the KC blocks in the same order
 * with the same beta. So a parallel product equals the serial one bit for
 * bit, whatever the threads.
 */
#ifndef CRUNCH_GEMM_PARALLEL_H
#define CRUNCH_GEMM_PARALLEL_H

enum {
    /* NC blocks in a packed B panel: 8 * 144 columns * 384 deep of f64 is
     * 3.4 MiB, beside a 3 MiB A block in L3; enough items per round for a
     * few threads to balance. */
    PANEL_BLOCKS = 8,
    /* Rows of C per item (rounded down to a multiple of MR): a B block
     * loaded from L3 is used by ROW_GROUP / MR slivers of A; an item of
     * 256 x 144 x 384 multiply-adds is about a quarter of a millisecond. */
    ROW_GROUP = 256
};

/*
 * GEMM_PARALLEL_TYPED(T, S) defines gemm_par_S, the parallel driver for
 * element type T: it needs GEMM_TYPED's pack_S and macro_S, and is
 * expanded inside GEMM_TYPED after them.
 */
#define GEMM_PARALLEL_TYPED(T, S)                                                             \
                                                                                              \
    /* par_S: one parallel product's state, shared by its items. The                          \
     * fields after "the current block" change between rounds only. */                        \
    typedef struct par_##S {                                                                  \
        const gemm_blocks *bs;                                                                \
        crunch__gemm_ukr_##S ukr;                                                             \
        crunch__gemm_sup_##S sup;                                                             \
        int ta, tb;                                                                           \
        size_t m, n, k, rg;                                                                   \
        T alpha, beta;                                                                        \
        const T *a, *b;                                                                       \
        size_t lda, ldb, ldc;                                                                 \
        T *c;                                                                                 \
        T *ap, *bp;            /* the packed A block and B panel */                           \
        const gemm_progress *pr; /* the call's: ctx and units */                              \
        int64_t done;          /* units published by items; atomic */                         \
        /* the current block */                                                               \
        size_t ic, mc, pc, kc, jp, np;                                                        \
        size_t a_items;        /* round 1's items that pack A (0: packed already) */          \
    } par_##S;                                                                                \
                                                                                              \
    /* par_pack_S packs group i of the A block or, past a_items, block                        \
     * i - a_items of the B panel (crunch__item_fn). */                                       \
    static crunch_status par_pack_##S(void *arg, size_t i)                                    \
    {                                                                                         \
        const par_##S *p = arg;                                                               \
        if (i < p->a_items) {                                                                 \
            size_t r0 = i * p->rg, rows = min_size(p->rg, p->mc - r0);                        \
            size_t ic = p->ic + r0;                                                           \
            T *dst = p->ap + r0 * p->kc; /* whole slivers: r0 is a multiple of mr */          \
            if (p->ta)                                                                        \
                pack_##S(p->bs->mr, rows, p->kc, p->a + p->pc * p->lda + ic, 1, p->lda, dst); \
            else                                                                              \
                pack_##S(p->bs->mr, rows, p->kc, p->a + ic * p->lda + p->pc, p->lda, 1, dst); \
            return CRUNCH_OK;                                                                 \
        }                                                                                     \
        size_t j0 = (i - p->a_items) * p->bs->nc, cols = min_size(p->bs->nc, p->np - j0);     \
        size_t jc = p->jp + j0;                                                               \
        T *dst = p->bp + j0 * p->kc; /* whole slivers: j0 is a multiple of nr */              \
        if (p->tb)                                                                            \
            pack_##S(p->bs->nr, cols, p->kc, p->b + jc * p->ldb + p->pc, p->ldb, 1, dst);     \
        else                                                                                  \
            pack_##S(p->bs->nr, cols, p->kc, p->b + p->pc * p->ldb + jc, 1, p->ldb, dst);     \
        return CRUNCH_OK;                                                                     \
    }                                                                                         \
                                                                                              \
    /* par_compute_S runs the macro-kernel on item i's rows and columns of                    \
     * the current C block: column block i / groups, row group i % groups                     \
     * (crunch__item_fn). */                                                                  \
    static crunch_status par_compute_##S(void *arg, size_t i)                                 \
    {                                                                                         \
        par_##S *p = arg;                                                                     \
        size_t groups = (p->mc + p->rg - 1) / p->rg;                                          \
        size_t r0 = i % groups * p->rg, rows = min_size(p->rg, p->mc - r0);                   \
        size_t j0 = i / groups * p->bs->nc, cols = min_size(p->bs->nc, p->np - j0);           \
        /* Its own accounting, summed into the call's at the end. */                          \
        gemm_progress local = *p->pr;                                                         \
        local.carry = 0;                                                                      \
        local.done = 0;                                                                       \
        crunch_status st = macro_##S(p->bs, p->ukr, p->sup, rows, cols, p->kc, p->alpha,      \
                                     p->ap + r0 * p->kc, p->bp + j0 * p->kc,                  \
                                     p->pc == 0 ? p->beta : 1,                                \
                                     p->c + (p->ic + r0) * p->ldc + p->jp + j0, p->ldc,       \
                                     &local);                                                 \
        __atomic_fetch_add(&p->done, local.done, __ATOMIC_RELAXED);                           \
        return st;                                                                            \
    }                                                                                         \
                                                                                              \
    /* gemm_par_S computes C = alpha * op(A) * op(B) + beta * C (m, n, k >                    \
     * 0, alpha != 0) as the file comment says, on ctx's runner. Returns                      \
     * CRUNCH_OK, CRUNCH_ENOMEM or CRUNCH_ECANCELED; publishes progress                       \
     * through pr but leaves progress_finish to the caller. */                                \
    static crunch_status gemm_par_##S(crunch_ctx *ctx, const gemm_path *path, int ta, int tb, \
                                      size_t m, size_t n, size_t k, T alpha, const T *a,      \
                                      size_t lda, const T *b, size_t ldb, T beta, T *c,       \
                                      size_t ldc, gemm_progress *pr)                          \
    {                                                                                         \
        const gemm_blocks *bs = &path->S;                                                     \
        par_##S p = {.bs = bs, .ukr = path->ukr_##S, .sup = path->sup_##S, .ta = ta,          \
                     .tb = tb, .m = m, .n = n, .k = k, .alpha = alpha, .beta = beta,          \
                     .a = a, .b = b, .lda = lda, .ldb = ldb, .ldc = ldc, .c = c, .pr = pr};   \
        p.rg = ROW_GROUP / bs->mr * bs->mr; /* whole slivers */                               \
        size_t kc_max = min_size(bs->kc, k);                                                  \
        size_t mc_max = round_up(min_size(bs->mc, m), bs->mr);                                \
        size_t np_max = round_up(min_size(PANEL_BLOCKS * bs->nc, n), bs->nr);                 \
        /* Sizes bounded by the blocks: nothing overflows. */                                 \
        size_t a_bytes = round_up(mc_max * kc_max * sizeof(T), 64);                           \
        crunch__bigbuf buf;                                                                   \
        crunch__bigbuf_alloc(&buf, a_bytes + kc_max * np_max * sizeof(T));                    \
        if (buf.p == NULL)                                                                    \
            return CRUNCH_ENOMEM;                                                             \
        p.ap = buf.p;                                                                         \
        p.bp = (T *)((char *)buf.p + a_bytes);                                                \
        crunch_status st = CRUNCH_OK;                                                         \
        for (p.ic = 0; p.ic < m && st == CRUNCH_OK; p.ic += bs->mc) {                         \
            p.mc = min_size(bs->mc, m - p.ic);                                                \
            size_t groups = (p.mc + p.rg - 1) / p.rg;                                         \
            for (p.pc = 0; p.pc < k && st == CRUNCH_OK; p.pc += bs->kc) {                     \
                p.kc = min_size(bs->kc, k - p.pc);                                            \
                p.a_items = groups; /* A is packed with the first panel of B */               \
                for (p.jp = 0; p.jp < n && st == CRUNCH_OK; p.jp += PANEL_BLOCKS * bs->nc) {  \
                    p.np = min_size(PANEL_BLOCKS * bs->nc, n - p.jp);                         \
                    size_t blocks = (p.np + bs->nc - 1) / bs->nc;                             \
                    st = crunch__parallel(ctx, p.a_items + blocks, par_pack_##S, &p);         \
                    if (st == CRUNCH_OK)                                                      \
                        st = crunch__parallel(ctx, groups * blocks, par_compute_##S, &p);     \
                    p.a_items = 0;                                                            \
                }                                                                             \
            }                                                                                 \
        }                                                                                     \
        crunch__bigbuf_free(&buf);                                                            \
        pr->done = __atomic_load_n(&p.done, __ATOMIC_RELAXED);                                \
        return st;                                                                            \
    }

#endif /* CRUNCH_GEMM_PARALLEL_H */
