/* Internal error helpers: filling a caller's dqlc_error_t. */
#ifndef DQLC_ERROR_H
#define DQLC_ERROR_H

#include "dqlite-client.h"

#if defined(__GNUC__)
#define DQLC__PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define DQLC__PRINTF(a, b)
#endif

/* Fill `err` (may be NULL) with `code` and a formatted message; returns
 * `code` so callers can write `return dqlc__err(err, DQLC_EINVAL, "...")`. */
int dqlc__err(dqlc_error_t *err, int code, const char *fmt, ...) DQLC__PRINTF(3, 4);

/* Same, also recording an errno value (sys_errno) and appending strerror. */
int dqlc__err_sys(dqlc_error_t *err, int code, int sys_errno, const char *fmt, ...)
    DQLC__PRINTF(4, 5);

/* A server FAILURE: DQLC_ESQL with the server's code and message.  Sets the
 * flags that the code implies (NOT_LEADER: retryable + leader changed;
 * LEADERSHIP_LOST: maybe executed + leader changed). */
int dqlc__err_server(dqlc_error_t *err, uint64_t sqlite_code, const char *msg);

/* OR extra flags into err (NULL-safe). */
void dqlc__err_flag(dqlc_error_t *err, uint32_t flags);

/* Prefix the existing message with "context: " (NULL-safe). */
void dqlc__err_prefix(dqlc_error_t *err, const char *fmt, ...) DQLC__PRINTF(2, 3);

#endif
