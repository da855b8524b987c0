/* Helpers shared by the pool tests: see test_pool_util.h. */
#include "test_pool_util.h"

#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

dqlc_test_cluster_t *tp_tc;

void tp_cluster_setup(void)
{
	tp_tc = tc_start(3, NULL);
	ck_assert_msg(tp_tc != NULL, "could not start a 3-node cluster");
}

void tp_cluster_setup_slow(void)
{
	tc_opts_t o = {0};
	o.latency_ms = 150; /* elections take seconds: a stopped leader stays leader */
	tp_tc = tc_start(3, &o);
	ck_assert_msg(tp_tc != NULL, "could not start a 3-node cluster");
}

void tp_cluster_teardown(void)
{
	tc_destroy(tp_tc);
	tp_tc = NULL;
}

const char *tp_uri(const char *db, const char *query)
{
	static _Thread_local char bufs[8][2048];
	static _Thread_local unsigned next;
	char *b = bufs[next++ % 8];
	ck_assert_ptr_nonnull(tp_tc);
	snprintf(b, sizeof bufs[0], "%s%s%s", tc_uri(tp_tc, db), query && *query ? "?" : "",
		 query ? query : "");
	return b;
}

dqlc_pool_t *tp_pool(const char *db, const char *query)
{
	dqlc_pool_t *p = NULL;
	dqlc_error_t e = {0};
	const char *uri = tp_uri(db, query);
	int rc = dqlc_pool_create(uri, NULL, &p, &e);
	ck_assert_msg(rc == 0, "dqlc_pool_create(%s): %s", uri, e.message);
	ck_assert_ptr_nonnull(p);
	return p;
}

int tp_wait_free(dqlc_future_t *f, dqlc_error_t *e)
{
	dqlc_error_t local;
	int rc;
	ck_assert_ptr_nonnull(f);
	rc = dqlc_future_error(f, e != NULL ? e : &local);
	dqlc_future_free(f);
	return rc;
}

void tp_exec_ok(dqlc_pool_t *p, const char *sql, const dqlc_value_t *params, size_t n)
{
	dqlc_error_t e = {0};
	int rc = tp_wait_free(dqlc_pool_exec(p, sql, params, n), &e);
	ck_assert_msg(rc == 0, "exec '%s': %s (%s)", sql, dqlc_errname(rc), e.message);
}

int64_t tp_query_int(dqlc_pool_t *p, const char *sql, const dqlc_value_t *params, size_t n)
{
	dqlc_error_t e = {0};
	dqlc_future_t *f = dqlc_pool_query(p, sql, params, n);
	ck_assert_ptr_nonnull(f);
	int rc = dqlc_future_error(f, &e);
	ck_assert_msg(rc == 0, "query '%s': %s (%s)", sql, dqlc_errname(rc), e.message);
	dqlc_result_t *r = dqlc_future_take_result(f);
	dqlc_future_free(f);
	ck_assert_ptr_nonnull(r);
	ck_assert_msg(dqlc_result_row_count(r) >= 1, "query '%s': no row", sql);
	int64_t v = dqlc_result_int64(r, 0, 0);
	dqlc_result_free(r);
	return v;
}

dqlc_pool_stats_t tp_stats(dqlc_pool_t *p)
{
	dqlc_pool_stats_t s;
	memset(&s, 0, sizeof s);
	s.struct_size = sizeof s;
	ck_assert_int_eq(dqlc_pool_stats(p, &s, NULL), 0);
	return s;
}

static int count_dir(const char *path, const char *link_prefix)
{
	DIR *d = opendir(path);
	struct dirent *de;
	int n = 0;
	ck_assert_msg(d != NULL, "opendir %s", path);
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if (link_prefix != NULL) {
			char p[PATH_MAX], target[PATH_MAX];
			ssize_t len;
			snprintf(p, sizeof p, "%s/%s", path, de->d_name);
			len = readlink(p, target, sizeof target - 1);
			if (len < 0)
				continue;
			target[len] = '\0';
			if (strncmp(target, link_prefix, strlen(link_prefix)) != 0)
				continue;
		}
		n++;
	}
	closedir(d);
	return n - (link_prefix == NULL && strcmp(path, "/proc/self/fd") == 0 ? 1 : 0);
}

int tp_count_threads(void)
{
	return count_dir("/proc/self/task", NULL);
}

static void *noop(void *arg)
{
	return arg;
}

int tp_thread_baseline(void)
{
	pthread_t t;
	ck_assert_int_eq(pthread_create(&t, NULL, noop, NULL), 0);
	pthread_join(t, NULL);
	return tp_count_threads();
}

int tp_count_fds(void)
{
	return count_dir("/proc/self/fd", NULL); /* less opendir's own */
}

int tp_count_sockets(void)
{
	return count_dir("/proc/self/fd", "socket:");
}

void tp_assert_nodes_alive(void)
{
	ck_assert_int_eq(tc_unexpected_exits(tp_tc), 0);
}

double tp_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

void tp_event_init(tp_event_t *ev)
{
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_mutex_init(&ev->mu, NULL);
	pthread_cond_init(&ev->cv, &ca);
	pthread_condattr_destroy(&ca);
	ev->count = 0;
}

void tp_event_destroy(tp_event_t *ev)
{
	pthread_mutex_destroy(&ev->mu);
	pthread_cond_destroy(&ev->cv);
}

void tp_event_signal(tp_event_t *ev)
{
	pthread_mutex_lock(&ev->mu);
	ev->count++;
	pthread_cond_broadcast(&ev->cv);
	pthread_mutex_unlock(&ev->mu);
}

int tp_event_wait(tp_event_t *ev, int n, int timeout_ms)
{
	struct timespec ts;
	int seen;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += timeout_ms / 1000;
	ts.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&ev->mu);
	while (ev->count < n && pthread_cond_timedwait(&ev->cv, &ev->mu, &ts) == 0)
		;
	seen = ev->count;
	pthread_mutex_unlock(&ev->mu);
	return seen;
}

TCase *tp_tcase(Suite *s, const char *name, double timeout, bool cluster)
{
	TCase *t = tcase_create(name);
	tcase_set_timeout(t, timeout); /* per test, fixture included */
	if (cluster)
		tcase_add_checked_fixture(t, tp_cluster_setup, tp_cluster_teardown);
	suite_add_tcase(s, t);
	return t;
}

int tp_run(Suite *s)
{
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_ENV);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
