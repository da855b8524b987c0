/*
 * Request encoders (PROTOCOL.md §2, params tuples §4.1).
 *
 * Every encoder first validates its arguments and computes the exact body
 * size, then reserves header + body in one go and writes the fields.  So a
 * refused request leaves the buffer untouched, and there is a single
 * allocation per message.  Padding is written explicitly (the buffer's spare
 * capacity holds stale bytes from earlier messages).
 */
#include <string.h>

#include "error.h"
#include "wire/buf.h"

/* Largest body the header can describe: words is a uint32. */
#define MAX_BODY ((uint64_t)UINT32_MAX * DQLC__WORD)

/* ---- Size arithmetic (saturating, so one check at the end suffices) ---- */

static void add(uint64_t *acc, uint64_t n)
{
	*acc = n > UINT64_MAX - *acc ? UINT64_MAX : *acc + n;
}

/* Bytes of a text field holding n bytes: string, NUL, padding. */
static uint64_t text_size(size_t n)
{
	uint64_t s = (uint64_t)n;
	return s > MAX_BODY ? UINT64_MAX : (s + DQLC__WORD) & ~(uint64_t)(DQLC__WORD - 1);
}

static uint64_t blob_size(size_t n)
{
	uint64_t s = (uint64_t)n;
	return s > MAX_BODY ? UINT64_MAX : DQLC__WORD + ((s + 7) & ~(uint64_t)7);
}

/* ---- Writers (w is the write position; each returns the next one) ----- */

static uint8_t *w_u64(uint8_t *w, uint64_t v)
{
	dqlc__put_u64(w, v);
	return w + DQLC__WORD;
}

static uint8_t *w_zero(uint8_t *w, size_t n)
{
	memset(w, 0, n);
	return w + n;
}

static uint8_t *w_text(uint8_t *w, const char *s, size_t n)
{
	memcpy(w, s, n);
	return w_zero(w + n, 1 + dqlc__pad8(n + 1));
}

static uint8_t *w_blob(uint8_t *w, const void *p, size_t n)
{
	w = w_u64(w, (uint64_t)n);
	if (n > 0)
		memcpy(w, p, n);
	return w_zero(w + n, dqlc__pad8(n));
}

/* ---- Message framing --------------------------------------------------- */

/* Reserve a message of `body` bytes, write its header and set *w to the
 * body.  Body sizes are computed by the callers; only the size limit can be
 * hit by user data (huge SQL or params). */
static int begin(dqlc__wbuf_t *b, uint8_t type, uint8_t schema, uint64_t body, uint8_t **w,
		 dqlc_error_t *err)
{
	uint8_t *h;
	int rc;

	*w = NULL;
	if (b == NULL)
		return dqlc__err(err, DQLC_EINVAL, "%s: NULL write buffer",
				 dqlc__wire_req_name(type));
	if (body == 0 || body % DQLC__WORD != 0) /* never produce words = 0 */
		return dqlc__err(err, DQLC_EINVAL,
				 "%s: invalid body size %llu (must be a non-zero multiple of 8)",
				 dqlc__wire_req_name(type), (unsigned long long)body);
	if (body > MAX_BODY || body > SIZE_MAX - DQLC__WORD)
		return dqlc__err(err, DQLC_EINVAL,
				 "%s: request too large (a message body is at most %llu bytes)",
				 dqlc__wire_req_name(type), (unsigned long long)MAX_BODY);
	rc = dqlc__wbuf_reserve(b, DQLC__WORD + (size_t)body, err);
	if (rc != 0)
		return rc;
	h = b->data + b->len;
	b->len += DQLC__WORD + (size_t)body;
	dqlc__put_u32(h, (uint32_t)(body / DQLC__WORD));
	h[4] = type;
	h[5] = schema;
	dqlc__put_u16(h + 6, 0);
	*w = h + DQLC__WORD;
	return 0;
}

/* A body that is one uint64: most of the admin requests. */
static int enc_word(dqlc__wbuf_t *b, uint8_t type, uint64_t v, dqlc_error_t *err)
{
	uint8_t *w;
	int rc = begin(b, type, 0, DQLC__WORD, &w, err);

	if (rc == 0)
		w_u64(w, v);
	return rc;
}

static int need_str(const char *s, const char *req, const char *field, dqlc_error_t *err)
{
	if (s == NULL)
		return dqlc__err(err, DQLC_EINVAL, "%s: %s is NULL", req, field);
	return 0;
}

/* ---- Handshake and simple requests ------------------------------------- */

int dqlc__enc_handshake(dqlc__wbuf_t *b, uint64_t version, dqlc_error_t *err)
{
	uint8_t *w;

	if (version != DQLC__PROTO_VERSION && version != DQLC__PROTO_VERSION_LEGACY)
		return dqlc__err(err, DQLC_EINVAL,
				 "handshake: unknown protocol version 0x%llx (the server "
				 "would close the connection)",
				 (unsigned long long)version);
	if (b == NULL)
		return dqlc__err(err, DQLC_EINVAL, "handshake: NULL write buffer");
	w = dqlc__wbuf_append(b, DQLC__WORD, err);
	if (w == NULL)
		return DQLC_ENOMEM;
	dqlc__put_u64(w, version);
	return 0;
}

int dqlc__enc_leader(dqlc__wbuf_t *b, dqlc_error_t *err)
{
	return enc_word(b, DQLC__REQ_LEADER, 0, err);
}

int dqlc__enc_client(dqlc__wbuf_t *b, uint64_t id, dqlc_error_t *err)
{
	return enc_word(b, DQLC__REQ_CLIENT, id, err);
}

int dqlc__enc_heartbeat(dqlc__wbuf_t *b, uint64_t timestamp, unsigned features,
			dqlc_error_t *err)
{
	if ((features & DQLC__FEAT_UNKNOWN_REQ) == 0)
		return dqlc__err(err, DQLC_EINVAL,
				 "HEARTBEAT is not implemented by dqlite 1.11 servers and "
				 "wedges the connection (no reply is ever sent)");
	return enc_word(b, DQLC__REQ_HEARTBEAT, timestamp, err);
}

int dqlc__enc_interrupt(dqlc__wbuf_t *b, uint64_t db, dqlc_error_t *err)
{
	return enc_word(b, DQLC__REQ_INTERRUPT, db, err);
}

int dqlc__enc_finalize(dqlc__wbuf_t *b, uint32_t db, uint32_t stmt, dqlc_error_t *err)
{
	uint8_t *w;
	int rc = begin(b, DQLC__REQ_FINALIZE, 0, DQLC__WORD, &w, err);

	if (rc != 0)
		return rc;
	dqlc__put_u32(w, db);
	dqlc__put_u32(w + 4, stmt);
	return 0;
}

int dqlc__enc_assign(dqlc__wbuf_t *b, uint64_t id, int role, dqlc_error_t *err)
{
	uint8_t *w;
	int rc;

	if (role < DQLC__ROLE_VOTER || role > DQLC__ROLE_SPARE)
		return dqlc__err(err, DQLC_EINVAL,
				 "ASSIGN: role %d is not 0 (voter), 1 (standby) or 2 (spare)",
				 role);
	if ((rc = begin(b, DQLC__REQ_ASSIGN, 0, 2 * DQLC__WORD, &w, err)) != 0)
		return rc;
	w = w_u64(w, id);
	w_u64(w, (uint64_t)role);
	return 0;
}

int dqlc__enc_remove(dqlc__wbuf_t *b, uint64_t id, dqlc_error_t *err)
{
	return enc_word(b, DQLC__REQ_REMOVE, id, err);
}

int dqlc__enc_cluster(dqlc__wbuf_t *b, uint64_t format, dqlc_error_t *err)
{
	if (format > 1)
		return dqlc__err(err, DQLC_EINVAL,
				 "CLUSTER: format %llu is not 0 (id, address) or 1 (id, "
				 "address, role)",
				 (unsigned long long)format);
	return enc_word(b, DQLC__REQ_CLUSTER, format, err);
}

int dqlc__enc_transfer(dqlc__wbuf_t *b, uint64_t id, dqlc_error_t *err)
{
	return enc_word(b, DQLC__REQ_TRANSFER, id, err);
}

int dqlc__enc_describe(dqlc__wbuf_t *b, uint64_t format, dqlc_error_t *err)
{
	if (format != 0)
		return dqlc__err(err, DQLC_EINVAL,
				 "DESCRIBE: format %llu is not 0 (any other format crashes a "
				 "dqlite 1.11 server)",
				 (unsigned long long)format);
	return enc_word(b, DQLC__REQ_DESCRIBE, format, err);
}

int dqlc__enc_weight(dqlc__wbuf_t *b, uint64_t weight, dqlc_error_t *err)
{
	return enc_word(b, DQLC__REQ_WEIGHT, weight, err);
}

/* ---- Requests with text ------------------------------------------------ */

int dqlc__enc_open(dqlc__wbuf_t *b, const char *name, uint64_t flags, const char *vfs,
		   dqlc_error_t *err)
{
	uint64_t size = 0;
	size_t nname, nvfs;
	uint8_t *w;
	int rc;

	if ((rc = need_str(name, "OPEN", "database name", err)) != 0 ||
	    (rc = need_str(vfs, "OPEN", "vfs name", err)) != 0)
		return rc;
	nname = strlen(name);
	nvfs = strlen(vfs);
	add(&size, text_size(nname));
	add(&size, DQLC__WORD);
	add(&size, text_size(nvfs));
	if ((rc = begin(b, DQLC__REQ_OPEN, 0, size, &w, err)) != 0)
		return rc;
	w = w_text(w, name, nname);
	w = w_u64(w, flags);
	w_text(w, vfs, nvfs);
	return 0;
}

int dqlc__enc_prepare(dqlc__wbuf_t *b, uint64_t db, const char *sql, bool want_tail,
		      unsigned features, dqlc_error_t *err)
{
	uint8_t schema = want_tail && (features & DQLC__FEAT_PREPARE_TAIL) ? 1 : 0;
	uint64_t size = DQLC__WORD;
	size_t nsql;
	uint8_t *w;
	int rc;

	if ((rc = need_str(sql, "PREPARE", "SQL", err)) != 0)
		return rc;
	nsql = strlen(sql);
	add(&size, text_size(nsql));
	if ((rc = begin(b, DQLC__REQ_PREPARE, schema, size, &w, err)) != 0)
		return rc;
	w = w_u64(w, db);
	w_text(w, sql, nsql);
	return 0;
}

/* id + address: CONNECT (refused) and ADD. */
static int enc_id_address(dqlc__wbuf_t *b, uint8_t type, uint64_t id, const char *address,
			  dqlc_error_t *err)
{
	uint64_t size = DQLC__WORD;
	size_t n;
	uint8_t *w;
	int rc;

	if ((rc = need_str(address, dqlc__wire_req_name(type), "address", err)) != 0)
		return rc;
	n = strlen(address);
	add(&size, text_size(n));
	if ((rc = begin(b, type, 0, size, &w, err)) != 0)
		return rc;
	w = w_u64(w, id);
	w_text(w, address, n);
	return 0;
}

int dqlc__enc_connect(dqlc__wbuf_t *b, uint64_t id, const char *address, dqlc_error_t *err)
{
	(void)b;
	(void)id;
	(void)address;
	return dqlc__err(err, DQLC_EINVAL,
			 "CONNECT is the node-to-node raft handshake: the server hands the "
			 "socket to raft and never answers; clients must not send it");
}

int dqlc__enc_add(dqlc__wbuf_t *b, uint64_t id, const char *address, dqlc_error_t *err)
{
	return enc_id_address(b, DQLC__REQ_ADD, id, address, err);
}

int dqlc__enc_dump(dqlc__wbuf_t *b, const char *name, dqlc_error_t *err)
{
	size_t n;
	uint8_t *w;
	int rc;

	if ((rc = need_str(name, "DUMP", "database name", err)) != 0)
		return rc;
	n = strlen(name);
	if ((rc = begin(b, DQLC__REQ_DUMP, 0, text_size(n), &w, err)) != 0)
		return rc;
	w_text(w, name, n);
	return 0;
}

/* ---- Params tuples ----------------------------------------------------- */

#define TEXT_NAME(t) ((t) == DQLC_TYPE_TEXT ? "TEXT" : "ISO8601")

/* Validate params, compute the tuple's size and schema (0: uint8 count,
 * 1: uint32 count).  n == 0 means no tuple at all (size 0). */
static int params_size(const char *req, const dqlc_value_t *params, size_t n,
		       unsigned features, uint64_t *size, uint8_t *schema, dqlc_error_t *err)
{
	uint64_t s;
	size_t i;

	*size = 0;
	*schema = 0;
	if (n == 0)
		return 0;
	if (params == NULL)
		return dqlc__err(err, DQLC_EINVAL, "%s: %zu parameters but params is NULL", req,
				 n);
	if (n > 255) {
		if ((features & DQLC__FEAT_SCHEMA1) == 0)
			return dqlc__err(err, DQLC_EINVAL,
					 "%s: %zu parameters: more than 255 parameters needs a "
					 "dqlite server >= 1.12 (this server speaks the 1.11 "
					 "protocol)",
					 req, n);
		if ((uint64_t)n > UINT32_MAX)
			return dqlc__err(err, DQLC_EINVAL,
					 "%s: %zu parameters: the protocol allows at most %lu",
					 req, n, (unsigned long)UINT32_MAX);
		*schema = 1;
		s = 4 + (uint64_t)n;
	} else {
		s = 1 + (uint64_t)n;
	}
	s = (s + 7) & ~(uint64_t)7;

	for (i = 0; i < n; i++) {
		const dqlc_value_t *v = &params[i];
		switch (v->type) {
		case DQLC_TYPE_INTEGER:
		case DQLC_TYPE_FLOAT:
		case DQLC_TYPE_NULL:
		case DQLC_TYPE_BOOLEAN:
		case DQLC_TYPE_UNIXTIME:
			add(&s, DQLC__WORD);
			break;
		case DQLC_TYPE_TEXT:
		case DQLC_TYPE_ISO8601: {
			const char *nul;
			if (v->v.s.p == NULL && v->v.s.n > 0)
				return dqlc__err(err, DQLC_EINVAL,
						 "%s: parameter %zu: %s of %zu bytes with a NULL "
						 "pointer",
						 req, i + 1, TEXT_NAME(v->type), v->v.s.n);
			nul = v->v.s.n > 0 ? memchr(v->v.s.p, 0, v->v.s.n) : NULL;
			if (nul != NULL)
				return dqlc__err(err, DQLC_EINVAL,
						 "%s: parameter %zu: %s contains a NUL byte at "
						 "position %zu (the server would truncate it; "
						 "send binary data as a BLOB)",
						 req, i + 1, TEXT_NAME(v->type),
						 (size_t)(nul - v->v.s.p));
			add(&s, text_size(v->v.s.n));
			break;
		}
		case DQLC_TYPE_BLOB:
			if (v->v.s.p == NULL && v->v.s.n > 0)
				return dqlc__err(err, DQLC_EINVAL,
						 "%s: parameter %zu: BLOB of %zu bytes with a NULL "
						 "pointer",
						 req, i + 1, v->v.s.n);
			add(&s, blob_size(v->v.s.n));
			break;
		default:
			return dqlc__err(err, DQLC_EINVAL,
					 "%s: parameter %zu has unknown value type %d", req, i + 1,
					 v->type);
		}
	}
	*size = s;
	return 0;
}

/* Write a tuple validated by params_size(). */
static void w_params(uint8_t *w, const dqlc_value_t *params, size_t n, uint8_t schema)
{
	size_t hdr, i;
	uint8_t *types;

	if (n == 0)
		return;
	if (schema == 1) {
		dqlc__put_u32(w, (uint32_t)n);
		types = w + 4;
		hdr = 4 + n;
	} else {
		w[0] = (uint8_t)n;
		types = w + 1;
		hdr = 1 + n;
	}
	for (i = 0; i < n; i++) {
		int t = params[i].type;
		/* servers reject UNIXTIME params: it is an int64 anyway */
		types[i] = (uint8_t)(t == DQLC_TYPE_UNIXTIME ? DQLC_TYPE_INTEGER : t);
	}
	w = w_zero(w + hdr, dqlc__pad8(hdr));

	for (i = 0; i < n; i++) {
		const dqlc_value_t *v = &params[i];
		uint64_t u;
		switch (v->type) {
		case DQLC_TYPE_INTEGER:
		case DQLC_TYPE_UNIXTIME:
			w = w_u64(w, (uint64_t)v->v.i);
			break;
		case DQLC_TYPE_BOOLEAN:
			w = w_u64(w, v->v.i != 0 ? 1 : 0);
			break;
		case DQLC_TYPE_FLOAT:
			memcpy(&u, &v->v.f, sizeof u);
			w = w_u64(w, u);
			break;
		case DQLC_TYPE_NULL:
			w = w_u64(w, 0);
			break;
		case DQLC_TYPE_TEXT:
		case DQLC_TYPE_ISO8601:
			w = w_text(w, v->v.s.n > 0 ? v->v.s.p : "", v->v.s.n);
			break;
		default: /* BLOB: params_size() allowed nothing else */
			w = w_blob(w, v->v.s.p, v->v.s.n);
			break;
		}
	}
}

/* EXEC / QUERY: packed db and stmt ids, then the tuple. */
static int enc_stmt_params(dqlc__wbuf_t *b, uint8_t type, uint32_t db, uint32_t stmt,
			   const dqlc_value_t *params, size_t n, unsigned features,
			   dqlc_error_t *err)
{
	uint64_t tuple, size = DQLC__WORD;
	uint8_t schema;
	uint8_t *w;
	int rc;

	rc = params_size(dqlc__wire_req_name(type), params, n, features, &tuple, &schema, err);
	if (rc != 0)
		return rc;
	add(&size, tuple);
	if ((rc = begin(b, type, schema, size, &w, err)) != 0)
		return rc;
	dqlc__put_u32(w, db);
	dqlc__put_u32(w + 4, stmt);
	w_params(w + DQLC__WORD, params, n, schema);
	return 0;
}

/* EXEC_SQL / QUERY_SQL: db id, SQL text, then the tuple. */
static int enc_sql_params(dqlc__wbuf_t *b, uint8_t type, uint64_t db, const char *sql,
			  const dqlc_value_t *params, size_t n, unsigned features,
			  dqlc_error_t *err)
{
	const char *req = dqlc__wire_req_name(type);
	uint64_t tuple, size = DQLC__WORD;
	uint8_t schema;
	size_t nsql;
	uint8_t *w;
	int rc;

	if ((rc = need_str(sql, req, "SQL", err)) != 0)
		return rc;
	rc = params_size(req, params, n, features, &tuple, &schema, err);
	if (rc != 0)
		return rc;
	nsql = strlen(sql);
	add(&size, text_size(nsql));
	add(&size, tuple);
	if ((rc = begin(b, type, schema, size, &w, err)) != 0)
		return rc;
	w = w_u64(w, db);
	w = w_text(w, sql, nsql);
	w_params(w, params, n, schema);
	return 0;
}

int dqlc__enc_exec(dqlc__wbuf_t *b, uint32_t db, uint32_t stmt, const dqlc_value_t *params,
		   size_t n, unsigned features, dqlc_error_t *err)
{
	return enc_stmt_params(b, DQLC__REQ_EXEC, db, stmt, params, n, features, err);
}

int dqlc__enc_query(dqlc__wbuf_t *b, uint32_t db, uint32_t stmt, const dqlc_value_t *params,
		    size_t n, unsigned features, dqlc_error_t *err)
{
	return enc_stmt_params(b, DQLC__REQ_QUERY, db, stmt, params, n, features, err);
}

int dqlc__enc_exec_sql(dqlc__wbuf_t *b, uint64_t db, const char *sql,
		       const dqlc_value_t *params, size_t n, unsigned features,
		       dqlc_error_t *err)
{
	return enc_sql_params(b, DQLC__REQ_EXEC_SQL, db, sql, params, n, features, err);
}

int dqlc__enc_query_sql(dqlc__wbuf_t *b, uint64_t db, const char *sql,
			const dqlc_value_t *params, size_t n, unsigned features,
			dqlc_error_t *err)
{
	return enc_sql_params(b, DQLC__REQ_QUERY_SQL, db, sql, params, n, features, err);
}

/* ---- Raw --------------------------------------------------------------- */

int dqlc__enc_raw(dqlc__wbuf_t *b, uint8_t type, const uint8_t *body, size_t body_len,
		  dqlc_error_t *err)
{
	uint8_t *w;
	int rc;

	switch (type) {
	case DQLC__REQ_HEARTBEAT:
	case DQLC__REQ_CONNECT:
		return dqlc__err(err, DQLC_EINVAL,
				 "raw request: type %u (%s) is never sent by a client (it "
				 "wedges the connection)",
				 type, dqlc__wire_req_name(type));
	default:
		if (type > DQLC__REQ_WEIGHT)
			return dqlc__err(err, DQLC_EINVAL,
					 "raw request: unknown request type %u (a dqlite 1.11 "
					 "server never answers it and the connection hangs)",
					 type);
	}
	if (body_len == 0 || body_len % DQLC__WORD != 0)
		return dqlc__err(err, DQLC_EINVAL,
				 "raw request: body length %zu is not a non-zero multiple of 8",
				 body_len);
	if (body == NULL)
		return dqlc__err(err, DQLC_EINVAL, "raw request: NULL body");
	if (type == DQLC__REQ_DESCRIBE && dqlc__get_u64(body) != 0)
		return dqlc__err(err, DQLC_EINVAL,
				 "raw request: DESCRIBE format %llu is not 0 (any other "
				 "format crashes a dqlite 1.11 server)",
				 (unsigned long long)dqlc__get_u64(body));
	if ((rc = begin(b, type, 0, body_len, &w, err)) != 0)
		return rc;
	memcpy(w, body, body_len);
	return 0;
}
