/* dqlc_pool_transaction: BEGIN, the caller's function, COMMIT, and a rerun
 * of the whole function when the failure proves nothing was committed. */
#include <string.h>
#include <time.h>

#include "clock.h"
#include "conn.h"
#include "error.h"
#include "pool/pool.h"
#include "rand.h"
#include "sync.h"

/* Did the transaction fail in a way that proves nothing was committed and
 * that a rerun can succeed?  Before COMMIT is sent, a lost connection or a
 * leadership change discards the transaction on the server. */
static bool rerunnable(const struct dqlc_conn *c, bool commit_sent, const dqlc_error_t *e)
{
	uint64_t code = c->last_server_code;
	if ((code & 0xff) == DQLC_SQLITE_BUSY)
		return true;
	if (code == DQLC_SQLITE_NOT_LEADER || code == 8202)
		return true; /* rejected before running, COMMIT included */
	if (code == 7)
		return true; /* 1.11: raft refused the COMMIT's frames (RAFT_NOTLEADER
				leaked as 7, see worker.c), they were discarded */
	if (commit_sent)
		return e != NULL && (e->flags & DQLC_ERRF_RETRYABLE) &&
		       !(e->flags & DQLC_ERRF_MAYBE_EXECUTED);
	return c->broken || code == DQLC_SQLITE_LEADERSHIP_LOST || code == 8458 ||
	       code == DQLC_SQLITE_NOTFOUND;
}

int dqlc_pool_transaction(dqlc_pool_t *p, int (*fn)(dqlc_conn_t *, void *), void *arg,
			  dqlc_error_t *err)
{
	int64_t deadline;
	int rv, attempt = 0;
	dqlc_error_t e;
	if (p == NULL || fn == NULL)
		return dqlc__err(err, DQLC_EINVAL, "dqlc_pool_transaction: NULL argument");
	pthread_mutex_lock(&p->mu);
	rv = dqlc__pool_enter(p, err);
	pthread_mutex_unlock(&p->mu);
	if (rv != 0)
		return rv;
	deadline = dqlc__deadline_in(p->cfg.request_timeout_ms);
	for (;;) {
		struct dqlc_conn *c = NULL;
		bool commit_sent = false, again;
		memset(&e, 0, sizeof e);
		rv = dqlc__pool_lease(p, deadline, &c, &e);
		if (rv == DQLC_EPOOL)
			rv = e.code = DQLC_ETIMEDOUT;
		if (rv != 0) {
			if ((e.flags & DQLC_ERRF_RETRYABLE) && !dqlc__deadline_passed(deadline) &&
			    attempt++ < p->cfg.retry_max)
				continue;
			break;
		}
		c->deadline_cap = deadline;
		/* Holding the write lane for the transaction keeps the pool's
		 * own autocommit writes from colliding with it (SQLITE_BUSY). */
		rv = dqlc__lane_acquire(p, deadline, &e);
		if (rv != 0) {
			dqlc__pool_release(p, c);
			break;
		}
		rv = dqlc_conn_begin(c, &e);
		if (rv == 0) {
			int urv = fn(c, arg);
			if (urv != 0) {
				if (e.code == 0)
					dqlc__err(&e, urv, "transaction function returned %d (%s)", urv,
						  dqlc_strerror(urv));
				rv = urv;
			} else if (c->in_tx) {
				commit_sent = true;
				rv = dqlc_conn_commit(c, &e);
			}
		}
		again = rv != 0 && rerunnable(c, commit_sent, &e);
		if (rv != 0 && (c->broken || c->last_server_code == DQLC_SQLITE_NOT_LEADER ||
				c->last_server_code == DQLC_SQLITE_LEADERSHIP_LOST ||
				c->last_server_code == 7))
			dqlc__map_invalidate(&p->map, c->map_gen);
		if (c->in_tx)
			dqlc_conn_rollback(c, NULL);
		dqlc__lane_release(p);
		dqlc__pool_release(p, c);
		if (rv == 0 || !again || attempt >= p->cfg.retry_max ||
		    dqlc__deadline_passed(deadline))
			break;
		attempt++;
		atomic_fetch_add(&p->stats.retries, 1);
		dqlc__pause_ms(dqlc__backoff_ms(attempt, 1, 50), deadline);
	}
	if (rv != 0 && err != NULL)
		*err = e;
	return rv;
}
