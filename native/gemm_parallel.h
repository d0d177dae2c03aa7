/*
 * gemm_parallel.h - gemm's parallel driver, for a ctx with a runner
 * (crunch_ctx_set_runner). Included once by gemm.c, whose GEMM_TYPED
 * stamps it out per element type next to the serial driver, with whose
 * packing routines, macro-kernel and progress accounting it shares
 * everything but the loops.
 *
 * The loops are the serial driver's, with the packed panels shared by
 * every thread (BLIS's way of parallelising its ic and jc loops). A step
 * is one block of the serial driver's loops,
 *
 *   for ic in m step MC:
 *     for pc in k step KC:
 *       for jp in n step PANEL_BLOCKS * NC:   one step (ic, pc, jp)
 *
 * and each step has two parts: packing op(A)[ic:ic+mc, pc:pc+kc] (when
 * jp == 0; one item per ROW_GROUP rows) and op(B)[pc:pc+kc, jp:jp+np]
 * (one item per NC columns); then computing its C block, one item per
 * ROW_GROUP rows x NC columns: the macro-kernel on that part.
 *
 * Round r (a crunch__parallel call) computes step r - 1 and packs step
 * r, into the other of two sets of buffers: packing, which is bound by
 * memory, overlaps computing, which is bound by the FMA units, and a
 * call has one round per step plus one, not two per step. A round's
 * compute items come first and its pack items last, so that the small
 * pack items fill the end of the round on whichever thread finishes
 * first. A round ends when all its items did, so a step's panels are
 * complete before the round that reads them starts, and a buffer set is
 * packed again only after the round that read it ended.
 *
 * The A block sits in L3 and is read by every thread; an item's B block
 * moves into its thread's L2 once and is then streamed ROW_GROUP / MR
 * times, as the serial driver streams it MC / MR times. The B panel is
 * packed once per step, which is as often as the serial driver packs the
 * same columns.
 *
 * Identical results on any number of threads: every tile of C is the same
 * micro-kernel (or edge kernel) call over the same packed data as in the
 * serial driver, because ROW_GROUP is a multiple of MR and NC of NR (so
 * tiles start where the serial driver's start, and only the matrix's edge
 * tiles are partial), and every tile sees the KC blocks in the same order
 * (steps are computed one round after another) with the same beta. So a
 * parallel product equals the serial one bit for bit, whatever the
 * threads.
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
    /* step_S: one step of the loops, with the buffers it is packed into. */                  \
    typedef struct step_##S {                                                                 \
        size_t ic, mc, pc, kc, jp, np;                                                        \
        size_t groups, blocks; /* ROW_GROUP row groups, NC column blocks */                   \
        size_t a_items;        /* groups when it packs A (jp == 0), else 0 */                 \
        T *ap, *bp;            /* its packed A block and B panel */                           \
    } step_##S;                                                                               \
                                                                                              \
    /* par_S: one parallel product's state, shared by its items. The                          \
     * steps change between rounds only. */                                                   \
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
        const gemm_progress *pr; /* the call's: ctx and units */                              \
        int64_t done;            /* units published by items; atomic */                       \
        step_##S compute, pack;  /* this round's; n == 0: none */                             \
        size_t compute_items;    /* this round's, before its pack items */                    \
    } par_##S;                                                                                \
                                                                                              \
    /* pack_item_S packs group i of st's A block or, past a_items, block                      \
     * i - a_items of its B panel. */                                                         \
    static void pack_item_##S(const par_##S *p, const step_##S *st, size_t i)                 \
    {                                                                                         \
        if (i < st->a_items) {                                                                \
            size_t r0 = i * p->rg, rows = min_size(p->rg, st->mc - r0);                       \
            size_t ic = st->ic + r0;                                                          \
            T *dst = st->ap + r0 * st->kc; /* whole slivers: r0 is a multiple of mr */        \
            if (p->ta)                                                                        \
                pack_##S(p->bs->mr, rows, st->kc, p->a + st->pc * p->lda + ic, 1, p->lda,     \
                         dst);                                                                \
            else                                                                              \
                pack_##S(p->bs->mr, rows, st->kc, p->a + ic * p->lda + st->pc, p->lda, 1,     \
                         dst);                                                                \
            return;                                                                           \
        }                                                                                     \
        size_t j0 = (i - st->a_items) * p->bs->nc, cols = min_size(p->bs->nc, st->np - j0);   \
        size_t jc = st->jp + j0;                                                              \
        T *dst = st->bp + j0 * st->kc; /* whole slivers: j0 is a multiple of nr */            \
        if (p->tb)                                                                            \
            pack_##S(p->bs->nr, cols, st->kc, p->b + jc * p->ldb + st->pc, p->ldb, 1, dst);   \
        else                                                                                  \
            pack_##S(p->bs->nr, cols, st->kc, p->b + st->pc * p->ldb + jc, 1, p->ldb, dst);   \
    }                                                                                         \
                                                                                              \
    /* par_item_S runs item i of the round: below compute_items, the                          \
     * macro-kernel on column block i / groups, row group i % groups of                       \
     * the compute step's C block; past them, a part of the pack step                         \
     * (crunch__item_fn). */                                                                  \
    static crunch_status par_item_##S(void *arg, size_t i)                                    \
    {                                                                                         \
        par_##S *p = arg;                                                                     \
        if (i >= p->compute_items) {                                                          \
            pack_item_##S(p, &p->pack, i - p->compute_items);                                 \
            return CRUNCH_OK;                                                                 \
        }                                                                                     \
        const step_##S *st = &p->compute;                                                     \
        size_t r0 = i % st->groups * p->rg, rows = min_size(p->rg, st->mc - r0);              \
        size_t j0 = i / st->groups * p->bs->nc, cols = min_size(p->bs->nc, st->np - j0);      \
        /* Its own accounting, summed into the call's at the end. */                          \
        gemm_progress local = *p->pr;                                                         \
        local.carry = 0;                                                                      \
        local.done = 0;                                                                       \
        crunch_status status = macro_##S(                                                     \
            p->bs, p->ukr, p->sup, rows, cols, st->kc, p->alpha, st->ap + r0 * st->kc,        \
            st->bp + j0 * st->kc, st->pc == 0 ? p->beta : 1,                                  \
            p->c + (st->ic + r0) * p->ldc + st->jp + j0, p->ldc, &local);                     \
        __atomic_fetch_add(&p->done, local.done, __ATOMIC_RELAXED);                           \
        return status;                                                                        \
    }                                                                                         \
                                                                                              \
    /* next_step_S moves st to the step after it in the serial driver's                       \
     * order (from a zeroed st: the first); false after the last. Buffers                     \
     * alternate: B's every step, A's every new A block, so a step never                      \
     * packs into the buffers the step before it reads. */                                    \
    static int next_step_##S(const par_##S *p, step_##S *st, T *const ap[2], T *const bp[2])  \
    {                                                                                         \
        const gemm_blocks *bs = p->bs;                                                        \
        if (st->np == 0) {                                                                    \
            *st = (step_##S){.ap = ap[1], .bp = bp[1]}; /* flipped below to [0] */            \
        } else if ((st->jp += PANEL_BLOCKS * bs->nc) >= p->n) {                               \
            st->jp = 0;                                                                       \
            if ((st->pc += bs->kc) >= p->k) {                                                 \
                st->pc = 0;                                                                   \
                if ((st->ic += bs->mc) >= p->m)                                               \
                    return 0;                                                                 \
            }                                                                                 \
        }                                                                                     \
        st->mc = min_size(bs->mc, p->m - st->ic);                                             \
        st->kc = min_size(bs->kc, p->k - st->pc);                                             \
        st->np = min_size(PANEL_BLOCKS * bs->nc, p->n - st->jp);                              \
        st->groups = (st->mc + p->rg - 1) / p->rg;                                            \
        st->blocks = (st->np + bs->nc - 1) / bs->nc;                                          \
        st->a_items = st->jp == 0 ? st->groups : 0;                                           \
        st->bp = st->bp == bp[0] ? bp[1] : bp[0];                                             \
        if (st->jp == 0)                                                                      \
            st->ap = st->ap == ap[0] ? ap[1] : ap[0];                                         \
        return 1;                                                                             \
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
        /* Sizes bounded by the blocks: nothing overflows. Two sets, each                     \
         * on whole cache lines, at most 13 MiB: huge pages, whose TLB reach                  \
         * a long product needs (4 KiB pages cost gemm 2048 9% on 2                           \
         * threads), kept between calls by bigbuf.c (a fresh mapping's                        \
         * faults cost 0.8 ms of a 4.7 ms product at n = 512). */                             \
        size_t a_bytes = round_up(mc_max * kc_max * sizeof(T), 64);                           \
        size_t b_bytes = round_up(kc_max * np_max * sizeof(T), 64);                           \
        crunch__bigbuf buf;                                                                   \
        crunch__bigbuf_alloc(&buf, 2 * (a_bytes + b_bytes));                                  \
        if (buf.p == NULL)                                                                    \
            return CRUNCH_ENOMEM;                                                             \
        char *base = buf.p;                                                                   \
        T *const ap[2] = {(T *)base, (T *)(base + a_bytes)};                                  \
        T *const bp[2] = {(T *)(base + 2 * a_bytes), (T *)(base + 2 * a_bytes + b_bytes)};    \
        crunch_status st = CRUNCH_OK;                                                         \
        int more = next_step_##S(&p, &p.pack, ap, bp); /* m, n, k > 0: a first step */        \
        p.compute.np = 0;                                                                     \
        while (st == CRUNCH_OK && (more || p.compute.np > 0)) {                               \
            p.compute_items = p.compute.np > 0 ? p.compute.groups * p.compute.blocks : 0;     \
            size_t pack_items = more ? p.pack.a_items + p.pack.blocks : 0;                    \
            st = crunch__parallel(ctx, p.compute_items + pack_items, par_item_##S, &p);       \
            /* The step packed now is computed next round. */                                 \
            p.compute = p.pack;                                                               \
            if (!more)                                                                        \
                p.compute.np = 0;                                                             \
            else if (!(more = next_step_##S(&p, &p.pack, ap, bp)))                            \
                p.pack.np = 0;                                                                \
        }                                                                                     \
        crunch__bigbuf_free(&buf);                                                            \
        pr->done = __atomic_load_n(&p.done, __ATOMIC_RELAXED);                                \
        return st;                                                                            \
    }

#endif /* CRUNCH_GEMM_PARALLEL_H */
