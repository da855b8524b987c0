/* Cluster administration through a pool. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "conn.h"
#include "error.h"
#include "pool/pool.h"
#include "rand.h"

int dqlc_pool_cluster(dqlc_pool_t *p, dqlc_node_info_t **nodes, size_t *n, char *leader,
		      size_t leader_len, dqlc_error_t *err)
{
	char addr[256];
	uint64_t gen;
	int rv;
	if (p == NULL || nodes == NULL || n == NULL)
		return dqlc__err(err, DQLC_EINVAL, "dqlc_pool_cluster: NULL argument");
	pthread_mutex_lock(&p->mu);
	rv = dqlc__pool_enter(p, err);
	pthread_mutex_unlock(&p->mu);
	if (rv != 0)
		return rv;
	/* Make sure a map exists (the discovery thread may not run yet). */
	rv = dqlc__map_leader(&p->map, dqlc__deadline_in(p->cfg.connect_timeout_ms), addr,
			      sizeof addr, &gen, err);
	if (rv != 0)
		return rv;
	return dqlc__map_snapshot(&p->map, nodes, n, leader, leader_len, err);
}

/* Run op on a connection to the leader, again on NOT_LEADER or a lost
 * connection before anything was sent, within request_timeout_ms. */
static int on_leader(struct dqlc_pool *p, int (*op)(dqlc_conn_t *, const void *, dqlc_error_t *),
		     const void *arg, dqlc_error_t *err)
{
	int64_t deadline = dqlc__deadline_in(p->cfg.request_timeout_ms);
	int rv, attempt = 0;
	pthread_mutex_lock(&p->mu);
	rv = dqlc__pool_enter(p, err);
	pthread_mutex_unlock(&p->mu);
	if (rv != 0)
		return rv;
	for (;;) {
		struct dqlc_conn *c;
		dqlc_error_t e;
		memset(&e, 0, sizeof e);
		rv = dqlc__pool_lease(p, deadline, &c, &e);
		if (rv == DQLC_EPOOL)
			rv = e.code = DQLC_ETIMEDOUT;
		if (rv == 0) {
			c->deadline_cap = deadline;
			rv = op(c, arg, &e);
			if (rv != 0 && ((e.flags & DQLC_ERRF_LEADER_CHANGED) || c->broken))
				dqlc__map_invalidate(&p->map, c->map_gen);
			dqlc__pool_release(p, c);
		}
		if (rv == 0 || !(e.flags & DQLC_ERRF_RETRYABLE) || attempt++ >= p->cfg.retry_max ||
		    dqlc__deadline_passed(deadline)) {
			if (rv != 0 && err != NULL)
				*err = e;
			break;
		}
	}
	/* Membership may have changed: read it again. */
	dqlc__map_refresh(&p->map);
	return rv;
}

struct member {
	uint64_t id;
	const char *address;
	int role;
};

static int op_add(dqlc_conn_t *c, const void *arg, dqlc_error_t *err)
{
	const struct member *m = arg;
	return dqlc_conn_add(c, m->id, m->address, err);
}

static int op_assign(dqlc_conn_t *c, const void *arg, dqlc_error_t *err)
{
	const struct member *m = arg;
	return dqlc_conn_assign(c, m->id, m->role, err);
}

static int op_remove(dqlc_conn_t *c, const void *arg, dqlc_error_t *err)
{
	const struct member *m = arg;
	return dqlc_conn_remove(c, m->id, err);
}

static int op_transfer(dqlc_conn_t *c, const void *arg, dqlc_error_t *err)
{
	const struct member *m = arg;
	return dqlc_conn_transfer(c, m->id, err);
}

int dqlc_pool_add(dqlc_pool_t *p, uint64_t id, const char *address, dqlc_error_t *err)
{
	struct member m = {id, address, 0};
	if (p == NULL || address == NULL)
		return dqlc__err(err, DQLC_EINVAL, "dqlc_pool_add: NULL argument");
	/* Checked here too, before any connection is leased: a bad argument
	 * is DQLC_EINVAL whatever the state of the cluster. */
	if (id == 0)
		return dqlc__err(err, DQLC_EINVAL, "dqlc_pool_add: need a non-zero id");
	return on_leader(p, op_add, &m, err);
}

int dqlc_pool_assign(dqlc_pool_t *p, uint64_t id, int role, dqlc_error_t *err)
{
	struct member m = {id, NULL, role};
	if (p == NULL)
		return dqlc__err(err, DQLC_EINVAL, "NULL pool");
	if (role < DQLC_ROLE_VOTER || role > DQLC_ROLE_SPARE)
		return dqlc__err(err, DQLC_EINVAL, "role %d is not voter, standby or spare", role);
	return on_leader(p, op_assign, &m, err);
}

int dqlc_pool_remove(dqlc_pool_t *p, uint64_t id, dqlc_error_t *err)
{
	struct member m = {id, NULL, 0};
	if (p == NULL)
		return dqlc__err(err, DQLC_EINVAL, "NULL pool");
	return on_leader(p, op_remove, &m, err);
}

int dqlc_pool_transfer(dqlc_pool_t *p, uint64_t id, dqlc_error_t *err)
{
	struct member m = {id, NULL, 0};
	if (p == NULL)
		return dqlc__err(err, DQLC_EINVAL, "NULL pool");
	return on_leader(p, op_transfer, &m, err);
}

/* A one-off connection to one node (address NULL: the leader), with the
 * pool's settings (TLS included). */
static int node_conn(struct dqlc_pool *p, const char *address, dqlc_conn_t **out,
		     dqlc_error_t *err)
{
	char leader[256];
	uint64_t gen;
	int rv;
	pthread_mutex_lock(&p->mu);
	rv = dqlc__pool_enter(p, err);
	pthread_mutex_unlock(&p->mu);
	if (rv != 0)
		return rv;
	if (address == NULL) {
		rv = dqlc__map_leader(&p->map, dqlc__deadline_in(p->cfg.connect_timeout_ms), leader,
				      sizeof leader, &gen, err);
		if (rv != 0)
			return rv;
		address = leader;
	}
	return dqlc_connect_node(address, &p->cfg, out, err);
}

int dqlc_pool_describe(dqlc_pool_t *p, const char *address, uint64_t *failure_domain,
		       uint64_t *weight, dqlc_error_t *err)
{
	dqlc_conn_t *c;
	int rv;
	if (p == NULL)
		return dqlc__err(err, DQLC_EINVAL, "NULL pool");
	if ((rv = node_conn(p, address, &c, err)) != 0)
		return rv;
	rv = dqlc_conn_describe(c, failure_domain, weight, err);
	dqlc_conn_close(c);
	return rv;
}

int dqlc_pool_set_weight(dqlc_pool_t *p, const char *address, uint64_t weight, dqlc_error_t *err)
{
	dqlc_conn_t *c;
	int rv;
	if (p == NULL)
		return dqlc__err(err, DQLC_EINVAL, "NULL pool");
	if ((rv = node_conn(p, address, &c, err)) != 0)
		return rv;
	rv = dqlc_conn_set_weight(c, weight, err);
	dqlc_conn_close(c);
	return rv;
}

int dqlc_pool_dump(dqlc_pool_t *p, const char *address, const char *database, dqlc_dump_t **out,
		   dqlc_error_t *err)
{
	dqlc_conn_t *c;
	int rv;
	if (p == NULL || out == NULL)
		return dqlc__err(err, DQLC_EINVAL, "dqlc_pool_dump: NULL argument");
	*out = NULL;
	if ((rv = node_conn(p, address, &c, err)) != 0)
		return rv;
	rv = dqlc_conn_dump(c, database, out, err);
	dqlc_conn_close(c);
	return rv;
}
