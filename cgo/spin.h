/*
 * spin.h - what the C threads of package cgo (team.c, shadow.c) poll with.
 */
#ifndef CRUNCH_CGO_SPIN_H
#define CRUNCH_CGO_SPIN_H

#include <stdint.h>
#include <time.h>

/* crunch_go_now_ns is CLOCK_MONOTONIC in nanoseconds. */
static inline int64_t crunch_go_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* crunch_go_cpu_relax tells the CPU that this is a spin loop. */
static inline void crunch_go_cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

#endif /* CRUNCH_CGO_SPIN_H */
