/*
 * fft_fourstep_plan.h - the plan of a four-step transform: part of fft.c,
 * included once there (it uses fft.c's plan type and builders). The
 * driver is fft_fourstep.h.
 *
 * A transform too large for the cache is split n = n1 * n2. With the row
 * read as an n1 x n2 matrix, x[j1*n2 + j2]:
 *
 *   1. every column j2: a DFT of length n1 along j1 -> A[k1][j2]
 *   2. A[k1][j2] *= w^(j2*k1),  w = exp(-2 pi i / n)
 *   3. every row k1: a DFT of length n2 along j2 -> B[k1][k2]
 *   4. X[k1 + n1*k2] = B[k1][k2]
 *
 * Step 1 runs on blocks of FS_COLS(f32) adjacent columns: copied to a
 * buffer as interleaved rows (a plain copy: each j1 contributes one
 * contiguous run), transformed there by the col plan (length n1 at first
 * stride FS_COLS: the columns are independent transforms, and the SIMD
 * kernels vectorise along them), then twiddled on the way out to the
 * work buffer. Step 3 transforms FS_ROWS(f32) rows at a time into a
 * buffer and writes them transposed (step 4) into y, FS_ROWS contiguous
 * elements per k2. Each element is read and written twice from memory,
 * where the one-pass-at-a-time Stockham transform does so once per pass.
 */

/* A transform is split when its data take FS_MIN_BYTES or more. Below
 * that the one-pass form still finds most of its data in the caches (1
 * MiB of L2 per core, 32 MiB of L3 shared here) and measured as fast or
 * faster on one thread: 2^18 and 2^19 complex doubles were 10 to 30%
 * slower split, 2^20 and up as fast or faster. 8 MiB splits 2^19 complex
 * doubles (the real transform of 2^20) so that a call of that size can
 * run on several threads. */
#define FS_MIN_BYTES ((size_t)8 << 20)

/* Columns per block (step 1) and rows per block (step 3): 512 bytes of
 * each row, eight cache lines, so that the strided copies move long runs
 * (128 bytes ran measurably slower); a multiple of every SIMD path's
 * width (4 f64, 8 f32). A column block of n1 <= 2^15 then takes 2 or 3
 * buffers of n1 * 512 bytes. */
#define FS_COLS(f32) ((f32) ? (size_t)64 : (size_t)32)
#define FS_ROWS(f32) ((f32) ? (size_t)64 : (size_t)32)

/* fs_split reports whether a transform of length n in precision f32 takes
 * the four-step form, and if so sets n1 <= n2 (both powers of two). Only
 * powers of two are split: other lengths keep their one-pass form. */
static int fs_split(size_t n, int f32, size_t *n1, size_t *n2)
{
    const size_t es = f32 ? 2 * sizeof(float) : 2 * sizeof(double);
    if ((n & (n - 1)) != 0 || n * es < FS_MIN_BYTES)
        return 0;
    int e = 0;
    while (((size_t)1 << e) < n)
        e++;
    *n1 = (size_t)1 << (e / 2); /* >= 2^9 from the threshold on: blocks divide both */
    *n2 = n / *n1;
    return 1;
}

/* fs_col_items and fs_row_items are how many blocks steps 1 and 3 take:
 * the items of the parallel call, which depend on n and nothing else. */
static size_t fs_col_items(const fft_plan *p)
{
    return p->n2 / FS_COLS(p->f32);
}

static size_t fs_row_items(const fft_plan *p)
{
    return p->n1 / FS_ROWS(p->f32);
}

/*
 * plan_build_fourstep fills in p (n, f32, n1, n2 set): the col and row
 * plans and the step-2 twiddles w^((b*C + c)*k1) of block b, row k1 and
 * column c, as two tables whose product they are: fs_twc[k1*C + c] =
 * w^(c*k1) and fs_twb[b*n1 + k1] = w^(b*C*k1), each entry correctly
 * rounded (twiddle). Together they hold n1 * (C + n2 / C) entries, 1/16
 * of n at n = 2^20: step 2 read a table of all n, as many bytes as the
 * transform's data, once per call; these stay in cache. A product of two
 * rounded values is within about 2 ulp of the twiddle, against 0.5 ulp
 * for a table of all n, which the transform's error (of order log2(n)
 * ulp) does not notice.
 */
static crunch_status plan_build_fourstep(fft_plan *p, const crunch_ctx *cctx)
{
    const size_t n1 = p->n1, n2 = p->n2, C = FS_COLS(p->f32);
    const size_t es = p->f32 ? 2 * sizeof(float) : 2 * sizeof(double);
    int rad[MAX_STAGES];
    int c = factorize(n1, rad);
    p->col = calloc(1, sizeof *p->col);
    if (p->col == NULL)
        return CRUNCH_ENOMEM;
    p->col->n = n1 * C; /* C interleaved transforms of n1 */
    p->col->f32 = p->f32;
    crunch_status st = plan_build_smooth(p->col, rad, c, C, cctx);
    if (st != CRUNCH_OK)
        return st;
    if ((st = plan_build(n2, p->f32, 0, cctx, &p->row)) != CRUNCH_OK)
        return st;
    const size_t nb = n2 / C;
    p->fs_twc = aligned_buffer(n1 * C * es);
    p->fs_twb = aligned_buffer(nb * n1 * es);
    if (p->fs_twc == NULL || p->fs_twb == NULL)
        return CRUNCH_ENOMEM;
    p->bytes += p->col->bytes + p->row->bytes + (n1 * C + nb * n1) * es;
    double re, im;
    for (size_t k1 = 0; k1 < n1; k1++) {
        if (crunch__canceled(cctx))
            return CRUNCH_ECANCELED;
        for (size_t cc = 0; cc < C; cc++) {
            twiddle(cc * k1, p->n, &re, &im); /* c*k1 < n2*n1 = n */
            store_cx(p->fs_twc, p->f32, k1 * C + cc, re, im);
        }
        for (size_t b = 0; b < nb; b++) {
            twiddle(b * C * k1, p->n, &re, &im); /* b*C*k1 < n2*n1 = n */
            store_cx(p->fs_twb, p->f32, b * n1 + k1, re, im);
        }
    }
    return CRUNCH_OK;
}
