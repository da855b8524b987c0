/* The cluster map of a pool: members and the leader, kept fresh by one
 * discovery thread so that workers never search the cluster themselves. */
#ifndef DQLC_MAP_H
#define DQLC_MAP_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "cfg.h"

struct dqlc_conn;

struct dqlc__map {
	pthread_mutex_t mu;
	pthread_cond_t cv_leader; /* leader became known / changed */
	pthread_cond_t cv_thread; /* work for the discovery thread */
	const struct dqlc_config *cfg;

	char **cands;             /* addresses to probe: members, then seeds */
	size_t n_cands;
	dqlc_node_info_t *members; /* from the last CLUSTER reply */
	size_t n_members;

	char leader[256];
	uint64_t leader_id;
	bool known;
	uint64_t gen;             /* bumped whenever the leader changes or is lost */
	uint64_t changes;         /* leader changes seen */
	char last_leader[256];    /* the previous leader, for change detection */

	bool refresh;             /* a refresh was asked for */
	bool stop;
	bool running;             /* the thread exists */
	pthread_t thread;
	int wake_fd;              /* aborts a search in progress on stop */
	int waiters;
	dqlc_error_t last_err;    /* why the last search failed */
	int64_t last_refresh_ns;
	struct dqlc_conn *control; /* the thread's own connection to the leader */

	/* Called by the thread after each successful refresh, no lock held
	 * (the pool keeps pool_min connections warm from here). */
	void (*on_refresh)(void *arg);
	void *on_refresh_arg;
};

int dqlc__map_init(struct dqlc__map *m, const struct dqlc_config *cfg, dqlc_error_t *err);
/* Stop and join the thread and close its connection (idempotent). */
void dqlc__map_stop(struct dqlc__map *m);
/* Stop, then free everything. */
void dqlc__map_destroy(struct dqlc__map *m);
/* The current leader (waiting for discovery, up to the deadline).  *gen
 * identifies this leadership for dqlc__map_invalidate. */
int dqlc__map_leader(struct dqlc__map *m, int64_t deadline, char *addr, size_t len,
		     uint64_t *gen, dqlc_error_t *err);
/* A worker saw leadership `gen` fail (NOT_LEADER, connection lost): forget
 * it and search again. */
void dqlc__map_invalidate(struct dqlc__map *m, uint64_t gen);
/* Ask for a refresh of members and leader now. */
void dqlc__map_refresh(struct dqlc__map *m);
/* Copy of the members (malloc'ed) and the leader. */
int dqlc__map_snapshot(struct dqlc__map *m, dqlc_node_info_t **nodes, size_t *n,
		       char *leader, size_t leader_len, dqlc_error_t *err);
/* The generation now (no waiting). */
uint64_t dqlc__map_gen(struct dqlc__map *m);


#endif
