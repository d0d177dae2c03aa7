/*
 * check.h - the C tests' tiny harness: CHECK records a failure with its
 * place and goes on, so one run reports every broken case; each test
 * program's main returns check_exit().
 */
#ifndef CRUNCH_CHECK_H
#define CRUNCH_CHECK_H

#include <stdio.h>

static int check_failures;
static int check_count;

#define CHECK(cond, ...)                                                    \
    do {                                                                    \
        check_count++;                                                      \
        if (!(cond)) {                                                      \
            check_failures++;                                               \
            fprintf(stderr, "%s:%d: CHECK(%s) failed: ", __FILE__, __LINE__, \
                    #cond);                                                 \
            fprintf(stderr, __VA_ARGS__);                                   \
            fputc('\n', stderr);                                            \
        }                                                                   \
    } while (0)

/* check_exit prints the closing line and gives main's exit status. */
static inline int check_exit(const char *name)
{
    printf("%s: %d checks, %d failed\n", name, check_count, check_failures);
    return check_failures == 0 ? 0 : 1;
}

#endif /* CRUNCH_CHECK_H */
