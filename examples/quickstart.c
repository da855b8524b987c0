/*
 * quickstart: the first program with dqlite-client.
 *
 * Connects to a dqlite cluster, creates a table and inserts a row in one
 * transaction, then reads every row back by column name and prints it.
 *
 *   quickstart [URI]
 *
 * The URI comes from the command line, else from $DQLC_URI, else the local
 * 3-node cluster that scripts/demo.sh (tools/dqlc-cluster) starts:
 *
 *   dqlite://127.0.0.1:9001,127.0.0.1:9002,127.0.0.1:9003/quickstart
 *
 * Give any subset of the nodes: the library finds the leader.  Build it
 * against an installed library with
 *
 *   cc quickstart.c $(pkg-config --cflags --libs dqlite-client)
 */
#include <stdio.h>
#include <stdlib.h>

#include <dqlite-client.h>

#define DEFAULT_URI "dqlite://127.0.0.1:9001,127.0.0.1:9002,127.0.0.1:9003/quickstart"

/* Print one value the way a Python dict would show it. */
static void print_value(const dqlc_value_t *v)
{
	if (v == NULL) {
		printf("?");
		return;
	}
	switch (v->type) {
	case DQLC_TYPE_INTEGER:
	case DQLC_TYPE_UNIXTIME:
		printf("%lld", (long long)v->v.i);
		break;
	case DQLC_TYPE_BOOLEAN:
		printf("%s", v->v.i ? "True" : "False");
		break;
	case DQLC_TYPE_FLOAT:
		printf("%g", v->v.f);
		break;
	case DQLC_TYPE_TEXT:
	case DQLC_TYPE_ISO8601:
		printf("'%.*s'", (int)v->v.s.n, v->v.s.p);
		break;
	case DQLC_TYPE_BLOB:
		printf("<%zu-byte blob>", v->v.s.n);
		break;
	default:
		printf("None");
		break;
	}
}

int main(int argc, char **argv)
{
	const char *uri = argc > 1 ? argv[1] : getenv("DQLC_URI");
	dqlc_error_t err;
	dqlc_conn_t *conn = NULL;
	dqlc_result_t *rows = NULL;
	int status = EXIT_FAILURE;

	if (uri == NULL || uri[0] == '\0')
		uri = DEFAULT_URI;

	/* conn = await connect(...): find the leader, open the database. */
	if (dqlc_connect(uri, NULL, &conn, &err) != 0) {
		fprintf(stderr, "quickstart: cannot connect to %s: %s (%s)\n", uri, err.message,
			dqlc_errname(err.code));
		return EXIT_FAILURE;
	}
	printf("connected to the leader at %s\n", dqlc_conn_address(conn));

	/* async with conn.transaction(): BEGIN ... COMMIT, ROLLBACK on error. */
	if (dqlc_conn_begin(conn, &err) != 0)
		goto fail;
	if (dqlc_conn_exec(conn, "CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, name TEXT)",
			   NULL, 0, NULL, &err) != 0)
		goto rollback;
	{
		/* Parameters read like the seed's ["hello"]. */
		dqlc_value_t params[] = {DQLC_TEXT("hello")};
		dqlc_result_t *res = NULL;
		if (dqlc_conn_exec(conn, "INSERT INTO t (name) VALUES (?)", params, 1, &res,
				   &err) != 0)
			goto rollback;
		printf("inserted row id %lld\n", (long long)dqlc_result_last_insert_id(res));
		dqlc_result_free(res);
	}
	if (dqlc_conn_commit(conn, &err) != 0)
		goto fail;
	printf("committed\n");

	/* rows = await conn.fetch(...): rows addressed by column name. */
	if (dqlc_conn_query(conn, "SELECT * FROM t ORDER BY id", NULL, 0, &rows, &err) != 0)
		goto fail;
	for (size_t i = 0; i < dqlc_result_row_count(rows); i++) {
		/* One dict per row: {'id': 1, 'name': 'hello'}. */
		printf("{");
		for (size_t k = 0; k < dqlc_result_column_count(rows); k++) {
			const char *name = dqlc_result_column_name(rows, k);
			printf("%s'%s': ", k ? ", " : "", name);
			print_value(dqlc_result_value_by_name(rows, i, name));
		}
		printf("}\n");
	}
	printf("%zu row(s)\n", dqlc_result_row_count(rows));
	dqlc_result_free(rows);
	status = EXIT_SUCCESS;
	goto done;

rollback:
	fprintf(stderr, "quickstart: %s (%s); rolling back\n", err.message, dqlc_errname(err.code));
	if (dqlc_conn_rollback(conn, &err) != 0)
		fprintf(stderr, "quickstart: rollback: %s\n", err.message);
	goto done;
fail:
	fprintf(stderr, "quickstart: %s (%s)\n", err.message, dqlc_errname(err.code));
done:
	/* await conn.close() */
	dqlc_conn_close(conn);
	return status;
}
