/*
 * prefork_server: the skeleton of a pre-forking server (gunicorn, Apache
 * prefork, a Celery-like worker pool) that uses one dqlite-client pool.
 *
 *   prefork_server [URI [WORKERS [REQUESTS]]]      (URI else $DQLC_URI)
 *
 *   e.g. prefork_server dqlite://127.0.0.1:9001,127.0.0.1:9002/examples 4 25
 *
 * The master:
 *   1. prepares the schema with a short-lived pool, closed before any fork
 *      (closing joins its threads: the master is single-threaded again);
 *   2. creates the long-lived pool and does NOT use it -- a pool that was
 *      never used has no thread and no socket, so the master stays
 *      single-threaded and forking it is as safe as forking any program;
 *   3. forks WORKERS workers, which inherit the pool;
 *   4. waits for them (bounded: a worker that hangs is killed), then counts
 *      their rows with the same pool, used by the master for the first
 *      time now that the workers are gone.
 *
 * Each worker serves REQUESTS "requests" (an insert and a read, several at
 * once through futures) on the inherited pool: its first call rebuilds the
 * pool for the worker's own process -- new threads, new connections --
 * while the master's (unused) pool is untouched.  Nothing needs to be called
 * after fork() in the default fork=auto mode; doc/forking.md shows the
 * fork=explicit variant (dqlc_pool_after_fork in the worker's init).
 *
 * Exit status 0 when every worker succeeded and the row count adds up.
 * It terminates by itself: requests have deadlines and the master kills a
 * worker that is not done after WAIT_SECONDS.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <dqlite-client.h>

#define DEFAULT_WORKERS 4
#define DEFAULT_REQUESTS 25
#define MAX_WORKERS 64
#define BATCH 5           /* requests a worker has in flight at once */
#define WAIT_SECONDS 120  /* the master's patience with its workers */

/* Pool settings for a forking server: a few threads per worker process.
 * Each pool serializes only its own writes, so the workers' inserts meet
 * each other on the leader as SQLITE_BUSY, which the pool retries with
 * backoff: give those retries room (retry_max) within the deadline. */
#define POOL_KEYS "workers=2&pool_max=2&request_timeout_ms=20000&retry_max=200"

static int fail(const char *what, const dqlc_error_t *err)
{
	fprintf(stderr, "prefork_server[%ld]: %s: %s (%s)\n", (long)getpid(), what, err->message,
		dqlc_errname(err->code));
	return -1;
}

/* Wait for a future, report a failure, free it; the code. */
static int finish(dqlc_future_t *f, const char *what)
{
	dqlc_error_t err;
	int rv;
	if (f == NULL) {
		fprintf(stderr, "prefork_server[%ld]: %s: out of memory\n", (long)getpid(), what);
		return DQLC_ENOMEM;
	}
	rv = dqlc_future_error(f, &err);
	if (rv != 0)
		fail(what, &err);
	dqlc_future_free(f);
	return rv;
}

/* Build "URI?keys" or "URI&keys". */
static char *with_keys(const char *uri, const char *keys)
{
	size_t n = strlen(uri) + strlen(keys) + 2;
	char *s = malloc(n);
	if (s != NULL)
		snprintf(s, n, "%s%c%s", uri, strchr(uri, '?') ? '&' : '?', keys);
	return s;
}

/* Step 1: the schema, with a pool that is closed before forking. */
static int prepare_schema(const char *uri)
{
	dqlc_pool_t *setup = NULL;
	dqlc_error_t err;
	int rv;
	if (dqlc_pool_create(uri, NULL, &setup, &err) != 0)
		return fail("setup pool", &err);
	rv = finish(dqlc_pool_exec(setup,
				   "CREATE TABLE IF NOT EXISTS prefork_hits "
				   "(master INTEGER, worker INTEGER, n INTEGER)",
				   NULL, 0),
		    "create table");
	dqlc_pool_close(setup); /* joins its threads, closes its sockets */
	return rv == 0 ? 0 : -1;
}

/* A worker: serve `requests` requests on the inherited pool, BATCH at a
 * time, then exit.  Returns the process exit status. */
static int worker_main(dqlc_pool_t *pool, int worker, int requests, pid_t master)
{
	dqlc_future_t *writes[BATCH], *reads[BATCH];
	int served = 0, failures = 0;

	/* Nothing to do after fork in fork=auto mode: the first call below
	 * rebuilds the pool for this process.  (With fork=explicit, call
	 * dqlc_pool_after_fork(pool, &err) here, like gunicorn's post_fork.) */
	while (served < requests) {
		int n = requests - served < BATCH ? requests - served : BATCH, i;
		for (i = 0; i < n; i++) {
			dqlc_value_t row[3] = {dqlc_value_int(master), dqlc_value_int(worker),
					       dqlc_value_int(served + i)};
			dqlc_value_t key[2] = {dqlc_value_int(master), dqlc_value_int(worker)};
			writes[i] = dqlc_pool_exec(pool,
						   "INSERT INTO prefork_hits (master, worker, n) "
						   "VALUES (?, ?, ?)",
						   row, 3);
			reads[i] = dqlc_pool_query(pool,
						   "SELECT count(*) FROM prefork_hits "
						   "WHERE master = ? AND worker = ?",
						   key, 2);
		}
		for (i = 0; i < n; i++) {
			failures += finish(writes[i], "insert") != 0;
			failures += finish(reads[i], "read") != 0;
		}
		served += n;
	}
	/* Optional: a worker that exits may simply _exit(); closing the pool
	 * first joins its threads and closes its connections cleanly (only
	 * this worker's -- the master's inherited sockets were never
	 * touched). */
	dqlc_pool_close(pool);
	printf("prefork_server: worker %d (pid %ld) served %d requests, %d failed\n", worker,
	       (long)getpid(), served, failures);
	return failures == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

/* Reap every worker; kill those still running after WAIT_SECONDS.  The
 * number of workers that failed. */
static int wait_workers(const pid_t *pids, int n)
{
	time_t end = time(NULL) + WAIT_SECONDS;
	int left = n, failed = 0, i;
	pid_t done[MAX_WORKERS] = {0};
	while (left > 0) {
		int status;
		pid_t pid = waitpid(-1, &status, WNOHANG);
		if (pid > 0) {
			for (i = 0; i < n; i++)
				if (pids[i] == pid && done[i] == 0) {
					done[i] = pid;
					left--;
					if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
						failed++;
				}
			continue;
		}
		if (pid < 0 && errno != EINTR)
			break; /* no child left */
		if (time(NULL) >= end) {
			for (i = 0; i < n; i++)
				if (done[i] == 0) {
					fprintf(stderr, "prefork_server: worker pid %ld hung: killed\n",
						(long)pids[i]);
					kill(pids[i], SIGKILL);
					waitpid(pids[i], NULL, 0);
					failed++;
				}
			break;
		}
		{
			struct timespec ts = {0, 20 * 1000000}; /* poll the children */
			nanosleep(&ts, NULL);
		}
	}
	return failed;
}

int main(int argc, char **argv)
{
	const char *uri = argc > 1 ? argv[1] : getenv("DQLC_URI");
	int workers = argc > 2 ? atoi(argv[2]) : DEFAULT_WORKERS;
	int requests = argc > 3 ? atoi(argv[3]) : DEFAULT_REQUESTS;
	pid_t pids[MAX_WORKERS], master = getpid();
	dqlc_pool_t *pool = NULL;
	dqlc_result_t *rows;
	dqlc_future_t *f;
	dqlc_value_t key;
	dqlc_error_t err;
	char *pool_uri;
	int i, failed, started = 0;
	int64_t counted;

	if (uri == NULL || *uri == '\0') {
		fprintf(stderr, "usage: prefork_server URI [WORKERS [REQUESTS]] (or set DQLC_URI)\n");
		return EXIT_FAILURE;
	}
	if (workers < 1 || workers > MAX_WORKERS || requests < 1) {
		fprintf(stderr, "prefork_server: 1..%d workers and at least 1 request\n",
			MAX_WORKERS);
		return EXIT_FAILURE;
	}
	if (prepare_schema(uri) != 0)
		return EXIT_FAILURE;

	/* Step 2: the long-lived pool.  Created, not used: no thread yet. */
	pool_uri = with_keys(uri, POOL_KEYS);
	if (pool_uri == NULL) {
		fprintf(stderr, "prefork_server: out of memory\n");
		return EXIT_FAILURE;
	}
	if (dqlc_pool_create(pool_uri, NULL, &pool, &err) != 0) {
		free(pool_uri);
		fail("pool", &err);
		return EXIT_FAILURE;
	}
	free(pool_uri);

	/* Step 3: fork the workers.  Flush stdio first, or a buffered line
	 * would be printed again by every worker. */
	for (i = 0; i < workers; i++) {
		fflush(NULL);
		pids[i] = fork();
		if (pids[i] == 0)
			_exit(worker_main(pool, i, requests, master));
		if (pids[i] < 0) {
			fprintf(stderr, "prefork_server: fork: %s\n", strerror(errno));
			break;
		}
		started++;
	}

	/* Step 4: wait, then check the work with the master's own pool (its
	 * first use: threads and connections start now, in the master). */
	failed = wait_workers(pids, started) + (workers - started);
	key = dqlc_value_int(master);
	f = dqlc_pool_query(pool, "SELECT count(*) FROM prefork_hits WHERE master = ?", &key, 1);
	rows = dqlc_future_take_result(f);
	if (rows == NULL)
		finish(f, "count");
	else
		dqlc_future_free(f);
	counted = rows != NULL ? dqlc_result_int64(rows, 0, 0) : -1;
	dqlc_result_free(rows);
	dqlc_pool_close(pool);

	printf("prefork_server: %d workers served %lld requests (%d expected), %d workers failed\n",
	       workers, (long long)counted, workers * requests, failed);
	return failed == 0 && counted == (int64_t)workers * requests ? EXIT_SUCCESS : EXIT_FAILURE;
}
