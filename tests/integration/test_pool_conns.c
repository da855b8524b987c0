/*
 * Pooled connections against a real 3-node cluster: leases (exhaustion,
 * rollback on return), dqlc_pool_transaction (commit, rollback, rerun on
 * SQLITE_BUSY), SQLITE_BUSY on autocommit writes, and the write lane under
 * 8 concurrent writers.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_pool_util.h"

static int64_t count_rows(dqlc_pool_t *p, const char *where)
{
	char sql[256];
	snprintf(sql, sizeof sql, "SELECT count(*) FROM t WHERE %s", where);
	return tp_query_int(p, sql, NULL, 0);
}

static int conn_exec(dqlc_conn_t *c, const char *sql, int64_t id, dqlc_error_t *e)
{
	dqlc_value_t par[] = {DQLC_INT(id)};
	return dqlc_conn_exec(c, sql, par, strchr(sql, '?') ? 1 : 0, NULL, e);
}

/* ---- leases ------------------------------------------------------------------ */

struct acquirer {
	dqlc_pool_t *pool;
	int rc;
	dqlc_conn_t *conn;
	tp_event_t started;
};

static void *acquirer_main(void *arg)
{
	struct acquirer *a = arg;
	tp_event_signal(&a->started);
	a->rc = dqlc_pool_acquire(a->pool, 30000, &a->conn, NULL);
	return NULL;
}

START_TEST(test_acquire_exhaustion)
{
	dqlc_pool_t *p = tp_pool("lease", "pool_max=1&workers=1");
	dqlc_conn_t *a = NULL, *b = NULL;
	dqlc_error_t e = {0};
	ck_assert_int_eq(dqlc_pool_acquire(p, -1, &a, &e), 0);
	ck_assert_ptr_nonnull(a);
	ck_assert_int_eq(dqlc_conn_exec(a, "CREATE TABLE t (id INTEGER PRIMARY KEY)", NULL, 0, NULL,
					&e),
			 0);
	dqlc_pool_stats_t s = tp_stats(p);
	ck_assert_uint_eq(s.conns_leased, 1);
	ck_assert_uint_eq(s.conns_open, 1);

	/* The only connection is out: a second acquire gives up at its
	 * timeout, not before and not much after. */
	double t0 = tp_now_ms();
	int rc = dqlc_pool_acquire(p, 300, &b, &e);
	double took = tp_now_ms() - t0;
	ck_assert_int_eq(rc, DQLC_EPOOL);
	ck_assert_int_eq(e.code, DQLC_EPOOL);
	ck_assert_ptr_null(b);
	ck_assert_msg(took >= 295 && took <= 300 + 3000, "EPOOL after %.0f ms (timeout 300)", took);
	t0 = tp_now_ms();
	ck_assert_int_eq(dqlc_pool_acquire(p, 0, &b, &e), DQLC_EPOOL); /* try once */
	ck_assert_msg(tp_now_ms() - t0 <= 3000, "timeout 0 waited");

	/* A waiting acquirer gets the connection as soon as it is returned. */
	static struct acquirer w;
	memset(&w, 0, sizeof w);
	w.pool = p;
	w.rc = -1;
	tp_event_init(&w.started);
	pthread_t th;
	ck_assert_int_eq(pthread_create(&th, NULL, acquirer_main, &w), 0);
	ck_assert_int_eq(tp_event_wait(&w.started, 1, 10000), 1);
	ck_assert_int_eq(conn_exec(a, "INSERT INTO t (id) VALUES (?)", 1, &e), 0);
	dqlc_conn_close(a);
	pthread_join(th, NULL);
	ck_assert_int_eq(w.rc, 0);
	ck_assert_ptr_nonnull(w.conn);
	dqlc_value_t got;
	ck_assert_int_eq(dqlc_conn_fetchval(w.conn, "SELECT count(*) FROM t", NULL, 0, &got, &e), 0);
	ck_assert_int_eq(got.v.i, 1);
	dqlc_conn_close(w.conn);

	/* After release, acquire works at once, on the same connection. */
	ck_assert_int_eq(dqlc_pool_acquire(p, 1000, &b, &e), 0);
	ck_assert_int_eq(conn_exec(b, "INSERT INTO t (id) VALUES (?)", 2, &e), 0);
	dqlc_conn_close(b);
	/* And pool requests use it too. */
	ck_assert_int_eq(count_rows(p, "1"), 2);
	s = tp_stats(p);
	ck_assert_uint_eq(s.connects, 1);
	ck_assert_uint_eq(s.conns_leased, 0);
	ck_assert_uint_eq(s.conns_open, 1);
	dqlc_pool_close(p);
	tp_event_destroy(&w.started);
}
END_TEST

START_TEST(test_lease_closed_in_transaction_rolls_back)
{
	dqlc_pool_t *p = tp_pool("leasetx", "pool_max=1&workers=1");
	dqlc_pool_t *other = tp_pool("leasetx", "");
	dqlc_error_t e = {0};
	tp_exec_ok(p, "CREATE TABLE t (id INTEGER PRIMARY KEY)", NULL, 0);
	dqlc_conn_t *c = NULL;
	ck_assert_int_eq(dqlc_pool_acquire(p, -1, &c, &e), 0);
	ck_assert(!dqlc_conn_in_transaction(c));
	ck_assert_int_eq(dqlc_conn_begin(c, &e), 0);
	for (int i = 1; i <= 3; i++)
		ck_assert_msg(conn_exec(c, "INSERT INTO t (id) VALUES (?)", i, &e) == 0, "%s",
			      e.message);
	ck_assert(dqlc_conn_in_transaction(c));
	/* Not visible outside the transaction. */
	ck_assert_int_eq(count_rows(other, "1"), 0);
	dqlc_conn_close(c); /* back to the pool, inside the transaction */

	ck_assert_int_eq(count_rows(p, "1"), 0);
	ck_assert_int_eq(count_rows(other, "1"), 0);
	/* The write lock went with the rollback: another connection writes. */
	dqlc_value_t par[] = {DQLC_INT(10)};
	tp_exec_ok(other, "INSERT INTO t (id) VALUES (?)", par, 1);
	/* The same connection comes back clean and works. */
	ck_assert_int_eq(dqlc_pool_acquire(p, -1, &c, &e), 0);
	ck_assert(!dqlc_conn_in_transaction(c));
	ck_assert_int_eq(dqlc_conn_begin(c, &e), 0);
	ck_assert_int_eq(conn_exec(c, "INSERT INTO t (id) VALUES (?)", 4, &e), 0);
	ck_assert_int_eq(dqlc_conn_commit(c, &e), 0);
	ck_assert(!dqlc_conn_in_transaction(c));
	dqlc_conn_close(c);
	ck_assert_int_eq(count_rows(other, "id = 4"), 1);
	ck_assert_int_eq(count_rows(p, "1"), 2);
	dqlc_pool_stats_t s = tp_stats(p);
	ck_assert_uint_eq(s.connects, 1);
	ck_assert_uint_eq(s.conns_open, 1);
	ck_assert_uint_eq(s.failed, 0);
	dqlc_pool_close(other);
	dqlc_pool_close(p);
}
END_TEST

/* A request's deadline covers waiting for a worker and for a connection:
 * past it the request fails with DQLC_ETIMEDOUT and never runs. */
START_TEST(test_deadline_covers_queue_and_lease)
{
	dqlc_pool_t *p = tp_pool("dlqueue", "workers=1&pool_max=1");
	tp_exec_ok(p, "CREATE TABLE t (id INTEGER PRIMARY KEY)", NULL, 0);
	dqlc_conn_t *lease = NULL;
	ck_assert_int_eq(dqlc_pool_acquire(p, 5000, &lease, NULL), 0);
	dqlc_req_opts_t o = {sizeof o, 250, 0};
	dqlc_future_t *f[3];
	double t0 = tp_now_ms();
	for (int i = 0; i < 3; i++) {
		dqlc_value_t par[] = {DQLC_INT(i + 1)};
		f[i] = dqlc_pool_exec_opts(p, "INSERT INTO t (id) VALUES (?)", par, 1, &o);
		ck_assert_ptr_nonnull(f[i]);
	}
	/* the first waits for the connection, the others for the worker */
	for (int i = 0; i < 3; i++) {
		dqlc_error_t e = {0};
		int rc = dqlc_future_wait_for(f[i], 30000);
		double took = tp_now_ms() - t0;
		ck_assert_int_eq(dqlc_future_error(f[i], &e), rc);
		ck_assert_msg(rc == DQLC_ETIMEDOUT, "request %d: %s (%s)", i, dqlc_errname(rc),
			      e.message);
		ck_assert(!(e.flags & DQLC_ERRF_MAYBE_EXECUTED));
		ck_assert_msg(took >= 245 && took <= 250 + 3000, "request %d timed out after %.0f ms",
			      i, took);
		dqlc_future_free(f[i]);
	}
	dqlc_conn_close(lease);
	ck_assert_int_eq(count_rows(p, "1"), 0);
	ck_assert_uint_eq(tp_stats(p).timeouts, 3);
	dqlc_pool_close(p);
}
END_TEST

/* pool_min connections are kept open; above it, idle ones are closed after
 * idle_timeout_ms; connections older than max_lifetime_ms are replaced. */
START_TEST(test_pool_min_idle_timeout_and_lifetime)
{
	dqlc_pool_t *p = tp_pool("sizing", "pool_min=2&pool_max=4&workers=4&idle_timeout_ms=150");
	ck_assert_int_eq(tp_query_int(p, "SELECT 1", NULL, 0), 1);
	bool ok;
	dqlc_pool_stats_t s;
	TP_POLL(ok, (s = tp_stats(p), s.conns_open >= 2), 15000);
	ck_assert_msg(ok, "pool_min=2 but %u connections open", s.conns_open);

	/* Four at once: the pool grows to pool_max. */
	dqlc_conn_t *c[4];
	for (int i = 0; i < 4; i++)
		ck_assert_int_eq(dqlc_pool_acquire(p, 5000, &c[i], NULL), 0);
	ck_assert_uint_eq(tp_stats(p).conns_open, 4);
	dqlc_conn_t *fifth = NULL;
	ck_assert_int_eq(dqlc_pool_acquire(p, 0, &fifth, NULL), DQLC_EPOOL); /* no more */
	for (int i = 0; i < 4; i++)
		dqlc_conn_close(c[i]);
	/* Idle past idle_timeout_ms: trimmed back to pool_min, never below. */
	int64_t end = hp_now_ms() + 20000;
	while ((s = tp_stats(p), s.conns_open > 2) && hp_now_ms() < end) {
		ck_assert_int_eq(tp_query_int(p, "SELECT 2", NULL, 0), 2);
		ck_assert_uint_ge(tp_stats(p).conns_open, 2);
		hp_sleep_ms(20); /* pacing: connections must sit idle to expire */
	}
	ck_assert_msg(s.conns_open == 2, "idle connections not closed: %u open", s.conns_open);
	ck_assert_uint_eq(s.failed, 0);
	dqlc_pool_close(p);

	/* max_lifetime_ms: old connections are replaced, requests never fail. */
	p = tp_pool("sizing", "pool_max=1&workers=1&max_lifetime_ms=100");
	ck_assert_int_eq(tp_query_int(p, "SELECT 3", NULL, 0), 3);
	uint64_t first = tp_stats(p).connects;
	end = hp_now_ms() + 20000;
	while ((s = tp_stats(p), s.connects < first + 2) && hp_now_ms() < end) {
		ck_assert_int_eq(tp_query_int(p, "SELECT 4", NULL, 0), 4);
		hp_sleep_ms(20); /* pacing: connections must age */
	}
	ck_assert_msg(s.connects >= first + 2, "connections never recycled (%llu connects)",
		      (unsigned long long)s.connects);
	ck_assert_uint_le(s.conns_open, 1);
	ck_assert_uint_eq(s.failed, 0);
	dqlc_pool_close(p);
}
END_TEST

/* ---- dqlc_pool_transaction ------------------------------------------------------- */

struct txfn {
	atomic_int calls;
	int64_t id;
	int ret;         /* returned when the SQL succeeded */
	bool dup_second; /* make the second insert fail (duplicate id) */
	tp_event_t called;
	char last_error[256];
};

static int tx_insert(dqlc_conn_t *c, void *arg)
{
	struct txfn *t = arg;
	dqlc_error_t e = {0};
	int rc;
	atomic_fetch_add(&t->calls, 1);
	tp_event_signal(&t->called);
	if (!dqlc_conn_in_transaction(c))
		return DQLC_EINVAL;
	rc = conn_exec(c, "INSERT INTO t (id) VALUES (?)", t->id, &e);
	if (rc == 0)
		rc = conn_exec(c, "INSERT INTO t (id) VALUES (?)", t->dup_second ? t->id : t->id + 1,
			       &e);
	if (rc != 0) {
		snprintf(t->last_error, sizeof t->last_error, "%s", e.message);
		return rc;
	}
	return t->ret;
}

START_TEST(test_transaction_commit_and_rollback)
{
	dqlc_pool_t *p = tp_pool("txn", "");
	dqlc_error_t e = {0};
	tp_exec_ok(p, "CREATE TABLE t (id INTEGER PRIMARY KEY)", NULL, 0);
	static struct txfn t;

	memset(&t, 0, sizeof t);
	tp_event_init(&t.called);
	t.id = 1;
	ck_assert_int_eq(dqlc_pool_transaction(p, tx_insert, &t, &e), 0);
	ck_assert_int_eq(atomic_load(&t.calls), 1);
	ck_assert_int_eq(count_rows(p, "id IN (1, 2)"), 2);

	/* fn's non-zero return rolls back and is returned. */
	t.id = 10;
	t.ret = 42;
	atomic_store(&t.calls, 0);
	ck_assert_int_eq(dqlc_pool_transaction(p, tx_insert, &t, &e), 42);
	ck_assert_int_eq(atomic_load(&t.calls), 1);
	ck_assert_int_eq(count_rows(p, "id IN (10, 11)"), 0);

	/* An SQL error inside: the first insert is rolled back too. */
	t.id = 20;
	t.ret = 0;
	t.dup_second = true;
	atomic_store(&t.calls, 0);
	ck_assert_int_eq(dqlc_pool_transaction(p, tx_insert, &t, &e), DQLC_ESQL);
	ck_assert_int_eq(atomic_load(&t.calls), 1); /* a constraint error is not rerun */
	ck_assert_int_eq(count_rows(p, "id = 20"), 0);

	/* Connections came back clean: plain requests and leases work. */
	ck_assert_int_eq(count_rows(p, "1"), 2);
	dqlc_conn_t *c = NULL;
	ck_assert_int_eq(dqlc_pool_acquire(p, -1, &c, &e), 0);
	ck_assert(!dqlc_conn_in_transaction(c));
	dqlc_conn_close(c);
	ck_assert_int_eq(dqlc_pool_transaction(p, NULL, NULL, &e), DQLC_EINVAL);
	ck_assert_int_eq(dqlc_pool_transaction(NULL, tx_insert, &t, &e), DQLC_EINVAL);
	dqlc_pool_close(p);
	tp_event_destroy(&t.called);
}
END_TEST

/* A connection of its own (not the pool's) holding the write lock until
 * released from a helper thread. */
struct blocker {
	dqlc_conn_t *conn;
	int release_rc;
	/* release when this pool has seen this many busy retries, or when
	 * the fn below has been called this many times */
	dqlc_pool_t *pool;
	uint64_t busy_retries;
	struct txfn *fn;
	int fn_calls;
	bool condition_met;
};

static void blocker_start(struct blocker *b, const char *db)
{
	dqlc_error_t e = {0};
	int rc = dqlc_connect(tp_uri(db, ""), NULL, &b->conn, &e);
	ck_assert_msg(rc == 0, "dqlc_connect: %s", e.message);
	ck_assert_int_eq(dqlc_conn_begin(b->conn, &e), 0);
	ck_assert_msg(conn_exec(b->conn, "INSERT INTO t (id) VALUES (?)", 1000, &e) == 0, "%s",
		      e.message);
}

static void *blocker_main(void *arg)
{
	struct blocker *b = arg;
	if (b->fn != NULL) {
		b->condition_met = tp_event_wait(&b->fn->called, b->fn_calls, 20000) >= b->fn_calls;
	} else {
		bool ok;
		dqlc_pool_stats_t s;
		memset(&s, 0, sizeof s);
		s.struct_size = sizeof s;
		TP_POLL(ok, (dqlc_pool_stats(b->pool, &s, NULL) == 0 && s.busy_retries >= b->busy_retries),
			20000);
		b->condition_met = ok;
	}
	b->release_rc = dqlc_conn_commit(b->conn, NULL);
	dqlc_conn_close(b->conn);
	return NULL;
}

START_TEST(test_transaction_rerun_on_busy)
{
	dqlc_pool_t *p = tp_pool("txbusy", "retry_max=1000&request_timeout_ms=30000");
	dqlc_error_t e = {0};
	tp_exec_ok(p, "CREATE TABLE t (id INTEGER PRIMARY KEY)", NULL, 0);
	static struct txfn t;
	static struct blocker b;
	memset(&t, 0, sizeof t);
	memset(&b, 0, sizeof b);
	tp_event_init(&t.called);
	t.id = 1;
	blocker_start(&b, "txbusy");
	b.fn = &t;
	b.fn_calls = 3; /* let it fail on BUSY twice at least */
	pthread_t th;
	ck_assert_int_eq(pthread_create(&th, NULL, blocker_main, &b), 0);
	int rc = dqlc_pool_transaction(p, tx_insert, &t, &e);
	pthread_join(th, NULL);
	ck_assert_msg(b.condition_met, "fn was called only %d times while the lock was held",
		      atomic_load(&t.calls));
	ck_assert_int_eq(b.release_rc, 0);
	ck_assert_msg(rc == 0, "transaction: %s (%s)", dqlc_errname(rc), e.message);
	ck_assert_int_ge(atomic_load(&t.calls), 3);
	ck_assert_msg(t.last_error[0] != '\0', "fn never saw the BUSY error");
	ck_assert_int_eq(count_rows(p, "id IN (1, 2, 1000)"), 3);
	ck_assert_uint_ge(tp_stats(p).retries, 2);
	dqlc_pool_close(p);
	tp_event_destroy(&t.called);
}
END_TEST

START_TEST(test_autocommit_busy_is_retried)
{
	dqlc_pool_t *p = tp_pool("busy", "retry_max=1000&request_timeout_ms=30000");
	tp_exec_ok(p, "CREATE TABLE t (id INTEGER PRIMARY KEY)", NULL, 0);
	static struct blocker b;
	memset(&b, 0, sizeof b);
	blocker_start(&b, "busy");
	b.pool = p;
	b.busy_retries = 2;
	pthread_t th;
	ck_assert_int_eq(pthread_create(&th, NULL, blocker_main, &b), 0);
	dqlc_value_t par[] = {DQLC_INT(1)};
	dqlc_error_t e = {0};
	int rc = tp_wait_free(dqlc_pool_exec(p, "INSERT INTO t (id) VALUES (?)", par, 1), &e);
	pthread_join(th, NULL);
	ck_assert_msg(b.condition_met, "no SQLITE_BUSY retries seen while the lock was held");
	ck_assert_int_eq(b.release_rc, 0);
	ck_assert_msg(rc == 0, "insert: %s (%s)", dqlc_errname(rc), e.message);
	ck_assert_int_eq(count_rows(p, "id IN (1, 1000)"), 2);
	dqlc_pool_stats_t s = tp_stats(p);
	ck_assert_uint_ge(s.busy_retries, 2);
	ck_assert_uint_eq(s.failed, 0);
	dqlc_pool_close(p);
}
END_TEST

/* retry_max bounds the SQLITE_BUSY retries of requests and transactions. */
START_TEST(test_retry_max_bounds_busy_retries)
{
	dqlc_pool_t *setup = tp_pool("retrymax", "");
	tp_exec_ok(setup, "CREATE TABLE t (id INTEGER PRIMARY KEY)", NULL, 0);
	dqlc_pool_close(setup);
	static struct blocker b;
	memset(&b, 0, sizeof b);
	blocker_start(&b, "retrymax"); /* holds the write lock throughout */
	dqlc_value_t par[] = {DQLC_INT(1)};
	static const int limits[] = {0, 3};
	for (int i = 0; i < 2; i++) {
		char q[64];
		snprintf(q, sizeof q, "retry_max=%d&request_timeout_ms=30000", limits[i]);
		dqlc_pool_t *p = tp_pool("retrymax", q);
		dqlc_error_t e = {0};
		int rc = tp_wait_free(dqlc_pool_exec(p, "INSERT INTO t (id) VALUES (?)", par, 1), &e);
		ck_assert_msg(rc == DQLC_ESQL, "retry_max=%d: %s (%s)", limits[i], dqlc_errname(rc),
			      e.message);
		ck_assert_int_eq(e.sqlite_code & 0xff, DQLC_SQLITE_BUSY);
		ck_assert(!(e.flags & DQLC_ERRF_MAYBE_EXECUTED));
		dqlc_pool_stats_t s = tp_stats(p);
		ck_assert_uint_eq(s.busy_retries, (uint64_t)limits[i]);
		ck_assert_uint_eq(s.failed, 1);

		static struct txfn t;
		memset(&t, 0, sizeof t);
		tp_event_init(&t.called);
		t.id = 5;
		rc = dqlc_pool_transaction(p, tx_insert, &t, &e);
		ck_assert_msg(rc != 0, "a transaction committed while another held the lock");
		ck_assert_int_eq(atomic_load(&t.calls), limits[i] + 1);
		tp_event_destroy(&t.called);
		dqlc_pool_close(p);
	}
	ck_assert_int_eq(dqlc_conn_commit(b.conn, NULL), 0);
	dqlc_conn_close(b.conn);
	dqlc_pool_t *p = tp_pool("retrymax", "retry_max=0");
	tp_exec_ok(p, "INSERT INTO t (id) VALUES (?)", par, 1);
	ck_assert_int_eq(count_rows(p, "id IN (1, 1000)"), 2);
	ck_assert_int_eq(count_rows(p, "id = 5"), 0);
	dqlc_pool_close(p);
}
END_TEST

/* ---- the write lane ------------------------------------------------------------ */

#define LANE_THREADS 8
#define LANE_ROWS 300

struct writer {
	pthread_t thread;
	dqlc_pool_t *pool;
	int k;
	int acked, errors, busy;
	char first_error[256];
};

static void lane_outcome(struct writer *w, dqlc_future_t *f)
{
	dqlc_error_t e = {0};
	int rc = tp_wait_free(f, &e);
	if (rc == 0) {
		w->acked++;
		return;
	}
	w->errors++;
	if ((e.sqlite_code & 0xff) == DQLC_SQLITE_BUSY || rc == DQLC_EBUSY)
		w->busy++;
	if (w->first_error[0] == '\0')
		snprintf(w->first_error, sizeof w->first_error, "%s: %s", dqlc_errname(rc), e.message);
}

static void *writer_main(void *arg)
{
	struct writer *w = arg;
	dqlc_future_t *batch[10];
	int n = 0;
	for (int i = 0; i < LANE_ROWS; i++) {
		dqlc_value_t par[] = {DQLC_INT(w->k * 100000 + i), DQLC_INT(w->k)};
		dqlc_future_t *f = dqlc_pool_exec(w->pool, "INSERT INTO t (id, k) VALUES (?, ?)", par, 2);
		if (f == NULL) {
			w->errors++;
			continue;
		}
		if (w->k % 2 == 0) {
			lane_outcome(w, f); /* one at a time */
			continue;
		}
		batch[n++] = f; /* ten in flight at once */
		if (n == 10) {
			for (int j = 0; j < n; j++)
				lane_outcome(w, batch[j]);
			n = 0;
		}
	}
	for (int j = 0; j < n; j++)
		lane_outcome(w, batch[j]);
	return NULL;
}

START_TEST(test_write_lane_8_writers)
{
	dqlc_pool_t *p = tp_pool("lane", "request_timeout_ms=60000");
	tp_exec_ok(p, "CREATE TABLE t (id INTEGER PRIMARY KEY, k INTEGER NOT NULL)", NULL, 0);
	static struct writer w[LANE_THREADS];
	memset(w, 0, sizeof w);
	for (int k = 0; k < LANE_THREADS; k++) {
		w[k].pool = p;
		w[k].k = k;
		ck_assert_int_eq(pthread_create(&w[k].thread, NULL, writer_main, &w[k]), 0);
	}
	int acked = 0, errors = 0, busy = 0;
	for (int k = 0; k < LANE_THREADS; k++) {
		pthread_join(w[k].thread, NULL);
		acked += w[k].acked;
		errors += w[k].errors;
		busy += w[k].busy;
	}
	dqlc_pool_stats_t s = tp_stats(p);
	fprintf(stderr, "write lane: %d acknowledged, %d errors (%d BUSY), busy_retries %llu\n",
		acked, errors, busy, (unsigned long long)s.busy_retries);
	for (int k = 0; k < LANE_THREADS; k++)
		ck_assert_msg(w[k].errors == 0, "writer %d: %d errors, first: %s", k, w[k].errors,
			      w[k].first_error);
	ck_assert_int_eq(busy, 0);
	ck_assert_int_eq(acked, LANE_THREADS * LANE_ROWS);
	ck_assert_int_eq(tp_query_int(p, "SELECT count(*) FROM t", NULL, 0), acked);
	ck_assert_int_eq(tp_query_int(p, "SELECT count(DISTINCT id) FROM t", NULL, 0), acked);
	for (int k = 0; k < LANE_THREADS; k++) {
		dqlc_value_t par[] = {DQLC_INT(k), DQLC_INT(k * 100000),
				      DQLC_INT(k * 100000 + LANE_ROWS - 1)};
		ck_assert_int_eq(tp_query_int(p, "SELECT count(*) FROM t WHERE k = ? AND id BETWEEN ? AND ?",
					      par, 3),
				 LANE_ROWS);
	}
	s = tp_stats(p);
	ck_assert_uint_eq(s.failed, 0);
	ck_assert_uint_eq(s.submitted, s.completed);
	dqlc_pool_close(p);
	tp_assert_nodes_alive();
}
END_TEST

static Suite *pool_conns_suite(void)
{
	Suite *s = suite_create("pool-conns");
	TCase *t = tp_tcase(s, "leases", 60, true);
	tcase_add_test(t, test_acquire_exhaustion);
	tcase_add_test(t, test_lease_closed_in_transaction_rolls_back);
	tcase_add_test(t, test_pool_min_idle_timeout_and_lifetime);
	tcase_add_test(t, test_deadline_covers_queue_and_lease);

	t = tp_tcase(s, "transactions", 90, true);
	tcase_add_test(t, test_transaction_commit_and_rollback);
	tcase_add_test(t, test_transaction_rerun_on_busy);
	tcase_add_test(t, test_autocommit_busy_is_retried);
	tcase_add_test(t, test_retry_max_bounds_busy_retries);

	t = tp_tcase(s, "write-lane", 180, true);
	tcase_add_test(t, test_write_lane_8_writers);
	return s;
}

int main(void)
{
	return tp_run(pool_conns_suite());
}
