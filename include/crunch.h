/*
 * crunch.h - the public C API of libcrunch, crunch's kernel library.
 *
 * This header is the manual. Every function states its contract here.
 *
 * Conventions, true of every kernel:
 *   - It returns a crunch_status; it never aborts, prints or exits.
 *   - Its first argument is a crunch_ctx *, which may be NULL ("no cancel,
 *     no progress"). A running kernel polls the ctx's cancel flag between
 *     blocks of work (at least about every millisecond) and returns
 *     CRUNCH_ECANCELED soon after another thread calls crunch_ctx_cancel().
 *     It advances the ctx's progress counters as it goes.
 *   - It is single-threaded and touches no global mutable state: any thread
 *     may call any kernel at any time, on distinct output buffers.
 *   - Matrices are row-major (C order). A leading dimension is the distance,
 *     in elements, between the starts of two consecutive rows.
 *   - On an error return the outputs are unspecified, except that nothing
 *     outside the output arrays described is ever written.
 *   - The best SIMD path this CPU and OS support (AVX-512, AVX2+FMA or the
 *     generic one) is chosen at run time. The environment variable
 *     CRUNCH_DISABLE, read once, removes paths: CRUNCH_DISABLE=avx512 or
 *     CRUNCH_DISABLE=avx512,avx2. A ctx can also cap the path for one call
 *     (crunch_ctx_set_isa), which is how tests reach every path.
 */
#ifndef CRUNCH_H
#define CRUNCH_H

#include <stddef.h>
#include <stdint.h>

/* CRUNCH_API marks the exported symbols; everything else is hidden when
 * the library is built with -fvisibility=hidden. */
#if defined(_WIN32)
#  if defined(CRUNCH_BUILDING_SHARED)
#    define CRUNCH_API __declspec(dllexport)
#  elif defined(CRUNCH_SHARED)
#    define CRUNCH_API __declspec(dllimport)
#  else
#    define CRUNCH_API
#  endif
#elif defined(__GNUC__)
#  define CRUNCH_API __attribute__((visibility("default")))
#else
#  define CRUNCH_API
#endif

#ifdef __cplusplus
extern "C" {
#endif

#define CRUNCH_VERSION_MAJOR 0
#define CRUNCH_VERSION_MINOR 1
#define CRUNCH_VERSION_PATCH 0
#define CRUNCH_VERSION_STRING "0.1.0"

/* crunch_status: the result of every kernel. */
typedef enum crunch_status {
    CRUNCH_OK = 0,        /* success */
    CRUNCH_EINVAL = 1,    /* an argument is invalid: NULL pointer with a non-zero
                             size, too small a leading dimension, a size whose
                             byte count overflows, a negative count */
    CRUNCH_ENOMEM = 2,    /* a work buffer could not be allocated */
    CRUNCH_ECANCELED = 3, /* crunch_ctx_cancel() stopped the call */
    CRUNCH_ERANGE = 4     /* the exact result does not fit its output type */
} crunch_status;

/* crunch_strerror returns a static, human-readable description of status s
 * ("invalid argument", ...). Unknown values give "unknown status". */
CRUNCH_API const char *crunch_strerror(crunch_status s);

/* crunch_version returns the library's version, e.g. "0.1.0". */
CRUNCH_API const char *crunch_version(void);

/* crunch_isa: a SIMD code path. Higher values need more of the CPU. */
typedef enum crunch_isa {
    CRUNCH_ISA_AUTO = 0,    /* in a ctx: no cap, use the best path available */
    CRUNCH_ISA_GENERIC = 1, /* portable C, SSE2 on x86-64 */
    CRUNCH_ISA_AVX2 = 2,    /* AVX2 + FMA */
    CRUNCH_ISA_AVX512 = 3   /* AVX-512 F, DQ, BW, VL */
} crunch_isa;

/* crunch_isa_best returns the best path this CPU and OS support, after
 * CRUNCH_DISABLE has been applied. It is what a kernel called with a NULL
 * ctx uses. Thread-safe; detection runs once. */
CRUNCH_API crunch_isa crunch_isa_best(void);

/* crunch_isa_name returns "generic", "avx2", "avx512" or "auto". */
CRUNCH_API const char *crunch_isa_name(crunch_isa isa);

/*
 * crunch_ctx: cancellation and progress for one kernel call.
 *
 * Initialise it with crunch_ctx_init before the call. While the call runs,
 * any other thread may call crunch_ctx_cancel and crunch_ctx_progress on it.
 * A ctx serves one call at a time; it may be reused after crunch_ctx_init.
 * The fields are public only so that a ctx can live on the stack or inside
 * another structure; use the functions, which access them atomically.
 */
typedef struct crunch_ctx {
    int32_t cancel; /* non-zero once cancellation is requested */
    int32_t isa;    /* a crunch_isa cap for this call; CRUNCH_ISA_AUTO for none */
    int64_t done;   /* work done so far, in the kernel's own units */
    int64_t total;  /* the call's total work, in the same units; 0 until known */
} crunch_ctx;

/* crunch_ctx_init clears ctx: not cancelled, no ISA cap, no progress. */
CRUNCH_API void crunch_ctx_init(crunch_ctx *ctx);

/* crunch_ctx_cancel asks the call using ctx to stop. Safe from any thread,
 * and from a signal handler; idempotent. */
CRUNCH_API void crunch_ctx_cancel(crunch_ctx *ctx);

/* crunch_ctx_set_isa caps the SIMD path of later calls using ctx. A cap above
 * what the CPU supports has no effect; CRUNCH_ISA_AUTO removes the cap.
 * Returns CRUNCH_EINVAL for a NULL ctx or an unknown isa. */
CRUNCH_API crunch_status crunch_ctx_set_isa(crunch_ctx *ctx, crunch_isa isa);

/* crunch_ctx_progress stores the call's progress in *done and *total (either
 * may be NULL) and returns done/total in [0, 1], or 0 while total is unknown.
 * Safe from any thread while the call runs. */
CRUNCH_API double crunch_ctx_progress(const crunch_ctx *ctx, int64_t *done, int64_t *total);

/* crunch_noop does nothing and returns CRUNCH_OK, or CRUNCH_ECANCELED if ctx
 * is already cancelled. It measures the cost of dispatching a call. */
CRUNCH_API crunch_status crunch_noop(crunch_ctx *ctx);

/*
 * crunch_modsum stores in *total the sum over 0 <= i < iters of
 * ((i * n) mod 97), where mod is the mathematical, non-negative remainder,
 * exactly for every int64 n: the value of Python's
 * sum((i*n) % 97 for i in range(iters)).
 *
 * It really iterates (it is the benchmarks' stand-in for heavy work): cost
 * grows linearly with iters. Progress counts iterations.
 *
 * Returns CRUNCH_EINVAL if total is NULL or iters < 0, CRUNCH_ERANGE if the
 * sum would exceed INT64_MAX, CRUNCH_ECANCELED if cancelled.
 */
CRUNCH_API crunch_status crunch_modsum(crunch_ctx *ctx, int64_t n, int64_t iters, int64_t *total);

/*
 * crunch_gemm_f64 computes C = alpha * op(A) * op(B) + beta * C, row-major,
 * with BLAS semantics: op(X) is X, or its transpose when trans_x is non-zero.
 *
 *   op(A) is m x k: A is stored m x k (lda >= max(1, k)), or k x m when
 *         trans_a (lda >= max(1, m));
 *   op(B) is k x n: B is stored k x n (ldb >= max(1, n)), or n x k when
 *         trans_b (ldb >= max(1, k));
 *   C     is m x n, ldc >= max(1, n).
 *
 * beta == 0 means C's old contents are not read (NaN and Inf in it vanish).
 * k == 0 or alpha == 0 gives C = beta * C without reading A or B.
 * m == 0 or n == 0 is a successful no-op.
 *
 * Cache-blocked with packed panels and a register-blocked micro-kernel.
 * Progress counts multiply-adds (m * n * k in total).
 *
 * Returns CRUNCH_EINVAL for a NULL pointer that would be read or written,
 * a too-small leading dimension, or sizes whose byte counts overflow;
 * CRUNCH_ENOMEM if packing buffers cannot be allocated; CRUNCH_ECANCELED.
 */
CRUNCH_API crunch_status crunch_gemm_f64(crunch_ctx *ctx, int trans_a, int trans_b,
                                         size_t m, size_t n, size_t k,
                                         double alpha, const double *a, size_t lda,
                                         const double *b, size_t ldb,
                                         double beta, double *c, size_t ldc);

/* crunch_gemm_f32 is crunch_gemm_f64 for float. */
CRUNCH_API crunch_status crunch_gemm_f32(crunch_ctx *ctx, int trans_a, int trans_b,
                                         size_t m, size_t n, size_t k,
                                         float alpha, const float *a, size_t lda,
                                         const float *b, size_t ldb,
                                         float beta, float *c, size_t ldc);

#ifdef __cplusplus
}
#endif

#endif /* CRUNCH_H */
