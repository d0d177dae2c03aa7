/*
 * fft_fourstep.h - the four-step driver (the split and the plan:
 * fft_fourstep_plan.h): part of fft.c, which includes it once and
 * instantiates FOURSTEP_TYPED inside FFT_TYPED, after stockham_S.
 *
 * One row is two parallel calls (crunch__parallel): the column blocks of
 * steps 1 and 2, each writing its own columns of the work buffer, then,
 * once all of them are done, the row blocks of steps 3 and 4, each
 * writing its own columns of y. The blocks are fixed by n alone, and an
 * element's arithmetic does not depend on which block or thread computes
 * it, so the result is the same on any number of threads.
 */

/* Padding of the row buffer's rows, in complex elements: FS_ROWS rows a
 * power of two apart would share a few cache sets while step 4 reads
 * them column-wise. */
#define FS_PAD 8

/* How many rows ahead step 1's copy prefetches: enough to cover a miss
 * to memory at a few nanoseconds per row. */
#define FS_AHEAD 16

/* fs_call: one call's state, shared by its items (read only, but for the
 * slots). x and y are the current row's; work holds the n complex
 * elements between steps 2 and 3. */
typedef struct fs_call {
    const crunch__fft_kernels *K;
    const fft_plan *pl;
    int inv;
    double scale; /* NumPy's norm, applied in step 4 */
    crunch_ctx *ctx;
    const void *x;
    void *y, *work;
    work_slots ws; /* per-item buffers: fs_slot_elems complex each */
} fs_call;

/* fs_slot_elems is how many complex elements an item's buffer holds: a
 * column block, its transform and the transform's work space (step 1),
 * or FS_ROWS padded rows and one row of work space (step 3). */
static size_t fs_slot_elems(const fft_plan *p)
{
    const size_t col = (2 + (size_t)needs_w2(p->col, 1)) * p->n1 * FS_COLS(p->f32);
    const size_t row = FS_ROWS(p->f32) * (p->n2 + FS_PAD) + p->n2;
    return col > row ? col : row;
}

/*
 * FOURSTEP_TYPED(T, S) defines fourstep_S, the four-step transform of
 * batch rows of element type T, and its two item functions.
 */
#define FOURSTEP_TYPED(T, S)                                                                       \
    /* fs_col_S is item i of step 1 and 2: columns i*C .. i*C + C-1. */                            \
    static crunch_status fs_col_##S(void *arg, size_t i)                                           \
    {                                                                                              \
        enum { C = FS_COLS(sizeof(T) == sizeof(float)) }; /* a constant: copies unroll */         \
        fs_call *fc = arg;                                                                         \
        const fft_plan *pl = fc->pl;                                                               \
        const size_t n1 = pl->n1, n2 = pl->n2, j0 = i * C, blk = n1 * C;                          \
        slot sl;                                                                                   \
        T *a = slot_take(&fc->ws, &sl);                                                            \
        if (a == NULL)                                                                             \
            return CRUNCH_ENOMEM;                                                                  \
        T *w1 = a + 2 * blk, *w2 = needs_w2(pl->col, 1) ? w1 + 2 * blk : NULL;                     \
        const T *x = fc->x;                                                                        \
        T *wk = fc->work;                                                                          \
        crunch__poll pq;                                                                           \
        crunch__poll_init(&pq, fc->ctx);                                                           \
        /* row j1 of the block is one run of C elements of x: element (j1, c)                      \
         * goes to c + C*j1, the col plan's interleaved layout */                                  \
        for (size_t j1 = 0; j1 < n1; j1++) {                                                       \
            /* the runs are n2 apart, a stride the hardware does not follow */                     \
            const char *ahead = (const char *)(x + 2 * ((j1 + FS_AHEAD) * n2 + j0));               \
            if (j1 + FS_AHEAD < n1)                                                                \
                for (size_t l = 0; l < 2 * C * sizeof(T); l += 64)                                 \
                    __builtin_prefetch(ahead + l);                                                 \
            memcpy(a + 2 * C * j1, x + 2 * (j1 * n2 + j0), 2 * C * sizeof(T));                     \
        }                                                                                          \
        crunch_status st = CRUNCH_OK;                                                              \
        if (crunch__poll_work(&pq, (int64_t)blk))                                                  \
            st = CRUNCH_ECANCELED;                                                                 \
        if (st == CRUNCH_OK) /* polls before each of its passes */                                 \
            st = stockham_##S(fc->K, pl->col, fc->inv, a, a, w1, w2, fc->ctx, NULL);               \
        if (st == CRUNCH_OK) { /* step 2, on the way out to the block's columns */                 \
            const T *rtw = (const T *)pl->fs_twb + 2 * i * n1; /* this block's factor per row */   \
            fc->K->twmul_##S(a, (const T *)pl->fs_twc, rtw, wk + 2 * j0, n1, C, n2, fc->inv);      \
            if (crunch__poll_work(&pq, (int64_t)blk))                                              \
                st = CRUNCH_ECANCELED;                                                             \
            crunch__progress_add(fc->ctx, 1);                                                      \
        }                                                                                          \
        slot_give(&fc->ws, &sl);                                                                   \
        return st;                                                                                 \
    }                                                                                              \
                                                                                                   \
    /* fs_row_S is item i of steps 3 and 4: rows i*R .. i*R + R-1 of the                           \
     * work buffer, transformed into the slot, then written transposed (and                        \
     * scaled) to y. */                                                                            \
    static crunch_status fs_row_##S(void *arg, size_t i)                                           \
    {                                                                                              \
        enum { R = FS_ROWS(sizeof(T) == sizeof(float)) }; /* a constant: copies unroll */         \
        fs_call *fc = arg;                                                                         \
        const fft_plan *pl = fc->pl;                                                               \
        const size_t n1 = pl->n1, n2 = pl->n2, r0 = i * R;                                        \
        const size_t ld = n2 + FS_PAD;                                                             \
        slot sl;                                                                                   \
        T *rb = slot_take(&fc->ws, &sl);                                                           \
        if (rb == NULL)                                                                            \
            return CRUNCH_ENOMEM;                                                                  \
        T *w1 = rb + 2 * R * ld;                                                                   \
        const T *wk = fc->work;                                                                    \
        T *y = fc->y;                                                                              \
        crunch__poll pq;                                                                           \
        crunch__poll_init(&pq, fc->ctx);                                                           \
        crunch_status st = CRUNCH_OK;                                                              \
        for (size_t r = 0; r < R && st == CRUNCH_OK; r++)                                          \
            st = stockham_##S(fc->K, pl->row, fc->inv, wk + 2 * n2 * (r0 + r), rb + 2 * ld * r,    \
                              w1, NULL, fc->ctx, NULL);                                            \
        if (st == CRUNCH_OK) {                                                                     \
            const T sc = (T)fc->scale;                                                             \
            for (size_t k2 = 0; k2 < n2; k2++) {                                                   \
                T *o = y + 2 * (r0 + n1 * k2); /* X[k1 + n1*k2], R contiguous k1 */                \
                if (fc->scale != 1.0)                                                              \
                    for (size_t r = 0; r < R; r++) {                                               \
                        o[2 * r] = rb[2 * (ld * r + k2)] * sc;                                     \
                        o[2 * r + 1] = rb[2 * (ld * r + k2) + 1] * sc;                             \
                    }                                                                              \
                else /* whole complex numbers: one move each */                                    \
                    for (size_t r = 0; r < R; r++)                                                 \
                        memcpy(o + 2 * r, rb + 2 * (ld * r + k2), 2 * sizeof(T));                  \
            }                                                                                      \
            if (crunch__poll_work(&pq, (int64_t)(R * n2)))                                         \
                st = CRUNCH_ECANCELED;                                                             \
            crunch__progress_add(fc->ctx, 1);                                                      \
        }                                                                                          \
        slot_give(&fc->ws, &sl);                                                                   \
        return st;                                                                                 \
    }                                                                                              \
                                                                                                   \
    /* fourstep_S transforms batch rows of pl->n (a four-step plan) from x                         \
     * to y (which may be x: step 1 reads all of a row before step 4                               \
     * writes any of it), scaled by scale. Returns CRUNCH_OK,                                      \
     * CRUNCH_ENOMEM or CRUNCH_ECANCELED. */                                                       \
    static crunch_status fourstep_##S(crunch_ctx *ctx, const crunch__fft_kernels *K,               \
                                      const fft_plan *pl, int inv, size_t batch, const T *x,       \
                                      T *y, double scale)                                          \
    {                                                                                              \
        const size_t n = pl->n, ncol = fs_col_items(pl), nrow = fs_row_items(pl);                  \
        fs_call fc = {.K = K, .pl = pl, .inv = inv, .scale = scale, .ctx = ctx};              \
        crunch__bigbuf wk; /* huge pages: see bigbuf.c */                                          \
        crunch__bigbuf_alloc(&wk, n * 2 * sizeof(T));                                              \
        if (wk.p == NULL)                                                                          \
            return CRUNCH_ENOMEM;                                                                  \
        fc.work = wk.p;                                                                            \
        crunch_status st = slots_init(&fc.ws, fs_slot_elems(pl) * 2 * sizeof(T),                   \
                                      ncol > nrow ? ncol : nrow, ctx);                             \
        for (size_t b = 0; b < batch && st == CRUNCH_OK; b++) {                                    \
            fc.x = x + 2 * n * b;                                                                  \
            fc.y = y + 2 * n * b;                                                                  \
            st = crunch__parallel(ctx, ncol, fs_col_##S, &fc);                                     \
            if (st == CRUNCH_OK)                                                                   \
                st = crunch__parallel(ctx, nrow, fs_row_##S, &fc);                                 \
        }                                                                                          \
        slots_free(&fc.ws);                                                                        \
        crunch__bigbuf_free(&wk);                                                                  \
        return st;                                                                                 \
    }
