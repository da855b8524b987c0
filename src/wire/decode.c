/*
 * Message headers and the response decoders other than ROWS (PROTOCOL.md
 * §1.2, §3).  Each decoder walks the body with a bounds-checked cursor,
 * requires it to be consumed exactly, and writes its outputs only once the
 * whole body has been validated.
 */
#include <stdlib.h>

#include "error.h"
#include "wire/buf.h"

const char *dqlc__wire_req_name(unsigned type)
{
	static const char *const names[] = {
	    "LEADER",    "CLIENT",   "HEARTBEAT", "OPEN",      "PREPARE",
	    "EXEC",      "QUERY",    "FINALIZE",  "EXEC_SQL",  "QUERY_SQL",
	    "INTERRUPT", "CONNECT",  "ADD",       "ASSIGN",    "REMOVE",
	    "DUMP",      "CLUSTER",  "TRANSFER",  "DESCRIBE",  "WEIGHT",
	};
	return type < sizeof names / sizeof names[0] ? names[type] : "UNKNOWN";
}

const char *dqlc__wire_resp_name(unsigned type)
{
	static const char *const names[] = {
	    "FAILURE", "SERVER", "WELCOME", "SERVERS", "DB",      "STMT",
	    "RESULT",  "ROWS",   "EMPTY",   "FILES",   "METADATA",
	};
	return type < sizeof names / sizeof names[0] ? names[type] : "UNKNOWN";
}

/* ---- Header ------------------------------------------------------------ */

int dqlc__wire_header(const uint8_t hdr[8], size_t max_body, dqlc__hdr_t *out,
		      dqlc_error_t *err)
{
	dqlc__hdr_t h;
	uint64_t bytes;

	if (hdr == NULL || out == NULL)
		return dqlc__err(err, DQLC_EINVAL, "message header: NULL argument");
	h.words = dqlc__get_u32(hdr);
	h.type = hdr[4];
	h.schema = hdr[5];
	h.extra = dqlc__get_u16(hdr + 6);
	bytes = (uint64_t)h.words * DQLC__WORD;
	if (h.words == 0)
		return dqlc__err(err, DQLC_EPROTO,
				 "message header: %s (type %u) with an empty body (0 words); "
				 "every message has at least one word",
				 dqlc__wire_resp_name(h.type), h.type);
	if (bytes > max_body)
		return dqlc__err(err, DQLC_EPROTO,
				 "message header: %s (type %u) body of %llu bytes (%lu words) "
				 "exceeds the limit of %zu bytes",
				 dqlc__wire_resp_name(h.type), h.type, (unsigned long long)bytes,
				 (unsigned long)h.words, max_body);
	*out = h;
	return 0;
}

int dqlc__wire_frame(const uint8_t *buf, size_t len, size_t max_body, dqlc__hdr_t *hdr,
		     const uint8_t **body, size_t *consumed, dqlc_error_t *err)
{
	dqlc__hdr_t h;
	size_t blen;
	int rc;

	if ((buf == NULL && len > 0) || hdr == NULL || body == NULL || consumed == NULL)
		return dqlc__err(err, DQLC_EINVAL, "message: NULL argument");
	if (len < DQLC__WORD)
		return dqlc__err(err, DQLC_EPROTO,
				 "message: truncated header: %zu of 8 bytes at offset 0", len);
	rc = dqlc__wire_header(buf, max_body, &h, err);
	if (rc != 0)
		return rc;
	blen = (size_t)h.words * DQLC__WORD; /* <= max_body, so it fits */
	if (blen > len - DQLC__WORD)
		return dqlc__err(err, DQLC_EPROTO,
				 "message: truncated %s body: %zu of %zu bytes present "
				 "(ends at offset %zu)",
				 dqlc__wire_resp_name(h.type), len - DQLC__WORD, blen,
				 len - DQLC__WORD);
	*hdr = h;
	*body = buf + DQLC__WORD;
	*consumed = DQLC__WORD + blen;
	return 0;
}

/* ---- Small fixed-shape responses --------------------------------------- */

int dqlc__dec_failure(const uint8_t *body, size_t len, uint64_t *code, const char **msg,
		      dqlc_error_t *err)
{
	dqlc__rd_t rd;
	uint64_t c;
	const char *m;
	int rc;

	if ((rc = dqlc__rd_init(&rd, body, len, "FAILURE", err)) != 0 ||
	    (rc = dqlc__rd_u64(&rd, &c, "code", err)) != 0 ||
	    (rc = dqlc__rd_text(&rd, &m, NULL, "message", err)) != 0 ||
	    (rc = dqlc__rd_end(&rd, err)) != 0)
		return rc;
	if (code != NULL)
		*code = c;
	if (msg != NULL)
		*msg = m;
	return 0;
}

int dqlc__dec_server(const uint8_t *body, size_t len, uint64_t *id, const char **address,
		     dqlc_error_t *err)
{
	dqlc__rd_t rd;
	uint64_t i;
	const char *a;
	int rc;

	if ((rc = dqlc__rd_init(&rd, body, len, "SERVER", err)) != 0 ||
	    (rc = dqlc__rd_u64(&rd, &i, "id", err)) != 0 ||
	    (rc = dqlc__rd_text(&rd, &a, NULL, "address", err)) != 0 ||
	    (rc = dqlc__rd_end(&rd, err)) != 0)
		return rc;
	if (id != NULL)
		*id = i;
	if (address != NULL)
		*address = a;
	return 0;
}

int dqlc__dec_server_legacy(const uint8_t *body, size_t len, const char **address,
			    dqlc_error_t *err)
{
	dqlc__rd_t rd;
	const char *a;
	int rc;

	if ((rc = dqlc__rd_init(&rd, body, len, "SERVER_LEGACY", err)) != 0 ||
	    (rc = dqlc__rd_text(&rd, &a, NULL, "address", err)) != 0 ||
	    (rc = dqlc__rd_end(&rd, err)) != 0)
		return rc;
	if (address != NULL)
		*address = a;
	return 0;
}

/* Bodies made of `n` uint64 fields. */
static int dec_words(const uint8_t *body, size_t len, const char *what, size_t n,
		     const char *const *fields, uint64_t *v, dqlc_error_t *err)
{
	dqlc__rd_t rd;
	size_t i;
	int rc;

	if ((rc = dqlc__rd_init(&rd, body, len, what, err)) != 0)
		return rc;
	for (i = 0; i < n; i++)
		if ((rc = dqlc__rd_u64(&rd, &v[i], fields[i], err)) != 0)
			return rc;
	return dqlc__rd_end(&rd, err);
}

int dqlc__dec_welcome(const uint8_t *body, size_t len, uint64_t *heartbeat_ms,
		      dqlc_error_t *err)
{
	static const char *const f[] = {"heartbeat timeout"};
	uint64_t v[1];
	int rc = dec_words(body, len, "WELCOME", 1, f, v, err);

	if (rc == 0 && heartbeat_ms != NULL)
		*heartbeat_ms = v[0];
	return rc;
}

int dqlc__dec_result(const uint8_t *body, size_t len, uint64_t *last_insert_id,
		     uint64_t *rows_affected, dqlc_error_t *err)
{
	static const char *const f[] = {"last insert id", "rows affected"};
	uint64_t v[2];
	int rc = dec_words(body, len, "RESULT", 2, f, v, err);

	if (rc != 0)
		return rc;
	if (last_insert_id != NULL)
		*last_insert_id = v[0];
	if (rows_affected != NULL)
		*rows_affected = v[1];
	return 0;
}

int dqlc__dec_empty(const uint8_t *body, size_t len, dqlc_error_t *err)
{
	/* The word is an unused field (the server sends 0); its value is not
	 * checked, only the shape. */
	static const char *const f[] = {"unused word"};
	uint64_t v[1];

	return dec_words(body, len, "EMPTY", 1, f, v, err);
}

int dqlc__dec_metadata(const uint8_t *body, size_t len, uint64_t *failure_domain,
		       uint64_t *weight, dqlc_error_t *err)
{
	static const char *const f[] = {"failure domain", "weight"};
	uint64_t v[2];
	int rc = dec_words(body, len, "METADATA", 2, f, v, err);

	if (rc != 0)
		return rc;
	if (failure_domain != NULL)
		*failure_domain = v[0];
	if (weight != NULL)
		*weight = v[1];
	return 0;
}

int dqlc__dec_db(const uint8_t *body, size_t len, uint32_t *db, dqlc_error_t *err)
{
	static const char *const f[] = {"db id"};
	uint64_t v[1];
	int rc = dec_words(body, len, "DB", 1, f, v, err);

	if (rc != 0)
		return rc;
	if ((v[0] >> 32) != 0)
		return dqlc__err(err, DQLC_EPROTO,
				 "DB: non-zero padding 0x%08lx at offset 4",
				 (unsigned long)(v[0] >> 32));
	if (db != NULL)
		*db = (uint32_t)v[0];
	return 0;
}

int dqlc__dec_stmt(const uint8_t *body, size_t len, uint8_t schema, uint32_t *db,
		   uint32_t *stmt, uint64_t *nparams, uint64_t *tail, dqlc_error_t *err)
{
	static const char *const f[] = {"db and statement ids", "parameter count",
					"tail offset"};
	uint64_t v[3] = {0, 0, 0};
	int rc;

	if (schema > 1)
		return dqlc__err(err, DQLC_EPROTO, "STMT: unknown schema %u in the header",
				 schema);
	rc = dec_words(body, len, schema == 1 ? "STMT_WITH_OFFSET" : "STMT",
		       schema == 1 ? 3 : 2, f, v, err);
	if (rc != 0)
		return rc;
	if (db != NULL)
		*db = (uint32_t)v[0];
	if (stmt != NULL)
		*stmt = (uint32_t)(v[0] >> 32);
	if (nparams != NULL)
		*nparams = v[1];
	if (tail != NULL)
		*tail = v[2];
	return 0;
}

/* ---- Lists ------------------------------------------------------------- */

/* Read a uint64 count of items that take at least `min_item` bytes each and
 * check that many can fit in what is left, before anyone allocates. */
static int rd_count(dqlc__rd_t *rd, size_t min_item, const char *field, uint64_t *n,
		    dqlc_error_t *err)
{
	size_t at = rd->off;
	int rc = dqlc__rd_u64(rd, n, field, err);

	if (rc != 0)
		return rc;
	if (*n > dqlc__rd_left(rd) / min_item)
		return dqlc__err(err, DQLC_EPROTO,
				 "%s: %s %llu at offset %zu cannot fit in the %zu bytes left "
				 "(each entry takes at least %zu)",
				 rd->what, field, (unsigned long long)*n, at, dqlc__rd_left(rd),
				 min_item);
	return 0;
}

int dqlc__dec_servers(const uint8_t *body, size_t len, uint64_t format, dqlc__node_t **nodes,
		      size_t *n, dqlc_error_t *err)
{
	dqlc__rd_t rd;
	dqlc__node_t *v = NULL;
	uint64_t count, i;
	int rc;

	if (nodes == NULL || n == NULL)
		return dqlc__err(err, DQLC_EINVAL, "SERVERS: NULL output");
	if (format > 1)
		return dqlc__err(err, DQLC_EINVAL, "SERVERS: format %llu is not 0 or 1",
				 (unsigned long long)format);
	if ((rc = dqlc__rd_init(&rd, body, len, "SERVERS", err)) != 0 ||
	    (rc = rd_count(&rd, format == 1 ? 3 * DQLC__WORD : 2 * DQLC__WORD, "node count",
			   &count, err)) != 0)
		return rc;
	if (count > 0) {
		v = malloc((size_t)count * sizeof *v);
		if (v == NULL)
			return dqlc__err(err, DQLC_ENOMEM, "SERVERS: cannot allocate %llu nodes",
					 (unsigned long long)count);
	}
	for (i = 0; i < count; i++) {
		v[i].role = 0;
		if ((rc = dqlc__rd_u64(&rd, &v[i].id, "node id", err)) != 0 ||
		    (rc = dqlc__rd_text(&rd, &v[i].address, NULL, "node address", err)) != 0 ||
		    (format == 1 && (rc = dqlc__rd_u64(&rd, &v[i].role, "node role", err)) != 0))
			goto fail;
	}
	if ((rc = dqlc__rd_end(&rd, err)) != 0)
		goto fail;
	*nodes = v;
	*n = (size_t)count;
	return 0;
fail:
	free(v);
	return rc;
}

int dqlc__dec_files(const uint8_t *body, size_t len, dqlc__file_t **files, size_t *n,
		    dqlc_error_t *err)
{
	dqlc__rd_t rd;
	dqlc__file_t *v = NULL;
	uint64_t count, i;
	int rc;

	if (files == NULL || n == NULL)
		return dqlc__err(err, DQLC_EINVAL, "FILES: NULL output");
	if ((rc = dqlc__rd_init(&rd, body, len, "FILES", err)) != 0 ||
	    (rc = rd_count(&rd, 2 * DQLC__WORD, "file count", &count, err)) != 0)
		return rc;
	if (count > 0) {
		v = malloc((size_t)count * sizeof *v);
		if (v == NULL)
			return dqlc__err(err, DQLC_ENOMEM, "FILES: cannot allocate %llu files",
					 (unsigned long long)count);
	}
	for (i = 0; i < count; i++) {
		if ((rc = dqlc__rd_text(&rd, &v[i].name, NULL, "file name", err)) != 0 ||
		    (rc = dqlc__rd_u64(&rd, &v[i].size, "file size", err)) != 0 ||
		    (rc = dqlc__rd_bytes(&rd, v[i].size, &v[i].data, "file data", err)) != 0)
			goto fail;
	}
	if ((rc = dqlc__rd_end(&rd, err)) != 0)
		goto fail;
	*files = v;
	*n = (size_t)count;
	return 0;
fail:
	free(v);
	return rc;
}
