/*
 * streaming: read a large result through a cursor, one server batch at a
 * time, instead of buffering all of it.
 *
 * Fills a table with N_ROWS rows (one INSERT ... SELECT on the server),
 * streams them back with dqlc_conn_cursor and checks the count and the sum
 * of the ids; then stops a second scan early, which interrupts the query
 * and drains the rest so the connection stays usable.
 *
 *   streaming [URI]        (else $DQLC_URI)
 *
 * Exit status 0 when every row came back and the connection survived the
 * early stop.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <dqlite-client.h>

#define N_ROWS 50000

static int fail(const char *what, const dqlc_error_t *err)
{
	fprintf(stderr, "streaming: %s: %s (%s)\n", what, err->message, dqlc_errname(err->code));
	return EXIT_FAILURE;
}

int main(int argc, char **argv)
{
	const char *uri = argc > 1 ? argv[1] : getenv("DQLC_URI");
	dqlc_value_t limit[] = {DQLC_INT(N_ROWS)};
	dqlc_conn_t *conn = NULL;
	dqlc_cursor_t *cur = NULL;
	dqlc_value_t check;
	dqlc_error_t err;
	int64_t rows = 0, id_sum = 0, bytes = 0;
	int status = EXIT_FAILURE;

	if (uri == NULL || *uri == '\0') {
		fprintf(stderr, "usage: streaming URI (or set DQLC_URI)\n");
		return EXIT_FAILURE;
	}
	if (dqlc_connect(uri, NULL, &conn, &err) != 0)
		return fail(uri, &err);

	/* The rows are made by the server: one statement, one transaction. */
	if (dqlc_conn_exec(conn, "DROP TABLE IF EXISTS streaming", NULL, 0, NULL, &err) != 0 ||
	    dqlc_conn_exec(conn, "CREATE TABLE streaming (id INTEGER PRIMARY KEY, label TEXT)", NULL,
			   0, NULL, &err) != 0 ||
	    dqlc_conn_exec(conn,
			   "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < ?) "
			   "INSERT INTO streaming (id, label) SELECT x, printf('row %08d', x) FROM n",
			   limit, 1, NULL, &err) != 0) {
		status = fail("filling the table", &err);
		goto out;
	}

	/* Rows arrive in server batches; only the current batch is in memory. */
	if (dqlc_conn_cursor(conn, "SELECT id, label FROM streaming ORDER BY id", NULL, 0, &cur,
			     &err) != 0) {
		status = fail("cursor", &err);
		goto out;
	}
	printf("columns: %s, %s\n", dqlc_cursor_column_name(cur, 0),
	       dqlc_cursor_column_name(cur, 1));
	while (dqlc_cursor_next(cur)) {
		/* Values are valid until the next dqlc_cursor_next. */
		const dqlc_value_t *id = dqlc_cursor_value(cur, 0);
		const dqlc_value_t *label = dqlc_cursor_value(cur, 1);
		rows++;
		id_sum += id->v.i;
		bytes += (int64_t)label->v.s.n;
	}
	/* false from dqlc_cursor_next means the end, or an error: ask. */
	if (dqlc_cursor_error(cur, &err) != 0) {
		status = fail("reading rows", &err);
		goto out;
	}
	dqlc_cursor_close(cur);
	cur = NULL;
	printf("streamed %lld rows (%lld bytes of labels), sum of ids %lld\n", (long long)rows,
	       (long long)bytes, (long long)id_sum);
	if (rows != N_ROWS || id_sum != (int64_t)N_ROWS * (N_ROWS + 1) / 2) {
		fprintf(stderr, "streaming: wrong row count or sum\n");
		goto out;
	}

	/* Stop early: closing the cursor interrupts the query and discards
	 * the rows still coming, so the connection can be used again. */
	if (dqlc_conn_cursor(conn, "SELECT id, label FROM streaming", NULL, 0, &cur, &err) != 0) {
		status = fail("second cursor", &err);
		goto out;
	}
	for (rows = 0; rows < 10 && dqlc_cursor_next(cur); rows++)
		;
	dqlc_cursor_close(cur);
	cur = NULL;
	printf("stopped after %lld rows\n", (long long)rows);

	if (dqlc_conn_fetchval(conn, "SELECT count(*) FROM streaming", NULL, 0, &check, &err) != 0) {
		status = fail("connection after the early stop", &err);
		goto out;
	}
	printf("connection still usable: count(*) = %lld\n", (long long)check.v.i);
	dqlc_value_clear(&check);
	printf("streaming: ok\n");
	status = EXIT_SUCCESS;
out:
	dqlc_cursor_close(cur);
	dqlc_conn_close(conn);
	return status;
}
