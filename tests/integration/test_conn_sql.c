/*
 * SQL on one connection against real dqlite nodes: every value type through
 * a table, big results (buffered and through a cursor), exec results,
 * columns by name, fetchval, SQL errors, prepared statements, transactions,
 * per-call deadlines, cancellation, early cursor close, and the requests
 * that would crash a 1.11 server being refused client-side.
 *
 * Most tests share one 3-node cluster (unchecked fixture; they only read
 * the cluster and each works in its own database).  Tests that stop nodes
 * or that would hurt a node if the client misbehaved get their own.
 */
#include <check.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dqlite-client.h"

#include "cluster.h"
#include "proc.h"
#include "server.h"

/* 50 ms network latency: elections in well under a second, yet no spurious
 * leader changes on a loaded 2-core machine (the default 20 ms flaps when
 * the tests run under valgrind next to other suites). */
static const tc_opts_t test_opts = {.latency_ms = 50};

#define SLACK_MS 1500 /* scheduling noise, valgrind: far below any real timeout */

/* ---- helpers --------------------------------------------------------------- */

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

/* A connection to the leader, on database `db`. */
static dqlc_conn_t *connect_db(dqlc_test_cluster_t *tc, const char *db)
{
	dqlc_conn_t *conn = NULL;
	dqlc_error_t err = {0};
	ck_assert_ptr_nonnull(tc);
	int rc = dqlc_connect(tc_uri(tc, db), NULL, &conn, &err);
	ck_assert_msg(rc == 0, "connect to %s: %s", db, err.message);
	return conn;
}

static void exec_ok(dqlc_conn_t *conn, const char *sql)
{
	dqlc_error_t err = {0};
	int rc = dqlc_conn_exec(conn, sql, NULL, 0, NULL, &err);
	ck_assert_msg(rc == 0, "%s: %s", sql, err.message);
}

static dqlc_result_t *query_ok(dqlc_conn_t *conn, const char *sql, const dqlc_value_t *params,
			       size_t n)
{
	dqlc_result_t *r = NULL;
	dqlc_error_t err = {0};
	int rc = dqlc_conn_query(conn, sql, params, n, &r, &err);
	ck_assert_msg(rc == 0, "%s: %s", sql, err.message);
	ck_assert_ptr_nonnull(r);
	return r;
}

static int64_t count_of(dqlc_conn_t *conn, const char *table)
{
	char sql[128];
	dqlc_value_t v;
	dqlc_error_t err = {0};
	snprintf(sql, sizeof sql, "SELECT count(*) FROM %s", table);
	ck_assert_msg(dqlc_conn_fetchval(conn, sql, NULL, 0, &v, &err) == 0, "%s", err.message);
	ck_assert_int_eq(v.type, DQLC_TYPE_INTEGER);
	return v.v.i;
}

/* The connection still works: a fresh round trip gives the right answer. */
static void assert_conn_works(dqlc_conn_t *conn)
{
	dqlc_value_t v;
	dqlc_error_t err = {0};
	dqlc_value_t p[] = {DQLC_INT(41)};
	ck_assert(dqlc_conn_usable(conn));
	ck_assert_msg(dqlc_conn_fetchval(conn, "SELECT ? + 1", p, 1, &v, &err) == 0, "%s",
		      err.message);
	ck_assert_int_eq(v.type, DQLC_TYPE_INTEGER);
	ck_assert_int_eq(v.v.i, 42);
}

/* Every node process of `tc` is alive (not exited, not a zombie). */
static void assert_nodes_alive(dqlc_test_cluster_t *tc)
{
	for (int i = 0; i < tc_size(tc); i++) {
		pid_t pid = tc_node_pid(tc, i);
		char st = pid > 0 ? hp_proc_state(pid) : 0;
		ck_assert_msg(st != 0 && st != 'Z', "node %d (pid %ld) is dead", i, (long)pid);
	}
}

/* ---- value types --------------------------------------------------------------- */

/* Insert one value into column `col` of table v, read it back. */
static dqlc_result_t *roundtrip(dqlc_conn_t *conn, const char *col, dqlc_value_t value)
{
	char sql[160];
	dqlc_error_t err = {0};
	dqlc_result_t *res = NULL;
	snprintf(sql, sizeof sql, "INSERT INTO v (%s) VALUES (?)", col);
	int rc = dqlc_conn_exec(conn, sql, &value, 1, &res, &err);
	ck_assert_msg(rc == 0, "insert %s into %s: %s", dqlc_type_name(value.type), col,
		      err.message);
	dqlc_value_t key = DQLC_INT(dqlc_result_last_insert_id(res));
	dqlc_result_free(res);
	snprintf(sql, sizeof sql, "SELECT %s, typeof(%s) FROM v WHERE k = ?", col, col);
	dqlc_result_t *r = query_ok(conn, sql, &key, 1);
	ck_assert_uint_eq(dqlc_result_row_count(r), 1);
	ck_assert_uint_eq(dqlc_result_column_count(r), 2);
	return r;
}

static const char *storage(const dqlc_result_t *r)
{
	return dqlc_result_text(r, 0, 1, NULL);
}

static void check_int(dqlc_conn_t *conn, const char *col, int64_t x, int want_type)
{
	dqlc_result_t *r = roundtrip(conn, col, DQLC_INT(x));
	ck_assert_int_eq(dqlc_result_type(r, 0, 0), want_type);
	ck_assert_int_eq(dqlc_result_value(r, 0, 0)->v.i, x);
	ck_assert_int_eq(dqlc_result_int64(r, 0, 0), x);
	ck_assert_str_eq(storage(r), "integer");
	dqlc_result_free(r);
}

static void check_float(dqlc_conn_t *conn, double x)
{
	dqlc_result_t *r = roundtrip(conn, "f", DQLC_FLOAT(x));
	ck_assert_int_eq(dqlc_result_type(r, 0, 0), DQLC_TYPE_FLOAT);
	double got = dqlc_result_value(r, 0, 0)->v.f;
	ck_assert_msg(memcmp(&got, &x, sizeof x) == 0, "sent %a, got %a", x, got);
	ck_assert_str_eq(storage(r), "real");
	dqlc_result_free(r);
}

static void check_text(dqlc_conn_t *conn, const char *col, const char *s, size_t n)
{
	dqlc_result_t *r = roundtrip(conn, col, DQLC_TEXTN(s, n));
	size_t len = 99;
	ck_assert_int_eq(dqlc_result_type(r, 0, 0), DQLC_TYPE_TEXT);
	const char *got = dqlc_result_text(r, 0, 0, &len);
	ck_assert_ptr_nonnull(got);
	ck_assert_uint_eq(len, n);
	ck_assert(memcmp(got, s, n) == 0);
	ck_assert_int_eq(got[n], '\0'); /* always NUL-terminated */
	ck_assert_str_eq(storage(r), "text");
	dqlc_result_free(r);
}

static void check_blob(dqlc_conn_t *conn, const void *p, size_t n)
{
	dqlc_result_t *r = roundtrip(conn, "b", DQLC_BLOB(p, n));
	size_t len = 99;
	ck_assert_int_eq(dqlc_result_type(r, 0, 0), DQLC_TYPE_BLOB);
	const void *got = dqlc_result_blob(r, 0, 0, &len);
	ck_assert_uint_eq(len, n);
	ck_assert(n == 0 || memcmp(got, p, n) == 0);
	ck_assert_ptr_null(dqlc_result_text(r, 0, 0, NULL)); /* a blob is not text */
	ck_assert_str_eq(storage(r), "blob");
	dqlc_result_free(r);
}

START_TEST(test_value_types)
{
	dqlc_conn_t *conn = connect_db(shared, "sql_values");
	exec_ok(conn, "CREATE TABLE v (k INTEGER PRIMARY KEY, i INTEGER, f FLOAT, s TEXT, b BLOB, "
		      "a, d DATETIME, bo BOOLEAN)");

	/* INTEGER, including the extremes. */
	int64_t ints[] = {0, 1, -1, 42, INT32_MAX, (int64_t)INT32_MIN - 1, INT64_MAX, INT64_MIN};
	for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++) {
		check_int(conn, "i", ints[i], DQLC_TYPE_INTEGER);
		check_int(conn, "a", ints[i], DQLC_TYPE_INTEGER);
	}

	/* FLOAT, bit for bit, including infinities, denormals and -0. */
	double floats[] = {0.5, -1.25e-300, 1.7976931348623157e308, 5e-324, 0.0, 3.141592653589793,
			   -2.0, INFINITY, -INFINITY};
	for (size_t i = 0; i < sizeof floats / sizeof floats[0]; i++)
		check_float(conn, floats[i]);

	/* -0.0: SQLite stores integral REALs as integers on disk, so the
	 * sign of zero is lost.  That is what comes back: +0.0, a FLOAT. */
	dqlc_result_t *r = roundtrip(conn, "f", DQLC_FLOAT(-0.0));
	ck_assert_int_eq(dqlc_result_type(r, 0, 0), DQLC_TYPE_FLOAT);
	ck_assert(dqlc_result_value(r, 0, 0)->v.f == 0.0);
	ck_assert(!signbit(dqlc_result_value(r, 0, 0)->v.f));
	dqlc_result_free(r);

	/* NaN: SQLite binds a NaN double as NULL.  That is what comes back. */
	r = roundtrip(conn, "f", DQLC_FLOAT(NAN));
	ck_assert_int_eq(dqlc_result_type(r, 0, 0), DQLC_TYPE_NULL);
	ck_assert(dqlc_result_is_null(r, 0, 0));
	ck_assert_str_eq(storage(r), "null");
	dqlc_result_free(r);

	/* TEXT: empty (not NULL), ASCII, UTF-8, long. */
	check_text(conn, "s", "", 0);
	check_text(conn, "s", "hello", 5);
	const char *utf8 = "h\xc3\xa9llo w\xc3\xb6rld \xe2\x9c\x93 \xe6\x97\xa5\xe6\x9c\xac "
			   "\xf0\x9f\x8e\x89";
	check_text(conn, "s", utf8, strlen(utf8));
	check_text(conn, "a", utf8, strlen(utf8));
	char *longtext = malloc(100001);
	for (size_t i = 0; i < 100000; i++)
		longtext[i] = (char)('a' + i % 26);
	longtext[100000] = '\0';
	check_text(conn, "s", longtext, 100000);
	/* 7 and 8 bytes: one and two words on the wire. */
	check_text(conn, "s", "1234567", 7);
	check_text(conn, "s", "12345678", 8);
	free(longtext);

	/* BLOB: empty, embedded NULs, every byte value, big. */
	check_blob(conn, "", 0);
	check_blob(conn, "\0\0\0", 3);
	check_blob(conn, "a\0b\0\xff\0", 6);
	unsigned char bytes[256];
	for (int i = 0; i < 256; i++)
		bytes[i] = (unsigned char)i;
	check_blob(conn, bytes, 256);
	unsigned char *big = malloc(300000);
	for (size_t i = 0; i < 300000; i++)
		big[i] = (unsigned char)(i * 7919 >> 3);
	check_blob(conn, big, 300000);
	free(big);

	/* Blobs of every length up to two words, each read right after a
	 * reply that left non-zero bytes in the server's buffer: servers do
	 * not zero a blob's padding, and the client must not care. */
	char fill[512];
	memset(fill, 'Z', sizeof fill - 1);
	fill[sizeof fill - 1] = '\0';
	for (size_t len = 1; len <= 17; len++) {
		unsigned char buf[17];
		for (size_t i = 0; i < len; i++)
			buf[i] = (unsigned char)(i + 1);
		dqlc_value_t pf = DQLC_TEXT(fill), pb = DQLC_BLOB(buf, len);
		r = query_ok(conn, "SELECT ?", &pf, 1);
		dqlc_result_free(r);
		r = query_ok(conn, "SELECT ?", &pb, 1);
		size_t got_len = 0;
		const void *got = dqlc_result_blob(r, 0, 0, &got_len);
		ck_assert_uint_eq(got_len, len);
		ck_assert(memcmp(got, buf, len) == 0);
		dqlc_result_free(r);
	}

	/* NULL in every column. */
	const char *cols[] = {"i", "f", "s", "b", "a"};
	for (size_t c = 0; c < sizeof cols / sizeof cols[0]; c++) {
		r = roundtrip(conn, cols[c], DQLC_NULL);
		ck_assert_int_eq(dqlc_result_type(r, 0, 0), DQLC_TYPE_NULL);
		ck_assert_str_eq(storage(r), "null");
		ck_assert_int_eq(dqlc_result_int64(r, 0, 0), 0);
		ck_assert_ptr_null(dqlc_result_text(r, 0, 0, NULL));
		dqlc_result_free(r);
	}

	/* BOOLEAN: stored as 0/1; a BOOLEAN column says so. */
	r = roundtrip(conn, "bo", DQLC_BOOL(true));
	ck_assert_int_eq(dqlc_result_type(r, 0, 0), DQLC_TYPE_BOOLEAN);
	ck_assert_int_eq(dqlc_result_value(r, 0, 0)->v.i, 1);
	ck_assert_str_eq(storage(r), "integer");
	dqlc_result_free(r);
	r = roundtrip(conn, "bo", DQLC_BOOL(false));
	ck_assert_int_eq(dqlc_result_type(r, 0, 0), DQLC_TYPE_BOOLEAN);
	ck_assert_int_eq(dqlc_result_value(r, 0, 0)->v.i, 0);
	dqlc_result_free(r);
	r = roundtrip(conn, "a", DQLC_BOOL(true)); /* untyped column: a plain integer */
	ck_assert_int_eq(dqlc_result_type(r, 0, 0), DQLC_TYPE_INTEGER);
	ck_assert_int_eq(dqlc_result_value(r, 0, 0)->v.i, 1);
	dqlc_result_free(r);

	/* BOOLEAN NULL: the server sends false.  The ambiguity, documented:
	 * the row holds NULL (typeof says so) but the value is BOOLEAN 0. */
	r = roundtrip(conn, "bo", DQLC_NULL);
	ck_assert_int_eq(dqlc_result_type(r, 0, 0), DQLC_TYPE_BOOLEAN);
	ck_assert_int_eq(dqlc_result_value(r, 0, 0)->v.i, 0);
	ck_assert_str_eq(storage(r), "null");
	dqlc_result_free(r);

	/* ISO8601 into a DATETIME column: text in, ISO8601 out. */
	const char *when = "2024-02-29 23:59:58.123456789+01:00";
	r = roundtrip(conn, "d", DQLC_ISO8601(when));
	ck_assert_int_eq(dqlc_result_type(r, 0, 0), DQLC_TYPE_ISO8601);
	ck_assert_str_eq(dqlc_result_text(r, 0, 0, NULL), when);
	ck_assert_str_eq(storage(r), "text");
	dqlc_result_free(r);
	/* ... and into an untyped column it is just TEXT. */
	r = roundtrip(conn, "a", DQLC_ISO8601(when));
	ck_assert_int_eq(dqlc_result_type(r, 0, 0), DQLC_TYPE_TEXT);
	ck_assert_str_eq(dqlc_result_text(r, 0, 0, NULL), when);
	dqlc_result_free(r);

	/* UNIXTIME: sent as an integer (servers refuse the UNIXTIME param
	 * type); a DATETIME column gives it back as UNIXTIME. */
	r = roundtrip(conn, "d", DQLC_UNIXTIME(1700000000));
	ck_assert_int_eq(dqlc_result_type(r, 0, 0), DQLC_TYPE_UNIXTIME);
	ck_assert_int_eq(dqlc_result_value(r, 0, 0)->v.i, 1700000000);
	ck_assert_str_eq(storage(r), "integer");
	dqlc_result_free(r);
	r = roundtrip(conn, "i", DQLC_UNIXTIME(-86400));
	ck_assert_int_eq(dqlc_result_type(r, 0, 0), DQLC_TYPE_INTEGER);
	ck_assert_int_eq(dqlc_result_value(r, 0, 0)->v.i, -86400);
	dqlc_result_free(r);

	/* DATETIME NULL: the server sends ISO8601 "", the library gives NULL. */
	r = roundtrip(conn, "d", DQLC_NULL);
	ck_assert_int_eq(dqlc_result_type(r, 0, 0), DQLC_TYPE_NULL);
	ck_assert_str_eq(storage(r), "null");
	dqlc_result_free(r);
	/* The other side of that rule: an EMPTY string stored in a DATETIME
	 * column cannot be told from NULL either; it comes back as NULL. */
	r = roundtrip(conn, "d", DQLC_TEXT(""));
	ck_assert_int_eq(dqlc_result_type(r, 0, 0), DQLC_TYPE_NULL);
	ck_assert_str_eq(storage(r), "text");
	dqlc_result_free(r);

	/* Many parameters of mixed types in one statement (two header words). */
	dqlc_value_t row[] = {DQLC_INT(INT64_MIN), DQLC_FLOAT(-INFINITY), DQLC_TEXT(""),
			      DQLC_BLOB("\0x\0", 3), DQLC_NULL, DQLC_ISO8601("2001-01-01"),
			      DQLC_BOOL(true), DQLC_INT(99)};
	dqlc_result_t *res = NULL;
	dqlc_error_t err = {0};
	ck_assert_msg(dqlc_conn_exec(conn, "INSERT INTO v (i, f, s, b, a, d, bo, k) VALUES "
					   "(?, ?, ?, ?, ?, ?, ?, ?)",
				     row, 8, &res, &err) == 0,
		      "%s", err.message);
	ck_assert_int_eq(dqlc_result_last_insert_id(res), 99);
	dqlc_result_free(res);
	dqlc_value_t key = DQLC_INT(99);
	r = query_ok(conn, "SELECT i, f, s, b, a, d, bo FROM v WHERE k = ?", &key, 1);
	ck_assert_int_eq(dqlc_result_value(r, 0, 0)->v.i, INT64_MIN);
	ck_assert(isinf(dqlc_result_double(r, 0, 1)) && dqlc_result_double(r, 0, 1) < 0);
	ck_assert_int_eq(dqlc_result_type(r, 0, 2), DQLC_TYPE_TEXT);
	ck_assert_uint_eq(dqlc_result_value(r, 0, 2)->v.s.n, 0);
	size_t blen;
	const void *bp = dqlc_result_blob(r, 0, 3, &blen);
	ck_assert_uint_eq(blen, 3);
	ck_assert(memcmp(bp, "\0x\0", 3) == 0);
	ck_assert_int_eq(dqlc_result_type(r, 0, 4), DQLC_TYPE_NULL);
	ck_assert_int_eq(dqlc_result_type(r, 0, 5), DQLC_TYPE_ISO8601);
	ck_assert_int_eq(dqlc_result_type(r, 0, 6), DQLC_TYPE_BOOLEAN);
	dqlc_result_free(r);

	dqlc_conn_close(conn);
}
END_TEST

/* ---- results -------------------------------------------------------------------- */

#define BIG_ROWS 100000

START_TEST(test_big_result)
{
	dqlc_conn_t *conn = connect_db(shared, "sql_big");
	exec_ok(conn, "CREATE TABLE big (id INTEGER PRIMARY KEY, name TEXT, half INTEGER)");
	dqlc_value_t n = DQLC_INT(BIG_ROWS);
	dqlc_result_t *res = NULL;
	dqlc_error_t err = {0};
	ck_assert_msg(dqlc_conn_exec(conn,
				     "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c "
				     "WHERE x < ?) INSERT INTO big (id, name, half) "
				     "SELECT x, printf('row-%06d', x), x / 2 FROM c",
				     &n, 1, &res, &err) == 0,
		      "%s", err.message);
	ck_assert_int_eq(dqlc_result_rows_affected(res), BIG_ROWS);
	ck_assert_int_eq(dqlc_result_last_insert_id(res), BIG_ROWS);
	dqlc_result_free(res);

	/* Buffered: complete and in order (the result spans many batches). */
	dqlc_result_t *r = query_ok(conn, "SELECT id, name, half FROM big ORDER BY id", NULL, 0);
	ck_assert_uint_eq(dqlc_result_row_count(r), BIG_ROWS);
	ck_assert_uint_eq(dqlc_result_column_count(r), 3);
	char want[32];
	for (size_t i = 0; i < BIG_ROWS; i++) {
		ck_assert_int_eq(dqlc_result_int64(r, i, 0), (int64_t)i + 1);
		snprintf(want, sizeof want, "row-%06zu", i + 1);
		ck_assert_str_eq(dqlc_result_text(r, i, 1, NULL), want);
		ck_assert_int_eq(dqlc_result_int64(r, i, 2), (int64_t)(i + 1) / 2);
	}
	ck_assert_ptr_null(dqlc_result_value(r, BIG_ROWS, 0));
	dqlc_result_free(r);

	/* Descending too, so order is not an accident of storage. */
	r = query_ok(conn, "SELECT id FROM big ORDER BY id DESC", NULL, 0);
	ck_assert_uint_eq(dqlc_result_row_count(r), BIG_ROWS);
	for (size_t i = 0; i < BIG_ROWS; i++)
		ck_assert_int_eq(dqlc_result_int64(r, i, 0), (int64_t)(BIG_ROWS - i));
	dqlc_result_free(r);

	/* Through a cursor, one batch at a time. */
	dqlc_cursor_t *cur = NULL;
	ck_assert_msg(dqlc_conn_cursor(conn, "SELECT id, name FROM big ORDER BY id", NULL, 0, &cur,
				       &err) == 0,
		      "%s", err.message);
	ck_assert_uint_eq(dqlc_cursor_column_count(cur), 2);
	ck_assert_str_eq(dqlc_cursor_column_name(cur, 0), "id");
	ck_assert_str_eq(dqlc_cursor_column_name(cur, 1), "name");
	size_t seen = 0;
	while (dqlc_cursor_next(cur)) {
		const dqlc_value_t *id = dqlc_cursor_value(cur, 0);
		const dqlc_value_t *name = dqlc_cursor_value(cur, 1);
		ck_assert_ptr_nonnull(id);
		ck_assert_int_eq(id->type, DQLC_TYPE_INTEGER);
		ck_assert_int_eq(id->v.i, (int64_t)seen + 1);
		snprintf(want, sizeof want, "row-%06zu", seen + 1);
		ck_assert_int_eq(name->type, DQLC_TYPE_TEXT);
		ck_assert_str_eq(name->v.s.p, want);
		ck_assert_ptr_null(dqlc_cursor_value(cur, 2));
		seen++;
	}
	ck_assert_int_eq(dqlc_cursor_error(cur, &err), 0);
	ck_assert_uint_eq(seen, BIG_ROWS);
	ck_assert(!dqlc_cursor_next(cur)); /* stays at the end */
	dqlc_cursor_close(cur);
	assert_conn_works(conn);
	dqlc_conn_close(conn);
}
END_TEST

START_TEST(test_exec_results)
{
	dqlc_conn_t *conn = connect_db(shared, "sql_exec");
	dqlc_result_t *res = NULL;
	dqlc_error_t err = {0};
	exec_ok(conn, "CREATE TABLE e (id INTEGER PRIMARY KEY, x INTEGER)");
	dqlc_value_t p[] = {DQLC_INT(10)};
	ck_assert_int_eq(dqlc_conn_exec(conn, "INSERT INTO e (x) VALUES (?)", p, 1, &res, &err), 0);
	ck_assert_int_eq(dqlc_result_last_insert_id(res), 1);
	ck_assert_int_eq(dqlc_result_rows_affected(res), 1);
	ck_assert_uint_eq(dqlc_result_row_count(res), 0);
	ck_assert_uint_eq(dqlc_result_column_count(res), 0);
	dqlc_result_free(res);
	ck_assert_int_eq(dqlc_conn_exec(conn, "INSERT INTO e (id, x) VALUES (1000, 1), (1001, 2), "
					      "(1002, 3)",
					NULL, 0, &res, &err),
			 0);
	ck_assert_int_eq(dqlc_result_last_insert_id(res), 1002);
	ck_assert_int_eq(dqlc_result_rows_affected(res), 3);
	dqlc_result_free(res);
	ck_assert_int_eq(dqlc_conn_exec(conn, "UPDATE e SET x = x + 1 WHERE x < 5", NULL, 0, &res,
					&err),
			 0);
	ck_assert_int_eq(dqlc_result_rows_affected(res), 3);
	dqlc_result_free(res);
	ck_assert_int_eq(dqlc_conn_exec(conn, "DELETE FROM e", NULL, 0, &res, &err), 0);
	ck_assert_int_eq(dqlc_result_rows_affected(res), 4);
	dqlc_result_free(res);
	/* out may be NULL. */
	ck_assert_int_eq(dqlc_conn_exec(conn, "INSERT INTO e (x) VALUES (?)", p, 1, NULL, &err), 0);

	/* A script runs every statement; the parameters bind to the first. */
	ck_assert_msg(dqlc_conn_exec(conn, "INSERT INTO e (id, x) VALUES (2000, ?); "
					   "INSERT INTO e (id, x) VALUES (2001, 7);",
				     p, 1, &res, &err) == 0,
		      "%s", err.message);
	ck_assert_int_eq(dqlc_result_last_insert_id(res), 2001);
	dqlc_result_free(res);
	dqlc_value_t v;
	ck_assert_int_eq(dqlc_conn_fetchval(conn, "SELECT sum(x) FROM e WHERE id >= 2000", NULL, 0,
					    &v, &err),
			 0);
	ck_assert_int_eq(v.v.i, 17);
	dqlc_conn_close(conn);
}
END_TEST

START_TEST(test_columns_by_name)
{
	dqlc_conn_t *conn = connect_db(shared, "sql_names");
	exec_ok(conn, "CREATE TABLE people (id INTEGER PRIMARY KEY, name TEXT, Age INTEGER)");
	exec_ok(conn, "INSERT INTO people (name, Age) VALUES ('ada', 36), ('alan', 41)");
	dqlc_result_t *r = query_ok(conn, "SELECT * FROM people ORDER BY id", NULL, 0);
	ck_assert_uint_eq(dqlc_result_column_count(r), 3);
	ck_assert_str_eq(dqlc_result_column_name(r, 0), "id");
	ck_assert_str_eq(dqlc_result_column_name(r, 1), "name");
	ck_assert_str_eq(dqlc_result_column_name(r, 2), "Age");
	ck_assert_ptr_null(dqlc_result_column_name(r, 3));
	ck_assert_int_eq(dqlc_result_column_index(r, "name"), 1);
	ck_assert_int_eq(dqlc_result_column_index(r, "age"), 2); /* case-insensitive */
	ck_assert_int_eq(dqlc_result_column_index(r, "nope"), -1);
	ck_assert_int_eq(dqlc_result_column_index(r, NULL), -1);
	/* fetch: rows as dicts. */
	const char *names[] = {"ada", "alan"};
	int64_t ages[] = {36, 41};
	for (size_t i = 0; i < 2; i++) {
		const dqlc_value_t *v = dqlc_result_value_by_name(r, i, "name");
		ck_assert_ptr_nonnull(v);
		ck_assert_int_eq(v->type, DQLC_TYPE_TEXT);
		ck_assert_str_eq(v->v.s.p, names[i]);
		v = dqlc_result_value_by_name(r, i, "Age");
		ck_assert_int_eq(v->v.i, ages[i]);
	}
	ck_assert_ptr_null(dqlc_result_value_by_name(r, 0, "nope"));
	ck_assert_ptr_null(dqlc_result_value_by_name(r, 2, "name")); /* no such row */
	ck_assert_ptr_null(dqlc_result_value(r, 0, 3));
	ck_assert_int_eq(dqlc_result_type(r, 9, 9), DQLC_TYPE_NULL);
	dqlc_result_free(r);

	/* Aliases; an exact match wins over a case-insensitive one. */
	r = query_ok(conn, "SELECT 1 AS a, 2 AS A, 'x' AS \"two words\"", NULL, 0);
	ck_assert_int_eq(dqlc_result_column_index(r, "a"), 0);
	ck_assert_int_eq(dqlc_result_column_index(r, "A"), 1);
	ck_assert_int_eq(dqlc_result_column_index(r, "two words"), 2);
	dqlc_result_free(r);

	/* A query with no rows still names its columns. */
	r = query_ok(conn, "SELECT id, name FROM people WHERE id < 0", NULL, 0);
	ck_assert_uint_eq(dqlc_result_row_count(r), 0);
	ck_assert_uint_eq(dqlc_result_column_count(r), 2);
	ck_assert_str_eq(dqlc_result_column_name(r, 1), "name");
	dqlc_result_free(r);
	dqlc_conn_close(conn);
}
END_TEST

START_TEST(test_fetchval)
{
	dqlc_conn_t *conn = connect_db(shared, "sql_fetchval");
	dqlc_value_t v;
	dqlc_error_t err = {0};
	exec_ok(conn, "CREATE TABLE fv (x TEXT)");
	exec_ok(conn, "INSERT INTO fv VALUES ('first'), ('second')");
	ck_assert_int_eq(dqlc_conn_fetchval(conn, "SELECT x FROM fv ORDER BY rowid", NULL, 0, &v,
					    &err),
			 0);
	ck_assert_int_eq(v.type, DQLC_TYPE_TEXT);
	ck_assert_uint_eq(v.v.s.n, 5);
	ck_assert_str_eq(v.v.s.p, "first");
	dqlc_value_clear(&v); /* owned copy */
	ck_assert_int_eq(v.type, DQLC_TYPE_NULL);

	/* No row: 0 and a NULL value. */
	v = DQLC_INT(7);
	ck_assert_int_eq(dqlc_conn_fetchval(conn, "SELECT x FROM fv WHERE 0", NULL, 0, &v, &err), 0);
	ck_assert_int_eq(v.type, DQLC_TYPE_NULL);

	dqlc_value_t p[] = {DQLC_BLOB("\0\1", 2)};
	ck_assert_int_eq(dqlc_conn_fetchval(conn, "SELECT ?", p, 1, &v, &err), 0);
	ck_assert_int_eq(v.type, DQLC_TYPE_BLOB);
	ck_assert_uint_eq(v.v.s.n, 2);
	ck_assert(memcmp(v.v.s.p, "\0\1", 2) == 0);
	dqlc_value_clear(&v);

	/* An error leaves a NULL value (nothing to free). */
	v = DQLC_INT(7);
	ck_assert_int_eq(dqlc_conn_fetchval(conn, "SELECT nope FROM fv", NULL, 0, &v, &err),
			 DQLC_ESQL);
	ck_assert_int_eq(v.type, DQLC_TYPE_NULL);
	ck_assert_int_eq(dqlc_conn_fetchval(conn, "SELECT 1", NULL, 0, NULL, &err), DQLC_EINVAL);
	assert_conn_works(conn);
	dqlc_conn_close(conn);
}
END_TEST

/* ---- SQL errors ------------------------------------------------------------------ */

static void expect_sql_error(dqlc_conn_t *conn, const char *sql, const dqlc_value_t *params,
			     size_t n, int code, const char *needle)
{
	dqlc_error_t err = {0};
	int rc = dqlc_conn_exec(conn, sql, params, n, NULL, &err);
	ck_assert_msg(rc == DQLC_ESQL, "%s: got %s (%s)", sql, dqlc_errname(rc), err.message);
	ck_assert_int_eq(err.code, DQLC_ESQL);
	ck_assert_msg(err.sqlite_code == code, "%s: sqlite code %d, want %d (%s)", sql,
		      err.sqlite_code, code, err.message);
	ck_assert_msg(strstr(err.message, needle) != NULL, "%s: message '%s' lacks '%s'", sql,
		      err.message, needle);
	ck_assert_msg(!(err.flags & (DQLC_ERRF_RETRYABLE | DQLC_ERRF_LEADER_CHANGED)),
		      "flags 0x%x", err.flags);
	assert_conn_works(conn); /* an SQL error never breaks the connection */
}

START_TEST(test_sql_errors)
{
	dqlc_conn_t *conn = connect_db(shared, "sql_errors");
	exec_ok(conn, "CREATE TABLE parent (id INTEGER PRIMARY KEY)");
	exec_ok(conn, "CREATE TABLE u (k TEXT UNIQUE, nn TEXT NOT NULL, "
		      "p INTEGER REFERENCES parent(id))");
	exec_ok(conn, "INSERT INTO u (k, nn) VALUES ('a', 'x')");

	expect_sql_error(conn, "SELEKT 1", NULL, 0, 1, "syntax error");
	expect_sql_error(conn, "INSERT INTO nowhere VALUES (1)", NULL, 0, 1, "no such table");
	expect_sql_error(conn, "INSERT INTO u (k, nn) VALUES ('a', 'y')", NULL, 0, 2067,
			 "UNIQUE constraint failed: u.k");
	expect_sql_error(conn, "INSERT INTO u (k, nn) VALUES ('b', NULL)", NULL, 0, 1299,
			 "NOT NULL constraint failed: u.nn");
	/* dqlite turns foreign keys on. */
	expect_sql_error(conn, "INSERT INTO u (k, nn, p) VALUES ('c', 'z', 12345)", NULL, 0, 787,
			 "FOREIGN KEY constraint failed");
	dqlc_value_t two[] = {DQLC_TEXT("d"), DQLC_TEXT("e")};
	/* 1.11 passes SQLite's message on; 1.18 says what failed. */
	expect_sql_error(conn, "INSERT INTO u (k, nn) VALUES (?, 'x')", two, 2, 25,
			 tc_server_is_1_11() ? "column index out of range" : "bind parameters");
	/* Nothing from the failed statements was written. */
	ck_assert_int_eq(count_of(conn, "u"), 1);

	/* The same through query. */
	dqlc_result_t *r = NULL;
	dqlc_error_t err = {0};
	ck_assert_int_eq(dqlc_conn_query(conn, "SELECT * FROM WHERE x", NULL, 0, &r, &err), DQLC_ESQL);
	ck_assert_int_eq(err.sqlite_code, 1);
	ck_assert_msg(strstr(err.message, "syntax error") != NULL, "%s", err.message);
	ck_assert_ptr_null(r);
	/* An empty statement is an error, not a success with no rows. */
	ck_assert_int_ne(dqlc_conn_query(conn, "   ", NULL, 0, &r, &err), 0);
	ck_assert_ptr_null(r);
	assert_conn_works(conn);
	/* Bad arguments are refused before anything is sent. */
	ck_assert_int_eq(dqlc_conn_exec(conn, NULL, NULL, 0, NULL, &err), DQLC_EINVAL);
	ck_assert_int_eq(dqlc_conn_exec(conn, "SELECT ?", NULL, 1, NULL, &err), DQLC_EINVAL);
	ck_assert_int_eq(dqlc_conn_query(conn, "SELECT 1", NULL, 0, NULL, &err), DQLC_EINVAL);
	ck_assert_int_eq(dqlc_conn_exec(NULL, "SELECT 1", NULL, 0, NULL, &err), DQLC_EINVAL);
	assert_conn_works(conn);
	dqlc_conn_close(conn);
}
END_TEST

/* ---- prepared statements ------------------------------------------------------- */

/* The statement answers with its own marker and the parameter. */
static void assert_marker(dqlc_stmt_t *s, const char *marker, int64_t x)
{
	dqlc_result_t *r = NULL;
	dqlc_error_t err = {0};
	dqlc_value_t p[] = {DQLC_INT(x)};
	ck_assert_msg(dqlc_stmt_query(s, p, 1, &r, &err) == 0, "%s: %s", marker, err.message);
	ck_assert_uint_eq(dqlc_result_row_count(r), 1);
	ck_assert_str_eq(dqlc_result_text(r, 0, 0, NULL), marker);
	ck_assert_int_eq(dqlc_result_int64(r, 0, 1), x);
	dqlc_result_free(r);
}

static dqlc_stmt_t *prepare_marker(dqlc_conn_t *conn, const char *marker)
{
	char sql[64];
	dqlc_stmt_t *s = NULL;
	dqlc_error_t err = {0};
	snprintf(sql, sizeof sql, "SELECT '%s', ?", marker);
	ck_assert_msg(dqlc_conn_prepare(conn, sql, &s, &err) == 0, "%s", err.message);
	ck_assert_uint_eq(dqlc_stmt_param_count(s), 1);
	return s;
}

START_TEST(test_prepared)
{
	dqlc_conn_t *conn = connect_db(shared, "sql_prepared");
	dqlc_error_t err = {0};
	dqlc_result_t *res = NULL;
	exec_ok(conn, "CREATE TABLE p (id INTEGER PRIMARY KEY, a INTEGER, b TEXT)");

	dqlc_stmt_t *ins = NULL, *sel = NULL;
	ck_assert_msg(dqlc_conn_prepare(conn, "INSERT INTO p (a, b) VALUES (?, ?)", &ins, &err) == 0,
		      "%s", err.message);
	ck_assert_uint_eq(dqlc_stmt_param_count(ins), 2);
	ck_assert_msg(dqlc_conn_prepare(conn, "SELECT a, b FROM p WHERE id = ?", &sel, &err) == 0,
		      "%s", err.message);
	ck_assert_uint_eq(dqlc_stmt_param_count(sel), 1);

	/* Reuse many times, bound by index, with different types. */
	for (int i = 1; i <= 300; i++) {
		char b[32];
		snprintf(b, sizeof b, "b%d", i);
		dqlc_value_t p[] = {DQLC_INT(i * 3), i % 10 == 0 ? DQLC_NULL : DQLC_TEXT(b)};
		ck_assert_msg(dqlc_stmt_exec(ins, p, 2, &res, &err) == 0, "%s", err.message);
		ck_assert_int_eq(dqlc_result_last_insert_id(res), i);
		ck_assert_int_eq(dqlc_result_rows_affected(res), 1);
		dqlc_result_free(res);
	}
	for (int i = 1; i <= 300; i += 7) {
		dqlc_value_t key[] = {DQLC_INT(i)};
		dqlc_result_t *r = NULL;
		ck_assert_msg(dqlc_stmt_query(sel, key, 1, &r, &err) == 0, "%s", err.message);
		ck_assert_uint_eq(dqlc_result_row_count(r), 1);
		ck_assert_int_eq(dqlc_result_int64(r, 0, 0), i * 3);
		/* NULL params are sent, not left over from the previous call. */
		if (i % 10 == 0)
			ck_assert(dqlc_result_is_null(r, 0, 1));
		else
			ck_assert_int_eq(atoi(dqlc_result_text(r, 0, 1, NULL) + 1), i);
		ck_assert_int_eq(dqlc_result_column_index(r, "b"), 1);
		dqlc_result_free(r);
	}

	/* Wrong parameter counts are refused (the server would keep stale
	 * bindings). */
	dqlc_value_t three[] = {DQLC_INT(1), DQLC_INT(2), DQLC_INT(3)};
	ck_assert_int_eq(dqlc_stmt_exec(ins, three, 1, NULL, &err), DQLC_EINVAL);
	ck_assert_msg(strstr(err.message, "2") != NULL, "%s", err.message);
	ck_assert_int_eq(dqlc_stmt_exec(ins, three, 3, NULL, &err), DQLC_EINVAL);
	ck_assert_int_eq(dqlc_stmt_exec(ins, NULL, 0, NULL, &err), DQLC_EINVAL);
	ck_assert_int_eq(dqlc_stmt_query(sel, NULL, 0, &res, &err), DQLC_EINVAL);
	ck_assert_int_eq(dqlc_stmt_exec(NULL, NULL, 0, NULL, &err), DQLC_EINVAL);
	ck_assert_int_eq(count_of(conn, "p"), 300);

	/* A bad statement does not prepare. */
	dqlc_stmt_t *bad = (dqlc_stmt_t *)&err;
	ck_assert_int_eq(dqlc_conn_prepare(conn, "SELECT FROM WHERE", &bad, &err), DQLC_ESQL);
	ck_assert_int_eq(err.sqlite_code, 1);
	ck_assert_ptr_null(bad);

	/* Ids are reused by the server: prepare A, B; finalize A; prepare C
	 * (it gets A's old id); B and C each still run their own SQL. */
	dqlc_stmt_t *a = prepare_marker(conn, "A");
	dqlc_stmt_t *b = prepare_marker(conn, "B");
	assert_marker(a, "A", 1);
	dqlc_stmt_finalize(a);
	dqlc_stmt_t *c = prepare_marker(conn, "C");
	assert_marker(b, "B", 2);
	assert_marker(c, "C", 3);
	/* Many cycles with B alive across all of them. */
	for (int i = 0; i < 200; i++) {
		char m[16];
		snprintf(m, sizeof m, "M%d", i);
		dqlc_stmt_t *x = prepare_marker(conn, m);
		assert_marker(x, m, i);
		if (i % 3 == 0)
			assert_marker(b, "B", i);
		dqlc_stmt_finalize(x);
	}
	assert_marker(b, "B", 4);
	assert_marker(c, "C", 5);
	dqlc_stmt_finalize(c);
	dqlc_stmt_finalize(b);
	dqlc_stmt_finalize(NULL);
	assert_conn_works(conn);

	/* Statements outlive their connection only as dead handles. */
	dqlc_conn_close(conn);
	dqlc_value_t p2[] = {DQLC_INT(1), DQLC_TEXT("x")};
	ck_assert_int_eq(dqlc_stmt_exec(ins, p2, 2, NULL, &err), DQLC_EMISUSE);
	ck_assert_int_eq(err.code, DQLC_EMISUSE);
	dqlc_value_t k1[] = {DQLC_INT(1)};
	ck_assert_int_eq(dqlc_stmt_query(sel, k1, 1, &res, &err), DQLC_EMISUSE);
	ck_assert_ptr_null(res);
	dqlc_stmt_finalize(ins); /* a plain free now */
	dqlc_stmt_finalize(sel);
}
END_TEST

/* ---- transactions ----------------------------------------------------------------- */

START_TEST(test_transactions)
{
	dqlc_conn_t *a = connect_db(shared, "sql_tx");
	dqlc_conn_t *b = connect_db(shared, "sql_tx");
	dqlc_error_t err = {0};
	exec_ok(a, "CREATE TABLE tx (x INTEGER UNIQUE)");

	/* BEGIN ... COMMIT: invisible until committed, then visible. */
	ck_assert(!dqlc_conn_in_transaction(a));
	ck_assert_msg(dqlc_conn_begin(a, &err) == 0, "%s", err.message);
	ck_assert(dqlc_conn_in_transaction(a));
	exec_ok(a, "INSERT INTO tx VALUES (1)");
	exec_ok(a, "INSERT INTO tx VALUES (2)");
	ck_assert_int_eq(count_of(a, "tx"), 2); /* its own writes */
	ck_assert_int_eq(count_of(b, "tx"), 0);
	/* A second writer meets the open write transaction: BUSY at once. */
	int rc = dqlc_conn_exec(b, "INSERT INTO tx VALUES (100)", NULL, 0, NULL, &err);
	ck_assert_int_eq(rc, DQLC_ESQL);
	ck_assert_int_eq(err.sqlite_code & 0xff, DQLC_SQLITE_BUSY);
	/* Beginning twice is a caller mistake. */
	ck_assert_int_eq(dqlc_conn_begin(a, &err), DQLC_EMISUSE);
	ck_assert(dqlc_conn_in_transaction(a));
	/* A failing statement does not end the transaction. */
	rc = dqlc_conn_exec(a, "INSERT INTO tx VALUES (1)", NULL, 0, NULL, &err);
	ck_assert_int_eq(err.sqlite_code, 2067);
	ck_assert(dqlc_conn_in_transaction(a));
	ck_assert_msg(dqlc_conn_commit(a, &err) == 0, "%s", err.message);
	ck_assert(!dqlc_conn_in_transaction(a));
	ck_assert_int_eq(count_of(b, "tx"), 2);

	/* BEGIN ... ROLLBACK: never visible. */
	ck_assert_int_eq(dqlc_conn_begin(a, &err), 0);
	exec_ok(a, "INSERT INTO tx VALUES (3)");
	ck_assert_int_eq(count_of(a, "tx"), 3);
	ck_assert_msg(dqlc_conn_rollback(a, &err) == 0, "%s", err.message);
	ck_assert(!dqlc_conn_in_transaction(a));
	ck_assert_int_eq(count_of(a, "tx"), 2);
	ck_assert_int_eq(count_of(b, "tx"), 2);

	/* COMMIT without BEGIN is misuse; ROLLBACK without BEGIN is harmless. */
	ck_assert_int_eq(dqlc_conn_commit(a, &err), DQLC_EMISUSE);
	ck_assert_int_eq(dqlc_conn_rollback(a, &err), 0);
	/* Transactions by SQL text are tracked too. */
	exec_ok(a, "BEGIN IMMEDIATE");
	ck_assert(dqlc_conn_in_transaction(a));
	exec_ok(a, "INSERT INTO tx VALUES (4)");
	exec_ok(a, "END");
	ck_assert(!dqlc_conn_in_transaction(a));
	ck_assert_int_eq(count_of(b, "tx"), 3);
	/* The other connection writes again once the lock is gone. */
	exec_ok(b, "INSERT INTO tx VALUES (5)");
	ck_assert_int_eq(count_of(a, "tx"), 4);
	dqlc_conn_close(b);
	dqlc_conn_close(a);
}
END_TEST

/* ---- cancellation and cursors ------------------------------------------------------ */

/* About 2 M rows (~60 MB on the wire): long enough that a cancel lands
 * mid-stream; the drain still reads it all (a 1.11 server cannot stop). */
#define LONG_QUERY                                                                        \
	"WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 2000000) " \
	"SELECT x, 'padding padding padding' FROM c"

struct runner {
	dqlc_conn_t *conn;
	atomic_int started, done;
	int rc;
	dqlc_error_t err;
	size_t rows;
};

static void *run_long_query(void *arg)
{
	struct runner *q = arg;
	dqlc_result_t *r = NULL;
	atomic_store(&q->started, 1);
	q->rc = dqlc_conn_query(q->conn, LONG_QUERY, NULL, 0, &r, &q->err);
	q->rows = dqlc_result_row_count(r);
	dqlc_result_free(r);
	atomic_store(&q->done, 1);
	return NULL;
}

START_TEST(test_cancel_query)
{
	dqlc_conn_t *conn = connect_db(shared, "sql_cancel");
	struct runner q = {.conn = conn};
	pthread_t th;
	/* Cancel with nothing running is a no-op. */
	dqlc_conn_cancel(conn);
	dqlc_conn_cancel(NULL);
	assert_conn_works(conn);

	ck_assert_int_eq(dqlc_conn_set_timeout(conn, 120000, NULL), 0);
	ck_assert_int_eq(pthread_create(&th, NULL, run_long_query, &q), 0);
	while (!atomic_load(&q.started))
		hp_sleep_ms(1);
	/* Keep asking until the call returns: a cancel before the call
	 * started is a no-op by contract, so repeat rather than guess. */
	int64_t deadline = hp_now_ms() + 60000;
	while (!atomic_load(&q.done) && hp_now_ms() < deadline) {
		dqlc_conn_cancel(conn);
		hp_sleep_ms(5);
	}
	pthread_join(th, NULL);
	ck_assert_msg(q.rc == DQLC_ECANCELED, "query returned %s (%s), %zu rows",
		      dqlc_errname(q.rc), q.err.message, q.rows);
	ck_assert_int_eq(q.err.code, DQLC_ECANCELED);
	ck_assert_uint_eq(q.rows, 0);
	/* Drained: the very same connection answers the next query right. */
	assert_conn_works(conn);
	dqlc_result_t *r = query_ok(conn, "SELECT 'after', 2 * 21", NULL, 0);
	ck_assert_str_eq(dqlc_result_text(r, 0, 0, NULL), "after");
	ck_assert_int_eq(dqlc_result_int64(r, 0, 1), 42);
	dqlc_result_free(r);
	exec_ok(conn, "CREATE TABLE after_cancel (x)");
	exec_ok(conn, "INSERT INTO after_cancel VALUES (1)");
	ck_assert_int_eq(count_of(conn, "after_cancel"), 1);
	dqlc_conn_close(conn);
}
END_TEST

START_TEST(test_cursor_early_close)
{
	dqlc_conn_t *conn = connect_db(shared, "sql_cursor");
	dqlc_cursor_t *cur = NULL;
	dqlc_error_t err = {0};
	dqlc_value_t lim = DQLC_INT(300000);
	ck_assert_msg(dqlc_conn_cursor(conn,
				       "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 "
				       "FROM c WHERE x < ?) SELECT x AS n, x * x AS sq FROM c",
				       &lim, 1, &cur, &err) == 0,
		      "%s", err.message);
	ck_assert_str_eq(dqlc_cursor_column_name(cur, 1), "sq");
	for (int64_t i = 1; i <= 10; i++) {
		ck_assert(dqlc_cursor_next(cur));
		ck_assert_int_eq(dqlc_cursor_value(cur, 0)->v.i, i);
		ck_assert_int_eq(dqlc_cursor_value(cur, 1)->v.i, i * i);
	}
	/* The cursor pins the connection. */
	dqlc_result_t *r = NULL;
	ck_assert_int_eq(dqlc_conn_query(conn, "SELECT 1", NULL, 0, &r, &err), DQLC_EMISUSE);
	ck_assert_ptr_null(r);
	dqlc_cursor_close(cur); /* INTERRUPT + drain */
	assert_conn_works(conn);
	r = query_ok(conn, "SELECT 'still in sync'", NULL, 0);
	ck_assert_str_eq(dqlc_result_text(r, 0, 0, NULL), "still in sync");
	dqlc_result_free(r);

	/* Closed before reading anything, and a cursor over an empty result. */
	ck_assert_int_eq(dqlc_conn_cursor(conn,
					  "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 "
					  "FROM c WHERE x < ?) SELECT x FROM c",
					  &lim, 1, &cur, &err),
			 0);
	dqlc_cursor_close(cur);
	assert_conn_works(conn);
	ck_assert_int_eq(dqlc_conn_cursor(conn, "SELECT 1 WHERE 0", NULL, 0, &cur, &err), 0);
	ck_assert(!dqlc_cursor_next(cur));
	ck_assert_int_eq(dqlc_cursor_error(cur, &err), 0);
	ck_assert_uint_eq(dqlc_cursor_column_count(cur), 1);
	dqlc_cursor_close(cur);
	/* An error from the server through a cursor. */
	cur = NULL;
	ck_assert_int_eq(dqlc_conn_cursor(conn, "SELECT nope", NULL, 0, &cur, &err), DQLC_ESQL);
	ck_assert_int_eq(err.sqlite_code, 1);
	ck_assert_ptr_null(cur);
	assert_conn_works(conn);
	dqlc_conn_close(conn);
}
END_TEST

struct cursor_runner {
	dqlc_cursor_t *cur;
	atomic_int done;
	atomic_size_t rows;
};

/* A slow consumer: it pauses now and then, so the server's rows pile up in
 * the socket buffers and every read finds data waiting.  A cancel must be
 * seen even then (not only when the socket runs dry). */
static void *drain_cursor(void *arg)
{
	struct cursor_runner *q = arg;
	while (dqlc_cursor_next(q->cur)) {
		if (atomic_fetch_add(&q->rows, 1) % 5000 == 4999)
			hp_sleep_ms(20);
	}
	atomic_store(&q->done, 1);
	return NULL;
}

START_TEST(test_cancel_cursor)
{
	dqlc_conn_t *conn = connect_db(shared, "sql_cancel_cursor");
	dqlc_error_t err = {0};
	struct cursor_runner q = {0};
	pthread_t th;
	ck_assert_int_eq(dqlc_conn_set_timeout(conn, 120000, NULL), 0);
	ck_assert_int_eq(dqlc_conn_cursor(conn, LONG_QUERY, NULL, 0, &q.cur, &err), 0);
	ck_assert_int_eq(pthread_create(&th, NULL, drain_cursor, &q), 0);
	/* Well into the stream, with the buffers full behind the consumer. */
	while (atomic_load(&q.rows) < 20000 && !atomic_load(&q.done))
		hp_sleep_ms(1);
	int64_t t0 = hp_now_ms(), deadline = t0 + 60000;
	size_t at_cancel = atomic_load(&q.rows);
	while (!atomic_load(&q.done) && hp_now_ms() < deadline) {
		dqlc_conn_cancel(conn);
		hp_sleep_ms(5);
	}
	pthread_join(th, NULL);
	ck_assert_int_eq(dqlc_cursor_error(q.cur, &err), DQLC_ECANCELED);
	ck_assert_int_eq(err.code, DQLC_ECANCELED);
	/* Stopped within a few batches of the cancel, not at the end. */
	size_t rows = atomic_load(&q.rows);
	ck_assert_msg(rows < at_cancel + 20000, "%zu rows read after the cancel (of 2000000)",
		      rows - at_cancel);
	dqlc_cursor_close(q.cur);
	assert_conn_works(conn);
	dqlc_conn_close(conn);
}
END_TEST

/* ---- requests that crash a 1.11 server are refused (own cluster) ------------------ */

START_TEST(test_returning_refused)
{
	dqlc_conn_t *conn = connect_db(own, "safety");
	dqlc_error_t err = {0};
	dqlc_result_t *r = NULL;
	exec_ok(conn, "CREATE TABLE rt (id INTEGER PRIMARY KEY, x INTEGER)");

	int rc = dqlc_conn_query(conn, "INSERT INTO rt (x) VALUES (1) RETURNING id", NULL, 0, &r,
				 &err);
	ck_assert_int_eq(rc, DQLC_EINVAL);
	ck_assert_int_eq(err.code, DQLC_EINVAL);
	ck_assert_msg(strstr(err.message, "RETURNING") != NULL, "%s", err.message);
	ck_assert_ptr_null(r);
	/* However it is spelled or reached. */
	ck_assert_int_eq(dqlc_conn_query(conn, "update rt set x = 2 /* c */ returning\n*", NULL,
					 0, &r, &err),
			 DQLC_EINVAL);
	dqlc_value_t v;
	ck_assert_int_eq(dqlc_conn_fetchval(conn, "DELETE FROM rt RETURNING id", NULL, 0, &v, &err),
			 DQLC_EINVAL);
	dqlc_cursor_t *cur = NULL;
	ck_assert_int_eq(dqlc_conn_cursor(conn, "INSERT INTO rt (x) VALUES (5) RETURNING *", NULL,
					  0, &cur, &err),
			 DQLC_EINVAL);
	ck_assert_ptr_null(cur);
	/* Preparing it is refused too: EXEC of it would leave the server's
	 * write transaction open and abort the leader later. */
	dqlc_stmt_t *s = NULL;
	ck_assert_int_eq(dqlc_conn_prepare(conn, "INSERT INTO rt (x) VALUES (?) RETURNING id", &s,
					   &err),
			 DQLC_EINVAL);
	ck_assert_ptr_null(s);
	ck_assert_int_eq(dqlc_conn_exec(conn, "INSERT INTO rt (x) VALUES (6) RETURNING id", NULL, 0,
					NULL, &err),
			 DQLC_EINVAL);
	/* The word inside a string or an identifier is not the keyword. */
	r = query_ok(conn, "SELECT 'returning' AS \"RETURNING\"", NULL, 0);
	ck_assert_str_eq(dqlc_result_text(r, 0, 0, NULL), "returning");
	dqlc_result_free(r);

	/* Nothing ran, the node is fine, and writes still replicate. */
	ck_assert_int_eq(count_of(conn, "rt"), 0);
	assert_conn_works(conn);
	exec_ok(conn, "INSERT INTO rt (x) VALUES (10)");
	exec_ok(conn, "INSERT INTO rt (x) VALUES (11)");
	ck_assert_int_eq(count_of(conn, "rt"), 2);
	dqlc_conn_close(conn);
	conn = connect_db(own, "safety");
	ck_assert_int_eq(count_of(conn, "rt"), 2);
	dqlc_conn_close(conn);
	assert_nodes_alive(own);
	ck_assert_int_eq(tc_unexpected_exits(own), 0);
}
END_TEST

/* EXEC of a statement that yields rows: the server answers 100 (and rolls
 * the statement back); the node and the connection stay fine. */
START_TEST(test_exec_row_statement)
{
	dqlc_conn_t *conn = connect_db(own, "safety_exec");
	dqlc_error_t err = {0};
	exec_ok(conn, "CREATE TABLE er (x INTEGER)");
	exec_ok(conn, "INSERT INTO er VALUES (1), (2)");
	int rc = dqlc_conn_exec(conn, "SELECT x FROM er", NULL, 0, NULL, &err);
	ck_assert_int_eq(rc, DQLC_ESQL);
	ck_assert_int_eq(err.sqlite_code, 100);
	ck_assert(dqlc_conn_usable(conn));
	assert_conn_works(conn);
	/* A prepared SELECT through stmt_exec: the same. */
	dqlc_stmt_t *s = NULL;
	ck_assert_int_eq(dqlc_conn_prepare(conn, "SELECT x FROM er", &s, &err), 0);
	ck_assert_int_eq(dqlc_stmt_exec(s, NULL, 0, NULL, &err), DQLC_ESQL);
	ck_assert_int_eq(err.sqlite_code, 100);
	dqlc_stmt_finalize(s);
	/* Writes after it replicate normally. */
	exec_ok(conn, "INSERT INTO er VALUES (3)");
	ck_assert_int_eq(count_of(conn, "er"), 3);
	dqlc_conn_close(conn);
	conn = connect_db(own, "safety_exec");
	ck_assert_int_eq(count_of(conn, "er"), 3);
	dqlc_conn_close(conn);
	assert_nodes_alive(own);
	ck_assert_int_eq(tc_unexpected_exits(own), 0);
}
END_TEST

/* ---- deadlines (own cluster: the leader gets SIGSTOPped) ------------------------- */

START_TEST(test_request_timeout)
{
	int leader = tc_leader(own);
	ck_assert_int_ge(leader, 0);
	dqlc_error_t err = {0};
	/* conn1: per-connection timeout set by call; conn2: from the URI. */
	dqlc_conn_t *c1 = connect_db(own, "deadline");
	char uri[512];
	snprintf(uri, sizeof uri, "%s?request_timeout_ms=700", tc_uri(own, "deadline"));
	dqlc_conn_t *c2 = NULL;
	ck_assert_msg(dqlc_connect(uri, NULL, &c2, &err) == 0, "%s", err.message);
	exec_ok(c1, "CREATE TABLE dl (x)");
	ck_assert_int_eq(dqlc_conn_set_timeout(c1, 600, &err), 0);
	ck_assert_int_eq(dqlc_conn_set_timeout(c1, -1, &err), DQLC_EINVAL);
	assert_conn_works(c1);
	assert_conn_works(c2);
	ck_assert_str_eq(dqlc_conn_address(c1), tc_node_address(own, leader));
	ck_assert_str_eq(dqlc_conn_address(c2), tc_node_address(own, leader));

	ck_assert_int_eq(tc_stop(own, leader), 0);

	/* A read: ETIMEDOUT at its deadline, not before, not much after. */
	dqlc_result_t *r = NULL;
	int64_t t0 = hp_now_ms();
	int rc = dqlc_conn_query(c1, "SELECT count(*) FROM dl", NULL, 0, &r, &err);
	int64_t took = hp_now_ms() - t0;
	ck_assert_msg(rc == DQLC_ETIMEDOUT, "got %s: %s", dqlc_errname(rc), err.message);
	ck_assert_int_eq(err.code, DQLC_ETIMEDOUT);
	ck_assert_ptr_null(r);
	ck_assert_msg(took >= 590 && took < 600 + SLACK_MS, "timed out after %lld ms (600)",
		      (long long)took);
	ck_assert_msg(!(err.flags & DQLC_ERRF_MAYBE_EXECUTED), "a read: flags 0x%x", err.flags);
	/* The stream is out of sync now: the connection is done. */
	ck_assert(!dqlc_conn_usable(c1));
	t0 = hp_now_ms();
	rc = dqlc_conn_query(c1, "SELECT 1", NULL, 0, &r, &err);
	ck_assert_int_eq(rc, DQLC_EIO);
	ck_assert_msg(hp_now_ms() - t0 < 500, "a broken connection must fail at once");

	/* A write: sent, unanswered: ETIMEDOUT and maybe executed. */
	t0 = hp_now_ms();
	rc = dqlc_conn_exec(c2, "INSERT INTO dl VALUES (1)", NULL, 0, NULL, &err);
	took = hp_now_ms() - t0;
	ck_assert_msg(rc == DQLC_ETIMEDOUT, "got %s: %s", dqlc_errname(rc), err.message);
	ck_assert_msg(err.flags & DQLC_ERRF_MAYBE_EXECUTED, "flags 0x%x", err.flags);
	ck_assert_msg(!(err.flags & DQLC_ERRF_RETRYABLE), "flags 0x%x", err.flags);
	ck_assert_msg(took >= 690 && took < 700 + SLACK_MS, "timed out after %lld ms (700)",
		      (long long)took);
	ck_assert(!dqlc_conn_usable(c2));
	dqlc_conn_close(c1);
	dqlc_conn_close(c2);

	/* The cluster moves on without the stopped node. */
	ck_assert_int_ge(tc_wait_leader_change(own, leader, 20000), 0);
	dqlc_conn_t *c3 = connect_db(own, "deadline");
	ck_assert_str_ne(dqlc_conn_address(c3), tc_node_address(own, leader));
	exec_ok(c3, "INSERT INTO dl VALUES (2)");
	dqlc_conn_close(c3);
	ck_assert_int_eq(tc_cont(own, leader), 0);
}
END_TEST

static Suite *sql_suite(void)
{
	Suite *s = suite_create("conn_sql");
	TCase *tc;

	tc = tcase_create("sql");
	tcase_add_unchecked_fixture(tc, shared_up, shared_down);
	tcase_add_test(tc, test_value_types);
	tcase_add_test(tc, test_big_result);
	tcase_add_test(tc, test_exec_results);
	tcase_add_test(tc, test_columns_by_name);
	tcase_add_test(tc, test_fetchval);
	tcase_add_test(tc, test_sql_errors);
	tcase_add_test(tc, test_prepared);
	tcase_add_test(tc, test_transactions);
	tcase_add_test(tc, test_cancel_query);
	tcase_add_test(tc, test_cursor_early_close);
	tcase_add_test(tc, test_cancel_cursor);
	tcase_set_timeout(tc, 120);
	suite_add_tcase(s, tc);

	tc = tcase_create("safety");
	tcase_add_checked_fixture(tc, own_up, own_down);
	tcase_add_test(tc, test_returning_refused);
	tcase_add_test(tc, test_exec_row_statement);
	tcase_set_timeout(tc, 90);
	suite_add_tcase(s, tc);

	tc = tcase_create("deadlines");
	tcase_add_checked_fixture(tc, own_up, own_down);
	tcase_add_test(tc, test_request_timeout);
	tcase_set_timeout(tc, 90);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(sql_suite());
	srunner_run_all(sr, CK_ENV);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
