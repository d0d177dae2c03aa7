/*
 * scratch.c - a per-thread cache of one scratch buffer, for kernels that
 * need working memory on every call (gemm's packing buffers).
 *
 * Allocating and freeing a few hundred KiB per call costs more than the
 * call in the worst case: glibc serves such a block from the top of its
 * heap, and when a free leaves the top past its trim threshold it hands
 * the memory back to the kernel, so the next call faults every page in
 * again (a 128 x 128 f64 gemm fell from 85 to 10 GFLOP/s that way when
 * other allocations moved the heap's top). So each thread keeps the last
 * buffer it released, up to SCRATCH_KEEP bytes; larger ones are freed at
 * once, their products being long enough to absorb the faults. A thread's
 * buffer is freed when the thread exits (a pthread key's destructor).
 */
#include "internal.h"

#include <pthread.h>
#include <stdlib.h>

/* The most a thread keeps between calls: enough for gemm's buffers up to
 * a few hundred rows (f64 128 x 128 x 1024 needs 0.8 MiB). */
enum { SCRATCH_KEEP = 1 << 20 };

/* The thread's cached buffer and its capacity; p is also the value of
 * scratch_key, so that the destructor frees it. */
static _Thread_local struct {
    void *p;
    size_t bytes;
} cache;

static pthread_key_t scratch_key;
static int scratch_key_ok; /* 0: no key (pthread_key_create failed): nothing is kept */
static pthread_once_t scratch_once = PTHREAD_ONCE_INIT;

static void scratch_init(void)
{
    scratch_key_ok = pthread_key_create(&scratch_key, free) == 0;
}

void *crunch__scratch_get(size_t bytes, size_t *cap)
{
    if (cache.p != NULL && cache.bytes >= bytes) {
        void *p = cache.p;
        *cap = cache.bytes;
        cache.p = NULL; /* the caller owns it until it puts it back */
        pthread_setspecific(scratch_key, NULL);
        return p;
    }
    /* aligned_alloc wants a multiple of the alignment; rounding a size
     * near SIZE_MAX would wrap, so such sizes fail here instead */
    if (bytes == 0 || bytes > (size_t)-1 - 63)
        return NULL;
    bytes = (bytes + 63) / 64 * 64;
    *cap = bytes;
    return aligned_alloc(64, bytes);
}

void crunch__scratch_put(void *p, size_t cap)
{
    if (p == NULL)
        return;
    pthread_once(&scratch_once, scratch_init);
    if (!scratch_key_ok || cap > SCRATCH_KEEP) {
        free(p);
        return;
    }
    if (cache.p != NULL) { /* keep the larger of the two */
        if (cache.bytes >= cap) {
            free(p);
            return;
        }
        free(cache.p);
    }
    cache.p = p;
    cache.bytes = cap;
    /* if this fails the buffer is still reused, only not freed at exit */
    pthread_setspecific(scratch_key, p);
}
