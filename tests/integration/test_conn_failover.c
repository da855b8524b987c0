/*
 * Failover on one connection against real dqlite nodes: kill -9 the leader
 * and connect again; a write in flight when the leader dies fails with the
 * right code and DQLC_ERRF_MAYBE_EXECUTED; NOT_LEADER after a leadership
 * transfer carries RETRYABLE|LEADER_CHANGED (and a lost transaction is not
 * called retryable); acknowledged writes survive on the new leader.
 *
 * Every test gets its own 3-node cluster (checked fixture): they kill nodes.
 */
#include <check.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "dqlite-client.h"

#include "cluster.h"
#include "proc.h"

static dqlc_test_cluster_t *tc;

/* A writer thread (below), joined by the teardown if a failed assertion
 * left it running (CK_FORK=no returns from the test with longjmp). */
struct writer {
	dqlc_conn_t *conn;
	char sql[64];
	atomic_long started, acked;
	atomic_int tid, done;
	int rc;
	dqlc_error_t err;
};
static struct writer w;
static pthread_t w_thread;
static bool w_running;

static void cluster_up(void)
{
	/* 50 ms: elections in well under a second, yet no spurious leader
	 * changes on a loaded 2-core machine (20 ms flaps under valgrind). */
	tc_opts_t o = {.latency_ms = 50};
	tc = tc_start(3, &o);
	ck_assert_ptr_nonnull(tc);
}

static void writer_join(void)
{
	if (w_running) {
		pthread_join(w_thread, NULL);
		w_running = false;
	}
	dqlc_conn_close(w.conn);
	w.conn = NULL;
}

static void cluster_down(void)
{
	tc_destroy(tc); /* a writer still blocked on a node now fails */
	tc = NULL;
	writer_join();
}

static dqlc_conn_t *connect_db(const char *db, const char *opts)
{
	char uri[512];
	dqlc_conn_t *conn = NULL;
	dqlc_error_t err = {0};
	snprintf(uri, sizeof uri, "%s%s%s", tc_uri(tc, db), opts ? "?" : "", opts ? opts : "");
	int rc = dqlc_connect(uri, NULL, &conn, &err);
	ck_assert_msg(rc == 0, "connect: %s", err.message);
	return conn;
}

static void exec_ok(dqlc_conn_t *conn, const char *sql)
{
	dqlc_error_t err = {0};
	ck_assert_msg(dqlc_conn_exec(conn, sql, NULL, 0, NULL, &err) == 0, "%s: %s", sql,
		      err.message);
}

static int64_t fetch_int(dqlc_conn_t *conn, const char *sql, int64_t arg)
{
	dqlc_value_t p = DQLC_INT(arg), v;
	dqlc_error_t err = {0};
	ck_assert_msg(dqlc_conn_fetchval(conn, sql, &p, 1, &v, &err) == 0, "%s: %s", sql,
		      err.message);
	ck_assert_int_eq(v.type, DQLC_TYPE_INTEGER);
	return v.v.i;
}

/* Every acknowledged row 1..acked is there, exactly once. */
static void assert_acked_present(dqlc_conn_t *conn, const char *table, int64_t acked)
{
	char sql[160];
	snprintf(sql, sizeof sql, "SELECT count(DISTINCT x) FROM %s WHERE x BETWEEN 1 AND ?",
		 table);
	ck_assert_int_eq(fetch_int(conn, sql, acked), acked);
	snprintf(sql, sizeof sql, "SELECT count(*) FROM %s WHERE x <= ?", table);
	ck_assert_int_eq(fetch_int(conn, sql, acked), acked);
}

/* ---- kill -9 the leader, connect again -------------------------------------------- */

START_TEST(test_kill_leader_reconnect)
{
	int old = tc_leader(tc);
	ck_assert_int_ge(old, 0);
	dqlc_conn_t *conn = connect_db("failover", NULL);
	dqlc_error_t err = {0};
	ck_assert_str_eq(dqlc_conn_address(conn), tc_node_address(tc, old));
	exec_ok(conn, "CREATE TABLE k (x INTEGER)");
	for (int i = 1; i <= 50; i++) {
		dqlc_value_t p = DQLC_INT(i);
		ck_assert_int_eq(dqlc_conn_exec(conn, "INSERT INTO k VALUES (?)", &p, 1, NULL, &err),
				 0);
	}

	ck_assert_int_eq(tc_kill(tc, old), 0);

	/* The old connection is dead; a write on it is "maybe executed". */
	dqlc_value_t p = DQLC_INT(1000);
	int rc = dqlc_conn_exec(conn, "INSERT INTO k VALUES (?)", &p, 1, NULL, &err);
	ck_assert_msg(rc == DQLC_EIO, "got %s: %s", dqlc_errname(rc), err.message);
	ck_assert_msg(err.flags & (DQLC_ERRF_MAYBE_EXECUTED | DQLC_ERRF_RETRYABLE), "flags 0x%x",
		      err.flags);
	ck_assert(!dqlc_conn_usable(conn));
	dqlc_conn_close(conn);

	/* Straight away, no waiting for the election: dqlc_connect waits for
	 * it within its own deadline and finds the new leader. */
	conn = connect_db("failover", "connect_timeout_ms=20000");
	ck_assert_str_ne(dqlc_conn_address(conn), tc_node_address(tc, old));
	int now = tc_leader(tc);
	ck_assert_int_ge(now, 0);
	ck_assert_str_eq(dqlc_conn_address(conn), tc_node_address(tc, now));
	assert_acked_present(conn, "k", 50);
	exec_ok(conn, "INSERT INTO k VALUES (51)");
	ck_assert_int_eq(fetch_int(conn, "SELECT count(*) FROM k WHERE x <= ?", 51), 51);
	dqlc_conn_close(conn);

	/* The killed node comes back as a follower and catches up. */
	ck_assert_int_eq(tc_restart(tc, old), 0);
	ck_assert_int_ge(tc_leader(tc), 0);
	conn = connect_db("failover", "connect_timeout_ms=20000");
	exec_ok(conn, "INSERT INTO k VALUES (52)");
	dqlc_conn_close(conn);
	ck_assert_int_eq(tc_unexpected_exits(tc), 0);
}
END_TEST

/* ---- a write in flight when the leader dies ----------------------------------------- */

static void *write_loop(void *arg)
{
	(void)arg;
	atomic_store(&w.tid, (int)syscall(SYS_gettid));
	for (long i = 1;; i++) {
		dqlc_value_t p = DQLC_INT(i);
		atomic_store(&w.started, i);
		w.rc = dqlc_conn_exec(w.conn, w.sql, &p, 1, NULL, &w.err);
		if (w.rc != 0)
			break;
		atomic_store(&w.acked, i);
	}
	atomic_store(&w.done, 1);
	return NULL;
}

/* Start a writer into a fresh table on a fresh connection and wait until
 * `min_acked` writes were acknowledged.  False if it failed before that
 * (a leader change nobody asked for: the caller starts over). */
static bool start_writer(const char *db, int attempt, const char *opts, long min_acked)
{
	char uri[512], table[16], create[64];
	dqlc_error_t err = {0};
	memset(&w, 0, sizeof w);
	snprintf(uri, sizeof uri, "%s?%s", tc_uri(tc, db), opts);
	ck_assert_msg(dqlc_connect(uri, NULL, &w.conn, &err) == 0, "connect: %s", err.message);
	snprintf(table, sizeof table, "w%d", attempt);
	snprintf(create, sizeof create, "CREATE TABLE %s (x INTEGER)", table);
	if (dqlc_conn_exec(w.conn, create, NULL, 0, NULL, &err) != 0) {
		fprintf(stderr, "attempt %d: %s\n", attempt, err.message);
		writer_join();
		return false;
	}
	snprintf(w.sql, sizeof w.sql, "INSERT INTO %s VALUES (?)", table);
	ck_assert_int_eq(pthread_create(&w_thread, NULL, write_loop, NULL), 0);
	w_running = true;
	int64_t deadline = hp_now_ms() + 30000;
	while (atomic_load(&w.acked) < min_acked) {
		if (atomic_load(&w.done)) {
			fprintf(stderr, "attempt %d: the writer failed early: %s\n", attempt,
				w.err.message);
			writer_join();
			return false;
		}
		ck_assert_msg(hp_now_ms() < deadline, "the writer made no progress");
		hp_sleep_ms(2);
	}
	return true;
}

/* Is thread `tid` of this process blocked in poll()/ppoll()?  The library
 * sends a request with a non-blocking send() and only then polls for the
 * reply, so a writer found there has its request on the wire. */
static bool blocked_in_poll(int tid)
{
	char path[64], buf[64] = "";
	snprintf(path, sizeof path, "/proc/self/task/%d/syscall", tid);
	FILE *f = fopen(path, "r");
	if (f == NULL)
		return false;
	bool yes = fgets(buf, sizeof buf, f) != NULL &&
		   (strncmp(buf, "7 ", 2) == 0 || strncmp(buf, "271 ", 4) == 0);
	fclose(f);
	return yes;
}

/* Deterministic "sent but unanswered": SIGSTOP the leader while a writer
 * loops, wait until the writer sits in poll() with a request out, then
 * kill -9 the stopped leader. */
START_TEST(test_inflight_write_stop_then_kill)
{
	int old = -1, attempt;
	for (attempt = 0; attempt < 3; attempt++) {
		old = tc_leader(tc);
		ck_assert_int_ge(old, 0);
		if (!start_writer("inflight", attempt, "request_timeout_ms=60000", 20))
			continue;
		ck_assert_int_eq(tc_stop(tc, old), 0);
		int64_t deadline = hp_now_ms() + 20000;
		bool blocked = false;
		while (!blocked && !atomic_load(&w.done)) {
			long s = atomic_load(&w.started), a = atomic_load(&w.acked);
			blocked = s == a + 1 && blocked_in_poll(atomic_load(&w.tid)) &&
				  atomic_load(&w.started) == s;
			ck_assert_msg(hp_now_ms() < deadline, "the writer never blocked on the reply");
			if (!blocked)
				hp_sleep_ms(2);
		}
		if (blocked)
			break;
		/* It failed just before the stop (a leader change): again. */
		fprintf(stderr, "attempt %d: the writer stopped: %s\n", attempt, w.err.message);
		ck_assert_int_eq(tc_cont(tc, old), 0);
		writer_join();
	}
	ck_assert_msg(attempt < 3, "no undisturbed attempt");
	long acked = atomic_load(&w.acked);
	ck_assert_int_eq(tc_kill(tc, old), 0);
	pthread_join(w_thread, NULL);
	w_running = false;

	ck_assert_msg(w.rc == DQLC_EIO, "in-flight write: %s (%s)", dqlc_errname(w.rc),
		      w.err.message);
	ck_assert_int_eq(w.err.code, DQLC_EIO);
	ck_assert_msg(w.err.flags & DQLC_ERRF_MAYBE_EXECUTED, "flags 0x%x (%s)", w.err.flags,
		      w.err.message);
	ck_assert_msg(!(w.err.flags & DQLC_ERRF_RETRYABLE), "flags 0x%x", w.err.flags);
	ck_assert_int_eq(atomic_load(&w.started), acked + 1);
	ck_assert(!dqlc_conn_usable(w.conn));
	/* Further calls fail at once, never resend. */
	ck_assert_int_eq(dqlc_conn_exec(w.conn, "SELECT 1", NULL, 0, NULL, NULL), DQLC_EIO);
	writer_join();

	char table[16];
	snprintf(table, sizeof table, "w%d", attempt);
	dqlc_conn_t *conn = connect_db("inflight", "connect_timeout_ms=20000");
	ck_assert_str_ne(dqlc_conn_address(conn), tc_node_address(tc, old));
	assert_acked_present(conn, table, acked);
	/* Nothing beyond the one write whose outcome was unknown. */
	char sql[96];
	snprintf(sql, sizeof sql, "SELECT count(*) FROM %s WHERE x > ?", table);
	ck_assert_int_eq(fetch_int(conn, sql, acked + 1), 0);
	dqlc_conn_close(conn);
}
END_TEST

/* The same with no stop: the leader dies wherever the writer happens to be.
 * Whatever the timing, the failure is one of the documented shapes. */
START_TEST(test_inflight_write_kill)
{
	int old = -1, attempt;
	for (attempt = 0; attempt < 3; attempt++) {
		old = tc_leader(tc);
		ck_assert_int_ge(old, 0);
		if (start_writer("inflight2", attempt, "request_timeout_ms=20000", 30))
			break;
	}
	ck_assert_msg(attempt < 3, "no undisturbed attempt");
	ck_assert_int_eq(tc_kill(tc, old), 0);
	pthread_join(w_thread, NULL);
	w_running = false;
	long acked = atomic_load(&w.acked), started = atomic_load(&w.started);

	ck_assert_int_eq(started, acked + 1);
	switch (w.rc) {
	case DQLC_EIO:
	case DQLC_ETIMEDOUT:
		/* Sent and unanswered; or not sent at all. */
		ck_assert_msg(w.err.flags & (DQLC_ERRF_MAYBE_EXECUTED | DQLC_ERRF_RETRYABLE),
			      "%s: flags 0x%x (%s)", dqlc_errname(w.rc), w.err.flags, w.err.message);
		ck_assert_msg((w.err.flags & (DQLC_ERRF_MAYBE_EXECUTED | DQLC_ERRF_RETRYABLE)) !=
				  (DQLC_ERRF_MAYBE_EXECUTED | DQLC_ERRF_RETRYABLE),
			      "both flags: 0x%x", w.err.flags);
		break;
	case DQLC_ESQL:
		/* The node stepped down before dying. */
		if (w.err.sqlite_code == DQLC_SQLITE_LEADERSHIP_LOST)
			ck_assert_msg(w.err.flags & DQLC_ERRF_MAYBE_EXECUTED, "flags 0x%x",
				      w.err.flags);
		else
			ck_assert_int_eq(w.err.sqlite_code, DQLC_SQLITE_NOT_LEADER);
		ck_assert_msg(w.err.flags & DQLC_ERRF_LEADER_CHANGED, "flags 0x%x", w.err.flags);
		break;
	default:
		ck_abort_msg("in-flight write failed with %s (%s)", dqlc_errname(w.rc),
			     w.err.message);
	}
	uint32_t flags = w.err.flags;
	writer_join();

	char table[16], sql[96];
	snprintf(table, sizeof table, "w%d", attempt);
	dqlc_conn_t *conn = connect_db("inflight2", "connect_timeout_ms=20000");
	ck_assert_str_ne(dqlc_conn_address(conn), tc_node_address(tc, old));
	assert_acked_present(conn, table, acked);
	snprintf(sql, sizeof sql, "SELECT count(*) FROM %s WHERE x > ?", table);
	int64_t extra = fetch_int(conn, sql, acked);
	ck_assert_msg(extra <= 1, "%lld rows beyond the last acknowledged one", (long long)extra);
	if (extra == 1) /* it committed before the leader died */
		ck_assert(flags & DQLC_ERRF_MAYBE_EXECUTED);
	dqlc_conn_close(conn);
}
END_TEST

/* ---- NOT_LEADER after a leadership transfer ----------------------------------------- */

START_TEST(test_not_leader_after_transfer)
{
	int old = tc_leader(tc);
	ck_assert_int_ge(old, 0);
	int target = (old + 1) % 3;
	dqlc_error_t err = {0};
	dqlc_conn_t *a = connect_db("transfer", NULL);
	dqlc_conn_t *b = connect_db("transfer", NULL);
	exec_ok(a, "CREATE TABLE t (x INTEGER)");
	exec_ok(a, "INSERT INTO t VALUES (1)");
	ck_assert_int_eq(dqlc_conn_begin(b, &err), 0);
	exec_ok(b, "INSERT INTO t VALUES (2)");

	/* Hand leadership to another node (from a third connection). */
	dqlc_conn_t *admin = NULL;
	ck_assert_int_eq(dqlc_connect_node(tc_node_address(tc, old), NULL, &admin, &err), 0);
	ck_assert_msg(dqlc_conn_transfer(admin, tc_node_id(tc, target), &err) == 0, "%s",
		      err.message);
	dqlc_conn_close(admin);
	ck_assert_int_eq(tc_wait_leader_change(tc, old, 20000), target);

	/* Autocommit write on the old leader: NOT_LEADER, nothing executed. */
	int rc = dqlc_conn_exec(a, "INSERT INTO t VALUES (3)", NULL, 0, NULL, &err);
	ck_assert_int_eq(rc, DQLC_ESQL);
	ck_assert_int_eq(err.sqlite_code, DQLC_SQLITE_NOT_LEADER);
	ck_assert_uint_eq(err.flags & (DQLC_ERRF_RETRYABLE | DQLC_ERRF_LEADER_CHANGED |
				       DQLC_ERRF_MAYBE_EXECUTED),
			  DQLC_ERRF_RETRYABLE | DQLC_ERRF_LEADER_CHANGED);
	/* A read is refused the same way. */
	dqlc_result_t *r = NULL;
	ck_assert_int_eq(dqlc_conn_query(a, "SELECT 1", NULL, 0, &r, &err), DQLC_ESQL);
	ck_assert_int_eq(err.sqlite_code, DQLC_SQLITE_NOT_LEADER);
	ck_assert(err.flags & DQLC_ERRF_RETRYABLE);

	/* COMMIT of a transaction the old leader dropped: NOT_LEADER too, but
	 * the transaction is gone: not "retryable", no longer in one. */
	ck_assert(dqlc_conn_in_transaction(b));
	rc = dqlc_conn_commit(b, &err);
	ck_assert_int_eq(rc, DQLC_ESQL);
	ck_assert_int_eq(err.sqlite_code, DQLC_SQLITE_NOT_LEADER);
	ck_assert_msg(err.flags & DQLC_ERRF_LEADER_CHANGED, "flags 0x%x", err.flags);
	ck_assert_msg(!(err.flags & DQLC_ERRF_RETRYABLE), "a lost transaction: flags 0x%x",
		      err.flags);
	ck_assert(!dqlc_conn_in_transaction(b));
	ck_assert_msg(strstr(err.message, "transaction") != NULL, "%s", err.message);
	dqlc_conn_close(a);
	dqlc_conn_close(b);

	/* On the new leader: only the committed row. */
	dqlc_conn_t *c = connect_db("transfer", NULL);
	ck_assert_str_eq(dqlc_conn_address(c), tc_node_address(tc, target));
	ck_assert_int_eq(fetch_int(c, "SELECT count(*) FROM t WHERE x >= ?", 0), 1);
	ck_assert_int_eq(fetch_int(c, "SELECT max(x) FROM t WHERE x >= ?", 0), 1);
	dqlc_conn_close(c);
	ck_assert_int_eq(tc_unexpected_exits(tc), 0);
}
END_TEST

static Suite *failover_suite(void)
{
	Suite *s = suite_create("conn_failover");
	TCase *t = tcase_create("failover");
	tcase_add_checked_fixture(t, cluster_up, cluster_down);
	tcase_add_test(t, test_kill_leader_reconnect);
	tcase_add_test(t, test_inflight_write_stop_then_kill);
	tcase_add_test(t, test_inflight_write_kill);
	tcase_add_test(t, test_not_leader_after_transfer);
	tcase_set_timeout(t, 120);
	suite_add_tcase(s, t);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(failover_suite());
	srunner_run_all(sr, CK_ENV);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
