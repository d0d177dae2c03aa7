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
 */
#include "internal.h"

#include <stdint.h>
#include <stdlib.h>
#if defined(__linux__)
#include <sys/mman.h>
#endif

/* HUGE_PAGE is the huge page size mapped for. */
#define HUGE_PAGE ((size_t)2 << 20)

void crunch__bigbuf_alloc(crunch__bigbuf *w, size_t bytes)
{
    crunch__bigbuf_alloc_min(w, bytes, 2 * HUGE_PAGE);
}

void crunch__bigbuf_alloc_min(crunch__bigbuf *w, size_t bytes, size_t huge_min)
{
    w->map = NULL;
    w->len = 0;
#if defined(__linux__) && defined(MADV_HUGEPAGE)
    const size_t huge = HUGE_PAGE;
    /* Below two huge pages the slack page would double the mapping. */
    if (bytes >= huge_min && bytes >= 2 * huge && bytes <= SIZE_MAX / 4) {
        /* Whole huge pages, plus one of slack to align the start to 2 MiB
         * (mmap only promises 4 KiB); the bound above keeps this exact. */
        size_t body = (bytes + huge - 1) / huge * huge, len = body + huge;
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
#else
    (void)huge_min;
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
        munmap(w->map, w->len);
        return;
    }
#endif
    free(w->p);
}
