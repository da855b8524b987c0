/* Value constructors, deep copies and type names. */
#include <stdlib.h>
#include <string.h>

#include "dqlite-client.h"

dqlc_value_t dqlc_value_int(int64_t i)
{
	dqlc_value_t v;
	memset(&v, 0, sizeof v);
	v.type = DQLC_TYPE_INTEGER;
	v.v.i = i;
	return v;
}

dqlc_value_t dqlc_value_float(double f)
{
	dqlc_value_t v;
	memset(&v, 0, sizeof v);
	v.type = DQLC_TYPE_FLOAT;
	v.v.f = f;
	return v;
}

dqlc_value_t dqlc_value_null(void)
{
	dqlc_value_t v;
	memset(&v, 0, sizeof v);
	v.type = DQLC_TYPE_NULL;
	return v;
}

static dqlc_value_t bytes(int type, const void *p, size_t n)
{
	dqlc_value_t v;
	memset(&v, 0, sizeof v);
	v.type = type;
	v.v.s.p = p != NULL ? (const char *)p : "";
	v.v.s.n = p != NULL ? n : 0;
	return v;
}

dqlc_value_t dqlc_value_textn(const char *s, size_t n)
{
	return s == NULL ? dqlc_value_null() : bytes(DQLC_TYPE_TEXT, s, n);
}

dqlc_value_t dqlc_value_text(const char *s)
{
	return s == NULL ? dqlc_value_null() : bytes(DQLC_TYPE_TEXT, s, strlen(s));
}

dqlc_value_t dqlc_value_blob(const void *p, size_t n)
{
	return bytes(DQLC_TYPE_BLOB, p, n);
}

dqlc_value_t dqlc_value_iso8601(const char *s)
{
	return s == NULL ? dqlc_value_null() : bytes(DQLC_TYPE_ISO8601, s, strlen(s));
}

dqlc_value_t dqlc_value_bool(bool b)
{
	dqlc_value_t v = dqlc_value_int(b ? 1 : 0);
	v.type = DQLC_TYPE_BOOLEAN;
	return v;
}

dqlc_value_t dqlc_value_unixtime(int64_t seconds)
{
	dqlc_value_t v = dqlc_value_int(seconds);
	v.type = DQLC_TYPE_UNIXTIME;
	return v;
}

static bool has_bytes(int type)
{
	return type == DQLC_TYPE_TEXT || type == DQLC_TYPE_BLOB || type == DQLC_TYPE_ISO8601;
}

int dqlc_value_copy(dqlc_value_t *dst, const dqlc_value_t *src)
{
	if (dst == NULL || src == NULL)
		return DQLC_EINVAL;
	*dst = *src;
	if (has_bytes(src->type)) {
		/* One extra byte keeps copied text NUL-terminated. */
		char *p = malloc(src->v.s.n + 1);
		if (p == NULL) {
			*dst = dqlc_value_null();
			return DQLC_ENOMEM;
		}
		if (src->v.s.n > 0)
			memcpy(p, src->v.s.p, src->v.s.n);
		p[src->v.s.n] = '\0';
		dst->v.s.p = p;
	}
	return DQLC_OK;
}

void dqlc_value_clear(dqlc_value_t *v)
{
	if (v == NULL)
		return;
	if (has_bytes(v->type))
		free((void *)v->v.s.p);
	*v = dqlc_value_null();
}

const char *dqlc_type_name(int type)
{
	switch (type) {
	case DQLC_TYPE_INTEGER: return "INTEGER";
	case DQLC_TYPE_FLOAT: return "FLOAT";
	case DQLC_TYPE_TEXT: return "TEXT";
	case DQLC_TYPE_BLOB: return "BLOB";
	case DQLC_TYPE_NULL: return "NULL";
	case DQLC_TYPE_UNIXTIME: return "UNIXTIME";
	case DQLC_TYPE_ISO8601: return "ISO8601";
	case DQLC_TYPE_BOOLEAN: return "BOOLEAN";
	default: return "UNKNOWN";
	}
}

int dqlc_version_number(void)
{
	return DQLC_VERSION_NUMBER;
}

const char *dqlc_version_string(void)
{
	return PACKAGE_VERSION;
}
