/* xorshift64* per thread; quality is irrelevant, independence is not. */
#include <pthread.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "rand.h"

static _Thread_local uint64_t state;
static _Thread_local pid_t state_pid;

uint64_t dqlc__rand(void)
{
	pid_t pid = getpid();
	if (state == 0 || state_pid != pid) {
		uint64_t local = (uint64_t)(uintptr_t)&local;
		state = (uint64_t)dqlc__now_ns() ^ ((uint64_t)pid << 32) ^ local ^
			(uint64_t)time(NULL) ^ 0x9e3779b97f4a7c15ull;
		if (state == 0)
			state = 1;
		state_pid = pid;
	}
	state ^= state >> 12;
	state ^= state << 25;
	state ^= state >> 27;
	return state * 0x2545f4914f6cdd1dull;
}

int64_t dqlc__rand_range(int64_t lo, int64_t hi)
{
	uint64_t span;
	if (hi <= lo)
		return lo;
	/* In unsigned arithmetic: hi - lo + 1 overflows int64_t for wide
	 * ranges (and is 0 for the full one). */
	span = (uint64_t)hi - (uint64_t)lo + 1;
	return (int64_t)((uint64_t)lo + (span == 0 ? dqlc__rand() : dqlc__rand() % span));
}

int64_t dqlc__backoff_ms(int attempt, int64_t base_ms, int64_t cap_ms)
{
	int64_t d = base_ms;
	while (attempt-- > 0 && d < cap_ms)
		d *= 2;
	if (d > cap_ms)
		d = cap_ms;
	return dqlc__rand_range(d / 2, d);
}
