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

/* DN(finite) reports whether none of x[0..n) is NaN or Inf. */
static int DN(finite)(const T *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isfinite(x[i]))
            return 0;
    return 1;
}

/*
 * DN(clipped) computes the convolution with every loop bound clipped to
 * the image, so that only the defining sum's terms are ever formed: the
 * path for a kernel holding NaN or Inf, whose products with the padding's
 * zeros would be NaN. Per output row: the row is zeroed, then each tap
 * (p, q) adds k[p][q] times a run of image row i - p to the columns it
 * reaches, taps in the fast path's order, so finite results agree with it.
 */
static crunch_status DN(clipped)(crunch_ctx *ctx, const geom *g, const T *img, const T *k,
                                 T *out)
{
    for (size_t r = 0; r < g->oh; r++) {
        T *o = out + r * g->ow;
        memset(o, 0, g->ow * sizeof *o); /* all-zero bits: +0.0 */
        size_t i = r + g->r0, plo, nr;
        rows_of(g, i, &plo, &nr);
        for (size_t p = plo; p < plo + nr; p++) {
            if (crunch__canceled(ctx)) /* a kernel row's taps over one output row */
                return CRUNCH_ECANCELED;
            const T *ir = img + (i - p) * g->w;
            for (size_t q = 0; q < g->kw; q++) {
                /* column c reads image column c + c0 - q: keep it in [0, w) */
                if (g->w + q <= g->c0)
                    continue; /* even c = 0 is right of the image */
                size_t lo = q > g->c0 ? q - g->c0 : 0;
                size_t hi = g->w + q - g->c0;
                hi = hi < g->ow ? hi : g->ow;
                T kv = k[p * g->kw + q];
                for (size_t c = lo; c < hi; c++)
                    o[c] += kv * ir[c + g->c0 - q];
            }
        }
        crunch__progress_add(ctx, (int64_t)g->ow);
    }
    return CRUNCH_OK;
}

/*
 * DN(padded) is the fast path (finite kernel, non-empty image): the ring
 * of padded image rows and a row kernel, as conv2d.c's comment explains.
 */
static crunch_status DN(padded)(crunch_ctx *ctx, const geom *g, const T *img, const T *k,
                                T *out)
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
    T *ring = calloc(ring_elems, sizeof *ring); /* calloc checks the byte count; pads stay 0 */
    const T **rows = malloc(ring_rows * sizeof *rows);
    if (ring == NULL || rows == NULL) {
        free(ring);
        free(rows);
        return CRUNCH_ENOMEM;
    }
    crunch_status st = CRUNCH_OK;
    size_t loaded = 0; /* image rows copied into the ring so far */
    for (size_t r = 0; r < g->oh && st == CRUNCH_OK;) {
        size_t i = r + g->r0, plo, nr, plo2 = 0, nr2 = 0;
        rows_of(g, i, &plo, &nr);
        if (r + 1 < g->oh)
            rows_of(g, i + 1, &plo2, &nr2);
        /* Two rows at once when they meet the same kernel rows (away from
         * the top and bottom edges): image rows i+1-plo down to i-plo-nr+1. */
        int two = r + 1 < g->oh && plo2 == plo && nr2 == nr;
        /* Copy up to the newest image row these rows meet: row j lives in
         * slot j % ring_rows, whose old row j - ring_rows no output row
         * from here on meets. */
        size_t newest = i + (size_t)two < g->h ? i + (size_t)two : g->h - 1;
        for (; loaded <= newest; loaded++)
            memcpy(ring + (loaded % ring_rows) * stride + left, img + loaded * g->w,
                   g->w * sizeof *img);
        size_t top = i + (size_t)two - plo; /* the image row of rows[0] */
        for (size_t t = 0; t < nr + (size_t)two; t++)
            rows[t] = ring + ((top - t) % ring_rows) * stride + (g->kw - 1);
        /* Cut the work into calls of at most CHUNK multiply-adds, polling
         * before each: columns in runs of whole 8-vector blocks, and kernel
         * rows in groups when even one block's worth is too much. */
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
        T *o = out + r * g->ow;
        for (size_t c = 0; c < g->ow && st == CRUNCH_OK; c += cols) {
            size_t n = g->ow - c < cols ? g->ow - c : cols;
            for (size_t t = 0; t < nr; t += grp) {
                if (crunch__canceled(ctx)) {
                    st = CRUNCH_ECANCELED;
                    break;
                }
                size_t m = nr - t < grp ? nr - t : grp;
                const T *kt = k + (plo + t) * g->kw;
                if (two)
                    pk(rows + t, kt, m, g->kw, c, o + c, o + g->ow + c, n, t > 0);
                else
                    rk(rows + t, kt, m, g->kw, c, o + c, n, t > 0);
            }
        }
        if (st == CRUNCH_OK)
            crunch__progress_add(ctx, (int64_t)(g->ow * (size_t)(1 + two)));
        r += 1 + (size_t)two;
    }
    free(ring);
    free(rows);
    return st;
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
    crunch__progress_begin(ctx, (int64_t)nout);
    if (nout == 0)
        return CRUNCH_OK;
    if (crunch__canceled(ctx))
        return CRUNCH_ECANCELED;
    if (h == 0 || w == 0) { /* every sum is empty */
        memset(out, 0, nout * sizeof *out);
        crunch__progress_add(ctx, (int64_t)nout);
        return CRUNCH_OK;
    }
    if (!DN(finite)(k, kh * kw))
        return DN(clipped)(ctx, &g, img, k, out);
    return DN(padded)(ctx, &g, img, k, out);
}
