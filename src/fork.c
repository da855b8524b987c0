/* fork() safety.  pthread_atfork handlers (registered once) keep every
 * library lock consistent across fork: prepare takes them all (none is ever
 * held across I/O or a callback, so this waits only for short sections),
 * the parent releases them, and the child closes every inherited socket and
 * wakeup fd with close() only — no shutdown(), no goodbye, no TLS
 * shutdown — forgets the threads that did not follow it, and releases the
 * locks.  The first call on a pool in the child then rebuilds it lazily
 * (dqlc__pool_reset_in_child).  A getpid() check at every entry catches
 * forks that bypassed the handlers. */
#include <pthread.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "cluster/discover.h"
#include "conn.h"
#include "error.h"
#include "future.h"
#include "pool/pool.h"
#include "sync.h"

static pthread_mutex_t registry_mu = PTHREAD_MUTEX_INITIALIZER;
static struct dqlc_pool *registry;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void prepare(void)
{
	struct dqlc_pool *p;
	pthread_mutex_lock(&registry_mu);
	for (p = registry; p != NULL; p = p->reg_next) {
		pthread_mutex_lock(&p->mu);
		pthread_mutex_lock(&p->map.mu);
	}
	dqlc__future_lock_all();
	dqlc__leader_cache_lock();
}

static void unlock_all(void)
{
	struct dqlc_pool *p, *last = NULL;
	dqlc__leader_cache_unlock();
	dqlc__future_unlock_all();
	for (p = registry; p != NULL; p = p->reg_next)
		last = p;
	for (p = last; p != NULL; p = p->reg_prev) {
		pthread_mutex_unlock(&p->map.mu);
		pthread_mutex_unlock(&p->mu);
	}
	pthread_mutex_unlock(&registry_mu);
}

static void parent(void)
{
	unlock_all();
}

/* The parent's connection: close our copies of its descriptors (close()
 * only — never shutdown(), a goodbye or a TLS close_notify, which would
 * reach the parent's peer) and never touch them again.  Async-signal-safe. */
static void abandon_sockets(struct dqlc_conn *c)
{
	if (c == NULL || c->forked)
		return;
	if (c->fd >= 0)
		close(c->fd);
	if (c->wake_fd >= 0)
		close(c->wake_fd);
	c->fd = c->wake_fd = -1;
	c->forked = true;
}

/* Only async-signal-safe work here: close() and plain stores. */
static void child(void)
{
	struct dqlc_pool *p;
	struct dqlc_conn *c;
	for (p = registry; p != NULL; p = p->reg_next) {
		for (c = p->conns; c != NULL; c = c->pool_next)
			abandon_sockets(c);
		abandon_sockets(p->map.control);
		if (p->map.wake_fd >= 0)
			close(p->map.wake_fd);
		p->map.wake_fd = -1;
		p->map.running = false; /* its thread stayed in the parent */
		p->n_threads = 0;
		p->timer_on = false; /* so did the deadline thread */
	}
	unlock_all();
}

static void install(void)
{
	pthread_atfork(prepare, parent, child);
}

void dqlc__fork_register(struct dqlc_pool *p)
{
	pthread_once(&once, install);
	pthread_mutex_lock(&registry_mu);
	p->reg_prev = NULL;
	p->reg_next = registry;
	if (registry)
		registry->reg_prev = p;
	registry = p;
	pthread_mutex_unlock(&registry_mu);
}

void dqlc__fork_unregister(struct dqlc_pool *p)
{
	pthread_mutex_lock(&registry_mu);
	if (p->reg_prev)
		p->reg_prev->reg_next = p->reg_next;
	else if (registry == p)
		registry = p->reg_next;
	if (p->reg_next)
		p->reg_next->reg_prev = p->reg_prev;
	p->reg_next = p->reg_prev = NULL;
	pthread_mutex_unlock(&registry_mu);
}

/* Fail every future of `list` with DQLC_EFORKED, without callbacks: they
 * belong to the parent, which completes them there. */
static void fail_parents(struct dqlc_future *list)
{
	struct dqlc_future *f, *next;
	dqlc_error_t e;
	dqlc__err(&e, DQLC_EFORKED, "request submitted before fork(); it runs in the parent");
	for (f = list; f != NULL; f = next) {
		next = f->next;
		f->next = f->prev = NULL;
		dqlc__future_reinit(f);
		dqlc__future_complete(f, DQLC_EFORKED, &e, NULL, false);
	}
}

void dqlc__pool_reset_in_child(struct dqlc_pool *p)
{
	struct dqlc_conn *c, *next, *conns;
	struct dqlc_future *queued = p->q_head, *running = p->running;
	struct dqlc__map *m = &p->map;

	/* Fresh condition variables: the old ones may count waiters that
	 * only exist in the parent (never destroy those). */
	dqlc__cond_init(&p->cv_work);
	dqlc__cond_init(&p->cv_conn);
	dqlc__cond_init(&p->cv_lane);
	dqlc__cond_init(&p->cv_timer);
	dqlc__cond_init(&m->cv_leader);
	dqlc__cond_init(&m->cv_thread);

	/* Sockets were closed at fork (or, without the atfork handler, are
	 * closed now); free the objects, except leases a caller still holds:
	 * those fail with DQLC_EFORKED and are freed when returned. */
	conns = p->conns;
	p->conns = NULL;
	p->n_open = p->n_idle = p->n_opening = 0;
	for (c = conns; c != NULL; c = next) {
		next = c->pool_next;
		abandon_sockets(c);
		if (c->leased) {
			c->pool_prev = NULL;
			c->pool_next = p->conns;
			if (p->conns)
				p->conns->pool_prev = c;
			p->conns = c;
			p->n_open++;
		} else {
			c->pool = NULL;
			dqlc__conn_destroy(c);
		}
	}
	abandon_sockets(m->control);
	dqlc__conn_destroy(m->control);
	m->control = NULL;
	if (m->wake_fd >= 0)
		close(m->wake_fd);
	m->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	m->running = false;
	m->known = false;
	m->refresh = false;
	m->waiters = 0;
	m->gen++;

	free(p->threads);
	p->threads = NULL;
	p->n_threads = 0;
	p->timer_on = false;
	p->timer_at = DQLC__NO_DEADLINE;
	p->lane_busy = false;
	/* Callers that were running a request inline, and the polling
	 * sentinel, were threads of the parent: none of them will ever
	 * decrement or clear these here (dqlc_pool_close would wait for the
	 * stealers forever; a stale sentinel would leave requests that nobody
	 * waits for unstarted). */
	p->stealers = 0;
	p->sentinel = false;
	p->steal_score = 0;
	p->idle_polls = 0;
	p->q_head = p->q_tail = p->running = NULL;
	p->queued = p->in_flight = 0;
	p->pid = getpid();

	fail_parents(queued);
	fail_parents(running);
}

int dqlc_pool_after_fork(dqlc_pool_t *p, dqlc_error_t *err)
{
	if (p == NULL)
		return dqlc__err(err, DQLC_EINVAL, "NULL pool");
	pthread_mutex_lock(&p->mu);
	if (p->pid != getpid())
		dqlc__pool_reset_in_child(p);
	p->forked_explicit = false;
	pthread_mutex_unlock(&p->mu);
	return 0;
}
