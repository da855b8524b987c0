/*
 * Helpers shared by the cluster tests of issue 5 (tests/integration/
 * test_cluster_*.c): membership changes, leadership transfer, restarts,
 * stopped leaders and dumps, through a pool, against real dqlc-node
 * processes.
 *
 * Every test builds its own cluster (ct_start) inside a CHECKED fixture
 * (ct_setup/ct_teardown), so it may kill, stop, add and remove nodes freely;
 * the teardown closes the test's pools, stops the extra nodes and destroys
 * the cluster whatever happened.
 *
 * Extra nodes (ct_spawn_unjoined) are dqlc-node processes started outside
 * the cluster (a fresh id, port and data directory in the cluster's
 * directory), for the tests that join them through the pool's admin API.
 * Like the harness's nodes they die with the test's thread
 * (PR_SET_PDEATHSIG, through hp_spawn).
 *
 * No sleep synchronises anything: waits poll a real condition with a bound
 * (CT_WAIT), or wait on futures/condition variables with a deadline.
 */
#ifndef DQLC_TEST_CLUSTER_UTIL_H
#define DQLC_TEST_CLUSTER_UTIL_H

#include <check.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "dqlite-client.h"

#include "cluster.h"
#include "proc.h"

/* The cluster of the running test (NULL until ct_start). */
extern dqlc_test_cluster_t *ct_tc;

void ct_setup(void);
void ct_teardown(void);
/* Start an n-node cluster for this test; asserts it started. */
void ct_start(int n);

/* Node i's address / id in ct_tc. */
const char *ct_addr(int i);
uint64_t ct_id(int i);
/* Index of a harness node by address, -1 if none. */
int ct_index_of(const char *address);

/* ---- extra nodes outside the cluster ----------------------------------- */

/* Start dqlc-node with this id, not joined to anything (failure_domain < 0:
 * not set), and wait for its "ready" line.  Returns its slot. */
int ct_spawn_unjoined(uint64_t id, int failure_domain);
const char *ct_x_address(int slot);
uint64_t ct_x_id(int slot);
/* SIGTERM (SIGKILL after 3 s) and reap. */
void ct_x_stop(int slot);
/* Still running (not exited)? */
bool ct_x_alive(int slot);

/* ---- pools ---------------------------------------------------------------- */

/* Leader-change events seen by a pool's event hook. */
#define CT_MAX_EVENTS 64
typedef struct ct_events {
	pthread_mutex_t mu;
	int changed, lost;
	char to[CT_MAX_EVENTS][64];   /* LEADER_CHANGED: new leader */
	char from[CT_MAX_EVENTS][64]; /* LEADER_CHANGED: previous */
} ct_events_t;
void ct_events_init(ct_events_t *ev);
/* Did the hook see LEADER_CHANGED to `to` (and, if from != NULL, from it)? */
bool ct_events_saw_change(ct_events_t *ev, const char *to, const char *from);
int ct_events_lost(ct_events_t *ev);

/* "dqlite://ADDRS/DB?QUERY": addresses comma-separated. */
const char *ct_uri(const char *addrs, const char *db, const char *query);
/* A pool (asserts creation); closed by the teardown unless ct_pool_close'd.
 * ev (may be NULL) receives leader events. */
dqlc_pool_t *ct_pool(const char *uri, ct_events_t *ev);
void ct_pool_close(dqlc_pool_t *p);

/* Synchronous helpers.  The _rc forms return the code (err filled). */
int ct_exec_rc(dqlc_pool_t *p, const char *sql, const dqlc_value_t *params, size_t n,
	       dqlc_error_t *err);
void ct_exec_ok(dqlc_pool_t *p, const char *sql, const dqlc_value_t *params, size_t n);
int ct_query_int_rc(dqlc_pool_t *p, const char *sql, const dqlc_value_t *params, size_t n,
		    int64_t *out, dqlc_error_t *err);
int64_t ct_query_int(dqlc_pool_t *p, const char *sql, const dqlc_value_t *params, size_t n);

/* The pool's map, sorted by id, as "1:voter,2:voter,101:spare" (or
 * "error: ..."); leader (may be NULL) receives the map's leader. */
void ct_cluster_desc(dqlc_pool_t *p, char *buf, size_t len, char *leader, size_t leader_len);
/* Expected description for the harness nodes `idx` (all voters) plus extra
 * "id:role" items (NULL-terminated list), sorted by id. */
void ct_desc_of(char *buf, size_t len, const int *idx, int n_idx, const char *const *extra);

/* dqlc_pool_transfer to `id`, asserting success.  Raft may give a transfer
 * up when the target lags (FAILURE 1 "leadership transfer failed", the node
 * still leading): that is the server's answer, so it is asked again (at most
 * 5 times; each refusal is printed).  Returns the number of refusals. */
int ct_transfer(dqlc_pool_t *p, uint64_t id);

/* The pool's current leader address (asserts success). */
void ct_pool_leader(dqlc_pool_t *p, char *buf, size_t len);

/* Ask the node at `address` whom it believes leads ("" if none or
 * unreachable). */
void ct_node_leader(const char *address, char *buf, size_t len);

dqlc_pool_stats_t ct_stats(dqlc_pool_t *p);

/* TCP sockets this process holds open to `address` (IPv4 "ip:port"), in any
 * state: the pool's connections, the map's control connection, ... */
int ct_conns_to(const char *address);

/* Check every harness node that should run still runs. */
void ct_assert_no_crash(void);

double ct_now_ms(void);

/* Poll `cond` every 5 ms until true or timeout_ms passed; `ok` receives the
 * last evaluation. */
#define CT_WAIT(ok, cond, timeout_ms)                                          \
	do {                                                                       \
		int64_t ct_end_ = hp_now_ms() + (timeout_ms);                          \
		while (!((ok) = (cond)) && hp_now_ms() < ct_end_)                      \
			hp_sleep_ms(5);                                                    \
	} while (0)

/* A TCase with a timeout and the checked fixture. */
TCase *ct_tcase(Suite *s, const char *name, double timeout);
int ct_run(Suite *s);

#endif
