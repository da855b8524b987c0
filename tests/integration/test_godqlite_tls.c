/*
 * TLS interop with go-dqlite 2.0: a 3-node cluster of `dqlite-demo --cert
 * --key` processes (libdqlite 1.18.1) from the Debian 13 root that
 * scripts/trixie-root.sh makes (run on this host by scripts/trixie-run.sh),
 * serving client and raft traffic over mutual TLS the way LXD-style
 * deployments do.  Certificates come from the harness's test CA
 * (tests/harness/tls-certs.sh): each node presents server.crt followed by
 * the CA (go-dqlite trusts what its --cert file holds), clients present
 * client.crt.
 *
 *  - the library's TLS (tls=verify-full, tls_ca, tls_cert, tls_key)
 *    connects, finds the leader, runs queries and transactions, and pools;
 *  - a client certificate from an unrelated CA, or trusting the wrong CA, is
 *    refused with DQLC_ETLS; plaintext gets nowhere;
 *  - tools/dqlc with go-dqlite-style -c BUNDLE -k KEY works against it;
 *  - killing the leader: a new one is elected and the pool carries on.
 *
 * The app binds each node to the abstract socket @dqlite-<node id> and the
 * first node of every cluster has the same bootstrap id, so only one such
 * cluster can run per network namespace: clusters here are started under an
 * exclusive lock (/tmp/dqlc-godqlite-tls.lock), one after the other.
 *
 * Without the Debian 13 root the tests FAIL (make trixie-node, or
 * scripts/trixie-root.sh, makes it): they are never skipped.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

#include "dqlite-client.h"

#include "cluster.h"
#include "proc.h"

#ifndef DQLC_TRIXIE_RUN_DEFAULT
#define DQLC_TRIXIE_RUN_DEFAULT "scripts/trixie-run.sh"
#endif
#ifndef DQLC_SHELL_BIN_DEFAULT
#define DQLC_SHELL_BIN_DEFAULT "tools/dqlc"
#endif
#ifndef DQLC_TLS_CERTS_SCRIPT_DEFAULT
#define DQLC_TLS_CERTS_SCRIPT_DEFAULT "tests/harness/tls-certs.sh"
#endif

#define DEMO "/usr/bin/dqlite-demo" /* inside the root */
#define LOCK_PATH "/tmp/dqlc-godqlite-tls.lock"

static const char *trixie_root(void)
{
	const char *r = getenv("DQLC_TRIXIE_ROOT");
	return r != NULL && r[0] != '\0' ? r : "/var/cache/dqlc/trixie-root";
}

static const char *trixie_run(void)
{
	const char *r = getenv("DQLC_TRIXIE_RUN");
	return r != NULL && r[0] != '\0' ? r : DQLC_TRIXIE_RUN_DEFAULT;
}

/* ---- the cluster ------------------------------------------------------------------ */

struct demo {
	int lock_fd;
	char dir[128];
	struct hp_janitor jan;
	pid_t pid[3];
	char db_addr[3][32];
	int api_port[3];
	char addrs[128];
	char certs[160];
	char bundle[200];   /* server.crt + ca.crt: the nodes' --cert */
	char tls[1024];     /* the library's URI keys */
	char uri[1300];
};

static struct demo demo;

static void cert_path(char *out, size_t cap, const char *name)
{
	snprintf(out, cap, "%s/%s", demo.certs, name);
}

static const char *cert(const char *name)
{
	static char buf[8][256];
	static int k;
	k = (k + 1) % 8;
	cert_path(buf[k], sizeof buf[k], name);
	return buf[k];
}

static pid_t demo_spawn(int i, const char *join)
{
	char api[32], log[200];
	snprintf(api, sizeof api, "127.0.0.1:%d", demo.api_port[i]);
	snprintf(log, sizeof log, "%s/node%d.log", demo.dir, i + 1);
	const char *argv[16];
	int a = 0;
	argv[a++] = trixie_run();
	argv[a++] = DEMO;
	argv[a++] = "--api";
	argv[a++] = api;
	argv[a++] = "--db";
	argv[a++] = demo.db_addr[i];
	argv[a++] = "--dir";
	argv[a++] = demo.dir;
	argv[a++] = "--cert";
	argv[a++] = demo.bundle;
	argv[a++] = "--key";
	argv[a++] = cert("server.key");
	if (join != NULL) {
		argv[a++] = "--join";
		argv[a++] = join;
	}
	argv[a] = NULL;
	off_t start;
	/* trixie-run.sh execs the root's loader: the pid is dqlite-demo's, and
	 * PR_SET_PDEATHSIG (hp_spawn) kills it with us. */
	pid_t pid = hp_spawn(trixie_run(), (char *const *)argv, log, &start);
	ck_assert_msg(pid > 0, "cannot start %s: %s", trixie_run(), strerror(errno));
	hp_janitor_note(&demo.jan, '+', pid);
	return pid;
}

static void demo_print_logs(void)
{
	for (int i = 0; i < 3; i++) {
		char log[200];
		snprintf(log, sizeof log, "%s/node%d.log", demo.dir, i + 1);
		fprintf(stderr, "dqlite-demo node %d (%s) log:\n", i + 1, demo.db_addr[i]);
		hp_print_tail(log, 15, "  | ", stderr);
	}
}

static void demo_check_alive(void)
{
	for (int i = 0; i < 3; i++) {
		int status;
		if (demo.pid[i] > 0 && hp_wait_exit(demo.pid[i], 0, &status)) {
			hp_janitor_note(&demo.jan, '-', demo.pid[i]);
			demo.pid[i] = 0;
			demo_print_logs();
			ck_abort_msg("dqlite-demo node %d exited (status 0x%x)", i + 1, status);
		}
	}
}

static dqlc_config_t *tls_config(int timeout_ms)
{
	dqlc_config_t *cfg = dqlc_config_new();
	char t[16];
	snprintf(t, sizeof t, "%d", timeout_ms);
	ck_assert_ptr_nonnull(cfg);
	ck_assert_int_eq(dqlc_config_set(cfg, "tls", "verify-full", NULL), 0);
	ck_assert_int_eq(dqlc_config_set(cfg, "tls_ca", cert("ca.crt"), NULL), 0);
	ck_assert_int_eq(dqlc_config_set(cfg, "tls_cert", cert("client.crt"), NULL), 0);
	ck_assert_int_eq(dqlc_config_set(cfg, "tls_key", cert("client.key"), NULL), 0);
	ck_assert_int_eq(dqlc_config_set(cfg, "connect_timeout_ms", t, NULL), 0);
	return cfg;
}

/* Node i answers LEADER (over TLS) with itself. */
static bool demo_leads(int i)
{
	dqlc_config_t *cfg = tls_config(1000);
	dqlc_conn_t *conn = NULL;
	dqlc_node_info_t info;
	bool ok = dqlc_connect_node(demo.db_addr[i], cfg, &conn, NULL) == 0 &&
		  dqlc_conn_leader(conn, &info, NULL) == 0 &&
		  strcmp(info.address, demo.db_addr[i]) == 0;
	dqlc_conn_close(conn);
	dqlc_config_free(cfg);
	return ok;
}

/* The leader lists three voters and the demo's table exists. */
static bool demo_ready(void)
{
	dqlc_config_t *cfg = tls_config(1000);
	dqlc_conn_t *conn = NULL;
	dqlc_node_info_t *nodes = NULL;
	dqlc_value_t v = DQLC_NULL;
	size_t n = 0, voters = 0;
	if (dqlc_connect(demo.uri, cfg, &conn, NULL) == 0 &&
	    dqlc_conn_cluster(conn, &nodes, &n, NULL) == 0) {
		for (size_t k = 0; k < n; k++)
			voters += nodes[k].role == DQLC_ROLE_VOTER;
		if (voters == 3)
			dqlc_conn_fetchval(conn,
					   "SELECT count(*) FROM sqlite_master WHERE name = 'model'",
					   NULL, 0, &v, NULL);
	}
	dqlc_nodes_free(nodes);
	dqlc_conn_close(conn);
	dqlc_config_free(cfg);
	return voters == 3 && v.type == DQLC_TYPE_INTEGER && v.v.i == 1;
}

static void run_certs_script(void)
{
	const char *script = getenv("DQLC_TLS_CERTS_SCRIPT");
	char cmd[600];
	snprintf(cmd, sizeof cmd, "sh '%s' '%s' >/dev/null",
		 script != NULL && script[0] != '\0' ? script : DQLC_TLS_CERTS_SCRIPT_DEFAULT,
		 demo.certs);
	ck_assert_msg(system(cmd) == 0, "%s failed", cmd);
	snprintf(cmd, sizeof cmd, "cat '%s/server.crt' '%s/ca.crt' >'%s'", demo.certs, demo.certs,
		 demo.bundle);
	ck_assert_msg(system(cmd) == 0, "%s failed", cmd);
}

static void demo_up(void)
{
	char marker[300];
	memset(&demo, 0, sizeof demo);
	demo.lock_fd = -1;
	snprintf(marker, sizeof marker, "%s/.dqlc-root-complete", trixie_root());
	ck_assert_msg(access(marker, R_OK) == 0,
		      "no Debian 13 root at %s (make trixie-node, or scripts/trixie-root.sh, makes "
		      "it): go-dqlite 2.0 cannot run",
		      trixie_root());
	/* One such cluster per network namespace: wait for any other. */
	demo.lock_fd = open(LOCK_PATH, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
	ck_assert_int_ge(demo.lock_fd, 0);
	ck_assert_int_eq(flock(demo.lock_fd, LOCK_EX), 0);

	const char *tmp = getenv("TMPDIR");
	snprintf(demo.dir, sizeof demo.dir, "%s/dqlc-godqlite-XXXXXX",
		 tmp != NULL && tmp[0] != '\0' ? tmp : "/tmp");
	ck_assert_ptr_nonnull(mkdtemp(demo.dir));
	ck_assert_int_eq(hp_janitor_start(&demo.jan, demo.dir), 0);
	snprintf(demo.certs, sizeof demo.certs, "%s/tls", demo.dir);
	snprintf(demo.bundle, sizeof demo.bundle, "%s/node-bundle.crt", demo.certs);
	run_certs_script();
	for (int i = 0; i < 3; i++) {
		int db = hp_free_port();
		demo.api_port[i] = hp_free_port();
		ck_assert(db > 0 && demo.api_port[i] > 0 && db != demo.api_port[i]);
		snprintf(demo.db_addr[i], sizeof demo.db_addr[i], "127.0.0.1:%d", db);
	}
	snprintf(demo.addrs, sizeof demo.addrs, "%s,%s,%s", demo.db_addr[0], demo.db_addr[1],
		 demo.db_addr[2]);
	snprintf(demo.tls, sizeof demo.tls, "tls=verify-full&tls_ca=%s&tls_cert=%s&tls_key=%s",
		 cert("ca.crt"), cert("client.crt"), cert("client.key"));
	snprintf(demo.uri, sizeof demo.uri, "dqlite://%s/demo?%s", demo.addrs, demo.tls);

	demo.pid[0] = demo_spawn(0, NULL);
	int64_t deadline = hp_now_ms() + 30000;
	while (!demo_leads(0)) {
		demo_check_alive();
		if (hp_now_ms() > deadline) {
			demo_print_logs();
			ck_abort_msg("dqlite-demo node 1 never led (over TLS)");
		}
		hp_sleep_ms(50);
	}
	demo.pid[1] = demo_spawn(1, demo.db_addr[0]);
	demo.pid[2] = demo_spawn(2, demo.db_addr[0]);
	deadline = hp_now_ms() + 60000;
	while (!demo_ready()) {
		demo_check_alive();
		if (hp_now_ms() > deadline) {
			demo_print_logs();
			ck_abort_msg("the TLS dqlite-demo cluster never had 3 voters and a model "
				     "table");
		}
		hp_sleep_ms(100);
	}
}

static void demo_down(void)
{
	/* SIGKILL: a SIGTERMed node hands leadership over first, which
	 * hangs once its peers are gone; the data is thrown away anyway. */
	for (int i = 0; i < 3; i++)
		if (demo.pid[i] > 0)
			kill(demo.pid[i], SIGKILL);
	for (int i = 0; i < 3; i++) {
		if (demo.pid[i] > 0) {
			hp_wait_exit(demo.pid[i], 10000, NULL);
			hp_janitor_note(&demo.jan, '-', demo.pid[i]);
			demo.pid[i] = 0;
		}
	}
	if (demo.dir[0] != '\0') {
		hp_rm_rf(demo.dir);
		hp_janitor_disarm(&demo.jan);
	}
	if (demo.lock_fd >= 0)
		close(demo.lock_fd); /* releases the lock */
	demo.lock_fd = -1;
}

/* Index of the node whose address is `addr`; -1 if none. */
static int node_of(const char *addr)
{
	for (int i = 0; i < 3; i++)
		if (strcmp(addr, demo.db_addr[i]) == 0)
			return i;
	return -1;
}

/* ---- tests ------------------------------------------------------------------------ */

START_TEST(test_tls_connect_query_tx)
{
	dqlc_conn_t *conn = NULL;
	dqlc_error_t err = {0};
	ck_assert_msg(dqlc_connect(demo.uri, NULL, &conn, &err) == 0, "connect: %s", err.message);
	/* Discovery found the leader: the connected node names itself. */
	dqlc_node_info_t info;
	ck_assert_int_eq(dqlc_conn_leader(conn, &info, &err), 0);
	ck_assert_str_eq(info.address, dqlc_conn_address(conn));
	ck_assert_int_ge(node_of(info.address), 0);

	ck_assert_msg(dqlc_conn_exec(conn, "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)", NULL,
				     0, NULL, &err) == 0,
		      "%s", err.message);
	dqlc_value_t p[] = {DQLC_TEXT("over tls")};
	dqlc_result_t *r = NULL;
	ck_assert_int_eq(dqlc_conn_exec(conn, "INSERT INTO t (v) VALUES (?)", p, 1, &r, &err), 0);
	ck_assert_int_eq(dqlc_result_last_insert_id(r), 1);
	dqlc_result_free(r);
	/* A committed and a rolled-back transaction. */
	ck_assert_int_eq(dqlc_conn_begin(conn, &err), 0);
	ck_assert_int_eq(dqlc_conn_exec(conn, "INSERT INTO t (v) VALUES ('tx')", NULL, 0, NULL, &err),
			 0);
	ck_assert_int_eq(dqlc_conn_commit(conn, &err), 0);
	ck_assert_int_eq(dqlc_conn_begin(conn, &err), 0);
	ck_assert_int_eq(dqlc_conn_exec(conn, "INSERT INTO t (v) VALUES ('gone')", NULL, 0, NULL,
					&err),
			 0);
	ck_assert_int_eq(dqlc_conn_rollback(conn, &err), 0);
	ck_assert_int_eq(dqlc_conn_query(conn, "SELECT group_concat(v, '|') FROM t", NULL, 0, &r,
					 &err),
			 0);
	ck_assert_str_eq(dqlc_result_text(r, 0, 0, NULL), "over tls|tx");
	dqlc_result_free(r);
	/* The demo's own table is there: one database, two clients. */
	dqlc_conn_close(conn);
	dqlc_config_t *cfg = dqlc_config_new();
	ck_assert_int_eq(dqlc_config_set(cfg, "database", "demo", NULL), 0);
	ck_assert_int_eq(dqlc_config_set(cfg, "tls", "verify-full", NULL), 0);
	ck_assert_int_eq(dqlc_config_set(cfg, "tls_ca", cert("ca.crt"), NULL), 0);
	ck_assert_int_eq(dqlc_config_set(cfg, "tls_cert", cert("client.crt"), NULL), 0);
	ck_assert_int_eq(dqlc_config_set(cfg, "tls_key", cert("client.key"), NULL), 0);
	ck_assert_int_eq(dqlc_config_add_node(cfg, demo.db_addr[2], NULL), 0);
	ck_assert_msg(dqlc_connect(NULL, cfg, &conn, &err) == 0, "%s", err.message);
	dqlc_value_t v;
	ck_assert_int_eq(dqlc_conn_fetchval(conn, "SELECT count(*) FROM model", NULL, 0, &v, &err),
			 0);
	ck_assert_int_eq(v.type, DQLC_TYPE_INTEGER);
	dqlc_conn_close(conn);
	dqlc_config_free(cfg);
	demo_check_alive();
}
END_TEST

START_TEST(test_tls_pool)
{
	dqlc_pool_t *p = NULL;
	dqlc_error_t err = {0};
	ck_assert_msg(dqlc_pool_create(demo.uri, NULL, &p, &err) == 0, "%s", err.message);
	dqlc_future_t *f = dqlc_pool_exec(p, "CREATE TABLE pt (x INTEGER)", NULL, 0);
	ck_assert_int_eq(dqlc_future_wait(f), 0);
	dqlc_future_free(f);
	enum { N = 40 };
	dqlc_future_t *fs[N];
	for (int i = 0; i < N; i++) {
		dqlc_value_t v[] = {DQLC_INT(i + 1)};
		fs[i] = dqlc_pool_exec(p, "INSERT INTO pt VALUES (?)", v, 1);
		ck_assert_ptr_nonnull(fs[i]);
	}
	for (int i = 0; i < N; i++) {
		ck_assert_msg(dqlc_future_error(fs[i], &err) == 0, "insert %d: %s", i, err.message);
		dqlc_future_free(fs[i]);
	}
	f = dqlc_pool_query(p, "SELECT count(*), sum(x) FROM pt", NULL, 0);
	ck_assert_int_eq(dqlc_future_error(f, &err), 0);
	dqlc_result_t *r = dqlc_future_take_result(f);
	dqlc_future_free(f);
	ck_assert_int_eq(dqlc_result_int64(r, 0, 0), N);
	ck_assert_int_eq(dqlc_result_int64(r, 0, 1), N * (N + 1) / 2);
	dqlc_result_free(r);
	/* The map: three voters, a leader among them. */
	dqlc_node_info_t *nodes = NULL;
	size_t n = 0;
	char leader[64];
	ck_assert_int_eq(dqlc_pool_cluster(p, &nodes, &n, leader, sizeof leader, &err), 0);
	ck_assert_uint_eq(n, 3);
	for (size_t k = 0; k < n; k++) {
		ck_assert_int_eq(nodes[k].role, DQLC_ROLE_VOTER);
		ck_assert_int_ge(node_of(nodes[k].address), 0);
	}
	ck_assert_int_ge(node_of(leader), 0);
	dqlc_nodes_free(nodes);
	dqlc_pool_stats_t st = {.struct_size = sizeof st};
	ck_assert_int_eq(dqlc_pool_stats(p, &st, &err), 0);
	ck_assert_uint_eq(st.failed, 0);
	ck_assert_uint_ge(st.connects, 1);
	dqlc_pool_close(p);
	demo_check_alive();
}
END_TEST

/* Connect with these TLS keys (and a short timeout): the code. */
static int connect_with(const char *keys, dqlc_error_t *err)
{
	char uri[1400];
	dqlc_conn_t *conn = NULL;
	snprintf(uri, sizeof uri, "dqlite://%s/demo?connect_timeout_ms=3000%s%s", demo.addrs,
		 keys[0] ? "&" : "", keys);
	int rc = dqlc_connect(uri, NULL, &conn, err);
	dqlc_conn_close(conn);
	return rc;
}

START_TEST(test_tls_refusals)
{
	char keys[1024];
	dqlc_error_t err = {0};
	/* A client certificate from an unrelated CA: the nodes refuse it. */
	snprintf(keys, sizeof keys, "tls=verify-full&tls_ca=%s&tls_cert=%s&tls_key=%s",
		 cert("ca.crt"), cert("wrong-client.crt"), cert("wrong-client.key"));
	int rc = connect_with(keys, &err);
	ck_assert_msg(rc == DQLC_ETLS, "wrong client certificate: %s (%s)", dqlc_errname(rc),
		      err.message);
	fprintf(stderr, "wrong client certificate: %s\n", err.message);
	/* No client certificate at all. */
	snprintf(keys, sizeof keys, "tls=verify-full&tls_ca=%s", cert("ca.crt"));
	rc = connect_with(keys, &err);
	ck_assert_msg(rc == DQLC_ETLS, "no client certificate: %s (%s)", dqlc_errname(rc),
		      err.message);
	/* Trusting the wrong CA: the nodes' certificates do not verify. */
	snprintf(keys, sizeof keys, "tls=verify-full&tls_ca=%s&tls_cert=%s&tls_key=%s",
		 cert("wrong-ca.crt"), cert("client.crt"), cert("client.key"));
	rc = connect_with(keys, &err);
	ck_assert_msg(rc == DQLC_ETLS, "wrong CA: %s (%s)", dqlc_errname(rc), err.message);
	/* Plaintext reaches no dqlite. */
	rc = connect_with("", &err);
	ck_assert_msg(rc != 0, "plaintext connected to a TLS-only cluster");
	/* The right keys still work after all that. */
	ck_assert_msg(connect_with(demo.tls, &err) == 0, "%s", err.message);
	demo_check_alive();
}
END_TEST

/* Run tools/dqlc with argv; its output (stdout and stderr) in out. */
static int run_shell(const char *const *args, char *out, size_t cap)
{
	const char *bin = getenv("DQLC_SHELL_BIN");
	char cmd[2048] = "";
	size_t len = 0;
	len += (size_t)snprintf(cmd + len, sizeof cmd - len, "timeout 30 '%s'",
				bin != NULL && bin[0] ? bin : DQLC_SHELL_BIN_DEFAULT);
	for (int i = 0; args[i] != NULL; i++)
		len += (size_t)snprintf(cmd + len, sizeof cmd - len, " '%s'", args[i]);
	snprintf(cmd + len, sizeof cmd - len, " 2>&1 </dev/null");
	FILE *f = popen(cmd, "r");
	ck_assert_ptr_nonnull(f);
	size_t n = fread(out, 1, cap - 1, f);
	out[n] = '\0';
	int status = pclose(f);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

START_TEST(test_shell_go_style_options)
{
	char out[4096];
	/* go-dqlite's shell takes -c (client certificate, then the CA) and -k;
	 * dqlc takes the same: the CA comes from the bundle and the nodes are
	 * verified against the certificate's first DNS name. */
	const char *args[] = {"-s",    demo.addrs,
			      "-c",    cert("client-bundle.crt"),
			      "-k",    cert("client.key"),
			      "shell", "CREATE TABLE IF NOT EXISTS s (x INTEGER); INSERT INTO s VALUES (42); "
				       "SELECT x * 2 FROM s",
			      NULL};
	int rc = run_shell(args, out, sizeof out);
	ck_assert_msg(rc == 0, "dqlc exited %d: %s", rc, out);
	ck_assert_msg(strstr(out, "84") != NULL, "dqlc output: %s", out);
	/* The wrong client certificate: a clear TLS error, non-zero exit. */
	const char *bad[] = {"-s", demo.addrs, "--ca", cert("ca.crt"), "-c", cert("wrong-client.crt"),
			     "-k", cert("wrong-client.key"), "shell", "SELECT 1", NULL};
	rc = run_shell(bad, out, sizeof out);
	ck_assert_msg(rc != 0, "dqlc with a wrong certificate exited 0: %s", out);
	ck_assert_msg(strstr(out, "TLS") != NULL || strstr(out, "tls") != NULL, "dqlc: %s", out);
	demo_check_alive();
}
END_TEST

START_TEST(test_tls_leader_killed)
{
	dqlc_pool_t *p = NULL;
	dqlc_error_t err = {0};
	char uri[1400];
	snprintf(uri, sizeof uri, "%s&request_timeout_ms=30000", demo.uri);
	ck_assert_msg(dqlc_pool_create(uri, NULL, &p, &err) == 0, "%s", err.message);
	dqlc_future_t *f = dqlc_pool_exec(p, "CREATE TABLE k (x INTEGER)", NULL, 0);
	ck_assert_int_eq(dqlc_future_error(f, &err), 0);
	dqlc_future_free(f);
	for (int i = 0; i < 5; i++) {
		dqlc_value_t v[] = {DQLC_INT(i)};
		f = dqlc_pool_exec(p, "INSERT INTO k VALUES (?)", v, 1);
		ck_assert_msg(dqlc_future_error(f, &err) == 0, "%s", err.message);
		dqlc_future_free(f);
	}
	char leader[64];
	ck_assert_int_eq(dqlc_pool_leader(p, leader, sizeof leader, &err), 0);
	int old = node_of(leader);
	ck_assert_int_ge(old, 0);
	/* Kill it: no handover. */
	ck_assert_int_eq(kill(demo.pid[old], SIGKILL), 0);
	ck_assert(hp_wait_exit(demo.pid[old], 10000, NULL));
	hp_janitor_note(&demo.jan, '-', demo.pid[old]);
	demo.pid[old] = 0;
	/* The pool finds the new leader and carries on. */
	for (int i = 5; i < 10; i++) {
		dqlc_value_t v[] = {DQLC_INT(i)};
		f = dqlc_pool_exec(p, "INSERT INTO k VALUES (?)", v, 1);
		int rc = dqlc_future_error(f, &err);
		dqlc_future_free(f);
		/* A write in flight when the leader died may have committed
		 * (its outcome is unknown): that is reported, never hidden. */
		ck_assert_msg(rc == 0 || (err.flags & DQLC_ERRF_MAYBE_EXECUTED), "insert %d: %s",
			      i, err.message);
	}
	f = dqlc_pool_query(p, "SELECT count(*) FROM k WHERE x >= 5", NULL, 0);
	ck_assert_int_eq(dqlc_future_error(f, &err), 0);
	dqlc_result_t *r = dqlc_future_take_result(f);
	dqlc_future_free(f);
	ck_assert_int_ge(dqlc_result_int64(r, 0, 0), 4);
	dqlc_result_free(r);
	ck_assert_int_eq(dqlc_pool_leader(p, leader, sizeof leader, &err), 0);
	int now = node_of(leader);
	ck_assert_int_ge(now, 0);
	ck_assert_int_ne(now, old);
	dqlc_pool_stats_t st = {.struct_size = sizeof st};
	ck_assert_int_eq(dqlc_pool_stats(p, &st, &err), 0);
	ck_assert_uint_ge(st.leader_changes, 1);
	dqlc_pool_close(p);
	/* A fresh connection over TLS finds the new leader too. */
	dqlc_conn_t *conn = NULL;
	ck_assert_msg(dqlc_connect(demo.uri, NULL, &conn, &err) == 0, "%s", err.message);
	ck_assert_str_eq(dqlc_conn_address(conn), leader);
	dqlc_conn_close(conn);
}
END_TEST

static Suite *godqlite_tls_suite(void)
{
	Suite *s = suite_create("go-dqlite 2.0 TLS interop");
	/* Clusters are made in the test process (checked fixtures), so a
	 * test may kill its nodes under CK_FORK=yes too. */
	TCase *tc = tcase_create("mutual TLS cluster of dqlite-demo");
	tcase_add_checked_fixture(tc, demo_up, demo_down);
	tcase_set_timeout(tc, 240);
	tcase_add_test(tc, test_tls_connect_query_tx);
	tcase_add_test(tc, test_tls_pool);
	tcase_add_test(tc, test_tls_refusals);
	tcase_add_test(tc, test_shell_go_style_options);
	tcase_add_test(tc, test_tls_leader_killed);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	char path[300], line[128] = "unknown (no Debian 13 root)";
	snprintf(path, sizeof path, "%s/.dqlc-dqlite-version", trixie_root());
	FILE *f = fopen(path, "r");
	if (f != NULL) {
		if (fgets(line, sizeof line, f) != NULL)
			line[strcspn(line, "\n")] = '\0';
		fclose(f);
	}
	fprintf(stderr, "go-dqlite 2.0 dqlite-demo nodes from %s: %s\n", trixie_root(), line);
	SRunner *sr = srunner_create(godqlite_tls_suite());
	srunner_run_all(sr, CK_ENV);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
