/*
 * The dqlite wire codec: pure functions over buffers, no I/O, no global
 * state.  Byte layouts are in ../shared/PROTOCOL.md (§1 framing, §2
 * requests, §3 responses, §4 tuples).
 *
 * Encoders append one complete message (8-byte header + body) to a growable
 * buffer.  They refuse, with DQLC_EINVAL and a clear message, anything that
 * would crash or wedge a 1.11.1 server (PROTOCOL.md §10).
 *
 * Decoders read one message body that the caller has already received in
 * full (after dqlc__wire_header() validated its header).  They trust nothing:
 * every length and count is bounds-checked, padding and terminators are
 * verified (except a blob's padding in ROWS, which servers leave unzeroed).
 * Malformed input gives DQLC_EPROTO with a message naming what was
 * wrong and the byte offset within the body.  Decoded strings and blobs point
 * INTO the body (text is NUL-terminated there), so the body must outlive them.
 */
#ifndef DQLC_WIRE_H
#define DQLC_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dqlite-client.h"

/* ---- Constants --------------------------------------------------------- */

#define DQLC__PROTO_VERSION 1ull
#define DQLC__PROTO_VERSION_LEGACY 0x86104dd760433fe5ull

#define DQLC__WIRE_MAX_MSG_DEFAULT (64u * 1024u * 1024u) /* 64 MiB */

enum dqlc__req_type {
	DQLC__REQ_LEADER = 0,
	DQLC__REQ_CLIENT = 1,
	DQLC__REQ_HEARTBEAT = 2,
	DQLC__REQ_OPEN = 3,
	DQLC__REQ_PREPARE = 4,
	DQLC__REQ_EXEC = 5,
	DQLC__REQ_QUERY = 6,
	DQLC__REQ_FINALIZE = 7,
	DQLC__REQ_EXEC_SQL = 8,
	DQLC__REQ_QUERY_SQL = 9,
	DQLC__REQ_INTERRUPT = 10,
	DQLC__REQ_CONNECT = 11,
	DQLC__REQ_ADD = 12,
	DQLC__REQ_ASSIGN = 13,
	DQLC__REQ_REMOVE = 14,
	DQLC__REQ_DUMP = 15,
	DQLC__REQ_CLUSTER = 16,
	DQLC__REQ_TRANSFER = 17,
	DQLC__REQ_DESCRIBE = 18,
	DQLC__REQ_WEIGHT = 19,
};

enum dqlc__resp_type {
	DQLC__RESP_FAILURE = 0,
	DQLC__RESP_SERVER = 1,
	DQLC__RESP_WELCOME = 2,
	DQLC__RESP_SERVERS = 3,
	DQLC__RESP_DB = 4,
	DQLC__RESP_STMT = 5,
	DQLC__RESP_RESULT = 6,
	DQLC__RESP_ROWS = 7,
	DQLC__RESP_EMPTY = 8,
	DQLC__RESP_FILES = 9,
	DQLC__RESP_METADATA = 10,
};

/* ROWS end markers (PROTOCOL.md §3.3). */
#define DQLC__ROWS_DONE 0xffffffffffffffffull
#define DQLC__ROWS_PART 0xeeeeeeeeeeeeeeeeull

/* Roles as used by ASSIGN and CLUSTER format 1. */
#define DQLC__ROLE_VOTER 0
#define DQLC__ROLE_STANDBY 1
#define DQLC__ROLE_SPARE 2

/* What the peer server is known to support.  0 = assume Debian 1.11.1.
 * The connection layer learns these (see PROTOCOL.md §9). */
#define DQLC__FEAT_SCHEMA1 0x1u       /* schema-1 param tuples (>255 params), 1.12+ */
#define DQLC__FEAT_PREPARE_TAIL 0x2u  /* PREPARE schema 1 -> STMT_WITH_OFFSET, 1.15+ */
#define DQLC__FEAT_UNKNOWN_REQ 0x4u   /* unknown requests answered with FAILURE, 1.12+ */

/* ---- Write buffer ------------------------------------------------------ */

typedef struct dqlc__wbuf {
	uint8_t *data;
	size_t len;
	size_t cap;
} dqlc__wbuf_t;

void dqlc__wbuf_init(dqlc__wbuf_t *b);
void dqlc__wbuf_free(dqlc__wbuf_t *b);
/* Forget the contents, keep the memory. */
void dqlc__wbuf_reset(dqlc__wbuf_t *b);

/* ---- Message header ---------------------------------------------------- */

typedef struct dqlc__hdr {
	uint32_t words; /* body length in 8-byte words */
	uint8_t type;
	uint8_t schema;
	uint16_t extra;
} dqlc__hdr_t;

/* Decode and validate an 8-byte response header: body size (words * 8) must
 * be at most `max_body` bytes and at least one word.  DQLC_EPROTO otherwise. */
int dqlc__wire_header(const uint8_t hdr[8], size_t max_body, dqlc__hdr_t *out,
		      dqlc_error_t *err);

/* Split one complete message off the front of buf[0..len): validates the
 * header as dqlc__wire_header() does, then checks that the whole body is
 * present.  Sets *hdr, *body (pointing into buf) and *consumed (8 + body
 * bytes).  DQLC_EPROTO for a truncated header or body.  For callers (tests,
 * the fuzzer, fake servers) that hold a whole stream in memory. */
int dqlc__wire_frame(const uint8_t *buf, size_t len, size_t max_body, dqlc__hdr_t *hdr,
		     const uint8_t **body, size_t *consumed, dqlc_error_t *err);

/* Static names of request and response types for messages ("LEADER",
 * "ROWS"); "UNKNOWN" for anything else. */
const char *dqlc__wire_req_name(unsigned type);
const char *dqlc__wire_resp_name(unsigned type);

/* The handshake: one protocol version word, appended to `b`.  Only
 * DQLC__PROTO_VERSION and DQLC__PROTO_VERSION_LEGACY are accepted (any other
 * value makes the server close the socket). */
int dqlc__enc_handshake(dqlc__wbuf_t *b, uint64_t version, dqlc_error_t *err);

/* ---- Requests (each appends header + body) ------------------------------ */

/* On failure `b` is left exactly as it was.  Zero params omit the tuple
 * (as go-dqlite does); a NULL `params` is fine when n is 0. */

int dqlc__enc_leader(dqlc__wbuf_t *b, dqlc_error_t *err);
int dqlc__enc_client(dqlc__wbuf_t *b, uint64_t id, dqlc_error_t *err);
/* HEARTBEAT wedges a 1.11.1 connection: refused unless `features` has
 * DQLC__FEAT_UNKNOWN_REQ (and even then servers only answer FAILURE). */
int dqlc__enc_heartbeat(dqlc__wbuf_t *b, uint64_t timestamp, unsigned features,
			dqlc_error_t *err);
int dqlc__enc_open(dqlc__wbuf_t *b, const char *name, uint64_t flags, const char *vfs,
		   dqlc_error_t *err);
/* PREPARE: schema 0, or schema 1 (tail offset reply) when `features` has
 * DQLC__FEAT_PREPARE_TAIL and `want_tail` is set. */
int dqlc__enc_prepare(dqlc__wbuf_t *b, uint64_t db, const char *sql, bool want_tail,
		      unsigned features, dqlc_error_t *err);
/* EXEC/QUERY on a prepared statement, EXEC_SQL/QUERY_SQL on SQL text.
 * Params: up to 255 use schema 0; more need DQLC__FEAT_SCHEMA1 (else
 * DQLC_EINVAL naming the server limit).  Value types accepted: INTEGER,
 * FLOAT, TEXT, BLOB, NULL, ISO8601, BOOLEAN; UNIXTIME is sent as INTEGER
 * (servers reject UNIXTIME params); anything else is DQLC_EINVAL.  TEXT
 * with an embedded NUL is DQLC_EINVAL (the server would truncate it). */
int dqlc__enc_exec(dqlc__wbuf_t *b, uint32_t db, uint32_t stmt, const dqlc_value_t *params,
		   size_t n, unsigned features, dqlc_error_t *err);
int dqlc__enc_query(dqlc__wbuf_t *b, uint32_t db, uint32_t stmt, const dqlc_value_t *params,
		    size_t n, unsigned features, dqlc_error_t *err);
int dqlc__enc_finalize(dqlc__wbuf_t *b, uint32_t db, uint32_t stmt, dqlc_error_t *err);
int dqlc__enc_exec_sql(dqlc__wbuf_t *b, uint64_t db, const char *sql,
		       const dqlc_value_t *params, size_t n, unsigned features,
		       dqlc_error_t *err);
int dqlc__enc_query_sql(dqlc__wbuf_t *b, uint64_t db, const char *sql,
			const dqlc_value_t *params, size_t n, unsigned features,
			dqlc_error_t *err);
int dqlc__enc_interrupt(dqlc__wbuf_t *b, uint64_t db, dqlc_error_t *err);
/* CONNECT hands the socket to raft: a client never sends it.  Always
 * DQLC_EINVAL; present so that the request table is complete. */
int dqlc__enc_connect(dqlc__wbuf_t *b, uint64_t id, const char *address, dqlc_error_t *err);
int dqlc__enc_add(dqlc__wbuf_t *b, uint64_t id, const char *address, dqlc_error_t *err);
/* role must be 0..2 (an out-of-range role silently means standby on 1.11.1). */
int dqlc__enc_assign(dqlc__wbuf_t *b, uint64_t id, int role, dqlc_error_t *err);
int dqlc__enc_remove(dqlc__wbuf_t *b, uint64_t id, dqlc_error_t *err);
int dqlc__enc_dump(dqlc__wbuf_t *b, const char *name, dqlc_error_t *err);
/* format 0 (id, address) or 1 (id, address, role); others DQLC_EINVAL. */
int dqlc__enc_cluster(dqlc__wbuf_t *b, uint64_t format, dqlc_error_t *err);
int dqlc__enc_transfer(dqlc__wbuf_t *b, uint64_t id, dqlc_error_t *err);
/* format must be 0: any other value crashes 1.11.1. */
int dqlc__enc_describe(dqlc__wbuf_t *b, uint64_t format, dqlc_error_t *err);
int dqlc__enc_weight(dqlc__wbuf_t *b, uint64_t weight, dqlc_error_t *err);
/* Any other request type number: DQLC_EINVAL (unknown types wedge 1.11.1). */
int dqlc__enc_raw(dqlc__wbuf_t *b, uint8_t type, const uint8_t *body, size_t body_len,
		  dqlc_error_t *err);

/* ---- Responses (decode one body) ---------------------------------------- */

/* Outputs are written only on success; scalar output pointers may be NULL
 * when the caller does not need that field.  A body with bytes left over
 * after the last field is DQLC_EPROTO. */

/* FAILURE: code and message (points into body). */
int dqlc__dec_failure(const uint8_t *body, size_t len, uint64_t *code, const char **msg,
		      dqlc_error_t *err);
/* SERVER (LEADER reply, protocol 1): id and address ("" = unknown). */
int dqlc__dec_server(const uint8_t *body, size_t len, uint64_t *id, const char **address,
		     dqlc_error_t *err);
/* SERVER_LEGACY (LEADER reply, legacy protocol): address only. */
int dqlc__dec_server_legacy(const uint8_t *body, size_t len, const char **address,
			    dqlc_error_t *err);
int dqlc__dec_welcome(const uint8_t *body, size_t len, uint64_t *heartbeat_ms,
		      dqlc_error_t *err);

typedef struct dqlc__node {
	uint64_t id;
	const char *address; /* into the body */
	uint64_t role;       /* 0 when the reply had format 0 */
} dqlc__node_t;

/* SERVERS: `format` is what was asked (0 or 1).  *nodes is malloc'ed (free
 * it with free()); the count is checked against the body before allocating. */
int dqlc__dec_servers(const uint8_t *body, size_t len, uint64_t format, dqlc__node_t **nodes,
		      size_t *n, dqlc_error_t *err);
int dqlc__dec_db(const uint8_t *body, size_t len, uint32_t *db, dqlc_error_t *err);
/* STMT (schema 0) or STMT_WITH_OFFSET (schema 1: *tail set, else *tail = 0). */
int dqlc__dec_stmt(const uint8_t *body, size_t len, uint8_t schema, uint32_t *db,
		   uint32_t *stmt, uint64_t *nparams, uint64_t *tail, dqlc_error_t *err);
int dqlc__dec_result(const uint8_t *body, size_t len, uint64_t *last_insert_id,
		     uint64_t *rows_affected, dqlc_error_t *err);
int dqlc__dec_empty(const uint8_t *body, size_t len, dqlc_error_t *err);
int dqlc__dec_metadata(const uint8_t *body, size_t len, uint64_t *failure_domain,
		       uint64_t *weight, dqlc_error_t *err);

typedef struct dqlc__file {
	const char *name; /* into the body */
	const uint8_t *data;
	uint64_t size;
} dqlc__file_t;

/* FILES: *files is malloc'ed (free()); count checked against the body. */
int dqlc__dec_files(const uint8_t *body, size_t len, dqlc__file_t **files, size_t *n,
		    dqlc_error_t *err);

/*
 * ROWS.  A result is one or more batches.  `rows` accumulates them: the first
 * batch sets the column count and names (pointers into that batch's body);
 * later batches must repeat the same count (else DQLC_EPROTO).  Each batch
 * appends its rows' values (row-major, ncols per row) to rows->vals; text,
 * ISO8601 and blob values point into that batch's body.  *more is set when
 * the batch ended with the PART marker (more batches follow), cleared on
 * DONE.  A batch that ends without a marker is DQLC_EPROTO.  `max_rows`
 * bounds rows->nrows (0 = no limit) so a hostile server cannot make us grow
 * without end; going past it is DQLC_EPROTO.  A batch that fails to decode
 * adds nothing (nrows, and for a first batch the columns, stay as before).
 * BOOLEAN values are normalised to 0/1; ISO8601 "" (the server's NULL in a
 * DATETIME column) is passed through as an empty ISO8601 value.
 */
typedef struct dqlc__rows {
	size_t ncols;
	const char **names;   /* ncols entries, malloc'ed; strings into first body */
	dqlc_value_t *vals;   /* nrows * ncols, malloc'ed */
	size_t nrows;
	size_t cap;           /* capacity of vals, in values */
	uint64_t max_rows;
	uint64_t batches;     /* batches decoded so far (0: columns not known yet) */
} dqlc__rows_t;

void dqlc__rows_init(dqlc__rows_t *rows);
void dqlc__rows_free(dqlc__rows_t *rows);
/* Drop the rows (keep names, column count and memory): for cursors that
 * hand out one batch at a time. */
void dqlc__rows_clear_values(dqlc__rows_t *rows);
int dqlc__dec_rows(const uint8_t *body, size_t len, dqlc__rows_t *rows, bool *more,
		   dqlc_error_t *err);

#endif
