/*
 * callbacks: futures with completion callbacks.
 *
 * Submits a batch of queries, gives each future a callback, and waits until
 * every callback has run, counting completions under a mutex and waking the
 * main thread with a condition variable.  Nobody calls dqlc_future_wait.
 *
 *   callbacks [URI]        (else $DQLC_URI)
 *
 * Callbacks run on one of the pool's worker threads with no library lock
 * held (or at once, on the calling thread, if the future is already done).
 * They must be quick, and they must not wait on another future of the same
 * pool (that returns DQLC_EDEADLK).
 *
 * Exit status 0 when every callback ran once and saw the expected value.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include <dqlite-client.h>

#define N_REQUESTS 32

struct tally {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int done;   /* callbacks that ran */
	int failed; /* requests that failed */
	int wrong;  /* results that were not what we asked for */
};

/* One request's context: stays valid until its callback has run. */
struct job {
	struct tally *tally;
	int64_t expect;
};

static void on_done(dqlc_future_t *f, void *arg)
{
	struct job *job = arg;
	struct tally *t = job->tally;
	dqlc_error_t err;
	dqlc_result_t *r;
	bool ok = false, wrong = false;

	/* The future is complete here: these do not block. */
	if (dqlc_future_error(f, &err) != 0) {
		fprintf(stderr, "callbacks: request failed: %s\n", err.message);
	} else {
		r = dqlc_future_take_result(f);
		ok = true;
		wrong = dqlc_result_int64(r, 0, 0) != job->expect;
		dqlc_result_free(r);
	}

	pthread_mutex_lock(&t->mu);
	t->done++;
	if (!ok)
		t->failed++;
	if (wrong)
		t->wrong++;
	pthread_cond_signal(&t->cv);
	pthread_mutex_unlock(&t->mu);
}

int main(int argc, char **argv)
{
	const char *uri = argc > 1 ? argv[1] : getenv("DQLC_URI");
	struct tally tally = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0, 0};
	struct job jobs[N_REQUESTS];
	dqlc_future_t *futures[N_REQUESTS];
	dqlc_pool_t *pool = NULL;
	dqlc_error_t err;
	int submitted = 0, status = EXIT_FAILURE;

	if (uri == NULL || *uri == '\0') {
		fprintf(stderr, "usage: callbacks URI (or set DQLC_URI)\n");
		return EXIT_FAILURE;
	}
	if (dqlc_pool_create(uri, NULL, &pool, &err) != 0) {
		fprintf(stderr, "callbacks: %s: %s (%s)\n", uri, err.message,
			dqlc_errname(err.code));
		return EXIT_FAILURE;
	}

	for (int i = 0; i < N_REQUESTS; i++) {
		dqlc_value_t params[] = {DQLC_INT(i)};
		jobs[i].tally = &tally;
		jobs[i].expect = (int64_t)i * i;
		futures[i] = dqlc_pool_query(pool, "SELECT ? * ?1", params, 1);
		if (futures[i] == NULL) {
			fprintf(stderr, "callbacks: out of memory\n");
			break;
		}
		/* Once per future.  If the request already finished, the
		 * callback runs right here, before this call returns. */
		if (dqlc_future_set_callback(futures[i], on_done, &jobs[i]) != 0) {
			fprintf(stderr, "callbacks: dqlc_future_set_callback failed\n");
			dqlc_future_free(futures[i]);
			break;
		}
		submitted++;
	}

	/* Wait for the callbacks, not for the futures. */
	pthread_mutex_lock(&tally.mu);
	while (tally.done < submitted)
		pthread_cond_wait(&tally.cv, &tally.mu);
	pthread_mutex_unlock(&tally.mu);

	/* Every callback has run: the futures can go. */
	for (int i = 0; i < submitted; i++)
		dqlc_future_free(futures[i]);

	printf("%d callbacks ran, %d failed, %d wrong\n", tally.done, tally.failed, tally.wrong);
	if (submitted == N_REQUESTS && tally.failed == 0 && tally.wrong == 0) {
		printf("callbacks: ok\n");
		status = EXIT_SUCCESS;
	}
	dqlc_pool_close(pool);
	return status;
}
