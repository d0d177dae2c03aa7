/*
 * sort_parallel.h - the sorts' parallel driver, for a ctx with a runner
 * (crunch_ctx_set_runner). Included once by sort.c, whose SORT_TYPED
 * stamps it out per element type next to the serial sort, with whose key
 * map, NaN test and loads it shares everything but the loops.
 *
 * The serial sort's LSD radix sort (sort.c), on digits of DBITS bits
 * rather than bytes, each pass cut into chunks of PCHUNK elements of the
 * pass's input, one item per chunk:
 *
 *   NaN round (floats only): each chunk counts its NaNs. When there are
 *     any, a compaction round copies each chunk's other elements to the
 *     work buffer after those of the chunks before it, and its NaNs, in
 *     order, behind all of them (at m, the count of the others). The NaNs
 *     stay there until the end.
 *   Per digit: a count round, each chunk counting its elements by the
 *     digit; then, on the calling thread, each chunk's offset for each
 *     digit value: after every element of a smaller value, and after the
 *     elements of that value in earlier chunks (a digit every key shares
 *     skips the pass, as a byte does in the serial sort); then a scatter round, each
 *     chunk moving its elements to its offsets, in order.
 *   A last round copies the result into x when it ended in the buffer.
 *
 * Each pass is stable, as the serial one, so the result is the serial
 * sort's: the keys map the bits one to one, so equal keys are equal bits,
 * and the NaNs keep their input order. Chunks are fixed by n only: the
 * threads change which thread moves an element, never where it goes.
 *
 * Cancel: each item is polled before it starts, and an item of PCHUNK
 * elements is a fraction of a millisecond. A cancelled sort puts x back
 * in a whole state, as the serial one does: the input before the pass
 * that was cut, from whichever buffer holds it, with the NaNs behind.
 * Progress: the serial sort's total, n units for the first count round
 * (the histogram pass) and n per byte, the bytes' units shared out over
 * the passes.
 *
 * Work space: the n-element buffer of the serial sort, and DRADIX counts
 * per chunk (n / 32 bytes), one malloc; CRUNCH_ENOMEM if either fails.
 */
#ifndef CRUNCH_SORT_PARALLEL_H
#define CRUNCH_SORT_PARALLEL_H

/* Elements per item: 512 KiB of f64, counted or scattered in a fraction of
 * a millisecond; 153 items for 10^7 elements. */
#define PCHUNK ((size_t)1 << 16)

/* Digits of DBITS bits, DRADIX values. Bytes, as the serial sort: 11-bit
 * digits (6 passes for 64-bit keys rather than 8) took more CPU time on
 * 10^7 f64 here, 340 ms against 300 (2048 output streams per chunk,
 * probably too many for the TLB). Any width gives the same result: every stable LSD sort of
 * these keys does. */
#define DBITS 8
#define DRADIX ((size_t)1 << DBITS)

/* pchunk_len is the length of chunk i of len elements cut into PCHUNKs
 * (the last may be short): the pieces of both parallel drivers. */
static inline size_t pchunk_len(size_t len, size_t i)
{
    return len - i * PCHUNK < PCHUNK ? len - i * PCHUNK : PCHUNK;
}

/*
 * SORT_PARALLEL_TYPED(S, T, U, KEY, ISNAN) defines sort_par_S, the
 * parallel sort of U-bit elements: it needs SORT_TYPED's load_S and
 * store_S, and is expanded inside SORT_TYPED after them.
 */
#define SORT_PARALLEL_TYPED(S, T, U, KEY, ISNAN)                                              \
                                                                                              \
    /* spar_S: one parallel sort's state, shared by its items. */                             \
    typedef struct spar_##S {                                                                 \
        crunch_ctx *ctx;                                                                      \
        void *x;                                                                              \
        U *tmp;                                                                               \
        size_t n, m; /* elements; those not NaN */                                            \
        U flip;                                                                               \
        size_t *cnt;  /* per chunk: DRADIX counts, then offsets; or its NaNs */               \
        const void *src;                                                                      \
        void *dst;                                                                            \
        int shift;    /* the pass's digit, in bits */                                         \
        int weight;   /* progress units per element of the pass */                            \
        int first;    /* the first count round: its elements are progress */                  \
    } spar_##S;                                                                               \
                                                                                              \
    /* spar_nans_S counts chunk i's NaNs into cnt[i] (crunch__item_fn). */                    \
    static crunch_status spar_nans_##S(void *arg, size_t i)                                   \
    {                                                                                         \
        const spar_##S *p = arg;                                                              \
        size_t c = 0, len = pchunk_len(p->n, i);                                              \
        for (size_t j = i * PCHUNK; j < i * PCHUNK + len; j++)                                \
            c += (size_t)ISNAN(load_##S(p->x, j));                                            \
        p->cnt[i] = c;                                                                        \
        return CRUNCH_OK;                                                                     \
    }                                                                                         \
                                                                                              \
    /* spar_compact_S copies chunk i of x to tmp: its other elements from                     \
     * cnt[i] on, its NaNs from m + (NaNs before the chunk), which the                        \
     * caller left in cnt[chunks + i] (crunch__item_fn). */                                   \
    static crunch_status spar_compact_##S(void *arg, size_t i)                                \
    {                                                                                         \
        const spar_##S *p = arg;                                                              \
        size_t chunks = (p->n + PCHUNK - 1) / PCHUNK, len = pchunk_len(p->n, i);              \
        size_t k = p->cnt[i], nk = p->m + p->cnt[chunks + i];                                 \
        for (size_t j = i * PCHUNK; j < i * PCHUNK + len; j++) {                              \
            U v = load_##S(p->x, j);                                                          \
            p->tmp[ISNAN(v) ? nk++ : k++] = v;                                                \
        }                                                                                     \
        return CRUNCH_OK;                                                                     \
    }                                                                                         \
                                                                                              \
    /* spar_count_S counts chunk i of src[0..m) by the pass's digit into                      \
     * cnt[i * DRADIX ..] (crunch__item_fn). */                                               \
    static crunch_status spar_count_##S(void *arg, size_t i)                                  \
    {                                                                                         \
        const spar_##S *p = arg;                                                              \
        size_t len = pchunk_len(p->m, i);                                                     \
        /* even and odd elements apart: a common byte value would make each                   \
         * increment wait for the last one's store */                                         \
        uint32_t h[2][DRADIX];                                                                \
        memset(h, 0, sizeof h);                                                               \
        for (size_t j = i * PCHUNK; j < i * PCHUNK + len; j++)                                \
            h[j & 1][((KEY(load_##S(p->src, j)) ^ p->flip) >> p->shift) & (DRADIX - 1)]++;    \
        size_t *c = p->cnt + i * DRADIX;                                                      \
        for (size_t d = 0; d < DRADIX; d++)                                                   \
            c[d] = (size_t)h[0][d] + h[1][d];                                                 \
        if (p->first)                                                                         \
            crunch__progress_add(p->ctx, (int64_t)len);                                       \
        return CRUNCH_OK;                                                                     \
    }                                                                                         \
                                                                                              \
    /* spar_scatter_S moves chunk i of src[0..m) to its offsets in dst,                       \
     * cnt[i * DRADIX ..] (crunch__item_fn). */                                               \
    static crunch_status spar_scatter_##S(void *arg, size_t i)                                \
    {                                                                                         \
        const spar_##S *p = arg;                                                              \
        size_t len = pchunk_len(p->m, i);                                                     \
        size_t *off = p->cnt + i * DRADIX; /* the chunk's own: no other item touches it */    \
        for (size_t j = i * PCHUNK; j < i * PCHUNK + len; j++) {                              \
            U v = load_##S(p->src, j);                                                        \
            store_##S(p->dst, off[((KEY(v) ^ p->flip) >> p->shift) & (DRADIX - 1)]++, v);     \
        }                                                                                     \
        crunch__progress_add(p->ctx, (int64_t)len * p->weight);                               \
        return CRUNCH_OK;                                                                     \
    }                                                                                         \
                                                                                              \
    /* spar_copy_S copies chunk i of the result to x: from src below m,                       \
     * the NaNs from tmp; only what is not in x already (crunch__item_fn). */                 \
    static crunch_status spar_copy_##S(void *arg, size_t i)                                   \
    {                                                                                         \
        const spar_##S *p = arg;                                                              \
        size_t j0 = i * PCHUNK, j1 = j0 + pchunk_len(p->n, i);                                \
        size_t a = j1 < p->m ? j1 : p->m; /* [j0, a): sorted; [max(j0, m), j1): NaNs */       \
        if (p->src != p->x && j0 < a)                                                         \
            memcpy((U *)p->x + j0, (const U *)p->src + j0, (a - j0) * sizeof(U));             \
        if (j1 > p->m) { /* only when compacted: else m == n */                               \
            size_t b = j0 > p->m ? j0 : p->m;                                                 \
            memcpy((U *)p->x + b, p->tmp + b, (j1 - b) * sizeof(U));                          \
        }                                                                                     \
        return CRUNCH_OK;                                                                     \
    }                                                                                         \
                                                                                              \
    /* spar_restore_S puts every element back into x after a cancel: the                      \
     * state in src (the pass's whole input) and, if set aside, the NaNs. */                  \
    static void spar_restore_##S(spar_##S *p, int compacted)                                  \
    {                                                                                         \
        if (p->src != p->x)                                                                   \
            memcpy(p->x, p->src, p->m * sizeof(U));                                           \
        if (compacted)                                                                        \
            memcpy((U *)p->x + p->m, p->tmp + p->m, (p->n - p->m) * sizeof(U));               \
    }                                                                                         \
                                                                                              \
    /* sort_par_S sorts x[0..n) (n > PCHUNK) on ctx's runner as the file                      \
     * comment says; progress begun by the caller. Returns CRUNCH_OK,                         \
     * CRUNCH_ENOMEM (x untouched) or CRUNCH_ECANCELED (x whole). */                          \
    static crunch_status sort_par_##S(crunch_ctx *ctx, T *x, size_t n, U flip)                \
    {                                                                                         \
        enum { NB = sizeof(U), PASSES = (8 * NB + DBITS - 1) / DBITS };                       \
        size_t chunks = (n + PCHUNK - 1) / PCHUNK;                                            \
        crunch__bigbuf wk;                                                                    \
        crunch__bigbuf_alloc(&wk, n * sizeof(U)); /* the caller bounds n */                   \
        size_t *cnt = malloc(chunks * DRADIX * sizeof *cnt); /* chunks * DRADIX < n */        \
        if (wk.p == NULL || cnt == NULL) {                                                    \
            if (wk.p != NULL)                                                                 \
                crunch__bigbuf_free(&wk);                                                     \
            free(cnt);                                                                        \
            return CRUNCH_ENOMEM;                                                             \
        }                                                                                     \
        spar_##S p = {.ctx = ctx, .x = x, .tmp = wk.p, .n = n, .m = n, .flip = flip,          \
                      .cnt = cnt, .src = x, .dst = wk.p};                                     \
        int compacted = 0;                                                                    \
        crunch_status st = CRUNCH_OK;                                                         \
        /* a type without NaNs skips their round: the test folds to 0 */                      \
        if (ISNAN(~(U)0 >> 1) || ISNAN(~(U)0)) {                                              \
            st = crunch__parallel(ctx, chunks, spar_nans_##S, &p);                            \
            size_t nans = 0;                                                                  \
            for (size_t i = 0; st == CRUNCH_OK && i < chunks; i++) {                          \
                size_t c = cnt[i];                                                            \
                cnt[chunks + i] = nans; /* NaNs before chunk i */                             \
                cnt[i] = i * PCHUNK - nans; /* the others before it */                        \
                nans += c;                                                                    \
            }                                                                                 \
            if (st == CRUNCH_OK && nans > 0) {                                                \
                p.m = n - nans;                                                               \
                st = crunch__parallel(ctx, chunks, spar_compact_##S, &p);                     \
                compacted = st == CRUNCH_OK;                                                  \
                if (compacted) { /* the passes start from tmp */                              \
                    p.src = wk.p;                                                             \
                    p.dst = x;                                                                \
                } else {                                                                      \
                    p.m = n; /* x was only read: it is whole */                               \
                }                                                                             \
            }                                                                                 \
        }                                                                                     \
        size_t mchunks = (p.m + PCHUNK - 1) / PCHUNK;                                         \
        for (int b = 0; b < PASSES && st == CRUNCH_OK; b++) {                                 \
            p.shift = DBITS * b;                                                              \
            p.first = b == 0;                                                                 \
            /* the serial sort's NB units per element, shared out over the                    \
             * passes: NB / PASSES each, one more for the first NB % PASSES */                \
            p.weight = NB / PASSES + (b < NB % PASSES);                                       \
            st = crunch__parallel(ctx, mchunks, spar_count_##S, &p);                          \
            if (st != CRUNCH_OK)                                                              \
                break;                                                                        \
            if (b == 0)                                                                       \
                crunch__progress_add(ctx, (int64_t)(n - p.m)); /* the NaNs were read */       \
            /* offsets: value by value, chunk by chunk; a value held by                       \
             * every element (or none to sort) skips the pass */                              \
            size_t sum = 0;                                                                   \
            int skip = p.m == 0;                                                              \
            for (size_t d = 0; d < DRADIX && !skip; d++) {                                    \
                size_t start = sum;                                                           \
                for (size_t i = 0; i < mchunks; i++) {                                        \
                    size_t c = cnt[i * DRADIX + d];                                           \
                    cnt[i * DRADIX + d] = sum;                                                \
                    sum += c;                                                                 \
                }                                                                             \
                skip = sum - start == p.m;                                                    \
            }                                                                                 \
            if (skip) {                                                                       \
                crunch__progress_add(ctx, (int64_t)n * p.weight);                             \
                continue;                                                                     \
            }                                                                                 \
            st = crunch__parallel(ctx, mchunks, spar_scatter_##S, &p);                        \
            if (st != CRUNCH_OK)                                                              \
                break;                                                                        \
            crunch__progress_add(ctx, (int64_t)(n - p.m) * p.weight); /* NaNs: no pass */     \
            void *t = (void *)p.src;                                                          \
            p.src = p.dst;                                                                    \
            p.dst = t;                                                                        \
        }                                                                                     \
        if (st == CRUNCH_OK && (p.src != (const void *)x || compacted)) {                     \
            /* a cancel now would leave x half copied: finish unpolled */                     \
            if (crunch__parallel(ctx, chunks, spar_copy_##S, &p) != CRUNCH_OK)                \
                for (size_t i = 0; i < chunks; i++)                                           \
                    spar_copy_##S(&p, i);                                                     \
        } else if (st != CRUNCH_OK) {                                                         \
            spar_restore_##S(&p, compacted);                                                  \
        }                                                                                     \
        crunch__bigbuf_free(&wk);                                                             \
        free(cnt);                                                                            \
        return st;                                                                            \
    }

#endif /* CRUNCH_SORT_PARALLEL_H */
