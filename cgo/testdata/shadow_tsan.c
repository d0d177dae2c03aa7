/*
 * shadow_tsan.c - the shadow's hand-off (cgo/shadow.c) under
 * ThreadSanitizer, which the Go race detector cannot see into: a caller
 * posts 200,000 calls, each reading what the caller wrote before and
 * writing what it reads after, with the shadow polling for the next call
 * or sleeping. Built and run by `make test-sanitize`.
 */
#include <stdio.h>

#include "shadow.h"

typedef struct {
    crunch_go_call call;
    long *acc;
    long add;
} add_call;

static void add_run(crunch_go_call *call)
{
    add_call *c = (add_call *)call;
    *c->acc += c->add;
    call->status = CRUNCH_OK;
}

int main(void)
{
    crunch_go_shadow s = {0};
    if (crunch_go_shadow_start(&s) != 0) {
        fprintf(stderr, "shadow_tsan: the shadow did not start\n");
        return 1;
    }
    const long calls = 200000;
    long acc = 0;
    for (long i = 0; i < calls; i++) {
        if (i % 1000 == 0) /* 0, 20 or 40 us of polling by the shadow, in turn */
            __atomic_store_n(&s.shadow_spin_ns, (int64_t)(i / 1000 % 3) * 20000, __ATOMIC_RELAXED);
        add_call c = {{add_run, CRUNCH_OK}, &acc, i};
        crunch_go_shadow_call(&s, &c.call);
        acc += 1;
    }
    crunch_go_shadow_stop(&s);
    long want = calls * (calls - 1) / 2 + calls;
    if (acc != want) {
        fprintf(stderr, "shadow_tsan: sum %ld, want %ld\n", acc, want);
        return 1;
    }
    return 0;
}
