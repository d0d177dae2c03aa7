//go:build cgo

/*
 * runner.c - the C side of package cgo's runners (runner.go): the
 * crunch_runner_fn that hands a parallel call's tasks to a Go Runner, and
 * the call of one task, which Go cannot make through a function pointer.
 */
#include <crunch.h>

#include "_cgo_export.h"

/* crunch_go_runner is a crunch_runner_fn: data points at a C cell that
 * holds the runtime/cgo handle of the Go Runner (C memory, so the ctx
 * holds no Go pointer). */
void crunch_go_runner(void *data, size_t n, crunch_task_fn task, void *arg, int threads)
{
    crunchGoRun(*(uintptr_t *)data, n, task, arg, threads);
}

/* crunch_go_task runs task i of a parallel call. */
void crunch_go_task(crunch_task_fn task, void *arg, size_t i)
{
    task(arg, i);
}
