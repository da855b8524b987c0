/*
 * TLS-only dqlite clusters (issue 7): dqlc-node's TLS front end
 * (--tls-cert/--tls-key/--tls-ca), the harness's TLS clusters, and the
 * library's TLS against them.
 *
 * The cluster itself is checked with outside tools first (go-dqlite's shell
 * with -c/-k, openssl s_client, a raw plaintext socket), so that a library
 * bug cannot hide a node bug; then the library: verification modes, wrong
 * CA, host name mismatch, mutual TLS, plaintext/TLS crossings with bounded
 * failure times, the pool with futures and transactions, and failover under
 * load.
 *
 * Certificates are made per cluster by tests/harness/tls-certs.sh.
 */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "dqlite-client.h"

#include "cluster.h"
#include "proc.h"

#define GO_DQLITE_SHELL "/usr/bin/dqlite"
#ifndef DQLC_NODE_BIN_DEFAULT
#define DQLC_NODE_BIN_DEFAULT "tools/dqlc-node"
#endif

/* ---- helpers -------------------------------------------------------------------- */

/* Run a shell command; its output (stdout and stderr) goes to out.
 * Returns the exit status, or -1 if it did not exit normally. */
static int run(const char *cmd, char *out, size_t len)
{
	FILE *p = popen(cmd, "r");
	ck_assert_msg(p != NULL, "popen %s: %s", cmd, strerror(errno));
	size_t n = 0;
	out[0] = '\0';
	while (n + 1 < len) {
		size_t got = fread(out + n, 1, len - 1 - n, p);
		if (got == 0)
			break;
		n += got;
	}
	out[n] = '\0';
	char sink[4096];
	while (fread(sink, 1, sizeof sink, p) > 0)
		; /* the rest, so the command is not killed by SIGPIPE */
	int st = pclose(p);
	return st != -1 && WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* go-dqlite's shell against `servers` with the cluster's client
 * certificate: the first line of its output in line, its status returned. */
static int go_shell(dqlc_test_cluster_t *tc, const char *servers, const char *what, char *out,
		    size_t len)
{
	ck_assert_msg(access(GO_DQLITE_SHELL, X_OK) == 0,
		      GO_DQLITE_SHELL " missing: install Debian's go-dqlite");
	char cmd[4096];
	snprintf(cmd, sizeof cmd, "timeout 20 " GO_DQLITE_SHELL " -s %s -c '%s' -k '%s' tlsdb '%s' 2>&1",
		 servers, tc_tls_file(tc, TC_TLS_CLIENT_BUNDLE), tc_tls_file(tc, TC_TLS_CLIENT_KEY),
		 what);
	return run(cmd, out, len);
}

/* "dqlite://a,b,c/db" without TLS keys (those go into a config). */
static const char *plain_uri(dqlc_test_cluster_t *tc, const char *db)
{
	static char buf[1024];
	snprintf(buf, sizeof buf, "dqlite://%s/%s", tc_addresses(tc), db);
	return buf;
}

/* A config with short bounds and the given keys ("k", "v", ..., NULL). */
static dqlc_config_t *config_with(const char *first, ...)
{
	dqlc_config_t *cfg = dqlc_config_new();
	ck_assert_ptr_nonnull(cfg);
	dqlc_error_t err = {0};
	va_list ap;
	va_start(ap, first);
	for (const char *k = first; k != NULL; k = va_arg(ap, const char *)) {
		const char *v = va_arg(ap, const char *);
		ck_assert_msg(dqlc_config_set(cfg, k, v, &err) == 0, "%s=%s: %s", k, v,
			      err.message);
	}
	va_end(ap);
	return cfg;
}

static int64_t query_int(dqlc_conn_t *conn, const char *sql)
{
	dqlc_value_t v;
	dqlc_error_t err = {0};
	int rc = dqlc_conn_fetchval(conn, sql, NULL, 0, &v, &err);
	ck_assert_msg(rc == 0, "%s: %s", sql, err.message);
	ck_assert_int_eq(v.type, DQLC_TYPE_INTEGER);
	int64_t i = v.v.i;
	dqlc_value_clear(&v);
	return i;
}

/*
 * Speak plaintext dqlite to a node's TLS port: the protocol version word,
 * then a LEADER request.  Returns what came back before the node closed the
 * connection (into got/n); fails the test if it stays open for 5 s.
 */
static void plaintext_exchange(const char *address, unsigned char *got, size_t cap, size_t *n)
{
	char host[64];
	snprintf(host, sizeof host, "%s", address);
	char *colon = strrchr(host, ':');
	ck_assert_ptr_nonnull(colon);
	*colon = '\0';
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(colon + 1))};
	ck_assert_int_eq(inet_pton(AF_INET, host, &sa.sin_addr), 1);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(fd, 0);
	ck_assert_msg(connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0, "connect %s: %s", address,
		      strerror(errno));
	struct timeval tv = {.tv_sec = 5};
	ck_assert_int_eq(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv), 0);
	static const unsigned char hello[24] = {
	    1, 0, 0, 0, 0, 0, 0, 0, /* protocol version 1 */
	    1, 0, 0, 0, 0, 0, 0, 0, /* header: 1 word, type 0 (LEADER) */
	    0, 0, 0, 0, 0, 0, 0, 0, /* body */
	};
	ssize_t w = send(fd, hello, sizeof hello, MSG_NOSIGNAL);
	ck_assert_msg(w == (ssize_t)sizeof hello, "send: %s", strerror(errno));
	*n = 0;
	for (;;) {
		ssize_t r = recv(fd, got + *n, cap - *n, 0);
		if (r > 0 && *n + (size_t)r < cap) {
			*n += (size_t)r;
			continue;
		}
		ck_assert_msg(!(r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)),
			      "%s kept a plaintext connection open for 5 s", address);
		ck_assert_msg(r <= 0, "%s sent more than %zu bytes to a plaintext client", address,
			      cap);
		break; /* end of file, or reset */
	}
	close(fd);
}

/* ---- fixtures -------------------------------------------------------------------------- */

static dqlc_test_cluster_t *tc;

static void tls_cluster(void)
{
	tc_opts_t o = {.tls = TC_TLS_ON};
	tc = tc_start(3, &o);
	ck_assert_ptr_nonnull(tc);
}

static void mismatch_cluster(void)
{
	tc_opts_t o = {.tls = TC_TLS_MISMATCH};
	tc = tc_start(3, &o);
	ck_assert_ptr_nonnull(tc);
}

static void destroy_cluster(void)
{
	tc_destroy(tc);
	tc = NULL;
}

/* ---- the cluster, seen by outside tools ------------------------------------------------ */

START_TEST(test_go_shell_sees_three_voters_and_leader)
{
	ck_assert_int_eq(tc_tls_mode(tc), TC_TLS_ON);
	int l = tc_leader(tc); /* the harness polled over TLS to get here */
	ck_assert_int_ge(l, 0);
	char out[4096];
	int st = go_shell(tc, tc_addresses(tc), ".cluster", out, sizeof out);
	ck_assert_msg(st == 0, "go shell .cluster: status %d: %s", st, out);
	for (int i = 0; i < 3; i++) {
		char want[128];
		snprintf(want, sizeof want, "%llu|%s|voter\n", (unsigned long long)tc_node_id(tc, i),
			 tc_node_address(tc, i));
		ck_assert_msg(strstr(out, want) != NULL, "'%s' missing from .cluster:\n%s", want,
			      out);
	}
	/* Exactly three lines. */
	int lines = 0;
	for (const char *p = out; *p != '\0'; p++)
		lines += *p == '\n';
	ck_assert_int_eq(lines, 3);

	/* Every node, asked alone, names the same leader: discovery works on
	 * the advertised TLS addresses. */
	for (int i = 0; i < 3; i++) {
		st = go_shell(tc, tc_node_address(tc, i), ".leader", out, sizeof out);
		ck_assert_msg(st == 0, "go shell .leader on node %d: status %d: %s", i, st, out);
		out[strcspn(out, "\n")] = '\0';
		ck_assert_str_eq(out, tc_node_address(tc, l));
	}
	/* And SQL runs (a write needs a raft quorum over TLS). */
	st = go_shell(tc, tc_addresses(tc),
		      "CREATE TABLE t (x INT);INSERT INTO t VALUES (7);SELECT x * 6 FROM t", out,
		      sizeof out);
	ck_assert_msg(st == 0 && strcmp(out, "42\n") == 0, "go shell SQL: status %d: '%s'", st,
		      out);
}
END_TEST

START_TEST(test_plaintext_connection_is_closed)
{
	int l = tc_leader(tc);
	ck_assert_int_ge(l, 0);
	for (int i = 0; i < 3; i++) {
		unsigned char got[4096];
		size_t n = 0;
		plaintext_exchange(tc_node_address(tc, i), got, sizeof got, &n);
		/* Nothing at all, or a TLS alert record (type 21): never a
		 * dqlite response (which would start with its length). */
		ck_assert_msg(n == 0 || got[0] == 21, "node %d answered plaintext: %zu bytes, first 0x%02x",
			      i, n, got[0]);
	}
	/* The nodes are unharmed and still agree over TLS. */
	ck_assert_int_eq(tc_leader(tc), l);
	ck_assert_int_eq(tc_unexpected_exits(tc), 0);
	for (int i = 0; i < 3; i++)
		ck_assert(tc_node_running(tc, i));
}
END_TEST

/* openssl s_client against node 0, with extra arguments; "not-dqlite" is
 * sent once the handshake is done: libdqlite closes a connection that
 * starts with an unknown protocol version, so an accepted session ends by
 * itself. */
static int s_client(const char *extra, char *out, size_t len)
{
	char cmd[4096];
	snprintf(cmd, sizeof cmd,
		 "echo not-dqlite | timeout 20 openssl s_client -connect %s -CAfile '%s' "
		 "-verify_return_error -ign_eof %s 2>&1",
		 tc_node_address(tc, 0), tc_tls_file(tc, TC_TLS_CA), extra);
	return run(cmd, out, len);
}

START_TEST(test_s_client_needs_a_client_certificate)
{
	static char out[65536];
	char args[4096];

	/* The control: with the client certificate the session is verified,
	 * relayed to libdqlite (which hangs up on "not-dqlite"), no alert. */
	snprintf(args, sizeof args, "-cert '%s' -key '%s'", tc_tls_file(tc, TC_TLS_CLIENT_CERT),
		 tc_tls_file(tc, TC_TLS_CLIENT_KEY));
	int st = s_client(args, out, sizeof out);
	ck_assert_msg(st == 0, "s_client with a certificate: status %d:\n%s", st, out);
	ck_assert_msg(strstr(out, "Verify return code: 0 (ok)") != NULL, "%s", out);
	ck_assert_msg(strstr(out, "alert") == NULL, "%s", out);

	/* TLS 1.3 without a certificate: the node refuses it ("certificate
	 * required" alert) once the client finished its side. */
	st = s_client("-tls1_3", out, sizeof out);
	ck_assert_msg(strstr(out, "alert certificate required") != NULL, "status %d:\n%s", st, out);

	/* TLS 1.2: the handshake itself fails. */
	st = s_client("-tls1_2", out, sizeof out);
	ck_assert_msg(st != 0, "a TLS 1.2 handshake without a certificate succeeded:\n%s", out);
	ck_assert_msg(strstr(out, "alert handshake failure") != NULL, "status %d:\n%s", st, out);

	/* A certificate from another CA. */
	snprintf(args, sizeof args, "-cert '%s' -key '%s'",
		 tc_tls_file(tc, TC_TLS_WRONG_CLIENT_CERT), tc_tls_file(tc, TC_TLS_WRONG_CLIENT_KEY));
	st = s_client(args, out, sizeof out);
	ck_assert_msg(strstr(out, "alert unknown ca") != NULL, "status %d:\n%s", st, out);

	/* TLS 1.1 is refused. */
	snprintf(args, sizeof args, "-tls1_1 -cert '%s' -key '%s'",
		 tc_tls_file(tc, TC_TLS_CLIENT_CERT), tc_tls_file(tc, TC_TLS_CLIENT_KEY));
	st = s_client(args, out, sizeof out);
	ck_assert_msg(st != 0 && strstr(out, "alert protocol version") != NULL,
		      "TLS 1.1: status %d:\n%s", st, out);

	ck_assert_int_eq(tc_unexpected_exits(tc), 0);
	ck_assert_int_ge(tc_leader(tc), 0);
}
END_TEST

START_TEST(test_kill_leader_elects_a_new_tls_leader)
{
	char out[4096];
	int st = go_shell(tc, tc_addresses(tc), "CREATE TABLE k (x INT);INSERT INTO k VALUES (1)",
			  out, sizeof out);
	ck_assert_msg(st == 0, "status %d: %s", st, out);
	int l = tc_leader(tc);
	ck_assert_int_ge(l, 0);
	ck_assert_int_eq(tc_kill(tc, l), 0);
	int m = tc_wait_leader_change(tc, l, 15000);
	ck_assert_int_ge(m, 0);
	ck_assert_int_ne(m, l);

	/* The survivors agree (seen by go-dqlite) and commit with a quorum of
	 * two: raft runs over TLS between them. */
	char survivors[128];
	snprintf(survivors, sizeof survivors, "%s,%s", tc_node_address(tc, (l + 1) % 3),
		 tc_node_address(tc, (l + 2) % 3));
	st = go_shell(tc, survivors, ".leader", out, sizeof out);
	out[strcspn(out, "\n")] = '\0';
	ck_assert_msg(st == 0, "status %d: %s", st, out);
	ck_assert_str_eq(out, tc_node_address(tc, m));
	st = go_shell(tc, survivors, "INSERT INTO k VALUES (2);SELECT sum(x) FROM k", out,
		      sizeof out);
	ck_assert_msg(st == 0 && strcmp(out, "3\n") == 0, "status %d: '%s'", st, out);

	/* The old leader comes back and catches up through TLS. */
	ck_assert_int_eq(tc_restart(tc, l), 0);
	int now = tc_leader(tc);
	ck_assert_int_ge(now, 0);
	st = go_shell(tc, tc_node_address(tc, l), ".cluster", out, sizeof out);
	ck_assert_msg(st == 0, "status %d: %s", st, out);
	char want[128];
	snprintf(want, sizeof want, "%llu|%s|voter\n", (unsigned long long)tc_node_id(tc, l),
		 tc_node_address(tc, l));
	ck_assert_msg(strstr(out, want) != NULL, "%s", out);
	ck_assert_int_eq(tc_unexpected_exits(tc), 0);
}
END_TEST

/* ---- the library against the TLS cluster ---------------------------------------------- */

START_TEST(test_verified_connection_and_query)
{
	/* tc_uri carries tls=verify-full with the CA and client certificate. */
	const char *uri = tc_uri(tc, "lib");
	ck_assert_msg(strstr(uri, "tls=verify-full") != NULL, "%s", uri);
	dqlc_conn_t *conn = NULL;
	dqlc_error_t err = {0};
	int rc = dqlc_connect(uri, NULL, &conn, &err);
	ck_assert_msg(rc == 0, "connect %s: %s (%s)", uri, err.message, dqlc_errname(err.code));
	ck_assert_int_eq(dqlc_conn_exec(conn, "CREATE TABLE v (x INT)", NULL, 0, NULL, &err), 0);
	dqlc_value_t p = dqlc_value_int(41);
	ck_assert_int_eq(dqlc_conn_exec(conn, "INSERT INTO v VALUES (? + 1)", &p, 1, NULL, &err),
			 0);
	ck_assert_int_eq(query_int(conn, "SELECT x FROM v"), 42);
	/* It reached the leader over TLS: the leader's address. */
	int l = tc_leader(tc);
	ck_assert_int_ge(l, 0);
	ck_assert_str_eq(dqlc_conn_address(conn), tc_node_address(tc, l));
	dqlc_conn_close(conn);

	/* The same with the keys in a config and verify-ca. */
	dqlc_config_t *cfg = config_with("tls", "verify-ca", "tls_ca", tc_tls_file(tc, TC_TLS_CA),
					 "tls_cert", tc_tls_file(tc, TC_TLS_CLIENT_CERT), "tls_key",
					 tc_tls_file(tc, TC_TLS_CLIENT_KEY), NULL);
	rc = dqlc_connect(plain_uri(tc, "lib"), cfg, &conn, &err);
	ck_assert_msg(rc == 0, "verify-ca: %s", err.message);
	ck_assert_int_eq(query_int(conn, "SELECT count(*) FROM v"), 1);
	dqlc_conn_close(conn);
	dqlc_config_free(cfg);
}
END_TEST

/* The node sends its chain (certificate, then the CA it was built from):
 * against another CA that CA is an untrusted self-signed one. */
static void assert_says_unknown_ca(const char *msg)
{
	ck_assert_msg(strstr(msg, "verification failed") != NULL &&
			  (strstr(msg, "self-signed certificate in certificate chain") != NULL ||
			   strstr(msg, "unable to get local issuer certificate") != NULL),
		      "%s", msg);
}

START_TEST(test_wrong_ca_is_etls_and_says_why)
{
	dqlc_config_t *cfg = config_with(
	    "tls", "verify-full", "tls_ca", tc_tls_file(tc, TC_TLS_WRONG_CA), "tls_cert",
	    tc_tls_file(tc, TC_TLS_CLIENT_CERT), "tls_key", tc_tls_file(tc, TC_TLS_CLIENT_KEY),
	    "connect_timeout_ms", "2000", NULL);
	/* One node, no discovery in between. */
	dqlc_conn_t *conn = NULL;
	dqlc_error_t err = {0};
	int rc = dqlc_connect_node(tc_node_address(tc, 0), cfg, &conn, &err);
	if (rc == 0) /* the handshake may come with the first request */
		rc = dqlc_conn_leader(conn, &(dqlc_node_info_t){0}, &err);
	dqlc_conn_close(conn);
	ck_assert_msg(rc == DQLC_ETLS, "rc %s: %s", dqlc_errname(rc), err.message);
	assert_says_unknown_ca(err.message);

	/* Through discovery: a failed search within connect_timeout_ms.  (The
	 * library sums it up as DQLC_ECONNECT "no node reachable: <each node's
	 * reason in the last round>"; a round cut short by the deadline says
	 * "deadline exceeded" there, so the reason is not asserted here.) */
	conn = NULL;
	int64_t t0 = hp_now_ms();
	rc = dqlc_connect(plain_uri(tc, "lib"), cfg, &conn, &err);
	int64_t took = hp_now_ms() - t0;
	ck_assert_ptr_null(conn);
	fprintf(stderr, "wrong CA through discovery: %s: %s\n", dqlc_errname(rc), err.message);
	ck_assert_msg(rc == DQLC_ETLS || rc == DQLC_ECONNECT, "rc %s: %s", dqlc_errname(rc),
		      err.message);
	ck_assert_msg(took < 2000 + 1000, "took %lld ms", (long long)took);
	dqlc_config_free(cfg);
	ck_assert_int_eq(tc_unexpected_exits(tc), 0);
}
END_TEST

/* A connection attempt that must fail within connect_timeout_ms (+1 s). */
static int must_fail(dqlc_config_t *cfg, dqlc_error_t *err)
{
	dqlc_conn_t *conn = NULL;
	int64_t t0 = hp_now_ms();
	int rc = dqlc_connect(plain_uri(tc, "lib"), cfg, &conn, err);
	if (rc == 0) { /* TLS 1.3: the server's verdict may come with the first reply */
		dqlc_value_t v;
		rc = dqlc_conn_fetchval(conn, "SELECT 1", NULL, 0, &v, err);
		if (rc == 0)
			dqlc_value_clear(&v);
	}
	int64_t took = hp_now_ms() - t0;
	dqlc_conn_close(conn);
	ck_assert_msg(rc != 0, "the connection worked");
	ck_assert_msg(took < 1500 + 1000, "failing took %lld ms (%s)", (long long)took,
		      err->message);
	return rc;
}

START_TEST(test_mutual_tls_needs_a_client_certificate)
{
	dqlc_error_t err = {0};
	/* No client certificate at all. */
	dqlc_config_t *cfg = config_with("tls", "verify-full", "tls_ca", tc_tls_file(tc, TC_TLS_CA),
					 "connect_timeout_ms", "1500", "request_timeout_ms", "1500",
					 NULL);
	int rc = must_fail(cfg, &err);
	fprintf(stderr, "no client certificate: %s: %s\n", dqlc_errname(rc), err.message);
	ck_assert_msg(strstr(err.message, "certificate required") != NULL, "%s", err.message);
	dqlc_config_free(cfg);

	/* A client certificate signed by another CA. */
	cfg = config_with("tls", "verify-full", "tls_ca", tc_tls_file(tc, TC_TLS_CA), "tls_cert",
			  tc_tls_file(tc, TC_TLS_WRONG_CLIENT_CERT), "tls_key",
			  tc_tls_file(tc, TC_TLS_WRONG_CLIENT_KEY), "connect_timeout_ms", "1500",
			  "request_timeout_ms", "1500", NULL);
	rc = must_fail(cfg, &err);
	fprintf(stderr, "wrong client certificate: %s: %s\n", dqlc_errname(rc), err.message);
	ck_assert_msg(strstr(err.message, "unknown ca") != NULL, "%s", err.message);
	dqlc_config_free(cfg);
	ck_assert_int_eq(tc_unexpected_exits(tc), 0);
	ck_assert_int_ge(tc_leader(tc), 0);
}
END_TEST

START_TEST(test_plaintext_client_fails_within_deadline)
{
	dqlc_error_t err = {0};
	dqlc_config_t *cfg = config_with("tls", "disable", "connect_timeout_ms", "1500",
					 "request_timeout_ms", "1500", NULL);
	int rc = must_fail(cfg, &err);
	fprintf(stderr, "plaintext client vs TLS: %s: %s\n", dqlc_errname(rc), err.message);
	dqlc_config_free(cfg);
	ck_assert_int_eq(tc_unexpected_exits(tc), 0);
	ck_assert_int_ge(tc_leader(tc), 0);
}
END_TEST

/* Big messages both ways: the relay's buffers fill up, TLS records split
 * and partial writes happen. */
START_TEST(test_large_values_through_the_relay)
{
	dqlc_conn_t *conn = NULL;
	dqlc_error_t err = {0};
	int rc = dqlc_connect(tc_uri(tc, "big"), NULL, &conn, &err);
	ck_assert_msg(rc == 0, "%s", err.message);
	enum { BLOB = 768 * 1024 };
	unsigned char *blob = malloc(BLOB);
	ck_assert_ptr_nonnull(blob);
	for (size_t i = 0; i < BLOB; i++)
		blob[i] = (unsigned char)(i * 7 + i / 251);
	ck_assert_int_eq(dqlc_conn_exec(conn, "CREATE TABLE b (id INT, v BLOB)", NULL, 0, NULL, &err),
			 0);
	dqlc_value_t p[2] = {dqlc_value_int(1), dqlc_value_blob(blob, BLOB)};
	rc = dqlc_conn_exec(conn, "INSERT INTO b VALUES (?, ?)", p, 2, NULL, &err);
	ck_assert_msg(rc == 0, "insert: %s", err.message);
	dqlc_result_t *r = NULL;
	rc = dqlc_conn_query(conn, "SELECT v FROM b WHERE id = 1", NULL, 0, &r, &err);
	ck_assert_msg(rc == 0, "select: %s", err.message);
	size_t n = 0;
	const void *got = dqlc_result_blob(r, 0, 0, &n);
	ck_assert_uint_eq(n, BLOB);
	ck_assert(memcmp(got, blob, BLOB) == 0);
	dqlc_result_free(r);
	free(blob);

	/* ~3 MB of rows in many batches. */
	rc = dqlc_conn_exec(conn,
			    "CREATE TABLE r AS WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 "
			    "FROM c WHERE i < 20000) SELECT i, printf('%0150d', i) AS s FROM c",
			    NULL, 0, NULL, &err);
	ck_assert_msg(rc == 0, "%s", err.message);
	rc = dqlc_conn_query(conn, "SELECT i, s FROM r ORDER BY i", NULL, 0, &r, &err);
	ck_assert_msg(rc == 0, "%s", err.message);
	ck_assert_uint_eq(dqlc_result_row_count(r), 20000);
	for (size_t i = 0; i < 20000; i += 997) {
		ck_assert_int_eq(dqlc_result_int64(r, i, 0), (int64_t)i + 1);
		char want[160];
		snprintf(want, sizeof want, "%0150zu", i + 1);
		ck_assert_str_eq(dqlc_result_text(r, i, 1, NULL), want);
	}
	dqlc_result_free(r);
	dqlc_conn_close(conn);
	ck_assert_int_eq(tc_unexpected_exits(tc), 0);
}
END_TEST

/* A client that connects and never starts a handshake is dropped: an idle
 * socket cannot hold a relay for ever. */
START_TEST(test_silent_client_is_dropped)
{
	const char *address = tc_node_address(tc, 1);
	struct sockaddr_in sa = {.sin_family = AF_INET};
	char host[64];
	snprintf(host, sizeof host, "%s", address);
	char *colon = strrchr(host, ':');
	*colon = '\0';
	sa.sin_port = htons((uint16_t)atoi(colon + 1));
	ck_assert_int_eq(inet_pton(AF_INET, host, &sa.sin_addr), 1);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
	struct timeval tv = {.tv_sec = 10};
	ck_assert_int_eq(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv), 0);
	int64_t t0 = hp_now_ms();
	char c;
	ssize_t r = recv(fd, &c, 1, 0);
	int64_t took = hp_now_ms() - t0;
	close(fd);
	ck_assert_msg(r == 0 || (r < 0 && errno == ECONNRESET), "recv %zd (%s) after %lld ms", r,
		      strerror(errno), (long long)took);
	ck_assert_msg(took >= 4000 && took < 8000, "dropped after %lld ms (expected ~5000)",
		      (long long)took);
	ck_assert_int_eq(tc_unexpected_exits(tc), 0);
}
END_TEST

/* ---- pool, futures, transactions ---------------------------------------------------------- */

static dqlc_pool_t *tls_pool(const char *db, const char *extra)
{
	char uri[4096];
	snprintf(uri, sizeof uri, "%s%s", tc_uri(tc, db), extra);
	dqlc_pool_t *pool = NULL;
	dqlc_error_t err = {0};
	int rc = dqlc_pool_create(uri, NULL, &pool, &err);
	ck_assert_msg(rc == 0, "pool %s: %s", uri, err.message);
	return pool;
}

static int wait_free(dqlc_future_t *f, dqlc_error_t *err)
{
	ck_assert_ptr_nonnull(f);
	int rc = dqlc_future_error(f, err);
	dqlc_future_free(f);
	return rc;
}

static void pool_exec_ok(dqlc_pool_t *pool, const char *sql)
{
	dqlc_error_t err = {0};
	int rc = wait_free(dqlc_pool_exec(pool, sql, NULL, 0), &err);
	ck_assert_msg(rc == 0, "%s: %s", sql, err.message);
}

static int64_t pool_int(dqlc_pool_t *pool, const char *sql)
{
	dqlc_future_t *f = dqlc_pool_query(pool, sql, NULL, 0);
	ck_assert_ptr_nonnull(f);
	dqlc_error_t err = {0};
	ck_assert_msg(dqlc_future_error(f, &err) == 0, "%s: %s", sql, err.message);
	dqlc_result_t *r = dqlc_future_take_result(f);
	dqlc_future_free(f);
	ck_assert_ptr_nonnull(r);
	ck_assert_uint_eq(dqlc_result_row_count(r), 1);
	int64_t v = dqlc_result_int64(r, 0, 0);
	dqlc_result_free(r);
	return v;
}

static int add_ten(dqlc_conn_t *conn, void *arg)
{
	int base = *(int *)arg;
	dqlc_error_t err = {0};
	for (int i = 0; i < 10; i++) {
		dqlc_value_t p = dqlc_value_int(base + i);
		if (dqlc_conn_exec(conn, "INSERT INTO w VALUES (?)", &p, 1, NULL, &err) != 0)
			return err.code;
	}
	return 0;
}

static int add_then_refuse(dqlc_conn_t *conn, void *arg)
{
	int rc = add_ten(conn, arg);
	return rc != 0 ? rc : 99; /* roll back */
}

START_TEST(test_pool_futures_and_transactions)
{
	dqlc_pool_t *pool = tls_pool("pool", "&workers=4&pool_max=4");
	pool_exec_ok(pool, "CREATE TABLE w (x INT)");

	/* 200 futures in flight at once, over several TLS connections. */
	enum { N = 200 };
	dqlc_future_t *fs[N];
	for (int i = 0; i < N; i++) {
		dqlc_value_t p = dqlc_value_int(i);
		fs[i] = (i % 4 == 3) ? dqlc_pool_query(pool, "SELECT count(*) FROM w", NULL, 0)
				     : dqlc_pool_exec(pool, "INSERT INTO w VALUES (?)", &p, 1);
		ck_assert_ptr_nonnull(fs[i]);
	}
	int writes = 0;
	for (int i = 0; i < N; i++) {
		dqlc_error_t err = {0};
		int rc = wait_free(fs[i], &err);
		ck_assert_msg(rc == 0, "future %d: %s", i, err.message);
		writes += i % 4 != 3;
	}
	ck_assert_int_eq(pool_int(pool, "SELECT count(*) FROM w"), writes);

	/* A committed and a rolled-back transaction. */
	dqlc_error_t err = {0};
	int base = 1000;
	ck_assert_msg(dqlc_pool_transaction(pool, add_ten, &base, &err) == 0, "%s", err.message);
	ck_assert_int_eq(pool_int(pool, "SELECT count(*) FROM w WHERE x >= 1000"), 10);
	base = 2000;
	ck_assert_int_eq(dqlc_pool_transaction(pool, add_then_refuse, &base, &err), 99);
	ck_assert_int_eq(pool_int(pool, "SELECT count(*) FROM w WHERE x >= 2000"), 0);

	/* A leased connection, explicitly. */
	dqlc_conn_t *lease = NULL;
	ck_assert_msg(dqlc_pool_acquire(pool, -1, &lease, &err) == 0, "%s", err.message);
	ck_assert_int_eq(dqlc_conn_begin(lease, &err), 0);
	ck_assert_int_eq(dqlc_conn_exec(lease, "DELETE FROM w WHERE x < 100", NULL, 0, NULL, &err),
			 0);
	ck_assert_int_eq(dqlc_conn_commit(lease, &err), 0);
	dqlc_conn_close(lease);
	ck_assert_int_eq(pool_int(pool, "SELECT count(*) FROM w WHERE x < 100"), 0);

	dqlc_pool_stats_t st = {.struct_size = sizeof st};
	ck_assert_int_eq(dqlc_pool_stats(pool, &st, &err), 0);
	ck_assert_uint_eq(st.failed, 0);
	ck_assert_uint_ge(st.connects, 1);
	dqlc_pool_close(pool);
	ck_assert_int_eq(tc_unexpected_exits(tc), 0);
}
END_TEST

/* Writers for the failover test: each inserts its own numbers until told
 * to stop and counts what was acknowledged before and after the kill. */
struct load {
	dqlc_pool_t *pool;
	atomic_bool stop;
	atomic_bool killed;
	atomic_int ok_before, ok_after, failed;
	atomic_int acked; /* every acknowledged insert */
	atomic_int id;
};

static void *writer(void *arg)
{
	struct load *ld = arg;
	int id = atomic_fetch_add(&ld->id, 1);
	for (int64_t i = 0; !atomic_load(&ld->stop); i++) {
		dqlc_value_t p = dqlc_value_int(id * 1000000 + i);
		dqlc_error_t err = {0};
		int rc = wait_free(dqlc_pool_exec(ld->pool, "INSERT INTO f VALUES (?)", &p, 1), &err);
		if (rc == 0) {
			atomic_fetch_add(&ld->acked, 1);
			atomic_fetch_add(atomic_load(&ld->killed) ? &ld->ok_after : &ld->ok_before, 1);
		} else {
			atomic_fetch_add(&ld->failed, 1);
		}
	}
	return NULL;
}

START_TEST(test_leader_killed_under_tls_load)
{
	struct load ld = {.pool = tls_pool("fail", "&request_timeout_ms=15000")};
	pool_exec_ok(ld.pool, "CREATE TABLE f (x INT)");
	int l = tc_leader(tc);
	ck_assert_int_ge(l, 0);
	enum { W = 3 };
	pthread_t th[W];
	for (int i = 0; i < W; i++)
		ck_assert_int_eq(pthread_create(&th[i], NULL, writer, &ld), 0);
	int64_t end = hp_now_ms() + 15000;
	while (atomic_load(&ld.ok_before) < 100 && hp_now_ms() < end)
		hp_sleep_ms(5);
	ck_assert_int_ge(atomic_load(&ld.ok_before), 100);

	atomic_store(&ld.killed, true);
	ck_assert_int_eq(tc_kill(tc, l), 0);
	end = hp_now_ms() + 20000;
	while (atomic_load(&ld.ok_after) < 100 && hp_now_ms() < end)
		hp_sleep_ms(5);
	atomic_store(&ld.stop, true);
	for (int i = 0; i < W; i++)
		pthread_join(th[i], NULL);
	fprintf(stderr, "failover under TLS: %d before, %d after, %d failed\n",
		atomic_load(&ld.ok_before), atomic_load(&ld.ok_after), atomic_load(&ld.failed));
	ck_assert_int_ge(atomic_load(&ld.ok_after), 100);

	/* The pool moved to another node, and lost no acknowledged write. */
	char leader[64];
	dqlc_error_t err = {0};
	ck_assert_int_eq(dqlc_pool_leader(ld.pool, leader, sizeof leader, &err), 0);
	ck_assert_str_ne(leader, tc_node_address(tc, l));
	ck_assert_int_ge(pool_int(ld.pool, "SELECT count(*) FROM f"), atomic_load(&ld.acked));
	dqlc_pool_close(ld.pool);
	ck_assert_int_eq(tc_unexpected_exits(tc), 0);
}
END_TEST

/* ---- host name mismatch ------------------------------------------------------------------ */

START_TEST(test_host_mismatch_full_fails_ca_passes)
{
	ck_assert_int_eq(tc_tls_mode(tc), TC_TLS_MISMATCH);
	/* The nodes present a certificate naming only other.example: they
	 * formed their cluster verifying each other against that name. */
	const char *ca = tc_tls_file(tc, TC_TLS_CA), *cert = tc_tls_file(tc, TC_TLS_CLIENT_CERT),
		   *key = tc_tls_file(tc, TC_TLS_CLIENT_KEY);
	dqlc_error_t err = {0};
	dqlc_conn_t *conn = NULL;

	dqlc_config_t *cfg = config_with("tls", "verify-full", "tls_ca", ca, "tls_cert", cert,
					 "tls_key", key, "connect_timeout_ms", "2000", NULL);
	int rc = dqlc_connect_node(tc_node_address(tc, 0), cfg, &conn, &err);
	if (rc == 0)
		rc = dqlc_conn_leader(conn, &(dqlc_node_info_t){0}, &err);
	dqlc_conn_close(conn);
	conn = NULL;
	ck_assert_msg(rc == DQLC_ETLS, "verify-full: rc %s: %s", dqlc_errname(rc), err.message);
	ck_assert_msg(strstr(err.message, "IP address mismatch") != NULL, "%s", err.message);
	rc = dqlc_connect(plain_uri(tc, "mm"), cfg, &conn, &err); /* with discovery */
	ck_assert_ptr_null(conn);
	ck_assert_msg(rc == DQLC_ETLS || rc == DQLC_ECONNECT, "verify-full: rc %s: %s",
		      dqlc_errname(rc), err.message);
	dqlc_config_free(cfg);

	cfg = config_with("tls", "verify-ca", "tls_ca", ca, "tls_cert", cert, "tls_key", key, NULL);
	rc = dqlc_connect(plain_uri(tc, "mm"), cfg, &conn, &err);
	ck_assert_msg(rc == 0, "verify-ca: %s", err.message);
	ck_assert_int_eq(query_int(conn, "SELECT 6 * 7"), 42);
	dqlc_conn_close(conn);
	dqlc_config_free(cfg);

	/* verify-full against the name the certificate does carry. */
	cfg = config_with("tls", "verify-full", "tls_ca", ca, "tls_cert", cert, "tls_key", key,
			  "tls_server_name", TC_TLS_MISMATCH_NAME, NULL);
	rc = dqlc_connect(plain_uri(tc, "mm"), cfg, &conn, &err);
	ck_assert_msg(rc == 0, "verify-full with tls_server_name: %s", err.message);
	ck_assert_int_eq(query_int(conn, "SELECT 6 * 7"), 42);
	dqlc_conn_close(conn);
	dqlc_config_free(cfg);
	ck_assert_int_eq(tc_unexpected_exits(tc), 0);
}
END_TEST

/* ---- a TLS client against a plaintext node ----------------------------------------------- */

START_TEST(test_tls_client_against_plaintext_node)
{
	dqlc_test_cluster_t *plain = tc_start(1, NULL);
	ck_assert_ptr_nonnull(plain);
	ck_assert_int_eq(tc_tls_mode(plain), TC_TLS_OFF);
	ck_assert_int_eq(tc_tls_certs(plain), 0);
	ck_assert_str_eq(tc_tls_query(plain), "");
	dqlc_config_t *cfg = config_with(
	    "tls", "verify-full", "tls_ca", tc_tls_file(plain, TC_TLS_CA), "tls_cert",
	    tc_tls_file(plain, TC_TLS_CLIENT_CERT), "tls_key", tc_tls_file(plain, TC_TLS_CLIENT_KEY),
	    "connect_timeout_ms", "1500", "request_timeout_ms", "1500", NULL);
	char uri[256];
	snprintf(uri, sizeof uri, "dqlite://%s/x", tc_addresses(plain));
	dqlc_conn_t *conn = NULL;
	dqlc_error_t err = {0};
	int64_t t0 = hp_now_ms();
	int rc = dqlc_connect(uri, cfg, &conn, &err);
	int64_t took = hp_now_ms() - t0;
	dqlc_conn_close(conn);
	fprintf(stderr, "TLS client vs plaintext: %s: %s (%lld ms)\n", dqlc_errname(rc),
		err.message, (long long)took);
	ck_assert_int_ne(rc, 0);
	ck_assert_msg(took < 1500 + 1000, "took %lld ms", (long long)took);
	/* The node is fine, and plaintext still works. */
	ck_assert_int_eq(tc_unexpected_exits(plain), 0);
	rc = dqlc_connect(uri, NULL, &conn, &err);
	ck_assert_msg(rc == 0, "plaintext: %s", err.message);
	dqlc_conn_close(conn);
	dqlc_config_free(cfg);
	tc_destroy(plain);
}
END_TEST

/* ---- dqlc-node's TLS options ------------------------------------------------------------------ */

static int run_node(const char *args, char *out, size_t len)
{
	const char *bin = getenv("DQLC_NODE_BIN");
	char cmd[8192];
	snprintf(cmd, sizeof cmd, "timeout 20 '%s' %s 2>&1",
		 bin != NULL ? bin : DQLC_NODE_BIN_DEFAULT, args);
	return run(cmd, out, len);
}

START_TEST(test_node_tls_usage)
{
	dqlc_test_cluster_t *own = tc_start(1, &(tc_opts_t){.tls = TC_TLS_ON});
	ck_assert_ptr_nonnull(own);
	char out[8192], args[8192];
	const char *crt = tc_tls_file(own, TC_TLS_SERVER_CERT), *key = tc_tls_file(own, TC_TLS_SERVER_KEY),
		   *ca = tc_tls_file(own, TC_TLS_CA);

	snprintf(args, sizeof args, "--id 5 --address 127.0.0.1:1 --dir '%s/x' --tls-cert '%s'",
		 tc_dir(own), crt);
	ck_assert_int_eq(run_node(args, out, sizeof out), 2);
	ck_assert_msg(strstr(out, "go together") != NULL, "%s", out);

	/* A key that is not the certificate's, and a missing file. */
	snprintf(args, sizeof args,
		 "--id 5 --address 127.0.0.1:1 --dir '%s/x' --tls-cert '%s' --tls-key '%s' "
		 "--tls-ca '%s'",
		 tc_dir(own), crt, tc_tls_file(own, TC_TLS_CLIENT_KEY), ca);
	ck_assert_int_eq(run_node(args, out, sizeof out), 2);
	ck_assert_msg(strstr(out, tc_tls_file(own, TC_TLS_CLIENT_KEY)) != NULL &&
			  (strstr(out, "mismatch") != NULL || strstr(out, "does not match") != NULL),
		      "%s", out);
	snprintf(args, sizeof args,
		 "--id 5 --address 127.0.0.1:1 --dir '%s/x' --tls-cert '%s' --tls-key '%s' "
		 "--tls-ca '%s/nonexistent.crt'",
		 tc_dir(own), crt, key, tc_dir(own));
	ck_assert_int_eq(run_node(args, out, sizeof out), 2);
	ck_assert_msg(strstr(out, "nonexistent.crt") != NULL, "%s", out);

	/* The TLS node holds its TCP port: another cannot bind it (exit 3,
	 * so callers that picked the port may retry). */
	snprintf(args, sizeof args,
		 "--id 7 --address %s --dir '%s/other' --tls-cert '%s' --tls-key '%s' --tls-ca '%s'",
		 tc_node_address(own, 0), tc_dir(own), crt, key, ca);
	ck_assert_int_eq(run_node(args, out, sizeof out), 3);
	ck_assert_msg(strstr(out, "cannot bind") != NULL, "%s", out);
	ck_assert_int_eq(tc_unexpected_exits(own), 0);
	tc_destroy(own);
}
END_TEST

static TCase *tcase(Suite *s, const char *name, double timeout)
{
	TCase *t = tcase_create(name);
	tcase_set_timeout(t, timeout); /* per test, fixture included */
	suite_add_tcase(s, t);
	return t;
}

static Suite *tls_suite(void)
{
	Suite *s = suite_create("tls-cluster");
	TCase *t = tcase(s, "cluster", 90);
	tcase_add_checked_fixture(t, tls_cluster, destroy_cluster);
	tcase_add_test(t, test_go_shell_sees_three_voters_and_leader);
	tcase_add_test(t, test_plaintext_connection_is_closed);
	tcase_add_test(t, test_s_client_needs_a_client_certificate);
	tcase_add_test(t, test_kill_leader_elects_a_new_tls_leader);
	tcase_add_test(t, test_silent_client_is_dropped);

	t = tcase(s, "library", 90);
	tcase_add_checked_fixture(t, tls_cluster, destroy_cluster);
	tcase_add_test(t, test_verified_connection_and_query);
	tcase_add_test(t, test_wrong_ca_is_etls_and_says_why);
	tcase_add_test(t, test_mutual_tls_needs_a_client_certificate);
	tcase_add_test(t, test_plaintext_client_fails_within_deadline);
	tcase_add_test(t, test_large_values_through_the_relay);
	tcase_add_test(t, test_pool_futures_and_transactions);
	tcase_add_test(t, test_leader_killed_under_tls_load);

	t = tcase(s, "mismatch", 60);
	tcase_add_checked_fixture(t, mismatch_cluster, destroy_cluster);
	tcase_add_test(t, test_host_mismatch_full_fails_ca_passes);

	t = tcase(s, "crossings", 60);
	tcase_add_test(t, test_tls_client_against_plaintext_node);

	t = tcase(s, "dqlc-node", 60);
	tcase_add_test(t, test_node_tls_usage);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(tls_suite());
	srunner_run_all(sr, CK_ENV);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
