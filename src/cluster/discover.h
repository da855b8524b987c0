/* Leader discovery: parallel, bounded probes under one deadline. */
#ifndef DQLC_DISCOVER_H
#define DQLC_DISCOVER_H

#include <stdint.h>

#include "cfg.h"

typedef struct dqlc__leader {
	int fd;            /* connected, handshake sent, LEADER answered */
	void *tls;         /* its TLS session, or NULL */
	char address[256];
	uint64_t id;
} dqlc__leader_t;

/*
 * Find the node that confirms it is the leader.  `hint` (may be NULL) is
 * tried alone first; then every candidate is probed in parallel (at most
 * cfg->probe_concurrency at once).  A node that names another node is only
 * believed once that node names itself.  Rounds repeat with jittered backoff
 * until the deadline.  wake_fd (-1: none) aborts with DQLC_ECANCELED.
 * Fails with DQLC_ENOLEADER (some node answered, none leads) or
 * DQLC_ECONNECT (nothing answered), listing what each node said.
 */
int dqlc__find_leader(const struct dqlc_config *cfg, const char *const *cands, size_t n,
		      const char *hint, int64_t deadline, int wake_fd, dqlc__leader_t *out,
		      dqlc_error_t *err);

/* Process-wide memory of the last leader found for a node list. */
void dqlc__leader_cache_get(const struct dqlc_config *cfg, char *out, size_t len);
void dqlc__leader_cache_put(const struct dqlc_config *cfg, const char *leader);
/* atfork: keep the cache's lock consistent across fork(). */
void dqlc__leader_cache_lock(void);
void dqlc__leader_cache_unlock(void);

#endif
