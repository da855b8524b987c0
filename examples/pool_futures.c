/*
 * pool_futures: the pool and its futures.
 *
 * Creates a pool, submits a batch of inserts without waiting for any of
 * them, then waits on every future; then submits several queries at once
 * and reads their results.  Shows the pool's counters at the end.
 *
 *   pool_futures [URI]        (else $DQLC_URI)
 *
 *   e.g. pool_futures dqlite://127.0.0.1:9001,127.0.0.1:9002/examples
 *
 * Exit status 0 when every request succeeded and the counts add up.
 */
#include <stdio.h>
#include <stdlib.h>

#include <dqlite-client.h>

#define N_INSERTS 50

/* Wait for a future, report a failure, free it.  Returns the final code. */
static int finish(dqlc_future_t *f, const char *what)
{
	dqlc_error_t err;
	int rv = dqlc_future_error(f, &err); /* waits, then copies the error */
	if (rv != 0)
		fprintf(stderr, "pool_futures: %s: %s (%s)\n", what, err.message,
			dqlc_errname(rv));
	dqlc_future_free(f);
	return rv;
}

int main(int argc, char **argv)
{
	const char *uri = argc > 1 ? argv[1] : getenv("DQLC_URI");
	dqlc_future_t *inserts[N_INSERTS], *count_f, *sum_f, *names_f;
	dqlc_result_t *count = NULL, *sum = NULL, *names = NULL;
	dqlc_pool_stats_t stats;
	dqlc_pool_t *pool = NULL;
	dqlc_error_t err;
	int failures = 0, status = EXIT_FAILURE;

	if (uri == NULL || *uri == '\0') {
		fprintf(stderr, "usage: pool_futures URI (or set DQLC_URI)\n");
		return EXIT_FAILURE;
	}
	/* Creating a pool only checks the configuration: no thread and no
	 * socket exist until the first request. */
	if (dqlc_pool_create(uri, NULL, &pool, &err) != 0) {
		fprintf(stderr, "pool_futures: %s: %s (%s)\n", uri, err.message,
			dqlc_errname(err.code));
		return EXIT_FAILURE;
	}

	/* One request at a time: submit, then wait right away.  A caller that
	 * waits at once runs its request on its own thread. */
	if (finish(dqlc_pool_exec(pool, "DROP TABLE IF EXISTS pool_futures", NULL, 0), "drop") ||
	    finish(dqlc_pool_exec(pool,
				  "CREATE TABLE pool_futures (id INTEGER PRIMARY KEY, name TEXT, "
				  "score REAL)",
				  NULL, 0),
		   "create"))
		goto out;

	/* Many requests in flight: submit them all, then wait.  Parameters
	 * (and the text they point to) are copied at submit, so `name` can be
	 * reused at once. */
	for (int i = 0; i < N_INSERTS; i++) {
		char name[32];
		snprintf(name, sizeof name, "item-%02d", i);
		dqlc_value_t params[] = {DQLC_TEXT(name), DQLC_FLOAT(i * 0.5)};
		inserts[i] = dqlc_pool_exec(pool, "INSERT INTO pool_futures (name, score) VALUES (?, ?)",
					    params, 2);
		if (inserts[i] == NULL) { /* only when out of memory */
			fprintf(stderr, "pool_futures: out of memory\n");
			for (int k = 0; k < i; k++)
				dqlc_future_free(inserts[k]);
			goto out;
		}
	}
	for (int i = 0; i < N_INSERTS; i++)
		if (finish(inserts[i], "insert") != 0)
			failures++;
	printf("%d inserts submitted, %d failed\n", N_INSERTS, failures);
	if (failures)
		goto out;

	/* Three queries at once; each future hands over its result. */
	count_f = dqlc_pool_query(pool, "SELECT count(*) FROM pool_futures", NULL, 0);
	sum_f = dqlc_pool_query(pool, "SELECT sum(score) AS total FROM pool_futures", NULL, 0);
	{
		dqlc_value_t like[] = {DQLC_TEXT("item-4%")};
		names_f = dqlc_pool_query(pool,
					  "SELECT id, name FROM pool_futures WHERE name LIKE ? "
					  "ORDER BY id",
					  like, 1);
	}
	count = dqlc_future_take_result(count_f); /* waits; NULL on error */
	sum = dqlc_future_take_result(sum_f);
	names = dqlc_future_take_result(names_f);
	if (count == NULL || sum == NULL || names == NULL) {
		finish(count_f, "count");
		finish(sum_f, "sum");
		finish(names_f, "names");
		goto out;
	}
	dqlc_future_free(count_f);
	dqlc_future_free(sum_f);
	dqlc_future_free(names_f);

	printf("count = %lld\n", (long long)dqlc_result_int64(count, 0, 0));
	printf("total = %g\n", dqlc_result_double(sum, 0, 0));
	for (size_t r = 0; r < dqlc_result_row_count(names); r++)
		printf("  id %lld name %s\n", (long long)dqlc_result_int64(names, r, 0),
		       dqlc_result_text(names, r, (size_t)dqlc_result_column_index(names, "name"),
					NULL));
	if (dqlc_result_int64(count, 0, 0) != N_INSERTS ||
	    dqlc_result_row_count(names) != 10) {
		fprintf(stderr, "pool_futures: unexpected counts\n");
		goto out;
	}

	/* The pool's counters: set struct_size first. */
	stats.struct_size = sizeof stats;
	if (dqlc_pool_stats(pool, &stats, &err) == 0)
		printf("stats: %llu submitted, %llu completed, %llu failed, %llu retries, "
		       "%u connections open, p50 %.0f us\n",
		       (unsigned long long)stats.submitted, (unsigned long long)stats.completed,
		       (unsigned long long)stats.failed, (unsigned long long)stats.retries,
		       stats.conns_open, stats.latency_p50_us);
	printf("pool_futures: ok\n");
	status = EXIT_SUCCESS;
out:
	dqlc_result_free(count);
	dqlc_result_free(sum);
	dqlc_result_free(names);
	/* Finishes queued work (close=drain), joins every thread, closes
	 * every connection. */
	dqlc_pool_close(pool);
	return status;
}
