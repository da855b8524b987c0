/*
 * transaction: dqlc_pool_transaction with a function that moves money
 * between two accounts.
 *
 * The pool runs the function between BEGIN and COMMIT on one leased
 * connection.  Returning 0 commits; any other value rolls back and is
 * returned.  When the failure proves nothing was committed (SQLITE_BUSY, a
 * leader change before COMMIT, ...) the pool runs the whole function again,
 * so it must do nothing but SQL on the connection it is given.
 *
 *   transaction [URI]        (else $DQLC_URI)
 *
 * Runs a few transfers from several threads, one of which overdraws and is
 * rolled back, then checks that no money was created or lost.
 * Exit status 0 when the balances add up.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include <dqlite-client.h>

/* Our own "rolled back on purpose" code: any non-zero value works. */
#define INSUFFICIENT_FUNDS 1000

#define N_THREADS 4
#define TRANSFERS_PER_THREAD 10

struct transfer {
	int64_t from, to, amount;
};

/* The transaction body.  Uses only `conn`; no side effects outside it,
 * because it may run more than once. */
static int do_transfer(dqlc_conn_t *conn, void *arg)
{
	const struct transfer *t = arg;
	dqlc_value_t from[] = {DQLC_INT(t->from)};
	dqlc_value_t debit[] = {DQLC_INT(t->amount), DQLC_INT(t->from)};
	dqlc_value_t credit[] = {DQLC_INT(t->amount), DQLC_INT(t->to)};
	dqlc_value_t balance;
	dqlc_error_t err;
	int rv;

	rv = dqlc_conn_fetchval(conn, "SELECT balance FROM accounts WHERE id = ?", from, 1,
				&balance, &err);
	if (rv != 0)
		return rv; /* a DQLC_E* code: the pool decides whether to rerun */
	if (balance.type != DQLC_TYPE_INTEGER || balance.v.i < t->amount) {
		dqlc_value_clear(&balance);
		return INSUFFICIENT_FUNDS;
	}
	dqlc_value_clear(&balance);
	rv = dqlc_conn_exec(conn, "UPDATE accounts SET balance = balance - ? WHERE id = ?", debit,
			    2, NULL, &err);
	if (rv == 0)
		rv = dqlc_conn_exec(conn, "UPDATE accounts SET balance = balance + ? WHERE id = ?",
				    credit, 2, NULL, &err);
	return rv;
}

struct worker {
	dqlc_pool_t *pool;
	int index;
	int failed;
};

/* Each thread moves 1 back and forth between accounts 1 and 2. */
static void *run_transfers(void *arg)
{
	struct worker *w = arg;
	for (int i = 0; i < TRANSFERS_PER_THREAD; i++) {
		struct transfer t = {(i + w->index) % 2 ? 1 : 2, (i + w->index) % 2 ? 2 : 1, 1};
		dqlc_error_t err;
		if (dqlc_pool_transaction(w->pool, do_transfer, &t, &err) != 0) {
			fprintf(stderr, "transaction: transfer failed: %s\n", err.message);
			w->failed++;
		}
	}
	return NULL;
}

static int64_t total(dqlc_pool_t *pool)
{
	dqlc_future_t *f = dqlc_pool_query(pool, "SELECT sum(balance) FROM accounts", NULL, 0);
	dqlc_result_t *r = dqlc_future_take_result(f);
	int64_t sum = r ? dqlc_result_int64(r, 0, 0) : -1;
	dqlc_result_free(r);
	dqlc_future_free(f);
	return sum;
}

/* Run one statement through the pool and wait for it. */
static int run(dqlc_pool_t *pool, const char *sql)
{
	dqlc_future_t *f = dqlc_pool_exec(pool, sql, NULL, 0);
	dqlc_error_t err;
	int rv = dqlc_future_error(f, &err);
	if (rv != 0)
		fprintf(stderr, "transaction: %s: %s\n", sql, err.message);
	dqlc_future_free(f);
	return rv;
}

int main(int argc, char **argv)
{
	const char *uri = argc > 1 ? argv[1] : getenv("DQLC_URI");
	struct worker workers[N_THREADS];
	pthread_t threads[N_THREADS];
	struct transfer overdraw = {1, 2, 1000000};
	dqlc_pool_stats_t stats = {.struct_size = sizeof stats};
	dqlc_pool_t *pool = NULL;
	dqlc_error_t err;
	int rv, failed = 0, status = EXIT_FAILURE;
	int64_t before, after;

	if (uri == NULL || *uri == '\0') {
		fprintf(stderr, "usage: transaction URI (or set DQLC_URI)\n");
		return EXIT_FAILURE;
	}
	if (dqlc_pool_create(uri, NULL, &pool, &err) != 0) {
		fprintf(stderr, "transaction: %s: %s (%s)\n", uri, err.message,
			dqlc_errname(err.code));
		return EXIT_FAILURE;
	}
	if (run(pool, "DROP TABLE IF EXISTS accounts") ||
	    run(pool, "CREATE TABLE accounts (id INTEGER PRIMARY KEY, balance INTEGER NOT NULL)") ||
	    run(pool, "INSERT INTO accounts (id, balance) VALUES (1, 100), (2, 50)"))
		goto out;
	before = total(pool);
	printf("total before: %lld\n", (long long)before);

	/* Several threads share the pool; the pool's write lane keeps their
	 * transactions from colliding (no SQLITE_BUSY between them). */
	for (int i = 0; i < N_THREADS; i++) {
		workers[i] = (struct worker){pool, i, 0};
		if (pthread_create(&threads[i], NULL, run_transfers, &workers[i]) != 0) {
			fprintf(stderr, "transaction: cannot start a thread\n");
			exit(EXIT_FAILURE);
		}
	}
	for (int i = 0; i < N_THREADS; i++) {
		pthread_join(threads[i], NULL);
		failed += workers[i].failed;
	}
	printf("%d transfers, %d failed\n", N_THREADS * TRANSFERS_PER_THREAD, failed);

	/* The function refuses: rolled back, and its own code comes back. */
	rv = dqlc_pool_transaction(pool, do_transfer, &overdraw, &err);
	if (rv != INSUFFICIENT_FUNDS) {
		fprintf(stderr, "transaction: overdraft returned %d (%s), expected %d\n", rv,
			rv ? err.message : "committed", INSUFFICIENT_FUNDS);
		goto out;
	}
	printf("overdraft rolled back (code %d)\n", rv);

	after = total(pool);
	printf("total after: %lld\n", (long long)after);
	if (dqlc_pool_stats(pool, &stats, NULL) == 0)
		printf("pool retries: %llu\n", (unsigned long long)stats.retries);
	if (failed == 0 && before == 150 && after == before) {
		printf("transaction: ok, total balance unchanged\n");
		status = EXIT_SUCCESS;
	}
out:
	dqlc_pool_close(pool);
	return status;
}
