/*
 * Futures of a pool against a real 3-node cluster: callbacks (chains, once,
 * accessors, DQLC_EDEADLK, inline, misuse), free before completion, cancel
 * (queued, running scan, completed), a full queue.
 *
 * To hold requests back deterministically, most tests use a pool with one
 * worker and one connection: leasing that connection (dqlc_pool_acquire)
 * parks the worker's request until the lease is returned; or a long scan
 * occupies it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_pool_util.h"

/* A scan that streams rows for a long time without blocking the server's
 * loop (one batch at a time), so it is "running" until canceled. */
#define LONG_SCAN                                                                        \
	"WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 2000000) " \
	"SELECT x FROM c"

static int64_t count_id(dqlc_pool_t *p, int64_t id)
{
	dqlc_value_t par[] = {DQLC_INT(id)};
	return tp_query_int(p, "SELECT count(*) FROM t WHERE id = ?", par, 1);
}

static dqlc_future_t *insert(dqlc_pool_t *p, int64_t id)
{
	dqlc_value_t par[] = {DQLC_INT(id)};
	dqlc_future_t *f = dqlc_pool_exec(p, "INSERT INTO t (id) VALUES (?)", par, 1);
	ck_assert_ptr_nonnull(f);
	return f;
}

/* A pool with one worker and one connection, table t created. */
static dqlc_pool_t *narrow_pool(const char *db, const char *extra)
{
	char q[256];
	snprintf(q, sizeof q, "workers=1&pool_max=1%s%s", extra ? "&" : "", extra ? extra : "");
	dqlc_pool_t *p = tp_pool(db, q);
	tp_exec_ok(p, "CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY)", NULL, 0);
	return p;
}

/* Wait until the pool shows this many requests in flight and queued. */
static void wait_shape(dqlc_pool_t *p, uint32_t in_flight, uint32_t queued)
{
	bool ok;
	dqlc_pool_stats_t s;
	TP_POLL(ok, (s = tp_stats(p), s.in_flight == in_flight && s.queued == queued), 10000);
	ck_assert_msg(ok, "pool never had %u in flight and %u queued (has %u, %u)", in_flight,
		      queued, s.in_flight, s.queued);
}

/* ---- callbacks ------------------------------------------------------------ */

#define CHAIN 40

struct chain {
	dqlc_pool_t *pool;
	atomic_int ran[CHAIN];
	tp_event_t done;
	char failure[256];
	pthread_mutex_t mu;
};
struct link {
	struct chain *c;
	int idx;
};
static struct link links[CHAIN];

static void chain_fail(struct chain *c, const char *what, int idx)
{
	pthread_mutex_lock(&c->mu);
	if (c->failure[0] == '\0')
		snprintf(c->failure, sizeof c->failure, "link %d: %s", idx, what);
	pthread_mutex_unlock(&c->mu);
	tp_event_signal(&c->done);
}

static void chain_cb(dqlc_future_t *f, void *arg)
{
	struct link *l = arg;
	struct chain *c = l->c;
	dqlc_error_t e = {0};
	atomic_fetch_add(&c->ran[l->idx], 1);
	/* Accessors work here, without waiting. */
	if (!dqlc_future_ready(f))
		return chain_fail(c, "not ready in its callback", l->idx);
	if (dqlc_future_error(f, &e) != 0)
		return chain_fail(c, e.message, l->idx);
	dqlc_result_t *r = dqlc_future_take_result(f);
	if (r == NULL || dqlc_result_last_insert_id(r) != l->idx + 1)
		return chain_fail(c, "wrong result", l->idx);
	dqlc_result_free(r);
	dqlc_future_free(f); /* freeing one's own future in its callback is allowed */
	if (l->idx + 1 == CHAIN) {
		tp_event_signal(&c->done);
		return;
	}
	dqlc_value_t par[] = {DQLC_INT(l->idx + 2)};
	dqlc_future_t *next = dqlc_pool_exec(c->pool, "INSERT INTO t (id) VALUES (?)", par, 1);
	if (next == NULL)
		return chain_fail(c, "NULL future", l->idx);
	if (dqlc_future_set_callback(next, chain_cb, &links[l->idx + 1]) != 0)
		return chain_fail(c, "set_callback failed", l->idx);
}

START_TEST(test_callback_chain)
{
	static struct chain c;
	memset(&c, 0, sizeof c);
	c.pool = tp_pool("chain", "workers=2");
	tp_event_init(&c.done);
	pthread_mutex_init(&c.mu, NULL);
	tp_exec_ok(c.pool, "CREATE TABLE t (id INTEGER PRIMARY KEY)", NULL, 0);
	for (int i = 0; i < CHAIN; i++)
		links[i] = (struct link){&c, i};
	dqlc_future_t *first = insert(c.pool, 1);
	ck_assert_int_eq(dqlc_future_set_callback(first, chain_cb, &links[0]), 0);
	ck_assert_msg(tp_event_wait(&c.done, 1, 60000) >= 1, "the chain did not finish");
	ck_assert_msg(c.failure[0] == '\0', "%s", c.failure);
	for (int i = 0; i < CHAIN; i++)
		ck_assert_msg(atomic_load(&c.ran[i]) == 1, "callback %d ran %d times", i,
			      atomic_load(&c.ran[i]));
	ck_assert_int_eq(tp_query_int(c.pool, "SELECT count(*) FROM t", NULL, 0), CHAIN);
	ck_assert_int_eq(tp_query_int(c.pool, "SELECT min(id) FROM t", NULL, 0), 1);
	ck_assert_int_eq(tp_query_int(c.pool, "SELECT max(id) FROM t", NULL, 0), CHAIN);
	dqlc_pool_close(c.pool);
	tp_event_destroy(&c.done);
	pthread_mutex_destroy(&c.mu);
}
END_TEST

#define ONCE 90

struct once {
	atomic_int runs, second_runs;
	atomic_int code;
	atomic_int rows_ok;
	atomic_int ready_in_cb;
	pthread_t thread;
	int kind; /* 0 insert, 1 query, 2 failing query */
	int64_t want;
	tp_event_t *ev;
};

static void once_cb(dqlc_future_t *f, void *arg)
{
	struct once *o = arg;
	dqlc_error_t e = {0};
	atomic_fetch_add(&o->runs, 1);
	o->thread = pthread_self();
	atomic_store(&o->ready_in_cb, dqlc_future_ready(f));
	/* Waiting on the very future whose callback runs returns at once. */
	int code = dqlc_future_wait(f);
	atomic_store(&o->code, dqlc_future_error(f, &e) == code ? code : -1);
	if (code == 0 && e.code != 0)
		atomic_store(&o->code, -2);
	if (code != 0 && (e.code != code || e.message[0] == '\0'))
		atomic_store(&o->code, -3);
	dqlc_result_t *r = dqlc_future_take_result(f);
	if (o->kind == 1)
		atomic_store(&o->rows_ok, r != NULL && dqlc_result_row_count(r) == 1 &&
					     dqlc_result_int64(r, 0, 0) == o->want);
	else if (o->kind == 0)
		atomic_store(&o->rows_ok, r != NULL && dqlc_result_last_insert_id(r) == o->want);
	else
		atomic_store(&o->rows_ok, r == NULL && e.code == DQLC_ESQL);
	dqlc_result_free(r);
	tp_event_signal(o->ev);
}

static void second_cb(dqlc_future_t *f, void *arg)
{
	struct once *o = arg;
	(void)f;
	atomic_fetch_add(&o->second_runs, 1);
}

START_TEST(test_callback_once_inline_and_misuse)
{
	dqlc_pool_t *p = tp_pool("once", "workers=3");
	tp_exec_ok(p, "CREATE TABLE t (id INTEGER PRIMARY KEY)", NULL, 0);
	static struct once o[ONCE];
	dqlc_future_t *f[ONCE];
	tp_event_t ev;
	tp_event_init(&ev);
	memset(o, 0, sizeof o);
	for (int i = 0; i < ONCE; i++) {
		o[i].kind = i % 3;
		o[i].ev = &ev;
		if (o[i].kind == 0) {
			o[i].want = i + 1;
			f[i] = insert(p, i + 1);
		} else if (o[i].kind == 1) {
			o[i].want = i * 3;
			dqlc_value_t par[] = {DQLC_INT(i)};
			f[i] = dqlc_pool_query(p, "SELECT ? * 3", par, 1);
		} else {
			f[i] = dqlc_pool_query(p, "SELECT nope FROM nowhere", NULL, 0);
		}
		ck_assert_ptr_nonnull(f[i]);
		if (i % 2 == 0) {
			/* Before completion (most likely): runs on a worker. */
			ck_assert_int_eq(dqlc_future_set_callback(f[i], once_cb, &o[i]), 0);
		} else {
			/* Already complete: runs right here, before returning. */
			dqlc_future_wait(f[i]);
			ck_assert_int_eq(dqlc_future_set_callback(f[i], once_cb, &o[i]), 0);
			ck_assert_int_eq(atomic_load(&o[i].runs), 1);
			ck_assert(pthread_equal(o[i].thread, pthread_self()));
		}
		/* Only one callback per future. */
		ck_assert_int_eq(dqlc_future_set_callback(f[i], second_cb, &o[i]), DQLC_EMISUSE);
		ck_assert_int_eq(dqlc_future_set_callback(f[i], NULL, NULL), DQLC_EINVAL);
	}
	ck_assert_msg(tp_event_wait(&ev, ONCE, 30000) >= ONCE, "not every callback ran");
	for (int i = 0; i < ONCE; i++) {
		ck_assert_int_eq(dqlc_future_wait(f[i]), o[i].kind == 2 ? DQLC_ESQL : 0);
		ck_assert_msg(atomic_load(&o[i].runs) == 1, "callback %d ran %d times", i,
			      atomic_load(&o[i].runs));
		ck_assert_int_eq(atomic_load(&o[i].second_runs), 0);
		ck_assert_int_eq(atomic_load(&o[i].ready_in_cb), 1);
		ck_assert_int_eq(atomic_load(&o[i].code), o[i].kind == 2 ? DQLC_ESQL : 0);
		ck_assert_msg(atomic_load(&o[i].rows_ok) == 1, "callback %d saw a wrong result", i);
		/* the callback took the result */
		ck_assert_ptr_null(dqlc_future_take_result(f[i]));
		dqlc_future_free(f[i]);
	}
	ck_assert_int_eq(tp_query_int(p, "SELECT count(*) FROM t", NULL, 0), ONCE / 3);
	dqlc_pool_close(p);
	tp_event_destroy(&ev);
}
END_TEST

struct deadlk {
	dqlc_pool_t *pool;
	dqlc_future_t *other;
	int wait_rc, wait_for_rc, error_rc, error_code, self_rc;
	bool take_null, other_ready;
	tp_event_t ev;
};

static void deadlk_cb(dqlc_future_t *f, void *arg)
{
	struct deadlk *d = arg;
	dqlc_error_t e = {0};
	/* The pool's only worker runs this: what it queues cannot run until
	 * the callback returns, so waiting for it would hang. */
	d->other = dqlc_pool_query(d->pool, "SELECT 1234", NULL, 0);
	d->wait_rc = dqlc_future_wait(d->other);
	d->wait_for_rc = dqlc_future_wait_for(d->other, 50);
	d->error_rc = dqlc_future_error(d->other, &e);
	d->error_code = e.code;
	d->take_null = dqlc_future_take_result(d->other) == NULL;
	d->other_ready = dqlc_future_ready(d->other);
	d->self_rc = dqlc_future_wait(f); /* complete: no deadlock */
	tp_event_signal(&d->ev);
}

START_TEST(test_wait_in_callback_is_edeadlk)
{
	dqlc_pool_t *p = narrow_pool("deadlk", NULL);
	static struct deadlk d;
	memset(&d, 0, sizeof d);
	d.pool = p;
	tp_event_init(&d.ev);
	/* Hold the only connection: the request cannot complete before its
	 * callback is set, so the callback must run on the worker. */
	dqlc_conn_t *lease = NULL;
	ck_assert_int_eq(dqlc_pool_acquire(p, 5000, &lease, NULL), 0);
	dqlc_future_t *f = insert(p, 7);
	ck_assert_int_eq(dqlc_future_set_callback(f, deadlk_cb, &d), 0);
	ck_assert(!dqlc_future_ready(f));
	/* A timed wait times out and does not cancel. */
	ck_assert_int_eq(dqlc_future_wait_for(f, 30), DQLC_ETIMEDOUT);
	dqlc_conn_close(lease);
	ck_assert_msg(tp_event_wait(&d.ev, 1, 30000) == 1, "callback did not run");
	ck_assert_int_eq(d.wait_rc, DQLC_EDEADLK);
	ck_assert_int_eq(d.wait_for_rc, DQLC_EDEADLK);
	ck_assert_int_eq(d.error_rc, DQLC_EDEADLK);
	ck_assert_int_eq(d.error_code, DQLC_EDEADLK);
	ck_assert(d.take_null);
	ck_assert(!d.other_ready);
	ck_assert_int_eq(d.self_rc, 0);
	ck_assert_int_eq(tp_wait_free(f, NULL), 0);
	/* The other request ran once the callback returned. */
	dqlc_result_t *r = dqlc_future_take_result(d.other);
	ck_assert_ptr_nonnull(r);
	ck_assert_int_eq(dqlc_result_int64(r, 0, 0), 1234);
	dqlc_result_free(r);
	dqlc_future_free(d.other);
	ck_assert_int_eq(count_id(p, 7), 1);
	dqlc_pool_close(p);
	tp_event_destroy(&d.ev);
}
END_TEST

static atomic_int free_cb_runs;
static void count_cb(dqlc_future_t *f, void *arg)
{
	ck_assert_ptr_nonnull(f);
	atomic_fetch_add(&free_cb_runs, 1);
	tp_event_signal(arg);
}

START_TEST(test_free_before_completion)
{
	dqlc_pool_t *p = narrow_pool("freeing", NULL);
	tp_event_t ev;
	tp_event_init(&ev);
	atomic_store(&free_cb_runs, 0);
	dqlc_conn_t *lease = NULL;
	ck_assert_int_eq(dqlc_pool_acquire(p, 5000, &lease, NULL), 0);
	/* Neither can complete while the lease is held. */
	dqlc_future_t *plain = insert(p, 1);
	dqlc_future_t *with_cb = insert(p, 2);
	dqlc_value_t par[] = {DQLC_TEXT("a text parameter, copied at submit")};
	dqlc_future_t *query = dqlc_pool_query(p, "SELECT length(?)", par, 1);
	ck_assert_int_eq(dqlc_future_set_callback(with_cb, count_cb, &ev), 0);
	ck_assert(!dqlc_future_ready(plain));
	ck_assert(!dqlc_future_ready(with_cb));
	dqlc_future_free(plain);
	dqlc_future_free(with_cb);
	dqlc_future_free(query); /* its result is freed with it */
	dqlc_conn_close(lease);
	ck_assert_msg(tp_event_wait(&ev, 1, 30000) == 1, "callback of a freed future did not run");
	/* Both requests still ran. */
	bool ok;
	TP_POLL(ok, count_id(p, 1) == 1, 30000);
	ck_assert_msg(ok, "the freed request never ran");
	ck_assert_int_eq(count_id(p, 2), 1);
	ck_assert_int_eq(atomic_load(&free_cb_runs), 1);
	dqlc_pool_stats_t s = tp_stats(p);
	ck_assert_uint_eq(s.failed, 0);
	dqlc_pool_close(p);
	ck_assert_int_eq(atomic_load(&free_cb_runs), 1);
	tp_event_destroy(&ev);
}
END_TEST

/* ---- cancel ----------------------------------------------------------------- */

struct cancel_seen {
	atomic_int runs, code;
	tp_event_t ev;
};

static void cancel_cb(dqlc_future_t *f, void *arg)
{
	struct cancel_seen *c = arg;
	atomic_fetch_add(&c->runs, 1);
	atomic_store(&c->code, dqlc_future_wait(f));
	tp_event_signal(&c->ev);
}

START_TEST(test_cancel_queued_never_runs)
{
	dqlc_pool_t *p = narrow_pool("cancelq", NULL);
	dqlc_conn_t *lease = NULL;
	ck_assert_int_eq(dqlc_pool_acquire(p, 5000, &lease, NULL), 0);
	dqlc_future_t *a = insert(p, 1); /* taken by the worker, waits for the lease */
	wait_shape(p, 1, 0);
	dqlc_future_t *b = insert(p, 2); /* queued behind it */
	dqlc_future_t *c = insert(p, 3); /* queued, with a callback */
	static struct cancel_seen seen;
	memset(&seen, 0, sizeof seen);
	tp_event_init(&seen.ev);
	ck_assert_int_eq(dqlc_future_set_callback(c, cancel_cb, &seen), 0);
	wait_shape(p, 1, 2);

	ck_assert_int_eq(dqlc_future_cancel(b), 0);
	ck_assert(dqlc_future_ready(b));
	dqlc_error_t e = {0};
	ck_assert_int_eq(dqlc_future_error(b, &e), DQLC_ECANCELED);
	ck_assert_int_eq(e.code, DQLC_ECANCELED);
	ck_assert_ptr_null(dqlc_future_take_result(b));
	ck_assert_int_eq(dqlc_future_cancel(b), DQLC_EINVAL); /* already complete */

	ck_assert_int_eq(dqlc_future_cancel(c), 0);
	ck_assert_int_eq(tp_event_wait(&seen.ev, 1, 10000), 1);
	ck_assert_int_eq(atomic_load(&seen.code), DQLC_ECANCELED);
	wait_shape(p, 1, 0);

	dqlc_conn_close(lease);
	ck_assert_int_eq(tp_wait_free(a, NULL), 0);
	ck_assert_int_eq(dqlc_future_wait(b), DQLC_ECANCELED); /* still canceled */
	dqlc_future_free(b);
	dqlc_future_free(c);
	/* Later writes on the same (only) connection are visible; the
	 * canceled ones never happened. */
	ck_assert_int_eq(tp_wait_free(insert(p, 4), NULL), 0);
	ck_assert_int_eq(count_id(p, 1), 1);
	ck_assert_int_eq(count_id(p, 2), 0);
	ck_assert_int_eq(count_id(p, 3), 0);
	ck_assert_int_eq(count_id(p, 4), 1);
	ck_assert_int_eq(atomic_load(&seen.runs), 1);
	dqlc_pool_stats_t s = tp_stats(p);
	ck_assert_uint_eq(s.canceled, 2);
	ck_assert_uint_eq(s.submitted, s.completed + s.failed);
	ck_assert_uint_eq(s.failed, 2);
	dqlc_pool_close(p);
	tp_event_destroy(&seen.ev);
}
END_TEST

START_TEST(test_cancel_running_scan)
{
	dqlc_pool_t *p = narrow_pool("cancelr", "request_timeout_ms=60000");
	uint64_t connects = tp_stats(p).connects;
	ck_assert_uint_eq(connects, 1);
	dqlc_future_t *scan = dqlc_pool_query(p, LONG_SCAN, NULL, 0);
	ck_assert_ptr_nonnull(scan);
	wait_shape(p, 1, 0);
	dqlc_future_t *queued = insert(p, 2);
	wait_shape(p, 1, 1);
	/* The queued one first: dropped, never runs. */
	ck_assert_int_eq(dqlc_future_cancel(queued), 0);
	ck_assert_int_eq(dqlc_future_wait(queued), DQLC_ECANCELED);
	/* Then the running scan: interrupted and drained. */
	ck_assert(!dqlc_future_ready(scan));
	ck_assert_int_eq(dqlc_future_cancel(scan), 0);
	dqlc_error_t e = {0};
	ck_assert_int_eq(dqlc_future_error(scan, &e), DQLC_ECANCELED);
	ck_assert_int_eq(e.code, DQLC_ECANCELED);
	ck_assert_ptr_null(dqlc_future_take_result(scan));
	ck_assert_int_eq(dqlc_future_cancel(scan), DQLC_EINVAL);
	dqlc_future_free(scan);
	dqlc_future_free(queued);

	/* The same connection goes on serving. */
	for (int i = 0; i < 20; i++) {
		dqlc_value_t par[] = {DQLC_INT(i)};
		ck_assert_int_eq(tp_query_int(p, "SELECT ? + 100", par, 1), i + 100);
	}
	ck_assert_int_eq(tp_wait_free(insert(p, 3), NULL), 0);
	ck_assert_int_eq(count_id(p, 2), 0);
	ck_assert_int_eq(count_id(p, 3), 1);
	dqlc_pool_stats_t s = tp_stats(p);
	ck_assert_uint_eq(s.connects, connects);
	ck_assert_uint_eq(s.conns_open, 1);
	ck_assert_uint_eq(s.canceled, 2);
	ck_assert_uint_eq(s.submitted, s.completed + s.failed);
	dqlc_pool_close(p);
	tp_assert_nodes_alive();
}
END_TEST

START_TEST(test_cancel_completed_is_einval)
{
	dqlc_pool_t *p = tp_pool("cancelc", "");
	dqlc_future_t *f = dqlc_pool_query(p, "SELECT 5", NULL, 0);
	ck_assert_int_eq(dqlc_future_wait(f), 0);
	ck_assert_int_eq(dqlc_future_cancel(f), DQLC_EINVAL);
	ck_assert_int_eq(dqlc_future_wait(f), 0); /* unchanged */
	dqlc_result_t *r = dqlc_future_take_result(f);
	ck_assert_ptr_nonnull(r);
	ck_assert_int_eq(dqlc_result_int64(r, 0, 0), 5);
	dqlc_result_free(r);
	dqlc_future_free(f);
	ck_assert_int_eq(dqlc_future_cancel(NULL), DQLC_EINVAL);
	ck_assert_uint_eq(tp_stats(p).canceled, 0);
	dqlc_pool_close(p);
}
END_TEST

/* Cancel racing with execution: whatever a canceled write reports is the
 * truth (0: it ran; ECANCELED: it did not), and a cancel never lands on
 * another request that reuses the connection. */
#define RACE 150

START_TEST(test_cancel_races_keep_outcomes_honest)
{
	dqlc_pool_t *p = tp_pool("cancelrace", "workers=3&pool_max=3&request_timeout_ms=30000");
	tp_exec_ok(p, "CREATE TABLE t (id INTEGER PRIMARY KEY)", NULL, 0);
	static dqlc_future_t *w[RACE], *q[RACE], *s[RACE];
	for (int i = 0; i < RACE; i++) {
		w[i] = insert(p, i + 1);
		dqlc_value_t par[] = {DQLC_INT(i)};
		q[i] = dqlc_pool_query(p, "SELECT ? + 1", par, 1);
		s[i] = dqlc_pool_query(p, "SELECT count(*) FROM t", NULL, 0);
		ck_assert_ptr_nonnull(q[i]);
		ck_assert_ptr_nonnull(s[i]);
	}
	/* Cancel at varied moments: some writes are done, some running, most
	 * still queued (a timed wait moves one to the front of the queue). */
	for (int i = 0; i < RACE; i++) {
		int rc = dqlc_future_wait_for(w[i], i % 4);
		ck_assert(rc == 0 || rc == DQLC_ETIMEDOUT);
		rc = dqlc_future_cancel(w[i]);
		ck_assert(rc == 0 || rc == DQLC_EINVAL);
		rc = dqlc_future_cancel(s[i]);
		ck_assert(rc == 0 || rc == DQLC_EINVAL);
	}
	int ran = 0, dropped = 0;
	for (int i = 0; i < RACE; i++) {
		dqlc_error_t e = {0};
		int rc = tp_wait_free(w[i], &e);
		ck_assert_msg(rc == 0 || rc == DQLC_ECANCELED, "write %d: %s", i, e.message);
		int64_t n = count_id(p, i + 1);
		if (rc == 0) {
			ck_assert_msg(n == 1, "write %d succeeded but is absent", i);
			ran++;
		} else {
			ck_assert_msg(n == 0 || (e.flags & DQLC_ERRF_MAYBE_EXECUTED),
				      "write %d reported canceled but it ran", i);
			dropped++;
		}
		/* Never canceled: must succeed with the right value. */
		dqlc_result_t *r = dqlc_future_take_result(q[i]);
		ck_assert_msg(r != NULL, "an uncanceled query %d failed: %s", i,
			      (dqlc_future_error(q[i], &e), e.message));
		ck_assert_int_eq(dqlc_result_int64(r, 0, 0), i + 1);
		dqlc_result_free(r);
		dqlc_future_free(q[i]);
		rc = tp_wait_free(s[i], &e);
		ck_assert_msg(rc == 0 || rc == DQLC_ECANCELED, "canceled query %d: %s", i, e.message);
	}
	fprintf(stderr, "cancel race: %d writes ran, %d dropped\n", ran, dropped);
	dqlc_pool_stats_t st = tp_stats(p);
	ck_assert_uint_eq(st.submitted, st.completed + st.failed);
	ck_assert_uint_le(st.conns_open, 3);
	dqlc_pool_close(p);
}
END_TEST

/* ---- a full queue ----------------------------------------------------------- */

START_TEST(test_queue_full_fails_fast)
{
	dqlc_pool_t *p = narrow_pool("qfull", "queue_max=1&request_timeout_ms=60000");
	dqlc_future_t *scan = dqlc_pool_query(p, LONG_SCAN, NULL, 0);
	wait_shape(p, 1, 0);
	dqlc_future_t *second = insert(p, 2);
	wait_shape(p, 1, 1);
	/* The third fails at once, whatever it is. */
	dqlc_future_t *third = insert(p, 3);
	ck_assert(dqlc_future_ready(third));
	dqlc_error_t e = {0};
	ck_assert_int_eq(tp_wait_free(third, &e), DQLC_EQUEUEFULL);
	ck_assert_int_eq(e.code, DQLC_EQUEUEFULL);
	dqlc_future_t *fourth = dqlc_pool_query(p, "SELECT 1", NULL, 0);
	ck_assert(dqlc_future_ready(fourth));
	ck_assert_int_eq(tp_wait_free(fourth, NULL), DQLC_EQUEUEFULL);
	/* Nothing else moved. */
	ck_assert(!dqlc_future_ready(second));
	ck_assert(!dqlc_future_ready(scan));

	ck_assert_int_eq(dqlc_future_cancel(scan), 0);
	ck_assert_int_eq(tp_wait_free(scan, NULL), DQLC_ECANCELED);
	ck_assert_int_eq(tp_wait_free(second, NULL), 0);
	ck_assert_int_eq(count_id(p, 2), 1);
	ck_assert_int_eq(count_id(p, 3), 0);
	/* With room again, requests are accepted. */
	ck_assert_int_eq(tp_wait_free(insert(p, 4), NULL), 0);
	dqlc_pool_stats_t s = tp_stats(p);
	ck_assert_uint_eq(s.submitted, s.completed + s.failed);
	dqlc_pool_close(p);
}
END_TEST

static Suite *pool_futures_suite(void)
{
	Suite *s = suite_create("pool-futures");
	TCase *t = tp_tcase(s, "callbacks", 90, true);
	tcase_add_test(t, test_callback_chain);
	tcase_add_test(t, test_callback_once_inline_and_misuse);
	tcase_add_test(t, test_wait_in_callback_is_edeadlk);
	tcase_add_test(t, test_free_before_completion);

	t = tp_tcase(s, "cancel", 90, true);
	tcase_add_test(t, test_cancel_queued_never_runs);
	tcase_add_test(t, test_cancel_running_scan);
	tcase_add_test(t, test_cancel_completed_is_einval);
	tcase_add_test(t, test_cancel_races_keep_outcomes_honest);
	tcase_add_test(t, test_queue_full_fails_fast);
	return s;
}

int main(void)
{
	return tp_run(pool_futures_suite());
}
