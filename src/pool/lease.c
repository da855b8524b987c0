/* Pooled connections to the leader, and the write lane. */
#include <poll.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "conn.h"
#include "error.h"
#include "log.h"
#include "net/sock.h"
#include "pool/pool.h"
#include "sync.h"

/* p->mu held. */
static void track(struct dqlc_pool *p, struct dqlc_conn *c)
{
	c->pool = p;
	c->pool_prev = NULL;
	c->pool_next = p->conns;
	if (p->conns)
		p->conns->pool_prev = c;
	p->conns = c;
}

/* p->mu held. */
static void untrack(struct dqlc_pool *p, struct dqlc_conn *c)
{
	if (c->pool_prev)
		c->pool_prev->pool_next = c->pool_next;
	else if (p->conns == c)
		p->conns = c->pool_next;
	if (c->pool_next)
		c->pool_next->pool_prev = c->pool_prev;
	c->pool_next = c->pool_prev = NULL;
	p->n_open--;
}

/* Open a new connection to the leader the map knows (no lock held). */
static int open_conn(struct dqlc_pool *p, int64_t deadline, struct dqlc_conn **out,
		     dqlc_error_t *err)
{
	char addr[256];
	uint64_t gen;
	int fd, rv;
	void *tls;
	struct dqlc_conn *c;
	rv = dqlc__map_leader(&p->map, deadline, addr, sizeof addr, &gen, err);
	if (rv != 0)
		return rv;
	rv = dqlc__sock_dial_secure(&p->cfg, addr, deadline, &fd, &tls, err);
	if (rv != 0) {
		/* The leader we were told about cannot be reached. */
		dqlc__map_invalidate(&p->map, gen);
		dqlc__err_flag(err, DQLC_ERRF_RETRYABLE);
		return rv;
	}
	rv = dqlc__conn_new(&p->cfg, false, addr, fd, tls, false, &c, err);
	if (rv != 0)
		return rv;
	c->map_gen = gen;
	c->pool = p;
	rv = dqlc__conn_open(c, deadline, err);
	if (rv != 0) {
		dqlc__map_invalidate(&p->map, gen);
		dqlc__err_flag(err, DQLC_ERRF_RETRYABLE); /* OPEN executes nothing */
		dqlc__conn_destroy(c);
		return rv;
	}
	atomic_fetch_add(&p->stats.connects, 1);
	dqlc__event(&p->cfg, DQLC_EVENT_CONNECTED, addr, NULL, 0, 0, 0);
	*out = c;
	return 0;
}

/* Has the server closed this idle connection?  It never sends anything
 * unprompted, so any readable byte or hang-up means it is dead. */
static bool looks_dead(struct dqlc_conn *c)
{
	struct pollfd pf = {.fd = c->fd, .events = POLLIN, .revents = 0};
	return c->fd < 0 || poll(&pf, 1, 0) != 0;
}

/* p->mu held: is this pooled connection still fit for reuse? */
static bool stale(struct dqlc_pool *p, struct dqlc_conn *c, uint64_t gen, int64_t now)
{
	if (c->broken || c->forked || c->map_gen != gen || p->state == DQLC__POOL_CLOSED)
		return true;
	if (p->cfg.max_lifetime_ms > 0 && now - c->created_ns > p->cfg.max_lifetime_ms * 1000000)
		return true;
	return false;
}

static int lease(struct dqlc_pool *p, int64_t deadline, bool always_check,
		 struct dqlc_conn **out, dqlc_error_t *err)
{
	struct dqlc_conn *c;
	int rv;
	pthread_mutex_lock(&p->mu);
	for (;;) {
		uint64_t gen = dqlc__map_gen(&p->map);
		int64_t now = dqlc__now_ns();
		if (p->state == DQLC__POOL_CLOSED) {
			pthread_mutex_unlock(&p->mu);
			return dqlc__err(err, DQLC_ECLOSED, "pool is closed");
		}
		if (p->n_idle > 0) {
			c = p->idle[--p->n_idle];
			if (stale(p, c, gen, now)) {
				untrack(p, c);
				pthread_mutex_unlock(&p->mu);
				dqlc__conn_destroy(c);
				pthread_mutex_lock(&p->mu);
				pthread_cond_signal(&p->cv_conn);
				continue;
			}
			if (always_check ||
			    now - c->last_used_ns > p->cfg.health_check_idle_ms * 1000000) {
				bool dead;
				pthread_mutex_unlock(&p->mu);
				dead = looks_dead(c);
				pthread_mutex_lock(&p->mu);
				if (dead) {
					untrack(p, c);
					pthread_mutex_unlock(&p->mu);
					dqlc__conn_destroy(c);
					pthread_mutex_lock(&p->mu);
					pthread_cond_signal(&p->cv_conn);
					continue;
				}
			}
			pthread_mutex_unlock(&p->mu);
			*out = c;
			return 0;
		}
		if (p->n_open + p->n_opening < (size_t)p->cfg.pool_max) {
			p->n_opening++;
			pthread_mutex_unlock(&p->mu);
			rv = open_conn(p, deadline, &c, err);
			pthread_mutex_lock(&p->mu);
			p->n_opening--;
			if (rv != 0) {
				pthread_cond_signal(&p->cv_conn);
				pthread_mutex_unlock(&p->mu);
				return rv;
			}
			p->n_open++;
			track(p, c);
			pthread_mutex_unlock(&p->mu);
			*out = c;
			return 0;
		}
		if (dqlc__deadline_passed(deadline)) {
			pthread_mutex_unlock(&p->mu);
			return dqlc__err(err, DQLC_EPOOL,
					 "no pooled connection became free in time (pool_max %lld)",
					 (long long)p->cfg.pool_max);
		}
		dqlc__cond_wait_until(&p->cv_conn, &p->mu, deadline);
	}
}

static struct dqlc_conn *expired_idle(struct dqlc_pool *p, int64_t now);

int dqlc__pool_lease(struct dqlc_pool *p, int64_t deadline, struct dqlc_conn **out,
		     dqlc_error_t *err)
{
	return lease(p, deadline, false, out, err);
}

void dqlc__pool_keep_warm(void *arg)
{
	struct dqlc_pool *p = arg;
	/* Close connections idle past idle_timeout_ms (above pool_min): a pool
	 * that went quiet gives its sockets back without waiting for a
	 * release to notice. */
	for (;;) {
		struct dqlc_conn *c;
		pthread_mutex_lock(&p->mu);
		c = p->state == DQLC__POOL_RUNNING ? expired_idle(p, dqlc__now_ns()) : NULL;
		pthread_mutex_unlock(&p->mu);
		if (c == NULL)
			break;
		dqlc__conn_destroy(c);
	}
	for (;;) {
		struct dqlc_conn *c;
		dqlc_error_t e;
		pthread_mutex_lock(&p->mu);
		if (p->state != DQLC__POOL_RUNNING ||
		    p->n_open + p->n_opening >= (size_t)p->cfg.pool_min) {
			pthread_mutex_unlock(&p->mu);
			return;
		}
		p->n_opening++;
		pthread_mutex_unlock(&p->mu);
		/* The leader is known: the thread just confirmed it. */
		if (open_conn(p, dqlc__deadline_in(p->cfg.connect_timeout_ms), &c, &e) != 0) {
			pthread_mutex_lock(&p->mu);
			p->n_opening--;
			pthread_mutex_unlock(&p->mu);
			return;
		}
		pthread_mutex_lock(&p->mu);
		p->n_opening--;
		p->n_open++;
		track(p, c);
		p->idle[p->n_idle++] = c;
		pthread_cond_signal(&p->cv_conn);
		pthread_mutex_unlock(&p->mu);
	}
}

int dqlc__pool_lease_checked(struct dqlc_pool *p, int64_t deadline, struct dqlc_conn **out,
			     dqlc_error_t *err)
{
	return lease(p, deadline, true, out, err);
}

/* p->mu held: the idle connection that has waited longest is at the
 * bottom of the stack. */
static struct dqlc_conn *expired_idle(struct dqlc_pool *p, int64_t now)
{
	struct dqlc_conn *c;
	size_t i;
	if (p->n_idle == 0 || p->n_open <= (size_t)p->cfg.pool_min || p->cfg.idle_timeout_ms <= 0)
		return NULL;
	c = p->idle[0];
	if (now - c->last_used_ns < p->cfg.idle_timeout_ms * 1000000)
		return NULL;
	for (i = 1; i < p->n_idle; i++)
		p->idle[i - 1] = p->idle[i];
	p->n_idle--;
	untrack(p, c);
	return c;
}

void dqlc__pool_release(struct dqlc_pool *p, struct dqlc_conn *c)
{
	struct dqlc_conn *drop = NULL, *expired;
	bool free_pool = false;
	int64_t now = dqlc__now_ns();
	c->deadline_cap = DQLC__NO_DEADLINE;
	c->timeout_ms = p->cfg.request_timeout_ms;
	if (c->cursor != NULL) {
		/* Returned with a result still streaming: not reusable. */
		dqlc__cursor_orphan(c->cursor);
		c->cursor = NULL;
		dqlc__conn_break(c);
	}
	if (c->in_tx && !c->broken && !c->forked)
		/* A lease returned in a child that skipped the atfork handlers
		 * still has the parent's socket: abandon it (with every other
		 * inherited one) rather than send a ROLLBACK that would end the
		 * parent's transaction. */
		dqlc__pool_check_fork(p);
	if (c->in_tx && !c->broken && !c->forked) {
		/* Never hand out a connection inside someone's transaction. */
		if (dqlc_conn_rollback(c, NULL) != 0)
			dqlc__conn_break(c);
	}
	pthread_mutex_lock(&p->mu);
	if (c->leased) {
		c->leased = false;
		p->n_leased--;
		free_pool = p->free_on_last_lease && p->n_leased == 0;
	}
	if (stale(p, c, dqlc__map_gen(&p->map), now) || p->n_idle >= (size_t)p->cfg.pool_max) {
		untrack(p, c);
		drop = c;
	} else {
		p->idle[p->n_idle++] = c;
	}
	expired = expired_idle(p, now);
	pthread_cond_signal(&p->cv_conn);
	pthread_mutex_unlock(&p->mu);
	dqlc__conn_destroy(drop);
	dqlc__conn_destroy(expired);
	if (free_pool)
		dqlc__pool_free_late(p);
}

size_t dqlc__pool_take_idle(struct dqlc_pool *p, struct dqlc_conn ***out)
{
	size_t n = p->n_idle, i;
	*out = malloc((n > 0 ? n : 1) * sizeof **out);
	if (*out == NULL)
		return 0; /* they stay tracked; freed with the pool */
	for (i = 0; i < n; i++) {
		(*out)[i] = p->idle[i];
		untrack(p, p->idle[i]);
	}
	p->n_idle = 0;
	return n;
}

int dqlc__lane_acquire(struct dqlc_pool *p, int64_t deadline, dqlc_error_t *err)
{
	pthread_mutex_lock(&p->mu);
	while (p->lane_busy) {
		if (dqlc__deadline_passed(deadline)) {
			pthread_mutex_unlock(&p->mu);
			return dqlc__err(err, DQLC_ETIMEDOUT,
					 "deadline exceeded waiting for the write lane");
		}
		dqlc__cond_wait_until(&p->cv_lane, &p->mu, deadline);
	}
	p->lane_busy = true;
	pthread_mutex_unlock(&p->mu);
	return 0;
}

void dqlc__lane_release(struct dqlc_pool *p)
{
	pthread_mutex_lock(&p->mu);
	p->lane_busy = false;
	pthread_cond_signal(&p->cv_lane);
	pthread_mutex_unlock(&p->mu);
}

int dqlc_pool_acquire(dqlc_pool_t *p, int64_t timeout_ms, dqlc_conn_t **out, dqlc_error_t *err)
{
	struct dqlc_conn *c;
	int64_t deadline;
	int rv;
	if (out == NULL)
		return dqlc__err(err, DQLC_EINVAL, "dqlc_pool_acquire: NULL out");
	*out = NULL;
	if (p == NULL)
		return dqlc__err(err, DQLC_EINVAL, "NULL pool");
	pthread_mutex_lock(&p->mu);
	rv = dqlc__pool_enter(p, err);
	pthread_mutex_unlock(&p->mu);
	if (rv != 0)
		return rv;
	deadline = dqlc__deadline_in(timeout_ms < 0 ? p->cfg.acquire_timeout_ms : timeout_ms);
	if (timeout_ms == 0)
		deadline = dqlc__now_ns(); /* try once, don't wait */
	rv = dqlc__pool_lease(p, deadline, &c, err);
	if (rv != 0)
		return rv;
	pthread_mutex_lock(&p->mu);
	c->leased = true;
	p->n_leased++;
	pthread_mutex_unlock(&p->mu);
	*out = c;
	return 0;
}
