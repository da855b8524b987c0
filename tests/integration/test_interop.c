/*
 * Interop with go-dqlite's own tools (Debian package go-dqlite):
 *  - on a cluster of dqlc-node processes, rows written with dqlc are read
 *    back with the `dqlite` shell and rows written with the shell are read
 *    with dqlc;
 *  - dqlc talks to a 3-node cluster of `dqlite-demo` processes (go-dqlite's
 *    app: its own bootstrap id, join and role management), reads and writes
 *    the demo's `model` table, and the demo's HTTP API sees dqlc's rows and
 *    the other way round.
 */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "dqlite-client.h"

#include "cluster.h"
#include "proc.h"

/* 50 ms network latency: elections in well under a second, yet no spurious
 * leader changes on a loaded 2-core machine (the default 20 ms flaps when
 * the tests run under valgrind next to other suites). */
static const tc_opts_t test_opts = {.latency_ms = 50};

#define GO_SHELL "/usr/bin/dqlite"
#define GO_DEMO "/usr/bin/dqlite-demo"
#define GO_BOOTSTRAP_ID 0x2dc171858c3155beULL

/* ---- helpers --------------------------------------------------------------- */

/* Append `s` to `out` as one single-quoted shell word. */
static void shell_quote(char *out, size_t cap, const char *s)
{
	size_t n = strlen(out);
	ck_assert(n + 3 < cap);
	out[n++] = '\'';
	for (; *s != '\0'; s++) {
		if (*s == '\'') {
			ck_assert(n + 5 < cap);
			memcpy(out + n, "'\\''", 4);
			n += 4;
		} else {
			ck_assert(n + 2 < cap);
			out[n++] = *s;
		}
	}
	out[n++] = '\'';
	out[n] = '\0';
}

/* Run go-dqlite's shell: `dqlite -s ADDRS DB SQL`; its stdout and stderr
 * into a new string (caller frees).  Bounded by timeout(1): with no leader
 * go-dqlite would retry forever.  *status receives the exit status. */
static char *go_shell(const char *addrs, const char *db, const char *sql, int *status)
{
	char cmd[4096] = "timeout 30 " GO_SHELL " -s ";
	shell_quote(cmd, sizeof cmd, addrs);
	strcat(cmd, " ");
	shell_quote(cmd, sizeof cmd, db);
	strcat(cmd, " ");
	shell_quote(cmd, sizeof cmd, sql);
	strcat(cmd, " 2>&1");
	FILE *p = popen(cmd, "r");
	ck_assert_ptr_nonnull(p);
	size_t cap = 4096, len = 0;
	char *out = malloc(cap);
	ck_assert_ptr_nonnull(out);
	for (;;) {
		if (len + 1024 > cap) {
			cap *= 2;
			out = realloc(out, cap);
			ck_assert_ptr_nonnull(out);
		}
		size_t got = fread(out + len, 1, cap - len - 1, p);
		if (got == 0)
			break;
		len += got;
	}
	out[len] = '\0';
	int st = pclose(p);
	*status = WIFEXITED(st) ? WEXITSTATUS(st) : 128;
	return out;
}

static char *go_shell_ok(const char *addrs, const char *db, const char *sql)
{
	int status;
	char *out = go_shell(addrs, db, sql, &status);
	ck_assert_msg(status == 0, "dqlite shell failed (%d) on %s: %s", status, sql, out);
	return out;
}

static dqlc_conn_t *connect_uri(const char *uri)
{
	dqlc_conn_t *conn = NULL;
	dqlc_error_t err = {0};
	int rc = dqlc_connect(uri, NULL, &conn, &err);
	ck_assert_msg(rc == 0, "connect %s: %s", uri, err.message);
	return conn;
}

static void exec_params(dqlc_conn_t *conn, const char *sql, const dqlc_value_t *p, size_t n)
{
	dqlc_error_t err = {0};
	ck_assert_msg(dqlc_conn_exec(conn, sql, p, n, NULL, &err) == 0, "%s: %s", sql,
		      err.message);
}

static dqlc_result_t *query_ok(dqlc_conn_t *conn, const char *sql)
{
	dqlc_result_t *r = NULL;
	dqlc_error_t err = {0};
	ck_assert_msg(dqlc_conn_query(conn, sql, NULL, 0, &r, &err) == 0, "%s: %s", sql,
		      err.message);
	return r;
}

/* ---- the go-dqlite shell on a dqlc-node cluster -------------------------------------- */

static dqlc_test_cluster_t *tc;

static void cluster_up(void)
{
	tc = tc_start(3, &test_opts);
	ck_assert_ptr_nonnull(tc);
}

static void cluster_down(void)
{
	tc_destroy(tc);
	tc = NULL;
}

#define UTF8 "gr\xc3\xbc\xc3\x9f \xe2\x9c\x93"

START_TEST(test_shell_reads_dqlc_rows)
{
	dqlc_conn_t *conn = connect_uri(tc_uri(tc, "interop"));
	exec_params(conn, "CREATE TABLE shared (id INTEGER PRIMARY KEY, name TEXT, score REAL, "
			  "data BLOB, big INTEGER)",
		    NULL, 0);
	dqlc_value_t r1[] = {DQLC_INT(1), DQLC_TEXT("alpha"), DQLC_FLOAT(1.5),
			     DQLC_BLOB("\x00\xff", 2), DQLC_INT(INT64_MAX)};
	dqlc_value_t r2[] = {DQLC_INT(2), DQLC_TEXT(UTF8), DQLC_FLOAT(-0.25), DQLC_BLOB("", 0),
			     DQLC_INT(INT64_MIN)};
	dqlc_value_t r3[] = {DQLC_INT(3), DQLC_NULL, DQLC_NULL, DQLC_NULL, DQLC_NULL};
	const char *ins = "INSERT INTO shared VALUES (?, ?, ?, ?, ?)";
	exec_params(conn, ins, r1, 5);
	exec_params(conn, ins, r2, 5);
	exec_params(conn, ins, r3, 5);
	/* A transaction too: the shell must see its rows once committed. */
	dqlc_error_t err = {0};
	ck_assert_int_eq(dqlc_conn_begin(conn, &err), 0);
	for (int i = 4; i <= 100; i++) {
		dqlc_value_t p[] = {DQLC_INT(i), DQLC_TEXT("bulk"), DQLC_FLOAT(i), DQLC_NULL,
				    DQLC_INT(i * 1000)};
		exec_params(conn, ins, p, 5);
	}
	ck_assert_int_eq(dqlc_conn_commit(conn, &err), 0);

	char *out = go_shell_ok(tc_addresses(tc), "interop",
				"SELECT id, name, score, data, big FROM shared WHERE id <= 3 "
				"ORDER BY id");
	ck_assert_str_eq(out, "1|alpha|1.5|[0 255]|9223372036854775807\n"
			      "2|" UTF8 "|-0.25|[]|-9223372036854775808\n"
			      "3|<nil>|<nil>|<nil>|<nil>\n");
	free(out);
	out = go_shell_ok(tc_addresses(tc), "interop",
			  "SELECT count(*), sum(big), min(id), max(id) FROM shared WHERE name = 'bulk'");
	ck_assert_str_eq(out, "97|5044000|4|100\n");
	free(out);

	/* The shell's view of the leader is the connection's node. */
	out = go_shell_ok(tc_addresses(tc), "interop", ".leader");
	char want[128];
	snprintf(want, sizeof want, "%s\n", dqlc_conn_address(conn));
	ck_assert_str_eq(out, want);
	free(out);
	dqlc_conn_close(conn);
}
END_TEST

START_TEST(test_dqlc_reads_shell_rows)
{
	/* Each shell statement runs in its own transaction, in order. */
	char *out = go_shell_ok(tc_addresses(tc), "interop2",
				"CREATE TABLE fromgo (id INTEGER PRIMARY KEY, name TEXT, score REAL, "
				"data BLOB, at DATETIME, ok BOOLEAN);"
				"INSERT INTO fromgo VALUES (1, 'written by go', 0.125, x'0001ff', "
				"'2024-05-06 07:08:09', 1);"
				"INSERT INTO fromgo VALUES (2, '" UTF8 "', -3e100, NULL, NULL, 0);"
				"INSERT INTO fromgo (id) VALUES (3)");
	free(out);

	/* dqlc opens the database the shell created and reads its rows. */
	dqlc_conn_t *conn = connect_uri(tc_uri(tc, "interop2"));
	dqlc_result_t *r = query_ok(conn, "SELECT * FROM fromgo ORDER BY id");
	ck_assert_uint_eq(dqlc_result_row_count(r), 3);
	ck_assert_uint_eq(dqlc_result_column_count(r), 6);
	ck_assert_str_eq(dqlc_result_text(r, 0, dqlc_result_column_index(r, "name"), NULL),
			 "written by go");
	ck_assert(dqlc_result_double(r, 0, 2) == 0.125);
	size_t n = 0;
	const unsigned char *b = dqlc_result_blob(r, 0, 3, &n);
	ck_assert_uint_eq(n, 3);
	ck_assert(b[0] == 0 && b[1] == 1 && b[2] == 0xff);
	ck_assert_int_eq(dqlc_result_type(r, 0, 4), DQLC_TYPE_ISO8601);
	ck_assert_str_eq(dqlc_result_text(r, 0, 4, NULL), "2024-05-06 07:08:09");
	ck_assert_int_eq(dqlc_result_type(r, 0, 5), DQLC_TYPE_BOOLEAN);
	ck_assert_int_eq(dqlc_result_int64(r, 0, 5), 1);
	ck_assert_str_eq(dqlc_result_text(r, 1, 1, NULL), UTF8);
	ck_assert(dqlc_result_double(r, 1, 2) == -3e100);
	ck_assert(dqlc_result_is_null(r, 1, 3));
	ck_assert(dqlc_result_is_null(r, 1, 4)); /* DATETIME NULL */
	ck_assert_int_eq(dqlc_result_type(r, 1, 5), DQLC_TYPE_BOOLEAN);
	ck_assert_int_eq(dqlc_result_int64(r, 1, 5), 0);
	for (size_t c = 1; c < 5; c++)
		ck_assert(dqlc_result_is_null(r, 2, c));
	dqlc_result_free(r);

	/* And back: dqlc updates, the shell sees it. */
	dqlc_value_t p[] = {DQLC_TEXT("updated by dqlc"), DQLC_INT(3)};
	exec_params(conn, "UPDATE fromgo SET name = ? WHERE id = ?", p, 2);
	out = go_shell_ok(tc_addresses(tc), "interop2", "SELECT name FROM fromgo WHERE id = 3");
	ck_assert_str_eq(out, "updated by dqlc\n");
	free(out);
	dqlc_conn_close(conn);
}
END_TEST

/* ---- a cluster of go-dqlite's dqlite-demo ------------------------------------------ */

struct demo {
	char dir[64];
	struct hp_janitor jan;
	pid_t pid[3];
	int api_port[3];
	char db_addr[3][32];
	char addrs[128];
	char uri[192];
};

static struct demo demo;

static pid_t demo_spawn(int i, const char *join)
{
	char api[32], log[128];
	snprintf(api, sizeof api, "127.0.0.1:%d", demo.api_port[i]);
	snprintf(log, sizeof log, "%s/node%d.log", demo.dir, i + 1);
	const char *argv[12];
	int a = 0;
	argv[a++] = GO_DEMO;
	argv[a++] = "--api";
	argv[a++] = api;
	argv[a++] = "--db";
	argv[a++] = demo.db_addr[i];
	argv[a++] = "--dir";
	argv[a++] = demo.dir;
	if (join != NULL) {
		argv[a++] = "--join";
		argv[a++] = join;
	}
	argv[a] = NULL;
	off_t start;
	/* hp_spawn sets PR_SET_PDEATHSIG(SIGKILL): the node dies with us. */
	pid_t pid = hp_spawn(GO_DEMO, (char *const *)argv, log, &start);
	ck_assert_msg(pid > 0, "cannot start %s: %s", GO_DEMO, strerror(errno));
	hp_janitor_note(&demo.jan, '+', pid);
	return pid;
}

static void demo_print_logs(void)
{
	for (int i = 0; i < 3; i++) {
		char log[128];
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

/* Node 0 answers LEADER with itself. */
static bool demo_bootstrapped(void)
{
	dqlc_conn_t *conn = NULL;
	dqlc_node_info_t info;
	bool ok = dqlc_connect_node(demo.db_addr[0], NULL, &conn, NULL) == 0 &&
		  dqlc_conn_leader(conn, &info, NULL) == 0 &&
		  strcmp(info.address, demo.db_addr[0]) == 0;
	dqlc_conn_close(conn);
	return ok;
}

/* The leader lists all three as voters and the demo's table exists. */
static bool demo_ready(void)
{
	dqlc_config_t *cfg = dqlc_config_new();
	dqlc_conn_t *conn = NULL;
	dqlc_node_info_t *nodes = NULL;
	dqlc_value_t v = DQLC_NULL;
	size_t n = 0, voters = 0;
	dqlc_config_set(cfg, "connect_timeout_ms", "1000", NULL);
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

/* Node i's HTTP API accepts connections.  dqlite-demo listens on it only
 * after its node is ready and it ran its CREATE TABLE through the cluster,
 * so a node can lag behind what demo_ready() sees by a round trip or two. */
static bool demo_api_up(int i)
{
	struct sockaddr_in sa = {.sin_family = AF_INET,
				 .sin_port = htons((uint16_t)demo.api_port[i])};
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(s, 0);
	bool up = connect(s, (struct sockaddr *)&sa, sizeof sa) == 0;
	close(s);
	return up;
}

static void demo_up(void)
{
	memset(&demo, 0, sizeof demo);
	snprintf(demo.dir, sizeof demo.dir, "/tmp/dqlc-demo-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(demo.dir));
	/* Removes the directory and kills the nodes if we die first. */
	ck_assert_int_eq(hp_janitor_start(&demo.jan, demo.dir), 0);
	for (int i = 0; i < 3; i++) {
		int db = hp_free_port();
		demo.api_port[i] = hp_free_port();
		ck_assert(db > 0 && demo.api_port[i] > 0 && db != demo.api_port[i]);
		snprintf(demo.db_addr[i], sizeof demo.db_addr[i], "127.0.0.1:%d", db);
	}
	snprintf(demo.addrs, sizeof demo.addrs, "%s,%s,%s", demo.db_addr[0], demo.db_addr[1],
		 demo.db_addr[2]);
	snprintf(demo.uri, sizeof demo.uri, "dqlite://%s/demo", demo.addrs);

	/* Node 1 gets go-dqlite's bootstrap id (no --join) and leads alone. */
	demo.pid[0] = demo_spawn(0, NULL);
	int64_t deadline = hp_now_ms() + 30000;
	while (!demo_bootstrapped()) {
		demo_check_alive();
		if (hp_now_ms() > deadline) {
			demo_print_logs();
			ck_abort_msg("dqlite-demo node 1 never became leader");
		}
		hp_sleep_ms(50);
	}
	/* The others join as spares; go-dqlite promotes them to voters. */
	demo.pid[1] = demo_spawn(1, demo.db_addr[0]);
	demo.pid[2] = demo_spawn(2, demo.db_addr[0]);
	deadline = hp_now_ms() + 60000;
	while (!demo_ready()) {
		demo_check_alive();
		if (hp_now_ms() > deadline) {
			demo_print_logs();
			ck_abort_msg("the dqlite-demo cluster never had 3 voters and a model table");
		}
		hp_sleep_ms(100);
	}
	for (int i = 0; i < 3; i++) {
		while (!demo_api_up(i)) {
			demo_check_alive();
			if (hp_now_ms() > deadline) {
				demo_print_logs();
				ck_abort_msg("dqlite-demo node %d never listened on its API port %d",
					     i + 1, demo.api_port[i]);
			}
			hp_sleep_ms(50);
		}
	}
}

static void demo_down(void)
{
	/* SIGKILL: a SIGTERMed demo node hands over leadership first, which
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
	hp_rm_rf(demo.dir);
	hp_janitor_disarm(&demo.jan);
}

/* A minimal HTTP/1.0 client for the demo's API: returns the status code,
 * the body in `body`. */
static int http(const char *method, int port, const char *path, const char *data, char *body,
		size_t cap)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(s, 0);
	struct timeval tv = {.tv_sec = 20};
	setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	ck_assert_msg(connect(s, (struct sockaddr *)&sa, sizeof sa) == 0, "connect :%d: %s", port,
		      strerror(errno));
	char req[1024];
	int n = snprintf(req, sizeof req,
			 "%s %s HTTP/1.0\r\nHost: 127.0.0.1\r\nContent-Length: %zu\r\n\r\n%s",
			 method, path, data ? strlen(data) : 0, data ? data : "");
	ck_assert_int_eq(send(s, req, (size_t)n, MSG_NOSIGNAL), n);
	char resp[4096];
	size_t len = 0;
	for (;;) {
		ssize_t got = recv(s, resp + len, sizeof resp - 1 - len, 0);
		ck_assert_msg(got >= 0, "recv: %s", strerror(errno));
		if (got == 0)
			break;
		len += (size_t)got;
		ck_assert(len < sizeof resp - 1);
	}
	close(s);
	resp[len] = '\0';
	int status = 0;
	ck_assert_int_eq(sscanf(resp, "HTTP/%*s %d", &status), 1);
	const char *b = strstr(resp, "\r\n\r\n");
	ck_assert_ptr_nonnull(b);
	snprintf(body, cap, "%s", b + 4);
	return status;
}

START_TEST(test_dqlite_demo_cluster)
{
	dqlc_error_t err = {0};
	dqlc_conn_t *conn = connect_uri(demo.uri);

	/* go-dqlite's cluster as the client sees it: 3 voters, node 1 with
	 * go-dqlite's bootstrap id, the others with generated ids. */
	dqlc_node_info_t *nodes = NULL;
	size_t n = 0;
	ck_assert_msg(dqlc_conn_cluster(conn, &nodes, &n, &err) == 0, "%s", err.message);
	ck_assert_uint_eq(n, 3);
	bool boot = false;
	for (size_t k = 0; k < n; k++) {
		ck_assert_int_eq(nodes[k].role, DQLC_ROLE_VOTER);
		if (strcmp(nodes[k].address, demo.db_addr[0]) == 0) {
			ck_assert_uint_eq(nodes[k].id, GO_BOOTSTRAP_ID);
			boot = true;
		}
	}
	ck_assert(boot);
	dqlc_nodes_free(nodes);
	dqlc_node_info_t leader;
	ck_assert_int_eq(dqlc_conn_leader(conn, &leader, &err), 0);
	ck_assert_str_eq(leader.address, dqlc_conn_address(conn));

	/* dqlc writes the demo's table; the demo's HTTP API on every node
	 * reads it (GET /key runs SELECT value FROM model WHERE key = ?). */
	dqlc_value_t kv[] = {DQLC_TEXT("from-dqlc"), DQLC_TEXT("written by dqlc " UTF8)};
	exec_params(conn, "INSERT OR REPLACE INTO model (key, value) VALUES (?, ?)", kv, 2);
	char body[1024];
	for (int i = 0; i < 3; i++) {
		ck_assert_int_eq(http("GET", demo.api_port[i], "/from-dqlc", NULL, body, sizeof body),
				 200);
		ck_assert_str_eq(body, "written by dqlc " UTF8 "\n"); /* the demo adds \n */
	}

	/* The demo writes (PUT /key runs INSERT OR REPLACE); dqlc reads. */
	ck_assert_int_eq(http("PUT", demo.api_port[2], "/from-go", "written by go", body,
			      sizeof body),
			 200);
	ck_assert_str_eq(body, "done\n");
	dqlc_value_t key = DQLC_TEXT("from-go"), v;
	ck_assert_int_eq(dqlc_conn_fetchval(conn, "SELECT value FROM model WHERE key = ?", &key, 1,
					    &v, &err),
			 0);
	ck_assert_int_eq(v.type, DQLC_TYPE_TEXT);
	ck_assert_str_eq(v.v.s.p, "written by go");
	dqlc_value_clear(&v);

	/* Bulk through a transaction, then the go shell counts them. */
	ck_assert_int_eq(dqlc_conn_begin(conn, &err), 0);
	for (int i = 0; i < 200; i++) {
		char k[32], val[32];
		snprintf(k, sizeof k, "bulk-%03d", i);
		snprintf(val, sizeof val, "v%d", i);
		dqlc_value_t p[] = {DQLC_TEXT(k), DQLC_TEXT(val)};
		exec_params(conn, "INSERT INTO model (key, value) VALUES (?, ?)", p, 2);
	}
	ck_assert_int_eq(dqlc_conn_commit(conn, &err), 0);
	char *out = go_shell_ok(demo.addrs, "demo",
				"SELECT count(*) FROM model WHERE key LIKE 'bulk-%'");
	ck_assert_str_eq(out, "200\n");
	free(out);
	ck_assert_int_eq(http("GET", demo.api_port[1], "/bulk-123", NULL, body, sizeof body), 200);
	ck_assert_str_eq(body, "v123\n");

	/* The demo's UNIQUE(key) constraint as a dqlc error. */
	dqlc_value_t dup[] = {DQLC_TEXT("from-go"), DQLC_TEXT("again")};
	ck_assert_int_eq(dqlc_conn_exec(conn, "INSERT INTO model (key, value) VALUES (?, ?)", dup,
					2, NULL, &err),
			 DQLC_ESQL);
	ck_assert_int_eq(err.sqlite_code, 2067);
	dqlc_conn_close(conn);

	/* A fresh connection through a single follower finds the leader. */
	int follower = strcmp(leader.address, demo.db_addr[1]) == 0 ? 2 : 1;
	char uri[96];
	snprintf(uri, sizeof uri, "dqlite://%s/demo", demo.db_addr[follower]);
	conn = connect_uri(uri);
	ck_assert_str_eq(dqlc_conn_address(conn), leader.address);
	ck_assert_int_eq(dqlc_conn_fetchval(conn, "SELECT count(*) FROM model", NULL, 0, &v, &err),
			 0);
	ck_assert_int_eq(v.v.i, 202);
	dqlc_conn_close(conn);
	demo_check_alive();
}
END_TEST

static Suite *interop_suite(void)
{
	Suite *s = suite_create("interop");
	TCase *t = tcase_create("go_shell");
	tcase_add_checked_fixture(t, cluster_up, cluster_down);
	tcase_add_test(t, test_shell_reads_dqlc_rows);
	tcase_add_test(t, test_dqlc_reads_shell_rows);
	tcase_set_timeout(t, 120);
	suite_add_tcase(s, t);

	t = tcase_create("dqlite_demo");
	tcase_add_checked_fixture(t, demo_up, demo_down);
	tcase_add_test(t, test_dqlite_demo_cluster);
	tcase_set_timeout(t, 180);
	suite_add_tcase(s, t);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(interop_suite());
	srunner_run_all(sr, CK_ENV);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
