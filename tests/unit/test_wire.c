/*
 * Unit tests for the wire codec (src/wire/): byte-exact vectors for every
 * request and response, round trips through small test-only encoders and
 * decoders, and a table of malformed inputs.
 */
#include <check.h>
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wire/buf.h"
#include "wire/wire.h"

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))

/* ---- Helpers ----------------------------------------------------------- */

static char *hex(const uint8_t *p, size_t n)
{
	static char out[4096];
	size_t i, o = 0;
	for (i = 0; i < n && o + 4 < sizeof out; i++)
		o += (size_t)snprintf(out + o, sizeof out - o, "%s%02x",
				      i % 8 == 0 ? (i ? "\n" : "") : " ", p[i]);
	out[o] = '\0';
	return out;
}

/* Assert the buffer holds exactly exp[0..n). */
#define EXPECT_BYTES(b, exp)                                                            \
	do {                                                                            \
		ck_assert_uint_eq((b)->len, sizeof(exp));                               \
		ck_assert_msg(memcmp((b)->data, (exp), sizeof(exp)) == 0,              \
			      "bytes differ; got:\n%s", hex((b)->data, (b)->len));      \
	} while (0)

/* Assert an error code and a substring of the message. */
#define EXPECT_ERR(rc, e, want, sub)                                                    \
	do {                                                                            \
		ck_assert_int_eq((rc), (want));                                         \
		ck_assert_int_eq((e).code, (want));                                     \
		ck_assert_msg(strstr((e).message, (sub)) != NULL,                      \
			      "message \"%s\" lacks \"%s\"", (e).message, (sub));       \
	} while (0)

/* A write buffer whose spare capacity is full of 0xaa, so that any padding
 * the encoder forgets to zero shows up in the byte comparison. */
static void dirty_init(dqlc__wbuf_t *b)
{
	dqlc__wbuf_init(b);
	ck_assert_int_eq(dqlc__wbuf_reserve(b, 1 << 16, NULL), 0);
	memset(b->data, 0xaa, b->cap);
}

/* Test-only byte builder (independent of the encoder under test). */
typedef struct tb {
	uint8_t p[1 << 16];
	size_t len;
} tb_t;

static void tb_u64(tb_t *t, uint64_t v)
{
	int i;
	ck_assert_uint_le(t->len + 8, sizeof t->p);
	for (i = 0; i < 8; i++)
		t->p[t->len++] = (uint8_t)(v >> (8 * i));
}

static void tb_raw(tb_t *t, const void *p, size_t n)
{
	ck_assert_uint_le(t->len + n, sizeof t->p);
	memcpy(t->p + t->len, p, n);
	t->len += n;
}

static void tb_pad(tb_t *t)
{
	while (t->len % 8 != 0)
		t->p[t->len++] = 0;
}

static void tb_text(tb_t *t, const char *s, size_t n)
{
	tb_raw(t, s, n);
	t->p[t->len++] = 0;
	tb_pad(t);
}

static void tb_blob(tb_t *t, const void *p, size_t n)
{
	tb_u64(t, n);
	tb_raw(t, p, n);
	tb_pad(t);
}

static void tb_value(tb_t *t, const dqlc_value_t *v)
{
	uint64_t u;
	switch (v->type) {
	case DQLC_TYPE_INTEGER:
	case DQLC_TYPE_UNIXTIME:
	case DQLC_TYPE_BOOLEAN:
		tb_u64(t, (uint64_t)v->v.i);
		break;
	case DQLC_TYPE_FLOAT:
		memcpy(&u, &v->v.f, 8);
		tb_u64(t, u);
		break;
	case DQLC_TYPE_TEXT:
	case DQLC_TYPE_ISO8601:
		tb_text(t, v->v.s.p, v->v.s.n);
		break;
	case DQLC_TYPE_BLOB:
		tb_blob(t, v->v.s.p, v->v.s.n);
		break;
	default:
		tb_u64(t, 0);
	}
}

/* One ROWS batch body: column count, names, rows (nibble headers), marker. */
static void tb_rows(tb_t *t, size_t ncols, const char *const *names, const dqlc_value_t *vals,
		    size_t nrows, uint64_t marker)
{
	size_t c, r, hdr = ((ncols + 1) / 2 + 7) / 8 * 8;
	tb_u64(t, ncols);
	for (c = 0; c < ncols; c++)
		tb_text(t, names[c], strlen(names[c]));
	for (r = 0; r < nrows; r++) {
		const dqlc_value_t *row = vals + r * ncols;
		uint8_t *h = t->p + t->len;
		ck_assert_uint_le(t->len + hdr, sizeof t->p);
		memset(h, 0, hdr);
		for (c = 0; c < ncols; c++)
			h[c / 2] |= (uint8_t)((row[c].type & 0xf) << (4 * (c % 2)));
		t->len += hdr;
		for (c = 0; c < ncols; c++)
			tb_value(t, &row[c]);
	}
	tb_u64(t, marker);
}

/* Prepend a message header to a body built in `t`. */
static void tb_frame(tb_t *out, uint8_t type, uint8_t schema, const tb_t *body)
{
	uint8_t h[8] = {0};
	uint32_t w = (uint32_t)(body->len / 8);
	h[0] = (uint8_t)w;
	h[1] = (uint8_t)(w >> 8);
	h[2] = (uint8_t)(w >> 16);
	h[3] = (uint8_t)(w >> 24);
	h[4] = type;
	h[5] = schema;
	out->len = 0;
	tb_raw(out, h, 8);
	tb_raw(out, body->p, body->len);
}

static uint64_t le64(const uint8_t *p)
{
	uint64_t v = 0;
	int i;
	for (i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

/* Test-only params tuple decoder: the inverse of what the server does. */
static size_t parse_params(const uint8_t *p, size_t len, int schema, dqlc_value_t *out,
			   size_t max)
{
	size_t n, i, off, hdr;
	const uint8_t *types;
	if (schema == 1) {
		n = (size_t)(p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24);
		types = p + 4;
		hdr = 4 + n;
	} else {
		n = p[0];
		types = p + 1;
		hdr = 1 + n;
	}
	ck_assert_uint_le(n, max);
	off = (hdr + 7) / 8 * 8;
	for (i = hdr; i < off; i++)
		ck_assert_msg(p[i] == 0, "tuple header padding byte %zu is %02x", i, p[i]);
	for (i = 0; i < n; i++) {
		uint64_t u;
		size_t sl;
		ck_assert_uint_le(off + 8, len);
		out[i].type = types[i];
		switch (types[i]) {
		case DQLC_TYPE_INTEGER:
		case DQLC_TYPE_BOOLEAN:
		case DQLC_TYPE_NULL:
			out[i].v.i = (int64_t)le64(p + off);
			off += 8;
			break;
		case DQLC_TYPE_FLOAT:
			u = le64(p + off);
			memcpy(&out[i].v.f, &u, 8);
			off += 8;
			break;
		case DQLC_TYPE_TEXT:
		case DQLC_TYPE_ISO8601:
			sl = strlen((const char *)p + off);
			out[i].v.s.p = (const char *)p + off;
			out[i].v.s.n = sl;
			off += (sl + 8) / 8 * 8;
			break;
		case DQLC_TYPE_BLOB:
			u = le64(p + off);
			out[i].v.s.p = (const char *)p + off + 8;
			out[i].v.s.n = (size_t)u;
			off += 8 + (size_t)(u + 7) / 8 * 8;
			break;
		default:
			ck_abort_msg("bad param type %u", types[i]);
		}
	}
	ck_assert_uint_eq(off, len);
	return n;
}

static bool same_value(const dqlc_value_t *a, const dqlc_value_t *b)
{
	if (a->type != b->type)
		return false;
	switch (a->type) {
	case DQLC_TYPE_FLOAT:
		return memcmp(&a->v.f, &b->v.f, 8) == 0; /* bitwise: NaN, -0.0 */
	case DQLC_TYPE_TEXT:
	case DQLC_TYPE_ISO8601:
	case DQLC_TYPE_BLOB:
		return a->v.s.n == b->v.s.n && memcmp(a->v.s.p, b->v.s.p, a->v.s.n) == 0;
	case DQLC_TYPE_NULL:
		return true;
	default:
		return a->v.i == b->v.i;
	}
}

/* ---- Framing ----------------------------------------------------------- */

START_TEST(test_header_valid)
{
	const uint8_t h[8] = {0x03, 0x00, 0x00, 0x00, 0x05, 0x01, 0x34, 0x12};
	dqlc__hdr_t hdr;
	dqlc_error_t e;
	ck_assert_int_eq(dqlc__wire_header(h, 24, &hdr, &e), 0);
	ck_assert_uint_eq(hdr.words, 3);
	ck_assert_uint_eq(hdr.type, 5);
	ck_assert_uint_eq(hdr.schema, 1);
	ck_assert_uint_eq(hdr.extra, 0x1234);
}
END_TEST

START_TEST(test_header_limits)
{
	const uint8_t zero[8] = {0, 0, 0, 0, 8, 0, 0, 0};
	const uint8_t big[8] = {0x01, 0x00, 0x20, 0x00, 7, 0, 0, 0}; /* 0x200001 words */
	const uint8_t max[8] = {0xff, 0xff, 0xff, 0xff, 7, 0, 0, 0};
	const uint8_t four[8] = {4, 0, 0, 0, 1, 0, 0, 0};
	dqlc__hdr_t hdr = {0, 0, 0, 0};
	dqlc_error_t e;
	int rc;

	rc = dqlc__wire_header(zero, 1024, &hdr, &e);
	EXPECT_ERR(rc, e, DQLC_EPROTO, "empty body (0 words)");
	rc = dqlc__wire_header(big, 16u << 20, &hdr, &e);
	EXPECT_ERR(rc, e, DQLC_EPROTO, "16777224 bytes");
	ck_assert_msg(strstr(e.message, "limit of 16777216") != NULL, "%s", e.message);
	rc = dqlc__wire_header(max, SIZE_MAX, &hdr, &e);
	ck_assert_int_eq(rc, 0);
	ck_assert_uint_eq(hdr.words, UINT32_MAX);
	/* exactly at the cap is fine, one word over is not */
	ck_assert_int_eq(dqlc__wire_header(four, 32, &hdr, &e), 0);
	rc = dqlc__wire_header(four, 31, &hdr, &e);
	EXPECT_ERR(rc, e, DQLC_EPROTO, "exceeds the limit of 31 bytes");
}
END_TEST

START_TEST(test_frame)
{
	const uint8_t two[] = {1, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
			       1, 0, 0, 0, 2, 0, 0, 0, 9, 9, 9, 9, 9, 9, 9, 9};
	dqlc__hdr_t hdr;
	const uint8_t *body = NULL;
	size_t used = 0;
	dqlc_error_t e;

	ck_assert_int_eq(dqlc__wire_frame(two, sizeof two, 1024, &hdr, &body, &used, &e), 0);
	ck_assert_uint_eq(hdr.type, DQLC__RESP_EMPTY);
	ck_assert_ptr_eq(body, two + 8);
	ck_assert_uint_eq(used, 16);
	ck_assert_int_eq(dqlc__wire_frame(two + 16, 16, 1024, &hdr, &body, &used, &e), 0);
	ck_assert_uint_eq(hdr.type, DQLC__RESP_WELCOME);
	ck_assert_uint_eq(used, 16);
	ck_assert_int_eq(dqlc__wire_frame(two + 16, 15, 1024, &hdr, &body, &used, &e),
			 DQLC_EPROTO);
	ck_assert_str_eq(dqlc__wire_resp_name(DQLC__RESP_ROWS), "ROWS");
	ck_assert_str_eq(dqlc__wire_resp_name(11), "UNKNOWN");
	ck_assert_str_eq(dqlc__wire_req_name(DQLC__REQ_WEIGHT), "WEIGHT");
	ck_assert_str_eq(dqlc__wire_req_name(20), "UNKNOWN");
}
END_TEST

/* ---- Request vectors --------------------------------------------------- */

START_TEST(test_enc_handshake_and_leader)
{
	/* PROTOCOL.md §1.4, client side, byte for byte. */
	static const uint8_t exp[] = {
	    0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* protocol version 1 */
	    0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* 1 word, LEADER */
	    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* unused */
	};
	static const uint8_t legacy[] = {0xe5, 0x3f, 0x43, 0x60, 0xd7, 0x4d, 0x10, 0x86};
	dqlc__wbuf_t b;
	dqlc_error_t e;
	int rc;

	dirty_init(&b);
	ck_assert_int_eq(dqlc__enc_handshake(&b, DQLC__PROTO_VERSION, &e), 0);
	ck_assert_int_eq(dqlc__enc_leader(&b, &e), 0);
	EXPECT_BYTES(&b, exp);
	dqlc__wbuf_reset(&b);
	ck_assert_int_eq(dqlc__enc_handshake(&b, DQLC__PROTO_VERSION_LEGACY, &e), 0);
	EXPECT_BYTES(&b, legacy);
	rc = dqlc__enc_handshake(&b, 2, &e);
	EXPECT_ERR(rc, e, DQLC_EINVAL, "unknown protocol version 0x2");
	ck_assert_uint_eq(b.len, 8);
	dqlc__wbuf_free(&b);
}
END_TEST

START_TEST(test_enc_word_requests)
{
	static const uint8_t client[] = {1, 0, 0, 0, 1, 0, 0, 0, 8, 7, 6, 5, 4, 3, 2, 1};
	static const uint8_t hb[] = {1, 0, 0, 0, 2, 0, 0, 0, 0x10, 0x27, 0, 0, 0, 0, 0, 0};
	static const uint8_t intr[] = {1, 0, 0, 0, 10, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0};
	static const uint8_t fin[] = {1, 0, 0, 0, 7, 0, 0, 0, 3, 0, 0, 0, 4, 0, 0, 0};
	static const uint8_t rm[] = {1, 0, 0, 0, 14, 0, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0};
	static const uint8_t cl[] = {1, 0, 0, 0, 16, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0};
	static const uint8_t cl0[] = {1, 0, 0, 0, 16, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
	static const uint8_t tr[] = {1, 0, 0, 0, 17, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
	static const uint8_t de[] = {1, 0, 0, 0, 18, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
	static const uint8_t we[] = {1, 0, 0, 0, 19, 0, 0, 0, 7, 0, 0, 0, 0, 0, 0, 0};
	static const uint8_t as[] = {2, 0, 0, 0, 13, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0,
				     1, 0, 0, 0, 0, 0, 0, 0};
	dqlc__wbuf_t b;
	dqlc_error_t e;

	dirty_init(&b);
	ck_assert_int_eq(dqlc__enc_client(&b, 0x0102030405060708ull, &e), 0);
	EXPECT_BYTES(&b, client);
	dqlc__wbuf_reset(&b);
	ck_assert_int_eq(dqlc__enc_heartbeat(&b, 10000, DQLC__FEAT_UNKNOWN_REQ, &e), 0);
	EXPECT_BYTES(&b, hb);
	dqlc__wbuf_reset(&b);
	ck_assert_int_eq(dqlc__enc_interrupt(&b, 3, &e), 0);
	EXPECT_BYTES(&b, intr);
	dqlc__wbuf_reset(&b);
	ck_assert_int_eq(dqlc__enc_finalize(&b, 3, 4, &e), 0);
	EXPECT_BYTES(&b, fin);
	dqlc__wbuf_reset(&b);
	ck_assert_int_eq(dqlc__enc_remove(&b, 9, &e), 0);
	EXPECT_BYTES(&b, rm);
	dqlc__wbuf_reset(&b);
	ck_assert_int_eq(dqlc__enc_cluster(&b, 1, &e), 0);
	EXPECT_BYTES(&b, cl);
	dqlc__wbuf_reset(&b);
	ck_assert_int_eq(dqlc__enc_cluster(&b, 0, &e), 0);
	EXPECT_BYTES(&b, cl0);
	dqlc__wbuf_reset(&b);
	ck_assert_int_eq(dqlc__enc_transfer(&b, 0, &e), 0);
	EXPECT_BYTES(&b, tr);
	dqlc__wbuf_reset(&b);
	ck_assert_int_eq(dqlc__enc_describe(&b, 0, &e), 0);
	EXPECT_BYTES(&b, de);
	dqlc__wbuf_reset(&b);
	ck_assert_int_eq(dqlc__enc_weight(&b, 7, &e), 0);
	EXPECT_BYTES(&b, we);
	dqlc__wbuf_reset(&b);
	ck_assert_int_eq(dqlc__enc_assign(&b, 2, DQLC__ROLE_STANDBY, &e), 0);
	EXPECT_BYTES(&b, as);
	dqlc__wbuf_free(&b);
}
END_TEST

START_TEST(test_enc_text_requests)
{
	static const uint8_t open[] = {
	    4, 0, 0, 0, 3, 0, 0, 0,                          /* 4 words, OPEN */
	    't', 'e', 's', 't', 0, 0, 0, 0,                  /* "test" */
	    0, 0, 0, 0, 0, 0, 0, 0,                          /* flags */
	    'v', 'o', 'l', 'a', 't', 'i', 'l', 'e', 0, 0, 0, 0, 0, 0, 0, 0, /* "volatile" */
	};
	static const uint8_t prep[] = {
	    3, 0, 0, 0, 4, 0, 0, 0,                          /* 3 words, PREPARE */
	    0, 0, 0, 0, 0, 0, 0, 0,                          /* db 0 */
	    'S', 'E', 'L', 'E', 'C', 'T', ' ', '1', 0, 0, 0, 0, 0, 0, 0, 0,
	};
	static const uint8_t prep1[] = {
	    2, 0, 0, 0, 4, 1, 0, 0,                          /* schema 1 */
	    5, 0, 0, 0, 0, 0, 0, 0,
	    'x', 0, 0, 0, 0, 0, 0, 0,
	};
	static const uint8_t add[] = {
	    3, 0, 0, 0, 12, 0, 0, 0,
	    2, 0, 0, 0, 0, 0, 0, 0,
	    '1', '2', '7', '.', '0', '.', '0', '.', '1', ':', '9', 0, 0, 0, 0, 0,
	};
	static const uint8_t dump[] = {
	    1, 0, 0, 0, 15, 0, 0, 0,
	    't', 'e', 's', 't', '.', 'd', 'b', 0, /* 7 bytes + NUL: exactly one word */
	};
	static const uint8_t qsql[] = {
	    5, 0, 0, 0, 9, 0, 0, 0,
	    5, 0, 0, 0, 0, 0, 0, 0,
	    'S', 'E', 'L', 'E', 'C', 'T', ' ', '?', 0, 0, 0, 0, 0, 0, 0, 0,
	    1, 5, 0, 0, 0, 0, 0, 0,          /* 1 param: NULL */
	    0, 0, 0, 0, 0, 0, 0, 0,
	};
	static const uint8_t esql0[] = {
	    2, 0, 0, 0, 8, 0, 0, 0,
	    0, 0, 0, 0, 0, 0, 0, 0,
	    0, 0, 0, 0, 0, 0, 0, 0,          /* "" and no tuple */
	};
	dqlc_value_t null = DQLC_NULL;
	dqlc__wbuf_t b;
	dqlc_error_t e;

	dirty_init(&b);
	ck_assert_int_eq(dqlc__enc_open(&b, "test", 0, "volatile", &e), 0);
	EXPECT_BYTES(&b, open);
	dqlc__wbuf_reset(&b);
	ck_assert_int_eq(dqlc__enc_prepare(&b, 0, "SELECT 1", false, 0, &e), 0);
	EXPECT_BYTES(&b, prep);
	dqlc__wbuf_reset(&b);
	/* want_tail without the feature: still schema 0 */
	ck_assert_int_eq(dqlc__enc_prepare(&b, 0, "SELECT 1", true, DQLC__FEAT_SCHEMA1, &e), 0);
	EXPECT_BYTES(&b, prep);
	dqlc__wbuf_reset(&b);
	ck_assert_int_eq(dqlc__enc_prepare(&b, 5, "x", true, DQLC__FEAT_PREPARE_TAIL, &e), 0);
	EXPECT_BYTES(&b, prep1);
	dqlc__wbuf_reset(&b);
	ck_assert_int_eq(dqlc__enc_add(&b, 2, "127.0.0.1:9", &e), 0);
	EXPECT_BYTES(&b, add);
	dqlc__wbuf_reset(&b);
	ck_assert_int_eq(dqlc__enc_dump(&b, "test.db", &e), 0);
	EXPECT_BYTES(&b, dump);
	dqlc__wbuf_reset(&b);
	ck_assert_int_eq(dqlc__enc_query_sql(&b, 5, "SELECT ?", &null, 1, 0, &e), 0);
	EXPECT_BYTES(&b, qsql);
	dqlc__wbuf_reset(&b);
	ck_assert_int_eq(dqlc__enc_exec_sql(&b, 0, "", NULL, 0, 0, &e), 0);
	EXPECT_BYTES(&b, esql0);
	dqlc__wbuf_free(&b);
}
END_TEST

START_TEST(test_enc_exec_query)
{
	static const uint8_t exec[] = {
	    4, 0, 0, 0, 5, 0, 0, 0,
	    1, 0, 0, 0, 2, 0, 0, 0,          /* db 1, stmt 2 */
	    2, 1, 3, 0, 0, 0, 0, 0,          /* 2 params: INTEGER, TEXT */
	    0x2a, 0, 0, 0, 0, 0, 0, 0,       /* 42 */
	    'h', 'i', 0, 0, 0, 0, 0, 0,      /* "hi" */
	};
	static const uint8_t query[] = {
	    1, 0, 0, 0, 6, 0, 0, 0,
	    0, 0, 0, 0, 7, 0, 0, 0,          /* no params: no tuple */
	};
	dqlc_value_t p[] = {DQLC_INT(42), DQLC_TEXT("hi")};
	dqlc__wbuf_t b;
	dqlc_error_t e;

	dirty_init(&b);
	ck_assert_int_eq(dqlc__enc_exec(&b, 1, 2, p, 2, 0, &e), 0);
	EXPECT_BYTES(&b, exec);
	dqlc__wbuf_reset(&b);
	ck_assert_int_eq(dqlc__enc_query(&b, 0, 7, NULL, 0, 0, &e), 0);
	EXPECT_BYTES(&b, query);
	dqlc__wbuf_free(&b);
}
END_TEST

/* Every param type in one EXEC_SQL, checked byte for byte. */
START_TEST(test_enc_all_param_types)
{
	static const uint8_t blob[] = {0xde, 0x00, 0xad};
	static const uint8_t exp[] = {
	    13, 0, 0, 0, 8, 0, 0, 0,
	    7, 0, 0, 0, 0, 0, 0, 0,                 /* db 7 */
	    'X', 0, 0, 0, 0, 0, 0, 0,               /* sql "X" */
	    8, 1, 2, 3, 4, 5, 1, 10,                /* 8 params; UNIXTIME sent as 1 */
	    11, 0, 0, 0, 0, 0, 0, 0,                /* BOOLEAN, padding */
	    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, /* INTEGER -1 */
	    0, 0, 0, 0, 0, 0, 0xf8, 0x3f,           /* FLOAT 1.5 */
	    'a', 'b', 'c', 0, 0, 0, 0, 0,           /* TEXT */
	    3, 0, 0, 0, 0, 0, 0, 0, 0xde, 0x00, 0xad, 0, 0, 0, 0, 0, /* BLOB */
	    0, 0, 0, 0, 0, 0, 0, 0,                 /* NULL */
	    0x00, 0xe1, 0xf5, 0x05, 0, 0, 0, 0,     /* UNIXTIME 100000000 */
	    '2', '0', '2', '4', 0, 0, 0, 0,         /* ISO8601 */
	    1, 0, 0, 0, 0, 0, 0, 0,                 /* BOOLEAN 5 -> 1 */
	};
	dqlc_value_t p[8];
	dqlc__wbuf_t b;
	dqlc_error_t e;

	p[0] = DQLC_INT(-1);
	p[1] = DQLC_FLOAT(1.5);
	p[2] = DQLC_TEXT("abc");
	p[3] = DQLC_BLOB(blob, 3);
	p[4] = DQLC_NULL;
	p[5] = DQLC_UNIXTIME(100000000);
	p[6] = DQLC_ISO8601("2024");
	p[7] = DQLC_BOOL(1);
	p[7].v.i = 5; /* any non-zero is true */
	dirty_init(&b);
	ck_assert_int_eq(dqlc__enc_exec_sql(&b, 7, "X", p, 8, 0, &e), 0);
	ck_assert_uint_eq(sizeof exp, 8 + 13 * 8);
	EXPECT_BYTES(&b, exp);
	dqlc__wbuf_free(&b);
}
END_TEST

/* The tuple header grows a word every 8 types (count byte + 7 fit the
 * first). */
START_TEST(test_enc_param_header_sizes)
{
	dqlc_value_t p[16];
	dqlc__wbuf_t b;
	dqlc_error_t e;
	size_t n, i;

	for (i = 0; i < N_ELEMS(p); i++)
		p[i] = DQLC_NULL;
	dirty_init(&b);
	for (n = 1; n <= 16; n++) {
		size_t hdr = (1 + n + 7) / 8 * 8;
		dqlc__wbuf_reset(&b);
		ck_assert_int_eq(dqlc__enc_exec(&b, 0, 0, p, n, 0, &e), 0);
		ck_assert_uint_eq(b.len, 8 + 8 + hdr + 8 * n);
		ck_assert_uint_eq(b.data[8 + 8], n);
		for (i = 0; i < n; i++)
			ck_assert_uint_eq(b.data[8 + 8 + 1 + i], DQLC_TYPE_NULL);
		for (i = 1 + n; i < hdr; i++)
			ck_assert_uint_eq(b.data[8 + 8 + i], 0);
	}
	dqlc__wbuf_free(&b);
}
END_TEST

START_TEST(test_enc_255_params)
{
	dqlc_value_t p[255], back[255];
	dqlc__wbuf_t b;
	dqlc_error_t e;
	size_t i;

	for (i = 0; i < 255; i++)
		p[i] = DQLC_INT((int64_t)i * 1000 - 7);
	dirty_init(&b);
	ck_assert_int_eq(dqlc__enc_exec(&b, 1, 1, p, 255, 0, &e), 0);
	ck_assert_uint_eq(b.data[5], 0); /* schema 0 */
	ck_assert_uint_eq(b.data[16], 255);
	ck_assert_uint_eq(b.len, 8 + 8 + 256 + 255 * 8);
	ck_assert_uint_eq(parse_params(b.data + 16, b.len - 16, 0, back, 255), 255);
	for (i = 0; i < 255; i++)
		ck_assert(same_value(&p[i], &back[i]));
	dqlc__wbuf_free(&b);
}
END_TEST

START_TEST(test_enc_many_params_schema1)
{
	enum { N = 300 };
	dqlc_value_t *p = calloc(N, sizeof *p), *back = calloc(N, sizeof *back);
	dqlc__wbuf_t b;
	dqlc_error_t e;
	size_t i, before;
	int rc;

	ck_assert_ptr_nonnull(p);
	ck_assert_ptr_nonnull(back);
	for (i = 0; i < N; i++)
		p[i] = i % 2 ? DQLC_TEXT("v") : DQLC_INT((int64_t)i);
	dirty_init(&b);

	/* Without SCHEMA1: refused, naming the server limit, buffer untouched. */
	ck_assert_int_eq(dqlc__enc_leader(&b, &e), 0);
	before = b.len;
	rc = dqlc__enc_exec_sql(&b, 0, "SELECT 1", p, N, 0, &e);
	EXPECT_ERR(rc, e, DQLC_EINVAL,
		   "more than 255 parameters needs a dqlite server >= 1.12 (this server speaks "
		   "the 1.11 protocol)");
	ck_assert_uint_eq(b.len, before);
	rc = dqlc__enc_query(&b, 0, 0, p, 256, DQLC__FEAT_UNKNOWN_REQ, &e);
	EXPECT_ERR(rc, e, DQLC_EINVAL, "256 parameters");
	ck_assert_uint_eq(b.len, before);

	/* With SCHEMA1: header byte 5 = 1, uint32 count. */
	dqlc__wbuf_reset(&b);
	ck_assert_int_eq(dqlc__enc_query(&b, 2, 3, p, N, DQLC__FEAT_SCHEMA1, &e), 0);
	ck_assert_uint_eq(b.data[4], DQLC__REQ_QUERY);
	ck_assert_uint_eq(b.data[5], 1);
	ck_assert_uint_eq(b.data[16], N & 0xff);
	ck_assert_uint_eq(b.data[17], N >> 8);
	ck_assert_uint_eq(b.data[18], 0);
	ck_assert_uint_eq(b.data[19], 0);
	ck_assert_uint_eq(parse_params(b.data + 16, b.len - 16, 1, back, N), N);
	for (i = 0; i < N; i++)
		ck_assert(same_value(&p[i], &back[i]));
	ck_assert_uint_eq(le64(b.data) & 0xffffffffu, (b.len - 8) / 8);

	/* 255 stays schema 0 even when SCHEMA1 is available. */
	dqlc__wbuf_reset(&b);
	ck_assert_int_eq(dqlc__enc_exec(&b, 0, 0, p, 255, DQLC__FEAT_SCHEMA1, &e), 0);
	ck_assert_uint_eq(b.data[5], 0);
	ck_assert_uint_eq(b.data[16], 255);
	dqlc__wbuf_free(&b);
	free(p);
	free(back);
}
END_TEST

/* Encode params of every type, decode them with the test-only parser. */
START_TEST(test_params_round_trip)
{
	static const char nulblob[] = {'a', 0, 'b', 0};
	dqlc_value_t p[] = {
	    DQLC_INT(INT64_MIN), DQLC_INT(INT64_MAX), DQLC_INT(0),
	    DQLC_FLOAT(NAN),     DQLC_FLOAT(INFINITY), DQLC_FLOAT(-INFINITY),
	    DQLC_FLOAT(-0.0),    DQLC_FLOAT(1e-310),  DQLC_TEXT(""),
	    DQLC_TEXT("1234567"), DQLC_TEXT("12345678"), DQLC_BLOB("", 0),
	    DQLC_BLOB(nulblob, 4), DQLC_BLOB("12345678", 8), DQLC_BLOB("123456789", 9),
	    DQLC_NULL,           DQLC_ISO8601(""),    DQLC_ISO8601("2024-01-02 03:04:05"),
	    DQLC_BOOL(0),        DQLC_BOOL(1),
	};
	dqlc_value_t back[N_ELEMS(p)];
	dqlc__wbuf_t b;
	dqlc_error_t e;
	size_t i;

	dirty_init(&b);
	ck_assert_int_eq(dqlc__enc_exec(&b, 0, 0, p, N_ELEMS(p), 0, &e), 0);
	ck_assert_uint_eq(parse_params(b.data + 16, b.len - 16, 0, back, N_ELEMS(p)),
			  N_ELEMS(p));
	for (i = 0; i < N_ELEMS(p); i++)
		ck_assert_msg(same_value(&p[i], &back[i]), "param %zu differs", i);
	ck_assert(isnan(back[3].v.f));
	ck_assert(signbit(back[6].v.f));
	dqlc__wbuf_free(&b);
}
END_TEST

START_TEST(test_enc_refusals)
{
	static const uint8_t word[8] = {0};
	static const uint8_t one[8] = {1, 0, 0, 0, 0, 0, 0, 0};
	dqlc_value_t bad[] = {DQLC_TEXTN("a\0b", 3)};
	dqlc_value_t badtype[] = {DQLC_INT(1), DQLC_INT(2)};
	dqlc_value_t nullp[] = {DQLC_BLOB(NULL, 0)};
	dqlc__wbuf_t b;
	dqlc_error_t e;
	size_t before;
	int rc;

	dirty_init(&b);
	ck_assert_int_eq(dqlc__enc_leader(&b, &e), 0);
	before = b.len;

#define REFUSE(call, sub)                                      \
	do {                                                   \
		rc = (call);                                   \
		EXPECT_ERR(rc, e, DQLC_EINVAL, sub);           \
		ck_assert_uint_eq(b.len, before);              \
	} while (0)

	REFUSE(dqlc__enc_heartbeat(&b, 1, 0, &e), "HEARTBEAT is not implemented");
	REFUSE(dqlc__enc_heartbeat(&b, 1, DQLC__FEAT_SCHEMA1, &e), "wedges the connection");
	REFUSE(dqlc__enc_connect(&b, 1, "127.0.0.1:9001", &e), "clients must not send it");
	REFUSE(dqlc__enc_describe(&b, 1, &e), "DESCRIBE: format 1 is not 0");
	REFUSE(dqlc__enc_cluster(&b, 2, &e), "CLUSTER: format 2 is not 0");
	REFUSE(dqlc__enc_assign(&b, 1, 3, &e), "ASSIGN: role 3");
	REFUSE(dqlc__enc_assign(&b, 1, -1, &e), "ASSIGN: role -1");
	REFUSE(dqlc__enc_open(&b, NULL, 0, "volatile", &e), "OPEN: database name is NULL");
	REFUSE(dqlc__enc_open(&b, "x", 0, NULL, &e), "OPEN: vfs name is NULL");
	REFUSE(dqlc__enc_prepare(&b, 0, NULL, false, 0, &e), "PREPARE: SQL is NULL");
	REFUSE(dqlc__enc_exec_sql(&b, 0, NULL, NULL, 0, 0, &e), "EXEC_SQL: SQL is NULL");
	REFUSE(dqlc__enc_query_sql(&b, 0, NULL, NULL, 0, 0, &e), "QUERY_SQL: SQL is NULL");
	REFUSE(dqlc__enc_dump(&b, NULL, &e), "DUMP: database name is NULL");
	REFUSE(dqlc__enc_add(&b, 1, NULL, &e), "ADD: address is NULL");
	REFUSE(dqlc__enc_exec(&b, 0, 0, bad, 1, 0, &e),
	       "parameter 1: TEXT contains a NUL byte at position 1");
	badtype[1].type = 6;
	REFUSE(dqlc__enc_query(&b, 0, 0, badtype, 2, 0, &e),
	       "parameter 2 has unknown value type 6");
	badtype[1].type = 0;
	REFUSE(dqlc__enc_exec_sql(&b, 0, "x", badtype, 2, 0, &e), "unknown value type 0");
	REFUSE(dqlc__enc_exec(&b, 0, 0, NULL, 2, 0, &e), "2 parameters but params is NULL");
	nullp[0].v.s.p = NULL;
	nullp[0].v.s.n = 4;
	REFUSE(dqlc__enc_exec(&b, 0, 0, nullp, 1, 0, &e), "BLOB of 4 bytes with a NULL pointer");
	REFUSE(dqlc__enc_raw(&b, 20, word, 8, &e), "unknown request type 20");
	REFUSE(dqlc__enc_raw(&b, 255, word, 8, &e), "unknown request type 255");
	REFUSE(dqlc__enc_raw(&b, DQLC__REQ_HEARTBEAT, word, 8, &e), "type 2 (HEARTBEAT)");
	REFUSE(dqlc__enc_raw(&b, DQLC__REQ_CONNECT, word, 8, &e), "type 11 (CONNECT)");
	REFUSE(dqlc__enc_raw(&b, DQLC__REQ_LEADER, word, 0, &e), "body length 0");
	REFUSE(dqlc__enc_raw(&b, DQLC__REQ_LEADER, word, 4, &e), "body length 4");
	REFUSE(dqlc__enc_raw(&b, DQLC__REQ_LEADER, NULL, 8, &e), "NULL body");
	REFUSE(dqlc__enc_raw(&b, DQLC__REQ_DESCRIBE, one, 8, &e), "DESCRIBE format 1");
	REFUSE(dqlc__enc_leader(NULL, &e), "NULL write buffer");
#undef REFUSE
	/* err may be NULL: the code still comes back. */
	ck_assert_int_eq(dqlc__enc_describe(&b, 1, NULL), DQLC_EINVAL);
	ck_assert_uint_eq(b.len, before);
	dqlc__wbuf_free(&b);
}
END_TEST

START_TEST(test_enc_raw)
{
	static const uint8_t body[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
	static const uint8_t exp[] = {2, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8,
				      9, 10, 11, 12, 13, 14, 15, 16};
	dqlc__wbuf_t b;
	dqlc_error_t e;

	dirty_init(&b);
	/* trailing words are ignored by the server (PROTOCOL.md §1.2) */
	ck_assert_int_eq(dqlc__enc_raw(&b, DQLC__REQ_LEADER, body, 16, &e), 0);
	EXPECT_BYTES(&b, exp);
	dqlc__wbuf_free(&b);
}
END_TEST

/* Messages accumulate in one buffer; growth keeps earlier ones intact. */
START_TEST(test_wbuf_growth)
{
	dqlc__wbuf_t b;
	dqlc_error_t e;
	size_t i;
	char sql[1000];

	dqlc__wbuf_init(&b);
	ck_assert_ptr_null(b.data);
	memset(sql, 'x', sizeof sql - 1);
	sql[sizeof sql - 1] = '\0';
	for (i = 0; i < 100; i++)
		ck_assert_int_eq(dqlc__enc_exec_sql(&b, i, sql, NULL, 0, 0, &e), 0);
	ck_assert_uint_eq(b.len, 100 * (8 + 8 + 1000));
	for (i = 0; i < 100; i++) {
		const uint8_t *m = b.data + i * 1016;
		ck_assert_uint_eq(le64(m), 126ull | (8ull << 32));
		ck_assert_uint_eq(le64(m + 8), i);
		ck_assert_uint_eq(m[8 + 8 + 999], 0);
	}
	dqlc__wbuf_reset(&b);
	ck_assert_uint_eq(b.len, 0);
	ck_assert_ptr_nonnull(b.data);
	dqlc__wbuf_free(&b);
	ck_assert_ptr_null(b.data);
	ck_assert_uint_eq(b.cap, 0);
}
END_TEST

/* ---- Response vectors -------------------------------------------------- */

START_TEST(test_dec_server_doc_example)
{
	/* PROTOCOL.md §1.4, server side, byte for byte. */
	static const uint8_t msg[] = {
	    0x03, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00,
	    0xbe, 0x55, 0x31, 0x8c, 0x85, 0x71, 0xc1, 0x2d,
	    0x31, 0x32, 0x37, 0x2e, 0x30, 0x2e, 0x30, 0x2e,
	    0x31, 0x3a, 0x31, 0x39, 0x30, 0x30, 0x31, 0x00,
	};
	dqlc__hdr_t hdr;
	dqlc_error_t e;
	uint64_t id = 0;
	const char *addr = NULL;

	ck_assert_int_eq(dqlc__wire_header(msg, DQLC__WIRE_MAX_MSG_DEFAULT, &hdr, &e), 0);
	ck_assert_uint_eq(hdr.words, 3);
	ck_assert_uint_eq(hdr.type, DQLC__RESP_SERVER);
	ck_assert_int_eq(dqlc__dec_server(msg + 8, hdr.words * 8, &id, &addr, &e), 0);
	ck_assert_uint_eq(id, 0x2dc171858c3155beull);
	ck_assert_str_eq(addr, "127.0.0.1:19001");
	ck_assert_ptr_eq(addr, (const char *)msg + 16);
}
END_TEST

START_TEST(test_dec_small_responses)
{
	static const uint8_t failure[] = {0x0a, 0x28, 0, 0, 0, 0, 0, 0, 'n', 'o', 't', ' ',
					  'l', 'e', 'a', 'd', 'e', 'r', 0, 0, 0, 0, 0, 0};
	static const uint8_t unknown[] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
	static const uint8_t legacy[] = {'1', '.', '2', '.', '3', '.', '4', ':', '5', 0, 0, 0, 0, 0, 0, 0};
	static const uint8_t welcome[] = {0x98, 0x3a, 0, 0, 0, 0, 0, 0};
	static const uint8_t db[] = {0, 0, 0, 0, 0, 0, 0, 0};
	static const uint8_t stmt[] = {1, 0, 0, 0, 5, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0};
	static const uint8_t stmt1[] = {0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
					9, 0, 0, 0, 0, 0, 0, 0};
	static const uint8_t result[] = {0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
					 2, 0, 0, 0, 0, 0, 0, 0};
	static const uint8_t empty[] = {0, 0, 0, 0, 0, 0, 0, 0};
	static const uint8_t meta[] = {3, 0, 0, 0, 0, 0, 0, 0, 0x10, 0, 0, 0, 0, 0, 0, 0};
	dqlc_error_t e;
	uint64_t a = 99, c = 99, d = 99;
	uint32_t x = 99, y = 99;
	const char *s = NULL;

	ck_assert_int_eq(dqlc__dec_failure(failure, sizeof failure, &a, &s, &e), 0);
	ck_assert_uint_eq(a, 10250);
	ck_assert_str_eq(s, "not leader");
	ck_assert_int_eq(dqlc__dec_server(unknown, sizeof unknown, &a, &s, &e), 0);
	ck_assert_uint_eq(a, 0);
	ck_assert_str_eq(s, "");
	ck_assert_int_eq(dqlc__dec_server_legacy(legacy, sizeof legacy, &s, &e), 0);
	ck_assert_str_eq(s, "1.2.3.4:5");
	ck_assert_int_eq(dqlc__dec_welcome(welcome, sizeof welcome, &a, &e), 0);
	ck_assert_uint_eq(a, 15000);
	ck_assert_int_eq(dqlc__dec_db(db, sizeof db, &x, &e), 0);
	ck_assert_uint_eq(x, 0);
	ck_assert_int_eq(dqlc__dec_stmt(stmt, sizeof stmt, 0, &x, &y, &a, &c, &e), 0);
	ck_assert_uint_eq(x, 1);
	ck_assert_uint_eq(y, 5);
	ck_assert_uint_eq(a, 3);
	ck_assert_uint_eq(c, 0);
	ck_assert_int_eq(dqlc__dec_stmt(stmt1, sizeof stmt1, 1, &x, &y, &a, &c, &e), 0);
	ck_assert_uint_eq(x, 0);
	ck_assert_uint_eq(y, 2);
	ck_assert_uint_eq(a, 0);
	ck_assert_uint_eq(c, 9);
	ck_assert_int_eq(dqlc__dec_result(result, sizeof result, &a, &c, &e), 0);
	ck_assert_int_eq((int64_t)a, -2);
	ck_assert_uint_eq(c, 2);
	ck_assert_int_eq(dqlc__dec_empty(empty, sizeof empty, &e), 0);
	ck_assert_int_eq(dqlc__dec_metadata(meta, sizeof meta, &c, &d, &e), 0);
	ck_assert_uint_eq(c, 3);
	ck_assert_uint_eq(d, 16);
	/* NULL outputs are allowed */
	ck_assert_int_eq(dqlc__dec_stmt(stmt, sizeof stmt, 0, NULL, NULL, NULL, NULL, &e), 0);
	ck_assert_int_eq(dqlc__dec_failure(failure, sizeof failure, NULL, NULL, NULL), 0);
}
END_TEST

START_TEST(test_dec_servers)
{
	static const uint8_t f0[] = {
	    2, 0, 0, 0, 0, 0, 0, 0,
	    1, 0, 0, 0, 0, 0, 0, 0, 'a', ':', '1', 0, 0, 0, 0, 0,
	    2, 0, 0, 0, 0, 0, 0, 0, 'b', 'b', 'b', 'b', 'b', 'b', ':', '2', 0, 0, 0, 0, 0, 0, 0, 0,
	};
	static const uint8_t f1[] = {
	    2, 0, 0, 0, 0, 0, 0, 0,
	    1, 0, 0, 0, 0, 0, 0, 0, 'a', 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	    2, 0, 0, 0, 0, 0, 0, 0, 'b', 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0,
	};
	static const uint8_t none[] = {0, 0, 0, 0, 0, 0, 0, 0};
	dqlc__node_t *nodes = NULL;
	size_t n = 99;
	dqlc_error_t e;

	ck_assert_int_eq(dqlc__dec_servers(f0, sizeof f0, 0, &nodes, &n, &e), 0);
	ck_assert_uint_eq(n, 2);
	ck_assert_uint_eq(nodes[0].id, 1);
	ck_assert_str_eq(nodes[0].address, "a:1");
	ck_assert_uint_eq(nodes[0].role, 0);
	ck_assert_uint_eq(nodes[1].id, 2);
	ck_assert_str_eq(nodes[1].address, "bbbbbb:2");
	free(nodes);
	ck_assert_int_eq(dqlc__dec_servers(f1, sizeof f1, 1, &nodes, &n, &e), 0);
	ck_assert_uint_eq(n, 2);
	ck_assert_str_eq(nodes[0].address, "a");
	ck_assert_uint_eq(nodes[0].role, DQLC__ROLE_VOTER);
	ck_assert_str_eq(nodes[1].address, "b");
	ck_assert_uint_eq(nodes[1].role, DQLC__ROLE_SPARE);
	free(nodes);
	/* the same bytes read with the wrong format do not decode */
	ck_assert_int_eq(dqlc__dec_servers(f1, sizeof f1, 0, &nodes, &n, &e), DQLC_EPROTO);
	ck_assert_int_eq(dqlc__dec_servers(f0, sizeof f0, 1, &nodes, &n, &e), DQLC_EPROTO);
	ck_assert_int_eq(dqlc__dec_servers(none, sizeof none, 0, &nodes, &n, &e), 0);
	ck_assert_uint_eq(n, 0);
	ck_assert_ptr_null(nodes);
	ck_assert_int_eq(dqlc__dec_servers(none, sizeof none, 2, &nodes, &n, &e), DQLC_EINVAL);
}
END_TEST

START_TEST(test_dec_files)
{
	static const uint8_t body[] = {
	    2, 0, 0, 0, 0, 0, 0, 0,
	    'd', 'b', 0, 0, 0, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0,
	    1, 2, 3, 4, 5, 6, 7, 8,
	    'd', 'b', '-', 'w', 'a', 'l', 0, 0, 3, 0, 0, 0, 0, 0, 0, 0,
	    9, 9, 9, 0, 0, 0, 0, 0,
	};
	dqlc__file_t *f = NULL;
	size_t n = 0;
	dqlc_error_t e;

	ck_assert_int_eq(dqlc__dec_files(body, sizeof body, &f, &n, &e), 0);
	ck_assert_uint_eq(n, 2);
	ck_assert_str_eq(f[0].name, "db");
	ck_assert_uint_eq(f[0].size, 8);
	ck_assert_ptr_eq(f[0].data, body + 24);
	ck_assert_str_eq(f[1].name, "db-wal");
	ck_assert_uint_eq(f[1].size, 3);
	ck_assert_ptr_eq(f[1].data, body + 48);
	free(f);
}
END_TEST

/* ---- ROWS -------------------------------------------------------------- */

START_TEST(test_rows_doc_example)
{
	/* PROTOCOL.md §3.3, byte for byte. */
	static const uint8_t msg[] = {
	    0x09, 0x00, 0x00, 0x00, 0x07, 0x00, 0x00, 0x00,
	    0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	    0x61, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	    0x62, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	    0x63, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	    0x31, 0x0b, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	    0x2a, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	    0x68, 0x69, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	    0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	};
	dqlc__hdr_t hdr;
	const uint8_t *body;
	size_t used;
	dqlc__rows_t rows;
	bool more = true;
	dqlc_error_t e;

	ck_assert_int_eq(dqlc__wire_frame(msg, sizeof msg, 1024, &hdr, &body, &used, &e), 0);
	ck_assert_uint_eq(hdr.type, DQLC__RESP_ROWS);
	ck_assert_uint_eq(used, sizeof msg);
	dqlc__rows_init(&rows);
	ck_assert_int_eq(dqlc__dec_rows(body, hdr.words * 8, &rows, &more, &e), 0);
	ck_assert(!more);
	ck_assert_uint_eq(rows.ncols, 3);
	ck_assert_str_eq(rows.names[0], "a");
	ck_assert_str_eq(rows.names[1], "b");
	ck_assert_str_eq(rows.names[2], "c");
	ck_assert_uint_eq(rows.nrows, 1);
	ck_assert_int_eq(rows.vals[0].type, DQLC_TYPE_INTEGER);
	ck_assert_int_eq(rows.vals[0].v.i, 42);
	ck_assert_int_eq(rows.vals[1].type, DQLC_TYPE_TEXT);
	ck_assert_uint_eq(rows.vals[1].v.s.n, 2);
	ck_assert_str_eq(rows.vals[1].v.s.p, "hi");
	ck_assert_int_eq(rows.vals[2].type, DQLC_TYPE_BOOLEAN);
	ck_assert_int_eq(rows.vals[2].v.i, 1);
	ck_assert_uint_eq(rows.batches, 1);
	dqlc__rows_free(&rows);
	ck_assert_ptr_null(rows.vals);
	ck_assert_ptr_null(rows.names);
}
END_TEST

static const char *const names3[] = {"i", "f", "x"};

/* Every value type through the test encoder and dqlc__dec_rows. */
START_TEST(test_rows_round_trip)
{
	static const char nulblob[] = {0, 'x', 0, 0, 'y', 0, 0, 0, 0};
	static const char *const names[] = {"a", "bcdefgh", "12345678", ""};
	dqlc_value_t v[] = {
	    DQLC_INT(INT64_MIN),     DQLC_INT(INT64_MAX),     DQLC_INT(-1),
	    DQLC_INT(0),             DQLC_FLOAT(NAN),         DQLC_FLOAT(INFINITY),
	    DQLC_FLOAT(-INFINITY),   DQLC_FLOAT(-0.0),        DQLC_FLOAT(3.14159),
	    DQLC_FLOAT(DBL_MIN / 4), DQLC_TEXT(""),           DQLC_TEXT("1234567"),
	    DQLC_TEXT("12345678"),   DQLC_TEXT("héllo wörld"), DQLC_BLOB("", 0),
	    DQLC_BLOB(nulblob, 9),   DQLC_BLOB(nulblob, 8),   DQLC_BLOB(nulblob, 1),
	    DQLC_NULL,               DQLC_UNIXTIME(-86400),   DQLC_UNIXTIME(1700000000),
	    DQLC_ISO8601(""),        DQLC_ISO8601("2024-01-02T03:04:05Z"),
	    DQLC_BOOL(0),            DQLC_BOOL(1),            DQLC_NULL,
	    DQLC_BLOB("\0", 1),      DQLC_TEXT("end"),
	};
	/* 28 values = 7 rows of 4 columns */
	static tb_t t;
	dqlc__rows_t rows;
	bool more = true;
	dqlc_error_t e;
	size_t i;

	ck_assert_uint_eq(N_ELEMS(v), 28);
	t.len = 0;
	tb_rows(&t, 4, names, v, 7, DQLC__ROWS_DONE);
	dqlc__rows_init(&rows);
	ck_assert_int_eq(dqlc__dec_rows(t.p, t.len, &rows, &more, &e), 0);
	ck_assert(!more);
	ck_assert_uint_eq(rows.ncols, 4);
	ck_assert_uint_eq(rows.nrows, 7);
	for (i = 0; i < 4; i++)
		ck_assert_str_eq(rows.names[i], names[i]);
	for (i = 0; i < N_ELEMS(v); i++)
		ck_assert_msg(same_value(&v[i], &rows.vals[i]), "value %zu (type %d) differs", i,
			      v[i].type);
	/* values point into the body, and text is NUL-terminated there */
	ck_assert(rows.vals[13].v.s.p > (const char *)t.p &&
		  rows.vals[13].v.s.p < (const char *)t.p + t.len);
	ck_assert_int_eq(rows.vals[13].v.s.p[rows.vals[13].v.s.n], 0);
	ck_assert(isnan(rows.vals[4].v.f));
	ck_assert(isinf(rows.vals[5].v.f) && rows.vals[5].v.f > 0);
	ck_assert(isinf(rows.vals[6].v.f) && rows.vals[6].v.f < 0);
	ck_assert(signbit(rows.vals[7].v.f));
	dqlc__rows_free(&rows);
}
END_TEST

/* The server sends BOOLEAN as the raw integer; we expose 0/1. */
START_TEST(test_rows_boolean_normalised)
{
	static const char *const n1[] = {"b"};
	dqlc_value_t v[] = {DQLC_BOOL(1), DQLC_BOOL(0)};
	static tb_t t;
	dqlc__rows_t rows;
	bool more;
	dqlc_error_t e;

	v[0].v.i = 7;
	t.len = 0;
	tb_rows(&t, 1, n1, v, 2, DQLC__ROWS_DONE);
	dqlc__rows_init(&rows);
	ck_assert_int_eq(dqlc__dec_rows(t.p, t.len, &rows, &more, &e), 0);
	ck_assert_int_eq(rows.vals[0].v.i, 1);
	ck_assert_int_eq(rows.vals[1].v.i, 0);
	dqlc__rows_free(&rows);
}
END_TEST

START_TEST(test_rows_multi_batch)
{
	static tb_t t1, t2, t3, bad;
	dqlc_value_t v[3 * 4];
	dqlc__rows_t rows;
	bool more = false;
	dqlc_error_t e;
	size_t i;
	int rc;

	for (i = 0; i < N_ELEMS(v); i++) {
		v[i] = i % 3 == 0 ? DQLC_INT((int64_t)i) : i % 3 == 1 ? DQLC_FLOAT(i * 0.5)
								 : DQLC_TEXT("t");
	}
	t1.len = t2.len = t3.len = bad.len = 0;
	tb_rows(&t1, 3, names3, v, 2, DQLC__ROWS_PART);
	tb_rows(&t2, 3, names3, v + 6, 1, DQLC__ROWS_PART);
	tb_rows(&t3, 3, names3, v + 9, 1, DQLC__ROWS_DONE);
	tb_rows(&bad, 2, names3, v, 0, DQLC__ROWS_DONE);

	dqlc__rows_init(&rows);
	ck_assert_int_eq(dqlc__dec_rows(t1.p, t1.len, &rows, &more, &e), 0);
	ck_assert(more);
	ck_assert_uint_eq(rows.nrows, 2);
	ck_assert_ptr_eq(rows.names[0], (const char *)t1.p + 8);
	ck_assert_int_eq(dqlc__dec_rows(t2.p, t2.len, &rows, &more, &e), 0);
	ck_assert(more);
	ck_assert_uint_eq(rows.nrows, 3);
	/* a batch with another column count is refused, rows stay as they were */
	rc = dqlc__dec_rows(bad.p, bad.len, &rows, &more, &e);
	EXPECT_ERR(rc, e, DQLC_EPROTO, "batch 2 has 2 columns (offset 0) but the first batch had 3");
	ck_assert_uint_eq(rows.nrows, 3);
	ck_assert(more);
	ck_assert_int_eq(dqlc__dec_rows(t3.p, t3.len, &rows, &more, &e), 0);
	ck_assert(!more);
	ck_assert_uint_eq(rows.nrows, 4);
	ck_assert_uint_eq(rows.batches, 3);
	/* names still point into the first batch's body */
	ck_assert_ptr_eq(rows.names[0], (const char *)t1.p + 8);
	for (i = 0; i < N_ELEMS(v); i++)
		ck_assert_msg(same_value(&v[i], &rows.vals[i]), "value %zu", i);

	/* cursor style: drop values, keep columns */
	dqlc__rows_clear_values(&rows);
	ck_assert_uint_eq(rows.nrows, 0);
	ck_assert_uint_eq(rows.ncols, 3);
	ck_assert_int_eq(dqlc__dec_rows(t3.p, t3.len, &rows, &more, &e), 0);
	ck_assert_uint_eq(rows.nrows, 1);
	ck_assert(same_value(&v[9], &rows.vals[0]));
	dqlc__rows_free(&rows);
}
END_TEST

/* A failing batch rolls back its own rows and, for a first batch, leaves
 * the columns unset so the result stays consistent. */
START_TEST(test_rows_error_rollback)
{
	static tb_t t;
	dqlc_value_t v[6] = {DQLC_INT(1), DQLC_INT(2), DQLC_INT(3),
			     DQLC_INT(4), DQLC_INT(5), DQLC_INT(6)};
	dqlc__rows_t rows;
	bool more = false;
	dqlc_error_t e;
	int rc;

	t.len = 0;
	tb_rows(&t, 3, names3, v, 2, DQLC__ROWS_DONE);
	t.p[t.len - 8 - 24 - 8] = 0x17; /* row 1 header: col 0 -> 7 */
	dqlc__rows_init(&rows);
	rc = dqlc__dec_rows(t.p, t.len, &rows, &more, &e);
	EXPECT_ERR(rc, e, DQLC_EPROTO, "unknown value type 7 in row 1 column 0 at offset 64");
	ck_assert_uint_eq(rows.nrows, 0);
	ck_assert_uint_eq(rows.ncols, 0);
	ck_assert_ptr_null(rows.names);
	ck_assert_uint_eq(rows.batches, 0);
	dqlc__rows_free(&rows);
}
END_TEST

static void check_wide(size_t ncols)
{
	static tb_t t;
	static const char *names[40];
	static char namebuf[40][8];
	dqlc_value_t v[2 * 40];
	dqlc__rows_t rows;
	bool more;
	dqlc_error_t e;
	size_t i;

	for (i = 0; i < ncols; i++) {
		snprintf(namebuf[i], sizeof namebuf[i], "c%zu", i);
		names[i] = namebuf[i];
	}
	for (i = 0; i < 2 * ncols; i++)
		v[i] = i % 2 ? DQLC_TEXT(namebuf[i % ncols]) : DQLC_INT((int64_t)i);
	v[2 * ncols - 1] = DQLC_BOOL(1); /* type 11 in the last (high or low) nibble */
	t.len = 0;
	tb_rows(&t, ncols, names, v, 2, DQLC__ROWS_DONE);
	dqlc__rows_init(&rows);
	ck_assert_int_eq(dqlc__dec_rows(t.p, t.len, &rows, &more, &e), 0);
	ck_assert_uint_eq(rows.ncols, ncols);
	ck_assert_uint_eq(rows.nrows, 2);
	for (i = 0; i < 2 * ncols; i++)
		ck_assert_msg(same_value(&v[i], &rows.vals[i]), "%zu cols: value %zu", ncols, i);
	ck_assert_str_eq(rows.names[ncols - 1], namebuf[ncols - 1]);
	dqlc__rows_free(&rows);
}

START_TEST(test_rows_wide)
{
	check_wide(1);
	check_wide(15);
	check_wide(16);
	check_wide(17); /* two-word row header */
	check_wide(32);
	check_wide(33);
}
END_TEST

/* Seventeen columns: the row header is two words, byte-exact. */
START_TEST(test_rows_17_columns_layout)
{
	static const char *const nm[17] = {"a", "b", "c", "d", "e", "f", "g", "h", "i",
					   "j", "k", "l", "m", "n", "o", "p", "q"};
	static tb_t t;
	dqlc_value_t v[17];
	dqlc__rows_t rows;
	bool more;
	dqlc_error_t e;
	size_t i, hdr_off = 8 + 17 * 8;

	for (i = 0; i < 17; i++)
		v[i] = DQLC_NULL;
	v[16] = DQLC_INT(5);
	t.len = 0;
	tb_rows(&t, 17, nm, v, 1, DQLC__ROWS_DONE);
	ck_assert_uint_eq(t.len, hdr_off + 16 + 17 * 8 + 8);
	ck_assert_uint_eq(t.p[hdr_off], 0x55);
	ck_assert_uint_eq(t.p[hdr_off + 8], 0x01); /* col 16: low nibble of byte 8 */
	dqlc__rows_init(&rows);
	ck_assert_int_eq(dqlc__dec_rows(t.p, t.len, &rows, &more, &e), 0);
	ck_assert_int_eq(rows.vals[16].type, DQLC_TYPE_INTEGER);
	ck_assert_int_eq(rows.vals[16].v.i, 5);
	ck_assert_int_eq(rows.vals[15].type, DQLC_TYPE_NULL);
	dqlc__rows_free(&rows);
}
END_TEST

START_TEST(test_rows_zero_columns_and_empty)
{
	static const uint8_t zero[] = {0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff,
				       0xff, 0xff, 0xff, 0xff};
	static tb_t t;
	dqlc__rows_t rows;
	bool more = true;
	dqlc_error_t e;

	dqlc__rows_init(&rows);
	ck_assert_int_eq(dqlc__dec_rows(zero, sizeof zero, &rows, &more, &e), 0);
	ck_assert(!more);
	ck_assert_uint_eq(rows.ncols, 0);
	ck_assert_uint_eq(rows.nrows, 0);
	dqlc__rows_free(&rows);

	/* columns but no rows */
	t.len = 0;
	tb_rows(&t, 3, names3, NULL, 0, DQLC__ROWS_DONE);
	dqlc__rows_init(&rows);
	ck_assert_int_eq(dqlc__dec_rows(t.p, t.len, &rows, &more, &e), 0);
	ck_assert_uint_eq(rows.ncols, 3);
	ck_assert_uint_eq(rows.nrows, 0);
	ck_assert_str_eq(rows.names[2], "x");
	dqlc__rows_free(&rows);
}
END_TEST

START_TEST(test_rows_max_rows)
{
	static tb_t t1, t2;
	dqlc_value_t v[9];
	dqlc__rows_t rows;
	bool more;
	dqlc_error_t e;
	size_t i;
	int rc;

	for (i = 0; i < 9; i++)
		v[i] = DQLC_INT((int64_t)i);
	t1.len = t2.len = 0;
	tb_rows(&t1, 3, names3, v, 2, DQLC__ROWS_PART);
	tb_rows(&t2, 3, names3, v, 2, DQLC__ROWS_DONE);
	dqlc__rows_init(&rows);
	rows.max_rows = 3;
	ck_assert_int_eq(dqlc__dec_rows(t1.p, t1.len, &rows, &more, &e), 0);
	rc = dqlc__dec_rows(t2.p, t2.len, &rows, &more, &e);
	EXPECT_ERR(rc, e, DQLC_EPROTO, "more than max_rows (3) rows");
	ck_assert_uint_eq(rows.nrows, 2);
	/* exactly max_rows is fine */
	rows.max_rows = 4;
	ck_assert_int_eq(dqlc__dec_rows(t2.p, t2.len, &rows, &more, &e), 0);
	ck_assert_uint_eq(rows.nrows, 4);
	dqlc__rows_free(&rows);
}
END_TEST

/* Many batches of many rows: vals grow geometrically, content survives. */
START_TEST(test_rows_large)
{
	static const char *const n2[] = {"id", "s"};
	static tb_t t;
	dqlc_value_t v[2 * 100];
	dqlc__rows_t rows;
	bool more = true;
	dqlc_error_t e;
	size_t i, batch, reallocs = 0, cap = 0;

	dqlc__rows_init(&rows);
	for (batch = 0; batch < 200; batch++) {
		for (i = 0; i < 100; i++) {
			v[2 * i] = DQLC_INT((int64_t)(batch * 100 + i));
			v[2 * i + 1] = DQLC_TEXT("twenty characters!!!");
		}
		t.len = 0;
		tb_rows(&t, 2, n2, v, 100, batch == 199 ? DQLC__ROWS_DONE : DQLC__ROWS_PART);
		ck_assert_int_eq(dqlc__dec_rows(t.p, t.len, &rows, &more, &e), 0);
		if (rows.cap != cap) {
			reallocs++;
			cap = rows.cap;
		}
		/* text from this batch points into this body */
		ck_assert_ptr_eq(rows.vals[rows.nrows * 2 - 1].v.s.p,
				 (const char *)t.p + t.len - 8 - 24);
	}
	ck_assert(!more);
	ck_assert_uint_eq(rows.nrows, 20000);
	ck_assert_uint_ge(rows.cap, 40000);
	ck_assert_uint_le(reallocs, 12); /* log2(40000/64) + 1 */
	for (i = 0; i < 20000; i++)
		ck_assert_int_eq(rows.vals[2 * i].v.i, (int64_t)i);
	dqlc__rows_free(&rows);
}
END_TEST

/* ---- Malformed input --------------------------------------------------- */

enum sel {
	S_FAILURE,
	S_SERVER,
	S_SERVERS0,
	S_SERVERS1,
	S_DB,
	S_STMT,
	S_RESULT,
	S_EMPTY,
	S_FILES,
	S_ROWS,
	S_WELCOME,
	S_LEGACY,
	S_METADATA,
};

/* Frame a whole message (header + body) and run the decoder `s` on it. */
static int decode_msg(enum sel s, const uint8_t *msg, size_t len, size_t max_body,
		      dqlc_error_t *e)
{
	dqlc__hdr_t h;
	const uint8_t *body;
	size_t used, blen, n;
	uint64_t a, b;
	uint32_t x, y;
	const char *str;
	dqlc__node_t *nodes = NULL;
	dqlc__file_t *files = NULL;
	dqlc__rows_t rows;
	bool more = false;
	int rc = dqlc__wire_frame(msg, len, max_body, &h, &body, &used, e);

	if (rc != 0)
		return rc;
	blen = h.words * 8;
	switch (s) {
	case S_FAILURE:
		return dqlc__dec_failure(body, blen, &a, &str, e);
	case S_SERVER:
		return dqlc__dec_server(body, blen, &a, &str, e);
	case S_LEGACY:
		return dqlc__dec_server_legacy(body, blen, &str, e);
	case S_WELCOME:
		return dqlc__dec_welcome(body, blen, &a, e);
	case S_SERVERS0:
	case S_SERVERS1:
		rc = dqlc__dec_servers(body, blen, s == S_SERVERS1, &nodes, &n, e);
		free(nodes);
		return rc;
	case S_DB:
		return dqlc__dec_db(body, blen, &x, e);
	case S_STMT:
		return dqlc__dec_stmt(body, blen, h.schema, &x, &y, &a, &b, e);
	case S_RESULT:
		return dqlc__dec_result(body, blen, &a, &b, e);
	case S_EMPTY:
		return dqlc__dec_empty(body, blen, e);
	case S_METADATA:
		return dqlc__dec_metadata(body, blen, &a, &b, e);
	case S_FILES:
		rc = dqlc__dec_files(body, blen, &files, &n, e);
		free(files);
		return rc;
	case S_ROWS:
		/* all the ROWS messages in the buffer, as one result */
		dqlc__rows_init(&rows);
		for (;;) {
			rc = dqlc__dec_rows(body, blen, &rows, &more, e);
			if (rc != 0 || !more)
				break;
			if (used == len) {
				e->code = rc = DQLC_EPROTO;
				snprintf(e->message, sizeof e->message,
					 "test: stream ends after a PART batch at offset %zu", used);
				break;
			}
			msg += used;
			len -= used;
			rc = dqlc__wire_frame(msg, len, max_body, &h, &body, &used, e);
			if (rc != 0)
				break;
			blen = h.words * 8;
		}
		dqlc__rows_free(&rows);
		return rc;
	}
	return -1;
}

#define FF8 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff
#define EE8 0xee, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee
#define Z8 0, 0, 0, 0, 0, 0, 0, 0
#define U64(x) (x), 0, 0, 0, 0, 0, 0, 0
#define HDR(words, type) (words), 0, 0, 0, (type), 0, 0, 0

struct bad_case {
	const char *name;
	enum sel sel;
	size_t max_body; /* 0: 1 MiB */
	uint8_t bytes[160];
	size_t len;
	const char *sub; /* substring of the message (all are DQLC_EPROTO) */
};

#define BYTES(...) {__VA_ARGS__}, sizeof((uint8_t[]){__VA_ARGS__})

static const struct bad_case bad_cases[] = {
    {"truncated header", S_SERVER, 0, BYTES(3, 0, 0, 0, 1), "truncated header: 5 of 8 bytes"},
    {"empty input", S_EMPTY, 0, BYTES(0), "truncated header: 1 of 8"},
    {"truncated body", S_SERVER, 0, BYTES(HDR(3, 1), U64(1), 'a', 0, 0, 0, 0, 0, 0, 0),
     "truncated SERVER body: 16 of 24 bytes"},
    {"word count past the buffer", S_EMPTY, SIZE_MAX / 2,
     BYTES(0xff, 0xff, 0xff, 0xff, 8, 0, 0, 0, Z8), "8 of 34359738360 bytes"},
    {"word count above the cap", S_ROWS, 0, BYTES(0x01, 0x00, 0x02, 0x00, 7, 0, 0, 0, Z8),
     "body of 1048584 bytes (131073 words) exceeds the limit of 1048576"},
    {"oversize message", S_FAILURE, 16, BYTES(HDR(3, 0), U64(1), 'x', 0, 0, 0, 0, 0, 0, 0, Z8),
     "FAILURE (type 0) body of 24 bytes (3 words) exceeds the limit of 16 bytes"},
    {"zero-word message", S_EMPTY, 0, BYTES(HDR(0, 8)), "empty body (0 words)"},
    {"missing text terminator", S_SERVER, 0,
     BYTES(HDR(2, 1), U64(1), 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'),
     "text address at offset 8 has no NUL terminator in the 8 bytes left"},
    {"failure message without NUL", S_FAILURE, 0,
     BYTES(HDR(3, 0), U64(1), 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'l',
	   'm', 'n', 'o', 'p'),
     "text message at offset 8 has no NUL terminator in the 16 bytes left"},
    {"bad text padding", S_SERVER, 0,
     BYTES(HDR(2, 1), U64(1), 'a', 'b', 0, 'X', 0, 0, 0, 0),
     "non-zero padding byte 0x58 at offset 11"},
    {"truncated failure", S_FAILURE, 0, BYTES(HDR(1, 0), U64(1)),
     "FAILURE: truncated message at offset 8: need 8 bytes, 0 left"},
    {"trailing bytes", S_RESULT, 0, BYTES(HDR(3, 6), U64(1), U64(2), U64(3)),
     "RESULT: 8 unexpected trailing bytes at offset 16"},
    {"short result", S_RESULT, 0, BYTES(HDR(1, 6), U64(1)),
     "RESULT: truncated rows affected at offset 8"},
    {"db padding", S_DB, 0, BYTES(HDR(1, 4), 0, 0, 0, 0, 1, 0, 0, 0),
     "DB: non-zero padding 0x00000001 at offset 4"},
    {"stmt unknown schema", S_STMT, 0, BYTES(2, 0, 0, 0, 5, 2, 0, 0, Z8, Z8),
     "STMT: unknown schema 2"},
    {"stmt with offset short", S_STMT, 0, BYTES(2, 0, 0, 0, 5, 1, 0, 0, Z8, Z8),
     "STMT_WITH_OFFSET: truncated tail offset at offset 16"},
    {"servers count past the body", S_SERVERS0, 0,
     BYTES(HDR(3, 3), U64(100), U64(1), 'a', 0, 0, 0, 0, 0, 0, 0),
     "node count 100 at offset 0 cannot fit in the 16 bytes left"},
    {"servers format 1 count", S_SERVERS1, 0,
     BYTES(HDR(3, 3), U64(1), U64(1), 'a', 0, 0, 0, 0, 0, 0, 0),
     "node count 1 at offset 0 cannot fit in the 16 bytes left (each entry takes at least 24)"},
    {"servers truncated node", S_SERVERS0, 0,
     BYTES(HDR(5, 3), U64(2), U64(1), 'a', 0, 0, 0, 0, 0, 0, 0, U64(2), 'b', 'b', 'b', 'b',
	   'b', 'b', 'b', 'b'),
     "text node address at offset 32 has no NUL"},
    {"files count past the body", S_FILES, 0, BYTES(HDR(3, 9), U64(2), 'a', 0, 0, 0, 0, 0, 0, 0, U64(0)),
     "file count 2 at offset 0 cannot fit in the 16 bytes left"},
    {"file size past the body", S_FILES, 0,
     BYTES(HDR(4, 9), U64(1), 'd', 'b', 0, 0, 0, 0, 0, 0, 0x00, 0x10, 0, 0, 0, 0, 0, 0, Z8),
     "file data of 4096 bytes at offset 24 runs past the end of the body (8 bytes left)"},
    {"file huge size", S_FILES, 0,
     BYTES(HDR(4, 9), U64(1), 'd', 0, 0, 0, 0, 0, 0, 0, FF8, Z8),
     "file data of 18446744073709551615 bytes"},
    {"file data padding", S_FILES, 0,
     BYTES(HDR(4, 9), U64(1), 'd', 0, 0, 0, 0, 0, 0, 0, U64(3), 1, 2, 3, 4, 0, 0, 0, 0),
     "file data at offset 24: non-zero padding byte 0x04 at offset 27"},
    {"rows column count beyond the body", S_ROWS, 0,
     BYTES(HDR(3, 7), 0xe8, 0x03, 0, 0, 0, 0, 0, 0, 'a', 0, 0, 0, 0, 0, 0, 0, FF8),
     "column count 1000 at offset 0 cannot fit in the 24-byte body"},
    {"rows column count one too many", S_ROWS, 0,
     BYTES(HDR(3, 7), U64(2), 'a', 0, 0, 0, 0, 0, 0, 0, FF8),
     "column count 2 at offset 0 cannot fit in the 24-byte body"},
    {"rows column count 2^64-1", S_ROWS, 0, BYTES(HDR(2, 7), FF8, FF8),
     "column count 18446744073709551615 at offset 0"},
    {"rows too short", S_ROWS, 0, BYTES(HDR(1, 7), FF8),
     "body ends at offset 8, too short for a column count"},
    {"rows unknown type code", S_ROWS, 0,
     BYTES(HDR(7, 7), U64(2), 'a', 0, 0, 0, 0, 0, 0, 0, 'b', 0, 0, 0, 0, 0, 0, 0, 0x71, 0, 0,
	   0, 0, 0, 0, 0, U64(1), U64(2), FF8),
     "unknown value type 7 in row 0 column 1 at offset 24"},
    {"rows type code 0", S_ROWS, 0,
     BYTES(HDR(5, 7), U64(1), 'a', 0, 0, 0, 0, 0, 0, 0, 0x00, 0, 0, 0, 0, 0, 0, 0, U64(1), FF8),
     "unknown value type 0 in row 0 column 0 at offset 16"},
    {"rows batch without a marker", S_ROWS, 0,
     BYTES(HDR(5, 7), U64(1), 'a', 0, 0, 0, 0, 0, 0, 0, 0x01, 0, 0, 0, 0, 0, 0, 0, U64(1),
	   0x01, 0, 0, 0, 0, 0, 0, 0),
     "bad end marker 0x0000000000000001 at offset 32"},
    {"rows row too short for its columns", S_ROWS, 0,
     BYTES(HDR(6, 7), U64(2), 'a', 0, 0, 0, 0, 0, 0, 0, 'b', 0, 0, 0, 0, 0, 0, 0, 0x11, 0, 0,
	   0, 0, 0, 0, 0, U64(1), FF8),
     "no DONE/PART marker at offset 24: the 24 bytes left are too few for row 0 (at least "
     "24 bytes) and a marker"},
    {"rows ends right after a row", S_ROWS, 0,
     BYTES(HDR(6, 7), U64(1), 'a', 0, 0, 0, 0, 0, 0, 0, 0x01, 0, 0, 0, 0, 0, 0, 0, U64(1),
	   0x01, 0, 0, 0, 0, 0, 0, 0, U64(2)),
     "no DONE/PART marker at offset 32: the 16 bytes left are too few for row 1 (at least "
     "16 bytes) and a marker"},
    {"rows name eats the marker", S_ROWS, 0,
     BYTES(HDR(3, 7), U64(1), 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 0, 0, 0, 0, 0, 0, 0),
     "batch ends without a DONE/PART marker at offset 24"},
    {"rows bad marker", S_ROWS, 0,
     BYTES(HDR(3, 7), U64(1), 'a', 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	   0xff, 0xfe),
     "bad end marker 0xfeffffffffffffff at offset 16"},
    {"rows trailing after marker", S_ROWS, 0,
     BYTES(HDR(4, 7), U64(1), 'a', 0, 0, 0, 0, 0, 0, 0, EE8, Z8),
     "8 trailing bytes after the end marker at offset 16"},
    {"rows blob length past the end", S_ROWS, 0,
     BYTES(HDR(6, 7), U64(1), 'a', 0, 0, 0, 0, 0, 0, 0, 0x04, 0, 0, 0, 0, 0, 0, 0,
	   0xe8, 0x03, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, FF8),
     "blob in row 0 column 0 at offset 24: length 1000 runs past the end of the body (16 "
     "bytes left)"},
    {"rows blob one byte too long", S_ROWS, 0,
     BYTES(HDR(6, 7), U64(1), 'a', 0, 0, 0, 0, 0, 0, 0, 0x04, 0, 0, 0, 0, 0, 0, 0, U64(17), 1,
	   2, 3, 4, 5, 6, 7, 8, FF8),
     "length 17 runs past the end of the body (16 bytes left)"},
    {"rows blob eats the marker", S_ROWS, 0,
     BYTES(HDR(6, 7), U64(1), 'a', 0, 0, 0, 0, 0, 0, 0, 0x04, 0, 0, 0, 0, 0, 0, 0, U64(9), 1,
	   2, 3, 4, 5, 6, 7, 8, 9, 0, 0, 0, 0, 0, 0, 0),
     "leaves 0 bytes, too few for the 0 remaining values and the end marker"},
    /* No "rows blob padding" case: servers do not zero a blob's padding
     * (see src/wire/rows.c), so it is accepted. */
    {"rows text without NUL", S_ROWS, 0,
     BYTES(HDR(5, 7), U64(1), 'a', 0, 0, 0, 0, 0, 0, 0, 0x03, 0, 0, 0, 0, 0, 0, 0, 'a', 'b',
	   'c', 'd', 'e', 'f', 'g', 'h', FF8),
     "text in row 0 column 0 at offset 24 has no NUL terminator in the 16 bytes left"},
    {"rows text padding", S_ROWS, 0,
     BYTES(HDR(5, 7), U64(1), 'a', 0, 0, 0, 0, 0, 0, 0, 0x0a, 0, 0, 0, 0, 0, 0, 0, 'a', 0, 0,
	   7, 0, 0, 0, 0, FF8),
     "text in row 0 column 0 at offset 24: non-zero padding byte 0x07 at offset 27"},
    {"rows column name without NUL", S_ROWS, 0,
     BYTES(HDR(3, 7), U64(1), 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', FF8),
     "name of column 0 at offset 8 has no NUL terminator"},
    {"rows column name padding", S_ROWS, 0,
     BYTES(HDR(3, 7), U64(1), 'a', 0, 'x', 0, 0, 0, 0, 0, FF8),
     "name of column 0 at offset 8: non-zero padding byte 0x78 at offset 10"},
    {"rows row header padding", S_ROWS, 0,
     BYTES(HDR(5, 7), U64(1), 'a', 0, 0, 0, 0, 0, 0, 0, 0x01, 0, 0, 0, 0, 0, 0x20, 0, U64(1),
	   FF8),
     "row 0 header at offset 16: non-zero padding byte 0x20 at offset 22"},
    {"rows unused nibble", S_ROWS, 0,
     BYTES(HDR(5, 7), U64(1), 'a', 0, 0, 0, 0, 0, 0, 0, 0x51, 0, 0, 0, 0, 0, 0, 0, U64(1),
	   FF8),
     "unused type nibble is 5, not 0 (byte at offset 16)"},
    {"rows non-zero NULL", S_ROWS, 0,
     BYTES(HDR(5, 7), U64(1), 'a', 0, 0, 0, 0, 0, 0, 0, 0x05, 0, 0, 0, 0, 0, 0, 0, U64(3),
	   FF8),
     "NULL value in row 0 column 0 at offset 24 is 0x3, not 0"},
    {"rows data with zero columns", S_ROWS, 0, BYTES(HDR(3, 7), U64(0), U64(1), FF8),
     "row data at offset 8 in a batch with 0 columns"},
    {"rows second batch column count", S_ROWS, 0,
     BYTES(HDR(3, 7), U64(1), 'a', 0, 0, 0, 0, 0, 0, 0, EE8, HDR(4, 7), U64(2), 'a', 0, 0, 0,
	   0, 0, 0, 0, 'b', 0, 0, 0, 0, 0, 0, 0, FF8),
     "batch 1 has 2 columns (offset 0) but the first batch had 1"},
    {"rows second batch truncated", S_ROWS, 0,
     BYTES(HDR(3, 7), U64(1), 'a', 0, 0, 0, 0, 0, 0, 0, EE8, HDR(3, 7), U64(1)),
     "truncated ROWS body: 8 of 24 bytes"},
    {"welcome too long", S_WELCOME, 0, BYTES(HDR(2, 2), U64(1), U64(2)),
     "WELCOME: 8 unexpected trailing bytes at offset 8"},
    {"metadata short", S_METADATA, 0, BYTES(HDR(1, 10), U64(1)),
     "METADATA: truncated weight at offset 8"},
    {"legacy no NUL", S_LEGACY, 0, BYTES(HDR(1, 1), 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'),
     "SERVER_LEGACY: text address at offset 0 has no NUL"},
    {"empty too long", S_EMPTY, 0, BYTES(HDR(2, 8), Z8, Z8), "EMPTY: 8 unexpected trailing"},
};

START_TEST(test_malformed_table)
{
	const struct bad_case *c = &bad_cases[_i];
	dqlc_error_t e;
	int rc;

	memset(&e, 0, sizeof e);
	rc = decode_msg(c->sel, c->bytes, c->len, c->max_body ? c->max_body : 1u << 20, &e);
	ck_assert_msg(rc == DQLC_EPROTO, "%s: rc %d (%s)", c->name, rc, e.message);
	ck_assert_int_eq(e.code, DQLC_EPROTO);
	ck_assert_msg(strstr(e.message, c->sub) != NULL, "%s: message \"%s\" lacks \"%s\"",
		      c->name, e.message, c->sub);
}
END_TEST

/* Cases that the table cannot express (schema in the header). */
START_TEST(test_malformed_stmt_schema)
{
	static const uint8_t body[24] = {0};
	dqlc_error_t e;
	int rc = dqlc__dec_stmt(body, 24, 2, NULL, NULL, NULL, NULL, &e);
	EXPECT_ERR(rc, e, DQLC_EPROTO, "STMT: unknown schema 2");
	rc = dqlc__dec_stmt(body, 24, 0, NULL, NULL, NULL, NULL, &e);
	EXPECT_ERR(rc, e, DQLC_EPROTO, "STMT: 8 unexpected trailing bytes at offset 16");
	rc = dqlc__dec_stmt(body, 16, 1, NULL, NULL, NULL, NULL, &e);
	EXPECT_ERR(rc, e, DQLC_EPROTO, "STMT_WITH_OFFSET: truncated tail offset at offset 16");
	rc = dqlc__dec_empty(body, 12, &e);
	EXPECT_ERR(rc, e, DQLC_EPROTO, "body length 12 is not a multiple of 8");
}
END_TEST

/* Every truncation and every single-byte corruption of valid messages
 * either decodes or fails with DQLC_EPROTO (ASan/valgrind catch over-reads:
 * each body is copied into an exact-size heap block). */
static void mutate_all(enum sel s, const uint8_t *msg, size_t len)
{
	static const uint8_t vals[] = {0x00, 0x01, 0x02, 0x07, 0x09, 0x0b, 0x11,
				       0x40, 0x80, 0xee, 0xfe, 0xff};
	uint8_t *m = malloc(len);
	size_t i, j, cut;
	dqlc_error_t e;
	int rc;

	ck_assert_ptr_nonnull(m);
	memcpy(m, msg, len);
	ck_assert_int_eq(decode_msg(s, m, len, 1 << 20, &e), 0);
	free(m);
	for (cut = 0; cut < len; cut++) {
		m = malloc(cut + 1);
		memcpy(m, msg, cut);
		rc = decode_msg(s, m, cut, 1 << 20, &e);
		ck_assert_msg(rc == DQLC_EPROTO, "cut %zu: rc %d", cut, rc);
		free(m);
	}
	for (i = 0; i < len; i++) {
		for (j = 0; j < N_ELEMS(vals); j++) {
			m = malloc(len);
			memcpy(m, msg, len);
			m[i] = vals[j];
			rc = decode_msg(s, m, len, 1 << 20, &e);
			ck_assert_msg(rc == 0 || rc == DQLC_EPROTO,
				      "byte %zu = %02x: rc %d (%s)", i, vals[j], rc, e.message);
			if (rc != 0)
				ck_assert_msg(strstr(e.message, "offset") != NULL ||
						  strstr(e.message, "limit") != NULL ||
						  strstr(e.message, "0 words") != NULL,
					      "byte %zu: message without a position: %s", i,
					      e.message);
			free(m);
		}
	}
}

START_TEST(test_mutations)
{
	static const char *const n2[] = {"id", "name"};
	static const uint8_t blob[] = {1, 2, 3};
	static tb_t b1, b2, m1, m2, all;
	dqlc_value_t v[] = {DQLC_INT(1),  DQLC_TEXT("x"),   DQLC_NULL,
			    DQLC_BLOB(blob, 3), DQLC_FLOAT(2.5), DQLC_ISO8601("")};
	static const uint8_t servers[] = {
	    HDR(7, 3), U64(2), U64(1), 'a', ':', '1', 0, 0, 0, 0, 0, U64(0),
	    U64(2), 'b', 0, 0, 0, 0, 0, 0, 0, U64(1),
	};
	static const uint8_t files[] = {
	    HDR(5, 9), U64(1), 'd', 'b', 0, 0, 0, 0, 0, 0, U64(11),
	    1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 0, 0, 0, 0, 0,
	};
	static const uint8_t failure[] = {HDR(2, 0), U64(5), 'b', 'u', 's', 'y', 0, 0, 0, 0};

	b1.len = b2.len = all.len = 0;
	tb_rows(&b1, 2, n2, v, 2, DQLC__ROWS_PART);
	tb_rows(&b2, 2, n2, v + 4, 1, DQLC__ROWS_DONE);
	tb_frame(&m1, DQLC__RESP_ROWS, 0, &b1);
	tb_frame(&m2, DQLC__RESP_ROWS, 0, &b2);
	tb_raw(&all, m1.p, m1.len);
	tb_raw(&all, m2.p, m2.len);
	mutate_all(S_ROWS, m2.p, m2.len);
	mutate_all(S_ROWS, all.p, all.len);
	mutate_all(S_SERVERS1, servers, sizeof servers);
	mutate_all(S_FILES, files, sizeof files);
	mutate_all(S_FAILURE, failure, sizeof failure);
}
END_TEST

static Suite *wire_suite(void)
{
	Suite *s = suite_create("wire");
	TCase *tc;

	tc = tcase_create("framing");
	tcase_add_test(tc, test_header_valid);
	tcase_add_test(tc, test_header_limits);
	tcase_add_test(tc, test_frame);
	suite_add_tcase(s, tc);

	tc = tcase_create("requests");
	tcase_add_test(tc, test_enc_handshake_and_leader);
	tcase_add_test(tc, test_enc_word_requests);
	tcase_add_test(tc, test_enc_text_requests);
	tcase_add_test(tc, test_enc_exec_query);
	tcase_add_test(tc, test_enc_all_param_types);
	tcase_add_test(tc, test_enc_param_header_sizes);
	tcase_add_test(tc, test_enc_255_params);
	tcase_add_test(tc, test_enc_many_params_schema1);
	tcase_add_test(tc, test_params_round_trip);
	tcase_add_test(tc, test_enc_refusals);
	tcase_add_test(tc, test_enc_raw);
	tcase_add_test(tc, test_wbuf_growth);
	suite_add_tcase(s, tc);

	tc = tcase_create("responses");
	tcase_add_test(tc, test_dec_server_doc_example);
	tcase_add_test(tc, test_dec_small_responses);
	tcase_add_test(tc, test_dec_servers);
	tcase_add_test(tc, test_dec_files);
	suite_add_tcase(s, tc);

	tc = tcase_create("rows");
	tcase_add_test(tc, test_rows_doc_example);
	tcase_add_test(tc, test_rows_round_trip);
	tcase_add_test(tc, test_rows_boolean_normalised);
	tcase_add_test(tc, test_rows_multi_batch);
	tcase_add_test(tc, test_rows_error_rollback);
	tcase_add_test(tc, test_rows_wide);
	tcase_add_test(tc, test_rows_17_columns_layout);
	tcase_add_test(tc, test_rows_zero_columns_and_empty);
	tcase_add_test(tc, test_rows_max_rows);
	tcase_add_test(tc, test_rows_large);
	suite_add_tcase(s, tc);

	tc = tcase_create("malformed");
	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, test_malformed_table, 0, (int)N_ELEMS(bad_cases));
	tcase_add_test(tc, test_malformed_stmt_schema);
	tcase_add_test(tc, test_mutations);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(wire_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
