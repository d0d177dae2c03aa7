/*
 * conv2d_driver.h - crunch_conv2d_f64 / _f32's driver, written once and
 * stamped out per precision by conv2d.c (which explains the method).
 *
 * No include guard: it is included once per precision. The includer
 * defines, before each inclusion:
 *   T               the scalar type (double or float)
 *   DN(name)        the name of an instantiated function (adds a suffix)
 *   ROW, PAIR       the row- and pair-kernel types (crunch__conv2d_row_f64 ...)
 *   KF(name)        the field of crunch__conv2d_kernels holding kernel name
 *                   (row, pair) in this precision
 * and undefines them afterwards. The kernels come from conv2d.c's kernel
 * table, paths.
 */

/* DN(finite) reports whether none of x[0..n) is NaN or Inf: 1 if so, 0
 * if not, -1 if cancelled (a kernel may be far larger than the image). */
static int DN(finite)(crunch__poll *pl, const T *x, size_t n)
{
    for (size_t i0 = 0; i0 < n;) {
        size_t m = crunch__poll_span(pl, 1, n - i0);
        for (size_t i = i0; i < i0 + m; i++)
            if (!isfinite(x[i]))
                return 0;
        i0 += m;
        if (crunch__poll_work(pl, (int64_t)m))
            return -1;
    }
    return 1;
}

/*
 * DN(clipped) computes the convolution with every loop bound clipped to
 * the image, so that only the defining sum's terms are ever formed: the
 * path for a kernel holding NaN or Inf, whose products with the padding's
 * zeros would be NaN. Per output row: the row is zeroed, then each tap
 * (p, q) adds k[p][q] times a run of image row i - p to the columns it
 * reaches, taps in the fast path's order, so finite results agree with it.
 * Every tap is charged to pl, with the columns it skips, in runs the
 * budget allows: a wide kernel's taps or a wide row's run cannot delay
 * the poll.
 */
static crunch_status DN(clipped)(crunch__poll *pl, crunch_ctx *ctx, const geom *g,
                                 const T *img, const T *k, T *out, size_t r_begin,
                                 size_t r_end)
{
    for (size_t r = r_begin; r < r_end; r++) {
        T *o = out + r * g->ow;
        memset(o, 0, g->ow * sizeof *o); /* all-zero bits: +0.0 */
        if (crunch__poll_work(pl, (int64_t)g->ow))
            return CRUNCH_ECANCELED;
        size_t i = r + g->r0, plo, nr;
        rows_of(g, i, &plo, &nr);
        for (size_t p = plo; p < plo + nr; p++) {
            const T *ir = img + (i - p) * g->w;
            for (size_t q = 0; q < g->kw; q++) {
                /* the tap's own cost, charged even when it reaches no column */
                if (crunch__poll_work(pl, CRUNCH__POLL_ITEM))
                    return CRUNCH_ECANCELED;
                /* column c reads image column c + c0 - q: keep it in [0, w) */
                if (g->w + q <= g->c0)
                    continue; /* even c = 0 is right of the image */
                size_t lo = q > g->c0 ? q - g->c0 : 0;
                size_t hi = g->w + q - g->c0;
                hi = hi < g->ow ? hi : g->ow;
                T kv = k[p * g->kw + q];
                for (size_t c0 = lo; c0 < hi;) {
                    size_t c1 = c0 + crunch__poll_span(pl, 1, hi - c0);
                    for (size_t c = c0; c < c1; c++)
                        o[c] += kv * ir[c + g->c0 - q];
                    if (crunch__poll_work(pl, (int64_t)(c1 - c0)))
                        return CRUNCH_ECANCELED;
                    c0 = c1;
                }
            }
        }
        crunch__progress_add(ctx, (int64_t)g->ow);
    }
    return CRUNCH_OK;
}

/*
 * DN(taps) computes columns [c, c + n) of one output row, or of two when
 * two (as the pair kernel would: the upper row from rows[t + 1], the
 * lower from rows[t]), with single-row kernel calls over runs of at most
 * CHUNK / n taps of one kernel row, each charged to pl: for kernels so
 * wide that one kernel row over n columns exceeds CHUNK. The row kernel's
 * contract makes the split exact: the run of taps q0 .. q1-1 of kernel
 * row t is a kernel of q1 - q0 columns over rows[t] shifted q0 to the
 * left, and every run but the first adds to what the previous left, in
 * the order the whole row would. k is the first kernel row rows meet, nr
 * of them. Returns CRUNCH_ECANCELED or CRUNCH_OK.
 */
static crunch_status DN(taps)(crunch__poll *pl, ROW rk, const T *const *rows, const T *k,
                              size_t nr, size_t kw, int two, size_t c, T *o, size_t ow, size_t n)
{
    size_t run = CHUNK / n > 0 ? CHUNK / n : 1;
    for (int u = 0; u <= two; u++) {
        T *ou = o + (size_t)u * ow + c;           /* u = 1: the lower row */
        const T *const *ru = rows + (two && u == 0); /* the upper row reads one row up */
        for (size_t t = 0; t < nr; t++)
            for (size_t q0 = 0; q0 < kw; q0 += run) {
                size_t q1 = kw - q0 < run ? kw : q0 + run;
                const T *shifted = ru[t] - q0; /* tap q0 + q of rows[t] is tap q of this */
                rk(&shifted, k + t * kw + q0, 1, q1 - q0, c, ou, n, t > 0 || q0 > 0);
                if (crunch__poll_work(pl, (int64_t)(n * (q1 - q0)) + CRUNCH__POLL_ITEM))
                    return CRUNCH_ECANCELED;
            }
    }
    return CRUNCH_OK;
}

/*
 * DN(padded) is the fast path (finite kernel, non-empty image): the ring
 * of padded image rows and a row kernel, as conv2d.c's comment explains,
 * for output rows [r_begin, r_end). It has a ring of its own, so that
 * bands of rows can run on several threads at once: it loads the image
 * rows its first output row meets and goes on from there, pairing rows
 * from r_begin. Every output element is the same kernel computation
 * whatever band holds it and whether it is paired (the pair kernel's
 * contract), so the banding never changes a bit of the result.
 */
static crunch_status DN(padded)(crunch__poll *pl, crunch_ctx *ctx, const geom *g,
                                const T *img, const T *k, T *out, size_t r_begin,
                                size_t r_end)
{
    const crunch__conv2d_kernels *K = CRUNCH__PICK(paths, ctx);
    const ROW rk = K->KF(row);
    const PAIR pk = K->KF(pair);
    /* Image rows one pair of output rows can meet: kh + 1, or all. */
    size_t ring_rows = g->kh < g->h ? g->kh + 1 : g->h;
    size_t left = g->kw - 1 - g->c0; /* zeros before image column 0 */
    /* Column c's tap q reads padded index c + (kw-1) - q: from 0 up to
     * ow + kw - 2, plus a partial vector's overreach. That span also holds
     * the image (left + w <= ow + kw - 1 in every mode with ow > 0). */
    size_t len, stride;
    if (__builtin_add_overflow(g->ow, g->kw - 1 + CRUNCH__CONV2D_PAD, &len) ||
        __builtin_add_overflow(len, 15, &stride))
        return CRUNCH_ENOMEM;
    stride &= ~(size_t)15; /* 64-byte multiples for floats, 128 for doubles */
    size_t ring_elems;
    if (__builtin_mul_overflow(ring_rows, stride, &ring_elems))
        return CRUNCH_ENOMEM;
    size_t ring_bytes, all_bytes;
    if (__builtin_mul_overflow(ring_elems, sizeof(T), &ring_bytes) ||
        __builtin_add_overflow(ring_bytes, ring_rows * sizeof(T *), &all_bytes) ||
        all_bytes > PTRDIFF_MAX)
        return CRUNCH_ENOMEM;
    /* The ring, then its row pointers (ring_bytes keeps them aligned). A
     * small ring lives in the thread's scratch buffer (reused by the
     * thread's next band) and only its pads are zeroed, in polled runs:
     * each slot's image part is written before any kernel reads it. A
     * large one (a very wide kernel or image) is a fresh mapping, zero
     * already: its pages are faulted in, a cost in a VM, by the polled
     * calls that touch them, never by one long memset. */
    size_t cap = 0;
    crunch__bigbuf rb = {NULL, NULL, 0};
    T *ring;
    if (all_bytes >= RING_MAP_BYTES) {
        crunch__bigbuf_alloc(&rb, all_bytes);
        ring = rb.p;
    } else {
        ring = crunch__scratch_get(all_bytes, &cap);
    }
    if (ring == NULL)
        return CRUNCH_ENOMEM;
    const T **rows = (const T **)(void *)((char *)ring + ring_bytes);
    crunch_status st = CRUNCH_OK;
    for (size_t s = 0; rb.map == NULL && s < ring_rows && st == CRUNCH_OK; s++) {
        T *slot = ring + s * stride;
        /* the pads: [0, left) and [left + w, stride) */
        for (size_t j = 0; j < stride && st == CRUNCH_OK;) {
            if (j == left) {
                j = left + g->w;
                continue;
            }
            size_t end = j < left ? left : stride;
            size_t m = crunch__poll_span(pl, 1, end - j);
            memset(slot + j, 0, m * sizeof *slot);
            j += m;
            if (crunch__poll_work(pl, (int64_t)m + CRUNCH__POLL_ITEM))
                st = CRUNCH_ECANCELED;
        }
    }
    /* The first image row output row r_begin meets: i - (plo + nr - 1). */
    size_t plo0, nr0;
    rows_of(g, r_begin + g->r0, &plo0, &nr0);
    size_t loaded = r_begin + g->r0 - (plo0 + nr0 - 1); /* image rows below it are not needed */
    for (size_t r = r_begin; r < r_end && st == CRUNCH_OK;) {
        size_t i = r + g->r0, plo, nr, plo2 = 0, nr2 = 0;
        rows_of(g, i, &plo, &nr);
        if (r + 1 < r_end)
            rows_of(g, i + 1, &plo2, &nr2);
        /* Two rows at once when they meet the same kernel rows (away from
         * the top and bottom edges): image rows i+1-plo down to i-plo-nr+1. */
        int two = r + 1 < r_end && plo2 == plo && nr2 == nr;
        /* Copy up to the newest image row these rows meet: row j lives in
         * slot j % ring_rows, whose old row j - ring_rows no output row
         * from here on meets. */
        size_t newest = i + (size_t)two < g->h ? i + (size_t)two : g->h - 1;
        for (; loaded <= newest && st == CRUNCH_OK; loaded++) {
            T *dst = ring + (loaded % ring_rows) * stride + left;
            const T *src = img + loaded * g->w;
            for (size_t j = 0; j < g->w && st == CRUNCH_OK;) { /* a long row in runs */
                size_t m = crunch__poll_span(pl, 1, g->w - j);
                memcpy(dst + j, src + j, m * sizeof *img);
                j += m;
                if (crunch__poll_work(pl, (int64_t)m + CRUNCH__POLL_ITEM))
                    st = CRUNCH_ECANCELED;
            }
        }
        size_t top = i + (size_t)two - plo; /* the image row of rows[0] */
        for (size_t t = 0; t < nr + (size_t)two; t++)
            rows[t] = ring + ((top - t) % ring_rows) * stride + (g->kw - 1);
        /* Cut the work into calls of at most CHUNK multiply-adds, each
         * charged to pl: columns in runs of whole 8-vector blocks, and
         * kernel rows in groups when even one block's worth is too much. */
        size_t per_col = nr * g->kw * (size_t)(1 + two); /* <= 2 kh kw, which fits */
        size_t cols = g->ow, grp = nr;
        if (per_col > CHUNK / g->ow) {
            cols = CHUNK / per_col / 128 * 128;
            cols = cols < 128 ? 128 : cols;
            cols = cols < g->ow ? cols : g->ow;
            if (per_col > CHUNK / cols) {
                grp = CHUNK / (cols * g->kw * (size_t)(1 + two));
                grp = grp < 1 ? 1 : grp;
            }
        }
        /* Even one kernel row over cols columns too much (a kernel wider
         * than CHUNK / cols): one output row and a run of taps per call. */
        int split = g->kw > CHUNK / (cols * (size_t)(1 + two));
        T *o = out + r * g->ow;
        for (size_t c = 0; c < g->ow && st == CRUNCH_OK; c += cols) {
            size_t n = g->ow - c < cols ? g->ow - c : cols;
            if (split) {
                st = DN(taps)(pl, rk, rows, k + plo * g->kw, nr, g->kw, two, c, o, g->ow, n);
                continue;
            }
            for (size_t t = 0; t < nr; t += grp) {
                size_t m = nr - t < grp ? nr - t : grp;
                const T *kt = k + (plo + t) * g->kw;
                if (two)
                    pk(rows + t, kt, m, g->kw, c, o + c, o + g->ow + c, n, t > 0);
                else
                    rk(rows + t, kt, m, g->kw, c, o + c, n, t > 0);
                /* the call's multiply-adds, at least a call's worth */
                if (crunch__poll_work(pl, (int64_t)(n * m * g->kw * (size_t)(1 + two)) +
                                              CRUNCH__POLL_ITEM)) {
                    st = CRUNCH_ECANCELED;
                    break;
                }
            }
        }
        if (st == CRUNCH_OK)
            crunch__progress_add(ctx, (int64_t)(g->ow * (size_t)(1 + two)));
        r += 1 + (size_t)two;
    }
    if (rb.p != NULL)
        crunch__bigbuf_free(&rb);
    else
        crunch__scratch_put(ring, cap);
    return st;
}

/* DN(call): one call's state, shared by its bands. */
typedef struct DN(call) {
    crunch_ctx *ctx;
    const geom *g;
    const T *img, *k;
    T *out;
    int finite; /* the kernel: 1 finite (the padded path), 0 not (clipped) */
    size_t band; /* output rows per item */
} DN(call);

/* DN(band) computes output rows [band * i, band * i + band) of the call
 * (crunch__item_fn), with a poll budget of its own. */
static crunch_status DN(band)(void *arg, size_t i)
{
    const DN(call) *c = arg;
    size_t r0 = i * c->band, r1 = c->g->oh - r0 < c->band ? c->g->oh : r0 + c->band;
    crunch__poll pl;
    crunch__poll_init(&pl, c->ctx);
    if (c->finite)
        return DN(padded)(&pl, c->ctx, c->g, c->img, c->k, c->out, r0, r1);
    return DN(clipped)(&pl, c->ctx, c->g, c->img, c->k, c->out, r0, r1);
}

/* DN(conv2d) checks the arguments and picks the path. */
static crunch_status DN(conv2d)(crunch_ctx *ctx, crunch_conv_mode mode, size_t h, size_t w,
                                const T *img, size_t kh, size_t kw, const T *k, T *out)
{
    geom g;
    crunch_status st = geom_init(&g, mode, h, w, kh, kw, sizeof(T));
    if (st != CRUNCH_OK)
        return st;
    size_t nout = g.oh * g.ow; /* geom_init checked that the bytes fit */
    if (k == NULL || (img == NULL && h * w > 0) || (out == NULL && nout > 0))
        return CRUNCH_EINVAL;
    /* out is written row by row while image rows are still to be read */
    if (crunch__overlap_1d(out, nout, img, h * w, sizeof(T)) ||
        crunch__overlap_1d(out, nout, k, kh * kw, sizeof(T)))
        return CRUNCH_EINVAL;
    crunch__progress_begin(ctx, (int64_t)nout);
    if (nout == 0)
        return CRUNCH_OK;
    if (crunch__canceled(ctx))
        return CRUNCH_ECANCELED;
    crunch__poll pl;
    crunch__poll_init(&pl, ctx);
    if (h == 0 || w == 0) { /* every sum is empty; a huge kernel makes a huge output */
        for (size_t i = 0; i < nout;) {
            size_t m = crunch__poll_span(&pl, 1, nout - i);
            memset(out + i, 0, m * sizeof *out);
            i += m;
            crunch__progress_add(ctx, (int64_t)m); /* as it goes: a huge output takes milliseconds */
            if (crunch__poll_work(&pl, (int64_t)m))
                return CRUNCH_ECANCELED;
        }
        return CRUNCH_OK;
    }
    int fin = DN(finite)(&pl, k, kh * kw);
    if (fin < 0)
        return CRUNCH_ECANCELED;
    DN(call) c = {ctx, &g, img, k, out, fin, band_rows(&g)};
    /* One thread: the whole output is one band, as a serial call has no
     * use for more rings than one. */
    size_t items = crunch__threads(ctx) < 2 ? 1 : (g.oh + c.band - 1) / c.band;
    if (items == 1)
        c.band = g.oh;
    return crunch__parallel(ctx, items, DN(band), &c);
}
