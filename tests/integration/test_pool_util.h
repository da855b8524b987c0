/*
 * Helpers shared by the pool tests (tests/integration/test_pool_*.c), which
 * run the pool against real 3-node clusters of dqlc-node processes.
 *
 * Every test that needs a cluster gets a fresh one from a CHECKED fixture
 * (tp_cluster_setup/tp_cluster_teardown: ~0.2 s to start), so tests can kill
 * and stop nodes and never see another test's data.
 *
 * No sleep is used to synchronise: waits poll a real condition with a bound
 * (TP_POLL) or block on a condition variable with a deadline.
 */
#ifndef DQLC_TEST_POOL_UTIL_H
#define DQLC_TEST_POOL_UTIL_H

#include <check.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "dqlite-client.h"

#include "cluster.h"
#include "proc.h"

/* The cluster of the running test (checked fixture). */
extern dqlc_test_cluster_t *tp_tc;
void tp_cluster_setup(void);
void tp_cluster_teardown(void);
/* The same with slow elections (seconds, not ~0.3 s): for tests that need a
 * stopped leader to stay leader for a while. */
void tp_cluster_setup_slow(void);

/* "dqlite://a,b,c/db?query" in a static buffer per call site: copy it if
 * it must live long (pools copy the URI at creation). */
const char *tp_uri(const char *db, const char *query);
/* A pool on the fixture's cluster; asserts creation succeeded. */
dqlc_pool_t *tp_pool(const char *db, const char *query);

/* Synchronous helpers over pool futures; they assert success and show the
 * error message otherwise. */
void tp_exec_ok(dqlc_pool_t *p, const char *sql, const dqlc_value_t *params, size_t n);
/* First column of the first row as an integer. */
int64_t tp_query_int(dqlc_pool_t *p, const char *sql, const dqlc_value_t *params, size_t n);
/* Wait for f, free it, return its code; *e (may be NULL) gets the error. */
int tp_wait_free(dqlc_future_t *f, dqlc_error_t *e);

dqlc_pool_stats_t tp_stats(dqlc_pool_t *p);

/* Resources of this process, from /proc/self. */
int tp_count_threads(void);
/* The thread count to compare with after a pool is closed: a sanitizer may
 * start a helper thread of its own at the first pthread_create, so one
 * thread is created and joined first. */
int tp_thread_baseline(void);
int tp_count_fds(void);
int tp_count_sockets(void);

/* Every node of the fixture's cluster is still running (none crashed). */
void tp_assert_nodes_alive(void);

/* CLOCK_MONOTONIC milliseconds (double, for elapsed-time bounds). */
double tp_now_ms(void);

/* Poll `cond` until true or `timeout_ms` passed; `ok` receives the last
 * evaluation.  Polling interval 1 ms: cheap, and never a synchronisation by
 * itself (the condition is what is waited for). */
#define TP_POLL(ok, cond, timeout_ms)                                              \
	do {                                                                           \
		int64_t tp_end_ = hp_now_ms() + (timeout_ms);                              \
		while (!((ok) = (cond)) && hp_now_ms() < tp_end_)                          \
			hp_sleep_ms(1);                                                        \
	} while (0)

/* A one-shot event with a bounded wait (for callbacks and helper threads). */
typedef struct tp_event {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int count;
} tp_event_t;
void tp_event_init(tp_event_t *ev);
void tp_event_destroy(tp_event_t *ev);
void tp_event_signal(tp_event_t *ev);
/* Wait until count >= n or timeout; returns the count seen. */
int tp_event_wait(tp_event_t *ev, int n, int timeout_ms);

/* A TCase with a timeout, optionally with the cluster fixture. */
TCase *tp_tcase(Suite *s, const char *name, double timeout, bool cluster);
/* Run the suite (CK_ENV fork mode), return the exit status for main. */
int tp_run(Suite *s);

#endif
