/* Per-connection prepared-statement cache: repeated SQL is prepared once
 * on the server and then run by id (EXEC/QUERY), which spares the server a
 * parse per call.  Least recently used entries are finalized when full. */
#include <stdlib.h>
#include <string.h>

#include "conn.h"
#include "error.h"
#include "result.h"
#include "sqltext.h"

/* SQLite takes at most SQLITE_MAX_VARIABLE_NUMBER parameters: 32766 by
 * default, 250000 in Debian's build.  A STMT reply claiming more than 2^20
 * comes from a broken or hostile server. */
#define DQLC__STMT_MAX_PARAMS (1u << 20)

struct entry {
	uint64_t hash;
	char *sql;
	uint32_t id;
	uint64_t nparams;
	uint64_t used; /* tick of last use */
};

struct dqlc__stmt_cache {
	struct entry *e;
	size_t n, cap;
	uint64_t tick;
};

void dqlc__stmt_cache_free(struct dqlc__stmt_cache *cache)
{
	size_t i;
	if (cache == NULL)
		return;
	for (i = 0; i < cache->n; i++)
		free(cache->e[i].sql);
	free(cache->e);
	free(cache);
}

static uint64_t hash_sql(const char *s)
{
	uint64_t h = 1469598103934665603ull;
	while (*s)
		h = (h ^ (uint8_t)*s++) * 1099511628211ull;
	return h;
}

/* One request/response on c, reading the body of the expected type. */
static int call(struct dqlc_conn *c, size_t saved, int enc_rv, uint8_t type, bool writes,
		dqlc__hdr_t *hdr, const uint8_t **body, dqlc_error_t *err)
{
	if (enc_rv != 0) {
		c->wbuf.len = saved;
		return enc_rv;
	}
	return dqlc__conn_call(c, type, dqlc__conn_deadline(c), writes, hdr, body, err);
}

/* Find or prepare the statement for sql. */
static int lookup(struct dqlc_conn *c, const char *sql, struct entry **out, dqlc_error_t *err)
{
	struct dqlc__stmt_cache *k = c->cache;
	uint64_t h = hash_sql(sql), nparams, tail;
	dqlc__hdr_t hdr;
	const uint8_t *body;
	uint32_t db, id;
	struct entry *e;
	size_t i, victim = 0;
	int rv;

	for (i = 0; i < k->n; i++) {
		if (k->e[i].hash == h && strcmp(k->e[i].sql, sql) == 0) {
			k->e[i].used = ++k->tick;
			*out = &k->e[i];
			return 0;
		}
		if (k->e[i].used < k->e[victim].used)
			victim = i;
	}
	if (k->n == k->cap && k->cap > 0) {
		/* Evict: finalize first, so the server never holds more than
		 * cap statements for us. */
		e = &k->e[victim];
		rv = call(c, c->wbuf.len, dqlc__enc_finalize(&c->wbuf, 0, e->id, err), DQLC__RESP_EMPTY,
			  false, &hdr, &body, err);
		if (rv != 0)
			return rv;
		free(e->sql);
		k->e[victim] = k->e[--k->n];
	}
	rv = call(c, c->wbuf.len, dqlc__enc_prepare(&c->wbuf, 0, sql, false, c->features, err),
		  DQLC__RESP_STMT, false, &hdr, &body, err);
	if (rv == 0)
		rv = dqlc__dec_stmt(body, (size_t)hdr.words * 8, hdr.schema, &db, &id, &nparams,
				    &tail, err);
	if (rv != 0)
		return rv;
	if (nparams > DQLC__STMT_MAX_PARAMS) {
		/* run() pads the parameters to this count: never allocate what a
		 * broken or hostile server claims. */
		dqlc__conn_break(c);
		return dqlc__err(err, DQLC_EPROTO,
				 "STMT: the server says the statement takes %llu parameters",
				 (unsigned long long)nparams);
	}
	if (c->cache == NULL) /* a leadership error inside the call dropped it */
		return dqlc__err(err, DQLC_EIO, "statement cache dropped");
	e = &k->e[k->n];
	e->sql = strdup(sql);
	if (e->sql == NULL) {
		/* Not cached: the id simply stays allocated until the
		 * connection closes. */
		return dqlc__err(err, DQLC_ENOMEM, "out of memory");
	}
	k->n++;
	e->hash = h;
	e->id = id;
	e->nparams = nparams;
	e->used = ++k->tick;
	*out = e;
	return 0;
}

static bool use_cache(struct dqlc_conn *c, const char *sql, dqlc_error_t *err)
{
	if (c->cfg->stmt_cache_size <= 0 || dqlc__sql_is_multi(sql) || dqlc__sql_is_blank(sql))
		return false;
	if (c->cache == NULL) {
		c->cache = calloc(1, sizeof *c->cache);
		if (c->cache == NULL)
			return false;
		c->cache->cap = (size_t)c->cfg->stmt_cache_size;
		c->cache->e = calloc(c->cache->cap, sizeof *c->cache->e);
		if (c->cache->e == NULL) {
			free(c->cache);
			c->cache = NULL;
			return false;
		}
	}
	return true;
}

/* EXEC_SQL binds NULL to parameters not given; a prepared statement would
 * keep its previous bindings instead, so pad to keep one meaning. */
static const dqlc_value_t *pad(const dqlc_value_t *params, size_t n, uint64_t want,
			       dqlc_value_t *local, size_t local_n, dqlc_value_t **heap,
			       size_t *out_n)
{
	dqlc_value_t *v;
	size_t i;
	*out_n = n;
	if (want <= n)
		return params;
	v = want <= local_n ? local : (*heap = calloc((size_t)want, sizeof *v));
	if (v == NULL)
		return NULL;
	for (i = 0; i < want; i++)
		v[i] = i < n ? params[i] : dqlc_value_null();
	*out_n = (size_t)want;
	return v;
}

static int run(struct dqlc_conn *c, bool query, const char *sql, const dqlc_value_t *params,
	       size_t n, dqlc_result_t **out, dqlc_error_t *err)
{
	dqlc_value_t local[16], *heap = NULL;
	const dqlc_value_t *p;
	struct entry *e = NULL;
	dqlc__hdr_t hdr;
	const uint8_t *body;
	size_t pn;
	int rv = lookup(c, sql, &e, err);
	if (rv != 0)
		return rv;
	p = pad(params, n, e->nparams, local, 16, &heap, &pn);
	if (p == NULL && e->nparams > n)
		return dqlc__err(err, DQLC_ENOMEM, "out of memory");
	if ((rv = dqlc__conn_params_ready(c, pn, dqlc__conn_deadline(c), err)) != 0) {
		free(heap);
		return rv;
	}
	if (query) {
		size_t saved = c->wbuf.len;
		rv = dqlc__enc_query(&c->wbuf, 0, e->id, p, pn, c->features, err);
		if (rv != 0)
			c->wbuf.len = saved;
		if (rv == 0)
			rv = dqlc__conn_send(c, dqlc__conn_deadline(c), false, err);
		if (rv == 0)
			rv = dqlc__conn_read_rows(c, dqlc__conn_deadline(c), out, err);
	} else {
		uint64_t last_id, changes;
		bool writes = !c->in_tx;
		rv = call(c, c->wbuf.len, dqlc__enc_exec(&c->wbuf, 0, e->id, p, pn, c->features, err),
			  DQLC__RESP_RESULT, writes, &hdr, &body, err);
		if (rv == 0)
			rv = dqlc__dec_result(body, (size_t)hdr.words * 8, &last_id, &changes, err);
		if (rv == 0 && out != NULL) {
			*out = dqlc__result_new();
			if (*out == NULL)
				rv = dqlc__err(err, DQLC_ENOMEM, "out of memory");
			else {
				(*out)->last_insert_id = (int64_t)last_id;
				(*out)->rows_affected = (int64_t)changes;
			}
		}
	}
	free(heap);
	return rv;
}

/* Both entry points: the cache when it applies, else the plain SQL path. */
static int run_cached(struct dqlc_conn *c, bool query, const char *sql,
		      const dqlc_value_t *params, size_t n, dqlc_result_t **out, dqlc_error_t *err)
{
	int rv;
	if (!use_cache(c, sql, err))
		return query ? dqlc_conn_query(c, sql, params, n, out, err)
			     : dqlc_conn_exec(c, sql, params, n, out, err);
	if ((rv = dqlc__sql_refuse(sql, err)) != 0)
		return rv;
	if ((rv = dqlc__conn_enter(c, err)) != 0)
		return rv;
	rv = dqlc__conn_open(c, dqlc__conn_deadline(c), err);
	if (rv == 0)
		rv = dqlc__conn_sql_check(c, sql, dqlc__conn_deadline(c), err);
	if (rv == 0)
		rv = run(c, query, sql, params, n, out, err);
	dqlc__conn_leave(c);
	return rv;
}

int dqlc__conn_exec_cached(struct dqlc_conn *c, const char *sql, const dqlc_value_t *params,
			   size_t n, dqlc_result_t **out, dqlc_error_t *err)
{
	return run_cached(c, false, sql, params, n, out, err);
}

int dqlc__conn_query_cached(struct dqlc_conn *c, const char *sql, const dqlc_value_t *params,
			    size_t n, dqlc_result_t **out, dqlc_error_t *err)
{
	return run_cached(c, true, sql, params, n, out, err);
}
