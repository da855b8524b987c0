/* Condition variables on CLOCK_MONOTONIC and deadline-bounded waits. */
#ifndef DQLC_SYNC_H
#define DQLC_SYNC_H

#include <pthread.h>
#include <stdint.h>

/* Initialise (or, in a forked child, re-initialise over the old memory) a
 * condition variable whose timed waits use CLOCK_MONOTONIC. */
void dqlc__cond_init(pthread_cond_t *cv);
/* Wait until signalled or the deadline (DQLC__NO_DEADLINE: no limit). */
void dqlc__cond_wait_until(pthread_cond_t *cv, pthread_mutex_t *mu, int64_t deadline);
/* Sleep ms milliseconds, never past the deadline. */
void dqlc__pause_ms(int64_t ms, int64_t deadline);

#endif
