/*
 * fft_kernels.h - what fft.c (plans, cache, driver) and the pass kernels
 * (fft_generic.c, fft_avx2.c, fft_avx512.c) share. Internal: never
 * installed, never exported.
 *
 * The transform is a Stockham autosort FFT: a sequence of passes, each
 * reading one buffer and writing another, that leaves the result in
 * natural order (no bit reversal). A pass of radix R over a length-n
 * transform, with s the product of the radices of the passes before it
 * and m = n / (s * R), computes for every p < m and q < s (DIF form):
 *
 *   a_j = x[q + s*(p + j*m)]                              j < R
 *   b_k = sum_j a_j * exp(-+2*pi*i*j*k/R)                 k < R
 *   y[q + s*(R*p + k)] = b_k * tw(p, k)   (conj(tw) when inverse)
 *
 * with tw(p, k) = exp(-2*pi*i*p*k/(R*m)). Indices count complex elements;
 * buffers hold them interleaved (re, im). The sign in b_k is - forward and
 * + inverse, so an inverse pass is the forward pass conjugated.
 *
 * A pass kernel processes a block of that loop nest, p0 <= p < p1 and
 * q0 <= q < q1, vectorised along one of them:
 *   s == 1: along p (q is 0). Twiddles are stored k-major,
 *           tw[(k-1)*m + p], so a SIMD kernel loads W of them for
 *           consecutive p at once; p1 - p0 must be a multiple of W;
 *   s > 1:  along q. Twiddles are stored p-major, tw[p*(R-1) + (k-1)],
 *           one broadcast per (p, k); q1 - q0 must be a multiple of W.
 * (W is the kernel's vector width in complex numbers, 1 for the generic
 * kernels, which therefore take any block.) The driver cuts each pass
 * into blocks of p, to poll for cancellation between them, and hands the
 * remainder that a SIMD kernel cannot vectorise to the generic kernel.
 * Odd radices also read roots[2t], roots[2t+1] = cos, sin(2*pi*t/R) for
 * t < R.
 */
#ifndef CRUNCH_FFT_KERNELS_H
#define CRUNCH_FFT_KERNELS_H

#include "internal.h"

#include <stddef.h>

/* The largest odd prime radix a pass computes directly; n with a larger
 * prime factor goes through Bluestein's algorithm. A direct radix-R pass
 * costs about R/2 multiply-adds per element; Bluestein costs about three
 * power-of-two FFTs of length >= 2n, which is dearer up to R of about 60. */
#define CRUNCH__FFT_MAX_ODD 61

/* Pass kinds: the specialised radices and one for any odd radix. */
enum {
    CRUNCH__FFT_R2,
    CRUNCH__FFT_R3,
    CRUNCH__FFT_R4,
    CRUNCH__FFT_R5,
    CRUNCH__FFT_R7,
    CRUNCH__FFT_R8,
    CRUNCH__FFT_RODD, /* any odd radix 3 <= R <= CRUNCH__FFT_MAX_ODD */
    CRUNCH__FFT_NKINDS
};

/* crunch__fft_block: the part of one pass a kernel call computes (the
 * contract above). radix is the pass's R (needed by CRUNCH__FFT_RODD; the
 * others know theirs). */
typedef struct crunch__fft_block {
    int radix;
    size_t s, m;
    size_t p0, p1, q0, q1;
} crunch__fft_block;

/* A pass kernel. x and y must not overlap. */
typedef void (*crunch__fft_pass_f64)(const crunch__fft_block *b, const double *x, double *y,
                                     const double *tw, const double *roots);
typedef void (*crunch__fft_pass_f32)(const crunch__fft_block *b, const float *x, float *y,
                                     const float *tw, const float *roots);

/* A twiddle kernel (the four-step transform's step 2): for r < rows and
 * c < cols, y[r*ldy + c] = x[r*cols + c] * tw[r*cols + c] * rtw[r], each
 * twiddle conjugated when inv (complex indices; the product rounded in
 * that order). cols is a multiple of the path's vector width; x, tw, rtw
 * and y do not overlap. */
typedef void (*crunch__fft_twmul_f64)(const double *x, const double *tw, const double *rtw,
                                      double *y, size_t rows, size_t cols, size_t ldy, int inv);
typedef void (*crunch__fft_twmul_f32)(const float *x, const float *tw, const float *rtw, float *y,
                                      size_t rows, size_t cols, size_t ldy, int inv);

/* crunch__fft_kernels: one SIMD path's pass kernels, indexed by direction
 * (0 forward, 1 inverse) and pass kind, with its vector widths in complex
 * elements, and its twiddle kernels. */
typedef struct crunch__fft_kernels {
    size_t w_f64, w_f32;
    crunch__fft_pass_f64 f64[2][CRUNCH__FFT_NKINDS];
    crunch__fft_pass_f32 f32[2][CRUNCH__FFT_NKINDS];
    crunch__fft_twmul_f64 twmul_f64;
    crunch__fft_twmul_f32 twmul_f32;
} crunch__fft_kernels;

/* The generic kernels (W = 1) accept any slice: they are also the
 * remainder kernels of the SIMD paths. */
CRUNCH_HIDDEN extern const crunch__fft_kernels crunch__fft_kernels_generic;
#if CRUNCH_X86
CRUNCH_HIDDEN extern const crunch__fft_kernels crunch__fft_kernels_avx2;
CRUNCH_HIDDEN extern const crunch__fft_kernels crunch__fft_kernels_avx512;
#endif

#endif /* CRUNCH_FFT_KERNELS_H */
