#include <time.h>

#include "clock.h"
#include "sync.h"

void dqlc__cond_init(pthread_cond_t *cv)
{
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(cv, &ca);
	pthread_condattr_destroy(&ca);
}

void dqlc__cond_wait_until(pthread_cond_t *cv, pthread_mutex_t *mu, int64_t deadline)
{
	struct timespec ts;
	if (deadline == DQLC__NO_DEADLINE) {
		pthread_cond_wait(cv, mu);
		return;
	}
	ts.tv_sec = (time_t)(deadline / 1000000000);
	ts.tv_nsec = (long)(deadline % 1000000000);
	pthread_cond_timedwait(cv, mu, &ts);
}

void dqlc__pause_ms(int64_t ms, int64_t deadline)
{
	int64_t left = dqlc__deadline_min(dqlc__deadline_in(ms), deadline) - dqlc__now_ns();
	struct timespec ts;
	if (left <= 0)
		return;
	ts.tv_sec = (time_t)(left / 1000000000);
	ts.tv_nsec = (long)(left % 1000000000);
	nanosleep(&ts, NULL);
}
