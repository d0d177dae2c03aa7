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

#include "shadow.h"

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
    /* What Go tells the team through C memory (NULL: nothing):
     *   idle: the pool's idle workers; helpers are asked for only while
     *         it is above 0;
     *   leave: helpers leave between two tasks, and none is asked for,
     *         once *leave_flag is non-zero or *leave_word holds
     *         leave_value (atomic: set between jobs). */
    const int32_t *idle;
    const int32_t *leave_flag;
    const uint64_t *leave_word;
    uint64_t leave_value;
    /* How the team asks for helpers: by calling into Go (crunchGoRecruit),
     * or, once notify is set (calls that may run on a thread Go does not
     * know, a shadow), by storing the helpers a round wants in
     * recruit_want and writing 1 to the eventfd notify_fd when it was 0;
     * Go takes the want back to 0 as it answers. */
    int notify;
    int notify_fd;
    int32_t recruit_want; /* atomic */
} crunch_go_team;

/* crunch_go_team_runner is the crunch_runner_fn of a team (data). */
void crunch_go_team_runner(void *data, size_t n, crunch_task_fn task, void *arg, int threads);

/* crunch_go_team_serve is a helper's part: it runs the tasks of every
 * round posted from now on, until the team says leave, the worker's job
 * ends (active 0), or no round came for spin_ns nanoseconds; then it
 * leaves the team (attached - 1). */
void crunch_go_team_serve(crunch_go_team *t, int64_t spin_ns);

/* crunch_go_team_serve_on is crunch_go_team_serve on shadow's thread, or on
 * the calling one when shadow is NULL. */
void crunch_go_team_serve_on(crunch_go_shadow *shadow, crunch_go_team *t, int64_t spin_ns);

#endif /* CRUNCH_CGO_TEAM_H */
