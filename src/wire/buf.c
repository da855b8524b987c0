/* The growable write buffer and the bounds-checked read cursor. */
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "wire/buf.h"

void dqlc__wbuf_init(dqlc__wbuf_t *b)
{
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
}

void dqlc__wbuf_free(dqlc__wbuf_t *b)
{
	free(b->data);
	dqlc__wbuf_init(b);
}

void dqlc__wbuf_reset(dqlc__wbuf_t *b)
{
	b->len = 0;
}

int dqlc__wbuf_reserve(dqlc__wbuf_t *b, size_t n, dqlc_error_t *err)
{
	size_t need, cap;
	uint8_t *p;

	if (n > SIZE_MAX - b->len)
		return dqlc__err(err, DQLC_ENOMEM, "write buffer size overflow");
	need = b->len + n;
	if (need <= b->cap)
		return 0;
	cap = b->cap != 0 ? b->cap : 256;
	while (cap < need)
		cap = cap > SIZE_MAX / 2 ? need : cap * 2;
	p = realloc(b->data, cap);
	if (p == NULL)
		return dqlc__err(err, DQLC_ENOMEM, "cannot grow write buffer to %zu bytes", cap);
	b->data = p;
	b->cap = cap;
	return 0;
}

uint8_t *dqlc__wbuf_append(dqlc__wbuf_t *b, size_t n, dqlc_error_t *err)
{
	uint8_t *p;

	if (dqlc__wbuf_reserve(b, n, err) != 0)
		return NULL;
	p = b->data + b->len;
	memset(p, 0, n);
	b->len += n;
	return p;
}

/* ---- Read cursor ------------------------------------------------------- */

int dqlc__rd_init(dqlc__rd_t *rd, const uint8_t *body, size_t len, const char *what,
		  dqlc_error_t *err)
{
	rd->base = body;
	rd->len = len;
	rd->off = 0;
	rd->what = what;
	if (body == NULL && len > 0)
		return dqlc__err(err, DQLC_EINVAL, "%s: NULL body of %zu bytes", what, len);
	if (len % DQLC__WORD != 0)
		return dqlc__err(err, DQLC_EPROTO,
				 "%s: body length %zu is not a multiple of 8", what, len);
	return 0;
}

static int truncated(const dqlc__rd_t *rd, size_t need, const char *field,
		     dqlc_error_t *err)
{
	return dqlc__err(err, DQLC_EPROTO,
			 "%s: truncated %s at offset %zu: need %zu bytes, %zu left "
			 "(body is %zu bytes)",
			 rd->what, field, rd->off, need, dqlc__rd_left(rd), rd->len);
}

int dqlc__rd_u64(dqlc__rd_t *rd, uint64_t *v, const char *field, dqlc_error_t *err)
{
	if (dqlc__rd_left(rd) < DQLC__WORD)
		return truncated(rd, DQLC__WORD, field, err);
	*v = dqlc__get_u64(rd->base + rd->off);
	rd->off += DQLC__WORD;
	return 0;
}

int dqlc__scan_text(const uint8_t *base, size_t len, size_t off, size_t *n, size_t *size)
{
	const uint8_t *nul = memchr(base + off, 0, len - off);
	size_t end, pad, bad;

	if (nul == NULL)
		return 1;
	*n = (size_t)(nul - base) - off;
	end = (size_t)(nul - base) + 1;
	pad = dqlc__pad8(end);
	if (pad > len - end) /* only possible when len is not word-aligned */
		return 1;
	bad = dqlc__first_nonzero(base + end, pad);
	if (bad < pad) {
		*size = end + bad;
		return 2;
	}
	*size = end + pad - off;
	return 0;
}

int dqlc__rd_text(dqlc__rd_t *rd, const char **s, size_t *n, const char *field,
		  dqlc_error_t *err)
{
	size_t size = 0, slen = 0;
	int rc;

	if (dqlc__rd_left(rd) < DQLC__WORD)
		return truncated(rd, DQLC__WORD, field, err);
	rc = dqlc__scan_text(rd->base, rd->len, rd->off, &slen, &size);
	if (rc == 1)
		return dqlc__err(err, DQLC_EPROTO,
				 "%s: text %s at offset %zu has no NUL terminator "
				 "in the %zu bytes left",
				 rd->what, field, rd->off, dqlc__rd_left(rd));
	if (rc == 2)
		return dqlc__err(err, DQLC_EPROTO,
				 "%s: text %s at offset %zu: non-zero padding byte "
				 "0x%02x at offset %zu",
				 rd->what, field, rd->off, rd->base[size], size);
	*s = (const char *)(rd->base + rd->off);
	if (n != NULL)
		*n = slen;
	rd->off += size;
	return 0;
}

int dqlc__rd_bytes(dqlc__rd_t *rd, uint64_t n, const uint8_t **p, const char *field,
		   dqlc_error_t *err)
{
	size_t left = dqlc__rd_left(rd), pad, bad;

	if (n > left)
		return dqlc__err(err, DQLC_EPROTO,
				 "%s: %s of %llu bytes at offset %zu runs past the end "
				 "of the body (%zu bytes left)",
				 rd->what, field, (unsigned long long)n, rd->off, left);
	pad = dqlc__pad8((size_t)n);
	/* left is a multiple of 8, so n <= left implies n + pad <= left */
	bad = dqlc__first_nonzero(rd->base + rd->off + n, pad);
	if (bad < pad)
		return dqlc__err(err, DQLC_EPROTO,
				 "%s: %s at offset %zu: non-zero padding byte 0x%02x "
				 "at offset %zu",
				 rd->what, field, rd->off, rd->base[rd->off + n + bad],
				 rd->off + (size_t)n + bad);
	*p = rd->base + rd->off;
	rd->off += (size_t)n + pad;
	return 0;
}

int dqlc__rd_blob(dqlc__rd_t *rd, const uint8_t **p, size_t *n, const char *field,
		  dqlc_error_t *err)
{
	uint64_t len = 0;
	int rc = dqlc__rd_u64(rd, &len, field, err);

	if (rc != 0)
		return rc;
	rc = dqlc__rd_bytes(rd, len, p, field, err);
	if (rc != 0)
		return rc;
	*n = (size_t)len;
	return 0;
}

int dqlc__rd_end(const dqlc__rd_t *rd, dqlc_error_t *err)
{
	if (rd->off != rd->len)
		return dqlc__err(err, DQLC_EPROTO, "%s: %zu unexpected trailing bytes at offset %zu",
				 rd->what, dqlc__rd_left(rd), rd->off);
	return 0;
}
