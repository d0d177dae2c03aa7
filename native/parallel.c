/*
 * parallel.c - running a call's items on the ctx's runner (crunch__parallel,
 * internal.h), and crunch_runner_pthreads, the runner C programs can use.
 *
 * Each item is one task of the runner: the runner decides which thread
 * runs which, and when, so that a runner backed by a pool can give a
 * thread back between two items (to a job waiting for it) and the calling
 * thread still runs whatever is left. A task whose call has already failed
 * or been cancelled returns at once.
 */
#include "internal.h"

#include <pthread.h>
#include <stdlib.h>

/* par_call: one parallel call's shared state, on the caller's stack. */
typedef struct par_call {
    crunch_ctx *ctx;
    crunch__item_fn item;
    void *arg;
    int status; /* CRUNCH_OK, or the call's error so far; atomic */
} par_call;

/* par_fail records st (not CRUNCH_OK) as the call's error: any error
 * replaces CRUNCH_OK, and a real error replaces a cancellation, so a
 * failure is not hidden by the cancel it may have caused elsewhere. */
static void par_fail(par_call *pc, int st)
{
    int cur = __atomic_load_n(&pc->status, __ATOMIC_RELAXED);
    while (cur == CRUNCH_OK || (cur == CRUNCH_ECANCELED && st != CRUNCH_ECANCELED)) {
        /* on failure cur is reloaded and the condition checked again */
        if (__atomic_compare_exchange_n(&pc->status, &cur, st, 0, __ATOMIC_RELAXED,
                                        __ATOMIC_RELAXED))
            return;
    }
}

/* par_task runs item i (a crunch_task_fn), unless the call has stopped. */
static void par_task(void *arg, size_t i)
{
    par_call *pc = arg;
    /* once an item failed its error is the answer: skip the rest */
    if (__atomic_load_n(&pc->status, __ATOMIC_RELAXED) != CRUNCH_OK)
        return;
    if (crunch__canceled(pc->ctx)) {
        par_fail(pc, CRUNCH_ECANCELED);
        return;
    }
    crunch_status st = pc->item(pc->arg, i);
    if (st != CRUNCH_OK)
        par_fail(pc, (int)st);
}

crunch_status crunch__serial(crunch_ctx *ctx, size_t items, crunch__item_fn item, void *arg)
{
    for (size_t i = 0; i < items; i++) {
        if (crunch__canceled(ctx))
            return CRUNCH_ECANCELED;
        crunch_status st = item(arg, i);
        if (st != CRUNCH_OK)
            return st;
    }
    return CRUNCH_OK;
}

crunch_status crunch__parallel(crunch_ctx *ctx, size_t items, crunch__item_fn item, void *arg)
{
    int threads = crunch__threads(ctx);
    if (threads < 2 || items < 2)
        return crunch__serial(ctx, items, item, arg);
    par_call pc = {ctx, item, arg, CRUNCH_OK};
    /* The runner returns after every task did, and its hand-over (a join,
     * a wait group) orders the items' writes before the caller's reads. */
    ctx->runner(ctx->runner_data, items, par_task, &pc, threads);
    return (crunch_status)__atomic_load_n(&pc.status, __ATOMIC_ACQUIRE);
}

/* pthreads_call: one crunch_runner_pthreads call's shared state. */
typedef struct pthreads_call {
    crunch_task_fn task;
    void *arg;
    size_t n;
    size_t next; /* the next task to start; atomic */
} pthreads_call;

/* pthreads_loop runs tasks until none is left; a pthread body. */
static void *pthreads_loop(void *p)
{
    pthreads_call *pc = p;
    for (;;) {
        size_t i = __atomic_fetch_add(&pc->next, 1, __ATOMIC_RELAXED);
        if (i >= pc->n)
            return NULL;
        pc->task(pc->arg, i);
    }
}

void crunch_runner_pthreads(void *data, size_t n, crunch_task_fn task, void *arg, int threads)
{
    (void)data;
    pthreads_call pc = {task, arg, n, 0};
    size_t helpers = 0;
    if (threads > 1 && n > 1)
        helpers = (n < (size_t)threads ? n : (size_t)threads) - 1;
    /* Out of memory or threads, the calling thread runs what is left. */
    pthread_t *th = helpers > 0 ? malloc(helpers * sizeof *th) : NULL;
    size_t started = 0;
    if (th != NULL)
        while (started < helpers && pthread_create(&th[started], NULL, pthreads_loop, &pc) == 0)
            started++;
    pthreads_loop(&pc);
    for (size_t i = 0; i < started; i++)
        pthread_join(th[i], NULL);
    free(th);
}
