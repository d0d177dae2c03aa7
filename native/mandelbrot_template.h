/*
 * mandelbrot_template.h - the SIMD row kernel (contract in
 * mandelbrot_kernels.h), written once over an abstract vector of W pixels
 * and stamped out per path: mandelbrot_avx2.c includes it with ymm
 * vectors (W = 4), mandelbrot_avx512.c with zmm vectors and mask
 * registers (W = 8).
 *
 * One iteration's dependency chain (multiply, subtract, add: about 10
 * cycles) is much longer than the time the FPU needs to issue one vector's
 * ten operations, so a chunk iterates U independent vectors together to
 * fill the pipelines. Lanes that escaped go on iterating (their values
 * run off to Inf and NaN, harmlessly) but their counters stop; the chunk
 * ends when no lane of it is left or at max_iter. Counters are 64-bit
 * lanes, as wide as the doubles beside them, so 2^31 iterations fit.
 *
 * No include guard: it is included once per path. The includer defines,
 * before the inclusion:
 *   TGT             the target attribute of every function
 *   V               the vector type, W doubles
 *   VI              the vector type of W 64-bit counters
 *   VM              a set of lanes (a mask)
 *   W, U            pixels per vector; vectors per chunk
 *   ROUND(v)        CRUNCH__MB_ROUND for a V (mandelbrot_kernels.h)
 *   V_SET1(x), V_ADD(a, b), V_SUB(a, b), V_MUL(a, b), V_DIV(a, b)
 *   V_LANES()       lane l holds l, as a double
 *   VI_ONE()        every counter 1
 *   VI_INC(c, m)    c plus 1 in the lanes of m
 *   M_ALL()         every lane
 *   M_NONE()        no lane
 *   M_INSIDE(m, s, four)    the lanes of m where s is not greater than
 *                   four, NaN included (not-greater, unordered)
 *   M_OR(a, b)      the union of a and b
 *   M_EMPTY(m)      whether m has no lane
 *   STORE_COUNTS(p, c)      the low 32 bits of each counter to p[0..W)
 * and this file undefines them at its end. It defines the static function
 * mb_row (a crunch__mb_kernel), for the includer's table entry.
 */

/*
 * mb_chunk computes the counts of columns j0 .. j0 + nv*W - 1 into
 * out[j0..], nv <= U vectors (a constant after inlining, so the loops over
 * v unroll). Returns CRUNCH_ECANCELED or CRUNCH_OK.
 */
static inline __attribute__((always_inline)) TGT crunch_status
mb_chunk(const crunch_ctx *ctx, const crunch__mb_row *row, size_t j0, int nv, uint32_t *out)
{
    V cr[U], x[U], y[U];
    VI cnt[U];
    VM in[U];
    const V ci = V_SET1(row->ci), four = V_SET1(4.0);
    const V xmin = V_SET1(row->x_min), dx = V_SET1(row->dx);
    const V wd = V_SET1(row->width);
    /* j0 + v*W + lane is below 2^53, so the sum is the exact (double)j */
    const V lane = V_LANES();
#pragma GCC unroll 8
    for (int v = 0; v < nv; v++) {
        V j = V_ADD(V_SET1((double)(j0 + (size_t)v * W)), lane);
        cr[v] = V_ADD(xmin, V_DIV(V_MUL(dx, j), wd)); /* crunch__mb_re */
        x[v] = cr[v]; /* z_1 = c */
        y[v] = ci;
        cnt[v] = VI_ONE();
        in[v] = M_ALL(); /* every lane still iterating */
    }
    /* A lane's counter is 1 plus the number of k in [1, max_iter) with
     * z_1 .. z_k all inside: k for a lane that escapes at z_k, max_iter
     * for one that never does. */
    const int64_t max_iter = row->max_iter;
    int64_t k = 1;
    while (k < max_iter) {
        int64_t steps = max_iter - k < CRUNCH__MB_POLL ? max_iter - k : CRUNCH__MB_POLL;
        k += steps;
        for (int64_t s = 0; s < steps; s++) {
            VM any = M_NONE();
#pragma GCC unroll 8
            for (int v = 0; v < nv; v++) {
                V x2 = V_MUL(x[v], x[v]);
                V y2 = V_MUL(y[v], y[v]);
                V t = V_MUL(x[v], y[v]);
                ROUND(x2); /* never fused into the adds below */
                ROUND(y2);
                ROUND(t);
                /* a NaN |z|^2 never escapes */
                in[v] = M_INSIDE(in[v], V_ADD(x2, y2), four);
                cnt[v] = VI_INC(cnt[v], in[v]);
                x[v] = V_ADD(V_SUB(x2, y2), cr[v]);
                V t2 = V_ADD(t, t);
                ROUND(t2); /* exact; no 2*t fused with the add */
                y[v] = V_ADD(t2, ci);
                any = M_OR(any, in[v]);
            }
            if (M_EMPTY(any)) /* every lane escaped */
                goto done;
        }
        if (crunch__canceled(ctx))
            return CRUNCH_ECANCELED;
    }
done:;
#pragma GCC unroll 8
    for (int v = 0; v < nv; v++) /* counts <= 2^31 fit their low 32 bits */
        STORE_COUNTS(out + j0 + (size_t)v * W, cnt[v]);
    return crunch__canceled(ctx) ? CRUNCH_ECANCELED : CRUNCH_OK; /* a poll per chunk */
}

static TGT crunch_status mb_row(const crunch_ctx *ctx, const crunch__mb_row *row, size_t width,
                                uint32_t *out)
{
    size_t j = 0;
    for (; j + U * W <= width; j += U * W)
        if (mb_chunk(ctx, row, j, U, out) != CRUNCH_OK)
            return CRUNCH_ECANCELED;
    for (; j + W <= width; j += W) /* whole vectors left over */
        if (mb_chunk(ctx, row, j, 1, out) != CRUNCH_OK)
            return CRUNCH_ECANCELED;
    return crunch__mb_tail(ctx, row, j, width, out);
}

#undef TGT
#undef V
#undef VI
#undef VM
#undef W
#undef U
#undef ROUND
#undef V_SET1
#undef V_ADD
#undef V_SUB
#undef V_MUL
#undef V_DIV
#undef V_LANES
#undef VI_ONE
#undef VI_INC
#undef M_ALL
#undef M_NONE
#undef M_INSIDE
#undef M_OR
#undef M_EMPTY
#undef STORE_COUNTS
