/* One protocol connection: handshake, OPEN, requests and responses. */
#ifndef DQLC_CONN_H
#define DQLC_CONN_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "cfg.h"
#include "wire/wire.h"

struct dqlc_pool;

struct dqlc_conn {
	struct dqlc_config *cfg; /* owned unless `pool` is set (then the pool's) */
	bool owns_cfg;
	char address[256];
	uint64_t node_id;        /* leader id when known, else 0 */
	int fd;
	void *tls;               /* TLS session over fd, or NULL */
	int wake_fd;             /* eventfd: dqlc_conn_cancel() wakes blocked I/O */
	unsigned features;       /* DQLC__FEAT_* the server is known to support */
	unsigned features_known; /* DQLC__FEAT_* bits whose value was learned
				  * (features.c); the others read as absent */
	bool opened;
	bool broken;
	bool in_tx;
	int64_t timeout_ms;      /* per call; from request_timeout_ms */
	int64_t deadline_cap;    /* no call runs past this (pool requests) */
	uint64_t last_server_code; /* code of the last FAILURE, 0 if none */
	uint64_t map_gen;        /* leadership this pooled connection belongs to */
	struct dqlc__stmt_cache *cache; /* prepared statements by SQL (pool) */
	atomic_int running;      /* a call is in progress: cancel may signal */
	atomic_int cancel_req;   /* dqlc_conn_cancel() asked (wake_fd written too) */
	int64_t created_ns;
	int64_t last_used_ns;

	/* Buffered reader: bytes [rstart, rend) of rbuf are unread. */
	uint8_t *rbuf;
	size_t rcap, rstart, rend;
	dqlc__wbuf_t wbuf;

	struct dqlc_stmt *stmts;     /* live prepared statements (list) */
	struct dqlc_cursor *cursor;  /* open cursor pinning the connection */

	struct dqlc_pool *pool;      /* the pool this connection belongs to */
	bool leased;                 /* held by a dqlc_pool_acquire() caller */
	bool forked;                 /* inherited across fork(): never touch fd */
	struct dqlc_conn *pool_next, *pool_prev; /* all of the pool's connections */
};

struct dqlc_stmt {
	struct dqlc_conn *conn; /* NULL once the connection went away */
	struct dqlc_stmt *next, *prev;
	uint32_t id;
	uint64_t nparams;
	char *sql;
};

/* Wrap a connected socket (and its TLS session, if any) in a connection.
 * Takes ownership of fd, tls, and of cfg when owns_cfg. */
int dqlc__conn_new(struct dqlc_config *cfg, bool owns_cfg, const char *address, int fd,
		   void *tls, bool handshake_sent, struct dqlc_conn **out, dqlc_error_t *err);
/* Free everything without any network traffic. */
void dqlc__conn_destroy(struct dqlc_conn *c);
/* OPEN the configured database (once). */
int dqlc__conn_open(struct dqlc_conn *c, int64_t deadline, dqlc_error_t *err);
/* The deadline for a call starting now. */
int64_t dqlc__conn_deadline(const struct dqlc_conn *c);

/* One request/response round trip: sends c->wbuf, reads one response.  A
 * FAILURE becomes DQLC_ESQL (with leader flags); a type other than
 * `expect` is DQLC_EPROTO.  On success *body points into the read buffer,
 * valid until the next read. */
int dqlc__conn_call(struct dqlc_conn *c, uint8_t expect, int64_t deadline, bool is_write,
		    dqlc__hdr_t *hdr, const uint8_t **body, dqlc_error_t *err);
/* Read the next message (no send). */
int dqlc__conn_recv(struct dqlc_conn *c, int64_t deadline, int wake_fd, dqlc__hdr_t *hdr,
		    const uint8_t **body, dqlc_error_t *err);
/* Send c->wbuf. */
int dqlc__conn_send(struct dqlc_conn *c, int64_t deadline, bool is_write, dqlc_error_t *err);
/* Mark broken and close the socket (no goodbye). */
void dqlc__conn_break(struct dqlc_conn *c);
/* Interrupt a running query and drain to EMPTY. */
int dqlc__conn_interrupt_drain(struct dqlc_conn *c, int64_t deadline, dqlc_error_t *err);
/* Read a whole ROWS stream into *out (after the request was sent). */
int dqlc__conn_read_rows(struct dqlc_conn *c, int64_t deadline, dqlc_result_t **out,
			 dqlc_error_t *err);

/* SQL that would crash or wedge a 1.11 server: DQLC_EINVAL saying why. */
int dqlc__sql_refuse(const char *sql, dqlc_error_t *err);

/* The connection is closing under an open cursor: detach it (its calls
 * then fail with DQLC_EMISUSE; dqlc_cursor_close only frees it). */
void dqlc__cursor_orphan(struct dqlc_cursor *cur);

/* Drop every prepared statement id without sending anything (the server
 * forgot them, or may have). */
void dqlc__conn_forget_stmts(struct dqlc_conn *c);

/* Run SQL through the per-connection statement cache (PREPARE once, then
 * EXEC/QUERY by id).  Falls back to EXEC_SQL/QUERY_SQL for multi-statement
 * SQL or when the cache is disabled. */
int dqlc__conn_exec_cached(struct dqlc_conn *c, const char *sql, const dqlc_value_t *params,
			   size_t n, dqlc_result_t **out, dqlc_error_t *err);
int dqlc__conn_query_cached(struct dqlc_conn *c, const char *sql, const dqlc_value_t *params,
			    size_t n, dqlc_result_t **out, dqlc_error_t *err);
void dqlc__stmt_cache_free(struct dqlc__stmt_cache *cache);

/* ---- What the server supports (features.c, PROTOCOL.md §9) -------------
 * Learned lazily, the first time a call needs it, by requests that a 1.11
 * server answers harmlessly; never by sending what crashes or wedges one. */

/* Learn SCHEMA1 and UNKNOWN_REQ (1.12+) once per connection: one CLUSTER
 * request with format 2 (1.11 reads it as format 1 and answers SERVERS;
 * 1.12+ answers FAILURE 1005).  No OPEN or leader needed. */
int dqlc__conn_probe(struct dqlc_conn *c, int64_t deadline, dqlc_error_t *err);
/* Before encoding n parameters: more than 255 need to know SCHEMA1. */
int dqlc__conn_params_ready(struct dqlc_conn *c, size_t n, int64_t deadline, dqlc_error_t *err);
/* Checks of SQL that depend on the server (after dqlc__conn_enter):
 * changing journal_mode or page_size aborts a 1.11 node (servers from 1.12
 * refuse it themselves with a FAILURE, so it is sent to them). */
int dqlc__conn_sql_check(struct dqlc_conn *c, const char *sql, int64_t deadline,
			 dqlc_error_t *err);
/* A FAILURE to a PREPARE sent with schema 1: is it a 1.12-1.14 server
 * saying it has no tail offsets ("unrecognized schema version")?  Then
 * PREPARE_TAIL is recorded as absent. */
bool dqlc__conn_learn_no_tail(struct dqlc_conn *c, const dqlc_error_t *e);
/* The features to encode a PREPARE with when the caller wants the tail
 * offset: PREPARE_TAIL is tried on a 1.12+ server until it is known. */
unsigned dqlc__conn_tail_features(const struct dqlc_conn *c);

/* Calls made on the public API: entry checks and cancel bookkeeping. */
int dqlc__conn_enter(struct dqlc_conn *c, dqlc_error_t *err);
void dqlc__conn_leave(struct dqlc_conn *c);



#endif
