/*
 * The pool when nodes fail, against real 3-node clusters: deadlines with a
 * SIGSTOPped leader, the leader killed under write load (no acknowledged
 * write lost, every failure honest about its outcome), a follower killed,
 * the leader restarted under idle pooled connections.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_pool_util.h"

/* Elapsed-time slack for "no later than its deadline": generous, because
 * the machine is shared and sanitizers slow everything down. */
#define SLACK_MS 2500

static int64_t count_id(dqlc_pool_t *p, int64_t id)
{
	dqlc_value_t par[] = {DQLC_INT(id)};
	return tp_query_int(p, "SELECT count(*) FROM t WHERE id = ?", par, 1);
}

/* Insert with a timeout of its own until one succeeds (the cluster is
 * recovering); asserts it does within `bound_ms`. */
static void insert_eventually(dqlc_pool_t *p, int64_t id, int bound_ms)
{
	dqlc_req_opts_t o = {sizeof o, 2000, 0};
	dqlc_error_t e = {0};
	int rc = -1;
	int64_t end = hp_now_ms() + bound_ms;
	while (rc != 0 && hp_now_ms() < end) {
		dqlc_value_t par[] = {DQLC_INT(id)};
		rc = tp_wait_free(dqlc_pool_exec_opts(p, "INSERT OR REPLACE INTO t (id) VALUES (?)",
						      par, 1, &o),
				  &e);
		if (rc != 0)
			hp_sleep_ms(20); /* pacing between attempts, not synchronisation */
	}
	ck_assert_msg(rc == 0, "no insert succeeded within %d ms: %s", bound_ms, e.message);
}

/* ---- deadlines ------------------------------------------------------------------ */

#define DL_MS 400
#define DL_N 8

START_TEST(test_deadline_with_stopped_leader)
{
	char q[128];
	/* No statement cache: a write then goes out as one EXEC_SQL, so the
	 * one that gets the lane is surely sent (not just a PREPARE). */
	snprintf(q, sizeof q, "request_timeout_ms=%d&workers=4&pool_max=4&stmt_cache_size=0", DL_MS);
	dqlc_pool_t *p = tp_pool("deadline", q);
	tp_exec_ok(p, "CREATE TABLE t (id INTEGER PRIMARY KEY)", NULL, 0);
	/* Warm: connections open to the leader. */
	dqlc_future_t *warm[8];
	for (int i = 0; i < 8; i++)
		warm[i] = dqlc_pool_query(p, "SELECT count(*) FROM t", NULL, 0);
	for (int i = 0; i < 8; i++)
		ck_assert_int_eq(tp_wait_free(warm[i], NULL), 0);

	int l = tc_leader(tp_tc);
	ck_assert_int_ge(l, 0);
	ck_assert_int_eq(tc_stop(tp_tc, l), 0);

	dqlc_future_t *f[DL_N];
	double start[DL_N];
	for (int i = 0; i < DL_N; i++) {
		start[i] = tp_now_ms();
		if (i % 2 == 0) {
			dqlc_value_t par[] = {DQLC_INT(i + 1)};
			f[i] = dqlc_pool_exec(p, "INSERT INTO t (id) VALUES (?)", par, 1);
		} else {
			f[i] = dqlc_pool_query(p, "SELECT count(*) FROM t", NULL, 0);
		}
		ck_assert_ptr_nonnull(f[i]);
	}
	int maybe = 0;
	bool not_run[DL_N];
	for (int i = 0; i < DL_N; i++) {
		dqlc_error_t e = {0};
		int rc = dqlc_future_error(f[i], &e);
		double took = tp_now_ms() - start[i];
		dqlc_future_free(f[i]);
		ck_assert_msg(rc == DQLC_ETIMEDOUT, "request %d: %s (%s) after %.0f ms", i,
			      dqlc_errname(rc), e.message, took);
		ck_assert_msg(took <= DL_MS + SLACK_MS, "request %d failed after %.0f ms (deadline %d)",
			      i, took, DL_MS);
		ck_assert_msg(took >= DL_MS - 5, "request %d timed out early, after %.0f ms", i, took);
		if (i % 2 == 1)
			ck_assert_msg(!(e.flags & DQLC_ERRF_MAYBE_EXECUTED), "a read flagged as maybe executed");
		maybe += (e.flags & DQLC_ERRF_MAYBE_EXECUTED) != 0;
		not_run[i] = i % 2 == 0 && !(e.flags & DQLC_ERRF_MAYBE_EXECUTED);
	}
	/* The first write was sent to the stopped leader: its outcome is unknown. */
	ck_assert_int_ge(maybe, 1);

	/* A per-request timeout overrides the pool's. */
	dqlc_req_opts_t o = {sizeof o, DL_MS / 2, 0};
	double t1 = tp_now_ms();
	dqlc_error_t oe = {0};
	int orc = tp_wait_free(dqlc_pool_query_opts(p, "SELECT 1", NULL, 0, &o), &oe);
	double otook = tp_now_ms() - t1;
	ck_assert_msg(orc == DQLC_ETIMEDOUT, "%s", oe.message);
	ck_assert_msg(otook >= DL_MS / 2 - 5 && otook <= DL_MS / 2 + SLACK_MS,
		      "per-request timeout %d ms: failed after %.0f ms", DL_MS / 2, otook);

	/* A lease and a transaction are bounded by their deadlines too. */
	double t0 = tp_now_ms();
	dqlc_conn_t *c = NULL;
	int rc = dqlc_pool_acquire(p, DL_MS, &c, NULL);
	if (rc == 0) {
		/* an idle connection to the stopped node: its calls time out */
		dqlc_value_t v;
		ck_assert_int_eq(dqlc_conn_set_timeout(c, DL_MS, NULL), 0);
		ck_assert_int_ne(dqlc_conn_fetchval(c, "SELECT 1", NULL, 0, &v, NULL), 0);
		dqlc_conn_close(c);
		ck_assert_msg(tp_now_ms() - t0 <= 2 * DL_MS + SLACK_MS, "a lease call hung");
	} else {
		ck_assert_msg(tp_now_ms() - t0 <= DL_MS + SLACK_MS, "acquire hung");
	}
	dqlc_pool_stats_t s = tp_stats(p);
	ck_assert_uint_ge(s.timeouts, DL_N);

	/* Back: the pool recovers by itself. */
	ck_assert_int_eq(tc_cont(tp_tc, l), 0);
	ck_assert_int_ge(tc_leader(tp_tc), 0);
	insert_eventually(p, 100, 30000);
	for (int i = 0; i < 20; i++) {
		dqlc_value_t par[] = {DQLC_INT(200 + i)};
		dqlc_error_t e = {0};
		rc = tp_wait_free(dqlc_pool_exec(p, "INSERT INTO t (id) VALUES (?)", par, 1), &e);
		ck_assert_msg(rc == 0, "insert after recovery: %s", e.message);
	}
	ck_assert_int_eq(tp_query_int(p, "SELECT count(*) FROM t WHERE id >= 200", NULL, 0), 20);
	/* A write that never left never ran. */
	for (int i = 0; i < DL_N; i++)
		if (not_run[i])
			ck_assert_msg(count_id(p, i + 1) == 0, "write %d failed as not sent, yet ran", i);
	dqlc_pool_close(p);
	tp_assert_nodes_alive();
}
END_TEST

/* ---- the leader killed under load ------------------------------------------------ */

#define KL_THREADS 4
#define KL_MAX 20000

struct outcome {
	int code;
	uint32_t flags;
	int sqlite_code;
};

struct loader {
	pthread_t thread;
	dqlc_pool_t *pool;
	int k, n;
	struct outcome *out; /* KL_MAX */
};

static atomic_int kl_acked;
static atomic_int kl_stop;

static void *loader_main(void *arg)
{
	struct loader *l = arg;
	while (!atomic_load(&kl_stop) && l->n < KL_MAX) {
		dqlc_value_t par[] = {DQLC_INT((int64_t)l->k * 1000000 + l->n), DQLC_INT(l->k)};
		dqlc_error_t e = {0};
		int rc = tp_wait_free(dqlc_pool_exec(l->pool, "INSERT INTO t (id, k) VALUES (?, ?)", par, 2),
				      &e);
		l->out[l->n].code = rc;
		l->out[l->n].flags = rc ? e.flags : 0;
		l->out[l->n].sqlite_code = rc ? e.sqlite_code : 0;
		l->n++;
		if (rc == 0)
			atomic_fetch_add(&kl_acked, 1);
	}
	return NULL;
}

static void wait_acked(int n, int bound_ms)
{
	bool ok;
	TP_POLL(ok, atomic_load(&kl_acked) >= n, bound_ms);
	ck_assert_msg(ok, "only %d writes acknowledged, waited for %d", atomic_load(&kl_acked), n);
}

/* Four writers insert unique ids while the leader goes away (killed, or
 * handing leadership over); then every outcome is checked. */
static void leader_lost_under_load(bool kill)
{
	const char *what = kill ? "leader kill" : "leader transfer";
	dqlc_pool_t *p = tp_pool("failover", "request_timeout_ms=20000");
	tp_exec_ok(p, "CREATE TABLE t (id INTEGER PRIMARY KEY, k INTEGER NOT NULL)", NULL, 0);
	static struct loader ld[KL_THREADS];
	atomic_store(&kl_acked, 0);
	atomic_store(&kl_stop, 0);
	for (int k = 0; k < KL_THREADS; k++) {
		ld[k] = (struct loader){.pool = p, .k = k};
		ld[k].out = calloc(KL_MAX, sizeof *ld[k].out);
		ck_assert_ptr_nonnull(ld[k].out);
		ck_assert_int_eq(pthread_create(&ld[k].thread, NULL, loader_main, &ld[k]), 0);
	}
	wait_acked(200, 60000);
	int l = tc_leader(tp_tc);
	ck_assert_int_ge(l, 0);
	int before = atomic_load(&kl_acked);
	if (kill) {
		ck_assert_int_eq(tc_kill(tp_tc, l), 0);
	} else {
		dqlc_conn_t *c = NULL;
		dqlc_error_t e = {0};
		ck_assert_int_eq(dqlc_connect_node(tc_node_address(tp_tc, l), NULL, &c, &e), 0);
		/* Under load raft may give up a transfer (the target lagged):
		 * that is the server's answer, not the pool's; ask again. */
		int rc = -1;
		for (int i = 0; i < 6 && rc != 0; i++)
			rc = dqlc_conn_transfer(c, tc_node_id(tp_tc, (l + 1 + i % 2) % 3), &e);
		ck_assert_msg(rc == 0, "transfer: %s", e.message);
		dqlc_conn_close(c);
	}
	int m = tc_wait_leader_change(tp_tc, l, 30000);
	ck_assert_msg(m >= 0, "no new leader after %s of node %d", what, l);
	/* The writers carry on against the new leader. */
	wait_acked(before + 200, 90000);
	atomic_store(&kl_stop, 1);
	for (int k = 0; k < KL_THREADS; k++)
		pthread_join(ld[k].thread, NULL);

	/* Tally the failures by code and flags. */
	int failures = 0, maybe = 0, retryable = 0, by_code[DQLC__ERR_MAX] = {0};
	char list[1024] = "";
	size_t len = 0;
	for (int k = 0; k < KL_THREADS; k++)
		for (int i = 0; i < ld[k].n; i++) {
			struct outcome *o = &ld[k].out[i];
			if (o->code == 0)
				continue;
			failures++;
			maybe += (o->flags & DQLC_ERRF_MAYBE_EXECUTED) != 0;
			retryable += (o->flags & DQLC_ERRF_RETRYABLE) != 0;
			if (o->code > 0 && o->code < DQLC__ERR_MAX)
				by_code[o->code]++;
			if (len < sizeof list - 80)
				len += (size_t)snprintf(list + len, sizeof list - len, " %s/sqlite %d/flags 0x%x",
							dqlc_errname(o->code), o->sqlite_code,
							(unsigned)o->flags);
		}
	int total = 0;
	for (int k = 0; k < KL_THREADS; k++)
		total += ld[k].n;
	fprintf(stderr, "%s: %d writes, %d acknowledged, %d failed (%d maybe executed, %d "
			"retryable):%s\n",
		what, total, atomic_load(&kl_acked), failures, maybe, retryable, list);
	for (int c = 1; c < DQLC__ERR_MAX; c++)
		if (by_code[c])
			fprintf(stderr, "%s:   %s x %d\n", what, dqlc_errname(c), by_code[c]);

	/* The new leader's view: every acknowledged write exactly once; every
	 * write that failed without "maybe executed" absent. */
	ck_assert_int_eq(tp_query_int(p, "SELECT count(*) FROM t", NULL, 0),
			 tp_query_int(p, "SELECT count(DISTINCT id) FROM t", NULL, 0));
	int present_acked = 0;
	for (int k = 0; k < KL_THREADS; k++) {
		dqlc_value_t par[] = {DQLC_INT(k)};
		dqlc_future_t *f = dqlc_pool_query(p, "SELECT id FROM t WHERE k = ? ORDER BY id", par, 1);
		dqlc_error_t e = {0};
		ck_assert_msg(dqlc_future_error(f, &e) == 0, "%s", e.message);
		dqlc_result_t *r = dqlc_future_take_result(f);
		dqlc_future_free(f);
		size_t rows = dqlc_result_row_count(r), row = 0;
		for (int i = 0; i < ld[k].n; i++) {
			int64_t id = (int64_t)k * 1000000 + i;
			while (row < rows && dqlc_result_int64(r, row, 0) < id)
				row++;
			bool present = row < rows && dqlc_result_int64(r, row, 0) == id;
			struct outcome *o = &ld[k].out[i];
			if (o->code == 0) {
				ck_assert_msg(present, "acknowledged write %lld is lost", (long long)id);
				present_acked++;
			} else if (!(o->flags & DQLC_ERRF_MAYBE_EXECUTED)) {
				ck_assert_msg(!present,
					      "write %lld failed with %s (flags 0x%x: not maybe-executed) "
					      "yet it ran",
					      (long long)id, dqlc_errname(o->code), (unsigned)o->flags);
			}
		}
		dqlc_result_free(r);
	}
	ck_assert_int_eq(present_acked, atomic_load(&kl_acked));
	/* Failures without "maybe executed" are retry-safe by their code. */
	for (int k = 0; k < KL_THREADS; k++)
		for (int i = 0; i < ld[k].n; i++) {
			struct outcome *o = &ld[k].out[i];
			if (o->code == 0 || (o->flags & DQLC_ERRF_MAYBE_EXECUTED))
				continue;
			ck_assert_msg((o->flags & DQLC_ERRF_RETRYABLE) || o->code == DQLC_ENOLEADER ||
					      o->code == DQLC_ECONNECT || o->code == DQLC_ETIMEDOUT,
				      "failure %s (flags 0x%x) neither maybe-executed nor retry-safe",
				      dqlc_errname(o->code), (unsigned)o->flags);
		}
	/* And the pool goes on with the new leader. */
	for (int i = 0; i < 20; i++) {
		dqlc_value_t par[] = {DQLC_INT(9000000 + i), DQLC_INT(9)};
		dqlc_error_t e = {0};
		int rc = tp_wait_free(dqlc_pool_exec(p, "INSERT INTO t (id, k) VALUES (?, ?)", par, 2), &e);
		ck_assert_msg(rc == 0, "insert after failover: %s", e.message);
	}
	ck_assert_int_eq(tp_query_int(p, "SELECT count(*) FROM t WHERE k = 9", NULL, 0), 20);
	char leader[256];
	ck_assert_int_eq(dqlc_pool_leader(p, leader, sizeof leader, NULL), 0);
	ck_assert_str_eq(leader, tc_node_address(tp_tc, m));
	ck_assert_uint_ge(tp_stats(p).leader_changes, 1);
	for (int k = 0; k < KL_THREADS; k++)
		free(ld[k].out);
	dqlc_pool_close(p);
	tp_assert_nodes_alive();
}

START_TEST(test_leader_killed_under_load)
{
	leader_lost_under_load(true);
}
END_TEST

START_TEST(test_leader_transfer_under_load)
{
	leader_lost_under_load(false);
}
END_TEST

/* ---- a follower killed; the leader restarted ------------------------------------------ */

static void some_work(dqlc_pool_t *p, int64_t first, int n)
{
	for (int i = 0; i < n; i++) {
		dqlc_value_t par[] = {DQLC_INT(first + i)};
		dqlc_error_t e = {0};
		int rc = tp_wait_free(dqlc_pool_exec(p, "INSERT INTO t (id) VALUES (?)", par, 1), &e);
		ck_assert_msg(rc == 0, "insert %lld: %s (%s)", (long long)(first + i), dqlc_errname(rc),
			      e.message);
		ck_assert_int_eq(count_id(p, first + i), 1);
	}
}

START_TEST(test_follower_killed_does_not_disturb)
{
	dqlc_pool_t *p = tp_pool("follower", "");
	tp_exec_ok(p, "CREATE TABLE t (id INTEGER PRIMARY KEY)", NULL, 0);
	some_work(p, 1, 50);
	dqlc_pool_stats_t before = tp_stats(p);
	int l = tc_leader(tp_tc);
	ck_assert_int_ge(l, 0);
	int f = (l + 1) % 3;
	ck_assert_int_eq(tc_kill(tp_tc, f), 0);
	some_work(p, 1001, 100);
	dqlc_pool_stats_t after = tp_stats(p);
	ck_assert_uint_eq(after.failed, 0);
	ck_assert_uint_eq(after.retries, before.retries);
	ck_assert_uint_eq(after.connects, before.connects);
	ck_assert_uint_eq(after.leader_changes, 0);
	ck_assert_int_eq(tc_leader(tp_tc), l);
	ck_assert_int_eq(tp_query_int(p, "SELECT count(*) FROM t", NULL, 0), 150);
	dqlc_pool_close(p);
}
END_TEST

START_TEST(test_leader_restart_replaces_idle_connections)
{
	dqlc_pool_t *p = tp_pool("restart", "health_check_idle_ms=0&workers=4&pool_max=4");
	tp_exec_ok(p, "CREATE TABLE t (id INTEGER PRIMARY KEY)", NULL, 0);
	/* Several idle connections to the leader. */
	dqlc_conn_t *c[3];
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(dqlc_pool_acquire(p, 5000, &c[i], NULL), 0);
	for (int i = 0; i < 3; i++)
		dqlc_conn_close(c[i]);
	some_work(p, 1, 10);
	dqlc_pool_stats_t before = tp_stats(p);
	ck_assert_uint_ge(before.conns_idle, 3);

	int l = tc_leader(tp_tc);
	ck_assert_int_ge(l, 0);
	ck_assert_int_eq(tc_kill(tp_tc, l), 0);
	ck_assert_int_eq(tc_restart(tp_tc, l), 0);
	ck_assert_int_ge(tc_leader(tp_tc), 0);

	/* Every request succeeds: dead idle connections are found before use
	 * (a write sent on one would fail as "maybe executed"). */
	some_work(p, 101, 30);
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(dqlc_pool_acquire(p, 5000, &c[i], NULL), 0);
	for (int i = 0; i < 3; i++) {
		dqlc_value_t v;
		ck_assert_int_eq(dqlc_conn_fetchval(c[i], "SELECT count(*) FROM t", NULL, 0, &v, NULL), 0);
		ck_assert_int_eq(v.v.i, 40);
		dqlc_conn_close(c[i]);
	}
	dqlc_pool_stats_t after = tp_stats(p);
	ck_assert_uint_eq(after.failed, 0);
	ck_assert_uint_gt(after.connects, before.connects);
	ck_assert_uint_le(after.conns_open, 4);
	dqlc_pool_close(p);
}
END_TEST

static Suite *pool_faults_suite(void)
{
	Suite *s = suite_create("pool-faults");
	TCase *t = tcase_create("deadlines");
	tcase_set_timeout(t, 90);
	tcase_add_checked_fixture(t, tp_cluster_setup_slow, tp_cluster_teardown);
	suite_add_tcase(s, t);
	tcase_add_test(t, test_deadline_with_stopped_leader);

	t = tp_tcase(s, "failover", 240, true);
	tcase_add_test(t, test_leader_killed_under_load);
	tcase_add_test(t, test_leader_transfer_under_load);

	t = tp_tcase(s, "nodes", 120, true);
	tcase_add_test(t, test_follower_killed_does_not_disturb);
	tcase_add_test(t, test_leader_restart_replaces_idle_connections);
	return s;
}

int main(void)
{
	return tp_run(pool_faults_suite());
}
