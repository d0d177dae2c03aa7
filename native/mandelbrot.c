/*
 * mandelbrot.c - crunch_mandelbrot: the driver (checks, rows, progress,
 * cancel) and the generic row kernel.
 *
 * The image is computed row by row. A row kernel (mandelbrot_template.h)
 * fills one row: the generic one pixel by pixel, the SIMD ones several
 * vectors of pixels at a time, lanes that escaped keeping their count
 * while the others iterate, with the generic pixel loop for the last
 * columns. All of them evaluate the same rounded operations in the same
 * order (mandelbrot_template.h), so every path gives identical counts.
 *
 * Cancel is polled before each row and, inside the row kernels, every
 * CRUNCH__MB_POLL iterations of a pixel or vector chunk and after every
 * chunk. Progress counts pixels and advances after each row.
 *
 * In parallel (a ctx with a runner), threads claim bands of BAND rows
 * one at a time until none is left.
 */
#include "mandelbrot_template.h"

#include <math.h>

/* row_generic is the portable row kernel: one pixel at a time. */
static crunch_status row_generic(const crunch_ctx *ctx, const crunch__mb_row *row, size_t width,
                                 uint32_t *out)
{
    return crunch__mb_tail(ctx, row, 0, width, out);
}

/* paths is mandelbrot's kernel table (internal.h). */
static const crunch__mb_kernels generic_kernels = {row_generic};
CRUNCH__KERNEL_TABLE(paths, crunch__mb_kernels *const, &generic_kernels,
                     &crunch__mb_kernels_avx2, &crunch__mb_kernels_avx512);

/* Rows per item of a parallel call: small enough that threads claiming
 * bands one at a time balance the image's uneven rows (the set's interior
 * costs max_iter per pixel, the outside a few iterations), large enough
 * that claiming costs nothing. Every pixel is computed alone, so the
 * counts do not depend on the banding anyway. */
enum { BAND = 4 };

/* mb_call: one call's state, shared by its bands. */
typedef struct mb_call {
    crunch_ctx *ctx;
    crunch__mb_kernel kernel;
    crunch__mb_row row; /* every field but ci, which each row sets */
    size_t width, height;
    double y_min, dy;
    uint32_t *counts;
} mb_call;

/* mb_band computes rows [BAND*i, BAND*i + BAND) (crunch__item_fn). */
static crunch_status mb_band(void *arg, size_t i)
{
    const mb_call *mc = arg;
    crunch__mb_row row = mc->row;
    size_t end = mc->height - i * BAND < BAND ? mc->height : i * BAND + BAND;
    for (size_t r = i * BAND; r < end; r++) {
        if (crunch__canceled(mc->ctx))
            return CRUNCH_ECANCELED;
        /* no FMA: a division comes between */
        row.ci = mc->y_min + mc->dy * (double)r / (double)mc->height;
        crunch_status st = mc->kernel(mc->ctx, &row, mc->width, mc->counts + r * mc->width);
        if (st != CRUNCH_OK)
            return st;
        crunch__progress_add(mc->ctx, (int64_t)mc->width);
    }
    return CRUNCH_OK;
}

crunch_status crunch_mandelbrot(crunch_ctx *ctx, size_t width, size_t height, double x_min,
                                double x_max, double y_min, double y_max, int64_t max_iter,
                                uint32_t *counts)
{
    if (!isfinite(x_min) || !isfinite(x_max) || !isfinite(y_min) || !isfinite(y_max))
        return CRUNCH_EINVAL;
    if (max_iter < 1 || max_iter > CRUNCH_MANDELBROT_MAX_ITER)
        return CRUNCH_EINVAL;
    /* The image's byte count must fit a size_t (and so its pixel count
     * fits the int64 progress counters). */
    if (width != 0 && height > SIZE_MAX / sizeof(uint32_t) / width)
        return CRUNCH_EINVAL;
    size_t n = width * height;
    if (n > 0 && counts == NULL)
        return CRUNCH_EINVAL;
    crunch__progress_begin(ctx, (int64_t)n);
    if (n == 0)
        return CRUNCH_OK;
    mb_call mc = {.ctx = ctx,
                  .kernel = CRUNCH__PICK(paths, ctx)->row,
                  .row = {x_min, x_max - x_min, (double)width, 0, max_iter},
                  .width = width,
                  .height = height,
                  .y_min = y_min,
                  .dy = y_max - y_min,
                  .counts = counts};
    return crunch__parallel(ctx, height / BAND + (height % BAND != 0), mb_band, &mc);
}
