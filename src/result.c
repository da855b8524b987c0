/* Result objects and their accessors. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "error.h"
#include "result.h"

dqlc_result_t *dqlc__result_new(void)
{
	dqlc_result_t *r = calloc(1, sizeof *r);
	if (r != NULL)
		dqlc__rows_init(&r->rows);
	return r;
}

void dqlc__values_fix_nulls(dqlc_value_t *v, size_t from, size_t to)
{
	size_t i;
	for (i = from; i < to; i++)
		if (v[i].type == DQLC_TYPE_ISO8601 && v[i].v.s.n == 0)
			v[i] = dqlc_value_null();
}

int dqlc__result_add_batch(dqlc_result_t *r, const uint8_t *body, size_t len, bool *more,
			   dqlc_error_t *err)
{
	struct dqlc__chunk *c = malloc(sizeof *c + len);
	size_t before = r->rows.nrows * r->rows.ncols;
	int rv;
	if (c == NULL)
		return dqlc__err(err, DQLC_ENOMEM, "out of memory for a %zu-byte result batch", len);
	memcpy(c->data, body, len);
	c->len = len;
	c->next = NULL;
	/* Keep chunks in arrival order: the first holds the column names. */
	if (r->last != NULL)
		r->last->next = c;
	else
		r->chunks = c;
	r->last = c;
	rv = dqlc__dec_rows(c->data, len, &r->rows, more, err);
	if (rv != 0)
		return rv;
	dqlc__values_fix_nulls(r->rows.vals, before, r->rows.nrows * r->rows.ncols);
	return 0;
}

void dqlc_result_free(dqlc_result_t *r)
{
	struct dqlc__chunk *c, *next;
	if (r == NULL)
		return;
	dqlc__rows_free(&r->rows);
	for (c = r->chunks; c != NULL; c = next) {
		next = c->next;
		free(c);
	}
	free(r);
}

size_t dqlc_result_column_count(const dqlc_result_t *r)
{
	return r ? r->rows.ncols : 0;
}

const char *dqlc_result_column_name(const dqlc_result_t *r, size_t col)
{
	return (r && col < r->rows.ncols) ? r->rows.names[col] : NULL;
}

int dqlc_result_column_index(const dqlc_result_t *r, const char *name)
{
	size_t i;
	if (r == NULL || name == NULL)
		return -1;
	for (i = 0; i < r->rows.ncols; i++)
		if (strcmp(r->rows.names[i], name) == 0)
			return (int)i;
	for (i = 0; i < r->rows.ncols; i++)
		if (strcasecmp(r->rows.names[i], name) == 0)
			return (int)i;
	return -1;
}

size_t dqlc_result_row_count(const dqlc_result_t *r)
{
	return r ? r->rows.nrows : 0;
}

const dqlc_value_t *dqlc_result_value(const dqlc_result_t *r, size_t row, size_t col)
{
	if (r == NULL || row >= r->rows.nrows || col >= r->rows.ncols)
		return NULL;
	return &r->rows.vals[row * r->rows.ncols + col];
}

const dqlc_value_t *dqlc_result_value_by_name(const dqlc_result_t *r, size_t row,
					      const char *name)
{
	int col = dqlc_result_column_index(r, name);
	return col < 0 ? NULL : dqlc_result_value(r, row, (size_t)col);
}

int dqlc_result_type(const dqlc_result_t *r, size_t row, size_t col)
{
	const dqlc_value_t *v = dqlc_result_value(r, row, col);
	return v ? v->type : DQLC_TYPE_NULL;
}

bool dqlc_result_is_null(const dqlc_result_t *r, size_t row, size_t col)
{
	return dqlc_result_type(r, row, col) == DQLC_TYPE_NULL;
}

static bool is_text(int t)
{
	return t == DQLC_TYPE_TEXT || t == DQLC_TYPE_ISO8601;
}

int64_t dqlc_result_int64(const dqlc_result_t *r, size_t row, size_t col)
{
	const dqlc_value_t *v = dqlc_result_value(r, row, col);
	if (v == NULL)
		return 0;
	switch (v->type) {
	case DQLC_TYPE_INTEGER:
	case DQLC_TYPE_UNIXTIME:
	case DQLC_TYPE_BOOLEAN:
		return v->v.i;
	case DQLC_TYPE_FLOAT:
		if (v->v.f != v->v.f)
			return 0;
		if (v->v.f >= 9223372036854775807.0)
			return INT64_MAX;
		if (v->v.f <= -9223372036854775808.0)
			return INT64_MIN;
		return (int64_t)v->v.f;
	case DQLC_TYPE_TEXT:
	case DQLC_TYPE_ISO8601:
		/* The text is NUL-terminated in the result. */
		return strtoll(v->v.s.p, NULL, 10);
	default:
		return 0;
	}
}

double dqlc_result_double(const dqlc_result_t *r, size_t row, size_t col)
{
	const dqlc_value_t *v = dqlc_result_value(r, row, col);
	if (v == NULL)
		return 0.0;
	switch (v->type) {
	case DQLC_TYPE_FLOAT:
		return v->v.f;
	case DQLC_TYPE_INTEGER:
	case DQLC_TYPE_UNIXTIME:
	case DQLC_TYPE_BOOLEAN:
		return (double)v->v.i;
	case DQLC_TYPE_TEXT:
	case DQLC_TYPE_ISO8601:
		return strtod(v->v.s.p, NULL);
	default:
		return 0.0;
	}
}

const char *dqlc_result_text(const dqlc_result_t *r, size_t row, size_t col, size_t *len)
{
	const dqlc_value_t *v = dqlc_result_value(r, row, col);
	if (v == NULL || !is_text(v->type)) {
		if (len)
			*len = 0;
		return NULL;
	}
	if (len)
		*len = v->v.s.n;
	return v->v.s.p;
}

const void *dqlc_result_blob(const dqlc_result_t *r, size_t row, size_t col, size_t *len)
{
	const dqlc_value_t *v = dqlc_result_value(r, row, col);
	if (v == NULL || (v->type != DQLC_TYPE_BLOB && v->type != DQLC_TYPE_TEXT)) {
		if (len)
			*len = 0;
		return NULL;
	}
	if (len)
		*len = v->v.s.n;
	return v->v.s.p;
}

int64_t dqlc_result_last_insert_id(const dqlc_result_t *r)
{
	return r ? r->last_insert_id : 0;
}

int64_t dqlc_result_rows_affected(const dqlc_result_t *r)
{
	return r ? r->rows_affected : 0;
}
