/* Error codes, names and the helpers that fill a caller's dqlc_error_t. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "error.h"

const char *dqlc_strerror(int code)
{
	switch (code) {
	case DQLC_OK:
		return "success";
#define XX(name, num, desc) \
	case DQLC_##name:   \
		return desc;
		DQLC_ERRNO_MAP(XX)
#undef XX
	default:
		return "unknown error code";
	}
}

const char *dqlc_errname(int code)
{
	switch (code) {
	case DQLC_OK:
		return "DQLC_OK";
#define XX(name, num, desc) \
	case DQLC_##name:   \
		return "DQLC_" #name;
		DQLC_ERRNO_MAP(XX)
#undef XX
	default:
		return "DQLC_E?";
	}
}

void dqlc_error_clear(dqlc_error_t *err)
{
	if (err != NULL)
		memset(err, 0, sizeof *err);
}

static void vfill(dqlc_error_t *err, int code, const char *fmt, va_list ap)
    DQLC__PRINTF(3, 0);

static void vfill(dqlc_error_t *err, int code, const char *fmt, va_list ap)
{
	err->code = code;
	err->sqlite_code = 0;
	err->flags = 0;
	err->sys_errno = 0;
	vsnprintf(err->message, sizeof err->message, fmt, ap);
}

int dqlc__err(dqlc_error_t *err, int code, const char *fmt, ...)
{
	if (err != NULL) {
		va_list ap;
		va_start(ap, fmt);
		vfill(err, code, fmt, ap);
		va_end(ap);
	}
	return code;
}

int dqlc__err_sys(dqlc_error_t *err, int code, int sys_errno, const char *fmt, ...)
{
	if (err != NULL) {
		va_list ap;
		char buf[64];
		size_t len;
		va_start(ap, fmt);
		vfill(err, code, fmt, ap);
		va_end(ap);
		err->sys_errno = sys_errno;
		len = strlen(err->message);
		/* strerror_r (GNU) may or may not use buf; take what it returns. */
		const char *s = strerror_r(sys_errno, buf, sizeof buf);
		snprintf(err->message + len, sizeof err->message - len, ": %s", s);
	}
	return code;
}

int dqlc__err_server(dqlc_error_t *err, uint64_t sqlite_code, const char *msg)
{
	if (err == NULL)
		return DQLC_ESQL;
	err->code = DQLC_ESQL;
	err->sqlite_code = (int)sqlite_code;
	err->sys_errno = 0;
	err->flags = 0;
	switch (sqlite_code) {
	case DQLC_SQLITE_NOT_LEADER:
	case 8202: /* legacy not-leader */
		err->flags = DQLC_ERRF_RETRYABLE | DQLC_ERRF_LEADER_CHANGED;
		break;
	case DQLC_SQLITE_LEADERSHIP_LOST:
	case 8458: /* legacy leadership-lost */
		err->flags = DQLC_ERRF_MAYBE_EXECUTED | DQLC_ERRF_LEADER_CHANGED;
		break;
	default:
		break;
	}
	if (sqlite_code == 0)
		snprintf(err->message, sizeof err->message, "server: %s",
			 msg != NULL && *msg ? msg : "empty statement");
	else
		snprintf(err->message, sizeof err->message, "server error %llu: %s",
			 (unsigned long long)sqlite_code, msg != NULL ? msg : "");
	return DQLC_ESQL;
}

void dqlc__err_flag(dqlc_error_t *err, uint32_t flags)
{
	if (err != NULL)
		err->flags |= flags;
}

void dqlc__err_prefix(dqlc_error_t *err, const char *fmt, ...)
{
	char pre[128], old[sizeof err->message];
	va_list ap;
	if (err == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(pre, sizeof pre, fmt, ap);
	va_end(ap);
	memcpy(old, err->message, sizeof old);
	snprintf(err->message, sizeof err->message, "%s: %s", pre, old);
}
