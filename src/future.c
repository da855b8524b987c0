/* Futures: one allocation holding the request, its outcome and the
 * synchronisation to wait on it. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "conn.h"
#include "error.h"
#include "future.h"
#include "pool/pool.h"
#include "sync.h"

_Thread_local struct dqlc_pool *dqlc__worker_of;

_Static_assert(DQLC__FUTURE_STRIPES == 16, "the initializer below has 16 entries");
static pthread_mutex_t stripes[DQLC__FUTURE_STRIPES] = {
#define S4 PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER, \
	   PTHREAD_MUTEX_INITIALIZER
#define S16 S4, S4, S4, S4
    S16
#undef S16
#undef S4
};

static pthread_mutex_t *stripe(const struct dqlc_future *f)
{
	uintptr_t h = (uintptr_t)f;
	h ^= h >> 7;
	h ^= h >> 13;
	return &stripes[h % DQLC__FUTURE_STRIPES];
}

void dqlc__future_lock(const struct dqlc_future *f)
{
	pthread_mutex_lock(stripe(f));
}

void dqlc__future_unlock(const struct dqlc_future *f)
{
	pthread_mutex_unlock(stripe(f));
}

void dqlc__future_lock_all(void)
{
	int i;
	for (i = 0; i < DQLC__FUTURE_STRIPES; i++)
		pthread_mutex_lock(&stripes[i]);
}

void dqlc__future_unlock_all(void)
{
	int i;
	for (i = DQLC__FUTURE_STRIPES - 1; i >= 0; i--)
		pthread_mutex_unlock(&stripes[i]);
}

void dqlc__future_reinit(struct dqlc_future *f)
{
	/* Not destroyed first: glibc may wait there for waiters that only
	 * existed in the parent. */
	dqlc__cond_init(&f->cv);
}

static bool has_bytes(int type)
{
	return type == DQLC_TYPE_TEXT || type == DQLC_TYPE_BLOB || type == DQLC_TYPE_ISO8601;
}

struct dqlc_future *dqlc__future_new(struct dqlc_pool *pool, enum dqlc__job kind,
				     const char *sql, const dqlc_value_t *params, size_t n,
				     const dqlc_req_opts_t *opts, int64_t default_timeout_ms)
{
	size_t sql_len = sql ? strlen(sql) + 1 : 1, bytes = 0, i, size;
	struct dqlc_future *f;
	char *p;
	int64_t timeout = default_timeout_ms;

	if (params != NULL)
		for (i = 0; i < n; i++)
			if (has_bytes(params[i].type) && params[i].v.s.p != NULL)
				bytes += params[i].v.s.n + 1;
	/* One block: the future, the params array, the SQL, the bytes. */
	size = sizeof *f + (params ? n : 0) * sizeof(dqlc_value_t) + sql_len + bytes;
	f = calloc(1, size);
	if (f == NULL)
		return NULL;
	p = (char *)(f + 1);
	if (params != NULL && n > 0) {
		f->params = (dqlc_value_t *)(void *)p;
		memcpy(f->params, params, n * sizeof *params);
		p += n * sizeof *params;
		f->n = n;
	}
	memcpy(p, sql ? sql : "", sql_len);
	f->sql = p;
	p += sql_len;
	for (i = 0; i < f->n; i++) {
		dqlc_value_t *v = &f->params[i];
		if (has_bytes(v->type) && v->v.s.p != NULL) {
			memcpy(p, v->v.s.p, v->v.s.n);
			p[v->v.s.n] = '\0';
			v->v.s.p = p;
			p += v->v.s.n + 1;
		}
	}
	dqlc__cond_init(&f->cv);
	f->refs = 2;
	f->state = DQLC__F_QUEUED;
	f->pool = pool;
	f->kind = kind;
	if (opts != NULL && opts->struct_size >= sizeof(size_t) + sizeof(int64_t) &&
	    opts->timeout_ms > 0)
		timeout = opts->timeout_ms;
	if (opts != NULL && opts->struct_size >= sizeof(dqlc_req_opts_t))
		f->flags = opts->flags;
	f->submit_ns = dqlc__now_ns();
	f->deadline = dqlc__deadline_after(f->submit_ns, timeout);
	return f;
}

static void destroy(struct dqlc_future *f)
{
	dqlc_result_free(f->result);
	pthread_cond_destroy(&f->cv);
	free(f);
}

/* Drop one reference (under nothing); frees at zero. */
static void unref(struct dqlc_future *f)
{
	int left;
	dqlc__future_lock(f);
	left = --f->refs;
	dqlc__future_unlock(f);
	if (left == 0)
		destroy(f);
}

void dqlc__future_settle(struct dqlc_future *f, int code, const dqlc_error_t *err,
			 dqlc_result_t *result, bool run_cb, struct dqlc__settled *out)
{
	dqlc__future_lock(f);
	f->state = DQLC__F_DONE;
	f->code = code;
	if (code != 0 && err != NULL)
		f->err = *err;
	else
		memset(&f->err, 0, sizeof f->err);
	if (code != 0 && f->err.code == 0) {
		f->err.code = code;
		snprintf(f->err.message, sizeof f->err.message, "%s", dqlc_strerror(code));
	}
	f->result = result;
	f->conn = NULL;
	out->cb = run_cb ? f->cb : NULL;
	out->arg = f->cb_arg;
	pthread_cond_broadcast(&f->cv);
	dqlc__future_unlock(f);
}

void dqlc__future_finish(struct dqlc_future *f, const struct dqlc__settled *s)
{
	if (s->cb != NULL)
		s->cb(f, s->arg);
	unref(f);
}

void dqlc__future_complete(struct dqlc_future *f, int code, const dqlc_error_t *err,
			   dqlc_result_t *result, bool run_cb)
{
	struct dqlc__settled s;
	dqlc__future_settle(f, code, err, result, run_cb, &s);
	dqlc__future_finish(f, &s);
}

bool dqlc__future_start(struct dqlc_future *f)
{
	bool ok;
	dqlc__future_lock(f);
	ok = f->state == DQLC__F_QUEUED;
	if (ok)
		f->state = DQLC__F_RUNNING;
	dqlc__future_unlock(f);
	return ok;
}

void dqlc__future_set_conn(struct dqlc_future *f, struct dqlc_conn *c)
{
	dqlc__future_lock(f);
	f->conn = c;
	dqlc__future_unlock(f);
}

bool dqlc__future_canceled(struct dqlc_future *f)
{
	bool c;
	dqlc__future_lock(f);
	c = f->cancel;
	dqlc__future_unlock(f);
	return c;
}

/* Wait until done or `deadline`; f->mu held on entry and exit. */
static int wait_locked(struct dqlc_future *f, int64_t deadline)
{
	while (f->state != DQLC__F_DONE) {
		if (deadline == DQLC__NO_DEADLINE) {
			pthread_cond_wait(&f->cv, stripe(f));
		} else {
			struct timespec ts;
			ts.tv_sec = (time_t)(deadline / 1000000000);
			ts.tv_nsec = (long)(deadline % 1000000000);
			if (pthread_cond_timedwait(&f->cv, stripe(f), &ts) == ETIMEDOUT &&
			    f->state != DQLC__F_DONE)
				return DQLC_ETIMEDOUT;
		}
	}
	return f->code;
}

/* Waiting on our own pool from one of its workers could wait for the very
 * worker that is waiting. */
static bool would_deadlock(struct dqlc_future *f)
{
	return dqlc__worker_of != NULL && dqlc__worker_of == f->pool;
}

/* In a forked child, a future the parent had queued or running is failed
 * with DQLC_EFORKED by the pool's rebuild: make sure it happened before
 * waiting on (or polling) a future that is not done. */
static void check_fork(struct dqlc_future *f)
{
	bool pending;
	dqlc__future_lock(f);
	pending = f->state != DQLC__F_DONE && f->pool != NULL;
	dqlc__future_unlock(f);
	if (pending)
		dqlc__pool_check_fork(f->pool);
}

int dqlc_future_wait(dqlc_future_t *f)
{
	int rv;
	bool queued;
	if (f == NULL)
		return DQLC_EINVAL;
	check_fork(f);
	dqlc__future_lock(f);
	queued = f->state == DQLC__F_QUEUED && f->pool != NULL && !would_deadlock(f);
	dqlc__future_unlock(f);
	/* About to block anyway: run it here rather than pay two thread
	 * hand-offs (the deadline and retry rules are the same). */
	if (queued)
		dqlc__pool_run_inline(f->pool, f);
	dqlc__future_lock(f);
	if (f->state != DQLC__F_DONE && would_deadlock(f))
		rv = DQLC_EDEADLK;
	else
		rv = wait_locked(f, DQLC__NO_DEADLINE);
	dqlc__future_unlock(f);
	return rv;
}

int dqlc_future_wait_for(dqlc_future_t *f, int64_t timeout_ms)
{
	int rv;
	bool queued;
	if (f == NULL)
		return DQLC_EINVAL;
	check_fork(f);
	dqlc__future_lock(f);
	queued = f->state == DQLC__F_QUEUED && f->pool != NULL;
	dqlc__future_unlock(f);
	if (queued)
		dqlc__pool_kick(f->pool, f); /* a timed wait does not run it inline */
	dqlc__future_lock(f);
	if (f->state != DQLC__F_DONE && would_deadlock(f))
		rv = DQLC_EDEADLK;
	else
		rv = wait_locked(f, timeout_ms <= 0 ? dqlc__now_ns()
						    : dqlc__deadline_in(timeout_ms));
	dqlc__future_unlock(f);
	return rv;
}

bool dqlc_future_ready(dqlc_future_t *f)
{
	bool done;
	if (f == NULL)
		return false;
	check_fork(f);
	dqlc__future_lock(f);
	done = f->state == DQLC__F_DONE;
	dqlc__future_unlock(f);
	return done;
}

int dqlc_future_set_callback(dqlc_future_t *f, void (*cb)(dqlc_future_t *, void *), void *arg)
{
	bool now;
	if (f == NULL || cb == NULL)
		return DQLC_EINVAL;
	check_fork(f); /* a parent's request completes first: cb runs here, once */
	dqlc__future_lock(f);
	if (f->cb_set) {
		dqlc__future_unlock(f);
		return DQLC_EMISUSE;
	}
	f->cb_set = true;
	f->cb = cb;
	f->cb_arg = arg;
	now = f->state == DQLC__F_DONE;
	dqlc__future_unlock(f);
	if (now)
		cb(f, arg);
	else if (f->pool != NULL)
		dqlc__pool_kick(f->pool, f); /* nobody will run it inline */
	return 0;
}

int dqlc_future_cancel(dqlc_future_t *f)
{
	int rv = DQLC_EINVAL;
	bool queued;
	if (f == NULL)
		return DQLC_EINVAL;
	/* In a forked child, a request of the parent fails with DQLC_EFORKED
	 * first (then there is nothing to cancel): never signal the parent's
	 * connection, whose wake-up descriptor a child that skipped the
	 * atfork handlers still shares with the parent's worker. */
	check_fork(f);
	/* A completed future may have outlived its pool: never touch the pool
	 * unless the request is still queued (then the pool is open). */
	dqlc__future_lock(f);
	queued = f->state == DQLC__F_QUEUED;
	dqlc__future_unlock(f);
	if (queued && f->pool != NULL && dqlc__pool_cancel_queued(f->pool, f))
		return 0;
	dqlc__future_lock(f);
	if (f->state == DQLC__F_RUNNING) {
		f->cancel = true;
		/* Under the future's lock the connection cannot be handed to another
		 * request: the worker clears f->conn under it first. */
		if (f->conn != NULL)
			dqlc_conn_cancel(f->conn);
		rv = 0;
	}
	dqlc__future_unlock(f);
	return rv;
}

int dqlc_future_error(dqlc_future_t *f, dqlc_error_t *err)
{
	int rv = dqlc_future_wait(f);
	if (f == NULL || rv == DQLC_EDEADLK) {
		if (err != NULL)
			dqlc__err(err, rv, "%s", rv == DQLC_EDEADLK
						     ? "waiting from a worker of the same pool would deadlock"
						     : "NULL future");
		return rv;
	}
	if (err != NULL) {
		dqlc__future_lock(f);
		*err = f->err;
		dqlc__future_unlock(f);
	}
	return rv;
}

dqlc_result_t *dqlc_future_take_result(dqlc_future_t *f)
{
	dqlc_result_t *r;
	int rv = dqlc_future_wait(f);
	if (f == NULL || rv == DQLC_EDEADLK)
		return NULL;
	dqlc__future_lock(f);
	r = f->result;
	f->result = NULL;
	dqlc__future_unlock(f);
	return r;
}

void dqlc_future_free(dqlc_future_t *f)
{
	if (f == NULL)
		return;
	dqlc__future_lock(f);
	if (f->user_freed) {
		dqlc__future_unlock(f);
		return;
	}
	f->user_freed = true;
	dqlc__future_unlock(f);
	unref(f);
}
