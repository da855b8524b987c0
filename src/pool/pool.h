/* The pool: request queue, worker threads, pooled connections, write lane.
 *
 * Locking: pool->mu guards everything in struct dqlc_pool except `map`
 * (its own lock) and the stats atomics.  Order: fork registry, pool->mu,
 * map->mu, future->mu.  No lock is held across I/O or a user callback. */
#ifndef DQLC_POOL_H
#define DQLC_POOL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "cfg.h"
#include "cluster/map.h"

struct dqlc_future;
struct dqlc_conn;

#define DQLC__SCORE_MAX 64
#define DQLC__DEFER_AT 32            /* score from which wake-ups are skipped */
#define DQLC__QUICK_NS 50000         /* a steal this soon after submit is "quick" */
#define DQLC__GRACE_NS 1000000       /* longest a request waits for its caller */

enum dqlc__pool_state { DQLC__POOL_RUNNING, DQLC__POOL_CLOSING, DQLC__POOL_CLOSED };

#define DQLC__LAT_BUCKETS 96 /* quarter powers of two of microseconds */

struct dqlc__stats {
	atomic_uint_fast64_t submitted, completed, failed, retries, busy_retries, timeouts,
	    canceled, connects;
	atomic_uint_fast64_t lat[DQLC__LAT_BUCKETS];
	atomic_uint_fast64_t lat_sum_us, lat_max_us;
};

struct dqlc_pool {
	pthread_mutex_t mu;
	pthread_cond_t cv_work; /* a request was queued, or the state changed */
	pthread_cond_t cv_conn; /* a connection or a slot freed up */
	pthread_cond_t cv_lane; /* the write lane freed up */
	struct dqlc_config cfg;
	enum dqlc__pool_state state;

	/* fork safety */
	_Atomic pid_t pid;      /* process the pool's threads and sockets belong to
				 * (changed under mu; read without it by
				 * dqlc__pool_check_fork) */
	bool forked_explicit;   /* inherited in "explicit" mode: refuse until after_fork */
	struct dqlc_pool *reg_next, *reg_prev;

	/* requests */
	struct dqlc_future *q_head, *q_tail; /* FIFO */
	size_t queued;
	struct dqlc_future *running;         /* in-flight list */
	size_t in_flight;
	size_t stealers;                     /* callers running a request inline */
	/* Adaptive wake-ups.  When callers nearly always run their own requests
	 * (they wait right after submitting), waking a worker per request is
	 * pure overhead: submissions then skip the wake-up and one "sentinel"
	 * worker polls, so a request nobody waits on still starts within
	 * DQLC__GRACE_NS. */
	int steal_score;                     /* 0..DQLC__SCORE_MAX */
	bool sentinel;                       /* a worker is polling */
	int idle_polls;

	/* workers, started on first use */
	pthread_t *threads;
	size_t n_threads;
	/* The deadline thread (started with the workers): completes queued
	 * requests whose deadline passes while every worker is busy. */
	pthread_t timer;
	bool timer_on;
	pthread_cond_t cv_timer;
	int64_t timer_at; /* its next wake-up (DQLC__NO_DEADLINE: when signalled) */

	/* connections */
	struct dqlc_conn *conns;  /* every connection of the pool (fork reset) */
	struct dqlc_conn **idle; /* LIFO: the warmest first */
	size_t n_idle;
	size_t n_open;           /* idle + busy + leased */
	size_t n_leased;
	size_t n_opening;        /* slots reserved while dialing */
	bool free_on_last_lease; /* closed with leases out: free when they return */

	/* write lane: one write in flight per pool */
	bool lane_busy;

	struct dqlc__map map;
	struct dqlc__stats stats;
};

/* Connections (lease.c).  Lease one for a request or a caller, within the
 * deadline (DQLC_EPOOL when none frees up in time); release it (kept, or
 * destroyed when broken or stale). */
int dqlc__pool_lease(struct dqlc_pool *p, int64_t deadline, struct dqlc_conn **out,
		     dqlc_error_t *err);
/* Same, checking any idle connection for a hang-up first whatever its idle
 * time: for writes, whose failure after sending is ambiguous. */
int dqlc__pool_lease_checked(struct dqlc_pool *p, int64_t deadline, struct dqlc_conn **out,
			     dqlc_error_t *err);
void dqlc__pool_release(struct dqlc_pool *p, struct dqlc_conn *c);
/* p->mu held: take idle connections out for destruction (after unlock). */
size_t dqlc__pool_take_idle(struct dqlc_pool *p, struct dqlc_conn ***out);

/* The last lease of a closed pool came back: free it (pool.c). */
void dqlc__pool_free_late(struct dqlc_pool *p);

/* Open connections until pool_min are open (discovery thread, no lock). */
void dqlc__pool_keep_warm(void *pool);

/* Write lane (lease.c). */
int dqlc__lane_acquire(struct dqlc_pool *p, int64_t deadline, dqlc_error_t *err);
void dqlc__lane_release(struct dqlc_pool *p);

/* Workers (worker.c). */
int dqlc__workers_start(struct dqlc_pool *p, dqlc_error_t *err); /* p->mu held */
void dqlc__worker_run(struct dqlc_pool *p, struct dqlc_future *f);

/* Queue helpers (pool.c). */
/* Cancel f if it is still queued: it completes with DQLC_ECANCELED (its
 * callback runs).  False if it had left the queue. */
bool dqlc__pool_cancel_queued(struct dqlc_pool *p, struct dqlc_future *f);
void dqlc__queue_unlink(struct dqlc_pool *p, struct dqlc_future *f); /* p->mu held */
/* "Caller runs": a thread about to block on a future that no worker has
 * taken yet runs it itself (no callback set).  Returns false if it could
 * not claim it. */
bool dqlc__pool_run_inline(struct dqlc_pool *p, struct dqlc_future *f);
/* The request will not be run by its caller (callback, timed wait): move it
 * to the head of the queue and wake a worker now. */
void dqlc__pool_kick(struct dqlc_pool *p, struct dqlc_future *f);
void dqlc__stats_latency(struct dqlc_pool *p, int64_t ns);

/* Public entry check: closed, forked (rebuilds or refuses). */
int dqlc__pool_enter(struct dqlc_pool *p, dqlc_error_t *err);
/* p->mu held: in a process other than the pool's (a forked child, with or
 * without atfork handlers), rebuild it for this process; in fork=explicit
 * mode also mark it refusing until dqlc_pool_after_fork().  Every path
 * that may wait on or touch the pool's requests calls it first. */
void dqlc__pool_adopt(struct dqlc_pool *p);
/* The same without p->mu held, cheap when nothing was forked: for the
 * future calls that may otherwise wait without touching the pool (a wait
 * on a request the parent was running when it forked). */
void dqlc__pool_check_fork(struct dqlc_pool *p);

/* Fork registry (fork.c). */
void dqlc__fork_register(struct dqlc_pool *p);
void dqlc__fork_unregister(struct dqlc_pool *p);
/* Called by dqlc__pool_enter when p->pid != getpid(): rebuild the pool for
 * this process (p->mu held). */
void dqlc__pool_reset_in_child(struct dqlc_pool *p);

#endif
