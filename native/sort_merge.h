/*
 * sort_merge.h - the sorts' two-thread driver: two halves sorted at once,
 * then merged. Included once by sort.c, whose SORT_TYPED stamps it out
 * per element type after the serial radix sort it runs on each half.
 *
 * On 2 threads the chunked passes of sort_parallel.h lose to the serial
 * sort (each pass reads the keys twice). Two halves sorted by the serial
 * sort at once, one a thread, do the serial sort's work and no more; a
 * merge of the two then costs one more pass over the array:
 *
 *   Halves round (2 items): x[0..h) and x[h..n), h = n / 2, each sorted
 *     in place by the serial radix sort, its NaNs last, the work buffer's
 *     two halves their work space.
 *   Merge round: the work buffer receives the merge in pieces of PCHUNK
 *     elements of output, one item each. An item finds where its piece
 *     starts in each half by a binary search on the diagonal (the merge
 *     path), then merges: stable, so a tie takes the first half's element.
 *     Behind the m0 + m1 sorted elements go the first half's NaNs, then
 *     the second's, in input order.
 *   Copy round: the result back into x, in the same pieces.
 *
 * The result is the serial sort's, bit for bit: the sorted order is
 * unique up to equal bits and both keep the NaNs in input order.
 *
 * Into another buffer, in is first copied to the work buffer in the same
 * pieces, its halves sorted there (a second n-element buffer their work
 * space), and the merge writes out: out is only written, as the serial
 * sort into out promises.
 *
 * Cancel: the serial sort leaves a cancelled half whole; a cancelled merge
 * leaves the sorted halves in x; the copy round, once started, finishes
 * unpolled (x would otherwise hold some elements twice). Progress: each
 * half its serial units, n * (bytes per key + 1) in all, then n for the
 * merge (sort.c begins the total with those n).
 */
#ifndef CRUNCH_SORT_MERGE_H
#define CRUNCH_SORT_MERGE_H

/* Elements from which 2 threads sort halves and merge: below, a half's
 * sort is too short to pay for handing it to another thread. */
#define HALVES_MIN ((size_t)1 << 17)

/* Stretches of the merge run at once by one item (see shalf_merge_S). */
#define MLANES 4

/*
 * SORT_MERGE_TYPED(S, T, U, KEY, ISNAN) defines sort_halves_S: it needs
 * SORT_TYPED's load_S, store_S and sort_serial_S, and is expanded inside
 * SORT_TYPED after them.
 */
#define SORT_MERGE_TYPED(S, T, U, KEY, ISNAN)                                                 \
                                                                                              \
    /* shalf_S: one two-thread sort's state, shared by its items. */                          \
    typedef struct shalf_##S {                                                                \
        crunch_ctx *ctx;                                                                      \
        void *a;          /* the halves a[0..h) and a[h..n), sorted in place */               \
        U *work;          /* the halves' work space: n elements */                            \
        void *dst;        /* the merge's output */                                            \
        const void *from; /* a copy round's source and destination */                         \
        void *to;                                                                             \
        size_t n, h;                                                                          \
        size_t m0, m1;    /* each half's elements other than NaN */                           \
        U flip;                                                                               \
    } shalf_##S;                                                                              \
                                                                                              \
    /* shalf_copy_S copies piece i from from to to (crunch__item_fn). */                      \
    static crunch_status shalf_copy_##S(void *arg, size_t i)                                  \
    {                                                                                         \
        const shalf_##S *p = arg;                                                             \
        memcpy((U *)p->to + i * PCHUNK, (const U *)p->from + i * PCHUNK,                      \
               pchunk_len(p->n, i) * sizeof(U));                                              \
        return CRUNCH_OK;                                                                     \
    }                                                                                         \
                                                                                              \
    /* shalf_sort_S sorts half i of a in place (crunch__item_fn). */                          \
    static crunch_status shalf_sort_##S(void *arg, size_t i)                                  \
    {                                                                                         \
        const shalf_##S *p = arg;                                                             \
        size_t lo = i == 0 ? 0 : p->h, len = i == 0 ? p->h : p->n - p->h;                     \
        T *x = (T *)((U *)p->a + lo);                                                         \
        return sort_serial_##S(p->ctx, x, x, len, p->flip, p->work + lo);                     \
    }                                                                                         \
                                                                                              \
    /* shalf_key_S is the key of element i of buffer b, flipped when                          \
     * descending: the merge compares these. */                                               \
    static inline U shalf_key_##S(const void *b, size_t i, U flip)                            \
    {                                                                                         \
        return (U)(KEY(load_##S(b, i)) ^ flip);                                               \
    }                                                                                         \
                                                                                              \
    /* shalf_split_S returns how many of the first k elements of the                          \
     * stable merge of A[0..m0) and B[0..m1) come from A: the smallest i                      \
     * whose A[i] sorts after B[k - i - 1], by bisection. */                                  \
    static size_t shalf_split_##S(const void *A, size_t m0, const void *B, size_t m1,         \
                                  size_t k, U flip)                                           \
    {                                                                                         \
        size_t lo = k > m1 ? k - m1 : 0, hi = k < m0 ? k : m0;                                \
        while (lo < hi) {                                                                     \
            size_t mid = lo + (hi - lo) / 2;                                                  \
            if (shalf_key_##S(A, mid, flip) > shalf_key_##S(B, k - mid - 1, flip))            \
                hi = mid;                                                                     \
            else                                                                              \
                lo = mid + 1;                                                                 \
        }                                                                                     \
        return lo;                                                                            \
    }                                                                                         \
                                                                                              \
    /* shalf_tail_S merges A and B into dst[q..end) from A[ia], B[ib],                        \
     * checking both halves' ends. */                                                         \
    static void shalf_tail_##S(const void *A, size_t m0, const void *B, size_t m1, void *dst, \
                               size_t ia, size_t ib, size_t q, size_t end, U flip)            \
    {                                                                                         \
        for (; q < end && ia < m0 && ib < m1; q++) {                                          \
            U va = load_##S(A, ia), vb = load_##S(B, ib);                                     \
            if ((U)(KEY(vb) ^ flip) < (U)(KEY(va) ^ flip)) {                                  \
                store_##S(dst, q, vb);                                                        \
                ib++;                                                                         \
            } else { /* a tie takes A's: the merge is stable */                               \
                store_##S(dst, q, va);                                                        \
                ia++;                                                                         \
            }                                                                                 \
        }                                                                                     \
        for (; q < end && ia < m0; q++) /* one half ran out */                                \
            store_##S(dst, q, load_##S(A, ia++));                                             \
        for (; q < end; q++)                                                                  \
            store_##S(dst, q, load_##S(B, ib++));                                             \
    }                                                                                         \
                                                                                              \
    /* shalf_merge_S writes piece i of the merge to dst: sorted elements                      \
     * below m0 + m1, the NaNs of each half after them (crunch__item_fn).                     \
     * The piece's sorted part is merged as MLANES stretches at once, each                    \
     * from its own merge-path split: one stretch's steps wait on each                        \
     * other (a comparison picks the next load), the stretches do not. */                     \
    static crunch_status shalf_merge_##S(void *arg, size_t i)                                 \
    {                                                                                         \
        const shalf_##S *p = arg;                                                             \
        const void *A = p->a, *B = (const U *)p->a + p->h;                                    \
        const size_t m0 = p->m0, m1 = p->m1, sorted = m0 + m1;                                \
        const size_t k0 = i * PCHUNK, k1 = k0 + pchunk_len(p->n, i);                          \
        const size_t end = k1 < sorted ? k1 : sorted;                                         \
        const U flip = p->flip;                                                               \
        if (k0 < end) {                                                                       \
            size_t ia[MLANES], ib[MLANES], q[MLANES], qe[MLANES];                             \
            for (int l = 0; l < MLANES; l++) {                                                \
                q[l] = k0 + (end - k0) * (size_t)l / MLANES;                                  \
                ia[l] = shalf_split_##S(A, m0, B, m1, q[l], flip);                            \
                ib[l] = q[l] - ia[l];                                                         \
            }                                                                                 \
            for (int l = 0; l < MLANES; l++)                                                  \
                qe[l] = l + 1 < MLANES ? q[l + 1] : end;                                      \
            for (;;) {                                                                        \
                /* steps every stretch can take with no end checked */                        \
                size_t t = SIZE_MAX;                                                          \
                for (int l = 0; l < MLANES; l++) {                                            \
                    t = qe[l] - q[l] < t ? qe[l] - q[l] : t;                                  \
                    t = m0 - ia[l] < t ? m0 - ia[l] : t;                                      \
                    t = m1 - ib[l] < t ? m1 - ib[l] : t;                                      \
                }                                                                             \
                if (t == 0)                                                                   \
                    break;                                                                    \
                for (size_t s = 0; s < t; s++)                                                \
                    _Pragma("GCC unroll 8") for (int l = 0; l < MLANES; l++) {                \
                        U va = load_##S(A, ia[l]), vb = load_##S(B, ib[l]);                   \
                        /* a tie takes A's: the merge is stable */                            \
                        size_t takeb = (U)(KEY(vb) ^ flip) < (U)(KEY(va) ^ flip);             \
                        store_##S(p->dst, q[l]++, takeb ? vb : va);                           \
                        ia[l] += 1 - takeb;                                                   \
                        ib[l] += takeb;                                                       \
                    }                                                                         \
            }                                                                                 \
            for (int l = 0; l < MLANES; l++)                                                  \
                shalf_tail_##S(A, m0, B, m1, p->dst, ia[l], ib[l], q[l], qe[l], flip);        \
        }                                                                                     \
        /* NaNs: output sorted + j holds A's NaN j, then B's */                               \
        const size_t nans0 = p->h - m0;                                                       \
        for (size_t q = end > k0 ? end : k0; q < k1; q++) {                                   \
            size_t j = q - sorted;                                                            \
            U v = j < nans0 ? load_##S(A, m0 + j) : load_##S(B, m1 + j - nans0);              \
            store_##S(p->dst, q, v);                                                          \
        }                                                                                     \
        crunch__progress_add(p->ctx, (int64_t)(k1 - k0));                                     \
        return CRUNCH_OK;                                                                     \
    }                                                                                         \
                                                                                              \
    /* shalf_sorted_S returns how many of the len sorted elements at b are                    \
     * not NaN: the NaNs are last. */                                                         \
    static size_t shalf_sorted_##S(const void *b, size_t len)                                 \
    {                                                                                         \
        while (len > 0 && ISNAN(load_##S(b, len - 1)))                                        \
            len--;                                                                            \
        return len;                                                                           \
    }                                                                                         \
                                                                                              \
    /* sort_halves_S sorts in[0..n) into out (in == out: in place) on 2                       \
     * threads as the file comment says; n >= HALVES_MIN, checked and                         \
     * progress begun by sort_S. */                                                           \
    static crunch_status sort_halves_##S(crunch_ctx *ctx, const T *in, T *out, size_t n,      \
                                         U flip)                                              \
    {                                                                                         \
        const int inplace = (const void *)in == (const void *)out;                            \
        const size_t pieces = (n + PCHUNK - 1) / PCHUNK;                                      \
        crunch__bigbuf wk, wk2 = {0};                                                         \
        crunch__bigbuf_alloc(&wk, n * sizeof(U)); /* sort_S bounds n */                       \
        if (!inplace && wk.p != NULL) {                                                       \
            crunch__bigbuf_alloc(&wk2, n * sizeof(U));                                        \
            if (wk2.p == NULL)                                                                \
                crunch__bigbuf_free(&wk);                                                     \
        }                                                                                     \
        if (wk.p == NULL || (!inplace && wk2.p == NULL))                                      \
            return CRUNCH_ENOMEM;                                                             \
        /* in place: halves in x, merged into wk, copied back; into out:                      \
         * in copied to wk, halves sorted there (wk2 their work space),                       \
         * merged into out */                                                                 \
        shalf_##S p = {.ctx = ctx, .n = n, .h = n / 2, .flip = flip};                         \
        p.a = inplace ? (void *)out : wk.p;                                                   \
        p.work = inplace ? (U *)wk.p : (U *)wk2.p;                                            \
        p.dst = inplace ? wk.p : (void *)out;                                                 \
        crunch_status st = CRUNCH_OK;                                                         \
        if (!inplace) {                                                                       \
            p.from = in;                                                                      \
            p.to = wk.p;                                                                      \
            st = crunch__parallel(ctx, pieces, shalf_copy_##S, &p);                           \
        }                                                                                     \
        if (st == CRUNCH_OK)                                                                  \
            st = crunch__parallel(ctx, 2, shalf_sort_##S, &p);                                \
        if (st == CRUNCH_OK) {                                                                \
            p.m0 = shalf_sorted_##S(p.a, p.h);                                                \
            p.m1 = shalf_sorted_##S((U *)p.a + p.h, n - p.h);                                 \
            st = crunch__parallel(ctx, pieces, shalf_merge_##S, &p);                          \
        }                                                                                     \
        if (st == CRUNCH_OK && inplace) {                                                     \
            p.from = wk.p;                                                                    \
            p.to = out;                                                                       \
            /* a cancel now would leave x half copied: finish unpolled */                     \
            if (crunch__parallel(ctx, pieces, shalf_copy_##S, &p) != CRUNCH_OK)               \
                for (size_t i = 0; i < pieces; i++)                                           \
                    shalf_copy_##S(&p, i);                                                    \
        }                                                                                     \
        crunch__bigbuf_free(&wk);                                                             \
        if (wk2.p != NULL)                                                                    \
            crunch__bigbuf_free(&wk2);                                                        \
        return st;                                                                            \
    }

#endif /* CRUNCH_SORT_MERGE_H */
