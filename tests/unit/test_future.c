/*
 * Unit tests for the future state machine (src/future.c) without a pool or
 * a server: futures made with dqlc__future_new(NULL, ...) and completed with
 * dqlc__future_complete() from other threads.  Also the jittered backoff and
 * the per-process random numbers (src/rand.c).
 */
#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "error.h"
#include "future.h"
#include "rand.h"
#include "result.h"

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))

static struct dqlc_future *new_future(void)
{
	struct dqlc_future *f =
	    dqlc__future_new(NULL, DQLC__JOB_QUERY, "SELECT 1", NULL, 0, NULL, 0);
	ck_assert_ptr_nonnull(f);
	return f;
}

static void sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* ---- A completer thread ---------------------------------------------------- */

struct completer {
	pthread_t thread;
	struct dqlc_future *f;
	int delay_ms;
	int code;
	dqlc_error_t err;
	bool with_err;
	dqlc_result_t *result;
};

static void *complete_main(void *arg)
{
	struct completer *c = arg;
	if (c->delay_ms > 0)
		sleep_ms(c->delay_ms);
	dqlc__future_complete(c->f, c->code, c->with_err ? &c->err : NULL, c->result, true);
	return NULL;
}

static void complete_later(struct completer *c, struct dqlc_future *f, int delay_ms, int code)
{
	memset(c, 0, sizeof *c);
	c->f = f;
	c->delay_ms = delay_ms;
	c->code = code;
	ck_assert_int_eq(pthread_create(&c->thread, NULL, complete_main, c), 0);
}

static void join(struct completer *c)
{
	ck_assert_int_eq(pthread_join(c->thread, NULL), 0);
}

/* ---- A callback that records where and how often it ran -------------------- */

struct cb_rec {
	atomic_int calls;
	pthread_t thread;
	struct dqlc_future *f;
	bool ready_inside;
	int code_inside;
	dqlc_error_t err_inside;
};

static void record_cb(dqlc_future_t *f, void *arg)
{
	struct cb_rec *r = arg;
	r->thread = pthread_self();
	r->f = f;
	r->ready_inside = dqlc_future_ready(f);
	/* accessors work inside the callback (no lock held) */
	r->code_inside = dqlc_future_error(f, &r->err_inside);
	atomic_fetch_add(&r->calls, 1);
}

static void other_cb(dqlc_future_t *f, void *arg)
{
	(void)f;
	atomic_fetch_add((atomic_int *)arg, 1);
}

/* =========================================================================
 * Waiting
 * ========================================================================= */

START_TEST(test_wait_returns_code)
{
	static const int codes[] = {0, DQLC_ESQL, DQLC_ETIMEDOUT, DQLC_ECLOSED, DQLC_EIO};
	struct completer c;
	size_t i;
	for (i = 0; i < N_ELEMS(codes); i++) {
		struct dqlc_future *f = new_future();
		ck_assert(!dqlc_future_ready(f));
		complete_later(&c, f, 20, codes[i]);
		ck_assert_int_eq(dqlc_future_wait(f), codes[i]);
		ck_assert(dqlc_future_ready(f));
		/* waiting again gives the same code at once */
		ck_assert_int_eq(dqlc_future_wait(f), codes[i]);
		ck_assert_int_eq(dqlc_future_wait_for(f, 0), codes[i]);
		ck_assert_int_eq(dqlc_future_wait_for(f, 1000), codes[i]);
		join(&c);
		dqlc_future_free(f);
	}
}
END_TEST

START_TEST(test_wait_for_times_out)
{
	struct dqlc_future *f = new_future();
	struct completer c;
	int64_t t0, elapsed;

	t0 = dqlc__now_ns();
	ck_assert_int_eq(dqlc_future_wait_for(f, 60), DQLC_ETIMEDOUT);
	elapsed = dqlc__now_ns() - t0;
	ck_assert_msg(elapsed >= 55 * 1000000LL, "returned after %lld ns", (long long)elapsed);
	ck_assert_msg(elapsed < 5000 * 1000000LL, "returned after %lld ns", (long long)elapsed);
	/* it did not complete (or cancel) the future */
	ck_assert(!dqlc_future_ready(f));
	ck_assert_int_eq(dqlc_future_wait_for(f, 0), DQLC_ETIMEDOUT);
	ck_assert_int_eq(dqlc_future_wait_for(f, -5), DQLC_ETIMEDOUT);
	ck_assert(!dqlc_future_ready(f));

	/* completes later, and the real outcome arrives */
	complete_later(&c, f, 30, DQLC_ESQL);
	ck_assert_int_eq(dqlc_future_wait_for(f, 10000), DQLC_ESQL);
	ck_assert(dqlc_future_ready(f));
	join(&c);
	dqlc_future_free(f);
}
END_TEST

/* A huge timeout is "wait as long as it takes", not an overflow. */
START_TEST(test_wait_for_huge_timeout)
{
	struct dqlc_future *f = new_future();
	struct completer c;
	complete_later(&c, f, 20, 0);
	ck_assert_int_eq(dqlc_future_wait_for(f, INT64_MAX), 0);
	join(&c);
	dqlc_future_free(f);
}
END_TEST

struct waiter {
	pthread_t thread;
	struct dqlc_future *f;
	int rv;
	bool timed;
};

static void *wait_main(void *arg)
{
	struct waiter *w = arg;
	w->rv = w->timed ? dqlc_future_wait_for(w->f, 10000) : dqlc_future_wait(w->f);
	return NULL;
}

/* Many threads wait on one future; one completion wakes them all. */
START_TEST(test_many_waiters)
{
	struct dqlc_future *f = new_future();
	struct waiter w[8];
	size_t i;
	for (i = 0; i < N_ELEMS(w); i++) {
		w[i].f = f;
		w[i].rv = -1;
		w[i].timed = i % 2 == 1;
		ck_assert_int_eq(pthread_create(&w[i].thread, NULL, wait_main, &w[i]), 0);
	}
	sleep_ms(30);
	dqlc__future_complete(f, DQLC_EBUSY, NULL, NULL, true);
	for (i = 0; i < N_ELEMS(w); i++) {
		ck_assert_int_eq(pthread_join(w[i].thread, NULL), 0);
		ck_assert_int_eq(w[i].rv, DQLC_EBUSY);
	}
	dqlc_future_free(f);
}
END_TEST

/* =========================================================================
 * Callbacks
 * ========================================================================= */

START_TEST(test_callback_before_completion)
{
	struct dqlc_future *f = new_future();
	struct completer c;
	struct cb_rec rec;
	atomic_int other = 0;

	memset(&rec, 0, sizeof rec);
	ck_assert_int_eq(dqlc_future_set_callback(f, record_cb, &rec), 0);
	ck_assert_int_eq(atomic_load(&rec.calls), 0);
	/* a second registration is refused and never runs */
	ck_assert_int_eq(dqlc_future_set_callback(f, other_cb, &other), DQLC_EMISUSE);
	ck_assert_int_eq(dqlc_future_set_callback(f, record_cb, &rec), DQLC_EMISUSE);

	complete_later(&c, f, 20, DQLC_ECONNECT);
	join(&c); /* the completer returns only after the callback ran */
	ck_assert_int_eq(atomic_load(&rec.calls), 1);
	ck_assert(pthread_equal(rec.thread, c.thread));
	ck_assert_ptr_eq(rec.f, f);
	ck_assert(rec.ready_inside);
	ck_assert_int_eq(rec.code_inside, DQLC_ECONNECT);
	ck_assert_int_eq(rec.err_inside.code, DQLC_ECONNECT);
	ck_assert_int_eq(dqlc_future_wait(f), DQLC_ECONNECT);
	ck_assert_int_eq(atomic_load(&rec.calls), 1);
	ck_assert_int_eq(atomic_load(&other), 0);
	dqlc_future_free(f);
	ck_assert_int_eq(atomic_load(&rec.calls), 1);
}
END_TEST

START_TEST(test_callback_after_completion)
{
	struct dqlc_future *f = new_future();
	struct completer c;
	struct cb_rec rec;
	atomic_int other = 0;

	memset(&rec, 0, sizeof rec);
	complete_later(&c, f, 0, 0);
	join(&c);
	ck_assert(dqlc_future_ready(f));
	/* already complete: runs right here, before set_callback returns */
	ck_assert_int_eq(dqlc_future_set_callback(f, record_cb, &rec), 0);
	ck_assert_int_eq(atomic_load(&rec.calls), 1);
	ck_assert(pthread_equal(rec.thread, pthread_self()));
	ck_assert_int_eq(rec.code_inside, 0);
	ck_assert_int_eq(dqlc_future_set_callback(f, other_cb, &other), DQLC_EMISUSE);
	ck_assert_int_eq(atomic_load(&other), 0);
	ck_assert_int_eq(atomic_load(&rec.calls), 1);
	dqlc_future_free(f);
}
END_TEST

/* A completion that must not run callbacks (a forked child completing its
 * parent's futures) does not; a late registration then runs inline. */
START_TEST(test_callback_suppressed)
{
	struct dqlc_future *f = new_future();
	struct cb_rec rec;
	memset(&rec, 0, sizeof rec);
	ck_assert_int_eq(dqlc_future_set_callback(f, record_cb, &rec), 0);
	dqlc__future_complete(f, DQLC_EFORKED, NULL, NULL, false);
	ck_assert_int_eq(atomic_load(&rec.calls), 0);
	ck_assert_int_eq(dqlc_future_wait(f), DQLC_EFORKED);
	dqlc_future_free(f);
}
END_TEST

/* The owner may free the future from inside its callback. */
static void free_in_cb(dqlc_future_t *f, void *arg)
{
	atomic_fetch_add((atomic_int *)arg, 1);
	dqlc_future_free(f);
}

START_TEST(test_free_inside_callback)
{
	struct dqlc_future *f = new_future();
	struct completer c;
	atomic_int calls = 0;
	ck_assert_int_eq(dqlc_future_set_callback(f, free_in_cb, &calls), 0);
	complete_later(&c, f, 10, 0);
	join(&c);
	ck_assert_int_eq(atomic_load(&calls), 1);
	/* (ASan/valgrind: no leak, no use after free) */
}
END_TEST

START_TEST(test_set_callback_null)
{
	struct dqlc_future *f = new_future();
	struct cb_rec rec;
	memset(&rec, 0, sizeof rec);
	ck_assert_int_eq(dqlc_future_set_callback(f, NULL, &rec), DQLC_EINVAL);
	/* a refused NULL does not use up the one registration */
	ck_assert_int_eq(dqlc_future_set_callback(f, record_cb, &rec), 0);
	dqlc__future_complete(f, 0, NULL, NULL, true);
	ck_assert_int_eq(atomic_load(&rec.calls), 1);
	dqlc_future_free(f);
}
END_TEST

/* =========================================================================
 * Outcome: results and errors
 * ========================================================================= */

START_TEST(test_take_result_once)
{
	struct dqlc_future *f = new_future();
	dqlc_result_t *r = dqlc__result_new(), *got;
	struct completer c;

	ck_assert_ptr_nonnull(r);
	r->rows_affected = 3;
	memset(&c, 0, sizeof c);
	c.f = f;
	c.delay_ms = 20;
	c.result = r;
	ck_assert_int_eq(pthread_create(&c.thread, NULL, complete_main, &c), 0);
	got = dqlc_future_take_result(f); /* waits */
	ck_assert_ptr_eq(got, r);
	ck_assert_int_eq(dqlc_result_rows_affected(got), 3);
	ck_assert_ptr_null(dqlc_future_take_result(f));
	ck_assert_ptr_null(dqlc_future_take_result(f));
	join(&c);
	dqlc_future_free(f);
	/* the caller owns it now: still valid after the future is gone */
	ck_assert_int_eq(dqlc_result_rows_affected(got), 3);
	dqlc_result_free(got);
}
END_TEST

START_TEST(test_result_freed_with_future)
{
	struct dqlc_future *f = new_future();
	dqlc_result_t *r = dqlc__result_new();
	ck_assert_ptr_nonnull(r);
	dqlc__future_complete(f, 0, NULL, r, true);
	/* never taken: freeing the future frees it (ASan/valgrind: no leak) */
	dqlc_future_free(f);
}
END_TEST

START_TEST(test_error_copied)
{
	struct dqlc_future *f = new_future();
	struct completer c;
	dqlc_error_t e;

	memset(&c, 0, sizeof c);
	c.f = f;
	c.delay_ms = 20;
	c.code = DQLC_ESQL;
	c.with_err = true;
	dqlc__err_server(&c.err, DQLC_SQLITE_BUSY, "database is locked");
	ck_assert_int_eq(pthread_create(&c.thread, NULL, complete_main, &c), 0);
	memset(&e, 0x5a, sizeof e);
	ck_assert_int_eq(dqlc_future_error(f, &e), DQLC_ESQL); /* waits */
	ck_assert_int_eq(e.code, DQLC_ESQL);
	ck_assert_int_eq(e.sqlite_code, DQLC_SQLITE_BUSY);
	ck_assert_ptr_nonnull(strstr(e.message, "database is locked"));
	join(&c);
	/* the future's copy is its own */
	memset(&c.err, 0, sizeof c.err);
	memset(&e, 0, sizeof e);
	ck_assert_int_eq(dqlc_future_error(f, &e), DQLC_ESQL);
	ck_assert_int_eq(e.sqlite_code, DQLC_SQLITE_BUSY);
	ck_assert_ptr_null(dqlc_future_take_result(f));
	ck_assert_int_eq(dqlc_future_error(f, NULL), DQLC_ESQL);
	dqlc_future_free(f);
}
END_TEST

START_TEST(test_error_flags_kept)
{
	struct dqlc_future *f = new_future();
	dqlc_error_t in, out;
	memset(&in, 0, sizeof in); /* the whole struct is compared below */
	dqlc__err(&in, DQLC_EIO, "connection reset mid-request");
	dqlc__err_flag(&in, DQLC_ERRF_MAYBE_EXECUTED);
	in.sys_errno = ECONNRESET;
	dqlc__future_complete(f, DQLC_EIO, &in, NULL, true);
	ck_assert_int_eq(dqlc_future_error(f, &out), DQLC_EIO);
	ck_assert(memcmp(&in, &out, sizeof in) == 0);
	dqlc_future_free(f);
}
END_TEST

/* Success clears the caller's error; a failure without an error struct
 * still reports its code and a message. */
START_TEST(test_error_defaults)
{
	struct dqlc_future *f = new_future();
	dqlc_error_t e, junk;

	memset(&junk, 0x5a, sizeof junk);
	junk.code = DQLC_EPROTO;
	dqlc__future_complete(f, 0, &junk, NULL, true); /* code 0: err ignored */
	memset(&e, 0x5a, sizeof e);
	ck_assert_int_eq(dqlc_future_error(f, &e), 0);
	ck_assert_int_eq(e.code, 0);
	ck_assert_int_eq(e.sqlite_code, 0);
	ck_assert_uint_eq(e.flags, 0);
	ck_assert_str_eq(e.message, "");
	dqlc_future_free(f);

	f = new_future();
	dqlc__future_complete(f, DQLC_ECLOSED, NULL, NULL, true);
	memset(&e, 0x5a, sizeof e);
	ck_assert_int_eq(dqlc_future_error(f, &e), DQLC_ECLOSED);
	ck_assert_int_eq(e.code, DQLC_ECLOSED);
	ck_assert_str_eq(e.message, dqlc_strerror(DQLC_ECLOSED));
	dqlc_future_free(f);

	/* an error struct whose code was left 0 gets the completion's code */
	f = new_future();
	memset(&junk, 0, sizeof junk);
	dqlc__future_complete(f, DQLC_ETIMEDOUT, &junk, NULL, true);
	ck_assert_int_eq(dqlc_future_error(f, &e), DQLC_ETIMEDOUT);
	ck_assert_int_eq(e.code, DQLC_ETIMEDOUT);
	ck_assert_str_eq(e.message, dqlc_strerror(DQLC_ETIMEDOUT));
	dqlc_future_free(f);
}
END_TEST

/* =========================================================================
 * Lifetime
 * ========================================================================= */

START_TEST(test_free_before_completion)
{
	struct dqlc_future *f = new_future();
	struct completer c;
	struct cb_rec rec;
	dqlc_result_t *r = dqlc__result_new();

	memset(&rec, 0, sizeof rec);
	ck_assert_int_eq(dqlc_future_set_callback(f, other_cb, &rec.calls), 0);
	dqlc_future_free(f); /* the owner lets go first */
	memset(&c, 0, sizeof c);
	c.f = f;
	c.delay_ms = 20;
	c.result = r;
	ck_assert_int_eq(pthread_create(&c.thread, NULL, complete_main, &c), 0);
	join(&c);
	/* the callback still ran once; the future and its unclaimed result
	 * are gone (ASan/valgrind: no leak) */
	ck_assert_int_eq(atomic_load(&rec.calls), 1);
}
END_TEST

START_TEST(test_free_before_completion_no_callback)
{
	struct dqlc_future *f = new_future();
	dqlc_future_free(f);
	dqlc__future_complete(f, DQLC_ECANCELED, NULL, dqlc__result_new(), true);
}
END_TEST

START_TEST(test_null_future)
{
	dqlc_error_t e;
	ck_assert_int_eq(dqlc_future_wait(NULL), DQLC_EINVAL);
	ck_assert_int_eq(dqlc_future_wait_for(NULL, 10), DQLC_EINVAL);
	ck_assert(!dqlc_future_ready(NULL));
	ck_assert_int_eq(dqlc_future_set_callback(NULL, other_cb, NULL), DQLC_EINVAL);
	ck_assert_int_eq(dqlc_future_cancel(NULL), DQLC_EINVAL);
	memset(&e, 0, sizeof e);
	ck_assert_int_eq(dqlc_future_error(NULL, &e), DQLC_EINVAL);
	ck_assert_int_eq(e.code, DQLC_EINVAL);
	ck_assert_int_eq(dqlc_future_error(NULL, NULL), DQLC_EINVAL);
	ck_assert_ptr_null(dqlc_future_take_result(NULL));
	dqlc_future_free(NULL);
}
END_TEST

/* Without a pool: queued → running → done; cancel only while running. */
START_TEST(test_states_and_cancel)
{
	struct dqlc_future *f = new_future();
	ck_assert_int_eq(f->state, DQLC__F_QUEUED);
	ck_assert(!dqlc__future_canceled(f));
	ck_assert(dqlc__future_start(f));
	ck_assert_int_eq(f->state, DQLC__F_RUNNING);
	ck_assert(!dqlc__future_start(f)); /* only once */
	ck_assert_int_eq(dqlc_future_cancel(f), 0);
	ck_assert(dqlc__future_canceled(f));
	ck_assert(!dqlc_future_ready(f)); /* cancel asks; the worker completes */
	dqlc__future_complete(f, DQLC_ECANCELED, NULL, NULL, true);
	ck_assert_int_eq(dqlc_future_wait(f), DQLC_ECANCELED);
	ck_assert(!dqlc__future_start(f));
	ck_assert_int_eq(dqlc_future_cancel(f), DQLC_EINVAL); /* already complete */
	dqlc_future_free(f);
}
END_TEST

/* Waiting from a worker of the future's own pool is refused, not a hang.
 * The pool is a real one that is never used (so it starts no thread and
 * opens no socket); the future is made by hand and never queued on it. */
START_TEST(test_wait_from_worker_deadlock)
{
	dqlc_pool_t *pool = NULL;
	struct dqlc_future *f;
	dqlc_error_t e;
	ck_assert_msg(dqlc_pool_create("dqlite://127.0.0.1:1", NULL, &pool, &e) == 0, "%s",
		      e.message);
	f = dqlc__future_new(pool, DQLC__JOB_EXEC, "SELECT 1", NULL, 0, NULL, 0);
	ck_assert_ptr_nonnull(f);
	ck_assert(dqlc__future_start(f)); /* as if a worker had taken it */
	dqlc__worker_of = pool;
	ck_assert_int_eq(dqlc_future_wait(f), DQLC_EDEADLK);
	ck_assert_int_eq(dqlc_future_error(f, &e), DQLC_EDEADLK);
	ck_assert_int_eq(e.code, DQLC_EDEADLK);
	ck_assert_ptr_nonnull(strstr(e.message, "deadlock"));
	ck_assert_ptr_null(dqlc_future_take_result(f));
	ck_assert(!dqlc_future_ready(f));
	/* once complete, waiting is fine even from a worker */
	dqlc__future_complete(f, DQLC_ESQL, NULL, NULL, true);
	ck_assert_int_eq(dqlc_future_wait(f), DQLC_ESQL);
	ck_assert_int_eq(dqlc_future_wait_for(f, 10), DQLC_ESQL);
	dqlc__worker_of = NULL;
	dqlc_future_free(f);
	dqlc_pool_close(pool);
}
END_TEST

/* Races between completion, callback registration, waiting and freeing
 * (for TSan and ASan; every step checks its outcome). */
struct race {
	struct dqlc_future *f;
	atomic_int calls;
};

static void *race_complete(void *arg)
{
	struct race *r = arg;
	dqlc__future_complete(r->f, DQLC_EBUSY, NULL, dqlc__result_new(), true);
	return NULL;
}

static void race_cb(dqlc_future_t *f, void *arg)
{
	struct race *r = arg;
	ck_assert_ptr_eq(f, r->f);
	atomic_fetch_add(&r->calls, 1);
}

START_TEST(test_races)
{
	int i;
	for (i = 0; i < 300; i++) {
		struct race r;
		pthread_t t;
		int rv;
		r.f = new_future();
		atomic_init(&r.calls, 0);
		ck_assert_int_eq(pthread_create(&t, NULL, race_complete, &r), 0);
		if (i % 3 != 2)
			ck_assert_int_eq(dqlc_future_set_callback(r.f, race_cb, &r), 0);
		rv = i % 2 ? dqlc_future_wait(r.f) : dqlc_future_wait_for(r.f, 10000);
		ck_assert_int_eq(rv, DQLC_EBUSY);
		ck_assert(dqlc_future_ready(r.f));
		if (i % 5 == 0)
			dqlc_result_free(dqlc_future_take_result(r.f));
		ck_assert_int_eq(pthread_join(t, NULL), 0);
		ck_assert_int_eq(atomic_load(&r.calls), i % 3 != 2 ? 1 : 0);
		dqlc_future_free(r.f);
	}
	/* free racing with completion */
	for (i = 0; i < 300; i++) {
		struct race r;
		pthread_t t;
		r.f = new_future();
		atomic_init(&r.calls, 0);
		ck_assert_int_eq(dqlc_future_set_callback(r.f, race_cb, &r), 0);
		ck_assert_int_eq(pthread_create(&t, NULL, race_complete, &r), 0);
		dqlc_future_free(r.f);
		ck_assert_int_eq(pthread_join(t, NULL), 0);
		ck_assert_int_eq(atomic_load(&r.calls), 1);
	}
}
END_TEST

/* =========================================================================
 * The request copy and its deadline
 * ========================================================================= */

START_TEST(test_params_deep_copied)
{
	char sql[] = "INSERT INTO t VALUES (?, ?, ?, ?, ?, ?, ?)";
	char text[] = "hello";
	char blob[] = {'a', 0, 'b', 0, 'c'};
	char iso[] = "2024-01-02";
	char part[] = "abcdef";
	dqlc_value_t params[] = {DQLC_TEXT(text), DQLC_BLOB(blob, sizeof blob), DQLC_INT(-5),
				 DQLC_ISO8601(iso), DQLC_NULL, DQLC_FLOAT(0.5),
				 DQLC_TEXTN(part, 3)};
	struct dqlc_future *f = dqlc__future_new(NULL, DQLC__JOB_EXEC, sql, params,
						 N_ELEMS(params), NULL, 0);
	size_t i;

	ck_assert_ptr_nonnull(f);
	/* scribble over everything the caller owns */
	memset(sql, 'X', sizeof sql - 1);
	memset(text, 'Y', sizeof text - 1);
	memset(blob, 'Z', sizeof blob);
	memset(iso, 'W', sizeof iso - 1);
	memset(part, 'V', sizeof part - 1);
	for (i = 0; i < N_ELEMS(params); i++)
		params[i] = DQLC_INT(999);

	ck_assert_int_eq(f->kind, DQLC__JOB_EXEC);
	ck_assert_ptr_null(f->pool);
	ck_assert_str_eq(f->sql, "INSERT INTO t VALUES (?, ?, ?, ?, ?, ?, ?)");
	ck_assert_ptr_ne(f->sql, sql);
	ck_assert_uint_eq(f->n, 7);
	ck_assert_ptr_ne(f->params, params);
	ck_assert_int_eq(f->params[0].type, DQLC_TYPE_TEXT);
	ck_assert_uint_eq(f->params[0].v.s.n, 5);
	ck_assert_str_eq(f->params[0].v.s.p, "hello"); /* and NUL-terminated */
	ck_assert_int_eq(f->params[1].type, DQLC_TYPE_BLOB);
	ck_assert_uint_eq(f->params[1].v.s.n, 5);
	ck_assert(memcmp(f->params[1].v.s.p, "a\0b\0c", 5) == 0);
	ck_assert_int_eq(f->params[2].type, DQLC_TYPE_INTEGER);
	ck_assert_int_eq(f->params[2].v.i, -5);
	ck_assert_int_eq(f->params[3].type, DQLC_TYPE_ISO8601);
	ck_assert_str_eq(f->params[3].v.s.p, "2024-01-02");
	ck_assert_int_eq(f->params[4].type, DQLC_TYPE_NULL);
	ck_assert_int_eq(f->params[5].type, DQLC_TYPE_FLOAT);
	ck_assert(f->params[5].v.f == 0.5);
	ck_assert_uint_eq(f->params[6].v.s.n, 3);
	ck_assert_str_eq(f->params[6].v.s.p, "abc"); /* terminated at its length */
	ck_assert_ptr_ne(f->params[0].v.s.p, text);
	ck_assert_ptr_ne(f->params[1].v.s.p, blob);
	ck_assert_ptr_ne(f->params[3].v.s.p, iso);
	ck_assert_ptr_ne(f->params[6].v.s.p, part);
	dqlc__future_complete(f, 0, NULL, NULL, true);
	dqlc_future_free(f);
}
END_TEST

START_TEST(test_params_edge_cases)
{
	dqlc_value_t empty[] = {DQLC_TEXT(""), DQLC_BLOB(NULL, 0)};
	struct dqlc_future *f;

	/* NULL sql becomes "" (the pool refuses it before this; no crash here) */
	f = dqlc__future_new(NULL, DQLC__JOB_QUERY, NULL, NULL, 0, NULL, 0);
	ck_assert_ptr_nonnull(f);
	ck_assert_str_eq(f->sql, "");
	ck_assert_uint_eq(f->n, 0);
	ck_assert_ptr_null(f->params);
	dqlc__future_complete(f, 0, NULL, NULL, true);
	dqlc_future_free(f);

	/* NULL params with n > 0: no params */
	f = dqlc__future_new(NULL, DQLC__JOB_QUERY, "SELECT ?", NULL, 3, NULL, 0);
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(f->n, 0);
	dqlc__future_complete(f, 0, NULL, NULL, true);
	dqlc_future_free(f);

	/* params given, n == 0 */
	f = dqlc__future_new(NULL, DQLC__JOB_QUERY, "SELECT 1", empty, 0, NULL, 0);
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(f->n, 0);
	dqlc__future_complete(f, 0, NULL, NULL, true);
	dqlc_future_free(f);

	/* empty text and blob */
	f = dqlc__future_new(NULL, DQLC__JOB_QUERY, "SELECT ?, ?", empty, 2, NULL, 0);
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(f->n, 2);
	ck_assert_int_eq(f->params[0].type, DQLC_TYPE_TEXT);
	ck_assert_uint_eq(f->params[0].v.s.n, 0);
	ck_assert_str_eq(f->params[0].v.s.p, "");
	ck_assert_int_eq(f->params[1].type, DQLC_TYPE_BLOB);
	ck_assert_uint_eq(f->params[1].v.s.n, 0);
	dqlc__future_complete(f, 0, NULL, NULL, true);
	dqlc_future_free(f);
}
END_TEST

static int64_t deadline_of(const dqlc_req_opts_t *opts, int64_t default_ms, int64_t *submit,
			   unsigned *flags)
{
	struct dqlc_future *f = dqlc__future_new(NULL, DQLC__JOB_QUERY, "SELECT 1", NULL, 0, opts,
						 default_ms);
	int64_t d;
	ck_assert_ptr_nonnull(f);
	d = f->deadline;
	*submit = f->submit_ns;
	*flags = f->flags;
	dqlc__future_complete(f, 0, NULL, NULL, true);
	dqlc_future_free(f);
	return d;
}

#define MS 1000000LL

START_TEST(test_deadline)
{
	dqlc_req_opts_t o;
	int64_t before, submit, d;
	unsigned flags;

	before = dqlc__now_ns();
	d = deadline_of(NULL, 10000, &submit, &flags);
	ck_assert(submit >= before && submit <= dqlc__now_ns());
	ck_assert(d == submit + 10000 * MS);
	ck_assert_uint_eq(flags, 0);

	/* no default, no option: no deadline */
	d = deadline_of(NULL, 0, &submit, &flags);
	ck_assert(d == DQLC__NO_DEADLINE);

	/* the per-request timeout wins */
	memset(&o, 0, sizeof o);
	o.struct_size = sizeof o;
	o.timeout_ms = 250;
	o.flags = DQLC_REQ_IDEMPOTENT;
	d = deadline_of(&o, 10000, &submit, &flags);
	ck_assert(d == submit + 250 * MS);
	ck_assert_uint_eq(flags, DQLC_REQ_IDEMPOTENT);
	d = deadline_of(&o, 0, &submit, &flags);
	ck_assert(d == submit + 250 * MS);

	/* timeout 0 (or negative): the default */
	o.timeout_ms = 0;
	d = deadline_of(&o, 10000, &submit, &flags);
	ck_assert(d == submit + 10000 * MS);
	ck_assert_uint_eq(flags, DQLC_REQ_IDEMPOTENT);
	o.timeout_ms = -7;
	d = deadline_of(&o, 10000, &submit, &flags);
	ck_assert(d == submit + 10000 * MS);

	/* struct_size 0 (caller forgot it): nothing in the struct is read */
	o.struct_size = 0;
	o.timeout_ms = 250;
	d = deadline_of(&o, 10000, &submit, &flags);
	ck_assert(d == submit + 10000 * MS);
	ck_assert_uint_eq(flags, 0);

	/* an older, shorter struct: fields it has are read, later ones not */
	o.struct_size = offsetof(dqlc_req_opts_t, timeout_ms) + sizeof o.timeout_ms;
	o.timeout_ms = 250;
	d = deadline_of(&o, 10000, &submit, &flags);
	ck_assert(d == submit + 250 * MS);
	ck_assert_uint_eq(flags, 0);
	o.struct_size = offsetof(dqlc_req_opts_t, timeout_ms);
	d = deadline_of(&o, 10000, &submit, &flags);
	ck_assert(d == submit + 10000 * MS);

	/* a newer, larger struct is fine */
	o.struct_size = sizeof o + 64;
	o.timeout_ms = 1;
	d = deadline_of(&o, 10000, &submit, &flags);
	ck_assert(d == submit + 1 * MS);
	ck_assert_uint_eq(flags, DQLC_REQ_IDEMPOTENT);
}
END_TEST

/* Timeouts too large for nanoseconds mean "no deadline", never an
 * overflow into the past. */
START_TEST(test_deadline_huge)
{
	dqlc_req_opts_t o;
	int64_t submit, d;
	unsigned flags;
	static const int64_t huge[] = {INT64_MAX, INT64_MAX / 1000, INT64_MAX / 1000000 + 1};
	size_t i;

	memset(&o, 0, sizeof o);
	o.struct_size = sizeof o;
	for (i = 0; i < N_ELEMS(huge); i++) {
		o.timeout_ms = huge[i];
		d = deadline_of(&o, 10000, &submit, &flags);
		ck_assert_msg(d > submit + 1000LL * 86400 * 1000 * MS, "deadline %lld for %lld ms",
			      (long long)d, (long long)huge[i]);
		d = deadline_of(NULL, huge[i], &submit, &flags);
		ck_assert_msg(d > submit + 1000LL * 86400 * 1000 * MS, "deadline %lld for %lld ms",
			      (long long)d, (long long)huge[i]);
	}
}
END_TEST

/* =========================================================================
 * Backoff and random numbers
 * ========================================================================= */

START_TEST(test_backoff_bounds)
{
	static const struct {
		int64_t base, cap;
	} t[] = {{20, 500}, {10, 200}, {1, 50}, {2, 100}, {1, 1}, {7, 600000}, {60000, 600000},
		 {500, 20} /* base above cap: the cap wins */};
	size_t i;
	int attempt, k;
	for (i = 0; i < N_ELEMS(t); i++) {
		for (attempt = 0; attempt < 40; attempt++) {
			int64_t d = t[i].base, lo, hi, seen_lo = INT64_MAX, seen_hi = INT64_MIN;
			for (k = 0; k < attempt && d < t[i].cap; k++)
				d *= 2;
			if (d > t[i].cap)
				d = t[i].cap;
			lo = d / 2;
			hi = d;
			for (k = 0; k < 200; k++) {
				int64_t b = dqlc__backoff_ms(attempt, t[i].base, t[i].cap);
				ck_assert_msg(b >= lo && b <= hi,
					      "base %lld cap %lld attempt %d: %lld not in [%lld, %lld]",
					      (long long)t[i].base, (long long)t[i].cap, attempt,
					      (long long)b, (long long)lo, (long long)hi);
				ck_assert(b <= t[i].cap);
				if (b < seen_lo)
					seen_lo = b;
				if (b > seen_hi)
					seen_hi = b;
			}
			/* jittered: with room to move, it moves */
			if (hi - lo >= 10)
				ck_assert_msg(seen_hi - seen_lo >= (hi - lo) / 4,
					      "no jitter: [%lld, %lld] in [%lld, %lld]",
					      (long long)seen_lo, (long long)seen_hi, (long long)lo,
					      (long long)hi);
		}
	}
	/* very many attempts: the cap, no overflow, no hang */
	for (k = 0; k < 100; k++) {
		int64_t b = dqlc__backoff_ms(1000000, 10, 200);
		ck_assert(b >= 100 && b <= 200);
	}
}
END_TEST

START_TEST(test_rand_range)
{
	int k;
	int seen[11] = {0};
	for (k = 0; k < 5000; k++) {
		int64_t v = dqlc__rand_range(-5, 5);
		ck_assert(v >= -5 && v <= 5);
		seen[v + 5]++;
	}
	for (k = 0; k < 11; k++)
		ck_assert_msg(seen[k] > 0, "%d never drawn", k - 5);
	ck_assert_int_eq(dqlc__rand_range(7, 7), 7);
	ck_assert_int_eq(dqlc__rand_range(9, 3), 9);
	/* wide ranges: no overflow (UBSan), still in range */
	for (k = 0; k < 1000; k++) {
		int64_t v = dqlc__rand_range(0, INT64_MAX);
		ck_assert(v >= 0);
		v = dqlc__rand_range(-10, INT64_MAX);
		ck_assert(v >= -10);
		v = dqlc__rand_range(INT64_MIN, -1);
		ck_assert(v < 0);
		(void)dqlc__rand_range(INT64_MIN, INT64_MAX);
	}
	ck_assert(dqlc__rand_range(INT64_MAX - 1, INT64_MAX) >= INT64_MAX - 1);
}
END_TEST

static uint64_t value_from_child(void)
{
	int fds[2];
	pid_t pid;
	uint64_t v = 0;
	int status;
	ck_assert_int_eq(pipe(fds), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		uint64_t c = dqlc__rand();
		ssize_t w = write(fds[1], &c, sizeof c);
		_exit(w == (ssize_t)sizeof c ? 0 : 1);
	}
	close(fds[1]);
	ck_assert_int_eq(read(fds[0], &v, sizeof v), (ssize_t)sizeof v);
	close(fds[0]);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	/* (its exit status is not checked: under valgrind a child that
	 * _exit()s with its parent's heap reports it and exits non-zero) */
	ck_assert(WIFEXITED(status));
	return v;
}

/* A forked child does not repeat its parent's sequence. */
START_TEST(test_rand_differs_across_fork)
{
	int i;
	(void)dqlc__rand(); /* seed this thread's state in the parent */
	for (i = 0; i < 5; i++) {
		uint64_t child = value_from_child();
		uint64_t parent = dqlc__rand(); /* what the child would repeat */
		ck_assert_msg(child != parent, "child drew the parent's next value %llx",
			      (unsigned long long)parent);
	}
	/* and two children differ from each other */
	ck_assert(value_from_child() != value_from_child());
}
END_TEST

static void *rand_thread(void *arg)
{
	*(uint64_t *)arg = dqlc__rand();
	return NULL;
}

START_TEST(test_rand_threads_differ)
{
	uint64_t a = 0, b = 0;
	pthread_t ta, tb;
	ck_assert_int_eq(pthread_create(&ta, NULL, rand_thread, &a), 0);
	ck_assert_int_eq(pthread_create(&tb, NULL, rand_thread, &b), 0);
	ck_assert_int_eq(pthread_join(ta, NULL), 0);
	ck_assert_int_eq(pthread_join(tb, NULL), 0);
	ck_assert(a != b);
	ck_assert(dqlc__rand() != dqlc__rand());
}
END_TEST

/* =========================================================================
 * Suite
 * ========================================================================= */

static Suite *future_suite(void)
{
	Suite *s = suite_create("future");
	TCase *tc;

	tc = tcase_create("wait");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_wait_returns_code);
	tcase_add_test(tc, test_wait_for_times_out);
	tcase_add_test(tc, test_wait_for_huge_timeout);
	tcase_add_test(tc, test_many_waiters);
	tcase_add_test(tc, test_wait_from_worker_deadlock);
	suite_add_tcase(s, tc);

	tc = tcase_create("callback");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_callback_before_completion);
	tcase_add_test(tc, test_callback_after_completion);
	tcase_add_test(tc, test_callback_suppressed);
	tcase_add_test(tc, test_free_inside_callback);
	tcase_add_test(tc, test_set_callback_null);
	suite_add_tcase(s, tc);

	tc = tcase_create("outcome");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_take_result_once);
	tcase_add_test(tc, test_result_freed_with_future);
	tcase_add_test(tc, test_error_copied);
	tcase_add_test(tc, test_error_flags_kept);
	tcase_add_test(tc, test_error_defaults);
	suite_add_tcase(s, tc);

	tc = tcase_create("lifetime");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_free_before_completion);
	tcase_add_test(tc, test_free_before_completion_no_callback);
	tcase_add_test(tc, test_null_future);
	tcase_add_test(tc, test_states_and_cancel);
	tcase_add_test(tc, test_races);
	suite_add_tcase(s, tc);

	tc = tcase_create("request");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_params_deep_copied);
	tcase_add_test(tc, test_params_edge_cases);
	tcase_add_test(tc, test_deadline);
	tcase_add_test(tc, test_deadline_huge);
	suite_add_tcase(s, tc);

	tc = tcase_create("rand");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_backoff_bounds);
	tcase_add_test(tc, test_rand_range);
	tcase_add_test(tc, test_rand_differs_across_fork);
	tcase_add_test(tc, test_rand_threads_differ);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(future_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
