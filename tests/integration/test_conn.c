/*
 * dqlc_connect against real dqlite nodes: leader discovery (followers only,
 * dead and blackholed addresses first, nothing reachable, no leader), the
 * custom dial hook, configuration and URI errors, and the minimal cluster
 * requests (leader, cluster, describe, weight).
 *
 * Time bounds in these tests are correctness bounds (a dead node must not
 * cost a full timeout, an unreachable cluster must fail within the
 * deadline), never speed assertions: each is far from what a correct
 * implementation needs and far below what the bug it catches would take.
 */
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <fcntl.h>

#include "dqlite-client.h"

#include "cluster.h"
#include "proc.h"

/* 50 ms network latency: elections in well under a second, yet no spurious
 * leader changes on a loaded 2-core machine (the default 20 ms flaps when
 * the tests run under valgrind next to other suites). */
static const tc_opts_t test_opts = {.latency_ms = 50};

#ifndef DQLC_NODE_BIN_DEFAULT
#define DQLC_NODE_BIN_DEFAULT "tools/dqlc-node"
#endif

/* Slack added to a deadline when checking that a call gave up in time:
 * scheduling on a loaded 2-core machine, valgrind.  Far below any timeout
 * a bug would add. */
#define SLACK_MS 1500

/* ---- helpers --------------------------------------------------------------- */

static dqlc_config_t *config_of(const char *const *kv)
{
	dqlc_config_t *cfg = dqlc_config_new();
	dqlc_error_t err = {0};
	ck_assert_ptr_nonnull(cfg);
	for (; kv != NULL && kv[0] != NULL; kv += 2)
		ck_assert_msg(dqlc_config_set(cfg, kv[0], kv[1], &err) == 0, "%s=%s: %s", kv[0],
			      kv[1], err.message);
	return cfg;
}

/* "dqlite://a,b,c/db" from a list of addresses. */
static char *uri_of(const char *const *addrs, size_t n, const char *db)
{
	size_t cap = 64 + strlen(db), len;
	for (size_t i = 0; i < n; i++)
		cap += strlen(addrs[i]) + 1;
	char *s = malloc(cap);
	ck_assert_ptr_nonnull(s);
	len = (size_t)snprintf(s, cap, "dqlite://");
	for (size_t i = 0; i < n; i++)
		len += (size_t)snprintf(s + len, cap - len, "%s%s", i ? "," : "", addrs[i]);
	snprintf(s + len, cap - len, "/%s", db);
	return s;
}

/* An address where nothing listens: a free port, bound and released. */
static void refused_address(char *buf, size_t len)
{
	int port = hp_free_port();
	ck_assert_int_gt(port, 0);
	snprintf(buf, len, "127.0.0.1:%d", port);
}

static int listener(int backlog, char *addr, size_t len)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = 0};
	socklen_t sl = sizeof sa;
	int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(s, 0);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(s, (struct sockaddr *)&sa, sizeof sa), 0);
	ck_assert_int_eq(listen(s, backlog), 0);
	ck_assert_int_eq(getsockname(s, (struct sockaddr *)&sa, &sl), 0);
	snprintf(addr, len, "127.0.0.1:%d", ntohs(sa.sin_port));
	return s;
}

/*
 * Blackholes made inside the test.
 *  - "silent": a listening socket that never accepts: the kernel completes
 *    the TCP handshake from the backlog, the request is swallowed, nothing
 *    ever answers.
 *  - "syn drop": a listening socket whose accept queue is full: the kernel
 *    drops new SYNs, so connect() itself hangs (like a host that vanished).
 */
struct blackhole {
	int lfd;
	int fillers[8];
	int n_fillers;
	char addr[64];
};

static void blackhole_silent(struct blackhole *b)
{
	memset(b, 0, sizeof *b);
	b->lfd = listener(16, b->addr, sizeof b->addr);
}

static void blackhole_syn_drop(struct blackhole *b)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	memset(b, 0, sizeof *b);
	b->lfd = listener(0, b->addr, sizeof b->addr);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sa.sin_port = htons((uint16_t)atoi(strchr(b->addr, ':') + 1));
	/* Connect fillers until one stays pending: the queue is then full. */
	for (;;) {
		ck_assert_msg(b->n_fillers < 8, "cannot fill the accept queue of %s", b->addr);
		int s = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		ck_assert_int_ge(s, 0);
		b->fillers[b->n_fillers++] = s;
		if (connect(s, (struct sockaddr *)&sa, sizeof sa) == 0)
			continue;
		ck_assert_int_eq(errno, EINPROGRESS);
		struct pollfd p = {.fd = s, .events = POLLOUT};
		if (poll(&p, 1, 300) == 0)
			return; /* SYN unanswered: full */
	}
}

static void blackhole_close(struct blackhole *b)
{
	for (int i = 0; i < b->n_fillers; i++)
		close(b->fillers[i]);
	close(b->lfd);
}

static void assert_is_leader(dqlc_test_cluster_t *tc, dqlc_conn_t *conn)
{
	int l = tc_leader(tc);
	ck_assert_int_ge(l, 0);
	ck_assert_str_eq(dqlc_conn_address(conn), tc_node_address(tc, l));
}

/* A write only the leader accepts: proves the connection is on the leader. */
static void assert_writes(dqlc_conn_t *conn, const char *table)
{
	char sql[128];
	dqlc_error_t err = {0};
	snprintf(sql, sizeof sql, "CREATE TABLE IF NOT EXISTS %s (x INTEGER)", table);
	ck_assert_msg(dqlc_conn_exec(conn, sql, NULL, 0, NULL, &err) == 0, "%s", err.message);
	snprintf(sql, sizeof sql, "INSERT INTO %s VALUES (1)", table);
	ck_assert_msg(dqlc_conn_exec(conn, sql, NULL, 0, NULL, &err) == 0, "%s", err.message);
}

/* ---- a shared cluster for the tests that only read it ---------------------- */

/* Unchecked fixture: one cluster for the whole TCase, started in Check's
 * runner process.  The tests below never kill/stop nodes of it. */
static dqlc_test_cluster_t *shared;

static void shared_up(void)
{
	shared = tc_start(3, &test_opts);
}

static void shared_down(void)
{
	tc_destroy(shared);
	shared = NULL;
}

/* Indexes of the leader and the two followers of `tc`. */
static void roles(dqlc_test_cluster_t *tc, int *leader, int f[2])
{
	int k = 0;
	*leader = tc_leader(tc);
	ck_assert_int_ge(*leader, 0);
	for (int i = 0; i < tc_size(tc); i++)
		if (i != *leader)
			f[k++] = i;
	ck_assert_int_eq(k, 2);
}

/* ---- discovery ------------------------------------------------------------------ */

START_TEST(test_connect_followers_only)
{
	ck_assert_ptr_nonnull(shared);
	int leader, f[2];
	roles(shared, &leader, f);
	const char *addrs[] = {tc_node_address(shared, f[0]), tc_node_address(shared, f[1])};
	char *uri = uri_of(addrs, 2, "disc_followers");
	dqlc_conn_t *conn = NULL;
	dqlc_error_t err = {0};
	int rc = dqlc_connect(uri, NULL, &conn, &err);
	ck_assert_msg(rc == 0, "connect via followers: %s", err.message);
	/* Discovery followed the followers' redirect to the leader. */
	assert_is_leader(shared, conn);
	assert_writes(conn, "t_followers");
	dqlc_conn_close(conn);
	free(uri);
}
END_TEST

/* The leader found, all nodes given, dead ones first: a refused port, a
 * silent listener and a SYN-dropping one.  With a 3 s dial timeout, a
 * sequential search would spend at least 3 s on the SYN-dropping node and
 * 3-6 s on the silent one; parallel probes find the leader at once. */
START_TEST(test_connect_dead_first)
{
	ck_assert_ptr_nonnull(shared);
	int leader, f[2];
	roles(shared, &leader, f);
	char refused[64];
	struct blackhole silent, syn;
	refused_address(refused, sizeof refused);
	blackhole_silent(&silent);
	blackhole_syn_drop(&syn);
	const char *addrs[] = {refused,
			       silent.addr,
			       syn.addr,
			       tc_node_address(shared, f[0]),
			       tc_node_address(shared, f[1]),
			       tc_node_address(shared, leader)};
	char *uri = uri_of(addrs, 6, "disc_dead_first");
	const char *kv[] = {"dial_timeout_ms", "3000", "connect_timeout_ms", "30000", NULL};
	dqlc_config_t *cfg = config_of(kv);
	dqlc_conn_t *conn = NULL;
	dqlc_error_t err = {0};
	int64_t t0 = hp_now_ms();
	int rc = dqlc_connect(uri, cfg, &conn, &err);
	int64_t took = hp_now_ms() - t0;
	ck_assert_msg(rc == 0, "connect: %s", err.message);
	/* Less than ONE dial timeout: the dead nodes were not waited for. */
	ck_assert_msg(took < 2000, "connect took %lld ms with dead nodes first (dial timeout 3000)",
		      (long long)took);
	assert_is_leader(shared, conn);
	assert_writes(conn, "t_dead_first");
	dqlc_conn_close(conn);

	/* Only dead nodes and followers: the redirect still wins quickly. */
	const char *addrs2[] = {syn.addr, silent.addr, refused, tc_node_address(shared, f[1])};
	char *uri2 = uri_of(addrs2, 4, "disc_dead_first");
	t0 = hp_now_ms();
	rc = dqlc_connect(uri2, cfg, &conn, &err);
	took = hp_now_ms() - t0;
	ck_assert_msg(rc == 0, "connect: %s", err.message);
	ck_assert_msg(took < 2000, "connect took %lld ms", (long long)took);
	assert_is_leader(shared, conn);
	dqlc_conn_close(conn);

	free(uri2);
	free(uri);
	dqlc_config_free(cfg);
	blackhole_close(&syn);
	blackhole_close(&silent);
}
END_TEST

/* A counting dial hook: a plain blocking TCP connect bounded by timeout_ms. */
static atomic_int dial_calls;
static atomic_int dial_fail; /* refuse every dial */

static int counting_dial(void *arg, const char *address, int timeout_ms, int *fd)
{
	atomic_int *calls = arg;
	struct sockaddr_in sa = {.sin_family = AF_INET};
	char host[64];
	const char *colon = strrchr(address, ':');
	atomic_fetch_add(calls, 1);
	if (atomic_load(&dial_fail))
		return ECONNREFUSED;
	if (colon == NULL || (size_t)(colon - address) >= sizeof host)
		return EINVAL;
	memcpy(host, address, (size_t)(colon - address));
	host[colon - address] = '\0';
	if (inet_pton(AF_INET, host, &sa.sin_addr) != 1)
		return EINVAL;
	sa.sin_port = htons((uint16_t)atoi(colon + 1));
	int s = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s < 0)
		return errno;
	if (connect(s, (struct sockaddr *)&sa, sizeof sa) != 0) {
		if (errno != EINPROGRESS) {
			int e = errno;
			close(s);
			return e;
		}
		struct pollfd p = {.fd = s, .events = POLLOUT};
		int so = 0;
		socklen_t sl = sizeof so;
		if (poll(&p, 1, timeout_ms) != 1) {
			close(s);
			return ETIMEDOUT;
		}
		getsockopt(s, SOL_SOCKET, SO_ERROR, &so, &sl);
		if (so != 0) {
			close(s);
			return so;
		}
	}
	/* Hand over a blocking socket: the library must cope. */
	fcntl(s, F_SETFL, fcntl(s, F_GETFL) & ~O_NONBLOCK);
	*fd = s;
	return 0;
}

START_TEST(test_dial_hook)
{
	ck_assert_ptr_nonnull(shared);
	dqlc_config_t *cfg = config_of(NULL);
	dqlc_error_t err = {0};
	dqlc_conn_t *conn = NULL;
	atomic_store(&dial_calls, 0);
	atomic_store(&dial_fail, 0);
	ck_assert_int_eq(dqlc_config_set_dial(cfg, counting_dial, (void *)&dial_calls, &err), 0);

	int rc = dqlc_connect(tc_uri(shared, "disc_dial"), cfg, &conn, &err);
	ck_assert_msg(rc == 0, "connect through the hook: %s", err.message);
	ck_assert_int_ge(atomic_load(&dial_calls), 1);
	assert_is_leader(shared, conn);
	assert_writes(conn, "t_dial");
	dqlc_conn_close(conn);

	/* dqlc_connect_node dials through the hook as well. */
	int before = atomic_load(&dial_calls);
	rc = dqlc_connect_node(tc_node_address(shared, 0), cfg, &conn, &err);
	ck_assert_msg(rc == 0, "connect_node through the hook: %s", err.message);
	ck_assert_int_eq(atomic_load(&dial_calls), before + 1);
	dqlc_node_info_t info;
	ck_assert_msg(dqlc_conn_leader(conn, &info, &err) == 0, "%s", err.message);
	ck_assert_str_ne(info.address, "");
	dqlc_conn_close(conn);

	/* A hook that refuses: every node is tried through it, and the
	 * failure is a connect failure within the deadline. */
	ck_assert_int_eq(dqlc_config_set(cfg, "connect_timeout_ms", "800", &err), 0);
	atomic_store(&dial_fail, 1);
	before = atomic_load(&dial_calls);
	int64_t t0 = hp_now_ms();
	rc = dqlc_connect(tc_uri(shared, "disc_dial"), cfg, &conn, &err);
	int64_t took = hp_now_ms() - t0;
	ck_assert_int_eq(rc, DQLC_ECONNECT);
	ck_assert_int_eq(err.code, DQLC_ECONNECT);
	ck_assert_ptr_null(conn);
	ck_assert_int_ge(atomic_load(&dial_calls) - before, 3);
	ck_assert_msg(took < 800 + SLACK_MS, "took %lld ms", (long long)took);
	atomic_store(&dial_fail, 0);
	dqlc_config_free(cfg);
}
END_TEST

START_TEST(test_admin_minimal)
{
	ck_assert_ptr_nonnull(shared);
	int leader, f[2];
	roles(shared, &leader, f);
	dqlc_conn_t *conn = NULL;
	dqlc_error_t err = {0};
	ck_assert_msg(dqlc_connect(tc_uri(shared, "disc_admin"), NULL, &conn, &err) == 0, "%s",
		      err.message);

	dqlc_node_info_t info;
	ck_assert_msg(dqlc_conn_leader(conn, &info, &err) == 0, "%s", err.message);
	ck_assert_str_eq(info.address, tc_node_address(shared, leader));
	ck_assert_uint_eq(info.id, tc_node_id(shared, leader));

	dqlc_node_info_t *nodes = NULL;
	size_t n = 0;
	ck_assert_msg(dqlc_conn_cluster(conn, &nodes, &n, &err) == 0, "%s", err.message);
	ck_assert_uint_eq(n, 3);
	for (int i = 0; i < 3; i++) {
		bool found = false;
		for (size_t k = 0; k < n; k++) {
			if (nodes[k].id != tc_node_id(shared, i))
				continue;
			found = true;
			ck_assert_str_eq(nodes[k].address, tc_node_address(shared, i));
			ck_assert_int_eq(nodes[k].role, DQLC_ROLE_VOTER);
			ck_assert_str_eq(dqlc_role_name(nodes[k].role), "voter");
		}
		ck_assert_msg(found, "node %d missing from CLUSTER", i);
	}
	dqlc_nodes_free(nodes);
	dqlc_conn_close(conn);

	/* Per-node requests on a follower. */
	ck_assert_msg(dqlc_connect_node(tc_node_address(shared, f[0]), NULL, &conn, &err) == 0,
		      "%s", err.message);
	ck_assert_str_eq(dqlc_conn_address(conn), tc_node_address(shared, f[0]));
	ck_assert_msg(dqlc_conn_leader(conn, &info, &err) == 0, "%s", err.message);
	ck_assert_str_eq(info.address, tc_node_address(shared, leader));
	uint64_t domain = 99, weight = 99;
	ck_assert_msg(dqlc_conn_describe(conn, &domain, &weight, &err) == 0, "%s", err.message);
	ck_assert_uint_eq(domain, 0);
	ck_assert_msg(dqlc_conn_set_weight(conn, 42, &err) == 0, "%s", err.message);
	ck_assert_msg(dqlc_conn_describe(conn, &domain, &weight, &err) == 0, "%s", err.message);
	ck_assert_uint_eq(weight, 42);
	dqlc_conn_close(conn);
}
END_TEST

/* A follower answers EXEC with NOT_LEADER: safe to retry elsewhere, and the
 * flags say so. */
START_TEST(test_not_leader_flags)
{
	ck_assert_ptr_nonnull(shared);
	int leader, f[2];
	roles(shared, &leader, f);
	dqlc_conn_t *conn = NULL;
	dqlc_error_t err = {0};
	const char *kv[] = {"database", "disc_notleader", NULL};
	dqlc_config_t *cfg = config_of(kv);
	ck_assert_msg(dqlc_connect_node(tc_node_address(shared, f[1]), cfg, &conn, &err) == 0,
		      "%s", err.message);
	int rc = dqlc_conn_exec(conn, "CREATE TABLE nl (x)", NULL, 0, NULL, &err);
	ck_assert_int_eq(rc, DQLC_ESQL);
	ck_assert_int_eq(err.code, DQLC_ESQL);
	ck_assert_int_eq(err.sqlite_code, DQLC_SQLITE_NOT_LEADER);
	ck_assert_msg((err.flags & (DQLC_ERRF_RETRYABLE | DQLC_ERRF_LEADER_CHANGED)) ==
			  (DQLC_ERRF_RETRYABLE | DQLC_ERRF_LEADER_CHANGED),
		      "flags 0x%x", err.flags);
	ck_assert_msg(!(err.flags & DQLC_ERRF_MAYBE_EXECUTED), "flags 0x%x", err.flags);
	ck_assert_msg(strstr(err.message, "not leader") != NULL, "%s", err.message);
	/* A query is leader-checked too. */
	dqlc_result_t *r = NULL;
	rc = dqlc_conn_query(conn, "SELECT 1", NULL, 0, &r, &err);
	ck_assert_int_eq(rc, DQLC_ESQL);
	ck_assert_int_eq(err.sqlite_code, DQLC_SQLITE_NOT_LEADER);
	ck_assert_ptr_null(r);
	dqlc_conn_close(conn);
	dqlc_config_free(cfg);
}
END_TEST

/* ---- no leader / nothing reachable --------------------------------------------- */

START_TEST(test_nothing_reachable)
{
	char refused[64], refused2[64];
	struct blackhole silent, syn;
	refused_address(refused, sizeof refused);
	refused_address(refused2, sizeof refused2);
	blackhole_silent(&silent);
	blackhole_syn_drop(&syn);
	const char *kv[] = {"dial_timeout_ms", "400", "connect_timeout_ms", "1500", NULL};
	dqlc_config_t *cfg = config_of(kv);
	struct {
		const char *what;
		const char *addrs[4];
		size_t n;
	} cases[] = {
	    {"refused ports", {refused, refused2}, 2},
	    {"silent listener", {silent.addr}, 1},
	    {"syn-dropping listener", {syn.addr}, 1},
	    {"all of them", {refused, silent.addr, syn.addr, refused2}, 4},
	};
	for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
		char *uri = uri_of(cases[c].addrs, cases[c].n, "nothing");
		dqlc_conn_t *conn = NULL;
		dqlc_error_t err = {0};
		int64_t t0 = hp_now_ms();
		int rc = dqlc_connect(uri, cfg, &conn, &err);
		int64_t took = hp_now_ms() - t0;
		ck_assert_msg(rc == DQLC_ECONNECT, "%s: got %s (%s)", cases[c].what,
			      dqlc_errname(rc), err.message);
		ck_assert_int_eq(err.code, DQLC_ECONNECT);
		ck_assert_ptr_null(conn);
		ck_assert_msg(took < 1500 + SLACK_MS, "%s: gave up after %lld ms (deadline 1500)",
			      cases[c].what, (long long)took);
		/* The message says what each node did. */
		ck_assert_msg(strstr(err.message, cases[c].addrs[0]) != NULL, "%s", err.message);
		free(uri);
	}
	dqlc_config_free(cfg);
	blackhole_close(&syn);
	blackhole_close(&silent);
}
END_TEST

/* Poll node i until it reports no leader (bounded). */
static bool wait_knows_no_leader(const char *address, int timeout_ms)
{
	const char *kv[] = {"dial_timeout_ms", "300", "connect_timeout_ms", "500",
			    "request_timeout_ms", "500", NULL};
	dqlc_config_t *cfg = config_of(kv);
	int64_t deadline = hp_now_ms() + timeout_ms;
	bool ok = false;
	while (!ok && hp_now_ms() < deadline) {
		dqlc_conn_t *conn = NULL;
		dqlc_node_info_t info;
		if (dqlc_connect_node(address, cfg, &conn, NULL) == 0 &&
		    dqlc_conn_leader(conn, &info, NULL) == 0 && info.address[0] == '\0')
			ok = true;
		dqlc_conn_close(conn);
		if (!ok)
			hp_sleep_ms(20);
	}
	dqlc_config_free(cfg);
	return ok;
}

static dqlc_test_cluster_t *own;

static void own_up(void)
{
	own = tc_start(3, &test_opts);
	ck_assert_ptr_nonnull(own);
}

static void own_down(void)
{
	tc_destroy(own);
	own = NULL;
}

/* A majority stopped (SIGSTOP): the survivor answers but knows no leader,
 * the stopped ones accept TCP and never answer.  ENOLEADER in time. */
START_TEST(test_no_leader_majority_stopped)
{
	int leader, f[2];
	roles(own, &leader, f);
	ck_assert_int_eq(tc_stop(own, f[0]), 0);
	ck_assert_int_eq(tc_stop(own, f[1]), 0);
	/* The old leader steps down once it misses its quorum. */
	ck_assert_msg(wait_knows_no_leader(tc_node_address(own, leader), 15000),
		      "the leader never stepped down");
	const char *kv[] = {"dial_timeout_ms", "300", "connect_timeout_ms", "2000", NULL};
	dqlc_config_t *cfg = config_of(kv);
	dqlc_conn_t *conn = NULL;
	dqlc_error_t err = {0};
	int64_t t0 = hp_now_ms();
	int rc = dqlc_connect(tc_uri(own, "noleader"), cfg, &conn, &err);
	int64_t took = hp_now_ms() - t0;
	ck_assert_msg(rc == DQLC_ENOLEADER, "got %s: %s", dqlc_errname(rc), err.message);
	ck_assert_int_eq(err.code, DQLC_ENOLEADER);
	ck_assert_ptr_null(conn);
	ck_assert_msg(took < 2000 + SLACK_MS, "gave up after %lld ms (deadline 2000)",
		      (long long)took);
	ck_assert_msg(strstr(err.message, tc_node_address(own, leader)) != NULL, "%s",
		      err.message);

	/* Quorum back: connecting works again. */
	ck_assert_int_eq(tc_cont(own, f[0]), 0);
	ck_assert_int_eq(tc_cont(own, f[1]), 0);
	ck_assert_int_ge(tc_leader(own), 0);
	ck_assert_int_eq(dqlc_config_set(cfg, "connect_timeout_ms", "15000", &err), 0);
	rc = dqlc_connect(tc_uri(own, "noleader"), cfg, &conn, &err);
	ck_assert_msg(rc == 0, "%s", err.message);
	assert_writes(conn, "t_back");
	dqlc_conn_close(conn);
	dqlc_config_free(cfg);
	ck_assert_int_eq(tc_unexpected_exits(own), 0);
}
END_TEST

/* A lone node that was never bootstrapped nor joined: it answers LEADER
 * with "nobody", forever. */
START_TEST(test_no_leader_lone_node)
{
	char dir[] = "/tmp/dqlc-lone-XXXXXX";
	char log[sizeof dir + 16], ndir[sizeof dir + 16], addr[64];
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(log, sizeof log, "%s/node.log", dir);
	snprintf(ndir, sizeof ndir, "%s/n", dir);
	struct hp_janitor jan;
	ck_assert_int_eq(hp_janitor_start(&jan, dir), 0);
	const char *bin = getenv("DQLC_NODE_BIN");
	if (bin == NULL || bin[0] == '\0')
		bin = DQLC_NODE_BIN_DEFAULT;
	pid_t pid = -1;
	off_t start = 0;
	for (int tries = 0; tries < 5 && pid < 0; tries++) {
		refused_address(addr, sizeof addr);
		const char *argv[] = {bin, "--id", "7", "--address", addr, "--dir", ndir, NULL};
		pid = hp_spawn(bin, (char *const *)argv, log, &start);
		ck_assert_int_gt(pid, 0);
		hp_janitor_note(&jan, '+', pid);
		int64_t deadline = hp_now_ms() + 20000;
		while (!hp_file_contains(log, start, "ready id=7 ")) {
			int status;
			if (hp_wait_exit(pid, 0, &status)) {
				hp_janitor_note(&jan, '-', pid);
				pid = -1; /* lost the port to someone: try another */
				break;
			}
			ck_assert_msg(hp_now_ms() < deadline, "lone node not ready");
			hp_sleep_ms(10);
		}
	}
	ck_assert_int_gt(pid, 0);

	const char *kv[] = {"dial_timeout_ms", "300", "connect_timeout_ms", "1500", NULL};
	dqlc_config_t *cfg = config_of(kv);
	dqlc_conn_t *conn = NULL;
	dqlc_error_t err = {0};
	char uri[128];
	snprintf(uri, sizeof uri, "dqlite://%s/lone", addr);
	int64_t t0 = hp_now_ms();
	int rc = dqlc_connect(uri, cfg, &conn, &err);
	int64_t took = hp_now_ms() - t0;
	ck_assert_msg(rc == DQLC_ENOLEADER, "got %s: %s", dqlc_errname(rc), err.message);
	ck_assert_ptr_null(conn);
	ck_assert_msg(took < 1500 + SLACK_MS, "gave up after %lld ms", (long long)took);
	ck_assert_msg(strstr(err.message, "knows no leader") != NULL, "%s", err.message);

	/* Its own view, asked directly: nobody leads, nobody is a member. */
	ck_assert_msg(dqlc_connect_node(addr, cfg, &conn, &err) == 0, "%s", err.message);
	dqlc_node_info_t info;
	ck_assert_msg(dqlc_conn_leader(conn, &info, &err) == 0, "%s", err.message);
	ck_assert_uint_eq(info.id, 0);
	ck_assert_str_eq(info.address, "");
	dqlc_conn_close(conn);
	dqlc_config_free(cfg);

	hp_terminate(pid, 3000);
	hp_janitor_note(&jan, '-', pid);
	ck_assert_int_eq(hp_rm_rf(dir), 0);
	hp_janitor_disarm(&jan);
}
END_TEST

/* ---- configuration and URI errors ----------------------------------------------- */

static void assert_einval(int rc, const dqlc_error_t *err, const char *needle)
{
	ck_assert_msg(rc == DQLC_EINVAL, "expected DQLC_EINVAL, got %s (%s)", dqlc_errname(rc),
		      err->message);
	ck_assert_int_eq(err->code, DQLC_EINVAL);
	ck_assert_msg(strstr(err->message, needle) != NULL, "'%s' does not mention '%s'",
		      err->message, needle);
}

START_TEST(test_config_errors)
{
	dqlc_error_t err = {0};
	dqlc_config_t *cfg = dqlc_config_new();
	ck_assert_ptr_nonnull(cfg);

	assert_einval(dqlc_config_set(cfg, "no_such_key", "1", &err), &err, "no_such_key");
	assert_einval(dqlc_config_set(cfg, "request_timeout_ms", "soon", &err), &err,
		      "request_timeout_ms");
	assert_einval(dqlc_config_set(cfg, "request_timeout_ms", "-5", &err), &err,
		      "request_timeout_ms");
	assert_einval(dqlc_config_set(cfg, "connect_timeout_ms", "0", &err), &err,
		      "connect_timeout_ms");
	assert_einval(dqlc_config_set(cfg, "probe_concurrency", "12abc", &err), &err,
		      "probe_concurrency");
	assert_einval(dqlc_config_set(cfg, "tls", "sometimes", &err), &err, "tls");
	assert_einval(dqlc_config_add_node(cfg, "127.0.0.1", &err), &err, "127.0.0.1");
	assert_einval(dqlc_config_add_node(cfg, "127.0.0.1:0", &err), &err, "port");
	assert_einval(dqlc_config_add_node(cfg, "127.0.0.1:65536", &err), &err, "port");
	assert_einval(dqlc_config_add_node(cfg, "127.0.0.1:90x", &err), &err, "port");
	assert_einval(dqlc_config_add_node(cfg, ":9001", &err), &err, "host");
	assert_einval(dqlc_config_add_node(cfg, "", &err), &err, "address");
	assert_einval(dqlc_config_set(NULL, "database", "x", &err), &err, "NULL");

	/* Good values are taken. */
	ck_assert_int_eq(dqlc_config_set(cfg, "request_timeout_ms", "250", &err), 0);
	ck_assert_int_eq(dqlc_config_set(cfg, "keepalive", "off", &err), 0);
	ck_assert_int_eq(dqlc_config_add_node(cfg, "127.0.0.1:9001", &err), 0);
	ck_assert_int_eq(dqlc_config_add_node(cfg, "[::1]:9001", &err), 0);

	assert_einval(dqlc_config_from_uri(cfg, "dqlite://127.0.0.1:9001/db?bogus_key=1", &err),
		      &err, "bogus_key");
	assert_einval(dqlc_config_from_uri(cfg, "dqlite://127.0.0.1:9001/db?dial_timeout_ms",
					   &err),
		      &err, "dial_timeout_ms");
	assert_einval(dqlc_config_from_uri(cfg, "http://127.0.0.1:9001/db", &err), &err,
		      "dqlite://");
	assert_einval(dqlc_config_from_uri(cfg, "dqlite:///db", &err), &err, "no node");
	assert_einval(dqlc_config_from_uri(cfg, "dqlite://127.0.0.1:9001,nohost/db", &err),
		      &err, "nohost");
	ck_assert_int_eq(dqlc_config_from_uri(
			     cfg, "dqlite://127.0.0.1:9001,127.0.0.1:9002/db?request_timeout_ms=9",
			     &err),
			 0);
	dqlc_config_free(cfg);
	dqlc_config_free(NULL);
}
END_TEST

/* dqlc_connect refuses bad input before any network traffic. */
START_TEST(test_connect_errors)
{
	dqlc_error_t err = {0};
	dqlc_conn_t *conn = (dqlc_conn_t *)&err; /* must be reset to NULL */
	int64_t t0 = hp_now_ms();
	assert_einval(dqlc_connect("dqlite://127.0.0.1:9/db?connect_timeout=5", NULL, &conn, &err),
		      &err, "connect_timeout");
	ck_assert_ptr_null(conn);
	assert_einval(dqlc_connect("dqlite://127.0.0.1:9/db?request_timeout_ms=x", NULL, &conn,
				   &err),
		      &err, "request_timeout_ms");
	assert_einval(dqlc_connect("dqlite://127.0.0.1/db", NULL, &conn, &err), &err,
		      "127.0.0.1");
	assert_einval(dqlc_connect("dqlite://127.0.0.1:70000/db", NULL, &conn, &err), &err,
		      "port");
	assert_einval(dqlc_connect("mysql://127.0.0.1:9/db", NULL, &conn, &err), &err,
		      "dqlite://");
	ck_assert_int_eq(dqlc_connect(NULL, NULL, &conn, &err), DQLC_EINVAL);
	ck_assert_int_eq(dqlc_connect("dqlite://127.0.0.1:9/db", NULL, NULL, &err), DQLC_EINVAL);
	/* A config without nodes. */
	dqlc_config_t *cfg = dqlc_config_new();
	ck_assert_int_eq(dqlc_connect(NULL, cfg, &conn, &err), DQLC_EINVAL);
	/* Pool keys are accepted, but their values are checked too. */
	assert_einval(dqlc_connect("dqlite://127.0.0.1:9/db?pool_max=0", cfg, &conn, &err), &err,
		      "pool_max");
	dqlc_config_free(cfg);
	ck_assert_msg(hp_now_ms() - t0 < 1000, "argument errors must not touch the network");
	ck_assert_int_eq(dqlc_connect_node(NULL, NULL, &conn, &err), DQLC_EINVAL);
	ck_assert_int_eq(dqlc_connect_node("127.0.0.1", NULL, &conn, &err), DQLC_EINVAL);
	ck_assert_ptr_null(conn);
}
END_TEST

/* The URI wins over the config (database), the config's other keys stay. */
START_TEST(test_uri_and_config_merge)
{
	ck_assert_ptr_nonnull(shared);
	const char *kv[] = {"database", "from_config", "request_timeout_ms", "4321", NULL};
	dqlc_config_t *cfg = config_of(kv);
	dqlc_error_t err = {0};
	dqlc_conn_t *conn = NULL;
	/* The config's database is used when the URI names none. */
	char uri[256];
	snprintf(uri, sizeof uri, "dqlite://%s", tc_addresses(shared));
	ck_assert_msg(dqlc_connect(uri, cfg, &conn, &err) == 0, "%s", err.message);
	assert_writes(conn, "t_merge_cfg");
	dqlc_conn_close(conn);
	/* The URI's database wins; percent-decoding applies. */
	snprintf(uri, sizeof uri, "dqlite://%s/from%%5Furi", tc_addresses(shared));
	ck_assert_msg(dqlc_connect(uri, cfg, &conn, &err) == 0, "%s", err.message);
	dqlc_value_t v;
	/* t_merge_cfg lives in from_config only. */
	int rc = dqlc_conn_fetchval(conn, "SELECT count(*) FROM t_merge_cfg", NULL, 0, &v, &err);
	ck_assert_int_eq(rc, DQLC_ESQL);
	ck_assert_msg(strstr(err.message, "no such table") != NULL, "%s", err.message);
	assert_writes(conn, "t_merge_uri");
	dqlc_conn_close(conn);
	snprintf(uri, sizeof uri, "dqlite://%s/from_config", tc_addresses(shared));
	ck_assert_msg(dqlc_connect(uri, NULL, &conn, &err) == 0, "%s", err.message);
	ck_assert_msg(dqlc_conn_fetchval(conn, "SELECT count(*) FROM t_merge_cfg", NULL, 0, &v,
					 &err) == 0,
		      "%s", err.message);
	ck_assert_int_eq(v.type, DQLC_TYPE_INTEGER);
	ck_assert_int_ge(v.v.i, 1);
	dqlc_value_clear(&v);
	dqlc_conn_close(conn);
	dqlc_config_free(cfg);
}
END_TEST

static Suite *conn_suite(void)
{
	Suite *s = suite_create("conn");
	TCase *tc;

	tc = tcase_create("config");
	tcase_add_test(tc, test_config_errors);
	tcase_add_test(tc, test_connect_errors);
	tcase_set_timeout(tc, 30);
	suite_add_tcase(s, tc);

	tc = tcase_create("discovery");
	tcase_add_unchecked_fixture(tc, shared_up, shared_down);
	tcase_add_test(tc, test_connect_followers_only);
	tcase_add_test(tc, test_connect_dead_first);
	tcase_add_test(tc, test_dial_hook);
	tcase_add_test(tc, test_admin_minimal);
	tcase_add_test(tc, test_not_leader_flags);
	tcase_add_test(tc, test_uri_and_config_merge);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);

	tc = tcase_create("unreachable");
	tcase_add_test(tc, test_nothing_reachable);
	tcase_add_test(tc, test_no_leader_lone_node);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);

	tc = tcase_create("no_leader");
	tcase_add_checked_fixture(tc, own_up, own_down);
	tcase_add_test(tc, test_no_leader_majority_stopped);
	tcase_set_timeout(tc, 90);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(conn_suite());
	srunner_run_all(sr, CK_ENV);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
