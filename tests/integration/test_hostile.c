/*
 * The client against a hostile server (tests/fakenode): a fake node that
 * answers the handshake and LEADER like a leader, then answers requests
 * with replies built like a real node's and mutated at random (truncated,
 * oversized or zero length words, wrong types, bad padding, garbage, ROWS
 * without markers, huge counts, stalls, resets...).
 *
 * Whatever comes back, every call must end with 0 or one of the error codes
 * a broken server can cause (never a crash, never EINVAL/EMISUSE/ENOMEM
 * and the like), no later than its deadline plus SLACK_MS, and nothing may
 * leak: file descriptors and threads return to their baseline once the
 * client objects are closed, and ASan/LSan or valgrind see the rest.
 *
 * test_faultproxy checks the fault proxy of the chaos run against a
 * well-behaved fake node.
 *
 * Fixed seeds make the main runs reproducible (each worker thread talks to
 * a fake node of its own, one call at a time); test_random_seed adds a run
 * with a seed from the clock, printed first (DQLC_HOSTILE_SEED=N repeats
 * it).  DQLC_HOSTILE_ITERS scales the number of iterations (default 1.0).
 */
#include <check.h>
#include <dirent.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dqlite-client.h"
#include "fakenode.h"
#include "faultproxy.h"

#define TIMEOUT_MS 120 /* request, connect */
#define THREADS 4

static int slack_ms(void)
{
	const char *s = getenv("DQLC_HOSTILE_SLACK_MS");
	return s != NULL && atoi(s) > 0 ? atoi(s) : 1000;
}

static int scaled(int n)
{
	const char *s = getenv("DQLC_HOSTILE_ITERS");
	double f = s != NULL ? atof(s) : 1.0;
	int v = (int)(n * (f > 0 ? f : 1.0));
	return v > 0 ? v : 1;
}

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int count_dir(const char *path)
{
	DIR *d = opendir(path);
	int n = 0;
	if (d == NULL)
		return -1;
	for (struct dirent *e; (e = readdir(d)) != NULL;)
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

static int count_fds(void)
{
	return count_dir("/proc/self/fd") - 1; /* opendir's own */
}

static int count_threads(void)
{
	return count_dir("/proc/self/task");
}

static void *noop(void *arg)
{
	return arg;
}

/* A joined thread can still be listed in /proc/self/task for a moment
 * (pthread_join returns when the kernel clears its tid, before the task is
 * released): wait (bounded) until the count is `want`, or steady. */
static int settled_threads(int want)
{
	int64_t end = now_ms() + 2000;
	int n = count_threads(), steady = 0;
	while (now_ms() < end && n != want && steady < 20) {
		struct timespec ts = {0, 1000000};
		nanosleep(&ts, NULL); /* polling a condition, bounded */
		int m = count_threads();
		steady = m == n ? steady + 1 : 0;
		n = m;
	}
	return n;
}

/* A sanitizer may start a helper thread at the first pthread_create. */
static int thread_baseline(void)
{
	pthread_t t;
	ck_assert_int_eq(pthread_create(&t, NULL, noop, NULL), 0);
	pthread_join(t, NULL);
	return settled_threads(-1);
}

/* Wait (bounded) until the fake node's connection threads have all seen
 * the client go. */
static void wait_fake_idle(fn_t *fn)
{
	int64_t end = now_ms() + 5000;
	while (fn_open_connections(fn) > 0 && now_ms() < end) {
		struct timespec ts = {0, 1000000};
		nanosleep(&ts, NULL); /* polling a condition, bounded */
	}
	ck_assert_msg(fn_open_connections(fn) == 0, "fake node connections still open");
}

/* ---- outcome bookkeeping ------------------------------------------------------ */

struct run {
	fn_t *fn;
	uint64_t seed;
	int iters;
	int pct;
	bool pool; /* else dqlc_connect connections */
	/* results */
	int calls, ok, failures;
	int64_t worst_over_ms; /* largest (elapsed - deadline) seen */
	int codes[DQLC__ERR_MAX];
	char first_failure[512];
};

static void failf(struct run *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void failf(struct run *r, const char *fmt, ...)
{
	if (r->failures++ == 0) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(r->first_failure, sizeof r->first_failure, fmt, ap);
		va_end(ap);
	}
}

/* Codes a broken server may legitimately cause. */
static bool allowed(int code, bool stmt, bool pool)
{
	switch (code) {
	case DQLC_ETIMEDOUT:
	case DQLC_ECONNECT:
	case DQLC_EIO:
	case DQLC_EPROTO:
	case DQLC_ESQL:
	case DQLC_ENOLEADER:
	case DQLC_EBUSY:
		return true;
	case DQLC_EINVAL:
		/* A mutated STMT reply may claim another parameter count (the
		 * pool prepares statements too): more than a 1.11 server takes,
		 * or not the number given. */
		return stmt || pool;
	case DQLC_ECANCELED:
		return pool;
	default:
		return false;
	}
}

/* Judge one call: elapsed time against its deadline and its code. */
static void judge(struct run *r, const char *what, int rc, const dqlc_error_t *e,
		  int64_t start, int64_t deadline_ms, bool stmt)
{
	int64_t took = now_ms() - start;
	r->calls++;
	if (took - deadline_ms > r->worst_over_ms)
		r->worst_over_ms = took - deadline_ms;
	if (took > deadline_ms + slack_ms())
		failf(r, "seed %llu: %s took %lld ms (deadline %lld ms)",
		      (unsigned long long)r->seed, what, (long long)took, (long long)deadline_ms);
	if (rc == 0) {
		r->ok++;
		return;
	}
	if (rc > 0 && rc < DQLC__ERR_MAX)
		r->codes[rc]++;
	if (!allowed(rc, stmt, r->pool))
		failf(r, "seed %llu: %s failed with %s (%s)", (unsigned long long)r->seed, what,
		      dqlc_errname(rc), e ? e->message : "");
	else if (e != NULL && (e->code != rc || e->message[0] == '\0' ||
			       memchr(e->message, '\0', sizeof e->message) == NULL))
		failf(r, "seed %llu: %s: error report inconsistent (code %d vs %d, message '%s')",
		      (unsigned long long)r->seed, what, e->code, rc, e->message);
}

/* ---- connections ---------------------------------------------------------------- */

#define TIMED(r, what, stmt, call)                                              \
	do {                                                                    \
		dqlc_error_t e_ = {0};                                          \
		int64_t t0_ = now_ms();                                         \
		rc = (call);                                                    \
		judge((r), (what), rc, rc ? &e_ : NULL, t0_, TIMEOUT_MS, (stmt)); \
	} while (0)
#define ERR (&e_)

static uint64_t xs(uint64_t *s)
{
	uint64_t x = *s ? *s : 88172645463325252ull;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	*s = x;
	return x;
}

/* One operation on a connection; returns its code. */
static int one_op(struct run *r, dqlc_conn_t *c, uint64_t *rng)
{
	int rc = 0;
	dqlc_value_t p2[] = {DQLC_INT(7), DQLC_TEXT("x")};
	switch (xs(rng) % 11) {
	case 0:
		TIMED(r, "exec", false, dqlc_conn_exec(c, "INSERT INTO t VALUES (?)", p2, 1, NULL, ERR));
		break;
	case 1: {
		dqlc_result_t *res = NULL;
		TIMED(r, "query", false,
		      dqlc_conn_query(c, "SELECT a, b FROM t WHERE x = ?", p2, 1, &res, ERR));
		if (res != NULL) { /* read it all back */
			for (size_t i = 0; i < dqlc_result_row_count(res); i++)
				for (size_t k = 0; k < dqlc_result_column_count(res); k++)
					(void)dqlc_result_text(res, i, k, NULL);
		}
		dqlc_result_free(res);
		break;
	}
	case 2: {
		dqlc_value_t v = DQLC_NULL;
		TIMED(r, "fetchval", false, dqlc_conn_fetchval(c, "SELECT count(*) FROM t", NULL, 0, &v, ERR));
		dqlc_value_clear(&v);
		break;
	}
	case 3:
	case 4: {
		dqlc_stmt_t *s = NULL;
		bool q = xs(rng) & 1;
		TIMED(r, "prepare", false,
		      dqlc_conn_prepare(c, q ? "SELECT * FROM t WHERE a = ? AND b = ?"
					     : "INSERT INTO t VALUES (?, ?)",
					&s, ERR));
		if (rc != 0)
			break;
		dqlc_result_t *res = NULL;
		if (q)
			TIMED(r, "stmt_query", true, dqlc_stmt_query(s, p2, 2, &res, ERR));
		else
			TIMED(r, "stmt_exec", true, dqlc_stmt_exec(s, p2, 2, &res, ERR));
		dqlc_result_free(res);
		int64_t t0 = now_ms();
		dqlc_stmt_finalize(s);
		judge(r, "stmt_finalize", 0, NULL, t0, TIMEOUT_MS, false);
		break;
	}
	case 5: {
		dqlc_cursor_t *cur = NULL;
		TIMED(r, "cursor", false, dqlc_conn_cursor(c, "SELECT * FROM t", NULL, 0, &cur, ERR));
		if (rc != 0)
			break;
		int rows = 0, stop = (int)(xs(rng) % 6);
		for (;;) {
			int64_t t0 = now_ms();
			bool more = dqlc_cursor_next(cur);
			dqlc_error_t e = {0};
			int crc = more ? 0 : dqlc_cursor_error(cur, &e);
			judge(r, "cursor_next", crc, crc ? &e : NULL, t0, TIMEOUT_MS, false);
			if (!more || ++rows >= 1000 || rows == stop)
				break;
			for (size_t k = 0; k < dqlc_cursor_column_count(cur); k++)
				(void)dqlc_cursor_value(cur, k);
		}
		int64_t t0 = now_ms();
		dqlc_cursor_close(cur); /* may INTERRUPT and drain */
		judge(r, "cursor_close", 0, NULL, t0, TIMEOUT_MS, false);
		break;
	}
	case 6:
		TIMED(r, "begin", false, dqlc_conn_begin(c, ERR));
		if (rc == 0)
			TIMED(r, "exec-in-tx", false,
			      dqlc_conn_exec(c, "INSERT INTO t VALUES (?)", p2, 1, NULL, ERR));
		if (rc == 0)
			TIMED(r, "commit", false, dqlc_conn_commit(c, ERR));
		else if (dqlc_conn_in_transaction(c))
			TIMED(r, "rollback", false, dqlc_conn_rollback(c, ERR));
		break;
	case 7: {
		dqlc_node_info_t info;
		TIMED(r, "leader", false, dqlc_conn_leader(c, &info, ERR));
		break;
	}
	case 8: {
		dqlc_node_info_t *nodes = NULL;
		size_t n = 0;
		TIMED(r, "cluster", false, dqlc_conn_cluster(c, &nodes, &n, ERR));
		dqlc_nodes_free(nodes);
		break;
	}
	case 9: {
		uint64_t fd, w;
		TIMED(r, "describe", false, dqlc_conn_describe(c, &fd, &w, ERR));
		break;
	}
	default: {
		dqlc_dump_t *d = NULL;
		TIMED(r, "dump", false, dqlc_conn_dump(c, "hostile", &d, ERR));
		dqlc_dump_free(d);
		break;
	}
	}
	return rc;
}

static void conn_iteration(struct run *r, int i, const char *uri)
{
	uint64_t seed = r->seed * 1000003u + (uint64_t)i;
	fn_plan_t plan = {.seed = seed, .mutate_pct = r->pct, .spare_handshake = i % 4 != 0,
			  .only = -1};
	fn_set_plan(r->fn, &plan);
	uint64_t rng = seed ^ 0x5bd1e995u;
	dqlc_conn_t *c = NULL;
	int rc;
	TIMED(r, "connect", false, dqlc_connect(uri, NULL, &c, ERR));
	if (rc != 0)
		return;
	int ops = 1 + (int)(xs(&rng) % 4);
	for (int k = 0; k < ops && rc == 0 && dqlc_conn_usable(c); k++)
		rc = one_op(r, c, &rng);
	/* A broken connection keeps failing, quickly and with EIO. */
	if (!dqlc_conn_usable(c))
		one_op(r, c, &rng);
	int64_t t0 = now_ms();
	dqlc_conn_close(c);
	judge(r, "close", 0, NULL, t0, TIMEOUT_MS, false);
}

static void make_uri(char *buf, size_t len, const char *addr, const char *extra)
{
	snprintf(buf, len,
		 "dqlite://%s/hostile?connect_timeout_ms=%d&request_timeout_ms=%d"
		 "&dial_timeout_ms=%d&backoff_cap_ms=20%s",
		 addr, TIMEOUT_MS, TIMEOUT_MS, TIMEOUT_MS, extra);
}

static void *conn_worker(void *arg)
{
	struct run *r = arg;
	char uri[256];
	make_uri(uri, sizeof uri, fn_address(r->fn), "");
	for (int i = 0; i < r->iters; i++)
		conn_iteration(r, i, uri);
	return NULL;
}

/* ---- pool ------------------------------------------------------------------------ */

struct pend {
	dqlc_future_t *f;
	int64_t submit, deadline_ms;
	_Atomic int64_t done_at; /* set by the callback */
	bool cancel;
};

static void on_done(dqlc_future_t *f, void *arg)
{
	(void)f;
	struct pend *p = arg;
	atomic_store(&p->done_at, now_ms());
}

struct txarg {
	int kind;
};

static int tx_fn(dqlc_conn_t *c, void *arg)
{
	struct txarg *a = arg;
	dqlc_value_t p1[] = {DQLC_INT(1)};
	dqlc_result_t *res = NULL;
	int rc = dqlc_conn_query(c, "SELECT a FROM t WHERE x = ?", p1, 1, &res, NULL);
	dqlc_result_free(res);
	if (rc == 0)
		rc = dqlc_conn_exec(c, "UPDATE t SET a = a + 1 WHERE x = ?", p1, 1, NULL, NULL);
	return a->kind == 2 ? DQLC_EINVAL /* the function's own veto */ : rc;
}

static void *pool_worker(void *arg)
{
	struct run *r = arg;
	char uri[256];
	make_uri(uri, sizeof uri, fn_address(r->fn), "&workers=3&pool_max=4&health_check_idle_ms=0");
	uint64_t rng = r->seed ^ 0x9e3779b9u;
	fn_plan_t plan = {.seed = r->seed, .mutate_pct = r->pct, .spare_handshake = true, .only = -1};
	fn_set_plan(r->fn, &plan);
	dqlc_pool_t *pool = NULL;
	dqlc_error_t e = {0};
	if (dqlc_pool_create(uri, NULL, &pool, &e) != 0) {
		failf(r, "pool_create: %s", e.message);
		return NULL;
	}
	enum { BATCH = 16 };
	struct pend pend[BATCH];
	for (int done = 0; done < r->iters; done += BATCH) {
		for (int k = 0; k < BATCH; k++) {
			struct pend *p = &pend[k];
			dqlc_value_t par[] = {DQLC_INT(k)};
			dqlc_req_opts_t o = {sizeof o, 30 + (int64_t)(xs(&rng) % 200), 0};
			if (xs(&rng) % 5 == 0)
				o.flags = DQLC_REQ_IDEMPOTENT;
			p->submit = now_ms();
			p->deadline_ms = o.timeout_ms;
			atomic_store(&p->done_at, 0);
			p->cancel = xs(&rng) % 8 == 0;
			p->f = xs(&rng) & 1
				   ? dqlc_pool_exec_opts(pool, "INSERT INTO t VALUES (?)", par, 1, &o)
				   : dqlc_pool_query_opts(pool, "SELECT * FROM t WHERE a = ?", par, 1, &o);
			ck_assert_ptr_nonnull(p->f);
			ck_assert_int_eq(dqlc_future_set_callback(p->f, on_done, p), 0);
		}
		for (int k = 0; k < BATCH; k++)
			if (pend[k].cancel)
				dqlc_future_cancel(pend[k].f);
		/* A transaction now and then, on this thread. */
		if (xs(&rng) % 4 == 0) {
			struct txarg a = {.kind = (int)(xs(&rng) % 3)};
			dqlc_error_t te = {0};
			int64_t t0 = now_ms();
			int rc = dqlc_pool_transaction(pool, tx_fn, &a, &te);
			if (rc == DQLC_EINVAL && a.kind == 2)
				rc = 0; /* the veto came back: fine */
			judge(r, "transaction", rc, rc ? &te : NULL, t0, TIMEOUT_MS, false);
		}
		for (int k = 0; k < BATCH; k++) {
			struct pend *p = &pend[k];
			dqlc_error_t fe = {0};
			int rc = dqlc_future_error(p->f, &fe);
			dqlc_result_free(dqlc_future_take_result(p->f));
			/* The callback runs right after completion: wait for it
			 * (bounded), it holds the completion time. */
			int64_t end = now_ms() + 2000;
			while (atomic_load(&p->done_at) == 0 && now_ms() < end) {
				struct timespec ts = {0, 200000};
				nanosleep(&ts, NULL);
			}
			int64_t at = atomic_load(&p->done_at);
			if (at == 0) {
				failf(r, "seed %llu: a future's callback never ran",
				      (unsigned long long)r->seed);
				at = now_ms();
			}
			/* judge() measures from `submit` to now: feed it the
			 * completion time instead. */
			int64_t took = at - p->submit;
			r->calls++;
			if (took - p->deadline_ms > r->worst_over_ms)
				r->worst_over_ms = took - p->deadline_ms;
			if (took > p->deadline_ms + slack_ms())
				failf(r, "seed %llu: a future completed %lld ms after submit (deadline %lld)",
				      (unsigned long long)r->seed, (long long)took,
				      (long long)p->deadline_ms);
			if (rc == 0) {
				r->ok++;
			} else {
				if (rc > 0 && rc < DQLC__ERR_MAX)
					r->codes[rc]++;
				if (!allowed(rc, false, true) ||
				    (rc == DQLC_ECANCELED && !p->cancel))
					failf(r, "seed %llu: future failed with %s (%s)",
					      (unsigned long long)r->seed, dqlc_errname(rc), fe.message);
			}
			dqlc_future_free(p->f);
		}
	}
	dqlc_pool_stats_t st = {.struct_size = sizeof st};
	dqlc_pool_stats(pool, &st, NULL);
	int64_t t0 = now_ms();
	dqlc_pool_close(pool);
	int64_t took = now_ms() - t0;
	if (took > TIMEOUT_MS + slack_ms())
		failf(r, "seed %llu: pool_close took %lld ms", (unsigned long long)r->seed,
		      (long long)took);
	return NULL;
}

/* ---- runs ------------------------------------------------------------------------- */

static void report(const char *name, struct run *runs, int n)
{
	int calls = 0, ok = 0, failures = 0;
	int64_t worst = -1000000;
	int codes[DQLC__ERR_MAX] = {0};
	uint64_t muts[FN__COUNT] = {0};
	for (int t = 0; t < n; t++) {
		calls += runs[t].calls;
		ok += runs[t].ok;
		failures += runs[t].failures;
		if (runs[t].worst_over_ms > worst)
			worst = runs[t].worst_over_ms;
		for (int c = 0; c < DQLC__ERR_MAX; c++)
			codes[c] += runs[t].codes[c];
	}
	fprintf(stderr, "%s: %d calls, %d ok, worst overrun %+lld ms; errors:", name, calls, ok,
		(long long)worst);
	for (int c = 1; c < DQLC__ERR_MAX; c++)
		if (codes[c])
			fprintf(stderr, " %s=%d", dqlc_errname(c), codes[c]);
	fprintf(stderr, "\n");
	(void)muts;
	for (int t = 0; t < n; t++)
		if (runs[t].failures)
			fprintf(stderr, "%s: thread %d: %d failures; first: %s\n", name, t,
				runs[t].failures, runs[t].first_failure);
	ck_assert_msg(failures == 0, "%s: %d failures (first ones above)", name, failures);
	ck_assert_msg(calls > 0, "%s: no call made", name);
}

static void run_threads(const char *name, uint64_t seed, int iters_per_thread, bool pool,
			int pct)
{
	int fds0 = count_fds();
	int threads0 = thread_baseline();
	struct run runs[THREADS];
	pthread_t th[THREADS];
	memset(runs, 0, sizeof runs);
	for (int t = 0; t < THREADS; t++) {
		runs[t].fn = fn_start();
		ck_assert_ptr_nonnull(runs[t].fn);
		runs[t].seed = seed + (uint64_t)t;
		runs[t].iters = iters_per_thread;
		runs[t].pool = pool;
		runs[t].pct = pct;
		runs[t].worst_over_ms = -1000000;
	}
	for (int t = 0; t < THREADS; t++)
		ck_assert_int_eq(pthread_create(&th[t], NULL, pool ? pool_worker : conn_worker,
						&runs[t]),
				 0);
	for (int t = 0; t < THREADS; t++)
		pthread_join(th[t], NULL);
	uint64_t muts[FN__COUNT] = {0};
	for (int t = 0; t < THREADS; t++) {
		wait_fake_idle(runs[t].fn);
		for (int m = 0; m < FN__COUNT; m++)
			muts[m] += fn_count(runs[t].fn, (fn_mut_t)m);
		fn_stop(runs[t].fn);
	}
	fprintf(stderr, "%s: replies:", name);
	for (int m = 0; m < FN__COUNT; m++)
		fprintf(stderr, " %s=%llu", fn_mut_name((fn_mut_t)m), (unsigned long long)muts[m]);
	fprintf(stderr, "\n");
	report(name, runs, THREADS);
	ck_assert_int_eq(count_fds(), fds0);
	ck_assert_int_eq(settled_threads(threads0), threads0);
}

START_TEST(test_conn_fixed_seed)
{
	/* _i: 4 seeds x THREADS threads; a few thousand iterations in all. */
	run_threads("conn", 1000 + (uint64_t)_i * 100, scaled(160), false, 30);
}
END_TEST

START_TEST(test_conn_handshake_mutated)
{
	/* Every reply, LEADER and OPEN included, may be mutated. */
	run_threads("conn-all", 7000 + (uint64_t)_i * 100, scaled(100), false, 60);
}
END_TEST

START_TEST(test_pool_fixed_seed)
{
	run_threads("pool", 5000 + (uint64_t)_i * 100, scaled(160), true, 30);
}
END_TEST

/* Every mutation on its own, through connections: each is met. */
START_TEST(test_each_mutation)
{
	int fds0 = count_fds();
	fn_t *fn = fn_start();
	ck_assert_ptr_nonnull(fn);
	char uri[256];
	make_uri(uri, sizeof uri, fn_address(fn), "");
	struct run r = {.fn = fn, .seed = 42 + (uint64_t)_i, .worst_over_ms = -1000000};
	for (int i = 0; i < 12; i++) {
		fn_plan_t plan = {.seed = r.seed * 31 + (uint64_t)i, .mutate_pct = 100,
				  .spare_handshake = true, .only = _i};
		fn_set_plan(fn, &plan);
		dqlc_conn_t *c = NULL;
		int rc;
		TIMED(&r, "connect", false, dqlc_connect(uri, NULL, &c, ERR));
		if (rc != 0)
			continue;
		uint64_t rng = plan.seed;
		for (int k = 0; k < 3; k++)
			one_op(&r, c, &rng);
		dqlc_conn_close(c);
	}
	wait_fake_idle(fn);
	ck_assert_uint_gt(fn_count(fn, (fn_mut_t)_i), 0);
	fn_stop(fn);
	char name[64];
	snprintf(name, sizeof name, "only-%s", fn_mut_name((fn_mut_t)_i));
	report(name, &r, 1);
	ck_assert_int_eq(count_fds(), fds0);
}
END_TEST

/* A request still queued when its deadline passes completes then, even if
 * every worker is stuck on a server that never answers (found by the chaos
 * run: it used to wait for a worker and complete seconds late). */
START_TEST(test_queued_request_deadline)
{
	int fds0 = count_fds();
	fn_t *fn = fn_start();
	ck_assert_ptr_nonnull(fn);
	fn_plan_t plan = {.seed = 9, .mutate_pct = 100, .spare_handshake = true, .only = FN_STALL};
	fn_set_plan(fn, &plan);
	char uri[256];
	make_uri(uri, sizeof uri, fn_address(fn), "&workers=1&pool_max=1");
	dqlc_pool_t *pool = NULL;
	dqlc_error_t e = {0};
	ck_assert_int_eq(dqlc_pool_create(uri, NULL, &pool, &e), 0);
	/* The only worker blocks on a stalled reply for 4 s... */
	dqlc_req_opts_t slow = {sizeof slow, 4000, 0};
	struct pend a = {.submit = now_ms(), .deadline_ms = 4000};
	a.f = dqlc_pool_query_opts(pool, "SELECT 1", NULL, 0, &slow);
	ck_assert_int_eq(dqlc_future_set_callback(a.f, on_done, &a), 0);
	int64_t until = now_ms() + 3000;
	while (fn_count(fn, FN_STALL) == 0 && now_ms() < until) {
		struct timespec ts = {0, 1000000};
		nanosleep(&ts, NULL); /* polling a condition, bounded */
	}
	ck_assert_uint_gt(fn_count(fn, FN_STALL), 0);
	dqlc_pool_stats_t ps = {.struct_size = sizeof ps};
	ck_assert_int_eq(dqlc_pool_stats(pool, &ps, NULL), 0);
	ck_assert_uint_eq(ps.in_flight, 1); /* the slow one, on the only worker */
	/* ...so these stay queued until their own deadline, which must end them. */
	struct pend b[3];
	for (int k = 0; k < 3; k++) {
		dqlc_req_opts_t o = {sizeof o, 100 + 50 * k, 0};
		b[k].submit = now_ms();
		b[k].deadline_ms = o.timeout_ms;
		atomic_store(&b[k].done_at, 0);
		b[k].f = k == 1 ? dqlc_pool_exec_opts(pool, "INSERT INTO t VALUES (1)", NULL, 0, &o)
				: dqlc_pool_query_opts(pool, "SELECT 2", NULL, 0, &o);
		ck_assert_int_eq(dqlc_future_set_callback(b[k].f, on_done, &b[k]), 0);
	}
	for (int k = 0; k < 3; k++) {
		dqlc_error_t fe = {0};
		ck_assert_int_eq(dqlc_future_error(b[k].f, &fe), DQLC_ETIMEDOUT);
		int64_t end = now_ms() + 2000;
		while (atomic_load(&b[k].done_at) == 0 && now_ms() < end) {
			struct timespec ts = {0, 200000};
			nanosleep(&ts, NULL);
		}
		int64_t took = atomic_load(&b[k].done_at) - b[k].submit;
		ck_assert_msg(took <= b[k].deadline_ms + 500,
			      "queued request %d completed after %lld ms (deadline %lld ms): %s", k,
			      (long long)took, (long long)b[k].deadline_ms, fe.message);
		dqlc_future_free(b[k].f);
	}
	dqlc_error_t ae = {0};
	int arc = dqlc_future_error(a.f, &ae);
	ck_assert_int_eq(arc, DQLC_ETIMEDOUT);
	dqlc_future_free(a.f);
	dqlc_pool_close(pool);
	wait_fake_idle(fn);
	fn_stop(fn);
	ck_assert_int_eq(count_fds(), fds0);
}
END_TEST

/* The fault proxy (tests/faultproxy, used by the chaos run) in front of a
 * well-behaved fake node: it rewrites the node's address in LEADER replies
 * (else the client would go around it), and each fault does what it says. */
START_TEST(test_faultproxy)
{
	int fds0 = count_fds();
	fn_t *fn = fn_start();
	ck_assert_ptr_nonnull(fn);
	fn_plan_t plan = {.seed = 5, .mutate_pct = 0, .only = -1};
	fn_set_plan(fn, &plan);
	fp_t *fp = fp_new();
	ck_assert_ptr_nonnull(fp);
	char addr[64], uri[256];
	ck_assert_int_eq(fp_add(fp, fn_address(fn), addr, sizeof addr), 0);
	make_uri(uri, sizeof uri, addr, "");
	dqlc_conn_t *c = NULL;
	dqlc_error_t e = {0};
	dqlc_node_info_t info;
	ck_assert_msg(dqlc_connect(uri, NULL, &c, &e) == 0, "through the proxy: %s", e.message);
	ck_assert_int_eq(dqlc_conn_leader(c, &info, &e), 0);
	ck_assert_str_eq(info.address, addr); /* rewritten */
	fp_stats_t st;
	fp_stats(fp, &st);
	ck_assert_uint_ge(st.rewritten, 2);
	/* A delay of 25 ms each way shows in a round trip. */
	ck_assert_int_eq(fp_delay(fp, 0, FP_BOTH, 25), 0);
	int64_t t0 = now_ms();
	int rc0 = dqlc_conn_exec(c, "INSERT INTO t VALUES (1)", NULL, 0, NULL, &e);
	ck_assert_msg(rc0 == 0, "delayed exec: %s", e.message);
	ck_assert_int_ge(now_ms() - t0, 48);
	ck_assert_int_eq(fp_clear(fp, 0), 0);
	/* Replies black-holed: the call ends at its deadline. */
	ck_assert_int_eq(fp_blackhole(fp, 0, FP_TO_CLIENT, true), 0);
	t0 = now_ms();
	ck_assert_int_eq(dqlc_conn_exec(c, "INSERT INTO t VALUES (1)", NULL, 0, NULL, &e),
			 DQLC_ETIMEDOUT);
	ck_assert(e.flags & DQLC_ERRF_MAYBE_EXECUTED);
	ck_assert_int_le(now_ms() - t0, TIMEOUT_MS + slack_ms());
	dqlc_conn_close(c);
	fp_clear(fp, -1);
	/* Each armed fault fires once and breaks the call that meets it. */
	for (int k = FP_ARM_RESET_MID_REPLY; k < FP_ARM__COUNT; k++) {
		c = NULL;
		ck_assert_msg(dqlc_connect(uri, NULL, &c, &e) == 0, "%s", e.message);
		ck_assert_int_eq(fp_arm(fp, 0, (fp_arm_t)k), 0);
		dqlc_result_t *res = NULL;
		int rc = dqlc_conn_query(c, "SELECT a FROM t", NULL, 0, &res, &e);
		dqlc_result_free(res);
		ck_assert_msg(rc == DQLC_EIO || rc == DQLC_EPROTO || rc == DQLC_ETIMEDOUT,
			      "%s: %s (%s)", fp_arm_name((fp_arm_t)k), dqlc_errname(rc), e.message);
		fp_stats(fp, &st);
		ck_assert_uint_eq(st.fired[k], 1);
		dqlc_conn_close(c);
	}
	/* Refused connections: no leader to be found. */
	ck_assert_int_eq(fp_refuse(fp, 0, true), 0);
	c = NULL;
	ck_assert_int_ne(dqlc_connect(uri, NULL, &c, &e), 0);
	fp_stats(fp, &st);
	ck_assert_uint_ge(st.refused, 1);
	ck_assert(fp_wait_idle(fp, 5000));
	fp_free(fp);
	wait_fake_idle(fn);
	fn_stop(fn);
	ck_assert_int_eq(count_fds(), fds0);
}
END_TEST

START_TEST(test_random_seed)
{
	const char *env = getenv("DQLC_HOSTILE_SEED");
	uint64_t seed = env != NULL ? strtoull(env, NULL, 0) : (uint64_t)time(NULL) ^ (uint64_t)getpid();
	fprintf(stderr, "test_random_seed: seed %llu (DQLC_HOSTILE_SEED=%llu repeats it)\n",
		(unsigned long long)seed, (unsigned long long)seed);
	run_threads("random-conn", seed, scaled(60), false, 40);
	run_threads("random-pool", seed, scaled(48), true, 40);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("hostile");
	TCase *tc = tcase_create("hostile");
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, test_queued_request_deadline);
	tcase_add_test(tc, test_faultproxy);
	tcase_add_loop_test(tc, test_each_mutation, 1, FN__COUNT);
	tcase_add_loop_test(tc, test_conn_fixed_seed, 0, 4);
	tcase_add_loop_test(tc, test_conn_handshake_mutated, 0, 1);
	tcase_add_loop_test(tc, test_pool_fixed_seed, 0, 2);
	tcase_add_test(tc, test_random_seed);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
