/* Monotonic deadlines.  A deadline is an absolute CLOCK_MONOTONIC time in
 * nanoseconds; DQLC__NO_DEADLINE means "none". */
#ifndef DQLC_CLOCK_H
#define DQLC_CLOCK_H

#include <stdint.h>
#include <time.h>

#define DQLC__NO_DEADLINE INT64_MAX

static inline int64_t dqlc__now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Deadline `ms` milliseconds after `now_ns`; ms <= 0 means no deadline, and
 * so does a time too far ahead to count in nanoseconds (no overflow). */
static inline int64_t dqlc__deadline_after(int64_t now_ns, int64_t ms)
{
	if (ms <= 0 || ms >= (DQLC__NO_DEADLINE - now_ns) / 1000000)
		return DQLC__NO_DEADLINE;
	return now_ns + ms * 1000000;
}

/* Deadline `ms` milliseconds from now (as above). */
static inline int64_t dqlc__deadline_in(int64_t ms)
{
	return dqlc__deadline_after(dqlc__now_ns(), ms);
}

/* The earlier of two deadlines. */
static inline int64_t dqlc__deadline_min(int64_t a, int64_t b)
{
	return a < b ? a : b;
}

/* Milliseconds left for poll(): -1 for no deadline, 0 when passed, rounded
 * up so that poll never returns just before the deadline. */
static inline int dqlc__ms_left(int64_t deadline)
{
	int64_t left;
	if (deadline == DQLC__NO_DEADLINE)
		return -1;
	left = deadline - dqlc__now_ns();
	if (left <= 0)
		return 0;
	left = (left + 999999) / 1000000;
	return left > INT32_MAX ? INT32_MAX : (int)left;
}

static inline int dqlc__deadline_passed(int64_t deadline)
{
	return deadline != DQLC__NO_DEADLINE && dqlc__now_ns() >= deadline;
}

#endif
