/*
 * Failover through a pool against real dqlite nodes (issue 5): leadership
 * transferred while 8 threads read and write, nodes restarted (a follower,
 * then the leader), and a leader that is stopped (SIGSTOP), not dead.
 *
 * What callers may see: reads never fail; writes fail only when their
 * outcome is unknown (DQLC_ERRF_MAYBE_EXECUTED), and every acknowledged
 * write is found afterwards.  Requests caught by a stopped leader end at
 * their deadline.
 */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "test_cluster_util.h"

/* ---- 8 threads of reads and writes ---------------------------------------- */

#define LOAD_THREADS 8
#define MAX_SEQ 200000

enum { W_NONE = 0, W_ACKED, W_MAYBE, W_FAILED };

struct loader {
	pthread_t thread;
	dqlc_pool_t *pool;
	int k;
	atomic_int ops;
	atomic_bool *stop;
	int seq;                /* writes issued */
	unsigned char *state;   /* per seq: W_* */
	int acked, maybe;
	int reads_ok, reads_err, writes_err, writes_err7, wrong;
	char first_err[400];    /* first error that must not happen */
	char maybe_msgs[400];   /* first unknown-outcome write */
};

static void note(char *buf, size_t len, const char *what, int rc, const dqlc_error_t *e)
{
	if (buf[0] == '\0')
		snprintf(buf, len, "%s: %s (sqlite %d, flags 0x%x) %s", what, dqlc_errname(rc),
			 e->sqlite_code, e->flags, e->message);
}

static void *load_main(void *arg)
{
	struct loader *L = arg;
	while (!atomic_load(L->stop) && L->seq < MAX_SEQ) {
		dqlc_error_t e = {0};
		int seq = L->seq++;
		dqlc_value_t w[] = {DQLC_INT(L->k), DQLC_INT(seq)};
		dqlc_future_t *f = dqlc_pool_exec(L->pool, "INSERT INTO t (k, seq) VALUES (?, ?)", w, 2);
		int rc = f != NULL ? dqlc_future_error(f, &e) : DQLC_ENOMEM;
		dqlc_future_free(f);
		if (rc == 0) {
			L->state[seq] = W_ACKED;
			L->acked++;
		} else if (e.flags & DQLC_ERRF_MAYBE_EXECUTED) {
			L->state[seq] = W_MAYBE;
			L->maybe++;
			note(L->maybe_msgs, sizeof L->maybe_msgs, "write", rc, &e);
		} else {
			L->state[seq] = W_FAILED;
			L->writes_err++;
			if (rc == DQLC_ESQL && e.sqlite_code == 7)
				L->writes_err7++; /* see the test's comment */
			note(L->first_err, sizeof L->first_err, "write", rc, &e);
		}

		/* Read our own rows back: every acknowledged write is there. */
		dqlc_value_t r[] = {DQLC_INT(L->k)};
		memset(&e, 0, sizeof e);
		f = dqlc_pool_query(L->pool, "SELECT count(*) FROM t WHERE k = ?", r, 1);
		rc = f != NULL ? dqlc_future_error(f, &e) : DQLC_ENOMEM;
		dqlc_result_t *res = rc == 0 ? dqlc_future_take_result(f) : NULL;
		dqlc_future_free(f);
		if (rc == 0 && res != NULL) {
			int64_t n = dqlc_result_int64(res, 0, 0);
			L->reads_ok++;
			if (n < L->acked || n > L->acked + L->maybe) {
				L->wrong++;
				if (L->first_err[0] == '\0')
					snprintf(L->first_err, sizeof L->first_err,
						 "thread %d read %lld rows, acked %d maybe %d", L->k,
						 (long long)n, L->acked, L->maybe);
			}
		} else {
			L->reads_err++;
			note(L->first_err, sizeof L->first_err, "read", rc, &e);
		}
		dqlc_result_free(res);
		atomic_fetch_add(&L->ops, 1);
	}
	return NULL;
}

static bool all_reached(struct loader *L, const int *base, int more)
{
	for (int i = 0; i < LOAD_THREADS; i++)
		if (atomic_load(&L[i].ops) < base[i] + more)
			return false;
	return true;
}

/* Let every thread do `more` operations from now (bounded). */
static void progress(struct loader *L, int more, const char *when)
{
	int base[LOAD_THREADS];
	bool ok;
	for (int i = 0; i < LOAD_THREADS; i++)
		base[i] = atomic_load(&L[i].ops);
	CT_WAIT(ok, all_reached(L, base, more), 60000);
	ck_assert_msg(ok, "threads did not make %d operations each %s in 60 s", more, when);
}

/* Check one thread's rows against what it was told. */
static void verify_rows(dqlc_pool_t *p, struct loader *L)
{
	dqlc_value_t par[] = {DQLC_INT(L->k)};
	dqlc_future_t *f = dqlc_pool_query(p, "SELECT seq FROM t WHERE k = ? ORDER BY seq", par, 1);
	dqlc_error_t e = {0};
	ck_assert_ptr_nonnull(f);
	int rc = dqlc_future_error(f, &e);
	ck_assert_msg(rc == 0, "verify: %s", e.message);
	dqlc_result_t *r = dqlc_future_take_result(f);
	dqlc_future_free(f);
	unsigned char *seen = calloc((size_t)L->seq + 1, 1);
	ck_assert_ptr_nonnull(seen);
	for (size_t i = 0; i < dqlc_result_row_count(r); i++) {
		int64_t s = dqlc_result_int64(r, i, 0);
		ck_assert(s >= 0 && s < L->seq);
		ck_assert_msg(L->state[s] != W_FAILED, "thread %d: write %lld failed but is there",
			      L->k, (long long)s);
		seen[s] = 1;
	}
	for (int s = 0; s < L->seq; s++)
		ck_assert_msg(L->state[s] != W_ACKED || seen[s],
			      "thread %d: acknowledged write %d is lost", L->k, s);
	free(seen);
	dqlc_result_free(r);
}

/* Leadership handed from node to node while 8 threads write and read.
 *
 * What this catches on libdqlite 1.11.1: a write that reaches the leader
 * while it is handing leadership over is refused by raft_apply with
 * RAFT_NOTLEADER (7), which leader.c (leaderExecV2 -> leaderApplyFrames)
 * passes on as the statement's status untranslated, so the caller gets
 * FAILURE 7 with SQLite's message for the last step ("no more rows
 * available").  The frames are aborted (VfsAbort): nothing was executed, as
 * verify_rows() checks, so the pool must run it again (it does since
 * 847bb8f; the count of such errors is printed). */
#define TRANSFERS 4

START_TEST(test_transfer_under_load)
{
	ct_start(3);
	ct_events_t ev;
	ct_events_init(&ev);
	dqlc_pool_t *p = ct_pool(ct_uri(tc_addresses(ct_tc), "load", NULL), &ev);
	ct_exec_ok(p, "CREATE TABLE t (k INTEGER, seq INTEGER, PRIMARY KEY (k, seq))", NULL, 0);

	static struct loader L[LOAD_THREADS];
	atomic_bool stop = false;
	for (int i = 0; i < LOAD_THREADS; i++) {
		memset(&L[i], 0, sizeof L[i]);
		L[i].pool = p;
		L[i].k = i;
		L[i].stop = &stop;
		L[i].state = calloc(MAX_SEQ, 1);
		ck_assert_ptr_nonnull(L[i].state);
		ck_assert_int_eq(pthread_create(&L[i].thread, NULL, load_main, &L[i]), 0);
	}
	progress(L, 20, "before the transfer");

	/* Four hand-offs, round the three nodes. */
	int l = tc_leader(ct_tc), refusals = 0;
	ck_assert_int_ge(l, 0);
	for (int round = 0; round < TRANSFERS; round++) {
		int target = (l + 1) % 3;
		refusals += ct_transfer(p, ct_id(target));
		int nl = tc_wait_leader_change(ct_tc, l, 15000);
		ck_assert_int_eq(nl, target);
		char got[256] = "";
		bool ok;
		CT_WAIT(ok, (ct_pool_leader(p, got, sizeof got), strcmp(got, ct_addr(nl)) == 0),
			10000);
		ck_assert_msg(ok, "pool leader '%s', expected %s", got, ct_addr(nl));
		progress(L, 20, "after the transfer");
		ck_assert_msg(ct_events_saw_change(&ev, ct_addr(nl), ct_addr(l)),
			      "no LEADER_CHANGED event %s -> %s", ct_addr(l), ct_addr(nl));
		l = nl;
	}
	atomic_store(&stop, true);
	int ops = 0, reads = 0, acked = 0, maybe = 0, rerr = 0, werr = 0, werr7 = 0, wrong = 0;
	for (int i = 0; i < LOAD_THREADS; i++) {
		pthread_join(L[i].thread, NULL);
		ops += atomic_load(&L[i].ops);
		reads += L[i].reads_ok;
		acked += L[i].acked;
		maybe += L[i].maybe;
		rerr += L[i].reads_err;
		werr += L[i].writes_err;
		werr7 += L[i].writes_err7;
		wrong += L[i].wrong;
	}
	/* Connections to the former leaders are closed, not kept idle. */
	for (int i = 0; i < 3; i++) {
		bool ok;
		if (i == l)
			continue;
		CT_WAIT(ok, ct_conns_to(ct_addr(i)) == 0, 10000);
		ck_assert_msg(ok, "%d connections still open to former leader %s",
			      ct_conns_to(ct_addr(i)), ct_addr(i));
	}
	dqlc_pool_stats_t st = ct_stats(p);
	fprintf(stderr,
		"transfer-under-load: %d transfers (%d refused by raft and asked again), %d rounds, %d reads ok, %d writes acked, %d "
		"writes with unknown outcome, %d read errors, %d other write errors (%d of them "
		"server code 7); leader_changes %llu, retries %llu\n",
		TRANSFERS, refusals, ops, reads, acked, maybe, rerr, werr, werr7,
		(unsigned long long)st.leader_changes, (unsigned long long)st.retries);
	for (int i = 0; i < LOAD_THREADS; i++) {
		if (L[i].maybe_msgs[0])
			fprintf(stderr, "  thread %d unknown outcome: %s\n", i, L[i].maybe_msgs);
		if (L[i].first_err[0])
			fprintf(stderr, "  thread %d ERROR: %s\n", i, L[i].first_err);
	}
	/* First what the rows say (also of the writes that failed), then
	 * what the callers saw. */
	for (int i = 0; i < LOAD_THREADS; i++) {
		verify_rows(p, &L[i]);
		free(L[i].state);
	}
	ck_assert_int_eq(wrong, 0);
	ck_assert_msg(rerr == 0, "%d reads failed", rerr);
	ck_assert_msg(werr == 0,
		      "%d writes failed with an error that a retry could have avoided (nothing "
		      "was executed: none of them is in the table)",
		      werr);
	ck_assert_uint_ge(st.leader_changes, TRANSFERS);
	ct_assert_no_crash();
}
END_TEST

/* ---- restarts --------------------------------------------------------------- */

static void wait_node_knows_leader(int i, const char *leader, int timeout_ms)
{
	char got[256] = "";
	bool ok;
	CT_WAIT(ok, (ct_node_leader(ct_addr(i), got, sizeof got), strcmp(got, leader) == 0),
		timeout_ms);
	ck_assert_msg(ok, "node %d names leader '%s', expected %s", i, got, leader);
}

static void wait_pool_leader(dqlc_pool_t *p, const char *want, int timeout_ms)
{
	char got[256] = "";
	bool ok;
	CT_WAIT(ok, (ct_pool_leader(p, got, sizeof got), strcmp(got, want) == 0), timeout_ms);
	ck_assert_msg(ok, "pool leader '%s', expected %s", got, want);
}

/* n inserts, each followed by a count: all must succeed. */
static void work(dqlc_pool_t *p, int n, int64_t *rows)
{
	for (int i = 0; i < n; i++) {
		dqlc_error_t e = {0};
		int rc = ct_exec_rc(p, "INSERT INTO t DEFAULT VALUES", NULL, 0, &e);
		ck_assert_msg(rc == 0, "insert %d: %s (sqlite %d, flags 0x%x) %s", i,
			      dqlc_errname(rc), e.sqlite_code, e.flags, e.message);
		(*rows)++;
		ck_assert_int_eq(ct_query_int(p, "SELECT count(*) FROM t", NULL, 0), *rows);
	}
}

/* Node i runs again, follows `leader`, is a voter, and has every row:
 * proven by handing it the leadership and counting there. */
static void check_rejoined(dqlc_pool_t *p, int i, int leader, int64_t rows)
{
	wait_node_knows_leader(i, ct_addr(leader), 15000);
	ck_assert_int_eq(tc_leader(ct_tc), leader);
	char want[256], got[256];
	const int all[] = {0, 1, 2};
	bool ok;
	ct_desc_of(want, sizeof want, all, 3, NULL);
	CT_WAIT(ok, (ct_cluster_desc(p, got, sizeof got, NULL, 0), strcmp(got, want) == 0), 10000);
	ck_assert_msg(ok, "cluster '%s', expected '%s'", got, want);
	ct_transfer(p, ct_id(i));
	ck_assert_int_eq(tc_wait_leader_change(ct_tc, leader, 15000), i);
	wait_pool_leader(p, ct_addr(i), 10000);
	ck_assert_int_eq(ct_query_int(p, "SELECT count(*) FROM t", NULL, 0), rows);
}

START_TEST(test_restart_follower_then_leader)
{
	ct_start(3);
	dqlc_pool_t *p = ct_pool(ct_uri(tc_addresses(ct_tc), "restart", NULL), NULL);
	ct_exec_ok(p, "CREATE TABLE t (id INTEGER PRIMARY KEY)", NULL, 0);
	int64_t rows = 0;
	work(p, 5, &rows);

	/* A follower goes down and comes back. */
	int l = tc_leader(ct_tc);
	ck_assert_int_ge(l, 0);
	int f = (l + 1) % 3;
	ck_assert_int_eq(tc_kill(ct_tc, f), 0);
	work(p, 20, &rows);
	ck_assert_int_eq(tc_restart(ct_tc, f), 0);
	work(p, 5, &rows);
	check_rejoined(p, f, l, rows); /* f leads now */

	/* The leader dies: requests made at once wait for the next leader
	 * within their deadline and succeed. */
	l = f;
	ck_assert_int_eq(tc_kill(ct_tc, l), 0);
	work(p, 20, &rows);
	int nl = tc_wait_leader_change(ct_tc, l, 15000);
	ck_assert_int_ge(nl, 0);
	wait_pool_leader(p, ct_addr(nl), 10000);
	bool ok;
	CT_WAIT(ok, ct_conns_to(ct_addr(l)) == 0, 10000);
	ck_assert_msg(ok, "sockets to the dead leader still open: %d", ct_conns_to(ct_addr(l)));
	ck_assert_int_eq(tc_restart(ct_tc, l), 0);
	work(p, 5, &rows);
	check_rejoined(p, l, nl, rows);
	work(p, 5, &rows);
	ck_assert_uint_ge(ct_stats(p).leader_changes, 3);
	ct_assert_no_crash();
}
END_TEST

/* ---- a stopped leader ------------------------------------------------------- */

#define STOP_TIMEOUT_MS 1500
#define SLACK_MS 1000
#define IN_FLIGHT_READS 8
/* One write: a second one would wait for the write lane, not be in flight
 * (it would reach the end of its deadline while waiting for the lane or
 * dialing, where the code returned is a matter of timing). */
#define IN_FLIGHT_WRITES 1

struct done {
	pthread_mutex_t *mu;
	pthread_cond_t *cv;
	int *count;
	double submitted, completed;
	int code;
	unsigned flags;
	char msg[256];
};

static void on_done(dqlc_future_t *f, void *arg)
{
	struct done *d = arg;
	dqlc_error_t e = {0};
	d->code = dqlc_future_error(f, &e);
	d->flags = e.flags;
	snprintf(d->msg, sizeof d->msg, "%s", e.message);
	pthread_mutex_lock(d->mu);
	d->completed = ct_now_ms();
	(*d->count)++;
	pthread_cond_broadcast(d->cv);
	pthread_mutex_unlock(d->mu);
}

/* A thread that keeps submitting queries for the whole episode and checks
 * that each one ends by its deadline. */
struct prober {
	pthread_t thread;
	dqlc_pool_t *pool;
	atomic_bool stop;
	int n, ok, late, codes[DQLC__ERR_MAX];
	double worst_ms;
	char late_msg[300];
};

static void *probe_main(void *arg)
{
	struct prober *P = arg;
	while (!atomic_load(&P->stop)) {
		dqlc_error_t e = {0};
		int64_t v = 0;
		double t0 = ct_now_ms();
		int rc = ct_query_int_rc(P->pool, "SELECT count(*) FROM t", NULL, 0, &v, &e);
		double took = ct_now_ms() - t0;
		P->n++;
		if (rc >= 0 && rc < DQLC__ERR_MAX)
			P->codes[rc]++;
		if (rc == 0)
			P->ok++;
		if (took > P->worst_ms)
			P->worst_ms = took;
		if (took > STOP_TIMEOUT_MS + SLACK_MS) {
			P->late++;
			if (P->late_msg[0] == '\0')
				snprintf(P->late_msg, sizeof P->late_msg, "%.0f ms: %s %s", took,
					 dqlc_errname(rc), e.message);
		}
	}
	return NULL;
}

static bool count_is(pthread_mutex_t *mu, const int *count, int n)
{
	pthread_mutex_lock(mu);
	bool is = *count == n;
	pthread_mutex_unlock(mu);
	return is;
}

START_TEST(test_stopped_leader)
{
	ct_start(3);
	ct_events_t ev;
	ct_events_init(&ev);
	char query[64];
	/* A worker and a connection for each request of the batch below, so
	 * that every one of them is sent to the stopped leader at once. */
	snprintf(query, sizeof query, "request_timeout_ms=%d&workers=12&pool_max=12",
		 STOP_TIMEOUT_MS);
	dqlc_pool_t *p = ct_pool(ct_uri(tc_addresses(ct_tc), "stopped", query), &ev);
	ct_exec_ok(p, "CREATE TABLE t (id INTEGER PRIMARY KEY)", NULL, 0);
	/* Warm: several pooled connections to the leader. */
	for (int round = 0; round < 3; round++) {
		dqlc_future_t *f[8];
		for (int i = 0; i < 8; i++)
			f[i] = dqlc_pool_query(p, "SELECT count(*) FROM t", NULL, 0);
		for (int i = 0; i < 8; i++) {
			dqlc_error_t e = {0};
			ck_assert_ptr_nonnull(f[i]);
			int rc = dqlc_future_error(f[i], &e);
			ck_assert_msg(rc == 0, "warm-up: %s", e.message);
			dqlc_future_free(f[i]);
		}
	}
	int l = tc_leader(ct_tc);
	ck_assert_int_ge(l, 0);
	char leader[256];
	ct_pool_leader(p, leader, sizeof leader);
	ck_assert_str_eq(leader, ct_addr(l));

	/* Stop the leader; what is sent to it now is in flight until its
	 * deadline. */
	ck_assert_int_eq(tc_stop(ct_tc, l), 0);
	pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
	pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
	int count = 0;
	const int n_req = IN_FLIGHT_READS + IN_FLIGHT_WRITES;
	static struct done d[IN_FLIGHT_READS + IN_FLIGHT_WRITES];
	dqlc_future_t *fs[IN_FLIGHT_READS + IN_FLIGHT_WRITES];
	for (int i = 0; i < n_req; i++) {
		memset(&d[i], 0, sizeof d[i]);
		d[i].mu = &mu;
		d[i].cv = &cv;
		d[i].count = &count;
		d[i].submitted = ct_now_ms();
		fs[i] = i < IN_FLIGHT_READS
			    ? dqlc_pool_query(p, "SELECT count(*) FROM t", NULL, 0)
			    : dqlc_pool_exec(p, "INSERT INTO t DEFAULT VALUES", NULL, 0);
		ck_assert_ptr_nonnull(fs[i]);
		ck_assert_int_eq(dqlc_future_set_callback(fs[i], on_done, &d[i]), 0);
	}
	/* From now on, one more caller keeps asking, through the deadlines of
	 * the batch, the election and after.  (Started after the batch: an
	 * earlier request would time out first and let the pool find the new
	 * leader before the batch's requests were all sent.) */
	static struct prober P;
	memset(&P, 0, sizeof P);
	P.pool = p;
	ck_assert_int_eq(pthread_create(&P.thread, NULL, probe_main, &P), 0);
	/* Nothing hangs: all complete within the deadline and some slack. */
	double until = ct_now_ms() + STOP_TIMEOUT_MS + SLACK_MS + 2000;
	bool ok;
	CT_WAIT(ok, count_is(&mu, &count, n_req), (int64_t)(until - ct_now_ms()));
	ck_assert_msg(ok, "only %d of %d requests to the stopped leader completed", count, n_req);
	for (int i = 0; i < n_req; i++) {
		double took = d[i].completed - d[i].submitted;
		ck_assert_msg(d[i].code == DQLC_ETIMEDOUT, "%s %d: %s %s after %.0f ms",
			      i < IN_FLIGHT_READS ? "read" : "write", i, dqlc_errname(d[i].code),
			      d[i].msg, took);
		ck_assert_msg(took >= STOP_TIMEOUT_MS - 100 && took <= STOP_TIMEOUT_MS + SLACK_MS,
			      "request %d ended after %.0f ms (deadline %d ms)", i, took,
			      STOP_TIMEOUT_MS);
		dqlc_future_free(fs[i]);
	}

	/* A new leader is elected; new requests reach it while the old one
	 * is still stopped. */
	int nl = tc_wait_leader_change(ct_tc, l, 20000);
	ck_assert_int_ge(nl, 0);
	double elected = ct_now_ms();
	int attempts = 0, codes[DQLC__ERR_MAX] = {0};
	int64_t v = 0;
	dqlc_error_t e = {0};
	int rc;
	do {
		double t0 = ct_now_ms();
		memset(&e, 0, sizeof e);
		rc = ct_query_int_rc(p, "SELECT count(*) FROM t", NULL, 0, &v, &e);
		double took = ct_now_ms() - t0;
		attempts++;
		codes[rc]++;
		ck_assert_msg(took <= STOP_TIMEOUT_MS + SLACK_MS, "a query took %.0f ms: %s %s", took,
			      dqlc_errname(rc), e.message);
	} while (rc != 0 && ct_now_ms() - elected < 30000);
	ck_assert_msg(rc == 0, "no query succeeded 30 s after the election: %s %s",
		      dqlc_errname(rc), e.message);
	double first_ok = ct_now_ms() - elected;
	ck_assert_int_eq(tc_node_running(ct_tc, l), 0); /* still stopped */
	wait_pool_leader(p, ct_addr(nl), 10000);
	for (int i = 0; i < 10; i++) {
		ct_exec_ok(p, "INSERT INTO t DEFAULT VALUES", NULL, 0);
		ct_query_int(p, "SELECT count(*) FROM t", NULL, 0);
	}
	ck_assert_int_eq(tc_node_running(ct_tc, l), 0);
	atomic_store(&P.stop, true);
	pthread_join(P.thread, NULL);
	/* Nothing of the pool is left on the stopped node. */
	CT_WAIT(ok, ct_conns_to(ct_addr(l)) == 0, 10000);
	ck_assert_msg(ok, "%d sockets still open to the stopped leader", ct_conns_to(ct_addr(l)));

	/* The old leader continues and follows. */
	ck_assert_int_eq(tc_cont(ct_tc, l), 0);
	int agreed = tc_leader(ct_tc);
	ck_assert_int_ge(agreed, 0);
	ck_assert_int_ne(agreed, l);
	char want[256], got[256];
	const int all[] = {0, 1, 2};
	ct_desc_of(want, sizeof want, all, 3, NULL);
	CT_WAIT(ok, (ct_cluster_desc(p, got, sizeof got, NULL, 0), strcmp(got, want) == 0), 10000);
	ck_assert_msg(ok, "cluster '%s', expected '%s'", got, want);
	int64_t before = ct_query_int(p, "SELECT count(*) FROM t", NULL, 0);
	for (int i = 0; i < 5; i++)
		ct_exec_ok(p, "INSERT INTO t DEFAULT VALUES", NULL, 0);
	ck_assert_int_eq(ct_query_int(p, "SELECT count(*) FROM t", NULL, 0), before + 5);

	dqlc_pool_stats_t st = ct_stats(p);
	fprintf(stderr,
		"stopped-leader: in flight: %d ETIMEDOUT; after the election: first success "
		"after %.0f ms and %d attempts (ETIMEDOUT %d, ENOLEADER %d, ECONNECT %d); "
		"prober: %d queries, %d ok, ETIMEDOUT %d, ENOLEADER %d, ECONNECT %d, worst "
		"%.0f ms; leader_changes %llu, timeouts %llu, LEADER_LOST events %d\n",
		n_req, first_ok, attempts, codes[DQLC_ETIMEDOUT], codes[DQLC_ENOLEADER],
		codes[DQLC_ECONNECT], P.n, P.ok, P.codes[DQLC_ETIMEDOUT], P.codes[DQLC_ENOLEADER],
		P.codes[DQLC_ECONNECT], P.worst_ms, (unsigned long long)st.leader_changes,
		(unsigned long long)st.timeouts, ct_events_lost(&ev));
	ck_assert_msg(P.late == 0, "%d prober queries overran their deadline; first: %s", P.late,
		      P.late_msg);
	for (int c = 1; c < DQLC__ERR_MAX; c++)
		ck_assert_msg(P.codes[c] == 0 || c == DQLC_ETIMEDOUT || c == DQLC_ENOLEADER ||
				      c == DQLC_ECONNECT,
			      "prober saw %d x %s", P.codes[c], dqlc_errname(c));
	ck_assert_uint_ge(st.leader_changes, 1);
	ck_assert_uint_ge(st.timeouts, (uint64_t)n_req);
	ck_assert_msg(ct_events_saw_change(&ev, ct_addr(nl), NULL), "no LEADER_CHANGED to %s",
		      ct_addr(nl));
	ck_assert_int_ge(ct_events_lost(&ev), 1);
	ct_assert_no_crash();
}
END_TEST

int main(void)
{
	Suite *s = suite_create("cluster-failover");
	TCase *t = ct_tcase(s, "transfer", 240);
	tcase_add_test(t, test_transfer_under_load);
	t = ct_tcase(s, "restart", 180);
	tcase_add_test(t, test_restart_follower_then_leader);
	t = ct_tcase(s, "stopped-leader", 180);
	tcase_add_test(t, test_stopped_leader);
	return ct_run(s);
}
