/*
 * bigbuf.c - work buffers of many MiB (sort's second array, fft's work
 * rows), mapped directly and, on Linux, advised to use transparent huge
 * pages.
 *
 * A fresh buffer costs one page fault per page touched, and in virtual
 * machines a fault can cost 10-20 us, more than a sort spends on a 4 KiB
 * page (measured here: 23 ms of faults for 8 MiB, 0.7 ms with huge pages).
 * The buffer is mapped rather than malloc'ed so that the advice applies to
 * fresh, untouched memory (malloc may hand back a region that is already
 * partly mapped with small pages). The advice is a hint: if the kernel
 * ignores it, only speed changes. Smaller buffers come from malloc.
 *
 * Even with huge pages, a fresh mapping's faults zero every byte of it:
 * a fifth of an fft of 2^20 complex values (16 MiB of work rows, 10 ms a
 * call) went to the kernel's clear_page. So freed mappings are kept for
 * later calls, up to KEEP_SLOTS of them and KEEP_BYTES in all, and
 * crunch_work_buffers_release unmaps them (a server calls it once a burst
 * of work is over).
 */
#include "internal.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#if defined(__linux__)
#include <sys/mman.h>
#endif

/* HUGE_PAGE is the huge page size mapped for. */
#define HUGE_PAGE ((size_t)2 << 20)

/* What is kept between calls: enough for a few calls' buffers at once
 * (an fft of 2^20 complex doubles needs 16 MiB, a parallel gemm of 2048
 * 14 MiB); larger buffers (a sort's second array of 10^7 doubles, 80
 * MiB) are unmapped on release, their calls being long enough to absorb
 * the faults. */
enum { KEEP_SLOTS = 8 };
#define KEEP_BYTES ((size_t)64 << 20)

#if defined(__linux__) && defined(MADV_HUGEPAGE)
/* kept: mappings released and not unmapped yet (len 0: a free slot). */
static struct {
    void *map;
    size_t len;
} kept[KEEP_SLOTS];
static size_t kept_bytes;
static pthread_mutex_t kept_mu = PTHREAD_MUTEX_INITIALIZER;

/* take_kept moves into w the smallest kept mapping of len bytes or more,
 * but not more than twice that (a small call would pin a large mapping);
 * 0 when none fits. */
static int take_kept(crunch__bigbuf *w, size_t len)
{
    pthread_mutex_lock(&kept_mu);
    int best = -1;
    for (int i = 0; i < KEEP_SLOTS; i++)
        if (kept[i].len >= len && kept[i].len / 2 <= len &&
            (best < 0 || kept[i].len < kept[best].len))
            best = i;
    if (best >= 0) {
        w->map = kept[best].map;
        w->len = kept[best].len;
        kept_bytes -= kept[best].len;
        kept[best].map = NULL;
        kept[best].len = 0;
    }
    pthread_mutex_unlock(&kept_mu);
    return best >= 0;
}

/* keep keeps w's mapping for a later call if the bounds allow; 0 if not. */
static int keep(const crunch__bigbuf *w)
{
    int done = 0;
    pthread_mutex_lock(&kept_mu);
    if (w->len <= KEEP_BYTES - kept_bytes) {
        for (int i = 0; i < KEEP_SLOTS && !done; i++) {
            if (kept[i].len == 0) {
                kept[i].map = w->map;
                kept[i].len = w->len;
                kept_bytes += w->len;
                done = 1;
            }
        }
    }
    pthread_mutex_unlock(&kept_mu);
    return done;
}
#endif

size_t crunch_work_buffers_release(void)
{
    size_t freed = 0;
#if defined(__linux__) && defined(MADV_HUGEPAGE)
    pthread_mutex_lock(&kept_mu);
    for (int i = 0; i < KEEP_SLOTS; i++) {
        if (kept[i].len != 0) {
            munmap(kept[i].map, kept[i].len);
            freed += kept[i].len;
            kept[i].map = NULL;
            kept[i].len = 0;
        }
    }
    kept_bytes = 0;
    pthread_mutex_unlock(&kept_mu);
#endif
    return freed;
}

void crunch__bigbuf_alloc(crunch__bigbuf *w, size_t bytes)
{
    w->map = NULL;
    w->len = 0;
#if defined(__linux__) && defined(MADV_HUGEPAGE)
    const size_t huge = HUGE_PAGE;
    /* Below two huge pages the slack page would double the mapping. */
    if (bytes >= 2 * huge && bytes <= SIZE_MAX / 4) {
        /* Whole huge pages, plus one of slack to align the start to 2 MiB
         * (mmap only promises 4 KiB); the bound above keeps this exact. */
        size_t body = (bytes + huge - 1) / huge * huge, len = body + huge;
        if (take_kept(w, len)) { /* its start aligned as below, its pages in place */
            w->p = (void *)(((uintptr_t)w->map + huge - 1) & ~(uintptr_t)(huge - 1));
            return;
        }
        void *m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (m != MAP_FAILED) {
            uintptr_t a = ((uintptr_t)m + huge - 1) & ~(uintptr_t)(huge - 1);
            (void)madvise((void *)a, body, MADV_HUGEPAGE); /* a + body <= m + len */
            w->map = m;
            w->len = len;
            w->p = (void *)a;
            return;
        }
        /* mmap failed: let malloc try (it reports ENOMEM the usual way) */
    }
#endif
    if (bytes > SIZE_MAX - 64) {
        w->p = NULL;
        return;
    }
    /* C11 wants a multiple of the alignment, and something for 0 bytes */
    w->p = aligned_alloc(64, (bytes + 63) / 64 * 64 + (bytes == 0 ? 64 : 0));
}

void crunch__bigbuf_free(crunch__bigbuf *w)
{
#if defined(__linux__) && defined(MADV_HUGEPAGE)
    if (w->map != NULL) {
        if (!keep(w))
            munmap(w->map, w->len);
        return;
    }
#endif
    free(w->p);
}
