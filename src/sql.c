/* SQL on one connection: exec, query, fetchval, transactions, prepared
 * statements. */
#include <stdlib.h>
#include <string.h>

#include "conn.h"
#include "error.h"
#include "result.h"
#include "sqltext.h"

/* Statements inside an open transaction cannot commit on their own: if the
 * connection dies under them the server rolls the transaction back.  Only
 * autocommit statements and COMMIT may have taken effect. */
static bool may_commit(const struct dqlc_conn *c, const char *sql)
{
	return !c->in_tx || (sql != NULL && dqlc__sql_tx_effect(sql) < 0);
}

/* An error inside a transaction loses the whole transaction when the
 * leader changed: say so, and don't call the statement retryable. */
static void tx_lost(struct dqlc_conn *c, bool was_in_tx, dqlc_error_t *err)
{
	if (!was_in_tx || err == NULL || !(err->flags & DQLC_ERRF_LEADER_CHANGED))
		return;
	c->in_tx = false;
	err->flags &= ~DQLC_ERRF_RETRYABLE;
	dqlc__err_prefix(err, "transaction lost");
}

static int check_params(const dqlc_value_t *params, size_t n, dqlc_error_t *err)
{
	if (n > 0 && params == NULL)
		return dqlc__err(err, DQLC_EINVAL, "%zu parameters announced but params is NULL", n);
	return 0;
}

/* Encoding failed: drop what the encoder may have appended, keep anything
 * queued before it (the handshake word on a fresh connection). */
static int encode_failed(struct dqlc_conn *c, size_t saved, int rv)
{
	c->wbuf.len = saved;
	return rv;
}

/* ---- Scripts with parameters ---------------------------------------------
 * EXEC_SQL runs every statement of a script but binds the parameters to the
 * first one only (every server version).  With PREPARE's tail offset (1.15+)
 * the script is run statement by statement instead, each one taking as many
 * of the parameters, in order, as it has placeholders. */

/* exec_script(): the script's parameters all belong to its first statement
 * and the server cannot do better: run it with EXEC_SQL. */
#define DQLC__SCRIPT_AS_ONE (-1)

/* FINALIZE a statement id of ours unless the server dropped it (after a
 * leadership error) or the connection cannot carry it any more. */
static void finalize_id(struct dqlc_conn *c, uint32_t id, int64_t deadline)
{
	dqlc__hdr_t hdr;
	const uint8_t *body;
	size_t saved = c->wbuf.len;
	uint64_t code = c->last_server_code;
	if (c->broken || code == DQLC_SQLITE_NOT_LEADER || code == 8202 ||
	    code == DQLC_SQLITE_LEADERSHIP_LOST || code == 8458)
		return;
	if (dqlc__enc_finalize(&c->wbuf, 0, id, NULL) == 0)
		dqlc__conn_call(c, DQLC__RESP_EMPTY, deadline, false, &hdr, &body, NULL);
	else
		c->wbuf.len = saved;
	c->last_server_code = code;
}

/* PREPARE `sql` (asking for the tail offset when the server may have it). */
static int prepare_id(struct dqlc_conn *c, const char *sql, bool want_tail, int64_t deadline,
		      uint32_t *id, uint64_t *nparams, uint64_t *tail, uint8_t *schema,
		      dqlc_error_t *err)
{
	dqlc__hdr_t hdr;
	const uint8_t *body;
	uint32_t db;
	size_t saved = c->wbuf.len;
	int rv = dqlc__enc_prepare(&c->wbuf, 0, sql, want_tail,
				   want_tail ? dqlc__conn_tail_features(c) : c->features, err);
	if (rv != 0)
		return encode_failed(c, saved, rv);
	rv = dqlc__conn_call(c, DQLC__RESP_STMT, deadline, false, &hdr, &body, err);
	if (rv == 0)
		rv = dqlc__dec_stmt(body, (size_t)hdr.words * 8, hdr.schema, &db, id, nparams,
				    tail, err);
	if (rv == 0)
		*schema = hdr.schema;
	return rv;
}

/* A server without tail offsets: the parameters may only be those of the
 * first statement, which PREPARE counts (it ignores the rest of the text). */
static int script_first_only(struct dqlc_conn *c, const char *sql, size_t n, int64_t deadline,
			     dqlc_error_t *err)
{
	uint32_t id;
	uint64_t nparams, tail;
	uint8_t schema;
	int rv = prepare_id(c, sql, false, deadline, &id, &nparams, &tail, &schema, err);
	if (rv != 0)
		return rv;
	finalize_id(c, id, deadline);
	if (nparams == n)
		return DQLC__SCRIPT_AS_ONE;
	return dqlc__err(err, DQLC_EINVAL,
			 "script with %zu parameters: its first statement takes %llu, and this "
			 "dqlite server (older than 1.15: PREPARE gives no tail offset) cannot "
			 "say which statement takes the others; pass only the first "
			 "statement's parameters, or run the statements one by one",
			 n, (unsigned long long)nparams);
}

/* One statement of the script, sql[0..len): prepared as id, taking the
 * parameters p[0..np). */
static int script_step(struct dqlc_conn *c, const char *sql, size_t len, uint32_t id,
		       const dqlc_value_t *p, size_t np, int64_t deadline, uint64_t *last_id,
		       uint64_t *changes, dqlc_error_t *err)
{
	char *one = malloc(len + 1);
	dqlc__hdr_t hdr;
	const uint8_t *body;
	size_t saved;
	int rv, effect;
	if (one == NULL)
		return dqlc__err(err, DQLC_ENOMEM, "out of memory");
	memcpy(one, sql, len);
	one[len] = '\0';
	saved = c->wbuf.len;
	rv = dqlc__conn_params_ready(c, np, deadline, err);
	if (rv == 0)
		rv = dqlc__enc_exec(&c->wbuf, 0, id, p, np, c->features, err);
	if (rv != 0)
		encode_failed(c, saved, rv);
	else
		rv = dqlc__conn_call(c, DQLC__RESP_RESULT, deadline, may_commit(c, one), &hdr,
				     &body, err);
	if (rv == 0)
		rv = dqlc__dec_result(body, (size_t)hdr.words * 8, last_id, changes, err);
	if (rv == 0) {
		effect = dqlc__sql_tx_effect(one);
		if (effect > 0)
			c->in_tx = true;
		else if (effect < 0)
			c->in_tx = false;
	}
	free(one);
	return rv;
}

static int exec_script(struct dqlc_conn *c, const char *sql, const dqlc_value_t *params,
		       size_t n, int64_t deadline, uint64_t *last_id, uint64_t *changes,
		       dqlc_error_t *err)
{
	const char *rest = sql;
	size_t used = 0, k = 0, left;
	dqlc_error_t local;
	int rv;
	if (err == NULL)
		err = &local; /* the messages tell what the server said */
	rv = dqlc__conn_probe(c, deadline, err);
	if (rv != 0)
		return rv;
	if (!(dqlc__conn_tail_features(c) & DQLC__FEAT_PREPARE_TAIL))
		return script_first_only(c, sql, n, deadline, err);
	for (;;) {
		uint32_t id;
		uint64_t nparams, tail;
		uint8_t schema;
		bool was_in_tx = c->in_tx, last;
		if (dqlc__sql_is_blank(rest))
			break;
		k++;
		left = strlen(rest);
		rv = prepare_id(c, rest, true, deadline, &id, &nparams, &tail, &schema, err);
		if (rv != 0 && k == 1 && dqlc__conn_learn_no_tail(c, err))
			return script_first_only(c, sql, n, deadline, err);
		if (rv == 0 && schema != 1) {
			/* Not an offset after all: no tails here. */
			finalize_id(c, id, deadline);
			c->features &= ~DQLC__FEAT_PREPARE_TAIL;
			c->features_known |= DQLC__FEAT_PREPARE_TAIL;
			if (k == 1)
				return script_first_only(c, sql, n, deadline, err);
			rv = dqlc__err(err, DQLC_EPROTO, "PREPARE answered without a tail offset");
		}
		if (rv == 0) {
			c->features |= DQLC__FEAT_PREPARE_TAIL;
			c->features_known |= DQLC__FEAT_PREPARE_TAIL;
			if (tail == 0 || tail > left) {
				finalize_id(c, id, deadline);
				rv = dqlc__err(err, DQLC_EPROTO,
					       "PREPARE: tail offset %llu outside the %zu bytes sent",
					       (unsigned long long)tail, left);
				dqlc__conn_break(c);
			}
		}
		if (rv == 0) {
			last = dqlc__sql_is_blank(rest + tail);
			if (nparams > n - used || (last && used + nparams != n)) {
				finalize_id(c, id, deadline);
				rv = dqlc__err(err, DQLC_EINVAL,
					       "script with %zu parameters: its statements take %s%llu "
					       "(statement %zu takes %llu)",
					       n, last ? "" : "more than ",
					       (unsigned long long)(used + nparams), k,
					       (unsigned long long)nparams);
			}
		}
		if (rv == 0) {
			rv = script_step(c, rest, (size_t)tail, id, params + used, (size_t)nparams,
					 deadline, last_id, changes, err);
			finalize_id(c, id, deadline);
			if (rv != 0)
				tx_lost(c, was_in_tx, err);
		}
		if (rv != 0) {
			if (k > 1) {
				/* Earlier statements ran: never retry the script. */
				err->flags &= ~DQLC_ERRF_RETRYABLE;
				err->flags |= DQLC_ERRF_MAYBE_EXECUTED;
				dqlc__err_prefix(err, "statement %zu of the script (the %zu before "
						      "it ran)", k, k - 1);
			} else {
				dqlc__err_prefix(err, "statement 1 of the script");
			}
			return rv;
		}
		used += (size_t)nparams;
		rest += tail;
	}
	return 0;
}

static int exec_sql(struct dqlc_conn *c, const char *sql, const dqlc_value_t *params, size_t n,
		    dqlc_result_t **out, dqlc_error_t *err)
{
	int64_t deadline = dqlc__conn_deadline(c);
	bool was_in_tx = c->in_tx, writes = may_commit(c, sql);
	dqlc__hdr_t hdr;
	const uint8_t *body;
	uint64_t last_id, changes;
	size_t saved;
	int rv, effect;

	rv = dqlc__conn_open(c, deadline, err);
	if (rv == 0)
		rv = dqlc__conn_sql_check(c, sql, deadline, err);
	if (rv == 0 && n > 0 && dqlc__sql_is_multi(sql)) {
		/* Parameters for a script: split by statement where the
		 * server can say where each one ends. */
		rv = exec_script(c, sql, params, n, deadline, &last_id, &changes, err);
		if (rv == 0)
			goto done;
		if (rv != DQLC__SCRIPT_AS_ONE)
			return rv;
		rv = 0; /* every parameter belongs to the first statement */
	}
	if (rv == 0)
		rv = dqlc__conn_params_ready(c, n, deadline, err);
	if (rv != 0)
		return rv;
	saved = c->wbuf.len;
	rv = dqlc__enc_exec_sql(&c->wbuf, 0, sql, params, n, c->features, err);
	if (rv != 0)
		return encode_failed(c, saved, rv);
	rv = dqlc__conn_call(c, DQLC__RESP_RESULT, deadline, writes, &hdr, &body, err);
	if (rv == 0)
		rv = dqlc__dec_result(body, (size_t)hdr.words * 8, &last_id, &changes, err);
	if (rv != 0) {
		tx_lost(c, was_in_tx, err);
		return rv;
	}
	effect = dqlc__sql_tx_effect(sql);
	if (effect > 0)
		c->in_tx = true;
	else if (effect < 0)
		c->in_tx = false;
done:
	if (out != NULL) {
		dqlc_result_t *r = dqlc__result_new();
		if (r == NULL)
			return dqlc__err(err, DQLC_ENOMEM, "out of memory");
		r->last_insert_id = (int64_t)last_id;
		r->rows_affected = (int64_t)changes;
		*out = r;
	}
	return 0;
}

int dqlc_conn_exec(dqlc_conn_t *c, const char *sql, const dqlc_value_t *params, size_t n,
		   dqlc_result_t **out, dqlc_error_t *err)
{
	int rv;
	if (out != NULL)
		*out = NULL;
	if (sql == NULL)
		return dqlc__err(err, DQLC_EINVAL, "dqlc_conn_exec: NULL sql");
	if ((rv = check_params(params, n, err)) != 0 || (rv = dqlc__sql_refuse(sql, err)) != 0 ||
	    (rv = dqlc__conn_enter(c, err)) != 0)
		return rv;
	rv = exec_sql(c, sql, params, n, out, err);
	dqlc__conn_leave(c);
	return rv;
}

int dqlc__sql_refuse(const char *sql, dqlc_error_t *err)
{
	/* A statement with RETURNING fails with code 100 on every request
	 * type (EXEC, QUERY, EXEC_SQL, QUERY_SQL) and leaves its write
	 * transaction behind: 1.11.1 aborts on the next OPEN or write, 1.18.1
	 * on the next write (vfs.c "wal->n_tx == 0", seen on both).  Servers
	 * do not say whether they have the fix of 1.18.3, so it is refused
	 * whatever the server. */
	if (dqlc__sql_has_keyword(sql, "RETURNING"))
		return dqlc__err(err, DQLC_EINVAL,
				 "refusing to send a statement with RETURNING: dqlite servers "
				 "before 1.18.3 (1.11 and 1.18.1 seen) crash after it; write "
				 "without RETURNING and read the row back (last insert id is in "
				 "the exec result)");
	return 0;
}

/* A query runs one statement: the server would silently drop the rest. */
static int refuse_write_query(const char *sql, dqlc_error_t *err)
{
	if (dqlc__sql_is_multi(sql))
		return dqlc__err(err, DQLC_EINVAL,
				 "a query runs one statement and this SQL has several (the "
				 "server would silently run only the first): use dqlc_conn_exec "
				 "for scripts");
	return dqlc__sql_refuse(sql, err);
}

static int query_sql(struct dqlc_conn *c, const char *sql, const dqlc_value_t *params,
		     size_t n, dqlc_result_t **out, dqlc_error_t *err)
{
	int64_t deadline = dqlc__conn_deadline(c);
	bool was_in_tx = c->in_tx;
	size_t saved;
	int rv;
	rv = dqlc__conn_open(c, deadline, err);
	if (rv == 0)
		rv = dqlc__conn_sql_check(c, sql, deadline, err);
	if (rv == 0)
		rv = dqlc__conn_params_ready(c, n, deadline, err);
	if (rv != 0)
		return rv;
	saved = c->wbuf.len;
	rv = dqlc__enc_query_sql(&c->wbuf, 0, sql, params, n, c->features, err);
	if (rv != 0)
		return encode_failed(c, saved, rv);
	rv = dqlc__conn_send(c, deadline, false, err);
	if (rv == 0)
		rv = dqlc__conn_read_rows(c, deadline, out, err);
	if (rv != 0)
		tx_lost(c, was_in_tx, err);
	return rv;
}

int dqlc_conn_query(dqlc_conn_t *c, const char *sql, const dqlc_value_t *params, size_t n,
		    dqlc_result_t **out, dqlc_error_t *err)
{
	int rv;
	if (out == NULL)
		return dqlc__err(err, DQLC_EINVAL, "dqlc_conn_query: NULL out");
	*out = NULL;
	if (sql == NULL)
		return dqlc__err(err, DQLC_EINVAL, "dqlc_conn_query: NULL sql");
	if ((rv = check_params(params, n, err)) != 0 || (rv = refuse_write_query(sql, err)) != 0 ||
	    (rv = dqlc__conn_enter(c, err)) != 0)
		return rv;
	rv = query_sql(c, sql, params, n, out, err);
	dqlc__conn_leave(c);
	return rv;
}

int dqlc_conn_fetchval(dqlc_conn_t *c, const char *sql, const dqlc_value_t *params, size_t n,
		       dqlc_value_t *out, dqlc_error_t *err)
{
	dqlc_result_t *r = NULL;
	int rv;
	if (out == NULL)
		return dqlc__err(err, DQLC_EINVAL, "dqlc_conn_fetchval: NULL out");
	*out = dqlc_value_null();
	rv = dqlc_conn_query(c, sql, params, n, &r, err);
	if (rv != 0)
		return rv;
	if (r->rows.nrows > 0 && r->rows.ncols > 0 &&
	    dqlc_value_copy(out, &r->rows.vals[0]) != 0)
		rv = dqlc__err(err, DQLC_ENOMEM, "out of memory");
	dqlc_result_free(r);
	return rv;
}

int dqlc_conn_begin(dqlc_conn_t *c, dqlc_error_t *err)
{
	if (c != NULL && c->in_tx)
		return dqlc__err(err, DQLC_EMISUSE, "a transaction is already open");
	return dqlc_conn_exec(c, "BEGIN", NULL, 0, NULL, err);
}

int dqlc_conn_commit(dqlc_conn_t *c, dqlc_error_t *err)
{
	if (c != NULL && !c->in_tx && !c->broken)
		return dqlc__err(err, DQLC_EMISUSE, "no transaction is open");
	return dqlc_conn_exec(c, "COMMIT", NULL, 0, NULL, err);
}

int dqlc_conn_rollback(dqlc_conn_t *c, dqlc_error_t *err)
{
	if (c != NULL && !c->in_tx && !c->broken)
		return 0; /* nothing to undo: ROLLBACK is idempotent for callers */
	return dqlc_conn_exec(c, "ROLLBACK", NULL, 0, NULL, err);
}

/* ---- Prepared statements ------------------------------------------------ */

int dqlc_conn_prepare(dqlc_conn_t *c, const char *sql, dqlc_stmt_t **out, dqlc_error_t *err)
{
	struct dqlc_stmt *s;
	int64_t deadline;
	dqlc__hdr_t hdr;
	const uint8_t *body;
	uint32_t db, id;
	uint64_t nparams, tail;
	size_t saved;
	int rv;
	if (out == NULL || sql == NULL)
		return dqlc__err(err, DQLC_EINVAL, "dqlc_conn_prepare: NULL argument");
	*out = NULL;
	if ((rv = dqlc__sql_refuse(sql, err)) != 0)
		return rv;
	if ((rv = dqlc__conn_enter(c, err)) != 0)
		return rv;
	deadline = dqlc__conn_deadline(c);
	s = calloc(1, sizeof *s);
	if (s == NULL || (s->sql = strdup(sql)) == NULL) {
		free(s);
		rv = dqlc__err(err, DQLC_ENOMEM, "out of memory");
		goto out;
	}
	rv = dqlc__conn_open(c, deadline, err);
	if (rv == 0)
		rv = dqlc__conn_sql_check(c, sql, deadline, err);
	if (rv != 0)
		goto fail;
	saved = c->wbuf.len;
	rv = dqlc__enc_prepare(&c->wbuf, 0, sql, false, c->features, err);
	if (rv != 0) {
		encode_failed(c, saved, rv);
		goto fail;
	}
	rv = dqlc__conn_call(c, DQLC__RESP_STMT, deadline, false, &hdr, &body, err);
	if (rv == 0)
		rv = dqlc__dec_stmt(body, (size_t)hdr.words * 8, hdr.schema, &db, &id, &nparams,
				    &tail, err);
	if (rv != 0)
		goto fail;
	s->conn = c;
	s->id = id;
	s->nparams = nparams;
	s->next = c->stmts;
	if (c->stmts)
		c->stmts->prev = s;
	c->stmts = s;
	*out = s;
	goto out;
fail:
	free(s->sql);
	free(s);
out:
	dqlc__conn_leave(c);
	return rv;
}

size_t dqlc_stmt_param_count(const dqlc_stmt_t *s)
{
	return s ? (size_t)s->nparams : 0;
}

static int stmt_enter(struct dqlc_stmt *s, const dqlc_value_t *params, size_t n,
		      dqlc_error_t *err)
{
	int rv;
	if (s == NULL)
		return dqlc__err(err, DQLC_EINVAL, "NULL statement");
	if (s->conn == NULL)
		return dqlc__err(err, DQLC_EMISUSE,
				 "statement belongs to a connection that was closed or broke; "
				 "prepare it again");
	/* The server keeps old bindings for parameters not sent: always send
	 * exactly what the statement takes. */
	if (n != s->nparams)
		return dqlc__err(err, DQLC_EINVAL, "statement takes %llu parameters, got %zu",
				 (unsigned long long)s->nparams, n);
	if ((rv = check_params(params, n, err)) != 0)
		return rv;
	return dqlc__conn_enter(s->conn, err);
}

int dqlc_stmt_exec(dqlc_stmt_t *s, const dqlc_value_t *params, size_t n, dqlc_result_t **out,
		   dqlc_error_t *err)
{
	struct dqlc_conn *c;
	int64_t deadline;
	dqlc__hdr_t hdr;
	const uint8_t *body;
	uint64_t last_id, changes;
	bool was_in_tx;
	size_t saved;
	int rv;
	if (out != NULL)
		*out = NULL;
	if ((rv = stmt_enter(s, params, n, err)) != 0)
		return rv;
	c = s->conn;
	was_in_tx = c->in_tx;
	deadline = dqlc__conn_deadline(c);
	if ((rv = dqlc__conn_params_ready(c, n, deadline, err)) != 0)
		goto out;
	saved = c->wbuf.len;
	rv = dqlc__enc_exec(&c->wbuf, 0, s->id, params, n, c->features, err);
	if (rv != 0) {
		encode_failed(c, saved, rv);
		goto out;
	}
	rv = dqlc__conn_call(c, DQLC__RESP_RESULT, deadline, may_commit(c, s->sql), &hdr, &body,
			     err);
	if (rv == 0)
		rv = dqlc__dec_result(body, (size_t)hdr.words * 8, &last_id, &changes, err);
	if (rv != 0) {
		tx_lost(c, was_in_tx, err);
		goto out;
	}
	if (out != NULL) {
		dqlc_result_t *r = dqlc__result_new();
		if (r == NULL) {
			rv = dqlc__err(err, DQLC_ENOMEM, "out of memory");
			goto out;
		}
		r->last_insert_id = (int64_t)last_id;
		r->rows_affected = (int64_t)changes;
		*out = r;
	}
out:
	dqlc__conn_leave(c);
	return rv;
}

int dqlc_stmt_query(dqlc_stmt_t *s, const dqlc_value_t *params, size_t n, dqlc_result_t **out,
		    dqlc_error_t *err)
{
	struct dqlc_conn *c;
	int64_t deadline;
	size_t saved;
	int rv;
	if (out == NULL)
		return dqlc__err(err, DQLC_EINVAL, "dqlc_stmt_query: NULL out");
	*out = NULL;
	if (s != NULL && s->sql != NULL && (rv = refuse_write_query(s->sql, err)) != 0)
		return rv;
	if ((rv = stmt_enter(s, params, n, err)) != 0)
		return rv;
	c = s->conn;
	deadline = dqlc__conn_deadline(c);
	rv = dqlc__conn_params_ready(c, n, deadline, err);
	saved = c->wbuf.len;
	if (rv == 0)
		rv = dqlc__enc_query(&c->wbuf, 0, s->id, params, n, c->features, err);
	if (rv != 0)
		encode_failed(c, saved, rv);
	if (rv == 0)
		rv = dqlc__conn_send(c, deadline, false, err);
	if (rv == 0)
		rv = dqlc__conn_read_rows(c, deadline, out, err);
	dqlc__conn_leave(c);
	return rv;
}

void dqlc_stmt_finalize(dqlc_stmt_t *s)
{
	struct dqlc_conn *c;
	if (s == NULL)
		return;
	c = s->conn;
	if (c != NULL) {
		if (s->prev)
			s->prev->next = s->next;
		else
			c->stmts = s->next;
		if (s->next)
			s->next->prev = s->prev;
		/* Free the id on the server.  If that cannot be done now the
		 * id simply stays allocated until the connection closes:
		 * never send an id after its FINALIZE. */
		if (!c->broken && c->cursor == NULL) {
			dqlc__hdr_t hdr;
			const uint8_t *body;
			size_t saved = c->wbuf.len;
			if (dqlc__enc_finalize(&c->wbuf, 0, s->id, NULL) == 0)
				dqlc__conn_call(c, DQLC__RESP_EMPTY, dqlc__conn_deadline(c), false,
						&hdr, &body, NULL);
			else
				c->wbuf.len = saved;
		}
	}
	free(s->sql);
	free(s);
}
