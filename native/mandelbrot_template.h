/*
 * mandelbrot_template.h - mandelbrot's kernels, in two parts. The first,
 * guarded (a file that includes this one with TGT undefined gets only it),
 * is what mandelbrot.c (the driver and the generic path) and
 * mandelbrot_avx2.c / mandelbrot_avx512.c (the SIMD row kernels, from the
 * second part) share: the row description, the exact arithmetic
 * of one pixel, and the rounding barrier that keeps every path bit-
 * identical. Internal: never installed, never exported.
 *
 * Every path must give the same counts as every other and as the Go
 * implementation (service/kernels/mandelbrot.go), so each one evaluates
 * exactly the operations below, each rounded to double on its own:
 *
 *   cr  = x_min + ((x_max - x_min) * j) / width
 *   ci  = y_min + ((y_max - y_min) * r) / height
 *   z_1 = c                        (0^2 + c is c exactly)
 *   for k = 1, 2, ...:
 *       x2 = x * x,  y2 = y * y,  t = x * y
 *       |z_k|^2 > 4 is the test  x2 + y2 > 4   (false for NaN)
 *       x' = (x2 - y2) + cr,  y' = (t + t) + ci
 *
 * No multiply may be fused with the add that follows it (an FMA skips the
 * product's rounding and changes the orbit near the set's boundary). The
 * column and row formulas divide between the multiply and the add, so they
 * cannot fuse; the iteration's three products (and t + t, which GCC
 * rewrites as 2 * t and would fuse) go through CRUNCH__MB_ROUND, an empty
 * asm statement that claims to modify its operand: the compiler
 * must then materialise the rounded product in a register and cannot fuse
 * it, whatever -ffp-contract or -march says, and no instruction is
 * emitted. Go gets the same from explicit float64() conversions.
 *
 * The second part, stamped out once per inclusion with TGT defined: the
 * SIMD row kernel (contract in the first part), written once over an
 * abstract vector of W pixels and stamped out per path: mandelbrot_avx2.c
 * includes it with ymm vectors (W = 4), mandelbrot_avx512.c with zmm
 * vectors and mask registers (W = 8).
 *
 * One iteration's dependency chain (multiply, subtract, add: about 10
 * cycles) is much longer than the time the FPU needs to issue one vector's
 * ten operations, so a chunk iterates U independent vectors together to
 * fill the pipelines. Lanes that escaped go on iterating (their values
 * run off to Inf and NaN, harmlessly) but their counters stop; the chunk
 * ends when no lane of it is left or at max_iter. Counters are 64-bit
 * lanes, as wide as the doubles beside them, so 2^31 iterations fit.
 *
 * The includer defines, before each inclusion of the second part:
 *   TGT             the target attribute of every function
 *   V               the vector type, W doubles
 *   VI              the vector type of W 64-bit counters
 *   VM              a set of lanes (a mask)
 *   W, U            pixels per vector; vectors per chunk
 *   ROUND(v)        CRUNCH__MB_ROUND for a V (the first part)
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
#ifndef CRUNCH_MANDELBROT_TEMPLATE_H
#define CRUNCH_MANDELBROT_TEMPLATE_H

#include "internal.h"

#include <stddef.h>
#include <stdint.h>

/* CRUNCH__MB_ROUND(v) forces v (a double or a vector of doubles) to be a
 * rounded value held in a register: see the file comment. "x" is an SSE,
 * AVX or (with AVX-512 enabled) the low 16 EVEX registers; "v" is any
 * EVEX register, for the AVX-512 path. */
#if defined(__GNUC__) && CRUNCH_X86
#  define CRUNCH__MB_ROUND(v) __asm__("" : "+x"(v))
#  define CRUNCH__MB_ROUND512(v) __asm__("" : "+v"(v))
#elif defined(__GNUC__) && defined(__aarch64__)
#  define CRUNCH__MB_ROUND(v) __asm__("" : "+w"(v))
#elif defined(__GNUC__)
#  define CRUNCH__MB_ROUND(v) __asm__("" : "+g"(v))
#else
/* Other compilers: standard C's switch, which GCC does not implement
 * (hence the asm above). */
#  pragma STDC FP_CONTRACT OFF
#  define CRUNCH__MB_ROUND(v) ((void)0)
#endif

/* Iterations of one pixel, or of one chunk of pixels, between cancel
 * polls: at most a few tens of microseconds of work. */
#define CRUNCH__MB_POLL 4096

/* crunch__mb_row: what a row kernel needs to know about its row. */
typedef struct crunch__mb_row {
    double x_min;     /* the first column's real part */
    double dx;        /* x_max - x_min (may be infinite: see crunch.h) */
    double width;     /* the image's width, as a double (exact) */
    double ci;        /* the row's imaginary part */
    int64_t max_iter; /* 1 <= max_iter <= CRUNCH_MANDELBROT_MAX_ITER */
} crunch__mb_row;

/*
 * A row kernel's contract: it stores in out[0..width) the counts of the
 * row's pixels, width >= 1. It polls ctx (which may be NULL) at least
 * every CRUNCH__MB_POLL iterations of whatever it is iterating and returns
 * CRUNCH_ECANCELED when asked to stop (out then holds partial results),
 * CRUNCH_OK otherwise.
 */
typedef crunch_status (*crunch__mb_kernel)(const crunch_ctx *ctx, const crunch__mb_row *row,
                                           size_t width, uint32_t *out);

/* crunch__mb_kernels: one path's kernel, an entry of mandelbrot's kernel
 * table (internal.h). */
typedef struct crunch__mb_kernels {
    crunch__mb_kernel row;
} crunch__mb_kernels;

#if CRUNCH_X86
CRUNCH_HIDDEN extern const crunch__mb_kernels crunch__mb_kernels_avx2;
CRUNCH_HIDDEN extern const crunch__mb_kernels crunch__mb_kernels_avx512;
#endif

/* crunch__mb_re returns the real part of column j's c (file comment). */
static inline double crunch__mb_re(const crunch__mb_row *row, size_t j)
{
    return row->x_min + row->dx * (double)j / row->width;
}

/*
 * crunch__mb_pixel returns the count of c = cr + i ci: the smallest k >= 1
 * with |z_k|^2 > 4, or max_iter if there is none below max_iter. It
 * returns -1 if ctx was cancelled, which it polls every CRUNCH__MB_POLL
 * iterations (a single pixel may run 2^31 of them). The generic path and
 * the SIMD paths' tails, and the reference of the vector loops.
 */
static inline int64_t crunch__mb_pixel(const crunch_ctx *ctx, double cr, double ci,
                                       int64_t max_iter)
{
    double x = cr, y = ci; /* z_1 */
    int64_t k = 1;
    while (k < max_iter) {
        /* k < max_iter: 64-bit, so max_iter = 2^31 needs no care */
        int64_t stop = max_iter - k > CRUNCH__MB_POLL ? k + CRUNCH__MB_POLL : max_iter;
        for (; k < stop; k++) {
            double x2 = x * x, y2 = y * y, t = x * y;
            CRUNCH__MB_ROUND(x2);
            CRUNCH__MB_ROUND(y2);
            CRUNCH__MB_ROUND(t);
            if (x2 + y2 > 4.0)
                return k;
            double t2 = t + t;
            CRUNCH__MB_ROUND(t2); /* exact; no 2*t fused with the add */
            x = (x2 - y2) + cr;
            y = t2 + ci;
        }
        if (crunch__canceled(ctx))
            return -1;
    }
    return max_iter; /* z_max_iter is not tested: either way the count is max_iter */
}

/* crunch__mb_tail runs crunch__mb_pixel over columns [j, width) of row,
 * charging each pixel's iterations to a poll budget: pixels that escape
 * at once (or max_iter 1) never reach crunch__mb_pixel's own polls, and
 * a row may be millions of them. */
static inline crunch_status crunch__mb_tail(const crunch_ctx *ctx, const crunch__mb_row *row,
                                            size_t j, size_t width, uint32_t *out)
{
    crunch__poll pl;
    crunch__poll_init(&pl, ctx);
    for (; j < width; j++) {
        int64_t k = crunch__mb_pixel(ctx, crunch__mb_re(row, j), row->ci, row->max_iter);
        if (k < 0)
            return CRUNCH_ECANCELED;
        out[j] = (uint32_t)k; /* k <= max_iter <= 2^31 */
        if (crunch__poll_work(&pl, 2 * k + CRUNCH__POLL_ITEM)) /* an iteration: a few flops */
            return CRUNCH_ECANCELED;
    }
    return CRUNCH_OK;
}

#endif /* CRUNCH_MANDELBROT_TEMPLATE_H */

#ifdef TGT
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
#endif /* TGT */
