/* Futures: the state machine shared by the submitter and a worker. */
#ifndef DQLC_FUTURE_H
#define DQLC_FUTURE_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "dqlite-client.h"

struct dqlc_pool;
struct dqlc_conn;

enum dqlc__fstate { DQLC__F_QUEUED, DQLC__F_RUNNING, DQLC__F_DONE };
enum dqlc__job { DQLC__JOB_EXEC, DQLC__JOB_QUERY };

/* Futures are locked through a small fixed array of striped mutexes rather
 * than one mutex each: the atfork prepare handler can then take every
 * future lock, so no future is left locked in a forked child. */
#define DQLC__FUTURE_STRIPES 16 /* prepare holds them all: ThreadSanitizer
					 aborts past 64 locks held at once */
void dqlc__future_lock(const struct dqlc_future *f);
void dqlc__future_unlock(const struct dqlc_future *f);
void dqlc__future_lock_all(void);   /* atfork prepare */
void dqlc__future_unlock_all(void); /* atfork parent and child */
/* Forked child: make a parent's future usable here (fresh condition
 * variable) before completing it with DQLC_EFORKED. */
void dqlc__future_reinit(struct dqlc_future *f);

struct dqlc_future {
	pthread_cond_t cv;
	enum dqlc__fstate state;
	int refs; /* the owner's and the library's */
	bool user_freed;

	int code;
	dqlc_error_t err;
	dqlc_result_t *result;

	void (*cb)(dqlc_future_t *, void *);
	void *cb_arg;
	bool cb_set;

	bool cancel;             /* cancel asked while running */
	bool urgent;             /* a worker must take it now (pool mutex) */
	struct dqlc_conn *conn;  /* the connection running it (under mu) */

	/* The request (immutable after submit). */
	struct dqlc_pool *pool;
	enum dqlc__job kind;
	const char *sql;
	dqlc_value_t *params;
	size_t n;
	unsigned flags;
	int64_t submit_ns;
	int64_t deadline;
	uint64_t fork_gen;

	struct dqlc_future *next, *prev; /* queue / in-flight list (pool mutex) */
};

/* A new future holding a deep copy of the request; refs = 2. */
struct dqlc_future *dqlc__future_new(struct dqlc_pool *pool, enum dqlc__job kind,
				     const char *sql, const dqlc_value_t *params, size_t n,
				     const dqlc_req_opts_t *opts, int64_t default_timeout_ms);
/* Complete: record the outcome, wake waiters, run the callback (unless
 * run_cb is false: a forked child must not run the parent's callbacks),
 * drop the library's reference.  No library lock may be held. */
void dqlc__future_complete(struct dqlc_future *f, int code, const dqlc_error_t *err,
			   dqlc_result_t *result, bool run_cb);
/* The same in two steps, for a future that leaves the pool's queue or
 * in-flight list: settle (record the outcome, wake waiters; only the
 * future's own lock is taken, so the pool mutex may be held) in the same
 * critical section that unlinks it, then finish (callback, reference) with
 * no lock held.  A fork can then never find a future that is on no list
 * and not yet done: the child could neither fail it nor see it complete. */
struct dqlc__settled {
	void (*cb)(dqlc_future_t *, void *);
	void *arg;
};
void dqlc__future_settle(struct dqlc_future *f, int code, const dqlc_error_t *err,
			 dqlc_result_t *result, bool run_cb, struct dqlc__settled *out);
void dqlc__future_finish(struct dqlc_future *f, const struct dqlc__settled *s);
/* Mark running (returns false if it was canceled meanwhile). */
bool dqlc__future_start(struct dqlc_future *f);
/* Publish/clear the connection a running future uses (for cancel). */
void dqlc__future_set_conn(struct dqlc_future *f, struct dqlc_conn *c);
bool dqlc__future_canceled(struct dqlc_future *f);

/* The pool whose worker the calling thread is (NULL otherwise). */
extern _Thread_local struct dqlc_pool *dqlc__worker_of;

#endif
