/* Helpers shared by the cluster tests: see test_cluster_util.h. */
#include "test_cluster_util.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef DQLC_NODE_BIN_DEFAULT
#define DQLC_NODE_BIN_DEFAULT "tools/dqlc-node"
#endif

#define EXIT_NODE_BIND 3 /* dqlc-node could not bind its address */
#define MAX_X 8
#define MAX_POOLS 8

dqlc_test_cluster_t *ct_tc;

struct xnode {
	uint64_t id;
	char address[32];
	char dir[PATH_MAX];
	char log[PATH_MAX];
	pid_t pid; /* 0 once stopped */
};
static struct xnode xs[MAX_X];
static int n_xs;
static dqlc_pool_t *pools[MAX_POOLS];

void ct_setup(void)
{
	ct_tc = NULL;
	n_xs = 0;
	memset(pools, 0, sizeof pools);
}

void ct_teardown(void)
{
	for (int i = 0; i < MAX_POOLS; i++) {
		dqlc_pool_close(pools[i]);
		pools[i] = NULL;
	}
	for (int i = 0; i < n_xs; i++)
		ct_x_stop(i);
	n_xs = 0;
	tc_destroy(ct_tc);
	ct_tc = NULL;
}

void ct_start(int n)
{
	ck_assert_ptr_null(ct_tc);
	ct_tc = tc_start(n, NULL);
	ck_assert_msg(ct_tc != NULL, "could not start a %d-node cluster", n);
}

const char *ct_addr(int i)
{
	const char *a = tc_node_address(ct_tc, i);
	ck_assert_ptr_nonnull(a);
	return a;
}

uint64_t ct_id(int i)
{
	uint64_t id = tc_node_id(ct_tc, i);
	ck_assert_uint_ne(id, 0);
	return id;
}

int ct_index_of(const char *address)
{
	for (int i = 0; i < tc_size(ct_tc); i++)
		if (strcmp(tc_node_address(ct_tc, i), address) == 0)
			return i;
	return -1;
}

/* ---- extra nodes ------------------------------------------------------------ */

static const char *node_bin(void)
{
	const char *env = getenv("DQLC_NODE_BIN");
	return env != NULL && env[0] != '\0' ? env : DQLC_NODE_BIN_DEFAULT;
}

int ct_spawn_unjoined(uint64_t id, int failure_domain)
{
	ck_assert_ptr_nonnull(ct_tc);
	ck_assert_int_lt(n_xs, MAX_X);
	struct xnode *x = &xs[n_xs];
	memset(x, 0, sizeof *x);
	x->id = id;
	snprintf(x->dir, sizeof x->dir, "%s/x%llu", tc_dir(ct_tc), (unsigned long long)id);
	snprintf(x->log, sizeof x->log, "%s/x%llu.log", tc_dir(ct_tc), (unsigned long long)id);
	char sid[32], fd[32], needle[64];
	snprintf(sid, sizeof sid, "%llu", (unsigned long long)id);
	snprintf(fd, sizeof fd, "%d", failure_domain);
	snprintf(needle, sizeof needle, "ready id=%llu ", (unsigned long long)id);
	/* A port found free may be taken before the node binds it: retry. */
	for (int attempt = 0; attempt < 8; attempt++) {
		int port = hp_free_port();
		ck_assert_int_gt(port, 0);
		snprintf(x->address, sizeof x->address, "127.0.0.1:%d", port);
		hp_rm_rf(x->dir);
		const char *argv[16];
		int a = 0;
		argv[a++] = node_bin();
		argv[a++] = "--id";
		argv[a++] = sid;
		argv[a++] = "--address";
		argv[a++] = x->address;
		argv[a++] = "--dir";
		argv[a++] = x->dir;
		argv[a++] = "--latency-ms";
		argv[a++] = "20"; /* as the harness's nodes */
		if (failure_domain >= 0) {
			argv[a++] = "--failure-domain";
			argv[a++] = fd;
		}
		argv[a] = NULL;
		off_t start = 0;
		pid_t pid = hp_spawn(argv[0], (char *const *)argv, x->log, &start);
		ck_assert_msg(pid > 0, "cannot start %s", argv[0]);
		x->pid = pid;
		n_xs++; /* the teardown stops it from now on */
		int64_t deadline = hp_now_ms() + 20000;
		int status = 0;
		bool exited = false, ready = false;
		while (!(ready = hp_file_contains(x->log, start, needle)) &&
		       !(exited = hp_wait_exit(pid, 0, &status)) && hp_now_ms() < deadline)
			hp_sleep_ms(5);
		if (ready)
			return n_xs - 1;
		n_xs--;
		if (!exited) {
			hp_print_tail(x->log, 20, "  | ", stderr);
			hp_terminate(pid, 1000);
			ck_abort_msg("extra node %llu not ready in 20 s", (unsigned long long)id);
		}
		x->pid = 0;
		if (!(WIFEXITED(status) && WEXITSTATUS(status) == EXIT_NODE_BIND)) {
			hp_print_tail(x->log, 20, "  | ", stderr);
			ck_abort_msg("extra node %llu exited with status 0x%x", (unsigned long long)id,
				     status);
		}
	}
	ck_abort_msg("extra node %llu: no free port", (unsigned long long)id);
	return -1;
}

const char *ct_x_address(int slot)
{
	ck_assert(slot >= 0 && slot < n_xs);
	return xs[slot].address;
}

uint64_t ct_x_id(int slot)
{
	ck_assert(slot >= 0 && slot < n_xs);
	return xs[slot].id;
}

void ct_x_stop(int slot)
{
	if (slot < 0 || slot >= n_xs || xs[slot].pid <= 0)
		return;
	hp_terminate(xs[slot].pid, 3000);
	xs[slot].pid = 0;
}

bool ct_x_alive(int slot)
{
	int status;
	if (slot < 0 || slot >= n_xs || xs[slot].pid <= 0)
		return false;
	if (hp_wait_exit(xs[slot].pid, 0, &status)) {
		fprintf(stderr, "extra node %llu exited (status 0x%x); log:\n",
			(unsigned long long)xs[slot].id, status);
		hp_print_tail(xs[slot].log, 30, "  | ", stderr);
		xs[slot].pid = 0;
		return false;
	}
	return true;
}

/* ---- pools ---------------------------------------------------------------- */

void ct_events_init(ct_events_t *ev)
{
	memset(ev, 0, sizeof *ev);
	pthread_mutex_init(&ev->mu, NULL);
}

static void on_event(void *arg, const dqlc_event_t *e)
{
	ct_events_t *ev = arg;
	pthread_mutex_lock(&ev->mu);
	if (e->type == DQLC_EVENT_LEADER_CHANGED && ev->changed < CT_MAX_EVENTS) {
		snprintf(ev->to[ev->changed], sizeof ev->to[0], "%s", e->address);
		snprintf(ev->from[ev->changed], sizeof ev->from[0], "%s", e->old_address);
		ev->changed++;
	} else if (e->type == DQLC_EVENT_LEADER_LOST) {
		ev->lost++;
	}
	pthread_mutex_unlock(&ev->mu);
}

bool ct_events_saw_change(ct_events_t *ev, const char *to, const char *from)
{
	bool saw = false;
	pthread_mutex_lock(&ev->mu);
	for (int i = 0; i < ev->changed && !saw; i++)
		saw = strcmp(ev->to[i], to) == 0 && (from == NULL || strcmp(ev->from[i], from) == 0);
	pthread_mutex_unlock(&ev->mu);
	return saw;
}

int ct_events_lost(ct_events_t *ev)
{
	pthread_mutex_lock(&ev->mu);
	int n = ev->lost;
	pthread_mutex_unlock(&ev->mu);
	return n;
}

const char *ct_uri(const char *addrs, const char *db, const char *query)
{
	static char bufs[8][2048];
	static unsigned next;
	char *b = bufs[next++ % 8];
	snprintf(b, sizeof bufs[0], "dqlite://%s/%s%s%s", addrs, db, query && *query ? "?" : "",
		 query ? query : "");
	return b;
}

dqlc_pool_t *ct_pool(const char *uri, ct_events_t *ev)
{
	dqlc_config_t *cfg = dqlc_config_new();
	dqlc_error_t e = {0};
	dqlc_pool_t *p = NULL;
	ck_assert_ptr_nonnull(cfg);
	if (ev != NULL)
		ck_assert_int_eq(dqlc_config_set_event(cfg, on_event, ev, &e), 0);
	int rc = dqlc_pool_create(uri, cfg, &p, &e);
	dqlc_config_free(cfg);
	ck_assert_msg(rc == 0, "dqlc_pool_create(%s): %s", uri, e.message);
	for (int i = 0; i < MAX_POOLS; i++) {
		if (pools[i] == NULL) {
			pools[i] = p;
			return p;
		}
	}
	dqlc_pool_close(p);
	ck_abort_msg("too many pools in one test");
	return NULL;
}

void ct_pool_close(dqlc_pool_t *p)
{
	for (int i = 0; i < MAX_POOLS; i++)
		if (pools[i] == p)
			pools[i] = NULL;
	dqlc_pool_close(p);
}

int ct_exec_rc(dqlc_pool_t *p, const char *sql, const dqlc_value_t *params, size_t n,
	       dqlc_error_t *err)
{
	dqlc_future_t *f = dqlc_pool_exec(p, sql, params, n);
	ck_assert_ptr_nonnull(f);
	int rc = dqlc_future_error(f, err);
	dqlc_future_free(f);
	return rc;
}

void ct_exec_ok(dqlc_pool_t *p, const char *sql, const dqlc_value_t *params, size_t n)
{
	dqlc_error_t e = {0};
	int rc = ct_exec_rc(p, sql, params, n, &e);
	ck_assert_msg(rc == 0, "exec '%s': %s (%s)", sql, dqlc_errname(rc), e.message);
}

int ct_query_int_rc(dqlc_pool_t *p, const char *sql, const dqlc_value_t *params, size_t n,
		    int64_t *out, dqlc_error_t *err)
{
	dqlc_future_t *f = dqlc_pool_query(p, sql, params, n);
	ck_assert_ptr_nonnull(f);
	int rc = dqlc_future_error(f, err);
	dqlc_result_t *r = rc == 0 ? dqlc_future_take_result(f) : NULL;
	dqlc_future_free(f);
	if (rc == 0) {
		ck_assert_ptr_nonnull(r);
		ck_assert_msg(dqlc_result_row_count(r) >= 1, "query '%s': no row", sql);
		*out = dqlc_result_int64(r, 0, 0);
	}
	dqlc_result_free(r);
	return rc;
}

int64_t ct_query_int(dqlc_pool_t *p, const char *sql, const dqlc_value_t *params, size_t n)
{
	dqlc_error_t e = {0};
	int64_t v = 0;
	int rc = ct_query_int_rc(p, sql, params, n, &v, &e);
	ck_assert_msg(rc == 0, "query '%s': %s (%s)", sql, dqlc_errname(rc), e.message);
	return v;
}

static int by_id(const void *a, const void *b)
{
	const dqlc_node_info_t *x = a, *y = b;
	return x->id < y->id ? -1 : x->id > y->id;
}

void ct_cluster_desc(dqlc_pool_t *p, char *buf, size_t len, char *leader, size_t leader_len)
{
	dqlc_node_info_t *nodes = NULL;
	size_t n = 0, off = 0;
	dqlc_error_t e = {0};
	int rc = dqlc_pool_cluster(p, &nodes, &n, leader, leader_len, &e);
	if (rc != 0) {
		snprintf(buf, len, "error: %s %s", dqlc_errname(rc), e.message);
		if (leader != NULL && leader_len > 0)
			leader[0] = '\0';
		return;
	}
	qsort(nodes, n, sizeof *nodes, by_id);
	buf[0] = '\0';
	for (size_t i = 0; i < n && off < len; i++)
		off += (size_t)snprintf(buf + off, len - off, "%s%llu:%s", i ? "," : "",
					(unsigned long long)nodes[i].id,
					dqlc_role_name(nodes[i].role));
	dqlc_nodes_free(nodes);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

void ct_desc_of(char *buf, size_t len, const int *idx, int n_idx, const char *const *extra)
{
	/* Items as (id, text), sorted by id. */
	uint64_t keys[32];
	char items[32][48];
	int n = 0;
	for (int i = 0; i < n_idx; i++) {
		keys[n] = ct_id(idx[i]);
		snprintf(items[n], sizeof items[0], "%llu:voter", (unsigned long long)keys[n]);
		n++;
	}
	for (int i = 0; extra != NULL && extra[i] != NULL; i++) {
		keys[n] = strtoull(extra[i], NULL, 10);
		snprintf(items[n], sizeof items[0], "%s", extra[i]);
		n++;
	}
	/* Sort keys, then emit the matching items in that order. */
	uint64_t sorted[32];
	memcpy(sorted, keys, (size_t)n * sizeof keys[0]);
	qsort(sorted, (size_t)n, sizeof sorted[0], cmp_u64);
	size_t off = 0;
	buf[0] = '\0';
	for (int s = 0; s < n; s++)
		for (int i = 0; i < n; i++)
			if (keys[i] == sorted[s] && off < len)
				off += (size_t)snprintf(buf + off, len - off, "%s%s", s ? "," : "",
							items[i]);
}

int ct_transfer(dqlc_pool_t *p, uint64_t id)
{
	dqlc_error_t e;
	int rc, refused = 0;
	for (;;) {
		memset(&e, 0, sizeof e);
		rc = dqlc_pool_transfer(p, id, &e);
		if (rc == 0)
			return refused;
		if (rc != DQLC_ESQL || strstr(e.message, "leadership transfer failed") == NULL ||
		    ++refused >= 5)
			break;
		fprintf(stderr, "transfer to %llu refused by raft (%s): asking again\n",
			(unsigned long long)id, e.message);
	}
	ck_abort_msg("dqlc_pool_transfer to %llu: %s (sqlite %d) %s", (unsigned long long)id,
		     dqlc_errname(rc), e.sqlite_code, e.message);
	return refused;
}

void ct_pool_leader(dqlc_pool_t *p, char *buf, size_t len)
{
	dqlc_error_t e = {0};
	int rc = dqlc_pool_leader(p, buf, len, &e);
	ck_assert_msg(rc == 0, "dqlc_pool_leader: %s %s", dqlc_errname(rc), e.message);
}

void ct_node_leader(const char *address, char *buf, size_t len)
{
	dqlc_config_t *cfg = dqlc_config_new();
	dqlc_conn_t *c = NULL;
	dqlc_node_info_t info;
	ck_assert_ptr_nonnull(cfg);
	/* Short bounds: a stopped node costs one poll round. */
	ck_assert_int_eq(dqlc_config_set(cfg, "dial_timeout_ms", "500", NULL), 0);
	ck_assert_int_eq(dqlc_config_set(cfg, "request_timeout_ms", "1000", NULL), 0);
	buf[0] = '\0';
	if (dqlc_connect_node(address, cfg, &c, NULL) == 0 && dqlc_conn_leader(c, &info, NULL) == 0)
		snprintf(buf, len, "%s", info.address);
	dqlc_conn_close(c);
	dqlc_config_free(cfg);
}

dqlc_pool_stats_t ct_stats(dqlc_pool_t *p)
{
	dqlc_pool_stats_t s;
	memset(&s, 0, sizeof s);
	s.struct_size = sizeof s;
	ck_assert_int_eq(dqlc_pool_stats(p, &s, NULL), 0);
	return s;
}

int ct_conns_to(const char *address)
{
	char ip[64];
	const char *colon = strrchr(address, ':');
	ck_assert_ptr_nonnull(colon);
	snprintf(ip, sizeof ip, "%.*s", (int)(colon - address), address);
	unsigned port = (unsigned)atoi(colon + 1);
	struct in_addr want;
	ck_assert_int_eq(inet_pton(AF_INET, ip, &want), 1);

	/* Our sockets' inodes, then /proc/net/tcp's rows with those inodes. */
	unsigned long inodes[1024];
	size_t n = 0;
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;
	ck_assert_ptr_nonnull(d);
	while ((de = readdir(d)) != NULL && n < 1024) {
		char path[PATH_MAX], target[64];
		snprintf(path, sizeof path, "/proc/self/fd/%s", de->d_name);
		ssize_t len = readlink(path, target, sizeof target - 1);
		if (len <= 0)
			continue;
		target[len] = '\0';
		if (sscanf(target, "socket:[%lu]", &inodes[n]) == 1)
			n++;
	}
	closedir(d);
	FILE *f = fopen("/proc/net/tcp", "r");
	ck_assert_ptr_nonnull(f);
	char line[512];
	int count = 0;
	while (fgets(line, sizeof line, f) != NULL) {
		unsigned ra, rp;
		unsigned long ino;
		if (sscanf(line, " %*d: %*x:%*x %x:%x %*x %*s %*s %*s %*s %*s %lu", &ra, &rp, &ino) != 3)
			continue; /* the header */
		if (ra != want.s_addr || rp != port)
			continue;
		for (size_t i = 0; i < n; i++)
			if (inodes[i] == ino) {
				count++;
				break;
			}
	}
	fclose(f);
	return count;
}

void ct_assert_no_crash(void)
{
	ck_assert_int_eq(tc_unexpected_exits(ct_tc), 0);
	for (int i = 0; i < n_xs; i++)
		if (xs[i].pid > 0)
			ck_assert_msg(ct_x_alive(i), "extra node %llu died",
				      (unsigned long long)xs[i].id);
}

double ct_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

TCase *ct_tcase(Suite *s, const char *name, double timeout)
{
	TCase *t = tcase_create(name);
	tcase_set_timeout(t, timeout); /* per test, fixture included */
	tcase_add_checked_fixture(t, ct_setup, ct_teardown);
	suite_add_tcase(s, t);
	return t;
}

int ct_run(Suite *s)
{
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_ENV);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
