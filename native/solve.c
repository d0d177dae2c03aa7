/*
 * solve.c - crunch_solve_f64: A X = B by LU factorisation with partial
 * pivoting, then forward and back substitution.
 *
 * Layout. Everything is row-major, so LAPACK's column operations become
 * strided and its row operations contiguous: a row swap is a contiguous
 * swap of doubles. Inside a top-level panel a pivot swaps the panel's
 * part of the two rows; the rest follows later, as LAPACK's dlaswp does
 * (factor_top). The result is the same as swapping whole rows at once,
 * since every pending update of a row uses only that row's own
 * multipliers, which travel with it.
 *
 * Factorisation. Right-looking, blocked at three levels of column widths
 * (BLOCKS: 128, 32, 8). At each level a range of columns [j0, j1) is cut
 * into blocks; for each block [b0, b1):
 *   1. factor the block's columns, rows b0..n-1 (the panel), one level
 *      down (at the last level: column by column, see panel_unblocked);
 *   2. U12 = L11^-1 A12: the block's rows, columns b1..j1-1 (trsm_lower);
 *   3. A22 -= L21 U12: rows b1..n-1, columns b1..j1-1, through the
 *      library's gemm (update), a k = b1-b0 rank update.
 * At the top level the updates are the big Schur complements (k = 128,
 * nearly all the flops); inside a panel they are narrow (k = 32 or 8), so
 * that column-by-column elimination only ever touches 8 columns.
 *
 * Reuse of gemm: the gemm driver's entry points are static to gemm.c, so
 * the updates call the public crunch_gemm_f64 with a private ctx that
 * carries the caller's SIMD cap (so tests reach every path) but not its
 * progress (which would be reset by each call). gemm polls that private
 * ctx, which nobody cancels; instead update() cuts each product into
 * pieces of at most the path's chunk_fma multiply-adds (about a
 * millisecond on that path) and polls the caller's ctx between them. The
 * pieces cost some repacking (B once per piece of rows): about 1% at
 * n = 1024.
 *
 * Threads: the top level looks ahead (factor_top): each round updates
 * the columns right of a block in pieces of LA_PIECE columns while one
 * item factors the next panel, the panel's row swaps held back from the
 * columns other items are updating. Below the top level, and in the
 * substitutions, each update's pieces (of rows and columns) run in
 * parallel when the update is not already an item of a round, every one
 * the same gemm call as in the serial loop. Every item is fixed by n and
 * its work is serial, so the result is the serial one, bit for bit.
 *
 * Singularity (crunch.h has the contract): an exactly zero pivot stops
 * the factorisation; otherwise the 1-norm condition number is estimated
 * (inv_norm1) and compared with 1/DBL_EPSILON. Non-finite input is
 * refused before any work; non-finite output after it.
 *
 * The level-1 loops around the products (the dot products and row updates
 * of the substitutions and of the narrow triangular solves, the first
 * pass over A) run per SIMD path: solve_kernels.h.
 *
 * Progress is exact: every multiply-add of the elimination (each element
 * (i, c) of A receives min(i, c) of them, sum_j (n-1-j)^2 in all, however
 * the blocks are arranged) and of the substitutions is credited once,
 * where it happens.
 */
#include "solve_kernels.h"

#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Column block widths, widest first; blocks of the last width are
 * eliminated column by column. Any decreasing widths are correct; these
 * were the fastest tried at n = 1024 (within noise of 192/32/8, 96/24/8
 * and 128/16). */
static const size_t BLOCKS[] = {128, 32, 8};
enum { LEVELS = sizeof BLOCKS / sizeof BLOCKS[0] };

enum {
    TRSM_BASE = 8,    /* triangular solves below this many rows: row by row */
    NRHS_BLOCKED = 4, /* from this many right-hand sides on, blocked substitution */
    POLL_ELEMS = 1 << 18, /* elements touched between polls in row loops */
    /* An update is cut into at least this many pieces of rows (of 48 rows
     * or more), so that threads share the narrow updates inside a panel
     * too, which one piece would hold; */
    UPD_ROW_PIECES = 8,
    /* and it runs in parallel from this many multiply-adds on (about 20
     * microseconds): below it a round costs more than it saves. */
    UPD_PAR_MIN = 1 << 20,
    /* factor_top's items beyond the next panel: columns each */
    LA_PIECE = 128,
    /* and a round runs in parallel from this many multiply-adds in its
     * update on: below, its items took as long or longer on 2 threads
     * as on one here (n = 2048: the last 6 of 15 rounds, 2 ms or less
     * each; the next panel's factorisation, item 0, is most of them) */
    LA_PAR_MIN = 1 << 26
};

/* progress: multiply-adds credited to the caller's ctx. When the total
 * does not fit an int64 (only for matrices of tens of terabytes), the
 * published units are 2^shift multiply-adds, the remainder carried. */
typedef struct progress {
    crunch_ctx *ctx;
    unsigned shift;
    uint64_t carry;
    int64_t done, total;
} progress;

/* solver: the state of one call. */
typedef struct solver {
    crunch_ctx *ctx;   /* the caller's: cancel and progress */
    crunch_ctx sub;    /* passed to gemm: the caller's path, never cancelled */
    progress pr;
    size_t n, ld;      /* order of A; row stride of w */
    double *w;         /* the LU factors, overwriting the copy of A */
    size_t *piv;       /* row j was swapped with row piv[j] >= j at step j */
    double *v1, *v2;   /* n-element work vectors */
    size_t since_poll; /* elements touched since the last poll in row loops */
    size_t swap_lo, swap_hi; /* the columns a pivot's row swap exchanges: the
                                top-level panel's, set by factor_top */
    int serial;        /* inside a parallel item: updates stay on this thread */
    double scale;      /* the power of two A and B were scaled by (load) */
    const crunch__solve_kernels *k; /* the vector kernels of this call's path */
} solver;

static inline size_t min_size(size_t x, size_t y)
{
    return x < y ? x : y;
}

/* progress_init publishes a total of fmas multiply-adds (given as a double
 * when the exact count overflows: exact is then 0 and approx is used). */
static void progress_init(progress *pr, crunch_ctx *ctx, uint64_t exact, double approx)
{
    pr->ctx = ctx;
    pr->shift = 0;
    pr->carry = 0;
    pr->done = 0;
    if (exact > 0 && exact <= (uint64_t)INT64_MAX) {
        pr->total = (int64_t)exact;
    } else {
        while (approx >= 0x1p62) { /* double has the range for it, not the digits */
            approx *= 0.5;
            pr->shift++;
        }
        pr->total = (int64_t)approx;
    }
    crunch__progress_begin(ctx, pr->total);
}

/* tick credits fmas multiply-adds and polls the caller's ctx. */
static crunch_status tick(solver *s, uint64_t fmas)
{
    progress *pr = &s->pr;
    pr->carry += fmas; /* one block's work, far below 2^63 */
    int64_t units = (int64_t)(pr->carry >> pr->shift);
    pr->carry -= (uint64_t)units << pr->shift;
    if (units > pr->total - pr->done) /* the approximate total may be low */
        units = pr->total - pr->done;
    if (units > 0) {
        pr->done += units;
        crunch__progress_add(pr->ctx, units);
    }
    s->since_poll = 0;
    return crunch__canceled(s->ctx) ? CRUNCH_ECANCELED : CRUNCH_OK;
}

/* touched counts elements handled by a row loop and polls the caller's ctx
 * every POLL_ELEMS of them; fmas is credited at the same time. */
static crunch_status touched(solver *s, size_t elems, uint64_t *fmas)
{
    s->since_poll += elems;
    if (s->since_poll < POLL_ELEMS)
        return CRUNCH_OK;
    crunch_status st = tick(s, *fmas);
    *fmas = 0;
    return st;
}

/* upd_call: one parallel update's state, shared by its pieces. */
typedef struct upd_call {
    solver *s;
    size_t m, nc, k, rows, cols, kk;
    const double *a, *b;
    double *c;
    size_t lda, ldb, ldc;
    uint64_t fmas; /* multiply-adds the pieces did; atomic */
} upd_call;

/* upd_piece runs piece i of a parallel update: rows i / (column pieces),
 * columns i % (column pieces), its k pieces in order, each the very gemm
 * call the serial loop makes (crunch__item_fn). Progress goes straight to
 * the caller's ctx when it counts single multiply-adds (pr.shift == 0,
 * every total below 2^63); otherwise update credits it afterwards. */
static crunch_status upd_piece(void *arg, size_t i)
{
    upd_call *u = arg;
    solver *s = u->s;
    size_t colp = (u->nc + u->cols - 1) / u->cols;
    size_t i0 = i / colp * u->rows, j0 = i % colp * u->cols;
    size_t mr = min_size(u->rows, u->m - i0), ncr = min_size(u->cols, u->nc - j0);
    crunch_ctx sub = s->sub; /* a ctx of its own: gemm writes its progress there */
    for (size_t p0 = 0; p0 < u->k; p0 += u->kk) {
        size_t kr = min_size(u->kk, u->k - p0);
        crunch_status st =
            crunch_gemm_f64(&sub, 0, 0, mr, ncr, kr, -1.0, u->a + i0 * u->lda + p0, u->lda,
                            u->b + p0 * u->ldb + j0, u->ldb, 1.0, u->c + i0 * u->ldc + j0, u->ldc);
        if (st != CRUNCH_OK)
            return st;
        uint64_t f = (uint64_t)mr * ncr * kr;
        __atomic_fetch_add(&u->fmas, f, __ATOMIC_RELAXED);
        if (s->pr.shift == 0)
            crunch__progress_add(s->ctx, (int64_t)f);
        if (crunch__canceled(s->ctx))
            return CRUNCH_ECANCELED;
    }
    return CRUNCH_OK;
}

/*
 * update computes C -= A B for the m x k matrix A, the k x nc matrix B and
 * the m x nc matrix C (row strides lda, ldb, ldc), in pieces of at most
 * s->k->chunk_fma multiply-adds (rows first: a piece spans up to 2048
 * columns and as many rows as fit, but at most about m / UPD_ROW_PIECES,
 * at least 48, a multiple of every path's MR), each one a gemm call
 * followed by a tick. When 48 rows of 2048 columns are more than that (a
 * deep product: k = 128 on the slower paths, or k in the thousands from
 * the substitutions of a large system) the pieces are narrower, down to
 * 16 columns, and when k alone is too deep for that, k is cut too (C -=
 * A_k B_k, piece by piece).
 *
 * On a ctx with a runner, the pieces of rows and columns are the items of
 * a parallel call (each doing its k pieces in order): the same gemm calls
 * on the same data, so the same bits whatever thread makes them. The
 * pieces' sizes come from the shapes and the path, never the threads.
 */
static crunch_status update(solver *s, size_t m, size_t nc, size_t k, const double *a,
                            size_t lda, const double *b, size_t ldb, double *c, size_t ldc)
{
    if (m == 0 || nc == 0 || k == 0)
        return CRUNCH_OK;
    const uint64_t chunk = s->k->chunk_fma;
    /* 48 rows by 16 columns is the smallest piece worth a gemm call */
    size_t kk = min_size(k, (size_t)(chunk / (48 * 16)));
    size_t cols = min_size(nc, 2048);
    if ((uint64_t)48 * cols * kk > chunk) /* 16 columns at least: kk keeps that within chunk */
        cols = (size_t)(chunk / ((uint64_t)48 * kk)) / 16 * 16;
    uint64_t per_row = (uint64_t)cols * kk;
    size_t rows = (size_t)(chunk / per_row) / 48 * 48;
    size_t share = (m / UPD_ROW_PIECES + 47) / 48 * 48; /* by the shape alone, as rows */
    if (rows > share)
        rows = share;
    if (rows < 48)
        rows = 48;
    size_t pieces = ((m + rows - 1) / rows) * ((nc + cols - 1) / cols);
    if (!s->serial && crunch__threads(s->ctx) >= 2 && pieces >= 2 &&
        (uint64_t)m * nc * k >= UPD_PAR_MIN) {
        upd_call u = {s, m, nc, k, rows, cols, kk, a, b, c, lda, ldb, ldc, 0};
        crunch_status st = crunch__parallel(s->ctx, pieces, upd_piece, &u);
        uint64_t f = __atomic_load_n(&u.fmas, __ATOMIC_RELAXED);
        if (s->pr.shift == 0) {
            s->pr.done += (int64_t)f; /* published by the pieces */
            f = 0;
        }
        crunch_status t = tick(s, f); /* the rest of the accounting, and a poll */
        return st != CRUNCH_OK ? st : t;
    }
    for (size_t i0 = 0; i0 < m; i0 += rows) {
        size_t mr = min_size(rows, m - i0);
        for (size_t j0 = 0; j0 < nc; j0 += cols) {
            size_t ncr = min_size(cols, nc - j0);
            for (size_t p0 = 0; p0 < k; p0 += kk) {
                size_t kr = min_size(kk, k - p0);
                crunch_status st =
                    crunch_gemm_f64(&s->sub, 0, 0, mr, ncr, kr, -1.0, a + i0 * lda + p0, lda,
                                    b + p0 * ldb + j0, ldb, 1.0, c + i0 * ldc + j0, ldc);
                if (st == CRUNCH_OK)
                    st = tick(s, (uint64_t)mr * ncr * kr);
                if (st != CRUNCH_OK)
                    return st;
            }
        }
    }
    return CRUNCH_OK;
}

/* The generic vector kernels (solve_kernels.h has the contract), in plain
 * C; at -O2 the compiler keeps them scalar, so each runs four independent
 * chains rather than one long dependency. */
static void axpy_row(size_t len, double alpha, const double *restrict x, double *restrict y)
{
    size_t j = 0;
    for (; j + 4 <= len; j += 4) {
        y[j] -= alpha * x[j];
        y[j + 1] -= alpha * x[j + 1];
        y[j + 2] -= alpha * x[j + 2];
        y[j + 3] -= alpha * x[j + 3];
    }
    for (; j < len; j++)
        y[j] -= alpha * x[j];
}

/* dot_row returns sum x[j] * y[j] over j < len, in four chains. */
static double dot_row(size_t len, const double *restrict x, const double *restrict y)
{
    double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    size_t j = 0;
    for (; j + 4 <= len; j += 4) {
        s0 += x[j] * y[j];
        s1 += x[j + 1] * y[j + 1];
        s2 += x[j + 2] * y[j + 2];
        s3 += x[j + 3] * y[j + 3];
    }
    for (; j < len; j++)
        s0 += x[j] * y[j];
    return (s0 + s1) + (s2 + s3);
}

/* half splits m > TRSM_BASE rows for the recursive triangular solves:
 * about half, in whole base blocks, at least one of them. */
static inline size_t half(size_t m)
{
    size_t h = m / 2 / TRSM_BASE * TRSM_BASE;
    return h > TRSM_BASE ? h : TRSM_BASE;
}

static double load_row(size_t len, const double *restrict src, double *restrict dst,
                       double *restrict colsum)
{
    double m = 0;
    for (size_t j = 0; j < len; j++) {
        double a = fabs(src[j]);
        dst[j] = src[j];
        colsum[j] += a;
        m = a > m ? a : m; /* false for NaN: skipped, as the contract says */
    }
    return m;
}

/* paths is solve's kernel table (internal.h). */
static const crunch__solve_kernels generic_kernels = {dot_row, axpy_row, load_row,
                                                      (uint64_t)1 << 22};
CRUNCH__KERNEL_TABLE(paths, crunch__solve_kernels *const, &generic_kernels,
                     &crunch__solve_kernels_avx2, &crunch__solve_kernels_avx512);

/*
 * trsm_lower solves L X = B in place for X: L is the m x m unit lower
 * triangle at l (row stride ldl; its diagonal and upper part are not
 * read), B the m x nc matrix at b (row stride ldb). Recursive: the top
 * half, then the bottom half less the top half's contribution (update).
 */
static crunch_status trsm_lower(solver *s, size_t m, size_t nc, const double *l, size_t ldl,
                                double *b, size_t ldb)
{
    if (m <= TRSM_BASE) {
        /* In runs of columns: with many right-hand sides, the block's
         * m (m - 1) / 2 row updates are far more than a poll's budget. */
        size_t run = POLL_ELEMS / (m * m) > 0 ? POLL_ELEMS / (m * m) : 1;
        for (size_t c0 = 0; c0 < nc; c0 += run) {
            size_t w = min_size(run, nc - c0);
            for (size_t i = 1; i < m; i++) /* row i less rows p < i, already final */
                for (size_t p = 0; p < i; p++)
                    s->k->axpy(w, l[i * ldl + p], b + p * ldb + c0, b + i * ldb + c0);
            crunch_status st = tick(s, (uint64_t)(m * (m - 1) / 2) * w);
            if (st != CRUNCH_OK)
                return st;
        }
        return CRUNCH_OK;
    }
    size_t m1 = half(m);
    crunch_status st = trsm_lower(s, m1, nc, l, ldl, b, ldb);
    if (st == CRUNCH_OK)
        st = update(s, m - m1, nc, m1, l + m1 * ldl, ldl, b, ldb, b + m1 * ldb, ldb);
    if (st == CRUNCH_OK)
        st = trsm_lower(s, m - m1, nc, l + m1 * ldl + m1, ldl, b + m1 * ldb, ldb);
    return st;
}

/*
 * trsm_upper solves U X = B in place for X: U is the m x m upper triangle
 * at u (row stride ldu, non-zero diagonal; the strict lower part is not
 * read), B as in trsm_lower. The bottom half first.
 */
static crunch_status trsm_upper(solver *s, size_t m, size_t nc, const double *u, size_t ldu,
                                double *b, size_t ldb)
{
    if (m <= TRSM_BASE) {
        /* in runs of columns, as trsm_lower */
        size_t run = POLL_ELEMS / (m * m) > 0 ? POLL_ELEMS / (m * m) : 1;
        for (size_t c0 = 0; c0 < nc; c0 += run) {
            size_t w = min_size(run, nc - c0);
            for (size_t i = m; i-- > 0;) {
                double *bi = b + i * ldb + c0;
                for (size_t p = i + 1; p < m; p++)
                    s->k->axpy(w, u[i * ldu + p], b + p * ldb + c0, bi);
                double d = u[i * ldu + i];
                for (size_t j = 0; j < w; j++) /* divide, not multiply by 1/d: exact rounding */
                    bi[j] /= d;
            }
            crunch_status st = tick(s, (uint64_t)(m * (m + 1) / 2) * w);
            if (st != CRUNCH_OK)
                return st;
        }
        return CRUNCH_OK;
    }
    size_t m1 = half(m);
    crunch_status st = trsm_upper(s, m - m1, nc, u + m1 * ldu + m1, ldu, b + m1 * ldb, ldb);
    if (st == CRUNCH_OK) /* B1 -= U12 X2 */
        st = update(s, m1, nc, m - m1, u + m1, ldu, b + m1 * ldb, ldb, b, ldb);
    if (st == CRUNCH_OK)
        st = trsm_upper(s, m1, nc, u, ldu, b, ldb);
    return st;
}

/* swap_rows exchanges the len doubles at x and y (distinct rows). */
static void swap_rows(double *restrict x, double *restrict y, size_t len)
{
    for (size_t j = 0; j < len; j++) {
        double t = x[j];
        x[j] = y[j];
        y[j] = t;
    }
}

/*
 * panel_unblocked eliminates columns [j0, j1) of rows j0..n-1, one column
 * at a time: pick the row with the largest magnitude in the column (the
 * first on ties, as LAPACK's idamax), swap it up (whole rows), store the
 * multipliers in the column and subtract their multiples of the pivot row
 * from the rest of the block's columns. Returns CRUNCH_ENUMERICAL when a
 * column has nothing but zeros (or NaN) to pivot on, or an Inf pivot.
 */
static crunch_status panel_unblocked(solver *s, size_t j0, size_t j1)
{
    const size_t n = s->n, ld = s->ld;
    double *w = s->w;
    uint64_t fmas = 0;
    /* The next column's pivot search rides along with this column's
     * update (the same rows, just written): p and best carry it over. */
    size_t p = j0;
    double best = fabs(w[j0 * ld + j0]);
    for (size_t i = j0 + 1; i < n; i++) {
        double v = fabs(w[i * ld + j0]);
        if (v > best) { /* strict: the first of equal magnitudes wins */
            best = v;
            p = i;
        }
    }
    for (size_t j = j0; j < j1; j++) {
        s->piv[j] = p;
        if (!(best > 0) || isinf(best)) /* zero, NaN, or overflowed to Inf */
            return CRUNCH_ENUMERICAL;
        if (p != j) /* the panel's columns; the rest later (factor_top) */
            swap_rows(w + j * ld + s->swap_lo, w + p * ld + s->swap_lo, s->swap_hi - s->swap_lo);
        const double *urow = w + j * ld;
        const double pv = urow[j];
        /* Multiply by the reciprocal unless it would overflow (LAPACK's
         * dgetf2 does the same): n^2/2 divisions would cost a few %. */
        const int recip = best >= DBL_MIN * 4;
        const double r = 1.0 / pv;
        const size_t width = j1 - j - 1;
        size_t np = j + 1;
        double nbest = -1; /* below any magnitude: row j+1 is the first candidate */
        for (size_t i = j + 1; i < n; i++) {
            double *row = w + i * ld;
            double l = recip ? row[j] * r : row[j] / pv;
            row[j] = l;
            for (size_t c = 0; c < width; c++)
                row[j + 1 + c] -= l * urow[j + 1 + c];
            double v = width > 0 ? fabs(row[j + 1]) : 0;
            if (v > nbest) {
                nbest = v;
                np = i;
            }
        }
        p = np;
        best = j + 1 < n ? nbest : 0; /* (n - 1 - j = 0 rows: the loop ends anyway) */
        fmas += (uint64_t)(n - 1 - j) * width;
        crunch_status st = touched(s, (n - j) * (width + 2), &fmas);
        if (st != CRUNCH_OK)
            return st;
    }
    return tick(s, fmas);
}

/*
 * factor_cols factors columns [j0, j1) of rows j0..n-1 at block level
 * lvl (see the file comment): blocks of BLOCKS[lvl] columns, each factored
 * one level down, then applied to the block's columns on its right.
 */
static crunch_status factor_cols(solver *s, size_t j0, size_t j1, int lvl)
{
    if (lvl == LEVELS)
        return panel_unblocked(s, j0, j1);
    const size_t n = s->n, ld = s->ld, nb = BLOCKS[lvl];
    double *w = s->w;
    for (size_t b0 = j0; b0 < j1; b0 += nb) {
        size_t b1 = min_size(b0 + nb, j1);
        crunch_status st = factor_cols(s, b0, b1, lvl + 1);
        if (st != CRUNCH_OK)
            return st;
        if (b1 == j1)
            break;
        /* U12 = L11^-1 A12 on the block's rows, then the Schur complement
         * A22 -= L21 U12 on the rows below. */
        st = trsm_lower(s, b1 - b0, j1 - b1, w + b0 * ld + b0, ld, w + b0 * ld + b1, ld);
        if (st == CRUNCH_OK)
            st = update(s, n - b1, j1 - b1, b1 - b0, w + b1 * ld + b0, ld, w + b0 * ld + b1,
                        ld, w + b1 * ld + b1, ld);
        if (st != CRUNCH_OK)
            return st;
    }
    return CRUNCH_OK;
}

/* la_round: one round of factor_top, shared by its items: block [b0, b1)
 * is factored (its swaps done in its own columns only), [b1, c1) is the
 * next panel, and the block's swaps are due in columns [0, b0) too. */
typedef struct la_round {
    solver *s;
    size_t b0, b1, c1;
    size_t updates;    /* items 1..updates: LA_PIECE columns each from c1 */
    int64_t published; /* progress units the items published; atomic */
} la_round;

/* swap_cols applies the row swaps of pivots [p0, p1) to columns [c0, c1),
 * in order. */
static void swap_cols(const solver *s, size_t p0, size_t p1, size_t c0, size_t c1)
{
    for (size_t j = p0; j < p1; j++)
        if (s->piv[j] != j)
            swap_rows(s->w + j * s->ld + c0, s->w + s->piv[j] * s->ld + c0, c1 - c0);
}

/* la_item runs item i of a round (crunch__item_fn):
 *   item 0: the next panel's columns: the block's row swaps, U12 = L11^-1
 *     A12, A22 -= L21 U12, then the panel's factorisation, its swaps kept
 *     to its own columns;
 *   items 1..updates: the same update on LA_PIECE columns each after it;
 *   the rest: the block's row swaps in LA_PIECE columns each of L, left
 *     of the block.
 * Each runs on a solver of its own: its updates serial, its progress
 * published straight to the caller's ctx (with a total counted in units
 * of 2^shift multiply-adds, each item drops its remainder below one
 * unit: only matrices of tens of terabytes have such a total). */
static crunch_status la_item(void *arg, size_t i)
{
    la_round *r = arg;
    const size_t b0 = r->b0, b1 = r->b1;
    if (i > r->updates) { /* swaps only: they read the shared solver */
        size_t c0 = (i - r->updates - 1) * LA_PIECE;
        swap_cols(r->s, b0, b1, c0, min_size(c0 + LA_PIECE, b0));
        return CRUNCH_OK;
    }
    solver loc = *r->s;
    const size_t n = loc.n, ld = loc.ld;
    double *w = loc.w;
    size_t j0 = i == 0 ? b1 : r->c1 + (i - 1) * LA_PIECE;
    size_t j1 = i == 0 ? r->c1 : min_size(j0 + LA_PIECE, n);
    loc.serial = 1;
    swap_cols(&loc, b0, b1, j0, j1);
    crunch_status st = trsm_lower(&loc, b1 - b0, j1 - j0, w + b0 * ld + b0, ld, w + b0 * ld + j0, ld);
    if (st == CRUNCH_OK)
        st = update(&loc, n - b1, j1 - j0, b1 - b0, w + b1 * ld + b0, ld, w + b0 * ld + j0, ld,
                    w + b1 * ld + j0, ld);
    if (st == CRUNCH_OK && i == 0) {
        loc.swap_lo = b1;
        loc.swap_hi = r->c1;
        st = factor_cols(&loc, b1, r->c1, 1);
    }
    __atomic_fetch_add(&r->published, loc.pr.done - r->s->pr.done, __ATOMIC_RELAXED);
    return st;
}

/*
 * factor_top is the top level of factor_cols, with look-ahead: each
 * panel is factored while the update before it is still going on. Panel
 * 0 is factored first; then for each block [b0, b1), one round of
 * la_item: item 0 updates the next panel's columns and factors it, other
 * items update LA_PIECE columns each beyond it, and the last ones apply
 * the block's row swaps to L on its left. A panel's swaps exchange only
 * its own columns while its round runs (other items are updating the
 * rest of those rows); the next round applies them everywhere else, the
 * last panel's after the loop. Every pending update of a row uses only
 * that row's own multipliers, which travel with it, so deferring a swap
 * changes no value. The items are fixed by n and each one's work is
 * serial, so the result is the same on any number of threads; with one,
 * or when the round's update is below LA_PAR_MIN multiply-adds, the
 * items run in order on the calling thread.
 */
static crunch_status factor_top(solver *s)
{
    const size_t n = s->n, nb = BLOCKS[0];
    s->swap_lo = 0;
    s->swap_hi = min_size(nb, n);
    crunch_status st = factor_cols(s, 0, s->swap_hi, 1);
    size_t b0 = 0;
    for (; st == CRUNCH_OK && b0 + nb < n; b0 += nb) {
        size_t b1 = b0 + nb, c1 = min_size(b1 + nb, n);
        size_t updates = (n - c1 + LA_PIECE - 1) / LA_PIECE;
        la_round r = {s, b0, b1, c1, updates, 0};
        size_t items = 1 + updates + (b0 + LA_PIECE - 1) / LA_PIECE;
        st = (uint64_t)(n - b1) * (n - b1) * nb >= LA_PAR_MIN
                 ? crunch__parallel(s->ctx, items, la_item, &r)
                 : crunch__serial(s->ctx, items, la_item, &r);
        s->pr.done += __atomic_load_n(&r.published, __ATOMIC_RELAXED);
    }
    if (st == CRUNCH_OK) /* the last panel, [b0, n): its swaps left of it */
        swap_cols(s, b0, n, 0, b0);
    return st;
}

/*
 * solve_vec overwrites v (n elements, stride inc) with A^-1 v, A = P^T L U
 * in s: the row swaps, then L y = P v by rows (dot products along the
 * contiguous rows of L), then U x = y likewise from the bottom. With
 * count, the multiply-adds are credited to progress.
 */
static crunch_status solve_vec(solver *s, double *v, size_t inc, int count)
{
    const size_t n = s->n, ld = s->ld;
    const double *w = s->w;
    double *t = s->v2; /* a contiguous copy: the dot products want stride 1 */
    uint64_t fmas = 0;
    crunch_status st = CRUNCH_OK;
    for (size_t i = 0; i < n; i++)
        t[i] = v[i * inc];
    for (size_t j = 0; j < n; j++) {
        if (s->piv[j] != j) {
            double tmp = t[j];
            t[j] = t[s->piv[j]];
            t[s->piv[j]] = tmp;
        }
    }
    for (size_t i = 0; i < n && st == CRUNCH_OK; i++) {
        t[i] -= s->k->dot(i, w + i * ld, t);
        fmas += count ? i : 0;
        st = touched(s, i + 1, &fmas);
    }
    for (size_t i = n; i-- > 0 && st == CRUNCH_OK;) {
        const double *row = w + i * ld;
        t[i] = (t[i] - s->k->dot(n - 1 - i, row + i + 1, t + i + 1)) / row[i];
        fmas += count ? n - i : 0;
        st = touched(s, n - i, &fmas);
    }
    if (st != CRUNCH_OK)
        return st;
    for (size_t i = 0; i < n; i++)
        v[i * inc] = t[i];
    return tick(s, fmas);
}

/*
 * solve_vec_t overwrites the contiguous v with A^-T v: U^T z = v (U^T is
 * lower: column p of it is row p of U, so the solve subtracts multiples
 * of contiguous rows), then L^T y = z likewise, then the row swaps undone
 * in reverse order. Not credited to progress (only the estimator uses it).
 */
static crunch_status solve_vec_t(solver *s, double *v)
{
    const size_t n = s->n, ld = s->ld;
    const double *w = s->w;
    uint64_t none = 0;
    crunch_status st = CRUNCH_OK;
    for (size_t p = 0; p < n && st == CRUNCH_OK; p++) {
        const double *row = w + p * ld;
        v[p] /= row[p];
        s->k->axpy(n - 1 - p, v[p], row + p + 1, v + p + 1);
        st = touched(s, n - p, &none);
    }
    for (size_t p = n; p-- > 0 && st == CRUNCH_OK;) {
        s->k->axpy(p, v[p], w + p * ld, v);
        st = touched(s, p + 1, &none);
    }
    if (st != CRUNCH_OK)
        return st;
    for (size_t j = n; j-- > 0;) {
        if (s->piv[j] != j) {
            double tmp = v[j];
            v[j] = v[s->piv[j]];
            v[s->piv[j]] = tmp;
        }
    }
    return CRUNCH_OK;
}

static double norm1(const double *v, size_t n)
{
    double sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += fabs(v[i]);
    return sum;
}

/* argmax_abs returns the first index of the largest |v[i]|. */
static size_t argmax_abs(const double *v, size_t n)
{
    size_t k = 0;
    for (size_t i = 1; i < n; i++)
        if (fabs(v[i]) > fabs(v[k]))
            k = i;
    return k;
}

/*
 * inv_norm1 estimates ||A^-1||_1 from the factors, by Hager's method as
 * Higham refined it (LAPACK's dlacn2): a few products with A^-1 and A^-T
 * climb towards the column of A^-1 with the largest 1-norm; an extra
 * product with a vector of alternating signs guards against the rare
 * matrices that fool the climb. The estimate is a lower bound. Needs
 * n >= 1; uses s->v1 (s->v2 is solve_vec's).
 */
static crunch_status inv_norm1(solver *s, double *est)
{
    const size_t n = s->n;
    double *x = s->v1;
    crunch_status st;
    for (size_t i = 0; i < n; i++)
        x[i] = 1.0 / (double)n;
    if ((st = solve_vec(s, x, 1, 0)) != CRUNCH_OK)
        return st;
    double e = norm1(x, n);
    if (n == 1) {
        *est = e;
        return CRUNCH_OK;
    }
    /* z = A^-T sign(x): its largest element points at the column of A^-1
     * to try next. (dlacn2 also stops when a sign pattern repeats; here
     * that case costs one more A^-T product and stops on the index.) */
    for (size_t i = 0; i < n; i++)
        x[i] = x[i] >= 0 ? 1.0 : -1.0;
    if ((st = solve_vec_t(s, x)) != CRUNCH_OK)
        return st;
    size_t j = argmax_abs(x, n);
    for (int iter = 2; iter <= 5; iter++) {
        /* x = A^-1 e_j: column j of A^-1 */
        memset(x, 0, n * sizeof *x);
        x[j] = 1.0;
        if ((st = solve_vec(s, x, 1, 0)) != CRUNCH_OK)
            return st;
        double old = e;
        e = norm1(x, n);
        if (e <= old) /* no progress (includes a repeated sign pattern) */
            break;
        for (size_t i = 0; i < n; i++)
            x[i] = x[i] >= 0 ? 1.0 : -1.0;
        if ((st = solve_vec_t(s, x)) != CRUNCH_OK)
            return st;
        size_t jlast = j;
        j = argmax_abs(x, n);
        if (fabs(x[jlast]) == fabs(x[j])) /* the same column again: converged */
            break;
    }
    /* The alternating vector: x_i = (-1)^i (1 + i/(n-1)). */
    for (size_t i = 0; i < n; i++)
        x[i] = (i % 2 ? -1.0 : 1.0) * (1.0 + (double)i / (double)(n - 1));
    if ((st = solve_vec(s, x, 1, 0)) != CRUNCH_OK)
        return st;
    double alt = 2.0 * norm1(x, n) / (3.0 * (double)n);
    *est = alt > e ? alt : e;
    return CRUNCH_OK;
}

/* extent_ok reports whether rows x cols doubles with row stride ld span a
 * byte range that can exist (as gemm.c's check). */
static int extent_ok(size_t rows, size_t cols, size_t ld)
{
    size_t elems, bytes;
    if (rows == 0 || cols == 0)
        return 1;
    if (__builtin_mul_overflow(rows - 1, ld, &elems) || __builtin_add_overflow(elems, cols, &elems) ||
        __builtin_mul_overflow(elems, sizeof(double), &bytes))
        return 0;
    return bytes <= (size_t)PTRDIFF_MAX;
}

/*
 * load copies A into s->w, checking that A and B are finite, and finds
 * ||A||_1 (the largest column sum of |a_ij|, accumulated in s->v1).
 *
 * Scaling: when max |a_ij| is far from 1 (beyond 2^+-256) or a column sum
 * overflows, the copy is multiplied by s->scale, the power of two that
 * brings max |a_ij| into [0.5, 1) (within 2^+-1000: it must be a normal
 * double), and B will be too: (sA) X = (sB) has the same X, and the
 * elimination, the norms and the condition estimate then neither overflow
 * nor sink into subnormals. Multiplying by a power of two is exact, except
 * for elements that become subnormal, which are below 2^-1000 max |a_ij|
 * and so far below the rounding errors of the elimination.
 *
 * Returns CRUNCH_ENUMERICAL on a NaN or Inf, or CRUNCH_ECANCELED.
 */
static crunch_status load(solver *s, const double *a, size_t lda, const double *b, size_t ldb,
                          size_t nrhs, double *anorm)
{
    const size_t n = s->n, ld = s->ld;
    double *colsum = s->v1, amax = 0;
    uint64_t none = 0;
    int finite = 1;
    memset(colsum, 0, n * sizeof *colsum);
    for (size_t i = 0; i < n; i++) {
        /* NaN and Inf survive into the column sums */
        double m = s->k->load_row(n, a + i * lda, s->w + i * ld, colsum);
        amax = m > amax ? m : amax;
        crunch_status st = touched(s, n, &none);
        for (size_t j0 = 0; j0 < nrhs && st == CRUNCH_OK; j0 += POLL_ELEMS) { /* long rows of B */
            size_t j1 = min_size(nrhs, j0 + POLL_ELEMS);
            for (size_t j = j0; j < j1; j++)
                finite &= isfinite(b[i * ldb + j]) != 0;
            st = touched(s, j1 - j0, &none);
        }
        if (st != CRUNCH_OK)
            return st;
    }
    if (!finite || !isfinite(amax)) /* Inf; NaN is in the sums only (the compares skip it) */
        return CRUNCH_ENUMERICAL;
    double mx = 0;
    int overflow = 0;
    for (size_t j = 0; j < n; j++) {
        if (isnan(colsum[j]))
            return CRUNCH_ENUMERICAL;
        overflow |= isinf(colsum[j]);
        mx = colsum[j] > mx ? colsum[j] : mx;
    }
    s->scale = 1;
    if (amax > 0 && (overflow || amax > 0x1p256 || amax < 0x1p-256)) {
        int e;
        (void)frexp(amax, &e); /* amax = f 2^e, 0.5 <= f < 1 */
        e = e > 1000 ? 1000 : (e < -1000 ? -1000 : e);
        s->scale = ldexp(1.0, -e);
        memset(colsum, 0, n * sizeof *colsum);
        for (size_t i = 0; i < n; i++) {
            double *row = s->w + i * ld;
            for (size_t j = 0; j < n; j++) {
                row[j] *= s->scale;
                colsum[j] += fabs(row[j]);
            }
            crunch_status st = touched(s, n, &none);
            if (st != CRUNCH_OK)
                return st;
        }
        mx = 0;
        for (size_t j = 0; j < n; j++)
            mx = colsum[j] > mx ? colsum[j] : mx;
    }
    *anorm = mx;
    return CRUNCH_OK;
}

/* lu_total is the factorisation's multiply-adds, sum_{j<n} (n-1-j)^2 =
 * (n-1) n (2n-1) / 6, or 0 when that overflows. */
static uint64_t lu_total(size_t n)
{
    uint64_t t, m = n - 1, nn = n, k = 2 * (uint64_t)n - 1;
    if (n < 2)
        return 0;
    if (__builtin_mul_overflow(m, nn, &t))
        return 0;
    /* one of n-1, n is even and one of three consecutive-ish factors is
     * divisible by 3: divide before the last multiply to stay in range */
    t /= 2;
    if (t % 3 == 0)
        t /= 3;
    else
        k /= 3; /* then 3 divides 2n-1 */
    if (__builtin_mul_overflow(t, k, &t))
        return 0;
    return t;
}

/* solve runs the call once the arguments are known good and n > 0. */
static crunch_status solve(solver *s, const double *a, size_t lda, const double *b, size_t ldb,
                           double *x, size_t ldx, size_t nrhs)
{
    const size_t n = s->n;
    double anorm, inv;
    crunch_status st = load(s, a, lda, b, ldb, nrhs, &anorm);
    if (st != CRUNCH_OK)
        return st;
    if ((st = factor_top(s)) != CRUNCH_OK)
        return st;
    if ((st = inv_norm1(s, &inv)) != CRUNCH_OK)
        return st;
    /* rcond = 1 / (||A||_1 ||A^-1||_1); refuse rcond < eps (and NaN). */
    if (!(anorm * inv * DBL_EPSILON <= 1.0))
        return CRUNCH_ENUMERICAL;
    if (nrhs == 0)
        return CRUNCH_OK;

    /* The loops over X below go in runs of POLL_ELEMS columns: a row of
     * X may be millions of right-hand sides. */
    uint64_t none = 0;
    for (size_t i = 0; i < n && st == CRUNCH_OK; i++) /* X = s B (in place too: x == b) */
        for (size_t j0 = 0; j0 < nrhs && st == CRUNCH_OK; j0 += POLL_ELEMS) {
            size_t j1 = min_size(nrhs, j0 + POLL_ELEMS);
            for (size_t j = j0; j < j1; j++)
                x[i * ldx + j] = b[i * ldb + j] * s->scale;
            st = touched(s, j1 - j0, &none);
        }
    if (st != CRUNCH_OK)
        return st;
    if (nrhs < NRHS_BLOCKED) { /* column by column (solve_vec swaps rows itself) */
        for (size_t c = 0; c < nrhs && st == CRUNCH_OK; c++)
            st = solve_vec(s, x + c, ldx, 1);
    } else { /* X = U^-1 L^-1 P B, blocked */
        for (size_t j = 0; j < n && st == CRUNCH_OK; j++)
            if (s->piv[j] != j)
                for (size_t c0 = 0; c0 < nrhs && st == CRUNCH_OK; c0 += POLL_ELEMS) {
                    size_t w = min_size(POLL_ELEMS, nrhs - c0);
                    swap_rows(x + j * ldx + c0, x + s->piv[j] * ldx + c0, w);
                    st = touched(s, 2 * w, &none);
                }
        if (st == CRUNCH_OK)
            st = trsm_lower(s, n, nrhs, s->w, s->ld, x, ldx);
        if (st == CRUNCH_OK)
            st = trsm_upper(s, n, nrhs, s->w, s->ld, x, ldx);
    }
    if (st != CRUNCH_OK)
        return st;
    int finite = 1;
    for (size_t i = 0; i < n && st == CRUNCH_OK; i++)
        for (size_t j0 = 0; j0 < nrhs && st == CRUNCH_OK; j0 += POLL_ELEMS) {
            size_t j1 = min_size(nrhs, j0 + POLL_ELEMS);
            for (size_t c = j0; c < j1; c++)
                finite &= isfinite(x[i * ldx + c]) != 0;
            st = touched(s, j1 - j0, &none);
        }
    if (st != CRUNCH_OK)
        return st;
    return finite ? CRUNCH_OK : CRUNCH_ENUMERICAL;
}

crunch_status crunch_solve_f64(crunch_ctx *ctx, size_t n, size_t nrhs, const double *a,
                               size_t lda, const double *b, size_t ldb, double *x, size_t ldx)
{
    size_t rhs_ld = nrhs > 1 ? nrhs : 1;
    if (lda < (n > 1 ? n : 1) || ldb < rhs_ld || ldx < rhs_ld)
        return CRUNCH_EINVAL;
    if (!extent_ok(n, n, lda) || !extent_ok(n, nrhs, ldb) || !extent_ok(n, nrhs, ldx))
        return CRUNCH_EINVAL;
    if (n > 0 && (a == NULL || (nrhs > 0 && (b == NULL || x == NULL))))
        return CRUNCH_EINVAL;
    if (x == b && x != NULL && ldx != ldb)
        return CRUNCH_EINVAL; /* in place needs one layout */
    /* B is read after X's first rows are written: X is B itself or apart
     * from it. X apart from A too, as the contract says (A is copied
     * before X is written, but that is the implementation's freedom). */
    if (n > 0 && nrhs > 0 &&
        ((x != b && crunch__overlap(x, n, nrhs, ldx, b, n, nrhs, ldb, sizeof(double))) ||
         crunch__overlap(x, n, nrhs, ldx, a, n, n, lda, sizeof(double))))
        return CRUNCH_EINVAL;
    if (crunch__canceled(ctx))
        return CRUNCH_ECANCELED;

    solver s;
    memset(&s, 0, sizeof s);
    s.ctx = ctx;
    s.n = n;
    uint64_t lu = lu_total(n), rhs, total;
    int exact = !__builtin_mul_overflow((uint64_t)n * n, (uint64_t)nrhs, &rhs) &&
                !__builtin_add_overflow(lu, rhs, &total) && (n < 2 || lu > 0);
    double approx = (double)n * (double)n * ((double)n / 3.0 + (double)nrhs);
    progress_init(&s.pr, ctx, exact ? total : 0, approx);
    if (n == 0)
        return CRUNCH_OK;

    /* Rows of the copy start on cache lines (ld a multiple of 8 doubles)
     * and are not a multiple of 4 KiB apart, which would put a column's
     * elements in one L1 set. */
    s.ld = (n + 7) / 8 * 8;
    if (s.ld % 512 == 0)
        s.ld += 8;
    size_t elems, bytes;
    if (__builtin_mul_overflow(n, s.ld, &elems) || __builtin_add_overflow(elems, 2 * n, &elems) ||
        __builtin_mul_overflow(elems, sizeof(double), &bytes) || bytes > (size_t)PTRDIFF_MAX / 2)
        return CRUNCH_ENOMEM; /* a copy of A that cannot exist */
    /* The copy of A: huge pages from 4 MiB, kept between calls (bigbuf.c:
     * in a virtual machine a fresh 4 KiB page can cost 10-20 us to fault
     * in, as much as the factorisation spends on it). */
    crunch__bigbuf wk;
    crunch__bigbuf_alloc(&wk, bytes);
    s.piv = malloc(n * sizeof *s.piv);
    if (wk.p == NULL || s.piv == NULL) {
        if (wk.p != NULL)
            crunch__bigbuf_free(&wk);
        free(s.piv);
        return CRUNCH_ENOMEM;
    }
    s.w = wk.p;
    s.v1 = s.w + n * s.ld;
    s.v2 = s.v1 + n;
    s.k = CRUNCH__PICK(paths, ctx);
    crunch_ctx_init(&s.sub);
    crunch_ctx_set_isa(&s.sub, crunch__isa_for(ctx));

    crunch_status st = solve(&s, a, lda, b, ldb, x, ldx, nrhs);
    if (st == CRUNCH_OK && s.pr.done < s.pr.total) /* only an approximate total leaves a gap */
        crunch__progress_add(ctx, s.pr.total - s.pr.done);
    crunch__bigbuf_free(&wk);
    free(s.piv);
    return st;
}
