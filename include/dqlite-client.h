/*
 * dqlite-client: a C11 client library for dqlite (Raft-replicated SQLite).
 *
 * This is the only installed header.  It includes nothing but <stddef.h>,
 * <stdint.h> and <stdbool.h>, so it can sit in the same translation unit as
 * libdqlite's <dqlite.h> (which owns the dqlite_ / DQLITE_ names; ours are
 * dqlc_ / DQLC_).
 *
 * Conventions
 * -----------
 * - Success is 0; failure is a positive DQLC_E* code.
 * - Every synchronous call takes `dqlc_error_t *err` as its last argument.  It
 *   may be NULL; when given, it is filled on failure (and left untouched on
 *   success).
 * - Strings passed in are NUL-terminated and are copied when the library needs
 *   them after the call returns.
 * - Pointers the library returns into an object (a column name, a text value)
 *   stay valid until that object is freed.
 * - Passing NULL where an object is required gives DQLC_EINVAL (or, for calls
 *   without an error channel, a documented no-op); it never crashes.
 */
#ifndef DQLITE_CLIENT_H
#define DQLITE_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__) && __GNUC__ >= 4
#define DQLC_API __attribute__((visibility("default")))
#define DQLC_NODISCARD __attribute__((warn_unused_result))
#else
#define DQLC_API
#define DQLC_NODISCARD
#endif

#define DQLC_VERSION_MAJOR 0
#define DQLC_VERSION_MINOR 1
#define DQLC_VERSION_PATCH 0
#define DQLC_VERSION_NUMBER \
	(DQLC_VERSION_MAJOR * 10000 + DQLC_VERSION_MINOR * 100 + DQLC_VERSION_PATCH)

/** The version of the library actually linked (DQLC_VERSION_NUMBER form). */
DQLC_API int dqlc_version_number(void);
/** The same as a string, e.g. "0.1.0". Static storage. */
DQLC_API const char *dqlc_version_string(void);

/* =========================================================================
 * Errors
 * ========================================================================= */

/* X-macro table of every error code: name, number, description. */
#define DQLC_ERRNO_MAP(XX)                                                      \
	XX(EINVAL, 1, "invalid argument")                                       \
	XX(ENOMEM, 2, "out of memory")                                          \
	XX(ETIMEDOUT, 3, "deadline exceeded")                                   \
	XX(ECANCELED, 4, "canceled")                                            \
	XX(ECLOSED, 5, "closed")                                                \
	XX(ENOLEADER, 6, "no leader found")                                     \
	XX(ECONNECT, 7, "could not connect")                                    \
	XX(EIO, 8, "connection lost")                                           \
	XX(EPROTO, 9, "protocol error")                                         \
	XX(ETLS, 10, "TLS error")                                               \
	XX(ESQL, 11, "SQL error reported by the server")                        \
	XX(EBUSY, 12, "busy")                                                   \
	XX(EPOOL, 13, "no pooled connection available")                         \
	XX(EFORKED, 14, "object inherited across fork()")                       \
	XX(EDEADLK, 15, "wait would deadlock")                                  \
	XX(EMISUSE, 16, "library misuse")                                       \
	XX(EQUEUEFULL, 17, "request queue full")                                \
	XX(ENOTSUP, 18, "not supported by this build or server")

enum {
	DQLC_OK = 0,
#define DQLC__XX(name, num, desc) DQLC_##name = num,
	DQLC_ERRNO_MAP(DQLC__XX)
#undef DQLC__XX
	DQLC__ERR_MAX
};

/* Facts about a failure that drive retry decisions (dqlc_error_t.flags). */
#define DQLC_ERRF_RETRYABLE 0x1u       /* nothing was executed: safe to retry */
#define DQLC_ERRF_MAYBE_EXECUTED 0x2u  /* sent, outcome unknown: NOT retried */
#define DQLC_ERRF_LEADER_CHANGED 0x4u  /* leadership moved or was lost */

/* Well-known server codes found in dqlc_error_t.sqlite_code. */
#define DQLC_SQLITE_BUSY 5
#define DQLC_SQLITE_NOTFOUND 12
#define DQLC_SQLITE_NOT_LEADER 10250       /* SQLITE_IOERR_NOT_LEADER */
#define DQLC_SQLITE_LEADERSHIP_LOST 10506  /* SQLITE_IOERR_LEADERSHIP_LOST */

/**
 * A caller-allocated error report.  Fixed size, never freed, safe to keep on
 * the stack.  `code` is a DQLC_E* value; `sqlite_code` is the extended
 * SQLite/dqlite code from a server FAILURE (0 otherwise); `sys_errno` is the
 * errno behind an I/O failure (0 otherwise); `message` is always
 * NUL-terminated and says what went wrong in English.
 */
typedef struct dqlc_error {
	int code;
	int sqlite_code;
	uint32_t flags;
	int sys_errno;
	char message[256];
} dqlc_error_t;

/** Static English description of a code ("deadline exceeded"). Never NULL. */
DQLC_API const char *dqlc_strerror(int code);
/** Static symbolic name of a code ("DQLC_ETIMEDOUT"). Never NULL. */
DQLC_API const char *dqlc_errname(int code);
/** Reset to "no error". NULL-safe. */
DQLC_API void dqlc_error_clear(dqlc_error_t *err);

/* =========================================================================
 * Values
 *
 * Parameters and result cells are a tagged struct.  The type numbers are the
 * dqlite wire numbers.  Text is UTF-8 and is NOT required to be
 * NUL-terminated in a value (use `v.s.n`); text returned by the library is
 * always NUL-terminated as well.  Text with an embedded NUL cannot be sent as
 * TEXT (the server truncates it): use a BLOB.
 *
 * A value built with the constructors below borrows the caller's memory; the
 * library copies what it needs at the call.  A value returned by
 * dqlc_conn_fetchval() owns its memory: release it with dqlc_value_clear().
 * ========================================================================= */

#define DQLC_TYPE_INTEGER 1
#define DQLC_TYPE_FLOAT 2
#define DQLC_TYPE_TEXT 3
#define DQLC_TYPE_BLOB 4
#define DQLC_TYPE_NULL 5
#define DQLC_TYPE_UNIXTIME 9  /* seconds since the epoch (results only; sent as INTEGER) */
#define DQLC_TYPE_ISO8601 10  /* date/time text */
#define DQLC_TYPE_BOOLEAN 11

typedef struct dqlc_value {
	int type;
	union {
		int64_t i; /* INTEGER, UNIXTIME, BOOLEAN (0 or 1) */
		double f;  /* FLOAT */
		struct {
			const char *p;
			size_t n;
		} s; /* TEXT, ISO8601, BLOB: pointer and length in bytes */
	} v;
} dqlc_value_t;

DQLC_API dqlc_value_t dqlc_value_int(int64_t i);
DQLC_API dqlc_value_t dqlc_value_float(double f);
DQLC_API dqlc_value_t dqlc_value_text(const char *s); /* NULL s gives a NULL value */
DQLC_API dqlc_value_t dqlc_value_textn(const char *s, size_t n);
DQLC_API dqlc_value_t dqlc_value_blob(const void *p, size_t n);
DQLC_API dqlc_value_t dqlc_value_null(void);
DQLC_API dqlc_value_t dqlc_value_bool(bool b);
DQLC_API dqlc_value_t dqlc_value_iso8601(const char *s);
DQLC_API dqlc_value_t dqlc_value_unixtime(int64_t seconds);

/* Constructor macros, so a parameter list reads like ["hello", 42]:
 *   dqlc_value_t params[] = { DQLC_TEXT("hello"), DQLC_INT(42), DQLC_NULL }; */
#define DQLC_INT(x) dqlc_value_int((int64_t)(x))
#define DQLC_FLOAT(x) dqlc_value_float((double)(x))
#define DQLC_TEXT(s) dqlc_value_text(s)
#define DQLC_TEXTN(s, n) dqlc_value_textn((s), (n))
#define DQLC_BLOB(p, n) dqlc_value_blob((p), (n))
#define DQLC_NULL dqlc_value_null()
#define DQLC_BOOL(b) dqlc_value_bool((b) != 0)
#define DQLC_ISO8601(s) dqlc_value_iso8601(s)
#define DQLC_UNIXTIME(x) dqlc_value_unixtime((int64_t)(x))

/** Deep-copy `src` into `dst` (dst then owns its bytes; free with
 *  dqlc_value_clear).  Returns 0 or DQLC_ENOMEM/DQLC_EINVAL. */
DQLC_API int dqlc_value_copy(dqlc_value_t *dst, const dqlc_value_t *src);
/** Free the bytes of a value the library gave you ownership of and set it to
 *  NULL type.  NULL-safe. Never call it on borrowed values. */
DQLC_API void dqlc_value_clear(dqlc_value_t *v);
/** Name of a type code ("INTEGER", "ISO8601", ...), "UNKNOWN" otherwise. */
DQLC_API const char *dqlc_type_name(int type);

/* =========================================================================
 * Configuration
 *
 * A dqlc_config_t is a plain builder: one thread at a time.  Connections and
 * pools copy what they need at creation, so it may be freed right after.
 * Every key can be given in a URI query string or with dqlc_config_set();
 * unknown keys and bad values are errors (DQLC_EINVAL naming the key), never
 * silently ignored.
 *
 * URI:  dqlite://HOST:PORT[,HOST:PORT...][/DATABASE][?key=value&...]
 *       e.g. dqlite://127.0.0.1:9001,127.0.0.1:9002/app?request_timeout_ms=2000
 * Addresses are IPv4 literals or host names with a port ([v6]:port also
 * parses).  The database defaults to "default".
 *
 * Keys (default):
 *   database             "default"   database name OPENed on each connection
 *   connect_timeout_ms   5000        whole leader search + dial + handshake
 *   request_timeout_ms   10000       end-to-end deadline of one call (0 = none)
 *   dial_timeout_ms      1000        one TCP connect to one node
 *   max_message_bytes    67108864    largest server message accepted (64 MiB)
 *   max_result_rows      0           cap on rows in one buffered result (0 = none)
 *   probe_concurrency    8           leader probes run in parallel
 *   backoff_base_ms      10          leader search retry backoff start
 *   backoff_cap_ms       200         ... and cap (both jittered)
 *   keepalive            1           SO_KEEPALIVE on sockets (30 s idle)
 *
 * TLS keys (OpenSSL builds; otherwise asking for TLS is DQLC_ENOTSUP naming
 * the configure option):
 *   tls                  disable     disable | require (encrypt, verify nothing) |
 *                                    verify-ca (chain) | verify-full (chain and the
 *                                    host name or IP dialed, or tls_server_name).
 *                                    Setting any other tls_* key without `tls`
 *                                    means verify-full.  TLS 1.2 at least.
 *   tls_ca               -           PEM file of the CA(s) to trust, or "system";
 *                                    required by verify-ca and verify-full
 *   tls_cert, tls_key    -           client certificate (chain) and key, PEM, for
 *                                    mutual TLS; both or neither
 *   tls_server_name      -           name sent as SNI and checked by verify-full
 *                                    instead of the dialed host
 * A bad CA or client certificate file fails dqlc_pool_create/dqlc_connect.
 *
 * Pool keys (see dqlc_pool_create) are accepted here too.
 * ========================================================================= */

typedef struct dqlc_config dqlc_config_t;

DQLC_API DQLC_NODISCARD dqlc_config_t *dqlc_config_new(void); /* NULL when out of memory */
DQLC_API void dqlc_config_free(dqlc_config_t *cfg);           /* NULL-safe */
/** Set one key from its string form (the same keys as the URI). */
DQLC_API int dqlc_config_set(dqlc_config_t *cfg, const char *key, const char *value,
			     dqlc_error_t *err);
/** Parse a dqlite:// URI: node list, database and query keys. */
DQLC_API int dqlc_config_from_uri(dqlc_config_t *cfg, const char *uri, dqlc_error_t *err);
/** Append one node address ("host:port") to the seed list. */
DQLC_API int dqlc_config_add_node(dqlc_config_t *cfg, const char *address, dqlc_error_t *err);

/**
 * Custom dial hook.  Called (from whichever thread connects) to open a
 * connection to `address` within `timeout_ms`.  Return 0 and a connected
 * stream socket in *fd (the library takes ownership and closes it), or a
 * non-zero errno value.  The library still does the dqlite handshake on it.
 */
typedef int (*dqlc_dial_fn)(void *arg, const char *address, int timeout_ms, int *fd);
DQLC_API int dqlc_config_set_dial(dqlc_config_t *cfg, dqlc_dial_fn fn, void *arg,
				  dqlc_error_t *err);

/* Log levels for the log hook. */
#define DQLC_LOG_DEBUG 10
#define DQLC_LOG_INFO 20
#define DQLC_LOG_WARN 30
#define DQLC_LOG_ERROR 40
/**
 * Log hook: called for events at or above `min_level`, from any library
 * thread, with no library lock held.  `msg` is valid only during the call.
 * The library never prints to stdout/stderr itself.
 */
typedef void (*dqlc_log_fn)(void *arg, int level, const char *msg);
DQLC_API int dqlc_config_set_log(dqlc_config_t *cfg, dqlc_log_fn fn, void *arg, int min_level,
				 dqlc_error_t *err);

/* Events (for tracing and metrics), delivered to the event hook. */
#define DQLC_EVENT_LEADER_CHANGED 1 /* address: new leader; old_address: previous ("" if none) */
#define DQLC_EVENT_LEADER_LOST 2    /* address: the leader that stopped answering */
#define DQLC_EVENT_CONNECTED 3      /* a pooled connection was opened to address */
#define DQLC_EVENT_REQUEST_DONE 4   /* a pool request completed: code, retries, duration_us */
typedef struct dqlc_event {
	int type;                /* DQLC_EVENT_* */
	const char *address;     /* valid during the call only */
	const char *old_address;
	int code;                /* DQLC_E* outcome (REQUEST_DONE) */
	int retries;
	int64_t duration_us;
} dqlc_event_t;
/**
 * Event hook: called from library threads (workers, the discovery thread)
 * with no library lock held.  It must be quick and must not block.
 */
typedef void (*dqlc_event_fn)(void *arg, const dqlc_event_t *event);
DQLC_API int dqlc_config_set_event(dqlc_config_t *cfg, dqlc_event_fn fn, void *arg,
				   dqlc_error_t *err);

/* =========================================================================
 * Connection: one protocol connection, blocking, used from one thread at a
 * time (it may be handed between threads).  The only call that may come from
 * another thread while one is running is dqlc_conn_cancel().
 * ========================================================================= */

typedef struct dqlc_conn dqlc_conn_t;
typedef struct dqlc_result dqlc_result_t;
typedef struct dqlc_stmt dqlc_stmt_t;
typedef struct dqlc_cursor dqlc_cursor_t;

/**
 * Connect to the cluster's leader and open the database.  `uri` (may be
 * NULL) and `cfg` (may be NULL) are merged, the URI's values winning.
 * Leader discovery: the last leader this process found for the same node list
 * first, then all candidates probed in parallel (bounded), a redirect trusted
 * only once the named node confirms, jittered backoff between rounds, all
 * under connect_timeout_ms.  Fails with DQLC_ENOLEADER (nodes answered, none
 * leads) or DQLC_ECONNECT (no node reachable) or DQLC_ETIMEDOUT.
 */
DQLC_API int dqlc_connect(const char *uri, const dqlc_config_t *cfg, dqlc_conn_t **out,
			  dqlc_error_t *err);
/**
 * Connect to exactly this node (no leader discovery, no OPEN until the first
 * SQL call): for admin requests that target a node (describe, weight, dump,
 * leader) and for tools.
 */
DQLC_API int dqlc_connect_node(const char *address, const dqlc_config_t *cfg,
			       dqlc_conn_t **out, dqlc_error_t *err);
/** Close; a connection leased from a pool goes back to its pool. NULL-safe. */
DQLC_API void dqlc_conn_close(dqlc_conn_t *conn);

/**
 * Run SQL that returns no rows; every statement of a multi-statement script
 * runs, in order.  *out (if out is not NULL) receives a result carrying last
 * insert id and rows affected (after the last statement).
 *
 * Parameters of a script go to its statements in order, each statement
 * taking as many as it has placeholders ("INSERT .. (?, ?); UPDATE .. ?"
 * takes 3): on dqlite servers from 1.15, which say where each prepared
 * statement ends, the script is run statement by statement.  A count that
 * does not match fails with DQLC_EINVAL when the statement that lacks
 * parameters, or the last one, is reached; like any failing statement of a
 * script this stops it, and the statements before it have run (the error
 * then carries DQLC_ERRF_MAYBE_EXECUTED and names the statement).  Older
 * servers (1.11) cannot split: there the parameters must all belong to the
 * first statement (placeholders in later ones are NULL), anything else is
 * DQLC_EINVAL naming the server version limit, before anything runs.
 *
 * More than 255 parameters in one statement need a server from 1.12 (on
 * every SQL call); a 1.11 server gets DQLC_EINVAL naming the limit.  What
 * the server supports is learned on the connection the first time a call
 * needs it (one request a 1.11 server answers harmlessly), never by sending
 * what crashes an old server.  RETURNING is refused (DQLC_EINVAL) on every
 * path: servers before 1.18.3 (1.11 and 1.18.1 seen) abort after it.
 * Changing journal_mode or page_size is refused on 1.11 servers (they
 * abort); newer servers refuse it themselves (DQLC_ESQL, code 10).
 */
DQLC_API int dqlc_conn_exec(dqlc_conn_t *conn, const char *sql, const dqlc_value_t *params,
			    size_t n, dqlc_result_t **out, dqlc_error_t *err);
/** Run one row-returning statement; the whole result is read into *out. */
DQLC_API int dqlc_conn_query(dqlc_conn_t *conn, const char *sql, const dqlc_value_t *params,
			     size_t n, dqlc_result_t **out, dqlc_error_t *err);
/**
 * First column of the first row as an owned copy (release with
 * dqlc_value_clear).  No row gives a NULL value and returns 0.
 */
DQLC_API int dqlc_conn_fetchval(dqlc_conn_t *conn, const char *sql, const dqlc_value_t *params,
				size_t n, dqlc_value_t *out, dqlc_error_t *err);
DQLC_API int dqlc_conn_begin(dqlc_conn_t *conn, dqlc_error_t *err);
DQLC_API int dqlc_conn_commit(dqlc_conn_t *conn, dqlc_error_t *err);
DQLC_API int dqlc_conn_rollback(dqlc_conn_t *conn, dqlc_error_t *err);
/** True between a successful BEGIN and its COMMIT/ROLLBACK (or its loss). */
DQLC_API bool dqlc_conn_in_transaction(const dqlc_conn_t *conn);
/** Deadline for each following call on this connection (0 = none). */
DQLC_API int dqlc_conn_set_timeout(dqlc_conn_t *conn, int64_t timeout_ms, dqlc_error_t *err);
/**
 * From any thread: ask the call running on `conn` to stop.  A query in
 * progress is interrupted (INTERRUPT, then the rest of its rows are drained)
 * and fails with DQLC_ECANCELED, leaving the connection usable.  An open
 * cursor counts as a query in progress: its next read fails with
 * DQLC_ECANCELED.  No-op when nothing runs.
 */
DQLC_API void dqlc_conn_cancel(dqlc_conn_t *conn);
/** The address of the node this connection talks to. */
DQLC_API const char *dqlc_conn_address(const dqlc_conn_t *conn);
/** False once the connection broke (I/O error, leadership lost); such a
 *  connection only fails further calls with DQLC_EIO: close it. */
DQLC_API bool dqlc_conn_usable(const dqlc_conn_t *conn);

/* ---- Prepared statements: belong to their connection ---------------------- */

DQLC_API int dqlc_conn_prepare(dqlc_conn_t *conn, const char *sql, dqlc_stmt_t **out,
			       dqlc_error_t *err);
/** Number of parameters the statement takes. */
DQLC_API size_t dqlc_stmt_param_count(const dqlc_stmt_t *stmt);
DQLC_API int dqlc_stmt_exec(dqlc_stmt_t *stmt, const dqlc_value_t *params, size_t n,
			    dqlc_result_t **out, dqlc_error_t *err);
DQLC_API int dqlc_stmt_query(dqlc_stmt_t *stmt, const dqlc_value_t *params, size_t n,
			     dqlc_result_t **out, dqlc_error_t *err);
/** Finalize on the server and free.  Once finalized (or once its connection
 *  broke or closed) the id is never sent again.  NULL-safe. */
DQLC_API void dqlc_stmt_finalize(dqlc_stmt_t *stmt);

/* ---- Streaming: a cursor over a large result, one server batch at a time -- */

/** Start a query whose rows are read as they arrive.  The cursor pins the
 *  connection: no other call on it until dqlc_cursor_close(). */
DQLC_API int dqlc_conn_cursor(dqlc_conn_t *conn, const char *sql, const dqlc_value_t *params,
			      size_t n, dqlc_cursor_t **out, dqlc_error_t *err);
/** Advance to the next row: true if there is one; false at the end or on
 *  error (then dqlc_cursor_error() tells which). */
DQLC_API bool dqlc_cursor_next(dqlc_cursor_t *cur);
DQLC_API int dqlc_cursor_error(const dqlc_cursor_t *cur, dqlc_error_t *err);
DQLC_API size_t dqlc_cursor_column_count(const dqlc_cursor_t *cur);
DQLC_API const char *dqlc_cursor_column_name(const dqlc_cursor_t *cur, size_t col);
/** The current row's value; valid until the next dqlc_cursor_next(). */
DQLC_API const dqlc_value_t *dqlc_cursor_value(const dqlc_cursor_t *cur, size_t col);
/** Close; if rows remain, INTERRUPT and drain so the connection stays usable. */
DQLC_API void dqlc_cursor_close(dqlc_cursor_t *cur);

/* =========================================================================
 * Results: immutable once returned; many threads may read one at once.
 * Freed once by its owner with dqlc_result_free().
 *
 * Typed accessors convert numbers like sqlite3_column_*: int64 of a FLOAT
 * truncates, double of an INTEGER converts, TEXT parses a leading number,
 * NULL is 0.  text/blob return the bytes of TEXT/ISO8601 and BLOB values
 * and NULL for other types.  Out-of-range row/col gives DQLC_TYPE_NULL, 0 or
 * a NULL pointer, never a crash.
 *
 * NULL handling: dqlite servers (1.11 and 1.18 alike) send NULL in a
 * DATETIME/DATE/TIMESTAMP column as ISO8601 "" — the library turns that back
 * into NULL.  NULL in a BOOLEAN column arrives as false and cannot be told
 * apart (see doc/types.md).
 * ========================================================================= */

DQLC_API size_t dqlc_result_column_count(const dqlc_result_t *r);
DQLC_API const char *dqlc_result_column_name(const dqlc_result_t *r, size_t col);
/** Column index by name (exact match first, then ASCII case-insensitive);
 *  -1 if absent. */
DQLC_API int dqlc_result_column_index(const dqlc_result_t *r, const char *name);
DQLC_API size_t dqlc_result_row_count(const dqlc_result_t *r);
DQLC_API const dqlc_value_t *dqlc_result_value(const dqlc_result_t *r, size_t row, size_t col);
/** Value by column name ("fetch" style); NULL if no such column or row. */
DQLC_API const dqlc_value_t *dqlc_result_value_by_name(const dqlc_result_t *r, size_t row,
						       const char *name);
DQLC_API int dqlc_result_type(const dqlc_result_t *r, size_t row, size_t col);
DQLC_API bool dqlc_result_is_null(const dqlc_result_t *r, size_t row, size_t col);
DQLC_API int64_t dqlc_result_int64(const dqlc_result_t *r, size_t row, size_t col);
DQLC_API double dqlc_result_double(const dqlc_result_t *r, size_t row, size_t col);
/** Text (NUL-terminated) of a TEXT or ISO8601 value; NULL for other types.
 *  *len (may be NULL) receives the length in bytes. */
DQLC_API const char *dqlc_result_text(const dqlc_result_t *r, size_t row, size_t col,
				      size_t *len);
/** Bytes of a BLOB (or TEXT) value; NULL for other types. */
DQLC_API const void *dqlc_result_blob(const dqlc_result_t *r, size_t row, size_t col,
				      size_t *len);
DQLC_API int64_t dqlc_result_last_insert_id(const dqlc_result_t *r);
DQLC_API int64_t dqlc_result_rows_affected(const dqlc_result_t *r);
DQLC_API void dqlc_result_free(dqlc_result_t *r); /* NULL-safe */

/* =========================================================================
 * Cluster administration
 * ========================================================================= */

#define DQLC_ROLE_VOTER 0
#define DQLC_ROLE_STANDBY 1
#define DQLC_ROLE_SPARE 2

/** One cluster member.  Arrays of these are freed with dqlc_nodes_free(). */
typedef struct dqlc_node_info {
	uint64_t id;
	char address[256];
	int role; /* DQLC_ROLE_*; -1 when unknown */
} dqlc_node_info_t;

DQLC_API void dqlc_nodes_free(dqlc_node_info_t *nodes); /* NULL-safe */
/** Name of a role ("voter", "standby", "spare"), "unknown" otherwise. */
DQLC_API const char *dqlc_role_name(int role);

/** The leader as the connected node sees it (id 0 and "" when it knows
 *  none). */
DQLC_API int dqlc_conn_leader(dqlc_conn_t *conn, dqlc_node_info_t *out, dqlc_error_t *err);
/** The members as the connected node sees them; *nodes freed with
 *  dqlc_nodes_free(). */
DQLC_API int dqlc_conn_cluster(dqlc_conn_t *conn, dqlc_node_info_t **nodes, size_t *n,
			       dqlc_error_t *err);
/** Add a node as a spare (must be sent to the leader). */
DQLC_API int dqlc_conn_add(dqlc_conn_t *conn, uint64_t id, const char *address,
			   dqlc_error_t *err);
/** Change a node's role (DQLC_ROLE_*); promotion waits for the node to catch
 *  up, bounded by the request deadline. */
DQLC_API int dqlc_conn_assign(dqlc_conn_t *conn, uint64_t id, int role, dqlc_error_t *err);
DQLC_API int dqlc_conn_remove(dqlc_conn_t *conn, uint64_t id, dqlc_error_t *err);
/** Hand leadership to `id` (0: let raft pick). */
DQLC_API int dqlc_conn_transfer(dqlc_conn_t *conn, uint64_t id, dqlc_error_t *err);
/** The connected node's failure domain and weight. */
DQLC_API int dqlc_conn_describe(dqlc_conn_t *conn, uint64_t *failure_domain, uint64_t *weight,
				dqlc_error_t *err);
/** Set the connected node's weight (in memory on that node only). */
DQLC_API int dqlc_conn_set_weight(dqlc_conn_t *conn, uint64_t weight, dqlc_error_t *err);

/** A database dump: the files (main file, then WAL) as the connected node
 *  has them. */
typedef struct dqlc_dump_file {
	char *name;
	void *data;
	size_t size;
} dqlc_dump_file_t;
typedef struct dqlc_dump {
	size_t n_files;
	dqlc_dump_file_t *files;
} dqlc_dump_t;
DQLC_API int dqlc_conn_dump(dqlc_conn_t *conn, const char *database, dqlc_dump_t **out,
			    dqlc_error_t *err);
/** Write the dump's files into directory `dir` (created if missing). */
DQLC_API int dqlc_dump_write(const dqlc_dump_t *dump, const char *dir, dqlc_error_t *err);
DQLC_API void dqlc_dump_free(dqlc_dump_t *dump); /* NULL-safe */

/* =========================================================================
 * Pool: the main handle.  Thread-safe: every function may be called from
 * any thread, except dqlc_pool_close() (once, from a thread that is not one
 * of the pool's workers and not inside a callback).
 *
 * A pool owns a fixed set of worker threads that run requests on pooled
 * connections to the leader, and a discovery thread that keeps the cluster
 * map (members, leader) fresh.  Nothing starts until the first request: a
 * pool that is created and never used has no thread and no socket (so a
 * pre-fork master stays single-threaded).
 *
 * Pool keys (default), settable in the URI or with dqlc_config_set():
 *   workers              4       worker threads
 *   queue_max            65536   queued requests; beyond it futures fail
 *                                with DQLC_EQUEUEFULL at once
 *   pool_min             0       connections kept open (warm) to the leader
 *   pool_max             8       connections at most
 *   idle_timeout_ms      60000   close idle connections above pool_min
 *   max_lifetime_ms      0       recycle connections older than this (0: never)
 *   acquire_timeout_ms   5000    dqlc_pool_acquire() default wait
 *   health_check_idle_ms 1000    check a connection idle this long before reuse
 *   retry_max            8       retries of one request (safe cases only)
 *   stmt_cache_size      64      prepared statements cached per connection
 *   leader_refresh_ms    30000   cluster map refresh period (0: only on demand)
 *   close                drain   "drain": finish queued work on close; "abort":
 *                                fail it with DQLC_ECLOSED
 *   fork                 auto    "auto": an inherited pool rebuilds itself in
 *                                the child; "explicit": it refuses to work
 *                                (DQLC_EFORKED) until dqlc_pool_after_fork()
 *
 * Deadlines: each request gets one deadline when submitted
 * (request_timeout_ms, or the per-request timeout) covering queueing,
 * waiting for a connection, leader discovery, connecting, retries and I/O.
 * A retry never restarts it.
 *
 * Retries happen only when safe: nothing was sent, the server said
 * NOT_LEADER, or SQLITE_BUSY on an autocommit statement; queries (which never
 * write) are also retried after a lost connection.  A write whose outcome is
 * unknown fails with DQLC_ERRF_MAYBE_EXECUTED and is never retried silently.
 *
 * Writes from one pool are serialized (the "write lane"), so concurrent
 * dqlc_pool_exec() writers in one process never see SQLITE_BUSY from each
 * other; dqlc_pool_transaction() takes the lane too.  Leased connections
 * (dqlc_pool_acquire) do not: a hand-written transaction on a lease can
 * meet SQLITE_BUSY from the pool's other writes — retry it, or use
 * dqlc_pool_transaction().  Writes from other processes can always meet
 * SQLITE_BUSY; the pool retries those with backoff within the deadline.
 * ========================================================================= */

typedef struct dqlc_pool dqlc_pool_t;
typedef struct dqlc_future dqlc_future_t;

DQLC_API int dqlc_pool_create(const char *uri, const dqlc_config_t *cfg, dqlc_pool_t **out,
			      dqlc_error_t *err);

/* Per-request options (all optional; NULL means defaults). */
#define DQLC_REQ_IDEMPOTENT 0x1u /* the statement may be retried even when its
				    outcome is unknown */
typedef struct dqlc_req_opts {
	size_t struct_size; /* sizeof(dqlc_req_opts_t): lets the struct grow */
	int64_t timeout_ms; /* 0: the pool's request_timeout_ms */
	unsigned flags;     /* DQLC_REQ_* */
} dqlc_req_opts_t;

/**
 * Submit SQL; returns a future that the caller owns (dqlc_future_free).
 * Parameters (and their bytes) are copied before the call returns.  Returns
 * NULL only when out of memory: every other failure (closed pool, full
 * queue, bad arguments) arrives through the future.
 * exec: no rows; the result carries last insert id and rows affected.
 * query: one row-returning statement; the result carries the rows.
 */
DQLC_API DQLC_NODISCARD dqlc_future_t *dqlc_pool_exec(dqlc_pool_t *pool, const char *sql,
						      const dqlc_value_t *params, size_t n);
DQLC_API DQLC_NODISCARD dqlc_future_t *dqlc_pool_query(dqlc_pool_t *pool, const char *sql,
						       const dqlc_value_t *params, size_t n);
DQLC_API DQLC_NODISCARD dqlc_future_t *dqlc_pool_exec_opts(dqlc_pool_t *pool, const char *sql,
							   const dqlc_value_t *params, size_t n,
							   const dqlc_req_opts_t *opts);
DQLC_API DQLC_NODISCARD dqlc_future_t *dqlc_pool_query_opts(dqlc_pool_t *pool, const char *sql,
							    const dqlc_value_t *params, size_t n,
							    const dqlc_req_opts_t *opts);

/**
 * Lease a connection to the leader for a sequence of calls (a transaction).
 * The lease is used with the dqlc_conn_* calls from one thread at a time;
 * dqlc_conn_close() returns it (rolled back first if a transaction is still
 * open; discarded if it broke).  timeout_ms < 0: acquire_timeout_ms.
 * DQLC_EPOOL when no connection frees up in time.
 */
DQLC_API int dqlc_pool_acquire(dqlc_pool_t *pool, int64_t timeout_ms, dqlc_conn_t **out,
			       dqlc_error_t *err);

/**
 * Run fn between BEGIN and COMMIT on one leased connection.  fn returns 0 to
 * commit; any other value rolls back and is returned.  When the transaction
 * fails in a way that proves nothing was committed (SQLITE_BUSY, NOT_LEADER,
 * a connection lost before COMMIT was sent) the whole of fn is run again,
 * on a fresh connection if needed, until it succeeds or the deadline
 * (request_timeout_ms) passes — so fn must be safe to run more than once
 * (no side effects outside the connection).  A COMMIT whose outcome is
 * unknown fails with DQLC_ERRF_MAYBE_EXECUTED and is not retried.  Inside fn,
 * use only the connection it is given (waiting on pool futures there can
 * deadlock).
 */
DQLC_API int dqlc_pool_transaction(dqlc_pool_t *pool, int (*fn)(dqlc_conn_t *conn, void *arg),
				   void *arg, dqlc_error_t *err);

/** The current leader's address, as the cluster map knows it (finding it
 *  first if needed). */
DQLC_API int dqlc_pool_leader(dqlc_pool_t *pool, char *buf, size_t len, dqlc_error_t *err);

/**
 * Stop the pool: drain or abort queued work (the `close` key), fail what is
 * left with DQLC_ECLOSED, join every thread, close every connection, free.
 * No thread or socket outlives it.  Connections still leased are closed when
 * they are returned.  Call it once, after every other call on the pool
 * (including dqlc_pool_transaction) has returned; futures outlive the pool:
 * they may still be waited on, read, cancelled and freed.  NULL-safe.
 */
DQLC_API void dqlc_pool_close(dqlc_pool_t *pool);

/**
 * In a child process that inherited a pool created with fork=explicit, make
 * it usable again: its connections and threads are rebuilt for this
 * process, and requests the parent had pending fail here with
 * DQLC_EFORKED.  In fork=auto mode this happens by itself on the first call;
 * calling it anyway is harmless.  Call it before using the pool from more
 * than one thread in the child.
 */
DQLC_API int dqlc_pool_after_fork(dqlc_pool_t *pool, dqlc_error_t *err);

/** Counters and gauges; fill `out` after setting out->struct_size. */
typedef struct dqlc_pool_stats {
	size_t struct_size;
	uint64_t submitted;      /* requests accepted */
	uint64_t completed;      /* futures completed with success */
	uint64_t failed;         /* futures completed with an error */
	uint64_t retries;        /* request retries (all causes) */
	uint64_t busy_retries;   /* retries caused by SQLITE_BUSY */
	uint64_t leader_changes; /* times the pool's leader changed */
	uint64_t timeouts;       /* requests that ran out of time */
	uint64_t canceled;
	uint64_t connects;       /* connections opened */
	uint32_t queued;         /* waiting for a worker now */
	uint32_t in_flight;      /* running on a worker now */
	uint32_t conns_open;
	uint32_t conns_idle;
	uint32_t conns_leased;   /* held by dqlc_pool_acquire() callers */
	uint32_t workers;        /* worker threads running */
	double latency_mean_us;  /* submit to completion, completed requests */
	double latency_p50_us;   /* approximations from a log-scale histogram */
	double latency_p99_us;
	double latency_max_us;
} dqlc_pool_stats_t;
DQLC_API int dqlc_pool_stats(dqlc_pool_t *pool, dqlc_pool_stats_t *out, dqlc_error_t *err);

/* ---- Cluster administration through the pool ------------------------------
 * Requests that change the cluster (add, assign, remove, transfer) go to the
 * leader and are retried on NOT_LEADER within request_timeout_ms; the
 * cluster map is refreshed after them.  describe/weight/dump act on one
 * node, named by address (NULL: the leader).  Same meanings as the
 * dqlc_conn_* calls. */

/** A snapshot of the cluster map: the members as last read from the leader
 *  (voters first) and the leader's address ("" when none is known).  Waits
 *  for the first map if none exists yet.  Free *nodes with dqlc_nodes_free. */
DQLC_API int dqlc_pool_cluster(dqlc_pool_t *pool, dqlc_node_info_t **nodes, size_t *n,
			       char *leader, size_t leader_len, dqlc_error_t *err);
DQLC_API int dqlc_pool_add(dqlc_pool_t *pool, uint64_t id, const char *address,
			   dqlc_error_t *err);
DQLC_API int dqlc_pool_assign(dqlc_pool_t *pool, uint64_t id, int role, dqlc_error_t *err);
DQLC_API int dqlc_pool_remove(dqlc_pool_t *pool, uint64_t id, dqlc_error_t *err);
DQLC_API int dqlc_pool_transfer(dqlc_pool_t *pool, uint64_t id, dqlc_error_t *err);
DQLC_API int dqlc_pool_describe(dqlc_pool_t *pool, const char *address,
				uint64_t *failure_domain, uint64_t *weight, dqlc_error_t *err);
DQLC_API int dqlc_pool_set_weight(dqlc_pool_t *pool, const char *address, uint64_t weight,
				  dqlc_error_t *err);
DQLC_API int dqlc_pool_dump(dqlc_pool_t *pool, const char *address, const char *database,
			    dqlc_dump_t **out, dqlc_error_t *err);

/* =========================================================================
 * Futures: one owner (who frees it), but any thread may wait on, poll or
 * cancel it.  A future may be freed before it completes; the request still
 * runs (or is dropped, if queued and then canceled) and its callback, if
 * any, still runs once.
 * ========================================================================= */

/** Block until complete; returns the final code (0 or DQLC_E*).  Called
 *  from one of the pool's own worker threads (e.g. in a callback) it
 *  returns DQLC_EDEADLK instead of waiting. */
DQLC_API int dqlc_future_wait(dqlc_future_t *f);
/** Wait at most timeout_ms: DQLC_ETIMEDOUT if not complete yet (the request
 *  keeps running: this does not cancel it), else the final code. */
DQLC_API int dqlc_future_wait_for(dqlc_future_t *f, int64_t timeout_ms);
DQLC_API bool dqlc_future_ready(dqlc_future_t *f);
/**
 * Register the completion callback (once per future; a second call is
 * DQLC_EMISUSE).  It runs exactly once, with no library lock held: on the
 * worker that completes the request (or on the pool's deadline thread, when
 * the deadline passes while the request is still queued); right here if the
 * future is already complete; or on the thread whose dqlc_future_cancel()
 * dropped the queued request, or whose dqlc_pool_close() (close=abort)
 * failed it.  Result and error accessors work inside it; waiting on
 * another future of the same pool there returns DQLC_EDEADLK.  `arg` must
 * stay valid until the callback has run.  The callback must not block for
 * long: it occupies a worker.
 */
DQLC_API int dqlc_future_set_callback(dqlc_future_t *f, void (*cb)(dqlc_future_t *f, void *arg),
				      void *arg);
/**
 * Cancel: a queued request is dropped (the future completes with
 * DQLC_ECANCELED); a running query is interrupted (INTERRUPT, then the rest
 * of its rows are drained, so the connection stays usable) and completes
 * with DQLC_ECANCELED.  A write already sent cannot be stopped and completes
 * with its real outcome.  Returns 0 if the request was dropped or
 * interrupted, DQLC_EINVAL if it had already completed.
 */
DQLC_API int dqlc_future_cancel(dqlc_future_t *f);
/** Wait, then copy the error (cleared on success) and return the code. */
DQLC_API int dqlc_future_error(dqlc_future_t *f, dqlc_error_t *err);
/** Wait, then hand over the result (the caller frees it).  NULL on error,
 *  or on a second call. */
DQLC_API dqlc_result_t *dqlc_future_take_result(dqlc_future_t *f);
/** Release the caller's ownership.  Allowed before completion.  NULL-safe. */
DQLC_API void dqlc_future_free(dqlc_future_t *f);

#ifdef __cplusplus
}
#endif

#endif /* DQLITE_CLIENT_H */
