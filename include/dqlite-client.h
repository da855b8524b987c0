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

#ifdef __cplusplus
}
#endif

#endif /* DQLITE_CLIENT_H */
