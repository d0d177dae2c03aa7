/*
 * mandelbrot_kernels.h - what mandelbrot.c (the driver and the generic
 * path) and mandelbrot_avx2.c / mandelbrot_avx512.c (the SIMD row
 * kernels, from mandelbrot_template.h) share: the row description, the
 * exact arithmetic of one pixel, and the rounding barrier that keeps every
 * path bit-identical. Internal: never installed, never exported.
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
 */
#ifndef CRUNCH_MANDELBROT_KERNELS_H
#define CRUNCH_MANDELBROT_KERNELS_H

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

#endif /* CRUNCH_MANDELBROT_KERNELS_H */
