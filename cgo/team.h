/*
 * team.h - what team.c and team.go share: a team of threads that runs the
 * rounds of a pool worker's parallel C calls without a call into Go
 * between two rounds.
 */
#ifndef CRUNCH_CGO_TEAM_H
#define CRUNCH_CGO_TEAM_H

#include <stddef.h>
#include <stdint.h>

#include <crunch.h>

/*
 * crunch_go_team: one pool worker's team. The worker's calls post their
 * rounds (crunch_runner_fn calls) into it one at a time; helper threads
 * serve it (crunch_go_team_serve) from round to round.
 *
 * The current round's fields are written by the worker only while no
 * helper is in the round: a helper counts itself into state before it
 * reads them, and the worker, once it has claimed its last task, closes
 * the round (TEAM_CLOSED) and waits for the count to drain before it
 * returns or posts the next.
 */
typedef struct crunch_go_team {
    crunch_task_fn task;
    void *arg;
    size_t n;
    size_t next;       /* the next task to claim; atomic */
    uint32_t state;    /* helpers in the round, | TEAM_CLOSED; atomic */
    uint64_t gen;      /* rounds posted; atomic */
    int32_t attached;  /* helpers serving or offered to the team; atomic */
    int32_t active;    /* 1 while the worker runs a job that may post rounds; atomic */
    uintptr_t handle;  /* the Go side's runtime/cgo handle, for recruiting */
    /* Go's hints, read before recruiting (NULL: none): the pool's idle
     * workers, its flag raised while a job waits, and a word that holds
     * recall_id once the job's helpers are recalled (a subprocess
     * worker's). */
    const int32_t *idle, *jobs;
    const uint64_t *recall;
    uint64_t recall_id;
} crunch_go_team;

/* crunch_go_team_stop: when a helper leaves, seen between two tasks and
 * while it waits for a round: once *flag is non-zero, or once *word
 * equals value (either pointer NULL: not that one). */
typedef struct crunch_go_team_stop {
    const int32_t *flag;
    const uint64_t *word;
    uint64_t value;
} crunch_go_team_stop;

/* crunch_go_team_runner is the crunch_runner_fn of a team (data). */
void crunch_go_team_runner(void *data, size_t n, crunch_task_fn task, void *arg, int threads);

/* crunch_go_team_serve is a helper's part: it runs the tasks of every
 * round posted from now on, until stop says so, the worker's job ends
 * (active 0), or no round came for spin_ns nanoseconds; then it leaves
 * the team (attached - 1). */
void crunch_go_team_serve(crunch_go_team *t, const crunch_go_team_stop *stop, int64_t spin_ns);

#endif /* CRUNCH_CGO_TEAM_H */
