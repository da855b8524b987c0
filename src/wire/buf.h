/*
 * Byte-level helpers shared by the wire encoders and decoders: little-endian
 * loads and stores (memcpy-based, so any alignment is fine), the growable
 * write buffer, and a bounds-checked read cursor that remembers its offset so
 * that every decode error can say where it happened.
 */
#ifndef DQLC_WIRE_BUF_H
#define DQLC_WIRE_BUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "wire/wire.h"

#define DQLC__WORD 8u

/* Bytes needed to round n up to a whole number of words (n must be small
 * enough not to overflow: callers check). */
static inline size_t dqlc__pad8(size_t n)
{
	return (size_t)((DQLC__WORD - (n % DQLC__WORD)) % DQLC__WORD);
}

static inline bool dqlc__host_is_le(void)
{
#if defined(__BYTE_ORDER__) && defined(__ORDER_LITTLE_ENDIAN__)
	return __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__;
#else
	const uint16_t one = 1;
	uint8_t b;
	memcpy(&b, &one, 1);
	return b == 1;
#endif
}

static inline uint64_t dqlc__bswap64(uint64_t v)
{
	v = ((v & 0x00ff00ff00ff00ffull) << 8) | ((v >> 8) & 0x00ff00ff00ff00ffull);
	v = ((v & 0x0000ffff0000ffffull) << 16) | ((v >> 16) & 0x0000ffff0000ffffull);
	return (v << 32) | (v >> 32);
}

static inline uint64_t dqlc__get_u64(const uint8_t *p)
{
	uint64_t v;
	memcpy(&v, p, sizeof v);
	return dqlc__host_is_le() ? v : dqlc__bswap64(v);
}

static inline void dqlc__put_u64(uint8_t *p, uint64_t v)
{
	if (!dqlc__host_is_le())
		v = dqlc__bswap64(v);
	memcpy(p, &v, sizeof v);
}

/* The narrower widths only occur packed inside words; byte shifts are
 * endian-neutral and compile to single loads/stores. */
static inline uint32_t dqlc__get_u32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static inline void dqlc__put_u32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static inline uint16_t dqlc__get_u16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static inline void dqlc__put_u16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

/* ---- Write buffer ------------------------------------------------------ */

/* Make room for `n` more bytes (geometric growth).  DQLC_ENOMEM on failure
 * (also when len + n would overflow); `b` is then unchanged. */
int dqlc__wbuf_reserve(dqlc__wbuf_t *b, size_t n, dqlc_error_t *err);

/* Append `n` zeroed bytes and return a pointer to them, or NULL (ENOMEM,
 * reported in err). */
uint8_t *dqlc__wbuf_append(dqlc__wbuf_t *b, size_t n, dqlc_error_t *err);

/* ---- Read cursor ------------------------------------------------------- */

typedef struct dqlc__rd {
	const uint8_t *base;
	size_t len;
	size_t off;
	const char *what; /* message name, prefixes every error */
} dqlc__rd_t;

/* Start reading `body`: DQLC_EPROTO unless len is a whole number of words
 * (and body is non-NULL when len > 0). */
int dqlc__rd_init(dqlc__rd_t *rd, const uint8_t *body, size_t len, const char *what,
		  dqlc_error_t *err);

static inline size_t dqlc__rd_left(const dqlc__rd_t *rd)
{
	return rd->len - rd->off;
}

/* Each reader names the field (`field`) in its error message. */
int dqlc__rd_u64(dqlc__rd_t *rd, uint64_t *v, const char *field, dqlc_error_t *err);
/* Text: NUL within the body, zero padding to the next word. */
int dqlc__rd_text(dqlc__rd_t *rd, const char **s, size_t *n, const char *field,
		  dqlc_error_t *err);
/* `n` raw bytes followed by zero padding to the next word. */
int dqlc__rd_bytes(dqlc__rd_t *rd, uint64_t n, const uint8_t **p, const char *field,
		   dqlc_error_t *err);
/* Blob: uint64 length, bytes, zero padding. */
int dqlc__rd_blob(dqlc__rd_t *rd, const uint8_t **p, size_t *n, const char *field,
		  dqlc_error_t *err);
/* DQLC_EPROTO if anything is left. */
int dqlc__rd_end(const dqlc__rd_t *rd, dqlc_error_t *err);

/* Lower-level scans shared with the ROWS decoder, which keeps its own
 * cursor and formats its own messages (with row and column). */

/* Text starting at `off` in base[0..len): returns 0 and sets *n to the
 * string length and *size to the bytes it occupies (string, NUL, padding);
 * 1 if there is no NUL before `len`; 2 if a padding byte is non-zero
 * (*size = that byte's offset). */
int dqlc__scan_text(const uint8_t *base, size_t len, size_t off, size_t *n, size_t *size);

/* Index of the first non-zero byte of p[0..n), or n. */
static inline size_t dqlc__first_nonzero(const uint8_t *p, size_t n)
{
	size_t i;
	for (i = 0; i < n; i++)
		if (p[i] != 0)
			break;
	return i;
}

#endif
