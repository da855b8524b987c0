/* Streaming a result one server batch at a time. */
#include <stdlib.h>
#include <string.h>

#include "conn.h"
#include "error.h"
#include "net/sock.h"
#include "result.h"
#include "sqltext.h"

struct dqlc_cursor {
	struct dqlc_conn *conn;
	dqlc__rows_t rows;     /* current batch; names are owned copies */
	char **names;
	uint8_t *chunk;        /* body the current batch's values point into */
	size_t pos;            /* index of the current row in the batch, +1 */
	bool more;             /* the server has more batches to send */
	bool started;
	int code;
	dqlc_error_t err;
};

/* Read and decode the next batch. */
static int next_batch(struct dqlc_cursor *cur)
{
	struct dqlc_conn *c = cur->conn;
	int64_t deadline = dqlc__conn_deadline(c);
	dqlc__hdr_t hdr;
	const uint8_t *body;
	size_t len, before, i;
	int rv;

	dqlc__rows_clear_values(&cur->rows);
	rv = dqlc__conn_recv(c, deadline, c->wake_fd, &hdr, &body, &cur->err);
	if (rv == DQLC_ECANCELED) {
		dqlc_error_t drain;
		if (dqlc__conn_interrupt_drain(c, deadline, &drain) != 0)
			dqlc__conn_break(c);
		cur->more = false;
		return dqlc__err(&cur->err, DQLC_ECANCELED, "query canceled");
	}
	if (rv != 0) {
		dqlc__err_prefix(&cur->err, "%s", c->address);
		dqlc__conn_break(c);
		cur->more = false;
		return rv;
	}
	len = (size_t)hdr.words * 8;
	if (hdr.type == DQLC__RESP_FAILURE) {
		uint64_t code;
		const char *msg;
		cur->more = false;
		rv = dqlc__dec_failure(body, len, &code, &msg, &cur->err);
		if (rv != 0) {
			dqlc__conn_break(c);
			return rv;
		}
		rv = dqlc__err_server(&cur->err, code, msg);
		if (code == DQLC_SQLITE_LEADERSHIP_LOST || code == 8458)
			dqlc__conn_break(c);
		return rv;
	}
	if (hdr.type != DQLC__RESP_ROWS) {
		dqlc__conn_break(c);
		cur->more = false;
		return dqlc__err(&cur->err, DQLC_EPROTO, "expected ROWS, got response type %u",
				 hdr.type);
	}
	free(cur->chunk);
	cur->chunk = malloc(len > 0 ? len : 1);
	if (cur->chunk == NULL) {
		dqlc__conn_break(c);
		cur->more = false;
		return dqlc__err(&cur->err, DQLC_ENOMEM, "out of memory");
	}
	memcpy(cur->chunk, body, len);
	before = cur->rows.ncols;
	rv = dqlc__dec_rows(cur->chunk, len, &cur->rows, &cur->more, &cur->err);
	if (rv == 0 && cur->more)
		dqlc__sock_quickack(c->fd);
	if (rv != 0) {
		dqlc__conn_break(c);
		cur->more = false;
		return rv;
	}
	if (before == 0 && cur->names == NULL) {
		/* Keep the names past this batch's body. */
		cur->names = calloc(cur->rows.ncols + 1, sizeof *cur->names);
		for (i = 0; cur->names != NULL && i < cur->rows.ncols; i++) {
			cur->names[i] = strdup(cur->rows.names[i]);
			if (cur->names[i] == NULL)
				break;
			cur->rows.names[i] = cur->names[i];
		}
		if (cur->names == NULL || i < cur->rows.ncols) {
			dqlc__conn_break(c);
			cur->more = false;
			return dqlc__err(&cur->err, DQLC_ENOMEM, "out of memory");
		}
	} else {
		for (i = 0; i < cur->rows.ncols; i++)
			cur->rows.names[i] = cur->names[i];
	}
	dqlc__values_fix_nulls(cur->rows.vals, 0, cur->rows.nrows * cur->rows.ncols);
	cur->pos = 0;
	return 0;
}

int dqlc_conn_cursor(dqlc_conn_t *c, const char *sql, const dqlc_value_t *params, size_t n,
		     dqlc_cursor_t **out, dqlc_error_t *err)
{
	struct dqlc_cursor *cur;
	int64_t deadline;
	size_t saved;
	int rv;
	if (out == NULL || sql == NULL || (n > 0 && params == NULL))
		return dqlc__err(err, DQLC_EINVAL, "dqlc_conn_cursor: bad argument");
	*out = NULL;
	if (dqlc__sql_is_multi(sql))
		return dqlc__err(err, DQLC_EINVAL,
				 "a cursor runs one statement and this SQL has several");
	if ((rv = dqlc__sql_refuse(sql, err)) != 0)
		return rv;
	if ((rv = dqlc__conn_enter(c, err)) != 0)
		return rv;
	deadline = dqlc__conn_deadline(c);
	cur = calloc(1, sizeof *cur);
	if (cur == NULL) {
		rv = dqlc__err(err, DQLC_ENOMEM, "out of memory");
		goto out;
	}
	dqlc__rows_init(&cur->rows);
	cur->conn = c;
	rv = dqlc__conn_open(c, deadline, err);
	if (rv == 0)
		rv = dqlc__conn_sql_check(c, sql, deadline, err);
	if (rv == 0)
		rv = dqlc__conn_params_ready(c, n, deadline, err);
	if (rv != 0)
		goto fail;
	saved = c->wbuf.len;
	rv = dqlc__enc_query_sql(&c->wbuf, 0, sql, params, n, c->features, err);
	if (rv != 0) {
		c->wbuf.len = saved;
		goto fail;
	}
	rv = dqlc__conn_send(c, deadline, false, err);
	if (rv != 0)
		goto fail;
	cur->more = true;
	rv = next_batch(cur);
	if (rv != 0) {
		if (err != NULL)
			*err = cur->err;
		goto fail;
	}
	c->cursor = cur; /* pins the connection until dqlc_cursor_close */
	*out = cur;
	/* The query runs until the cursor closes: the connection stays
	 * "running" so that dqlc_conn_cancel() reaches it between batches
	 * too (dqlc__conn_leave happens in dqlc_cursor_close). */
	return 0;
fail:
	dqlc__rows_free(&cur->rows);
	free(cur->chunk);
	free(cur);
out:
	dqlc__conn_leave(c);
	return rv;
}

void dqlc__cursor_orphan(struct dqlc_cursor *cur)
{
	cur->conn = NULL;
	cur->more = false;
	if (cur->code == 0)
		cur->code = dqlc__err(&cur->err, DQLC_EMISUSE,
				      "the cursor's connection was closed before the cursor");
}

bool dqlc_cursor_next(dqlc_cursor_t *cur)
{
	int rv;
	if (cur == NULL || cur->code != 0)
		return false;
	while (cur->pos >= cur->rows.nrows) {
		if (!cur->more)
			return false;
		rv = next_batch(cur);
		if (rv != 0) {
			cur->code = rv;
			cur->err.code = rv;
			return false;
		}
	}
	cur->pos++;
	return true;
}

int dqlc_cursor_error(const dqlc_cursor_t *cur, dqlc_error_t *err)
{
	if (cur == NULL)
		return dqlc__err(err, DQLC_EINVAL, "NULL cursor");
	if (cur->code != 0 && err != NULL)
		*err = cur->err;
	return cur->code;
}

size_t dqlc_cursor_column_count(const dqlc_cursor_t *cur)
{
	return cur ? cur->rows.ncols : 0;
}

const char *dqlc_cursor_column_name(const dqlc_cursor_t *cur, size_t col)
{
	return (cur && cur->names && col < cur->rows.ncols) ? cur->names[col] : NULL;
}

const dqlc_value_t *dqlc_cursor_value(const dqlc_cursor_t *cur, size_t col)
{
	if (cur == NULL || cur->pos == 0 || cur->pos > cur->rows.nrows || col >= cur->rows.ncols)
		return NULL;
	return &cur->rows.vals[(cur->pos - 1) * cur->rows.ncols + col];
}

void dqlc_cursor_close(dqlc_cursor_t *cur)
{
	struct dqlc_conn *c;
	size_t i;
	if (cur == NULL)
		return;
	c = cur->conn;
	if (c != NULL && cur->more && !c->broken) {
		/* Rows are still coming: interrupt and drain so the
		 * connection can serve the next request. */
		dqlc_error_t ignored;
		if (dqlc__conn_interrupt_drain(c, dqlc__conn_deadline(c), &ignored) != 0)
			dqlc__conn_break(c);
	}
	if (c != NULL)
		c->cursor = NULL;
	if (cur->names != NULL)
		for (i = 0; i < cur->rows.ncols; i++)
			free(cur->names[i]);
	free(cur->names);
	dqlc__rows_free(&cur->rows);
	free(cur->chunk);
	free(cur);
	if (c != NULL)
		dqlc__conn_leave(c); /* the call that dqlc_conn_cursor began */
}
