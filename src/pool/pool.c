/* Pool lifecycle, request submission, stats. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "conn.h"
#include "error.h"
#include "future.h"
#include "log.h"
#include "pool/pool.h"
#include "sqltext.h"
#include "sync.h"

int dqlc_pool_create(const char *uri, const dqlc_config_t *cfg, dqlc_pool_t **out,
		     dqlc_error_t *err)
{
	struct dqlc_pool *p;
	int rv;
	if (out == NULL)
		return dqlc__err(err, DQLC_EINVAL, "dqlc_pool_create: NULL out");
	*out = NULL;
	if (uri == NULL && cfg == NULL)
		return dqlc__err(err, DQLC_EINVAL, "dqlc_pool_create: give a URI or a config");
	p = calloc(1, sizeof *p);
	if (p == NULL)
		return dqlc__err(err, DQLC_ENOMEM, "out of memory");
	rv = dqlc__config_resolve(&p->cfg, uri, cfg, err);
	if (rv != 0) {
		free(p);
		return rv;
	}
	rv = dqlc__config_validate(&p->cfg, err);
	if (rv == 0)
		rv = dqlc__config_prepare(&p->cfg, err); /* a bad CA fails here, not later */
	if (rv == 0 && (p->idle = calloc((size_t)p->cfg.pool_max, sizeof *p->idle)) == NULL)
		rv = dqlc__err(err, DQLC_ENOMEM, "out of memory");
	if (rv == 0)
		rv = dqlc__map_init(&p->map, &p->cfg, err);
	if (rv != 0) {
		free(p->idle);
		dqlc__config_clear(&p->cfg);
		free(p);
		return rv;
	}
	pthread_mutex_init(&p->mu, NULL);
	dqlc__cond_init(&p->cv_work);
	dqlc__cond_init(&p->cv_conn);
	dqlc__cond_init(&p->cv_lane);
	dqlc__cond_init(&p->cv_timer);
	p->state = DQLC__POOL_RUNNING;
	p->pid = getpid();
	p->map.on_refresh = dqlc__pool_keep_warm;
	p->map.on_refresh_arg = p;
	/* No thread, no socket: those start with the first request. */
	dqlc__fork_register(p);
	*out = p;
	return 0;
}

void dqlc__pool_adopt(struct dqlc_pool *p)
{
	if (p->pid == getpid())
		return;
	/* The local clean-up (close-only, no I/O; the parent's requests fail
	 * here with DQLC_EFORKED) happens in both modes, so nothing inherited
	 * can hang a caller; "explicit" then refuses new work until
	 * dqlc_pool_after_fork(). */
	dqlc__pool_reset_in_child(p);
	if (p->cfg.fork_mode == DQLC__FORK_EXPLICIT)
		p->forked_explicit = true;
}

void dqlc__pool_check_fork(struct dqlc_pool *p)
{
	if (atomic_load_explicit(&p->pid, memory_order_relaxed) == getpid())
		return;
	pthread_mutex_lock(&p->mu);
	dqlc__pool_adopt(p);
	pthread_mutex_unlock(&p->mu);
}

int dqlc__pool_enter(struct dqlc_pool *p, dqlc_error_t *err)
{
	if (p == NULL)
		return dqlc__err(err, DQLC_EINVAL, "NULL pool");
	/* p->mu held by the caller. */
	dqlc__pool_adopt(p);
	if (p->forked_explicit)
		return dqlc__err(err, DQLC_EFORKED,
				 "pool inherited across fork(): call dqlc_pool_after_fork() first");
	if (p->state != DQLC__POOL_RUNNING)
		return dqlc__err(err, DQLC_ECLOSED, "pool is closed");
	return 0;
}

static dqlc_future_t *failed(struct dqlc_pool *p, int code, const dqlc_error_t *err)
{
	struct dqlc_future *f = dqlc__future_new(NULL, DQLC__JOB_EXEC, NULL, NULL, 0, NULL, 0);
	(void)p;
	if (f != NULL)
		dqlc__future_complete(f, code, err, NULL, false);
	return f;
}

static dqlc_future_t *submit(struct dqlc_pool *p, enum dqlc__job kind, const char *sql,
			     const dqlc_value_t *params, size_t n, const dqlc_req_opts_t *opts)
{
	struct dqlc_future *f;
	dqlc_error_t e;
	int rv;
	if (p == NULL)
		return failed(p, dqlc__err(&e, DQLC_EINVAL, "NULL pool"), &e);
	if (sql == NULL)
		return failed(p, dqlc__err(&e, DQLC_EINVAL, "NULL sql"), &e);
	if (n > 0 && params == NULL)
		return failed(p, dqlc__err(&e, DQLC_EINVAL, "%zu parameters but params is NULL", n),
			      &e);
	if (dqlc__sql_tx_effect(sql) != 0 || dqlc__sql_has_keyword(sql, "SAVEPOINT"))
		/* Each request may run on another connection: a BEGIN here
		 * would leave some pooled connection inside a transaction.
		 * So would a SAVEPOINT outside one (it opens a transaction),
		 * and the connection would not know it. */
		return failed(p, dqlc__err(&e, DQLC_EMISUSE,
					   "transaction statements cannot be pool requests: use "
					   "dqlc_pool_transaction() or dqlc_pool_acquire()"),
			      &e);
	f = dqlc__future_new(p, kind, sql, params, n, opts, p->cfg.request_timeout_ms);
	if (f == NULL)
		return NULL;
	pthread_mutex_lock(&p->mu);
	rv = dqlc__pool_enter(p, &e);
	if (rv == 0 && p->queued >= (size_t)p->cfg.queue_max)
		rv = dqlc__err(&e, DQLC_EQUEUEFULL, "request queue is full (%zu queued, queue_max)",
			       p->queued);
	if (rv == 0 && p->n_threads == 0)
		rv = dqlc__workers_start(p, &e);
	if (rv != 0) {
		pthread_mutex_unlock(&p->mu);
		f->pool = NULL;
		dqlc__future_complete(f, rv, &e, NULL, false);
		return f;
	}
	f->next = NULL;
	f->prev = p->q_tail;
	if (p->q_tail)
		p->q_tail->next = f;
	else
		p->q_head = f;
	p->q_tail = f;
	p->queued++;
	atomic_fetch_add(&p->stats.submitted, 1);
	if (p->steal_score < DQLC__DEFER_AT || !p->sentinel)
		pthread_cond_signal(&p->cv_work);
	if (p->timer_on && f->deadline < p->timer_at)
		pthread_cond_signal(&p->cv_timer); /* due before its next wake-up */
	pthread_mutex_unlock(&p->mu);
	return f;
}

dqlc_future_t *dqlc_pool_exec(dqlc_pool_t *p, const char *sql, const dqlc_value_t *params,
			      size_t n)
{
	return submit(p, DQLC__JOB_EXEC, sql, params, n, NULL);
}

dqlc_future_t *dqlc_pool_query(dqlc_pool_t *p, const char *sql, const dqlc_value_t *params,
			       size_t n)
{
	return submit(p, DQLC__JOB_QUERY, sql, params, n, NULL);
}

dqlc_future_t *dqlc_pool_exec_opts(dqlc_pool_t *p, const char *sql, const dqlc_value_t *params,
				   size_t n, const dqlc_req_opts_t *opts)
{
	return submit(p, DQLC__JOB_EXEC, sql, params, n, opts);
}

dqlc_future_t *dqlc_pool_query_opts(dqlc_pool_t *p, const char *sql, const dqlc_value_t *params,
				    size_t n, const dqlc_req_opts_t *opts)
{
	return submit(p, DQLC__JOB_QUERY, sql, params, n, opts);
}

void dqlc__queue_unlink(struct dqlc_pool *p, struct dqlc_future *f)
{
	if (f->prev)
		f->prev->next = f->next;
	else
		p->q_head = f->next;
	if (f->next)
		f->next->prev = f->prev;
	else
		p->q_tail = f->prev;
	f->next = f->prev = NULL;
	p->queued--;
}

void dqlc__pool_kick(struct dqlc_pool *p, struct dqlc_future *f)
{
	pthread_mutex_lock(&p->mu);
	dqlc__pool_adopt(p);
	dqlc__future_lock(f);
	if (f->state == DQLC__F_QUEUED && !f->urgent) {
		f->urgent = true;
		dqlc__future_unlock(f);
		if (p->q_head != f) {
			dqlc__queue_unlink(p, f);
			p->queued++;
			f->prev = NULL;
			f->next = p->q_head;
			if (p->q_head)
				p->q_head->prev = f;
			else
				p->q_tail = f;
			p->q_head = f;
		}
		pthread_cond_broadcast(&p->cv_work);
	} else {
		dqlc__future_unlock(f);
	}
	pthread_mutex_unlock(&p->mu);
}

bool dqlc__pool_cancel_queued(struct dqlc_pool *p, struct dqlc_future *f)
{
	struct dqlc__settled settled;
	dqlc_error_t e;
	bool found = false;
	pthread_mutex_lock(&p->mu);
	dqlc__pool_adopt(p);
	dqlc__future_lock(f);
	if (f->state == DQLC__F_QUEUED) {
		dqlc__queue_unlink(p, f);
		f->state = DQLC__F_RUNNING; /* claimed: no worker will take it */
		found = true;
	}
	dqlc__future_unlock(f);
	if (found) {
		/* Done before the pool mutex is released (see
		 * dqlc__future_settle). */
		dqlc__err(&e, DQLC_ECANCELED, "canceled before it ran");
		dqlc__future_settle(f, DQLC_ECANCELED, &e, NULL, true, &settled);
		atomic_fetch_add(&p->stats.canceled, 1);
		atomic_fetch_add(&p->stats.failed, 1);
	}
	pthread_mutex_unlock(&p->mu);
	if (found)
		dqlc__future_finish(f, &settled);
	return found;
}

/* Latency histogram: bucket b covers [2^(b/4), 2^((b+1)/4)) microseconds. */
void dqlc__stats_latency(struct dqlc_pool *p, int64_t ns)
{
	uint64_t us = ns > 0 ? (uint64_t)ns / 1000 : 0, x = us + 1, max;
	int b = 0;
	while (x >= 16) { /* whole powers of two, four buckets each */
		x >>= 1;
		b += 4;
	}
	/* x in [1, 16): refine within the power of two */
	if (x >= 2) {
		int top = 31 - __builtin_clz((unsigned)x);
		b += 4 * top + (int)(((x << 2) >> top) & 3);
	}
	if (b >= DQLC__LAT_BUCKETS)
		b = DQLC__LAT_BUCKETS - 1;
	atomic_fetch_add(&p->stats.lat[b], 1);
	atomic_fetch_add(&p->stats.lat_sum_us, us);
	max = atomic_load(&p->stats.lat_max_us);
	while (us > max && !atomic_compare_exchange_weak(&p->stats.lat_max_us, &max, us))
		;
}

static double bucket_us(int b)
{
	/* geometric middle of the bucket */
	double lo = 1.0;
	int i;
	for (i = 0; i < b; i++)
		lo *= 1.189207115; /* 2^(1/4) */
	return lo * 1.0905 - 1.0;
}

int dqlc_pool_stats(dqlc_pool_t *p, dqlc_pool_stats_t *out, dqlc_error_t *err)
{
	dqlc_pool_stats_t s;
	uint64_t total = 0, seen = 0, lat[DQLC__LAT_BUCKETS];
	size_t size;
	int b;
	if (p == NULL || out == NULL || out->struct_size == 0)
		return dqlc__err(err, DQLC_EINVAL,
				 "dqlc_pool_stats: NULL argument or struct_size not set");
	memset(&s, 0, sizeof s);
	s.struct_size = sizeof s;
	s.submitted = atomic_load(&p->stats.submitted);
	s.completed = atomic_load(&p->stats.completed);
	s.failed = atomic_load(&p->stats.failed);
	s.retries = atomic_load(&p->stats.retries);
	s.busy_retries = atomic_load(&p->stats.busy_retries);
	s.timeouts = atomic_load(&p->stats.timeouts);
	s.canceled = atomic_load(&p->stats.canceled);
	s.connects = atomic_load(&p->stats.connects);
	pthread_mutex_lock(&p->mu);
	s.queued = (uint32_t)p->queued;
	s.in_flight = (uint32_t)p->in_flight;
	s.conns_open = (uint32_t)p->n_open;
	s.conns_idle = (uint32_t)p->n_idle;
	s.conns_leased = (uint32_t)p->n_leased;
	s.workers = (uint32_t)p->n_threads;
	pthread_mutex_unlock(&p->mu);
	pthread_mutex_lock(&p->map.mu);
	s.leader_changes = p->map.changes;
	pthread_mutex_unlock(&p->map.mu);
	for (b = 0; b < DQLC__LAT_BUCKETS; b++)
		total += lat[b] = atomic_load(&p->stats.lat[b]);
	if (total > 0) {
		s.latency_mean_us = (double)atomic_load(&p->stats.lat_sum_us) / (double)total;
		s.latency_max_us = (double)atomic_load(&p->stats.lat_max_us);
		for (b = 0; b < DQLC__LAT_BUCKETS; b++) {
			seen += lat[b];
			if (s.latency_p50_us == 0 && seen * 2 >= total)
				s.latency_p50_us = bucket_us(b);
			if (seen * 100 >= total * 99) {
				s.latency_p99_us = bucket_us(b);
				break;
			}
		}
	}
	/* Copy only what the caller's struct has room for. */
	size = out->struct_size < sizeof s ? out->struct_size : sizeof s;
	memcpy((char *)out + sizeof(size_t), (char *)&s + sizeof(size_t), size - sizeof(size_t));
	return 0;
}

int dqlc_pool_leader(dqlc_pool_t *p, char *buf, size_t len, dqlc_error_t *err)
{
	uint64_t gen;
	int rv;
	if (p == NULL || buf == NULL || len == 0)
		return dqlc__err(err, DQLC_EINVAL, "dqlc_pool_leader: bad argument");
	pthread_mutex_lock(&p->mu);
	rv = dqlc__pool_enter(p, err);
	pthread_mutex_unlock(&p->mu);
	if (rv != 0)
		return rv;
	return dqlc__map_leader(&p->map, dqlc__deadline_in(p->cfg.connect_timeout_ms), buf, len,
				&gen, err);
}

static void free_pool(struct dqlc_pool *p)
{
	dqlc__map_destroy(&p->map);
	pthread_mutex_destroy(&p->mu);
	pthread_cond_destroy(&p->cv_work);
	pthread_cond_destroy(&p->cv_conn);
	pthread_cond_destroy(&p->cv_lane);
	pthread_cond_destroy(&p->cv_timer);
	free(p->idle);
	free(p->threads);
	dqlc__config_clear(&p->cfg);
	free(p);
}

void dqlc_pool_close(dqlc_pool_t *p)
{
	struct dqlc_future *q, *f, *next;
	struct dqlc_conn **idle = NULL;
	size_t n_idle, i, n_threads;
	pthread_t *threads, timer;
	dqlc_error_t e;
	bool free_now, timer_on;

	if (p == NULL)
		return;
	if (dqlc__worker_of == p) {
		dqlc__log(&p->cfg, DQLC_LOG_ERROR,
			  "dqlc_pool_close called from the pool's own worker (a callback): ignored");
		return;
	}
	pthread_mutex_lock(&p->mu);
	dqlc__pool_adopt(p);
	if (p->state != DQLC__POOL_RUNNING) {
		pthread_mutex_unlock(&p->mu);
		return;
	}
	p->state = DQLC__POOL_CLOSING;
	q = NULL;
	if (!p->cfg.close_drain) {
		/* Abort: take the queue, interrupt what runs. */
		q = p->q_head;
		for (f = q; f != NULL; f = f->next) {
			dqlc__future_lock(f);
			f->state = DQLC__F_RUNNING;
			dqlc__future_unlock(f);
		}
		p->q_head = p->q_tail = NULL;
		p->queued = 0;
		for (f = p->running; f != NULL; f = f->next) {
			dqlc__future_lock(f);
			f->cancel = true;
			if (f->conn != NULL)
				dqlc_conn_cancel(f->conn);
			dqlc__future_unlock(f);
		}
	}
	pthread_cond_broadcast(&p->cv_work);
	pthread_cond_broadcast(&p->cv_conn);
	pthread_cond_broadcast(&p->cv_lane);
	pthread_cond_broadcast(&p->cv_timer);
	threads = p->threads;
	n_threads = p->n_threads;
	timer = p->timer;
	timer_on = p->timer_on;
	pthread_mutex_unlock(&p->mu);

	dqlc__err(&e, DQLC_ECLOSED, "pool closed before the request ran");
	for (f = q; f != NULL; f = next) {
		next = f->next;
		atomic_fetch_add(&p->stats.failed, 1);
		dqlc__future_complete(f, DQLC_ECLOSED, &e, NULL, true);
	}
	for (i = 0; i < n_threads; i++)
		pthread_join(threads[i], NULL);
	if (timer_on)
		pthread_join(timer, NULL);
	/* Callers running a request inline hold a connection: wait for them. */
	pthread_mutex_lock(&p->mu);
	while (p->stealers > 0)
		pthread_cond_wait(&p->cv_work, &p->mu);
	pthread_mutex_unlock(&p->mu);
	/* Stop discovery (and join its thread) before the connections go. */
	dqlc__map_stop(&p->map);

	pthread_mutex_lock(&p->mu);
	p->n_threads = 0;
	p->timer_on = false;
	n_idle = dqlc__pool_take_idle(p, &idle);
	p->state = DQLC__POOL_CLOSED;
	free_now = p->n_leased == 0;
	if (!free_now)
		p->free_on_last_lease = true;
	pthread_mutex_unlock(&p->mu);
	for (i = 0; i < n_idle; i++)
		dqlc__conn_destroy(idle[i]);
	free(idle);
	dqlc__fork_unregister(p);
	if (free_now)
		free_pool(p);
}

void dqlc__pool_free_late(struct dqlc_pool *p)
{
	free_pool(p);
}
