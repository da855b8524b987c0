/* Worker threads: take a request, run it on a pooled connection, retry
 * when (and only when) that is safe, complete its future. */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "conn.h"
#include "error.h"
#include "log.h"
#include "future.h"
#include "pool/pool.h"
#include "rand.h"
#include "sync.h"

/* p->mu held: put a started request on the in-flight list. */
static void track_running(struct dqlc_pool *p, struct dqlc_future *f)
{
	f->prev = NULL;
	f->next = p->running;
	if (p->running)
		p->running->prev = f;
	p->running = f;
	p->in_flight++;
}

/* p->mu held. */
static void untrack_running(struct dqlc_pool *p, struct dqlc_future *f)
{
	if (f->prev)
		f->prev->next = f->next;
	else
		p->running = f->next;
	if (f->next)
		f->next->prev = f->prev;
	f->next = f->prev = NULL;
	p->in_flight--;
}

/* p->mu held: the request a worker should take now, or NULL. */
static struct dqlc_future *next_request(struct dqlc_pool *p)
{
	struct dqlc_future *f = p->q_head;
	if (f == NULL)
		return NULL;
	if (p->state != DQLC__POOL_RUNNING || p->steal_score < DQLC__DEFER_AT || f->urgent ||
	    dqlc__now_ns() - f->submit_ns >= DQLC__GRACE_NS)
		return f;
	return NULL;
}

static void *worker_main(void *arg)
{
	struct dqlc_pool *p = arg;
	struct dqlc__settled settled;
	bool sentinel = false;
	dqlc__worker_of = p;
	pthread_mutex_lock(&p->mu);
	for (;;) {
		struct dqlc_future *f = next_request(p);
		if (f == NULL) {
			if (p->q_head == NULL && p->state != DQLC__POOL_RUNNING)
				break; /* closing, and nothing (more) to drain */
			if (p->steal_score >= DQLC__DEFER_AT && (!p->sentinel || sentinel)) {
				/* Poll for requests that nobody came to run. */
				int64_t at = p->q_head ? p->q_head->submit_ns + DQLC__GRACE_NS
						       : dqlc__now_ns() + DQLC__GRACE_NS;
				sentinel = p->sentinel = true;
				dqlc__cond_wait_until(&p->cv_work, &p->mu, at);
				if (p->q_head == NULL && ++p->idle_polls > 100)
					p->steal_score = 0; /* idle for a while: plain mode */
				continue;
			}
			if (sentinel)
				sentinel = p->sentinel = false;
			pthread_cond_wait(&p->cv_work, &p->mu);
			continue;
		}
		if (sentinel) {
			sentinel = p->sentinel = false;
			if (f->next != NULL)
				pthread_cond_signal(&p->cv_work); /* another may be due */
		}
		p->idle_polls = 0;
		/* A worker had to take it: callers are not all waiting. */
		p->steal_score = p->steal_score > 8 ? p->steal_score - 8 : 0;
		dqlc__queue_unlink(p, f);
		dqlc__future_start(f);
		track_running(p, f);
		pthread_mutex_unlock(&p->mu);

		dqlc__worker_run(p, f);

		/* Off the in-flight list and done in one critical section: a
		 * forked child sees it either running (and fails it with
		 * DQLC_EFORKED) or complete, never in between. */
		pthread_mutex_lock(&p->mu);
		untrack_running(p, f);
		dqlc__future_settle(f, f->code, &f->err, f->result, true, &settled);
		pthread_mutex_unlock(&p->mu);
		dqlc__future_finish(f, &settled); /* callback: no lock held */
		pthread_mutex_lock(&p->mu);
	}
	if (sentinel)
		p->sentinel = false;
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

bool dqlc__pool_run_inline(struct dqlc_pool *p, struct dqlc_future *f)
{
	struct dqlc__settled settled;
	bool mine;
	pthread_mutex_lock(&p->mu);
	/* In a forked child this fails the parent's requests (f among them)
	 * before anything waits on them. */
	dqlc__pool_adopt(p);
	if (p->state == DQLC__POOL_CLOSED) {
		pthread_mutex_unlock(&p->mu);
		return false;
	}
	dqlc__future_lock(f);
	/* With a callback set, the callback's thread is promised: a worker. */
	mine = f->state == DQLC__F_QUEUED && !f->cb_set;
	if (mine) {
		dqlc__queue_unlink(p, f);
		f->state = DQLC__F_RUNNING;
	}
	dqlc__future_unlock(f);
	if (!mine) {
		pthread_mutex_unlock(&p->mu);
		return false;
	}
	track_running(p, f);
	p->stealers++;
	p->idle_polls = 0;
	if (dqlc__now_ns() - f->submit_ns < DQLC__QUICK_NS) {
		if (p->steal_score < DQLC__SCORE_MAX)
			p->steal_score++;
	} else {
		p->steal_score = p->steal_score > 8 ? p->steal_score - 8 : 0;
	}
	pthread_mutex_unlock(&p->mu);

	dqlc__worker_run(p, f);

	pthread_mutex_lock(&p->mu);
	untrack_running(p, f);
	dqlc__future_settle(f, f->code, &f->err, f->result, true, &settled);
	if (--p->stealers == 0 && p->state != DQLC__POOL_RUNNING)
		pthread_cond_broadcast(&p->cv_work);
	pthread_mutex_unlock(&p->mu);
	dqlc__future_finish(f, &settled);
	return true;
}

/* The deadline thread.  Workers check a request's deadline when they take
 * it, but all of them may be busy for long (each on a request with a long
 * deadline, on a server that stopped answering): a request queued behind
 * them must still complete when its own deadline passes. */
static void *timer_main(void *arg)
{
	struct dqlc_pool *p = arg;
	/* Callbacks run here: waits inside them see DQLC_EDEADLK, as on a
	 * worker. */
	dqlc__worker_of = p;
	pthread_mutex_lock(&p->mu);
	while (p->state == DQLC__POOL_RUNNING && p->timer_on) {
		struct dqlc_future *f, *next, *expired = NULL;
		int64_t now = dqlc__now_ns(), at = DQLC__NO_DEADLINE;
		for (f = p->q_head; f != NULL; f = next) {
			bool mine;
			next = f->next;
			if (f->deadline > now) {
				if (f->deadline < at)
					at = f->deadline;
				continue;
			}
			dqlc__future_lock(f);
			mine = f->state == DQLC__F_QUEUED;
			if (mine)
				f->state = DQLC__F_RUNNING; /* claimed: no worker will take it */
			dqlc__future_unlock(f);
			if (!mine)
				continue;
			dqlc__queue_unlink(p, f);
			f->next = expired;
			expired = f;
		}
		while (expired != NULL) {
			struct dqlc__settled settled;
			dqlc_error_t e;
			f = expired;
			expired = f->next;
			f->next = NULL;
			dqlc__err(&e, DQLC_ETIMEDOUT, "deadline exceeded before the request could run");
			/* Settled under the pool mutex, like a cancel (see
			 * dqlc__future_settle). */
			dqlc__future_settle(f, DQLC_ETIMEDOUT, &e, NULL, true, &settled);
			atomic_fetch_add(&p->stats.timeouts, 1);
			atomic_fetch_add(&p->stats.failed, 1);
			dqlc__stats_latency(p, dqlc__now_ns() - f->submit_ns);
			pthread_mutex_unlock(&p->mu);
			dqlc__event(&p->cfg, DQLC_EVENT_REQUEST_DONE, NULL, NULL, DQLC_ETIMEDOUT, 0,
				    (dqlc__now_ns() - f->submit_ns) / 1000);
			dqlc__future_finish(f, &settled); /* callback: no lock held */
			pthread_mutex_lock(&p->mu);
		}
		if (at <= dqlc__now_ns())
			continue;
		p->timer_at = at;
		dqlc__cond_wait_until(&p->cv_timer, &p->mu, at);
		p->timer_at = DQLC__NO_DEADLINE;
	}
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

int dqlc__workers_start(struct dqlc_pool *p, dqlc_error_t *err)
{
	sigset_t all, old;
	size_t i, n = (size_t)p->cfg.workers;
	int rv = 0;
	p->threads = calloc(n, sizeof *p->threads);
	if (p->threads == NULL)
		return dqlc__err(err, DQLC_ENOMEM, "out of memory");
	/* Library threads take no signals: they belong to the application's
	 * own threads. */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	for (i = 0; i < n; i++) {
		rv = pthread_create(&p->threads[i], NULL, worker_main, p);
		if (rv != 0)
			break;
		p->n_threads++;
	}
	if (p->n_threads > 0) {
		p->timer_at = DQLC__NO_DEADLINE;
		p->timer_on = pthread_create(&p->timer, NULL, timer_main, p) == 0;
		if (!p->timer_on)
			dqlc__log(&p->cfg, DQLC_LOG_WARN,
				  "cannot start the deadline thread: queued requests complete "
				  "late when every worker is busy");
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (p->n_threads == 0) {
		free(p->threads);
		p->threads = NULL;
		return dqlc__err_sys(err, DQLC_ENOMEM, rv, "starting worker threads");
	}
	return 0;
}

/* (Not when a later statement of a script failed so: the ones before it ran,
 * and the error says so with DQLC_ERRF_MAYBE_EXECUTED.) */
static bool is_busy(const dqlc_error_t *e)
{
	return e->code == DQLC_ESQL && (e->sqlite_code & 0xff) == DQLC_SQLITE_BUSY &&
	       !(e->flags & DQLC_ERRF_MAYBE_EXECUTED);
}

/* libdqlite 1.11 answers a write whose WAL frames raft refused to append
 * (raft_apply() failing with RAFT_NOTLEADER = 7 while leadership is being
 * transferred) with that raw raft code, which reads as SQLITE_NOMEM (7): the
 * frames were aborted, nothing was committed, and the node is about to stop
 * leading.  A genuine SQLITE_NOMEM of an autocommit write rolled it back
 * too.  Either way the write can run again, after the leader is found anew. */
static bool raft_refused(const struct dqlc_future *f, int rv, const dqlc_error_t *e)
{
	return f->kind == DQLC__JOB_EXEC && rv == DQLC_ESQL && e->sqlite_code == 7 &&
	       !(e->flags & DQLC_ERRF_MAYBE_EXECUTED);
}

/* Is running the request again safe and useful? */
static bool should_retry(const struct dqlc_future *f, int rv, const dqlc_error_t *e)
{
	if (rv == DQLC_ECANCELED || rv == DQLC_ECLOSED || rv == DQLC_EINVAL || rv == DQLC_EMISUSE)
		return false;
	if (e->flags & DQLC_ERRF_RETRYABLE)
		return true; /* nothing was executed */
	if (is_busy(e))
		return true; /* rejected before it ran (autocommit) */
	if (raft_refused(f, rv, e))
		return true; /* rejected by raft, frames discarded */
	if (f->kind == DQLC__JOB_QUERY && (rv == DQLC_EIO || (e->flags & DQLC_ERRF_LEADER_CHANGED)))
		return true; /* reads never write on this protocol */
	if ((f->flags & DQLC_REQ_IDEMPOTENT) && (e->flags & DQLC_ERRF_MAYBE_EXECUTED) &&
	    rv != DQLC_ETIMEDOUT)
		return true;
	return false;
}

/* Run f to its outcome (stored in f->code/err/result; completed by the
 * caller). */
void dqlc__worker_run(struct dqlc_pool *p, struct dqlc_future *f)
{
	bool write = f->kind == DQLC__JOB_EXEC;
	dqlc_result_t *res = NULL;
	dqlc_error_t e;
	int rv = 0, attempt = 0;
	memset(&e, 0, sizeof e);
	for (;;) {
		struct dqlc_conn *c = NULL;
		bool retry;
		if (dqlc__future_canceled(f)) {
			rv = dqlc__err(&e, DQLC_ECANCELED, "canceled");
			break;
		}
		if (dqlc__deadline_passed(f->deadline)) {
			if (attempt == 0)
				rv = dqlc__err(&e, DQLC_ETIMEDOUT,
					       "deadline exceeded before the request could run");
			else
				rv = e.code ? e.code : DQLC_ETIMEDOUT;
			break;
		}
		/* A write takes the lane first, then a connection: while it
		 * waited, the leader may have changed and the connections with
		 * it.  A write's connection is also checked for a hang-up, as
		 * a failure after sending could not be retried. */
		if (write && (rv = dqlc__lane_acquire(p, f->deadline, &e)) != 0)
			break;
		rv = write ? dqlc__pool_lease_checked(p, f->deadline, &c, &e)
			   : dqlc__pool_lease(p, f->deadline, &c, &e);
		if (rv == DQLC_EPOOL)
			rv = e.code = DQLC_ETIMEDOUT;
		if (rv != 0) {
			if (write)
				dqlc__lane_release(p);
			if ((e.flags & DQLC_ERRF_RETRYABLE) && attempt < p->cfg.retry_max &&
			    !dqlc__deadline_passed(f->deadline)) {
				attempt++;
				atomic_fetch_add(&p->stats.retries, 1);
				dqlc__pause_ms(dqlc__backoff_ms(attempt, 2, 100), f->deadline);
				continue;
			}
			break;
		}
		c->deadline_cap = f->deadline;
		dqlc__future_set_conn(f, c);
		if (dqlc__future_canceled(f))
			rv = dqlc__err(&e, DQLC_ECANCELED, "canceled");
		else if (write)
			rv = dqlc__conn_exec_cached(c, f->sql, f->params, f->n, &res, &e);
		else
			rv = dqlc__conn_query_cached(c, f->sql, f->params, f->n, &res, &e);
		/* Cleared before the connection can serve anyone else, so a late
		 * cancel cannot hit another request. */
		dqlc__future_set_conn(f, NULL);
		/* Forget a failed leader before the next writer gets the lane. */
		if (rv != 0 &&
		    ((e.flags & DQLC_ERRF_LEADER_CHANGED) || c->broken || raft_refused(f, rv, &e)))
			dqlc__map_invalidate(&p->map, c->map_gen);
		if (write)
			dqlc__lane_release(p);
		if (rv == 0) {
			dqlc__pool_release(p, c);
			break;
		}
		retry = should_retry(f, rv, &e);
		dqlc__pool_release(p, c);
		if (!retry || attempt >= p->cfg.retry_max || dqlc__deadline_passed(f->deadline))
			break;
		attempt++;
		atomic_fetch_add(&p->stats.retries, 1);
		if (is_busy(&e)) {
			atomic_fetch_add(&p->stats.busy_retries, 1);
			dqlc__pause_ms(dqlc__backoff_ms(attempt, 1, 50), f->deadline);
		} else if (raft_refused(f, rv, &e)) {
			/* the transfer takes about an election: give it time */
			dqlc__pause_ms(dqlc__backoff_ms(attempt, 10, 200), f->deadline);
		}
	}
	if (rv == DQLC_ETIMEDOUT)
		atomic_fetch_add(&p->stats.timeouts, 1);
	if (rv == DQLC_ECANCELED)
		atomic_fetch_add(&p->stats.canceled, 1);
	atomic_fetch_add(rv == 0 ? &p->stats.completed : &p->stats.failed, 1);
	dqlc__stats_latency(p, dqlc__now_ns() - f->submit_ns);
	dqlc__event(&p->cfg, DQLC_EVENT_REQUEST_DONE, NULL, NULL, rv, attempt,
		    (dqlc__now_ns() - f->submit_ns) / 1000);
	if (rv != 0) {
		dqlc_result_free(res);
		res = NULL;
	}
	f->code = rv;
	if (rv != 0)
		f->err = e;
	f->result = res;
}
