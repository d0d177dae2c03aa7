/*
 * crunch.h - the public C API of libcrunch, crunch's kernel library.
 *
 * This header is the manual. Every function states its contract here.
 *
 * Conventions, true of every kernel:
 *   - It returns a crunch_status; it never aborts, prints or exits.
 *   - Its first argument is a crunch_ctx *, which may be NULL ("no cancel,
 *     no progress"). A running kernel polls the ctx's cancel flag by work
 *     done, at least about every millisecond of it, whatever the shapes
 *     (rows of length 1, a single huge row, huge counts of tiny items, the
 *     NaN and Inf paths), and returns CRUNCH_ECANCELED soon after another
 *     thread calls crunch_ctx_cancel(). Not polled: the allocator
 *     releasing a work buffer, and putting x back in order when a sort
 *     is cancelled (a copy of x at most). It advances the ctx's progress
 *     counters as it goes.
 *   - It touches no global mutable state: any thread may call any kernel at
 *     any time, on distinct output buffers. It runs on the calling thread
 *     alone unless the ctx carries a runner (crunch_ctx_set_runner): the
 *     library never creates threads of its own. Kernels that can use a
 *     runner say so; their results are the same, bit for bit, on any
 *     number of threads.
 *   - Matrices are row-major (C order). A leading dimension is the distance,
 *     in elements, between the starts of two consecutive rows.
 *   - On an error return the outputs are unspecified, except that nothing
 *     outside the output arrays described is ever written.
 *   - Aliasing: an output may share no byte with an input or with another
 *     output, except where a function says so (the FFTs and
 *     crunch_solve_f64 in place; the sorts work in place by design). A
 *     call that breaks this is refused with CRUNCH_EINVAL before anything
 *     is written. Inputs may overlap each other freely. Blocks of one
 *     matrix with the same leading dimension that share no element are
 *     apart, however their rows interleave; arrays with different leading
 *     dimensions are apart only if their address ranges do not meet.
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
    CRUNCH_ERANGE = 4,    /* the exact result does not fit its output type */
    CRUNCH_ENUMERICAL = 5 /* the maths has no reliable answer: a singular or
                             nearly singular matrix, or NaN or Inf where the
                             kernel needs finite numbers (crunch_solve_f64) */
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
 * Fields may be added at the end in later versions: always initialise a
 * ctx with crunch_ctx_init, never by hand.
 */

/* crunch_task_fn is one task of a parallel call: task(arg, i) does the
 * call's share number i. The library supplies it to a runner. */
typedef void (*crunch_task_fn)(void *arg, size_t i);

/*
 * crunch_runner_fn is how a parallel call gets its threads from the
 * program: runner(data, n, task, arg, threads) must call task(arg, i)
 * exactly once for every i in [0, n), on at most threads threads (the
 * calling thread counts as one, and should run tasks too), in any order,
 * and return only after every one of those calls has returned. data is
 * the pointer given to crunch_ctx_set_runner.
 *
 * Tasks never wait for each other: running all of them one after another
 * on the calling thread is always correct, and is what a runner does when
 * it has no thread to spare. A runner cannot fail. Each task is one of the
 * call's pieces of work, whose sizes are fixed by the problem, never by
 * the number of threads (n >= 2; typically a fraction of a millisecond to
 * a few milliseconds each), so how many run at once, and where, changes
 * only the speed, never the result. Handing tasks out one at a time
 * balances uneven ones, and lets a runner that owns a pool of threads take
 * one back between two tasks. Cancellation and progress need nothing from
 * the runner: every task polls and advances the ctx itself, and once the
 * call is cancelled or has failed the remaining tasks return at once.
 *
 * crunch_runner_pthreads is such a runner for C programs.
 */
typedef void (*crunch_runner_fn)(void *data, size_t n, crunch_task_fn task, void *arg,
                                 int threads);

typedef struct crunch_ctx {
    int32_t cancel;          /* non-zero once cancellation is requested */
    int32_t isa;             /* a crunch_isa cap for this call; CRUNCH_ISA_AUTO for none */
    int64_t done;            /* work done so far, in the kernel's own units */
    int64_t total;           /* the call's total work, in the same units; 0 until known */
    crunch_runner_fn runner; /* runs a parallel call's tasks; NULL: serial */
    void *runner_data;       /* the runner's first argument */
    int32_t threads;         /* most threads a call may use, the caller's included */
    int32_t reserved;        /* zero */
} crunch_ctx;

/* crunch_ctx_init clears ctx: not cancelled, no ISA cap, no progress, no
 * runner (serial). */
CRUNCH_API void crunch_ctx_init(crunch_ctx *ctx);

/* crunch_ctx_cancel asks the call using ctx to stop. Safe from any thread,
 * and from a signal handler; idempotent. */
CRUNCH_API void crunch_ctx_cancel(crunch_ctx *ctx);

/* crunch_ctx_set_isa caps the SIMD path of later calls using ctx. A cap above
 * what the CPU supports has no effect; CRUNCH_ISA_AUTO removes the cap.
 * Returns CRUNCH_EINVAL for a NULL ctx or an unknown isa. */
CRUNCH_API crunch_status crunch_ctx_set_isa(crunch_ctx *ctx, crunch_isa isa);

/*
 * crunch_ctx_set_runner lets later calls using ctx run in parallel on up to
 * threads threads (the calling thread included), which runner supplies
 * (crunch_runner_fn says what it must do). runner == NULL or threads <= 1
 * makes calls serial again, as after crunch_ctx_init. Set it before a call,
 * not during one.
 *
 * Which calls use it: every one but crunch_histogram. gemm for products
 * of more than about 2^26 multiply-adds; fft and fft_real by batch rows,
 * and a long 1-D transform by a four-step split; conv2d by bands of output
 * rows; solve in its trailing updates; sort by halves and a merge on 2
 * threads, by chunked passes on more; mandelbrot, stats and
 * modsum by fixed bands or chunks. Small calls stay serial. Every
 * result is bit for bit the one a serial call gives: work is cut into
 * pieces of fixed sizes, never by the number of threads, and pieces are
 * combined in a fixed order (a sort's result is unique, however it is
 * reached). Progress counts the work of every thread;
 * cancellation stops every task within about a millisecond of work.
 *
 * Returns CRUNCH_EINVAL for a NULL ctx.
 */
CRUNCH_API crunch_status crunch_ctx_set_runner(crunch_ctx *ctx, crunch_runner_fn runner,
                                               void *data, int threads);

/*
 * crunch_runner_pthreads is a plain runner for C programs: it starts
 * min(n, threads) - 1 POSIX threads for the call, which with the calling
 * thread take tasks one at a time until none is left, and joins them
 * before it returns. data is
 * unused (pass NULL). Starting threads costs tens of microseconds per
 * call; a program making many small parallel calls does better with a
 * runner backed by a pool of its own. If threads cannot be started, the
 * calling thread runs every task.
 *
 *   crunch_ctx ctx;
 *   crunch_ctx_init(&ctx);
 *   crunch_ctx_set_runner(&ctx, crunch_runner_pthreads, NULL, 4);
 *   crunch_gemm_f64(&ctx, ...);
 */
CRUNCH_API void crunch_runner_pthreads(void *data, size_t n, crunch_task_fn task, void *arg,
                                       int threads);

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
 * grows linearly with iters. Progress counts iterations. On a ctx with a
 * runner, chunks of 2^22 iterations run in parallel.
 *
 * Returns CRUNCH_EINVAL if total is NULL or iters < 0, CRUNCH_ERANGE if the
 * sum would exceed INT64_MAX, CRUNCH_ECANCELED if cancelled.
 */
CRUNCH_API crunch_status crunch_modsum(crunch_ctx *ctx, int64_t n, int64_t iters, int64_t *total);

/*
 * crunch_stats: what crunch_stats_f64 and crunch_stats_f32 compute over
 * n elements (all of them doubles, whatever the input's type).
 */
typedef struct crunch_stats {
    uint64_t count; /* n */
    double sum;     /* the sum of the elements */
    double mean;    /* sum / count */
    double var;     /* sum of (x - mean)^2, divided by count - ddof */
    double std;     /* sqrt(var) */
    double min;     /* the smallest element; -0.0 counts as below +0.0 */
    double max;     /* the largest element; +0.0 counts as above -0.0 */
} crunch_stats;

/*
 * crunch_stats_f64 stores in *out the count, sum, mean, variance (dividing
 * by n - ddof), standard deviation, minimum and maximum of x[0..n).
 *
 * Accuracy: the sum and mean are those of a compensated pairwise
 * summation: their error stays within a few units in the last place of
 * sum(|x|) and does not grow with n. Each block of 2048 elements is read
 * twice (the second time from cache): the second pass sums the deviations
 * from the first pass's mean with Kahan compensation, which recovers what
 * the first pass lost; block results are merged in a binary tree in
 * double-double arithmetic. The variance comes from a two-pass computation
 * inside each block, merged with Chan, Golub and LeVeque's pairwise
 * formula: it is stable when the mean is large against the spread, unlike
 * sum(x^2)/n - mean^2.
 *
 * Special values, as NumPy's nan-propagating reductions:
 *   - n == 0: count 0, sum 0, every other field NaN (whatever ddof);
 *   - a NaN in x: every field but count is NaN;
 *   - else, when the sum is not finite (x holds +-Inf, or the sum
 *     overflows): sum and mean are +Inf, -Inf or NaN as IEEE addition
 *     gives them, var and std are NaN, min and max are exact;
 *   - a variance too large for a double is +Inf.
 *
 * Progress counts elements. One pass over memory, SIMD per the ctx's
 * path; results of different paths may differ in the last bits. On a ctx
 * with a runner, chunks of 2^18 elements are summarised in parallel and
 * merged in the same tree as a serial call's: the result is the same, bit
 * for bit, on any number of threads.
 *
 * Returns CRUNCH_EINVAL if out is NULL, x is NULL with n > 0, n > 0 and
 * ddof >= n, or *out overlaps x; CRUNCH_ECANCELED if cancelled (n > 0).
 */
CRUNCH_API crunch_status crunch_stats_f64(crunch_ctx *ctx, const double *x, size_t n,
                                          size_t ddof, crunch_stats *out);

/* crunch_stats_f32 is crunch_stats_f64 for float input, accumulated in
 * double: the results are those of the same values converted to double. */
CRUNCH_API crunch_status crunch_stats_f32(crunch_ctx *ctx, const float *x, size_t n,
                                          size_t ddof, crunch_stats *out);

/*
 * crunch_histogram_f64 counts x[0..n) into bins equal bins spanning
 * [lo, hi], count for count as NumPy's np.histogram(x, bins, range=(lo,
 * hi)): counts[b] receives the number of elements in bin b, and edges
 * (bins + 1 of them; edges may be NULL when they are not wanted) the bin
 * edges:
 *   - lo == hi widens the range to [lo - 0.5, hi + 0.5], as NumPy does;
 *   - edges[i] = lo + i * ((hi - lo) / bins) for i < bins, the product and
 *     the sum each rounded (np.linspace), and edges[bins] = hi;
 *   - NaN and the elements outside [lo, hi] are not counted;
 *   - an element's bin is NumPy's, operation for operation: with
 *     norm = bins / (hi - lo), b = (x - lo) * norm truncated, bins - 1 if
 *     that is bins, then b - 1 if x < edges[b], then b + 1 if
 *     x >= edges[b + 1] and b < bins - 1. So bin b holds
 *     edges[b] <= x < edges[b + 1], the last bin x == hi too, except where
 *     bins are so narrow that the product is off by more than one bin.
 * np.histogram(x, bins) without a range is this call with the range from
 * crunch_histogram_range_f64.
 *
 * SIMD per the ctx's path for up to 2^30 bins (more take the generic
 * path): a vector of elements is binned at once, then counted into up to
 * 8 sub-histograms, so that neighbouring elements in one bin do not wait
 * on each other. Work space: the sub-histograms (as many copies of
 * bins + 1 int64 counts as fit in 16 KiB, at least one) and the edges;
 * up to 1 MiB of it is kept per thread for the next call. Progress counts
 * elements; cancel is polled every 65536, and every 65536 bins of the
 * work over the bins (many bins and few elements are as fast to cancel).
 *
 * Returns CRUNCH_EINVAL if counts is NULL, x is NULL with n > 0, counts
 * or edges overlap x or each other, bins is 0 or above 2^56, lo or hi is NaN or infinite, lo > hi, or hi - lo or
 * bins / (hi - lo) overflows (NumPy then fails or returns NaN edges);
 * CRUNCH_ENOMEM if the work space cannot be allocated; CRUNCH_ECANCELED
 * if cancelled.
 */
CRUNCH_API crunch_status crunch_histogram_f64(crunch_ctx *ctx, const double *x, size_t n,
                                              size_t bins, double lo, double hi,
                                              int64_t *counts, double *edges);

/*
 * crunch_histogram_f32 is crunch_histogram_f64 for float input, computed
 * as NumPy computes it for a float32 array and a range of Python floats:
 * in float. lo, hi, norm and each edge (computed in double as above) are
 * rounded to float, and the comparisons and (x - lo) * norm are float
 * operations; edges receives those float edges, as doubles. It also
 * returns CRUNCH_EINVAL when lo, hi, hi - lo or norm is not finite in
 * float.
 */
CRUNCH_API crunch_status crunch_histogram_f32(crunch_ctx *ctx, const float *x, size_t n,
                                              size_t bins, double lo, double hi,
                                              int64_t *counts, double *edges);

/*
 * crunch_histogram_range_f64 stores in *lo and *hi the range np.histogram
 * takes when it is given none: the smallest and the largest element,
 * widened to [lo - 0.5, hi + 0.5] when they are equal; [0, 1] when n is
 * 0. The sign of a zero bound is unspecified (it changes no count and no
 * edge but a last edge of zero). SIMD per the ctx's path; progress counts
 * elements.
 *
 * Returns CRUNCH_EINVAL if lo or hi is NULL, lo == hi, lo or hi lies in
 * x, or x is NULL with n > 0; CRUNCH_ENUMERICAL if x holds NaN or +-Inf (NumPy refuses them:
 * "autodetected range ... is not finite"); CRUNCH_ECANCELED if cancelled.
 */
CRUNCH_API crunch_status crunch_histogram_range_f64(crunch_ctx *ctx, const double *x, size_t n,
                                                    double *lo, double *hi);

/*
 * crunch_histogram_range_f32 is crunch_histogram_range_f64 for float input
 * (equal bounds are widened in double, as NumPy widens float32 ones).
 * crunch_histogram_f32 with this range is np.histogram(x, bins,
 * range=(lo, hi)). np.histogram(x, bins) without a range computes norm
 * from the float difference of the bounds instead, which can move an
 * element lying within float rounding of an edge by one bin.
 */
CRUNCH_API crunch_status crunch_histogram_range_f32(crunch_ctx *ctx, const float *x, size_t n,
                                                    double *lo, double *hi);

/*
 * crunch_sort_f64 sorts x[0..n) in place, ascending, or descending when
 * descending is non-zero. NaNs (any sign, any payload) go last whatever the
 * direction, in their original order and with their bits unchanged. -0.0
 * sorts before +0.0 ascending, after it descending. The result is a
 * permutation of the input: every bit pattern is preserved.
 *
 * Small n: insertion sort. Otherwise an LSD radix sort on keys that map
 * each value to an unsigned integer in the same order (for floats: flip
 * every bit of negatives, the sign bit of the rest), one byte per pass,
 * after one histogram pass that also moves the NaNs aside; a pass in
 * which every key has the same byte is skipped. It needs a work buffer of
 * n elements. Progress counts elements per pass: n * (bytes per key + 1)
 * in total.
 *
 * Threads: the result is the serial one, bit for bit, on any number of
 * threads (the sorted order is unique up to equal bits, and NaNs keep
 * their order). On a ctx with a runner and 2 threads, n of 2^17 or more
 * is sorted as two halves at once, each by the serial sort, then merged
 * in pieces of 2^16 elements of output (each found by a binary search on
 * the merge path) into the work buffer and copied back: the serial
 * sort's work, one merge pass and one copy. Progress counts n more, for
 * the merge. On 3 threads or more, n above 2^16 is sorted by the serial
 * sort's passes cut into chunks of 2^16 elements (fixed by n), each pass
 * a round counting every chunk by its byte and a round moving every chunk
 * to its place, the NaNs set aside by a counting and a copying round
 * first; it needs, besides the n-element buffer, 2 KiB per chunk (n / 32
 * bytes). Those chunked passes read the keys twice, about 1.5 times the
 * serial sort's work, which is why 2 threads merge instead.
 *
 * Returns CRUNCH_EINVAL if x is NULL with n > 0 or n elements do not fit
 * in memory; CRUNCH_ENOMEM if a work buffer cannot be allocated;
 * CRUNCH_ECANCELED if cancelled (x then holds its elements in some order).
 */
CRUNCH_API crunch_status crunch_sort_f64(crunch_ctx *ctx, double *x, size_t n, int descending);

/* crunch_sort_f32 is crunch_sort_f64 for float. */
CRUNCH_API crunch_status crunch_sort_f32(crunch_ctx *ctx, float *x, size_t n, int descending);

/* crunch_sort_i64 is crunch_sort_f64 for int64_t (no NaN, no signed zero). */
CRUNCH_API crunch_status crunch_sort_i64(crunch_ctx *ctx, int64_t *x, size_t n, int descending);

/* crunch_sort_i32 is crunch_sort_f64 for int32_t. */
CRUNCH_API crunch_status crunch_sort_i32(crunch_ctx *ctx, int32_t *x, size_t n, int descending);

/* crunch_sort_u32 is crunch_sort_f64 for uint32_t. */
CRUNCH_API crunch_status crunch_sort_u32(crunch_ctx *ctx, uint32_t *x, size_t n, int descending);

/*
 * crunch_sort_into_f64 writes x[0..n) sorted to out[0..n), as
 * crunch_sort_f64 would sort it in place, bit for bit, and leaves x
 * unchanged. It costs no more than the sort in place: the first pass reads
 * x and moves its values to a work buffer, and the last pass writes out.
 * out is only ever written, never read, so it may be memory that another
 * process can change meanwhile (a client's shared memory): what it does
 * there spoils only that result. out may be x itself (the sort in place);
 * other overlaps are CRUNCH_EINVAL.
 *
 * It needs two n-element work buffers (one in place). Progress and threads
 * as crunch_sort_f64; on 2 threads x is copied to a work buffer, its
 * halves sorted there and merged into out; on 3 threads or more x is
 * copied to a work buffer, sorted there in parallel and copied to out. Returns CRUNCH_EINVAL if x
 * or out is NULL with n > 0, or as crunch_sort_f64; CRUNCH_ENOMEM;
 * CRUNCH_ECANCELED if cancelled (out's contents are then undefined).
 */
CRUNCH_API crunch_status crunch_sort_into_f64(crunch_ctx *ctx, const double *x, double *out, size_t n,
                                              int descending);

/* crunch_sort_into_f32 is crunch_sort_into_f64 for float. */
CRUNCH_API crunch_status crunch_sort_into_f32(crunch_ctx *ctx, const float *x, float *out, size_t n,
                                              int descending);

/* crunch_sort_into_i64 is crunch_sort_into_f64 for int64_t. */
CRUNCH_API crunch_status crunch_sort_into_i64(crunch_ctx *ctx, const int64_t *x, int64_t *out, size_t n,
                                              int descending);

/* crunch_sort_into_i32 is crunch_sort_into_f64 for int32_t. */
CRUNCH_API crunch_status crunch_sort_into_i32(crunch_ctx *ctx, const int32_t *x, int32_t *out, size_t n,
                                              int descending);

/* crunch_sort_into_u32 is crunch_sort_into_f64 for uint32_t. */
CRUNCH_API crunch_status crunch_sort_into_u32(crunch_ctx *ctx, const uint32_t *x, uint32_t *out, size_t n,
                                              int descending);

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
 * Aliasing, as BLAS: C may share no element with A or B (when they are
 * read); the paths read A and B in place or a block at a time while C is
 * written, so C over A would give wrong results. A and B may overlap each
 * other, and blocks of one matrix that share no element may be A, B and
 * C (as a blocked factorisation passes them).
 *
 * Cache-blocked with packed panels and a register-blocked micro-kernel.
 * Progress counts multiply-adds (m * n * k in total). On a ctx with a
 * runner, products too large for the unpacked small-product path (about
 * 2^26 multiply-adds, or k beyond a cache block) run in parallel: the
 * threads share each packed block of A and panel of B and compute blocks
 * of C of fixed size (256 rows by one cache block of columns), each tile
 * exactly as the serial call computes it, so the result is the same bit
 * for bit. A parallel call allocates one packed A block and one B panel
 * (a few MiB) for the call.
 *
 * Returns CRUNCH_EINVAL for a NULL pointer that would be read or written,
 * a too-small leading dimension, sizes whose byte counts overflow, or C
 * sharing an element with A or B; CRUNCH_ENOMEM if packing buffers cannot
 * be allocated; CRUNCH_ECANCELED.
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

/*
 * crunch_solve_f64 solves A X = B for X, A an n x n matrix and B, X
 * n x nrhs, all row-major: a[i*lda + j] is A's element (i, j), and so on.
 * lda >= max(1, n); ldb and ldx >= max(1, nrhs). A and B are only read.
 * x may be b itself (same pointer and ldx == ldb: solved in place);
 * otherwise x must overlap neither a nor b.
 *
 * Method: LU factorisation with partial pivoting (P A = L U, as LAPACK's
 * dgetrf) of a private copy of A, right-looking and blocked at three
 * levels of column blocks (128, 32, 8 columns); within the narrowest
 * blocks, plain column-by-column elimination. Every update of a block of
 * rows by a finished block (the Schur complement) goes through the
 * library's gemm, every row swap swaps whole rows. Then forward and back
 * substitution: one right-hand side at a time below 4 of them, blocked
 * through gemm from 4 on. The result is backward stable in practice:
 * ||A x - b|| is a small multiple of n * eps * ||A|| * ||x||. When A's
 * largest magnitude is beyond 2^+-256 (or a column sum of magnitudes
 * overflows), A and B are first scaled by the power of two that brings
 * it near 1, which leaves X unchanged and keeps the elimination and the
 * condition estimate clear of overflow and subnormals. Results of
 * different SIMD paths may differ in the last bits.
 *
 * CRUNCH_ENUMERICAL, rather than a meaningless X, when:
 *   - A or B holds a NaN or an Inf;
 *   - A is singular: an elimination step finds only zeros to pivot on
 *     (an exactly zero pivot);
 *   - A is singular to working precision: the 1-norm condition number
 *     estimated from the LU factors (Hager and Higham's estimator, as
 *     LAPACK's dgecon; a lower bound, nearly always within a factor 3 of
 *     the true one) exceeds 1/DBL_EPSILON = 2^52, the point where the
 *     error bound cond * eps says that no digit of X can be trusted;
 *   - X overflows (some element would be Inf or NaN).
 * n == 0 is a successful no-op; nrhs == 0 still factors A and reports a
 * singular A.
 *
 * Threads: on a ctx with a runner, the factorisation looks ahead: while
 * the columns right of a block of 128 are updated, 128 at a time in
 * parallel (each piece its row swaps, triangular solve and Schur
 * complement), one thread factors the next block's columns, whose row
 * swaps are held back from the columns being updated and applied to them
 * in the next round, and to L on the left in the one after. Rounds with
 * an update below 2^26 multiply-adds run on the calling thread. The
 * rank-k updates of the substitution run their blocks of about a
 * millisecond of multiply-adds, fixed by the shapes and the SIMD path, in
 * parallel. Every piece is fixed by n and each one's work is serial, so
 * the result is the same, bit for bit, on any number of threads. No extra
 * work space.
 *
 * Work space: a copy of A (n rows of a little over n doubles, mapped with
 * huge pages when large) and a few n-element vectors, freed before return.
 * Progress counts multiply-adds: sum_{j<n} (n-1-j)^2 for the
 * factorisation (about n^3/3) plus n^2 * nrhs for the substitutions (the
 * condition estimate, a few more substitutions, is not counted). Cancel is
 * polled by work done, whatever the shape: after every gemm call on a
 * block of at most about a millisecond's work (deep products are cut in
 * columns and in k to keep that), and every 2^18 elements that the row
 * loops (copies, checks, swaps, the small triangular solves) touch, in
 * runs of columns for wide B and X.
 *
 * Returns CRUNCH_EINVAL for a NULL pointer with n > 0 (b and x only when
 * nrhs > 0), a too-small leading dimension, x == b with ldx != ldb, x
 * overlapping a, or b other than as x itself, or sizes whose byte counts
 * overflow; CRUNCH_ENOMEM if the work space cannot be allocated;
 * CRUNCH_ENUMERICAL as above; CRUNCH_ECANCELED if cancelled. On every
 * error X's contents are unspecified.
 */
CRUNCH_API crunch_status crunch_solve_f64(crunch_ctx *ctx, size_t n, size_t nrhs,
                                          const double *a, size_t lda, const double *b,
                                          size_t ldb, double *x, size_t ldx);

/* crunch_fft_norm: which direction of an FFT is scaled, as NumPy's norm. */
typedef enum crunch_fft_norm {
    CRUNCH_FFT_BACKWARD = 0, /* forward unscaled, inverse scaled by 1/n */
    CRUNCH_FFT_ORTHO = 1,    /* both scaled by 1/sqrt(n): the unitary DFT */
    CRUNCH_FFT_FORWARD = 2   /* forward scaled by 1/n, inverse unscaled */
} crunch_fft_norm;

/*
 * crunch_fft_c128 computes the discrete Fourier transform of each of
 * batch rows of n complex doubles, as numpy.fft.fft (inverse == 0) or
 * numpy.fft.ifft (inverse != 0) along the last axis of a [batch, n] array:
 *
 *   y[b][k] = scale * sum_{j < n} x[b][j] * exp(-+2 pi i j k / n)
 *
 * with the minus sign forward and the plus sign inverse, and scale 1,
 * 1/sqrt(n) or 1/n as norm and the direction say (crunch_fft_norm).
 *
 * x and y hold batch * n complex numbers, row after row, each as two
 * doubles (re, im): C's double _Complex, C++'s std::complex<double> and
 * NumPy's complex128 have this layout. y may be x itself (in place);
 * otherwise the two must not overlap. Any n >= 1 works, in O(n log n):
 * lengths whose prime factors are all at most 61 use a mixed-radix
 * Stockham FFT (radix 8, 4 and 2 passes for the powers of two, then 3, 5,
 * 7 and larger primes), others Bluestein's algorithm (a convolution
 * through two mixed-radix FFTs of a length between 2n - 1 and 4n). A
 * power of two of 8 MiB or more (n >= 2^19 here, 2^20 for c64), too
 * large for the caches, is split n = n1 * n2 (four-step): blocks of
 * columns of length n1, twiddled, then blocks of rows of length n2,
 * written transposed. The error is within a small multiple of eps * log2(n) * scale * ||x|| per
 * element, ||x|| the row's 2-norm. NaN and Inf in a row make every output
 * of that row non-finite and leave the other rows alone.
 *
 * Plans: the twiddle factors of each (n, precision) are computed on the
 * first call and kept in a process-wide cache that any thread may use at
 * once (it is the library's only shared state, guarded by a mutex held
 * only for bookkeeping, never while transforming). It holds at most 32
 * plans and 128 MiB; the least recently used plan that no call is using
 * is evicted first, and a plan that does not fit is built for the call
 * and freed after it. A plan takes about 16 bytes per element of n for
 * c128, 8 for c64 (Bluestein lengths up to 9 times that), and a
 * four-step plan about a sixteenth of that at n = 2^20 (its twiddles
 * are the products of two small tables).
 * crunch_fft_cache_clear releases them. The first call with a new n pays
 * for its plan (about as much as a few transforms).
 *
 * Threads: with a runner (crunch_ctx_set_runner) the rows go to the
 * threads in groups of a fixed number of rows (about 65536 elements per
 * group, one row at least), and a four-step row runs its column blocks,
 * then its row blocks, on the threads. The results are the same, bit for
 * bit, on any number of threads (on a given SIMD path).
 *
 * Work space, freed before the call returns: one work row per thread the
 * call may use, at most 2n complex numbers each (12n for Bluestein
 * lengths); for a four-step length, n complex numbers plus, per thread,
 * at most about 100 * sqrt(n) (c128) or 200 * sqrt(n) (c64). Progress counts
 * passes over a row, batch * (passes per row) in total, or for a
 * four-step length its blocks, batch * (n2 / 32 + n1 / 32) (64 for c64).
 * Cancellation is polled every 32768 elements of every pass (a pass
 * touches each element of a row once) and of the scaling and Bluestein's
 * pointwise steps, well within a millisecond, before each four-step
 * block and each of its passes, while a plan is built, and between rows
 * by work done: short rows (n = 1 has no pass) some thousands at a time.
 *
 * batch == 0 is a successful no-op (x and y may then be NULL).
 *
 * Returns CRUNCH_EINVAL if n == 0 (as NumPy: no DFT of length 0), norm is
 * not a crunch_fft_norm, x or y is NULL with batch > 0, x and y overlap
 * without being equal, or the sizes' byte counts overflow; CRUNCH_ENOMEM if the plan or the work space cannot
 * be allocated; CRUNCH_ECANCELED if cancelled (y then holds partial
 * results).
 */
CRUNCH_API crunch_status crunch_fft_c128(crunch_ctx *ctx, int inverse, crunch_fft_norm norm,
                                         size_t batch, size_t n, const double *x, double *y);

/* crunch_fft_c64 is crunch_fft_c128 for complex floats (two floats each),
 * computed in float throughout (twiddles rounded from long double). */
CRUNCH_API crunch_status crunch_fft_c64(crunch_ctx *ctx, int inverse, crunch_fft_norm norm,
                                        size_t batch, size_t n, const float *x, float *y);

/*
 * crunch_fft_f64 computes the same transform as crunch_fft_c128 of real
 * rows: x holds batch rows of n doubles, and y receives batch rows of n
 * complex doubles (2n doubles each), the full spectrum, as numpy.fft.fft
 * and numpy.fft.ifft of a real [batch, n] array. It is faster than
 * promoting x to complex and calling crunch_fft_c128: an even n takes one
 * complex transform of length n/2 and one O(n) pass that separates and
 * combines the even and odd samples' spectra; an odd n is promoted into y
 * and transformed there. The error bound is crunch_fft_c128's.
 *
 * x and y must not overlap. Progress and cancellation are those of the
 * complex transform (of length n/2 for an even n); the combining pass
 * polls cancel every 32768 outputs. batch == 0 is a successful no-op.
 *
 * Returns CRUNCH_EINVAL if n == 0, norm is not a crunch_fft_norm, x or y
 * is NULL with batch > 0, x and y overlap, or y's byte count overflows;
 * otherwise what crunch_fft_c128 returns.
 */
CRUNCH_API crunch_status crunch_fft_f64(crunch_ctx *ctx, int inverse, crunch_fft_norm norm,
                                        size_t batch, size_t n, const double *x, double *y);

/* crunch_fft_f32 is crunch_fft_f64 for float rows into complex floats,
 * through crunch_fft_c64; the combining pass computes in double and rounds
 * each output once. */
CRUNCH_API crunch_status crunch_fft_f32(crunch_ctx *ctx, int inverse, crunch_fft_norm norm,
                                        size_t batch, size_t n, const float *x, float *y);

/* crunch_fft_cache_clear frees every cached FFT plan that no call is using
 * (and drops the others from the cache: their calls free them when they
 * finish). Later calls rebuild what they need. Thread-safe; for programs
 * that want the memory back, and for leak checkers. */
CRUNCH_API void crunch_fft_cache_clear(void);

/* crunch_work_buffers_release unmaps the work buffers of many MiB (an
 * fft's work rows, a parallel gemm's packed panels, conv2d's rows) that
 * the library keeps between calls, up to 64 MiB in all, so that later
 * calls find them with their pages in place: a fresh buffer's page faults
 * cost a large fft a fifth of its time. Returns the bytes unmapped.
 * Thread-safe; for programs that want the memory back after a burst of
 * work, and for leak checkers. */
CRUNCH_API size_t crunch_work_buffers_release(void);

/* crunch_mandelbrot's largest max_iter: 2^31, so that every count fits an
 * int32 as well as the uint32 it is stored in. */
#define CRUNCH_MANDELBROT_MAX_ITER ((int64_t)1 << 31)

/*
 * crunch_mandelbrot stores in counts[r*width + j] (height rows of width
 * columns) the escape count of the pixel in row r, column j, which samples
 *
 *   c = (x_min + (x_max - x_min) * j / width) + i (y_min + (y_max - y_min) * r / height)
 *
 * (row 0 is y_min, column 0 is x_min; x_max and y_max are not reached).
 * With z_0 = 0 and z_{k+1} = z_k^2 + c, the count is the smallest k >= 1
 * with |z_k|^2 > 4, or max_iter if there is none below max_iter.
 *
 * Exact arithmetic, in double, the same on every SIMD path and in the
 * service's Go implementation, so counts agree bit for bit: each
 * operation below is rounded on its own (no multiply is fused with an add,
 * whatever the compiler flags):
 *   cr = x_min + ((x_max - x_min) * j) / width,
 *   ci = y_min + ((y_max - y_min) * r) / height,
 *   z_1 = c; then for z = x + i y:
 *     x2 = x * x, y2 = y * y, t = x * y;  escape when x2 + y2 > 4;
 *     x' = (x2 - y2) + cr,  y' = (t + t) + ci.
 * Bounds so far apart that x_max - x_min overflows give an infinite step:
 * column 0 then samples NaN, which never escapes (count max_iter), and the
 * others an infinite c, which escapes at once (count 1).
 *
 * SIMD across pixels (4 per AVX2 vector, 8 per AVX-512 vector, several
 * vectors at a time), pixel by pixel on the generic path and in each row's
 * last few columns. Progress counts pixels (width * height in total) and
 * advances after each row. On a ctx with a runner, threads claim bands of
 * 4 rows one at a time, which balances the set's costly rows. Cancel is
 * polled before each row, after each group of pixels, by iterations done over the pixels taken one at a time
 * (a row of pixels that escape at once), and every 4096 iterations inside
 * one (a single pixel may iterate 2^31 times), well within a millisecond.
 *
 * width == 0 or height == 0 is a successful no-op (counts may be NULL).
 *
 * Returns CRUNCH_EINVAL if a bound is NaN or infinite, max_iter < 1 or
 * max_iter > CRUNCH_MANDELBROT_MAX_ITER, width * height * 4 bytes
 * overflows a size_t, or counts is NULL with a non-empty image;
 * CRUNCH_ECANCELED if cancelled (counts then holds partial results).
 */
CRUNCH_API crunch_status crunch_mandelbrot(crunch_ctx *ctx, size_t width, size_t height,
                                           double x_min, double x_max, double y_min,
                                           double y_max, int64_t max_iter, uint32_t *counts);

/* crunch_conv_mode: which part of the full 2-D convolution
 * crunch_conv2d_f64 returns, as scipy.signal.convolve2d's mode. */
typedef enum crunch_conv_mode {
    CRUNCH_CONV_SAME = 0, /* h x w, centred: full's rows from (kh-1)/2, columns from (kw-1)/2 */
    CRUNCH_CONV_VALID = 1, /* max(h-kh+1, 0) x max(w-kw+1, 0): where the kernel fits inside */
    CRUNCH_CONV_FULL = 2   /* (h+kh-1) x (w+kw-1): every overlap of kernel and image */
} crunch_conv_mode;

/* crunch_conv2d_shape stores in *oh and *ow the size of crunch_conv2d_f64's
 * output for an h x w image and a kh x kw kernel in mode. Returns
 * CRUNCH_EINVAL if oh or ow is NULL, mode is not a crunch_conv_mode, kh or
 * kw is 0, or h + kh - 1 or w + kw - 1 overflows. */
CRUNCH_API crunch_status crunch_conv2d_shape(crunch_conv_mode mode, size_t h, size_t w,
                                             size_t kh, size_t kw, size_t *oh, size_t *ow);

/*
 * crunch_conv2d_f64 stores in out (oh x ow, row-major, contiguous; sizes
 * from crunch_conv2d_shape) the true 2-D convolution of the h x w image by
 * the kh x kw kernel (the kernel flipped, unlike a correlation), as
 * scipy.signal.convolve2d(image, kernel, mode) with its default zero fill:
 *
 *   full[i][j] = sum of image[i-p][j-q] * kernel[p][q]
 *                over p < kh, q < kw with 0 <= i-p < h and 0 <= j-q < w,
 *   out[r][c]  = full[r + r0][c + c0],
 *
 * (r0, c0) being (0, 0) in full mode, ((kh-1)/2, (kw-1)/2) in same mode
 * and (kh-1, kw-1) in valid mode. Image, kernel and out are contiguous
 * row-major arrays; out must overlap neither input. A kernel larger than
 * the image is fine in every mode (valid mode's output is then empty). An
 * empty image (h or w == 0) gives an output of zeros, of the size above.
 *
 * Each sum has only the terms listed: outside the image nothing is
 * multiplied, so NaN and Inf propagate by IEEE arithmetic exactly where
 * they meet: a NaN or Inf pixel reaches the outputs whose sums include it
 * (Inf times a zero kernel value is NaN), a NaN or Inf in the kernel only
 * those where it meets a pixel. A sum that is exactly zero is +0.0.
 *
 * Method: each image row is copied once into a ring of min(kh + 1, h)
 * rows padded with zeros; output rows are then computed in SIMD register
 * blocks, two rows at a time away from the top and bottom edges (each
 * load of image feeding both), every kernel tap a broadcast, a load and a
 * fused multiply-add, the output stored once. About nr * kw multiply-adds per output, nr the
 * kernel rows that meet the image (at most min(kh, h)). A kernel holding
 * NaN or Inf takes a slower, clipped loop (zeros of the padding would
 * turn it into NaN). Each output's terms are added in the same order (p
 * then q ascending) on every path, so paths differ only in the rounding
 * of fused multiply-adds; the error of each output is within about
 * (nr * kw) * eps * sum |image| * |kernel| over its terms.
 *
 * Threads: on a ctx with a runner, bands of output rows run in parallel,
 * their height fixed by the shapes (about 2^21 multiply-adds' worth, even,
 * at least 2 rows), each band with a ring of its own; every output is the
 * same computation in any band, so the result is the same, bit for bit,
 * on any number of threads.
 *
 * Work space: the ring, min(kh + 1, h) * (ow + kw + 30) elements at
 * most, and a pointer per ring row; one per band running at once (one
 * per thread), each thread's kept for its next call when under 1 MiB,
 * the rest freed before return. Progress counts output
 * elements (oh * ow in total), advanced after each output row (or pair);
 * cancel is polled every 2^18 multiply-adds or so, whatever the shapes
 * (output rows are split by columns, kernel rows and, for kernels wider
 * than 1024 columns, runs of taps; the clipped path and the copies into
 * the ring are counted too).
 *
 * Returns CRUNCH_EINVAL for what crunch_conv2d_shape refuses, kernel
 * NULL, image NULL with h * w > 0, out NULL with a non-empty output, out
 * overlapping the image or the kernel, or an image, kernel or output
 * whose byte count overflows; CRUNCH_ENOMEM if
 * the ring cannot be allocated; CRUNCH_ECANCELED if cancelled (out then
 * holds partial results).
 */
CRUNCH_API crunch_status crunch_conv2d_f64(crunch_ctx *ctx, crunch_conv_mode mode, size_t h,
                                           size_t w, const double *image, size_t kh, size_t kw,
                                           const double *kernel, double *out);

/* crunch_conv2d_f32 is crunch_conv2d_f64 for float, computed in float. */
CRUNCH_API crunch_status crunch_conv2d_f32(crunch_ctx *ctx, crunch_conv_mode mode, size_t h,
                                           size_t w, const float *image, size_t kh, size_t kw,
                                           const float *kernel, float *out);

#ifdef __cplusplus
}
#endif

#endif /* CRUNCH_H */
