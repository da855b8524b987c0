/*
 * ROWS batches (PROTOCOL.md §3.3): the hot path of large result sets.
 *
 * One pass over the body, no allocation per value: values point into the
 * body, rows->vals grows geometrically, names are allocated once per result.
 * The column count is checked against the body size once per batch, and each
 * row is checked once to hold its header, a word per value and the end
 * marker; from then on fixed-size values need no bounds check of their own,
 * only variable-size ones (text, blob) re-check the room they leave.
 */
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "wire/buf.h"

void dqlc__rows_init(dqlc__rows_t *rows)
{
	memset(rows, 0, sizeof *rows);
}

void dqlc__rows_free(dqlc__rows_t *rows)
{
	if (rows == NULL)
		return;
	free(rows->names);
	free(rows->vals);
	dqlc__rows_init(rows);
}

void dqlc__rows_clear_values(dqlc__rows_t *rows)
{
	if (rows != NULL)
		rows->nrows = 0;
}

/* Room for `need` values. */
static int grow(dqlc__rows_t *rows, size_t need, dqlc_error_t *err)
{
	size_t cap = rows->cap != 0 ? rows->cap : 64;
	dqlc_value_t *v;

	while (cap < need) {
		if (cap > SIZE_MAX / 2 / sizeof *v)
			return dqlc__err(err, DQLC_ENOMEM, "ROWS: too many values (%zu)", need);
		cap *= 2;
	}
	v = realloc(rows->vals, cap * sizeof *v);
	if (v == NULL)
		return dqlc__err(err, DQLC_ENOMEM, "ROWS: cannot allocate %zu values", cap);
	rows->vals = v;
	rows->cap = cap;
	return 0;
}

static bool is_marker(uint64_t w)
{
	return w == DQLC__ROWS_DONE || w == DQLC__ROWS_PART;
}

/* Column names: N texts.  `names` is NULL for batches after the first (their
 * names are validated and skipped). */
static int dec_names(const uint8_t *body, size_t len, size_t *off, size_t ncols,
		     const char **names, dqlc_error_t *err)
{
	size_t c, n, size = 0;

	for (c = 0; c < ncols; c++) {
		int rc = dqlc__scan_text(body, len, *off, &n, &size);
		if (rc == 1)
			return dqlc__err(err, DQLC_EPROTO,
					 "ROWS: name of column %zu at offset %zu has no NUL "
					 "terminator in the %zu bytes left",
					 c, *off, len - *off);
		if (rc == 2)
			return dqlc__err(err, DQLC_EPROTO,
					 "ROWS: name of column %zu at offset %zu: non-zero "
					 "padding byte 0x%02x at offset %zu",
					 c, *off, body[size], size);
		if (names != NULL)
			names[c] = (const char *)(body + *off);
		*off += size;
	}
	return 0;
}

/* Decode the values of one row whose header is at `hdr_off`, writing into
 * v[0..ncols).  On entry len - *off >= 8 * ncols + 8 (a word per value and
 * the marker); variable-size values keep that invariant true for the rest. */
static int dec_values(const uint8_t *body, size_t len, size_t hdr_off, size_t *off,
		      size_t ncols, size_t row, dqlc_value_t *v, dqlc_error_t *err)
{
	const uint8_t *hdr = body + hdr_off;
	size_t p = *off, c;

	for (c = 0; c < ncols; c++) {
		unsigned t = (c & 1) != 0 ? hdr[c >> 1] >> 4 : hdr[c >> 1] & 0x0f;
		size_t at = p, size, n = 0, rest;
		uint64_t u;
		int rc;

		v[c].type = (int)t;
		switch (t) {
		case DQLC_TYPE_INTEGER:
		case DQLC_TYPE_UNIXTIME:
			v[c].v.i = (int64_t)dqlc__get_u64(body + p);
			p += DQLC__WORD;
			continue;
		case DQLC_TYPE_BOOLEAN:
			v[c].v.i = dqlc__get_u64(body + p) != 0;
			p += DQLC__WORD;
			continue;
		case DQLC_TYPE_FLOAT:
			u = dqlc__get_u64(body + p);
			memcpy(&v[c].v.f, &u, sizeof u);
			p += DQLC__WORD;
			continue;
		case DQLC_TYPE_NULL:
			if ((u = dqlc__get_u64(body + p)) != 0)
				return dqlc__err(err, DQLC_EPROTO,
						 "ROWS: NULL value in row %zu column %zu at "
						 "offset %zu is 0x%llx, not 0",
						 row, c, p, (unsigned long long)u);
			v[c].v.i = 0;
			p += DQLC__WORD;
			continue;
		case DQLC_TYPE_TEXT:
		case DQLC_TYPE_ISO8601:
			rc = dqlc__scan_text(body, len, p, &n, &size);
			if (rc == 1)
				return dqlc__err(err, DQLC_EPROTO,
						 "ROWS: text in row %zu column %zu at offset %zu "
						 "has no NUL terminator in the %zu bytes left",
						 row, c, p, len - p);
			if (rc == 2)
				return dqlc__err(err, DQLC_EPROTO,
						 "ROWS: text in row %zu column %zu at offset %zu: "
						 "non-zero padding byte 0x%02x at offset %zu",
						 row, c, p, body[size], size);
			v[c].v.s.p = (const char *)(body + p);
			v[c].v.s.n = n;
			p += size;
			break;
		case DQLC_TYPE_BLOB:
			u = dqlc__get_u64(body + p);
			p += DQLC__WORD;
			if (u > len - p)
				return dqlc__err(err, DQLC_EPROTO,
						 "ROWS: blob in row %zu column %zu at offset %zu: "
						 "length %llu runs past the end of the body (%zu "
						 "bytes left)",
						 row, c, at, (unsigned long long)u, len - p);
			n = (size_t)u;
			size = dqlc__pad8(n);
			/* len - p is a multiple of 8, so n + size still fits.
			 * The padding is NOT checked: dqlite's blob encoder
			 * (lib/serialize.h, 1.11.1 and later) memcpy()s the
			 * bytes and skips the padding without zeroing it, so
			 * real servers send whatever their buffer held there
			 * (seen live: bytes of an earlier message). */
			v[c].v.s.p = (const char *)(body + p);
			v[c].v.s.n = n;
			p += n + size;
			break;
		default:
			return dqlc__err(err, DQLC_EPROTO,
					 "ROWS: unknown value type %u in row %zu column %zu at "
					 "offset %zu",
					 t, row, c, hdr_off + (c >> 1));
		}
		/* A variable-size value: the rest of the row and the marker
		 * must still fit. */
		rest = (ncols - c - 1) * DQLC__WORD + DQLC__WORD;
		if (len - p < rest)
			return dqlc__err(err, DQLC_EPROTO,
					 "ROWS: %s in row %zu column %zu at offset %zu leaves %zu "
					 "bytes, too few for the %zu remaining values and the end "
					 "marker",
					 t == DQLC_TYPE_BLOB ? "blob" : "text", row, c, at,
					 len - p, ncols - c - 1);
	}
	*off = p;
	return 0;
}

/* The padding of a row header: the unused high nibble (odd column count)
 * and the bytes after the last nibble. */
static int check_row_header(const uint8_t *body, size_t off, size_t ncols, size_t hdr_bytes,
			    size_t row, dqlc_error_t *err)
{
	size_t used = (ncols + 1) / 2, bad;

	if ((ncols & 1) != 0 && (body[off + used - 1] >> 4) != 0)
		return dqlc__err(err, DQLC_EPROTO,
				 "ROWS: row %zu header at offset %zu: unused type nibble is "
				 "%u, not 0 (byte at offset %zu)",
				 row, off, body[off + used - 1] >> 4, off + used - 1);
	bad = dqlc__first_nonzero(body + off + used, hdr_bytes - used);
	if (bad < hdr_bytes - used)
		return dqlc__err(err, DQLC_EPROTO,
				 "ROWS: row %zu header at offset %zu: non-zero padding byte "
				 "0x%02x at offset %zu",
				 row, off, body[off + used + bad], off + used + bad);
	return 0;
}

int dqlc__dec_rows(const uint8_t *body, size_t len, dqlc__rows_t *rows, bool *more,
		   dqlc_error_t *err)
{
	const bool first = rows != NULL && rows->batches == 0;
	const char **names = NULL;
	size_t nrows0, ncols, hdr_bytes, row_min, off = DQLC__WORD;
	uint64_t count;
	int rc;

	if (rows == NULL || more == NULL || (body == NULL && len > 0))
		return dqlc__err(err, DQLC_EINVAL, "ROWS: NULL argument");
	if (len % DQLC__WORD != 0)
		return dqlc__err(err, DQLC_EPROTO, "ROWS: body length %zu is not a multiple of 8",
				 len);
	if (len < 2 * DQLC__WORD)
		return dqlc__err(err, DQLC_EPROTO,
				 "ROWS: body ends at offset %zu, too short for a column count "
				 "and an end marker",
				 len);

	/* Each name takes at least a word, and the marker one more. */
	count = dqlc__get_u64(body);
	if (count > (len - 2 * DQLC__WORD) / DQLC__WORD)
		return dqlc__err(err, DQLC_EPROTO,
				 "ROWS: column count %llu at offset 0 cannot fit in the "
				 "%zu-byte body",
				 (unsigned long long)count, len);
	ncols = (size_t)count;
	if (!first && ncols != rows->ncols)
		return dqlc__err(err, DQLC_EPROTO,
				 "ROWS: batch %llu has %zu columns (offset 0) but the first "
				 "batch had %zu",
				 (unsigned long long)rows->batches, ncols, rows->ncols);
	if (first && ncols > 0) {
		names = malloc(ncols * sizeof *names);
		if (names == NULL)
			return dqlc__err(err, DQLC_ENOMEM, "ROWS: cannot allocate %zu column names",
					 ncols);
	}
	rc = dec_names(body, len, &off, ncols, names, err);
	if (rc != 0)
		goto fail_names;

	hdr_bytes = ((ncols + 1) / 2 + 7) & ~(size_t)7;
	row_min = hdr_bytes + ncols * DQLC__WORD; /* <= len: ncols <= len / 8 */
	nrows0 = rows->nrows;
	for (;;) {
		size_t left = len - off, row = rows->nrows;
		uint64_t w;

		if (left == 0) {
			rc = dqlc__err(err, DQLC_EPROTO,
				       "ROWS: batch ends without a DONE/PART marker at offset %zu",
				       off);
			goto fail;
		}
		w = dqlc__get_u64(body + off);
		if (is_marker(w)) {
			if (left != DQLC__WORD) {
				rc = dqlc__err(err, DQLC_EPROTO,
					       "ROWS: %zu trailing bytes after the end marker at "
					       "offset %zu",
					       left - DQLC__WORD, off);
				goto fail;
			}
			*more = w == DQLC__ROWS_PART;
			break;
		}
		if (left == DQLC__WORD) {
			rc = dqlc__err(err, DQLC_EPROTO,
				       "ROWS: bad end marker 0x%016llx at offset %zu (DONE is "
				       "0xffffffffffffffff, PART 0xeeeeeeeeeeeeeeee)",
				       (unsigned long long)w, off);
			goto fail;
		}
		if (ncols == 0) {
			rc = dqlc__err(err, DQLC_EPROTO,
				       "ROWS: row data at offset %zu in a batch with 0 columns", off);
			goto fail;
		}
		if (left - DQLC__WORD < row_min) {
			rc = dqlc__err(err, DQLC_EPROTO,
				       "ROWS: no DONE/PART marker at offset %zu: the %zu bytes "
				       "left are too few for row %zu (at least %zu bytes) and a "
				       "marker",
				       off, left, row, row_min);
			goto fail;
		}
		if (rows->max_rows != 0 && (uint64_t)row >= rows->max_rows) {
			rc = dqlc__err(err, DQLC_EPROTO,
				       "ROWS: result has more than max_rows (%llu) rows (row at "
				       "offset %zu)",
				       (unsigned long long)rows->max_rows, off);
			goto fail;
		}
		if ((rc = check_row_header(body, off, ncols, hdr_bytes, row, err)) != 0)
			goto fail;
		if (row > SIZE_MAX / ncols - 1) {
			rc = dqlc__err(err, DQLC_ENOMEM, "ROWS: too many values");
			goto fail;
		}
		if ((row + 1) * ncols > rows->cap &&
		    (rc = grow(rows, (row + 1) * ncols, err)) != 0)
			goto fail;
		off += hdr_bytes;
		rc = dec_values(body, len, off - hdr_bytes, &off, ncols, row,
				rows->vals + row * ncols, err);
		if (rc != 0)
			goto fail;
		rows->nrows = row + 1;
	}

	if (first) {
		rows->ncols = ncols;
		rows->names = names;
	}
	rows->batches++;
	return 0;

fail:
	rows->nrows = nrows0;
fail_names:
	free(names);
	return rc;
}
