/* Per-thread pseudo-random numbers for jitter and ids.  Reseeded when the
 * pid changes, so forked children do not repeat their parent's sequence. */
#ifndef DQLC_RAND_H
#define DQLC_RAND_H

#include <stdint.h>

uint64_t dqlc__rand(void);
/* Uniform in [lo, hi]. */
int64_t dqlc__rand_range(int64_t lo, int64_t hi);
/* Jittered exponential backoff for attempt n (0-based): a random value in
 * [d/2, d] where d = min(cap, base * 2^n). */
int64_t dqlc__backoff_ms(int attempt, int64_t base_ms, int64_t cap_ms);

#endif
