/*
 * What depends on the server generation (PROTOCOL.md §9), against whichever
 * server the harness runs (DQLC_SERVER=1.11 or 1.18: see server.h).  The
 * same tests run on both; where the outcomes differ each branch asserts its
 * own, chosen by the version the harness read from the node program:
 *
 *  - 300 parameters in one statement (schema-1 tuples, 1.12+): the value on
 *    1.18, DQLC_EINVAL naming the limit on 1.11, on every SQL path;
 *  - a three-statement script with parameters for all three through one exec
 *    (PREPARE tail offsets, 1.15+): every statement with its own parameters
 *    on 1.18, DQLC_EINVAL naming the limit (and nothing run) on 1.11;
 *  - NULL in DATETIME and BOOLEAN columns; PREPARE on a follower (leader-
 *    checked from 1.12) and the statement cache; RETURNING and journal_mode
 *    refused or passed as each server can take them.
 * No test may take a node down: each ends by checking that none died.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dqlite-client.h"

#include "cluster.h"
#include "conn.h" /* dqlc__conn_query_cached: the pool's statement cache */
#include "server.h"

static const tc_opts_t test_opts = {.latency_ms = 50};

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

static dqlc_conn_t *connect_db(const char *db)
{
	dqlc_conn_t *conn = NULL;
	dqlc_error_t err = {0};
	ck_assert_ptr_nonnull(shared);
	ck_assert_msg(dqlc_connect(tc_uri(shared, db), NULL, &conn, &err) == 0, "connect %s: %s",
		      db, err.message);
	return conn;
}

static void exec_ok(dqlc_conn_t *conn, const char *sql)
{
	dqlc_error_t err = {0};
	ck_assert_msg(dqlc_conn_exec(conn, sql, NULL, 0, NULL, &err) == 0, "%s: %s", sql,
		      err.message);
}

static int64_t query_int(dqlc_conn_t *conn, const char *sql)
{
	dqlc_error_t err = {0};
	dqlc_value_t v;
	ck_assert_msg(dqlc_conn_fetchval(conn, sql, NULL, 0, &v, &err) == 0, "%s: %s", sql,
		      err.message);
	ck_assert_msg(v.type == DQLC_TYPE_INTEGER, "%s: type %d", sql, v.type);
	return v.v.i;
}

static void no_node_died(void)
{
	ck_assert_int_eq(tc_unexpected_exits(shared), 0);
}

static dqlc_pool_t *pool_for(const char *db)
{
	dqlc_pool_t *p = NULL;
	dqlc_error_t err = {0};
	ck_assert_ptr_nonnull(shared);
	ck_assert_msg(dqlc_pool_create(tc_uri(shared, db), NULL, &p, &err) == 0, "pool: %s",
		      err.message);
	return p;
}

/* Wait for f, free it; its code, its error in *err, its result in *res
 * (when res is not NULL). */
static int future_done(dqlc_future_t *f, dqlc_error_t *err, dqlc_result_t **res)
{
	ck_assert_ptr_nonnull(f);
	int rc = dqlc_future_error(f, err);
	if (res != NULL)
		*res = dqlc_future_take_result(f);
	dqlc_future_free(f);
	return rc;
}

/* An error that must name the server limit. */
static void assert_limit(int rc, const dqlc_error_t *err, const char *what, const char *needle)
{
	ck_assert_msg(rc == DQLC_EINVAL, "%s: expected DQLC_EINVAL on 1.11, got %s (%s)", what,
		      dqlc_errname(rc), err->message);
	ck_assert_msg(strstr(err->message, needle) != NULL, "%s: message '%s' lacks '%s'", what,
		      err->message, needle);
}

/* ---- the server -------------------------------------------------------------- */

START_TEST(test_server_known)
{
	fprintf(stderr, "server: %s\n", tc_server_describe());
	ck_assert_msg(tc_server_version() > 0, "unknown server: %s", tc_server_describe());
	/* The generation the harness reports is the one the wire shows: a
	 * 1.11 node reads CLUSTER format 2 as format 1, newer ones refuse it
	 * (the library's own probe; seen here through >255 parameters on a
	 * node connection that never OPENs anything before). */
	ck_assert_ptr_nonnull(shared);
	dqlc_conn_t *conn = NULL;
	dqlc_error_t err = {0};
	ck_assert_int_eq(dqlc_connect_node(tc_node_address(shared, 0), NULL, &conn, &err), 0);
	struct dqlc_conn *c = conn;
	ck_assert_int_eq(dqlc__conn_probe(c, dqlc__conn_deadline(c), &err), 0);
	if (tc_server_is_1_11())
		ck_assert_uint_eq(c->features & DQLC__FEAT_SCHEMA1, 0);
	else
		ck_assert_uint_ne(c->features & DQLC__FEAT_SCHEMA1, 0);
	ck_assert(dqlc_conn_usable(conn));
	dqlc_conn_close(conn);
	no_node_died();
}
END_TEST

/* ---- more than 255 parameters ------------------------------------------------ */

#define MANY 300
#define MANY_SUM (MANY * (MANY + 1) / 2)

static dqlc_value_t many[MANY];
static char many_sql[16 + 2 * MANY];        /* SELECT 0+?+?... */
static char many_insert[64 + 2 * MANY];     /* INSERT ... VALUES (0+?+?...) */

static void many_init(void)
{
	strcpy(many_sql, "SELECT 0");
	strcpy(many_insert, "INSERT INTO p (v) VALUES (0");
	for (int i = 0; i < MANY; i++) {
		many[i] = DQLC_INT(i + 1);
		strcat(many_sql, "+?");
		strcat(many_insert, "+?");
	}
	strcat(many_insert, ")");
}

START_TEST(test_300_params_conn)
{
	many_init();
	dqlc_conn_t *conn = connect_db("many");
	exec_ok(conn, "CREATE TABLE p (v INTEGER)");
	bool old = tc_server_is_1_11();
	dqlc_error_t err = {0};
	dqlc_result_t *r = NULL;

	/* query (QUERY_SQL) */
	int rc = dqlc_conn_query(conn, many_sql, many, MANY, &r, &err);
	if (old) {
		assert_limit(rc, &err, "query", "1.12");
		ck_assert_ptr_null(r);
	} else {
		ck_assert_msg(rc == 0, "query: %s", err.message);
		ck_assert_int_eq(dqlc_result_int64(r, 0, 0), MANY_SUM);
		dqlc_result_free(r);
	}
	/* exec (EXEC_SQL) */
	rc = dqlc_conn_exec(conn, many_insert, many, MANY, NULL, &err);
	if (old)
		assert_limit(rc, &err, "exec", "255");
	else
		ck_assert_msg(rc == 0, "exec: %s", err.message);
	/* prepared (EXEC, QUERY by id) */
	dqlc_stmt_t *s = NULL;
	ck_assert_msg(dqlc_conn_prepare(conn, many_sql, &s, &err) == 0, "%s", err.message);
	ck_assert_uint_eq(dqlc_stmt_param_count(s), MANY);
	rc = dqlc_stmt_query(s, many, MANY, &r, &err);
	if (old) {
		assert_limit(rc, &err, "stmt query", "1.12");
	} else {
		ck_assert_msg(rc == 0, "stmt query: %s", err.message);
		ck_assert_int_eq(dqlc_result_int64(r, 0, 0), MANY_SUM);
		dqlc_result_free(r);
	}
	dqlc_stmt_finalize(s);
	ck_assert_msg(dqlc_conn_prepare(conn, many_insert, &s, &err) == 0, "%s", err.message);
	rc = dqlc_stmt_exec(s, many, MANY, NULL, &err);
	if (old)
		assert_limit(rc, &err, "stmt exec", "1.12");
	else
		ck_assert_msg(rc == 0, "stmt exec: %s", err.message);
	dqlc_stmt_finalize(s);
	/* cursor (QUERY_SQL, streamed) */
	dqlc_cursor_t *cur = NULL;
	rc = dqlc_conn_cursor(conn, many_sql, many, MANY, &cur, &err);
	if (old) {
		assert_limit(rc, &err, "cursor", "1.12");
	} else {
		ck_assert_msg(rc == 0, "cursor: %s", err.message);
		ck_assert(dqlc_cursor_next(cur));
		ck_assert_int_eq(dqlc_cursor_value(cur, 0)->v.i, MANY_SUM);
		ck_assert(!dqlc_cursor_next(cur));
		dqlc_cursor_close(cur);
	}
	/* The refusals sent nothing harmful: the connection still works and
	 * holds exactly the rows that were accepted. */
	ck_assert(dqlc_conn_usable(conn));
	ck_assert_int_eq(query_int(conn, "SELECT count(*) FROM p"), old ? 0 : 2);
	if (!old)
		ck_assert_int_eq(query_int(conn, "SELECT min(v) FROM p"), MANY_SUM);
	dqlc_conn_close(conn);
	no_node_died();
}
END_TEST

START_TEST(test_300_params_pool)
{
	many_init();
	dqlc_pool_t *p = pool_for("many_pool");
	dqlc_error_t err = {0};
	dqlc_result_t *r = NULL;
	bool old = tc_server_is_1_11();
	ck_assert_int_eq(future_done(dqlc_pool_exec(p, "CREATE TABLE p (v INTEGER)", NULL, 0), &err,
				     NULL),
			 0);
	/* Twice each: the second runs on the cached prepared statement. */
	for (int round = 0; round < 2; round++) {
		int rc = future_done(dqlc_pool_query(p, many_sql, many, MANY), &err, &r);
		if (old) {
			assert_limit(rc, &err, "pool query", "1.12");
		} else {
			ck_assert_msg(rc == 0, "pool query: %s", err.message);
			ck_assert_int_eq(dqlc_result_int64(r, 0, 0), MANY_SUM);
		}
		dqlc_result_free(r);
		r = NULL;
		rc = future_done(dqlc_pool_exec(p, many_insert, many, MANY), &err, NULL);
		if (old)
			assert_limit(rc, &err, "pool exec", "1.12");
		else
			ck_assert_msg(rc == 0, "pool exec: %s", err.message);
	}
	ck_assert_int_eq(future_done(dqlc_pool_query(p, "SELECT count(*) FROM p", NULL, 0), &err,
				     &r),
			 0);
	ck_assert_int_eq(dqlc_result_int64(r, 0, 0), old ? 0 : 2);
	dqlc_result_free(r);
	dqlc_pool_close(p);
	no_node_died();
}
END_TEST

/* ---- scripts ------------------------------------------------------------------- */

#define SCRIPT3                                                                      \
	"INSERT INTO s3 (a, b) VALUES (?, ?);\n"                                     \
	"INSERT INTO s3 (a, b) VALUES (?, ?); -- the second\n"                       \
	"UPDATE s3 SET b = b || ? WHERE a = ?;"

static void check_script3_ran(dqlc_conn_t *conn)
{
	dqlc_error_t err = {0};
	dqlc_result_t *r = NULL;
	ck_assert_int_eq(dqlc_conn_query(conn, "SELECT a, b FROM s3 ORDER BY a", NULL, 0, &r, &err),
			 0);
	ck_assert_uint_eq(dqlc_result_row_count(r), 2);
	ck_assert_int_eq(dqlc_result_int64(r, 0, 0), 1);
	ck_assert_str_eq(dqlc_result_text(r, 0, 1, NULL), "one!");
	ck_assert_int_eq(dqlc_result_int64(r, 1, 0), 2);
	ck_assert_str_eq(dqlc_result_text(r, 1, 1, NULL), "two");
	dqlc_result_free(r);
}

START_TEST(test_three_statement_script)
{
	dqlc_conn_t *conn = connect_db("script3");
	exec_ok(conn, "CREATE TABLE s3 (a INTEGER PRIMARY KEY, b TEXT)");
	dqlc_value_t p[] = {DQLC_INT(1), DQLC_TEXT("one"), DQLC_INT(2),
			    DQLC_TEXT("two"), DQLC_TEXT("!"), DQLC_INT(1)};
	dqlc_error_t err = {0};
	dqlc_result_t *r = NULL;
	int rc = dqlc_conn_exec(conn, SCRIPT3, p, 6, &r, &err);
	if (tc_server_is_1_11()) {
		assert_limit(rc, &err, "script", "1.15");
		ck_assert_ptr_null(r);
		/* Refused before anything ran. */
		ck_assert_int_eq(query_int(conn, "SELECT count(*) FROM s3"), 0);
	} else {
		ck_assert_msg(rc == 0, "script: %s", err.message);
		/* The result is the last statement's (the UPDATE). */
		ck_assert_int_eq(dqlc_result_rows_affected(r), 1);
		ck_assert_int_eq(dqlc_result_last_insert_id(r), 2);
		dqlc_result_free(r);
		check_script3_ran(conn);
	}

	/* Without parameters every server runs every statement. */
	exec_ok(conn, "DELETE FROM s3");
	exec_ok(conn, "INSERT INTO s3 (a, b) VALUES (1, 'one'); INSERT INTO s3 (a, b) VALUES (2, "
		      "'two'); UPDATE s3 SET b = b || '!' WHERE a = 1");
	check_script3_ran(conn);

	/* Parameters of the first statement only: the same on both. */
	exec_ok(conn, "DELETE FROM s3");
	ck_assert_msg(dqlc_conn_exec(conn,
				     "INSERT INTO s3 (a, b) VALUES (?, ?); INSERT INTO s3 (a, b) "
				     "VALUES (2, 'two'); UPDATE s3 SET b = b || '!' WHERE a = 1",
				     p, 2, NULL, &err) == 0,
		      "%s", err.message);
	check_script3_ran(conn);
	dqlc_conn_close(conn);
	no_node_died();
}
END_TEST

START_TEST(test_three_statement_script_pool)
{
	dqlc_pool_t *pl = pool_for("script3_pool");
	dqlc_error_t err = {0};
	dqlc_result_t *r = NULL;
	ck_assert_int_eq(future_done(dqlc_pool_exec(pl, "CREATE TABLE s3 (a INTEGER PRIMARY KEY, "
							"b TEXT)",
						    NULL, 0),
				     &err, NULL),
			 0);
	dqlc_value_t p[] = {DQLC_INT(1), DQLC_TEXT("one"), DQLC_INT(2),
			    DQLC_TEXT("two"), DQLC_TEXT("!"), DQLC_INT(1)};
	int rc = future_done(dqlc_pool_exec(pl, SCRIPT3, p, 6), &err, NULL);
	if (tc_server_is_1_11())
		assert_limit(rc, &err, "pool script", "1.15");
	else
		ck_assert_msg(rc == 0, "pool script: %s", err.message);
	ck_assert_int_eq(future_done(dqlc_pool_query(pl, "SELECT count(*), group_concat(b, ',') "
							 "FROM (SELECT b FROM s3 ORDER BY a)",
						     NULL, 0),
				     &err, &r),
			 0);
	if (tc_server_is_1_11()) {
		ck_assert_int_eq(dqlc_result_int64(r, 0, 0), 0);
	} else {
		ck_assert_int_eq(dqlc_result_int64(r, 0, 0), 2);
		ck_assert_str_eq(dqlc_result_text(r, 0, 1, NULL), "one!,two");
	}
	dqlc_result_free(r);
	dqlc_pool_close(pl);
	no_node_died();
}
END_TEST

START_TEST(test_script_parameter_count_mismatch)
{
	dqlc_conn_t *conn = connect_db("script_mismatch");
	exec_ok(conn, "CREATE TABLE m (a INTEGER)");
	dqlc_value_t p[] = {DQLC_INT(1), DQLC_INT(2)};
	dqlc_error_t err = {0};
	bool old = tc_server_is_1_11();

	/* Too many: the second statement takes none. */
	int rc = dqlc_conn_exec(conn, "INSERT INTO m VALUES (?); INSERT INTO m VALUES (5)", p, 2,
				NULL, &err);
	ck_assert_int_eq(rc, DQLC_EINVAL);
	if (old) {
		/* The first statement takes 1 of 2: refused, nothing ran. */
		ck_assert_ptr_nonnull(strstr(err.message, "1.15"));
		ck_assert_int_eq(query_int(conn, "SELECT count(*) FROM m"), 0);
	} else {
		/* Found at the last statement: the first one ran, and the error
		 * says so (never retried). */
		ck_assert_ptr_nonnull(strstr(err.message, "statement 2"));
		ck_assert(err.flags & DQLC_ERRF_MAYBE_EXECUTED);
		ck_assert(!(err.flags & DQLC_ERRF_RETRYABLE));
		ck_assert_int_eq(query_int(conn, "SELECT count(*) FROM m"), 1);
	}
	exec_ok(conn, "DELETE FROM m");

	/* Too few: the second statement's placeholder has no value. */
	rc = dqlc_conn_exec(conn, "INSERT INTO m VALUES (?); INSERT INTO m VALUES (?)", p, 1, NULL,
			    &err);
	if (old) {
		/* 1.11 cannot tell: the parameters are the first statement's,
		 * the later placeholder is NULL (documented). */
		ck_assert_msg(rc == 0, "%s", err.message);
		ck_assert_int_eq(query_int(conn, "SELECT count(*) FROM m WHERE a IS NULL"), 1);
		ck_assert_int_eq(query_int(conn, "SELECT count(*) FROM m WHERE a = 1"), 1);
	} else {
		ck_assert_int_eq(rc, DQLC_EINVAL);
		ck_assert_ptr_nonnull(strstr(err.message, "statement 2"));
		ck_assert_int_eq(query_int(conn, "SELECT count(*) FROM m"), 1);
	}
	ck_assert(dqlc_conn_usable(conn));
	dqlc_conn_close(conn);
	no_node_died();
}
END_TEST

/* A failing statement in the middle stops the script; the ones before it
 * ran (as with EXEC_SQL). */
START_TEST(test_script_stops_at_failure)
{
	dqlc_conn_t *conn = connect_db("script_fail");
	exec_ok(conn, "CREATE TABLE f (a INTEGER PRIMARY KEY)");
	dqlc_value_t p[] = {DQLC_INT(1), DQLC_INT(1), DQLC_INT(3)};
	dqlc_error_t err = {0};
	int rc = dqlc_conn_exec(conn,
				"INSERT INTO f VALUES (?); INSERT INTO f VALUES (?); INSERT INTO f "
				"VALUES (?)",
				p, 3, NULL, &err);
	if (tc_server_is_1_11()) {
		assert_limit(rc, &err, "script", "1.15");
		ck_assert_int_eq(query_int(conn, "SELECT count(*) FROM f"), 0);
	} else {
		ck_assert_int_eq(rc, DQLC_ESQL);
		ck_assert_int_eq(err.sqlite_code & 0xff, 19); /* SQLITE_CONSTRAINT */
		ck_assert_ptr_nonnull(strstr(err.message, "statement 2"));
		ck_assert(err.flags & DQLC_ERRF_MAYBE_EXECUTED);
		ck_assert_int_eq(query_int(conn, "SELECT count(*) FROM f"), 1);
	}
	/* No statement id leaked into later calls: prepared statements and
	 * the connection still work. */
	dqlc_stmt_t *s = NULL;
	ck_assert_int_eq(dqlc_conn_prepare(conn, "SELECT count(*) FROM f", &s, &err), 0);
	dqlc_result_t *r = NULL;
	ck_assert_int_eq(dqlc_stmt_query(s, NULL, 0, &r, &err), 0);
	ck_assert_int_eq(dqlc_result_int64(r, 0, 0), tc_server_is_1_11() ? 0 : 1);
	dqlc_result_free(r);
	dqlc_stmt_finalize(s);
	dqlc_conn_close(conn);
	no_node_died();
}
END_TEST

/* A script whose later statement meets SQLITE_BUSY is not run again by the
 * pool: the statements before it ran. */
START_TEST(test_script_busy_not_retried)
{
	dqlc_pool_t *p = pool_for("script_busy");
	dqlc_error_t err = {0};
	ck_assert_int_eq(future_done(dqlc_pool_exec(p, "CREATE TABLE b (x INTEGER)", NULL, 0), &err,
				     NULL),
			 0);
	/* Another client holds the write lock in an open transaction. */
	dqlc_conn_t *holder = connect_db("script_busy");
	exec_ok(holder, "BEGIN");
	exec_ok(holder, "INSERT INTO b VALUES (1)");
	/* Statement 1 takes no write lock; statement 2 needs it. */
	dqlc_value_t v[] = {DQLC_INT(1), DQLC_INT(2)};
	dqlc_pool_stats_t before = {.struct_size = sizeof before}, after = before;
	ck_assert_int_eq(dqlc_pool_stats(p, &before, &err), 0);
	int rc = future_done(dqlc_pool_exec(p, "SELECT ? WHERE 0; INSERT INTO b VALUES (?)", v, 2),
			     &err, NULL);
	ck_assert_int_eq(dqlc_pool_stats(p, &after, &err), 0);
	if (tc_server_is_1_11()) {
		assert_limit(rc, &err, "script", "1.15");
	} else {
		ck_assert_msg(rc == DQLC_ESQL && (err.sqlite_code & 0xff) == 5, "%s: %s",
			      dqlc_errname(rc), err.message);
		ck_assert(err.flags & DQLC_ERRF_MAYBE_EXECUTED);
		ck_assert_ptr_nonnull(strstr(err.message, "statement 2"));
		ck_assert_uint_eq(after.busy_retries, before.busy_retries);
	}
	exec_ok(holder, "COMMIT");
	dqlc_conn_close(holder);
	dqlc_pool_close(p);
	no_node_died();
}
END_TEST

/* ---- typed columns ------------------------------------------------------------------ */

START_TEST(test_typed_nulls)
{
	dqlc_conn_t *conn = connect_db("typed");
	exec_ok(conn, "CREATE TABLE t (id INTEGER PRIMARY KEY, d DATETIME, b BOOLEAN)");
	exec_ok(conn, "INSERT INTO t VALUES (1, NULL, NULL), (2, '2024-01-02 03:04:05', 1), "
		      "(3, 1700000000, 0)");
	dqlc_error_t err = {0};
	dqlc_result_t *r = NULL;
	ck_assert_int_eq(dqlc_conn_query(conn, "SELECT d, b FROM t ORDER BY id", NULL, 0, &r, &err),
			 0);
	ck_assert_uint_eq(dqlc_result_row_count(r), 3);
	/* Both servers send NULL in a DATETIME column as ISO8601 "": the
	 * library gives NULL back. */
	ck_assert_int_eq(dqlc_result_type(r, 0, 0), DQLC_TYPE_NULL);
	ck_assert(dqlc_result_is_null(r, 0, 0));
	/* ... and NULL in a BOOLEAN column as false: lost on the wire, by
	 * both (doc/types.md). */
	ck_assert_int_eq(dqlc_result_type(r, 0, 1), DQLC_TYPE_BOOLEAN);
	ck_assert_int_eq(dqlc_result_int64(r, 0, 1), 0);
	ck_assert_int_eq(dqlc_result_type(r, 1, 0), DQLC_TYPE_ISO8601);
	ck_assert_str_eq(dqlc_result_text(r, 1, 0, NULL), "2024-01-02 03:04:05");
	ck_assert_int_eq(dqlc_result_type(r, 1, 1), DQLC_TYPE_BOOLEAN);
	ck_assert_int_eq(dqlc_result_int64(r, 1, 1), 1);
	ck_assert_int_eq(dqlc_result_type(r, 2, 0), DQLC_TYPE_UNIXTIME);
	ck_assert_int_eq(dqlc_result_int64(r, 2, 0), 1700000000);
	ck_assert_int_eq(dqlc_result_type(r, 2, 1), DQLC_TYPE_BOOLEAN);
	ck_assert_int_eq(dqlc_result_int64(r, 2, 1), 0);
	dqlc_result_free(r);
	/* Through a cursor too. */
	dqlc_cursor_t *cur = NULL;
	ck_assert_int_eq(dqlc_conn_cursor(conn, "SELECT d FROM t WHERE id = 1", NULL, 0, &cur,
					  &err),
			 0);
	ck_assert(dqlc_cursor_next(cur));
	ck_assert_int_eq(dqlc_cursor_value(cur, 0)->type, DQLC_TYPE_NULL);
	dqlc_cursor_close(cur);
	dqlc_conn_close(conn);
	no_node_died();
}
END_TEST

/* ---- leader checks ------------------------------------------------------------------- */

static void assert_not_leader(int rc, const dqlc_error_t *err, const char *what)
{
	ck_assert_msg(rc == DQLC_ESQL && err->sqlite_code == DQLC_SQLITE_NOT_LEADER,
		      "%s on a follower: %s %d (%s)", what, dqlc_errname(rc), err->sqlite_code,
		      err->message);
	ck_assert_msg((err->flags & DQLC_ERRF_RETRYABLE) && (err->flags & DQLC_ERRF_LEADER_CHANGED),
		      "%s: flags 0x%x", what, err->flags);
}

START_TEST(test_prepare_on_follower)
{
	ck_assert_ptr_nonnull(shared);
	int leader = tc_leader(shared);
	ck_assert_int_ge(leader, 0);
	int follower = (leader + 1) % tc_size(shared);
	dqlc_config_t *cfg = dqlc_config_new();
	ck_assert_int_eq(dqlc_config_set(cfg, "database", "follower", NULL), 0);
	dqlc_conn_t *conn = NULL;
	dqlc_error_t err = {0};
	ck_assert_int_eq(dqlc_connect_node(tc_node_address(shared, follower), cfg, &conn, &err), 0);
	dqlc_stmt_t *s = NULL;
	int rc = dqlc_conn_prepare(conn, "SELECT 1", &s, &err);
	if (tc_server_is_1_11()) {
		/* 1.11 prepares anywhere; running it is leader-checked. */
		ck_assert_msg(rc == 0, "%s", err.message);
		dqlc_result_t *r = NULL;
		rc = dqlc_stmt_query(s, NULL, 0, &r, &err);
		assert_not_leader(rc, &err, "QUERY");
		dqlc_stmt_finalize(s);
	} else {
		assert_not_leader(rc, &err, "PREPARE");
		ck_assert_ptr_null(s);
	}
	/* The pool's statement cache on the same follower: the same
	 * retryable NOT_LEADER (PREPARE on 1.12+, QUERY on 1.11), and the
	 * cache is dropped so no id of that node is ever sent again. */
	struct dqlc_conn *c = conn;
	dqlc_result_t *r = NULL;
	ck_assert_int_eq(dqlc__conn_query_cached(c, "SELECT 2", NULL, 0, &r, &err), DQLC_ESQL);
	assert_not_leader(DQLC_ESQL, &err, "cached query");
	ck_assert_ptr_null(c->cache);
	ck_assert(dqlc_conn_usable(conn));
	dqlc_conn_close(conn);
	dqlc_config_free(cfg);
	ck_assert_int_eq(tc_leader(shared), leader); /* the premise held */
	no_node_died();
}
END_TEST

/* A pool keeps working across a leadership transfer: its cached statements
 * belong to the old leader, and whatever it meets there (a NOT_LEADER on
 * PREPARE or on EXEC/QUERY, a dropped connection) is retried. */
START_TEST(test_pool_cache_across_transfer)
{
	dqlc_pool_t *p = pool_for("transfer");
	dqlc_error_t err = {0};
	dqlc_result_t *r = NULL;
	dqlc_value_t one[] = {DQLC_INT(1)};
	ck_assert_int_eq(future_done(dqlc_pool_exec(p, "CREATE TABLE x (v INTEGER)", NULL, 0), &err,
				     NULL),
			 0);
	for (int round = 0; round < 3; round++) {
		for (int i = 0; i < 3; i++) {
			ck_assert_msg(future_done(dqlc_pool_exec(p, "INSERT INTO x VALUES (?)", one, 1),
						  &err, NULL) == 0,
				      "insert: %s", err.message);
			ck_assert_msg(future_done(dqlc_pool_query(p, "SELECT sum(v) FROM x WHERE v = ?",
								  one, 1),
						  &err, &r) == 0,
				      "query: %s", err.message);
			ck_assert_int_eq(dqlc_result_int64(r, 0, 0), round * 3 + i + 1);
			dqlc_result_free(r);
		}
		int leader = tc_leader(shared);
		ck_assert_int_ge(leader, 0);
		uint64_t to = tc_node_id(shared, (leader + 1) % tc_size(shared));
		ck_assert_msg(dqlc_pool_transfer(p, to, &err) == 0, "transfer: %s", err.message);
		ck_assert_int_ge(tc_wait_leader_change(shared, leader, 15000), 0);
	}
	dqlc_pool_close(p);
	no_node_died();
}
END_TEST

/* ---- what crashes old servers ------------------------------------------------------------- */

START_TEST(test_returning_refused)
{
	dqlc_conn_t *conn = connect_db("returning");
	exec_ok(conn, "CREATE TABLE r (id INTEGER PRIMARY KEY, v TEXT)");
	const char *sql = "INSERT INTO r (v) VALUES ('x') RETURNING id";
	dqlc_error_t err = {0};
	dqlc_result_t *res = NULL;
	dqlc_stmt_t *s = NULL;
	dqlc_cursor_t *cur = NULL;
	int rc[4];
	rc[0] = dqlc_conn_exec(conn, sql, NULL, 0, NULL, &err);
	ck_assert_ptr_nonnull(strstr(err.message, "1.18.3"));
	rc[1] = dqlc_conn_query(conn, sql, NULL, 0, &res, &err);
	rc[2] = dqlc_conn_prepare(conn, sql, &s, &err);
	rc[3] = dqlc_conn_cursor(conn, sql, NULL, 0, &cur, &err);
	for (int i = 0; i < 4; i++)
		ck_assert_msg(rc[i] == DQLC_EINVAL, "path %d: %s", i, dqlc_errname(rc[i]));
	dqlc_pool_t *p = pool_for("returning");
	ck_assert_int_eq(future_done(dqlc_pool_exec(p, sql, NULL, 0), &err, NULL), DQLC_EINVAL);
	ck_assert_int_eq(future_done(dqlc_pool_query(p, sql, NULL, 0), &err, NULL), DQLC_EINVAL);
	dqlc_pool_close(p);
	/* Writes go on: nothing reached a server. */
	exec_ok(conn, "INSERT INTO r (v) VALUES ('after')");
	ck_assert_int_eq(query_int(conn, "SELECT count(*) FROM r"), 1);
	dqlc_conn_close(conn);
	no_node_died();
}
END_TEST

START_TEST(test_journal_mode_and_page_size)
{
	dqlc_conn_t *conn = connect_db("pragmas");
	exec_ok(conn, "CREATE TABLE j (v INTEGER)");
	static const char *const sql[] = {"PRAGMA journal_mode=DELETE", "PRAGMA page_size = 8192"};
	static const char *const server_says[] = {"only WAL mode is supported",
						  "changing page size is not supported"};
	for (int i = 0; i < 2; i++) {
		dqlc_error_t err = {0};
		int rc = dqlc_conn_exec(conn, sql[i], NULL, 0, NULL, &err);
		if (tc_server_is_1_11()) {
			/* Refused here: it would abort the node. */
			assert_limit(rc, &err, sql[i], "1.11");
		} else {
			/* 1.12+ refuses it itself, harmlessly. */
			ck_assert_msg(rc == DQLC_ESQL && err.sqlite_code == 10, "%s: %s %s", sql[i],
				      dqlc_errname(rc), err.message);
			ck_assert_ptr_nonnull(strstr(err.message, server_says[i]));
		}
		exec_ok(conn, "INSERT INTO j VALUES (1)");
	}
	ck_assert_int_eq(query_int(conn, "SELECT count(*) FROM j"), 2);
	dqlc_conn_close(conn);
	no_node_died();
}
END_TEST

static Suite *features_suite(void)
{
	Suite *s = suite_create("server features");
	TCase *tc = tcase_create("shared cluster");
	tcase_add_unchecked_fixture(tc, shared_up, shared_down);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_server_known);
	tcase_add_test(tc, test_300_params_conn);
	tcase_add_test(tc, test_300_params_pool);
	tcase_add_test(tc, test_three_statement_script);
	tcase_add_test(tc, test_three_statement_script_pool);
	tcase_add_test(tc, test_script_parameter_count_mismatch);
	tcase_add_test(tc, test_script_stops_at_failure);
	tcase_add_test(tc, test_script_busy_not_retried);
	tcase_add_test(tc, test_typed_nulls);
	tcase_add_test(tc, test_prepare_on_follower);
	tcase_add_test(tc, test_returning_refused);
	tcase_add_test(tc, test_journal_mode_and_page_size);
	tcase_add_test(tc, test_pool_cache_across_transfer);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(features_suite());
	srunner_run_all(sr, CK_ENV);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
