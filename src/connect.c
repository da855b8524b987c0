/* dqlc_connect (leader discovery + OPEN) and dqlc_connect_node. */
#include <stdlib.h>

#include "clock.h"
#include "cluster/discover.h"
#include "conn.h"
#include "error.h"
#include "net/sock.h"
#include "pool/pool.h"

static struct dqlc_config *resolve(const char *uri, const dqlc_config_t *cfg, dqlc_error_t *err)
{
	struct dqlc_config *c = malloc(sizeof *c);
	if (c == NULL) {
		dqlc__err(err, DQLC_ENOMEM, "out of memory");
		return NULL;
	}
	if (dqlc__config_resolve(c, uri, cfg, err) != 0) {
		free(c);
		return NULL;
	}
	if (dqlc__config_validate(c, err) != 0) {
		dqlc__config_clear(c);
		free(c);
		return NULL;
	}
	return c;
}

int dqlc_connect(const char *uri, const dqlc_config_t *cfg, dqlc_conn_t **out, dqlc_error_t *err)
{
	struct dqlc_config *c;
	struct dqlc_conn *conn;
	dqlc__leader_t leader;
	char hint[256];
	int64_t deadline;
	int rv;
	if (out == NULL)
		return dqlc__err(err, DQLC_EINVAL, "dqlc_connect: NULL out");
	*out = NULL;
	if (uri == NULL && cfg == NULL)
		return dqlc__err(err, DQLC_EINVAL, "dqlc_connect: give a URI or a config");
	c = resolve(uri, cfg, err);
	if (c == NULL)
		return err ? err->code : DQLC_EINVAL;
	if ((rv = dqlc__config_prepare(c, err)) != 0) {
		dqlc__config_clear(c);
		free(c);
		return rv;
	}
	deadline = dqlc__deadline_in(c->connect_timeout_ms);
	dqlc__leader_cache_get(c, hint, sizeof hint);
	rv = dqlc__find_leader(c, (const char *const *)c->nodes, c->n_nodes, hint, deadline, -1,
			       &leader, err);
	if (rv != 0) {
		dqlc__config_clear(c);
		free(c);
		return rv;
	}
	dqlc__leader_cache_put(c, leader.address);
	rv = dqlc__conn_new(c, true, leader.address, leader.fd, leader.tls, true, &conn, err);
	if (rv != 0)
		return rv;
	conn->node_id = leader.id;
	rv = dqlc__conn_open(conn, deadline, err);
	if (rv != 0) {
		dqlc__conn_destroy(conn);
		return rv;
	}
	*out = conn;
	return 0;
}

int dqlc_connect_node(const char *address, const dqlc_config_t *cfg, dqlc_conn_t **out,
		      dqlc_error_t *err)
{
	struct dqlc_config *c;
	void *tls;
	int fd, rv;
	if (out == NULL || address == NULL)
		return dqlc__err(err, DQLC_EINVAL, "dqlc_connect_node: NULL argument");
	*out = NULL;
	c = malloc(sizeof *c);
	if (c == NULL)
		return dqlc__err(err, DQLC_ENOMEM, "out of memory");
	rv = dqlc__config_resolve(c, NULL, cfg, err);
	if (rv != 0) {
		free(c);
		return rv;
	}
	rv = dqlc__config_prepare(c, err);
	if (rv == 0)
		rv = dqlc__sock_dial_secure(c, address, dqlc__deadline_in(c->connect_timeout_ms),
					    &fd, &tls, err);
	if (rv != 0) {
		dqlc__config_clear(c);
		free(c);
		return rv;
	}
	return dqlc__conn_new(c, true, address, fd, tls, false, out, err);
}

void dqlc_conn_close(dqlc_conn_t *conn)
{
	if (conn == NULL)
		return;
	if (conn->pool != NULL) {
		/* A lease goes back to its pool; a connection lent to a
		 * dqlc_pool_transaction() function is the pool's to return. */
		if (conn->leased)
			dqlc__pool_release(conn->pool, conn);
		return;
	}
	dqlc__conn_destroy(conn);
}
