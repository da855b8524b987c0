/*
 * Cluster administration through a pool against real dqlite nodes (issue
 * 5): grow 3 -> 5 and shrink back with add/assign/remove, a pool that
 * keeps working after its only seed is removed, a map that outlives every
 * seed address, describe/weight, dumps that SQLite opens, and the errors
 * of the admin API (unknown ids, bad roles, a promotion that cannot end).
 */
#include <limits.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

#include "server.h"
#include "test_cluster_util.h"

#define DESC_LEN 512

/* Wait (bounded) until the pool's map reads `want`; fail showing both. */
static void wait_desc(dqlc_pool_t *p, const char *want, int timeout_ms)
{
	char got[DESC_LEN];
	bool ok;
	CT_WAIT(ok, (ct_cluster_desc(p, got, sizeof got, NULL, 0), strcmp(got, want) == 0),
		timeout_ms);
	ck_assert_msg(ok, "cluster map after %d ms: '%s', expected '%s'", timeout_ms, got, want);
}

/* Wait (bounded) until the pool names `want` as leader. */
static void wait_pool_leader(dqlc_pool_t *p, const char *want, int timeout_ms)
{
	char got[256] = "";
	bool ok;
	CT_WAIT(ok, (ct_pool_leader(p, got, sizeof got), strcmp(got, want) == 0), timeout_ms);
	ck_assert_msg(ok, "pool leader after %d ms: '%s', expected '%s'", timeout_ms, got, want);
}

static void wait_node_knows_leader(const char *node, const char *leader, int timeout_ms)
{
	char got[256] = "";
	bool ok;
	CT_WAIT(ok, (ct_node_leader(node, got, sizeof got), strcmp(got, leader) == 0), timeout_ms);
	ck_assert_msg(ok, "node %s names leader '%s' after %d ms, expected '%s'", node, got,
		      timeout_ms, leader);
}

/* ---- grow 3 -> 5 through the admin API, then shrink back ---------------- */

START_TEST(test_grow_3_to_5_and_shrink)
{
	ct_start(3);
	ct_events_t ev;
	ct_events_init(&ev);
	dqlc_pool_t *p = ct_pool(ct_uri(tc_addresses(ct_tc), "grow", NULL), &ev);
	ct_exec_ok(p, "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)", NULL, 0);
	ct_exec_ok(p, "INSERT INTO t (v) VALUES ('before')", NULL, 0);
	const int orig[] = {0, 1, 2};
	char want[DESC_LEN], buf[256];
	ct_desc_of(want, sizeof want, orig, 3, NULL);
	wait_desc(p, want, 10000);

	/* Two nodes outside the cluster: they know no leader yet. */
	int a = ct_spawn_unjoined(101, 7), b = ct_spawn_unjoined(102, 8);
	ct_node_leader(ct_x_address(a), buf, sizeof buf);
	ck_assert_str_eq(buf, "");

	dqlc_error_t e = {0};
	int rc = dqlc_pool_add(p, 101, ct_x_address(a), &e);
	ck_assert_msg(rc == 0, "add 101: %s %s", dqlc_errname(rc), e.message);
	rc = dqlc_pool_add(p, 102, ct_x_address(b), &e);
	ck_assert_msg(rc == 0, "add 102: %s %s", dqlc_errname(rc), e.message);
	const char *spares[] = {"101:spare", "102:spare", NULL};
	ct_desc_of(want, sizeof want, orig, 3, spares);
	wait_desc(p, want, 10000);

	/* Promote 102 first: in the configuration the spare 101 then sits
	 * between voters, and the snapshot must still list voters first. */
	rc = dqlc_pool_assign(p, 102, DQLC_ROLE_VOTER, &e);
	ck_assert_msg(rc == 0, "assign 102: %s %s", dqlc_errname(rc), e.message);
	const char *mixed[] = {"101:spare", "102:voter", NULL};
	ct_desc_of(want, sizeof want, orig, 3, mixed);
	wait_desc(p, want, 10000);
	{
		dqlc_node_info_t *nodes = NULL;
		size_t n = 0;
		rc = dqlc_pool_cluster(p, &nodes, &n, NULL, 0, &e);
		ck_assert_int_eq(rc, 0);
		ck_assert_uint_eq(n, 5);
		for (size_t i = 1; i < n; i++)
			ck_assert_msg(nodes[i - 1].role <= nodes[i].role,
				      "dqlc_pool_cluster: %s %llu listed before %s %llu "
				      "(documented: voters first)",
				      dqlc_role_name(nodes[i - 1].role),
				      (unsigned long long)nodes[i - 1].id,
				      dqlc_role_name(nodes[i].role), (unsigned long long)nodes[i].id);
		dqlc_nodes_free(nodes);
	}

	rc = dqlc_pool_assign(p, 101, DQLC_ROLE_VOTER, &e);
	ck_assert_msg(rc == 0, "assign 101: %s %s", dqlc_errname(rc), e.message);
	const char *voters[] = {"101:voter", "102:voter", NULL};
	ct_desc_of(want, sizeof want, orig, 3, voters);
	wait_desc(p, want, 10000);

	/* The new nodes follow the leader. */
	char leader[256];
	ct_pool_leader(p, leader, sizeof leader);
	wait_node_knows_leader(ct_x_address(a), leader, 10000);
	wait_node_knows_leader(ct_x_address(b), leader, 10000);

	/* DESCRIBE reaches them by address: the failure domains they were
	 * started with. */
	uint64_t fd = 0, w = 0;
	rc = dqlc_pool_describe(p, ct_x_address(a), &fd, &w, &e);
	ck_assert_msg(rc == 0, "describe 101: %s %s", dqlc_errname(rc), e.message);
	ck_assert_uint_eq(fd, 7);
	rc = dqlc_pool_describe(p, ct_x_address(b), &fd, &w, &e);
	ck_assert_msg(rc == 0, "describe 102: %s %s", dqlc_errname(rc), e.message);
	ck_assert_uint_eq(fd, 8);

	/* The pool follows leadership onto a node it was never given. */
	ct_transfer(p, 101);
	wait_pool_leader(p, ct_x_address(a), 10000);
	ck_assert_int_eq(ct_query_int(p, "SELECT count(*) FROM t", NULL, 0), 1);
	ct_exec_ok(p, "INSERT INTO t (v) VALUES ('on 101')", NULL, 0);
	ck_assert_msg(ct_events_saw_change(&ev, ct_x_address(a), NULL),
		      "no LEADER_CHANGED event to %s", ct_x_address(a));

	/* Back to an original node, then shrink. */
	ct_transfer(p, ct_id(0));
	wait_pool_leader(p, ct_addr(0), 10000);
	rc = dqlc_pool_remove(p, 101, &e);
	ck_assert_msg(rc == 0, "remove 101: %s %s", dqlc_errname(rc), e.message);
	rc = dqlc_pool_remove(p, 102, &e);
	ck_assert_msg(rc == 0, "remove 102: %s %s", dqlc_errname(rc), e.message);
	ct_desc_of(want, sizeof want, orig, 3, NULL);
	wait_desc(p, want, 10000);
	ct_x_stop(a);
	ct_x_stop(b);

	/* The original three agree on the leader and serve. */
	ck_assert_int_ge(tc_leader(ct_tc), 0);
	ct_exec_ok(p, "INSERT INTO t (v) VALUES ('after')", NULL, 0);
	ck_assert_int_eq(ct_query_int(p, "SELECT count(*) FROM t", NULL, 0), 3);
	ck_assert_uint_ge(ct_stats(p).leader_changes, 2);
	ct_assert_no_crash();
}
END_TEST

/* ---- a pool given one address outlives that node's removal ---------------- */

START_TEST(test_single_seed_removed)
{
	ct_start(3);
	const int s = 0;
	dqlc_pool_t *p = ct_pool(ct_uri(ct_addr(s), "seed", NULL), NULL);
	ct_exec_ok(p, "CREATE TABLE t (id INTEGER PRIMARY KEY)", NULL, 0);
	for (int i = 0; i < 10; i++)
		ct_exec_ok(p, "INSERT INTO t DEFAULT VALUES", NULL, 0);
	const int all[] = {0, 1, 2};
	char want[DESC_LEN], leader[256];
	ct_desc_of(want, sizeof want, all, 3, NULL);
	wait_desc(p, want, 10000); /* the map learned the other members */

	/* The seed must not lead when it is removed. */
	dqlc_error_t e = {0};
	int rc;
	int l = tc_leader(ct_tc);
	ck_assert_int_ge(l, 0);
	if (l == s) {
		ct_transfer(p, ct_id(1));
		l = tc_wait_leader_change(ct_tc, s, 15000);
		ck_assert_int_eq(l, 1);
	}
	rc = dqlc_pool_remove(p, ct_id(s), &e);
	ck_assert_msg(rc == 0, "remove seed: %s %s", dqlc_errname(rc), e.message);
	ck_assert_int_eq(tc_kill(ct_tc, s), 0);
	const int rest[] = {1, 2};
	ct_desc_of(want, sizeof want, rest, 2, NULL);
	wait_desc(p, want, 10000);

	for (int i = 0; i < 10; i++) {
		ct_exec_ok(p, "INSERT INTO t DEFAULT VALUES", NULL, 0);
		ck_assert_int_eq(ct_query_int(p, "SELECT count(*) FROM t", NULL, 0), 11 + i);
	}
	ck_assert_int_eq(ct_conns_to(ct_addr(s)), 0);

	/* A leader change now has to be followed through the map alone: the
	 * only address the pool was given is gone. */
	int other = l == 1 ? 2 : 1;
	ct_transfer(p, ct_id(other));
	ck_assert_int_eq(tc_wait_leader_change(ct_tc, l, 15000), other);
	wait_pool_leader(p, ct_addr(other), 10000);
	ct_exec_ok(p, "INSERT INTO t DEFAULT VALUES", NULL, 0);
	ck_assert_int_eq(ct_query_int(p, "SELECT count(*) FROM t", NULL, 0), 21);
	char got[DESC_LEN];
	ct_cluster_desc(p, got, sizeof got, leader, sizeof leader);
	ck_assert_str_eq(got, want); /* still the two */
	ck_assert_str_eq(leader, ct_addr(other));
	ct_assert_no_crash();
}
END_TEST

/* ---- the map outlives every seed address ---------------------------------- */

START_TEST(test_all_seeds_lost)
{
	ct_start(5);
	int l = tc_leader(ct_tc);
	ck_assert_int_ge(l, 0);
	int f = (l + 1) % 5;
	/* Seeds: the leader and one follower, of five voters. */
	char seeds[128];
	snprintf(seeds, sizeof seeds, "%s,%s", ct_addr(l), ct_addr(f));
	dqlc_pool_t *p = ct_pool(ct_uri(seeds, "seeds", "request_timeout_ms=3000"), NULL);
	ct_exec_ok(p, "CREATE TABLE t (id INTEGER PRIMARY KEY)", NULL, 0);
	ct_exec_ok(p, "INSERT INTO t DEFAULT VALUES", NULL, 0);
	const int all[] = {0, 1, 2, 3, 4};
	char want[DESC_LEN];
	ct_desc_of(want, sizeof want, all, 5, NULL);
	wait_desc(p, want, 10000);

	/* Both seeds stop (not die): three voters keep a quorum. */
	ck_assert_int_eq(tc_stop(ct_tc, l), 0);
	ck_assert_int_eq(tc_stop(ct_tc, f), 0);
	int nl = tc_wait_leader_change(ct_tc, l, 20000);
	ck_assert_int_ge(nl, 0);
	ck_assert_int_ne(nl, f);

	dqlc_error_t e = {0};
	int64_t n = 0;
	bool ok;
	int failures = 0;
	CT_WAIT(ok, ct_query_int_rc(p, "SELECT count(*) FROM t", NULL, 0, &n, &e) == 0 || (failures++, false),
		30000);
	ck_assert_msg(ok, "no query succeeded 30 s after the seeds stopped: %s", e.message);
	ck_assert_int_eq(n, 1);
	for (int i = 0; i < 10; i++) {
		ct_exec_ok(p, "INSERT INTO t DEFAULT VALUES", NULL, 0);
		ck_assert_int_eq(ct_query_int(p, "SELECT count(*) FROM t", NULL, 0), 2 + i);
	}
	wait_pool_leader(p, ct_addr(nl), 10000);

	/* And another change among the non-seeds is followed too. */
	int target = -1;
	for (int i = 0; i < 5 && target < 0; i++)
		if (i != l && i != f && i != nl)
			target = i;
	ct_transfer(p, ct_id(target));
	ck_assert_int_eq(tc_wait_leader_change(ct_tc, nl, 15000), target);
	wait_pool_leader(p, ct_addr(target), 10000);
	ct_exec_ok(p, "INSERT INTO t DEFAULT VALUES", NULL, 0);
	ck_assert_int_eq(ct_query_int(p, "SELECT count(*) FROM t", NULL, 0), 12);
	fprintf(stderr, "all-seeds-lost: %d failed queries while the leader moved\n", failures);
	ct_assert_no_crash();
}
END_TEST

/* ---- describe and weight ------------------------------------------------------ */

START_TEST(test_describe_and_weight)
{
	ct_start(3);
	dqlc_pool_t *p = ct_pool(ct_uri(tc_addresses(ct_tc), "desc", NULL), NULL);
	dqlc_error_t e = {0};
	uint64_t fd = 99, w = 99, w0[3];
	int rc;
	/* The harness starts nodes without --failure-domain: 0. */
	for (int i = 0; i < 3; i++) {
		rc = dqlc_pool_describe(p, ct_addr(i), &fd, &w0[i], &e);
		ck_assert_msg(rc == 0, "describe %d: %s %s", i, dqlc_errname(rc), e.message);
		ck_assert_uint_eq(fd, 0);
	}
	/* Weight is per node: only the one set changes. */
	rc = dqlc_pool_set_weight(p, ct_addr(1), 17, &e);
	ck_assert_msg(rc == 0, "set weight: %s %s", dqlc_errname(rc), e.message);
	rc = dqlc_pool_describe(p, ct_addr(1), &fd, &w, &e);
	ck_assert_int_eq(rc, 0);
	ck_assert_uint_eq(w, 17);
	ck_assert_uint_eq(fd, 0);
	rc = dqlc_pool_describe(p, ct_addr(2), &fd, &w, &e);
	ck_assert_int_eq(rc, 0);
	ck_assert_uint_eq(w, w0[2]);
	rc = dqlc_pool_set_weight(p, ct_addr(1), 3, &e);
	ck_assert_int_eq(rc, 0);
	rc = dqlc_pool_describe(p, ct_addr(1), NULL, &w, &e);
	ck_assert_int_eq(rc, 0);
	ck_assert_uint_eq(w, 3);

	/* NULL address: the leader. */
	char leader[256];
	ct_pool_leader(p, leader, sizeof leader);
	rc = dqlc_pool_set_weight(p, NULL, 5, &e);
	ck_assert_msg(rc == 0, "set weight on the leader: %s %s", dqlc_errname(rc), e.message);
	rc = dqlc_pool_describe(p, leader, &fd, &w, &e);
	ck_assert_int_eq(rc, 0);
	ck_assert_uint_eq(w, 5);
	rc = dqlc_pool_describe(p, NULL, &fd, &w, &e);
	ck_assert_int_eq(rc, 0);
	ck_assert_uint_eq(w, 5);

	/* A failure domain given on dqlc-node's command line. */
	int x = ct_spawn_unjoined(200, 42);
	rc = dqlc_pool_describe(p, ct_x_address(x), &fd, &w, &e);
	ck_assert_msg(rc == 0, "describe extra: %s %s", dqlc_errname(rc), e.message);
	ck_assert_uint_eq(fd, 42);

	/* A node that does not exist: a connect error, not a hang. */
	char nowhere[64];
	snprintf(nowhere, sizeof nowhere, "127.0.0.1:%d", hp_free_port());
	rc = dqlc_pool_describe(p, nowhere, &fd, &w, &e);
	ck_assert_int_eq(rc, DQLC_ECONNECT);
	ct_assert_no_crash();
}
END_TEST

/* ---- dumps open in SQLite -------------------------------------------------------- */

#define DUMP_ROWS 300

/* Open dir/db with libsqlite3 (main file + WAL next to it) and check every
 * row written by fill_dump_db. */
static void check_dump_dir(const char *dir, const char *db, int rows)
{
	char path[PATH_MAX];
	sqlite3 *s = NULL;
	sqlite3_stmt *st = NULL;
	snprintf(path, sizeof path, "%s/%s", dir, db);
	int rc = sqlite3_open_v2(path, &s, SQLITE_OPEN_READWRITE, NULL);
	ck_assert_msg(rc == SQLITE_OK, "sqlite3_open %s: %s", path, sqlite3_errmsg(s));

	rc = sqlite3_prepare_v2(s, "PRAGMA integrity_check", -1, &st, NULL);
	ck_assert_msg(rc == SQLITE_OK, "%s: %s", path, sqlite3_errmsg(s));
	ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
	ck_assert_str_eq((const char *)sqlite3_column_text(st, 0), "ok");
	sqlite3_finalize(st);

	rc = sqlite3_prepare_v2(s, "SELECT count(*), sum(n), sum(length(b)) FROM d", -1, &st, NULL);
	ck_assert_msg(rc == SQLITE_OK, "%s: %s", path, sqlite3_errmsg(s));
	ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
	ck_assert_int_eq(sqlite3_column_int64(st, 0), rows);
	ck_assert_int_eq(sqlite3_column_int64(st, 1), (int64_t)rows * (rows + 1) * (2 * rows + 1) / 6);
	ck_assert_int_eq(sqlite3_column_int64(st, 2), (int64_t)rows * 100);
	sqlite3_finalize(st);

	/* Every row, value by value. */
	rc = sqlite3_prepare_v2(s, "SELECT id, name, n, b FROM d ORDER BY id", -1, &st, NULL);
	ck_assert_int_eq(rc, SQLITE_OK);
	for (int i = 1; i <= rows; i++) {
		char name[32];
		unsigned char blob[100];
		snprintf(name, sizeof name, "name-%d", i);
		for (int k = 0; k < 100; k++)
			blob[k] = (unsigned char)(i * 31 + k);
		ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
		ck_assert_int_eq(sqlite3_column_int64(st, 0), i);
		ck_assert_str_eq((const char *)sqlite3_column_text(st, 1), name);
		ck_assert_int_eq(sqlite3_column_int64(st, 2), (int64_t)i * i);
		ck_assert_int_eq(sqlite3_column_bytes(st, 3), 100);
		ck_assert_int_eq(memcmp(sqlite3_column_blob(st, 3), blob, 100), 0);
	}
	ck_assert_int_eq(sqlite3_step(st), SQLITE_DONE);
	sqlite3_finalize(st);
	ck_assert_int_eq(sqlite3_close(s), SQLITE_OK);
}

static void check_dump(const dqlc_dump_t *d, const char *db, const char *dir, int rows)
{
	char wal[128];
	dqlc_error_t e = {0};
	snprintf(wal, sizeof wal, "%s-wal", db);
	ck_assert_ptr_nonnull(d);
	ck_assert_uint_eq(d->n_files, 2);
	ck_assert_str_eq(d->files[0].name, db);
	ck_assert_str_eq(d->files[1].name, wal);
	ck_assert_uint_gt(d->files[0].size + d->files[1].size, (size_t)rows * 100);
	int rc = dqlc_dump_write(d, dir, &e);
	ck_assert_msg(rc == 0, "dqlc_dump_write %s: %s", dir, e.message);
	check_dump_dir(dir, db, rows);
}

/* Count of rows in a dump taken from one node (-1 if it cannot be read). */
static int dump_rows(dqlc_pool_t *p, const char *address, const char *db, const char *dir)
{
	dqlc_dump_t *d = NULL;
	dqlc_error_t e = {0};
	char path[PATH_MAX];
	sqlite3 *s = NULL;
	sqlite3_stmt *st = NULL;
	int n = -1;
	if (dqlc_pool_dump(p, address, db, &d, &e) != 0 || dqlc_dump_write(d, dir, &e) != 0) {
		dqlc_dump_free(d);
		return -1;
	}
	dqlc_dump_free(d);
	snprintf(path, sizeof path, "%s/%s", dir, db);
	if (sqlite3_open_v2(path, &s, SQLITE_OPEN_READWRITE, NULL) == SQLITE_OK &&
	    sqlite3_prepare_v2(s, "SELECT count(*) FROM d", -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(s);
	return n;
}

START_TEST(test_dump_opens_in_sqlite)
{
	ct_start(3);
	const char *db = "dumpdb";
	dqlc_pool_t *p = ct_pool(ct_uri(tc_addresses(ct_tc), db, NULL), NULL);
	ct_exec_ok(p, "CREATE TABLE d (id INTEGER PRIMARY KEY, name TEXT, n INTEGER, b BLOB)",
		   NULL, 0);
	for (int i = 1; i <= DUMP_ROWS; i++) {
		char name[32];
		unsigned char blob[100];
		snprintf(name, sizeof name, "name-%d", i);
		for (int k = 0; k < 100; k++)
			blob[k] = (unsigned char)(i * 31 + k);
		dqlc_value_t par[] = {DQLC_INT(i), DQLC_TEXT(name), DQLC_INT((int64_t)i * i),
				      DQLC_BLOB(blob, sizeof blob)};
		ct_exec_ok(p, "INSERT INTO d (id, name, n, b) VALUES (?, ?, ?, ?)", par, 4);
	}
	char dir[PATH_MAX];
	dqlc_error_t e = {0};

	/* The leader's copy, through the pool. */
	dqlc_dump_t *d = NULL;
	int rc = dqlc_pool_dump(p, NULL, db, &d, &e);
	ck_assert_msg(rc == 0, "dqlc_pool_dump: %s %s", dqlc_errname(rc), e.message);
	snprintf(dir, sizeof dir, "%s/dump-pool", tc_dir(ct_tc));
	check_dump(d, db, dir, DUMP_ROWS);
	dqlc_dump_free(d);

	/* The same through one connection (and the database name from the
	 * URI when NULL). */
	dqlc_conn_t *c = NULL;
	rc = dqlc_connect(ct_uri(tc_addresses(ct_tc), db, NULL), NULL, &c, &e);
	ck_assert_msg(rc == 0, "dqlc_connect: %s", e.message);
	d = NULL;
	rc = dqlc_conn_dump(c, NULL, &d, &e);
	ck_assert_msg(rc == 0, "dqlc_conn_dump: %s %s", dqlc_errname(rc), e.message);
	snprintf(dir, sizeof dir, "%s/dump-conn", tc_dir(ct_tc));
	check_dump(d, db, dir, DUMP_ROWS);
	dqlc_dump_free(d);
	dqlc_conn_close(c);

	/* A follower's copy: it has every committed row once it applied them. */
	char leader[256];
	ct_pool_leader(p, leader, sizeof leader);
	int f = ct_index_of(leader) == 0 ? 1 : 0;
	snprintf(dir, sizeof dir, "%s/dump-follower", tc_dir(ct_tc));
	bool ok;
	CT_WAIT(ok, dump_rows(p, ct_addr(f), db, dir) == DUMP_ROWS, 10000);
	ck_assert_msg(ok, "the follower's dump never had %d rows", DUMP_ROWS);
	check_dump_dir(dir, db, DUMP_ROWS);

	/* An unknown database: two empty files, not an error. */
	d = NULL;
	rc = dqlc_pool_dump(p, NULL, "no-such-db", &d, &e);
	ck_assert_msg(rc == 0, "dump of an unknown database: %s %s", dqlc_errname(rc), e.message);
	ck_assert_uint_eq(d->n_files, 2);
	ck_assert_uint_eq(d->files[0].size, 0);
	ck_assert_uint_eq(d->files[1].size, 0);
	dqlc_dump_free(d);
	ct_assert_no_crash();
}
END_TEST

/* ---- errors of the admin API ------------------------------------------------------- */

START_TEST(test_admin_errors)
{
	ct_start(3);
	dqlc_pool_t *p = ct_pool(ct_uri(tc_addresses(ct_tc), "errs", NULL), NULL);
	const int all[] = {0, 1, 2};
	char want[DESC_LEN], got[DESC_LEN];
	ct_desc_of(want, sizeof want, all, 3, NULL);
	wait_desc(p, want, 10000);
	dqlc_error_t e;
	int rc;

	/* Unknown ids: the server's answer, with its message. */
	memset(&e, 0, sizeof e);
	rc = dqlc_pool_assign(p, 4242, DQLC_ROLE_VOTER, &e);
	ck_assert_msg(rc == DQLC_ESQL, "assign unknown id: %s %s", dqlc_errname(rc), e.message);
	ck_assert_int_eq(e.sqlite_code, 1);
	/* 1.18 names it; 1.11 does not. */
	ck_assert_msg(strstr(e.message, tc_server_is_1_11() ? "unknown error" : "Resource not found") !=
			      NULL,
		      "message: %s", e.message);
	memset(&e, 0, sizeof e);
	rc = dqlc_pool_remove(p, 4242, &e);
	ck_assert_msg(rc == DQLC_ESQL, "remove unknown id: %s %s", dqlc_errname(rc), e.message);
	ck_assert_int_eq(e.sqlite_code, 1);
	ck_assert_msg(strstr(e.message, "server ID is not valid") != NULL, "message: %s",
		      e.message);
	/* An id or an address already in use, a role the node already has. */
	memset(&e, 0, sizeof e);
	rc = dqlc_pool_add(p, ct_id(1), "127.0.0.1:1", &e);
	ck_assert_int_eq(rc, DQLC_ESQL);
	ck_assert_msg(strstr(e.message, "server ID already in use") != NULL, "message: %s",
		      e.message);
	memset(&e, 0, sizeof e);
	rc = dqlc_pool_add(p, 4243, ct_addr(1), &e);
	ck_assert_int_eq(rc, DQLC_ESQL);
	ck_assert_msg(strstr(e.message, "server address already in use") != NULL, "message: %s",
		      e.message);
	memset(&e, 0, sizeof e);
	rc = dqlc_pool_assign(p, ct_id(1), DQLC_ROLE_VOTER, &e);
	ck_assert_int_eq(rc, DQLC_ESQL);
	ck_assert_msg(strstr(e.message, "server role is not valid") != NULL, "message: %s",
		      e.message);

	/* Invalid roles never reach the server (1.11.1 would turn them into
	 * standby). */
	const int bad_roles[] = {-1, 3, 7, 1000};
	for (size_t i = 0; i < sizeof bad_roles / sizeof bad_roles[0]; i++) {
		memset(&e, 0, sizeof e);
		rc = dqlc_pool_assign(p, ct_id(1), bad_roles[i], &e);
		ck_assert_msg(rc == DQLC_EINVAL, "role %d: %s %s", bad_roles[i], dqlc_errname(rc),
			      e.message);
	}
	memset(&e, 0, sizeof e);
	rc = dqlc_pool_add(p, 0, "127.0.0.1:2", &e);
	ck_assert_int_eq(rc, DQLC_EINVAL);
	rc = dqlc_pool_add(p, 4244, NULL, &e);
	ck_assert_int_eq(rc, DQLC_EINVAL);
	ct_cluster_desc(p, got, sizeof got, NULL, 0);
	ck_assert_str_eq(got, want); /* nothing changed */

	/* ... not even the network: a pool that reaches no node answers
	 * them just the same (a lookup would fail with a connect error). */
	char nowhere[96];
	snprintf(nowhere, sizeof nowhere, "127.0.0.1:%d", hp_free_port());
	dqlc_pool_t *dead = ct_pool(ct_uri(nowhere, "x", "connect_timeout_ms=300&request_timeout_ms=300"),
				    NULL);
	memset(&e, 0, sizeof e);
	rc = dqlc_pool_assign(dead, 5, 9, &e);
	ck_assert_msg(rc == DQLC_EINVAL, "bad role, unreachable pool: %s %s", dqlc_errname(rc),
		      e.message);
	memset(&e, 0, sizeof e);
	rc = dqlc_pool_add(dead, 0, "127.0.0.1:2", &e);
	ck_assert_msg(rc == DQLC_EINVAL, "id 0, unreachable pool: %s %s", dqlc_errname(rc),
		      e.message);
	ct_pool_close(dead);

	/* The pool still serves. */
	ct_exec_ok(p, "CREATE TABLE t (x)", NULL, 0);
	ct_assert_no_crash();
}
END_TEST

/* ASSIGN voter for a node that is down never completes on 1.11.1: the call
 * must end at its deadline, and the pool must go on serving. */
START_TEST(test_assign_down_node_ends_at_deadline)
{
	ct_start(3);
	const int timeout_ms = 2000, slack_ms = 1500;
	dqlc_pool_t *p = ct_pool(ct_uri(tc_addresses(ct_tc), "down", "request_timeout_ms=2000"),
				 NULL);
	ct_exec_ok(p, "CREATE TABLE t (x)", NULL, 0);
	char nowhere[64];
	snprintf(nowhere, sizeof nowhere, "127.0.0.1:%d", hp_free_port());
	dqlc_error_t e = {0};
	int rc = dqlc_pool_add(p, 77, nowhere, &e);
	ck_assert_msg(rc == 0, "add: %s %s", dqlc_errname(rc), e.message);

	double t0 = ct_now_ms();
	memset(&e, 0, sizeof e);
	rc = dqlc_pool_assign(p, 77, DQLC_ROLE_VOTER, &e);
	double took = ct_now_ms() - t0;
	ck_assert_msg(rc == DQLC_ETIMEDOUT, "assign to a down node: %s %s (%.0f ms)",
		      dqlc_errname(rc), e.message, took);
	ck_assert_msg(took >= timeout_ms - 100 && took <= timeout_ms + slack_ms,
		      "assign ended after %.0f ms (deadline %d ms)", took, timeout_ms);
	ck_assert_msg(e.flags & DQLC_ERRF_MAYBE_EXECUTED, "flags 0x%x", e.flags);

	/* SQL goes on. */
	for (int i = 0; i < 5; i++)
		ct_exec_ok(p, "INSERT INTO t VALUES (1)", NULL, 0);
	ck_assert_int_eq(ct_query_int(p, "SELECT count(*) FROM t", NULL, 0), 5);

	/* Another change meanwhile is refused or ends at its deadline, it
	 * never hangs. */
	t0 = ct_now_ms();
	memset(&e, 0, sizeof e);
	rc = dqlc_pool_remove(p, 77, &e);
	took = ct_now_ms() - t0;
	fprintf(stderr, "remove during the stuck promotion: %s (sqlite %d) %s after %.0f ms\n",
		dqlc_errname(rc), e.sqlite_code, e.message, took);
	ck_assert_msg(took <= timeout_ms + slack_ms, "remove took %.0f ms", took);
	ck_assert_msg((rc == DQLC_ESQL && e.sqlite_code == DQLC_SQLITE_BUSY) || rc == DQLC_ETIMEDOUT,
		      "remove during the stuck promotion: %s (sqlite %d) %s", dqlc_errname(rc),
		      e.sqlite_code, e.message);
	ct_assert_no_crash();
}
END_TEST

int main(void)
{
	Suite *s = suite_create("cluster-admin");
	TCase *t = ct_tcase(s, "membership", 180);
	tcase_add_test(t, test_grow_3_to_5_and_shrink);
	tcase_add_test(t, test_single_seed_removed);
	tcase_add_test(t, test_all_seeds_lost);
	t = ct_tcase(s, "node-admin", 120);
	tcase_add_test(t, test_describe_and_weight);
	tcase_add_test(t, test_dump_opens_in_sqlite);
	t = ct_tcase(s, "errors", 120);
	tcase_add_test(t, test_admin_errors);
	tcase_add_test(t, test_assign_down_node_ends_at_deadline);
	return ct_run(s);
}
