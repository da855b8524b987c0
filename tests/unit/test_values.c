/*
 * Unit tests for values (src/value.c), errors (src/error.c) and results
 * (src/result.c).  Results are built without a network from ROWS bodies
 * made by a small test-only builder, independent of the wire encoder.
 */
#include <check.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dqlite-client.h"
#include "error.h"
#include "result.h"
#include "wire/wire.h"

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))

/* Assert an error code and a substring of the message. */
#define EXPECT_ERR(rc, e, want, sub)                                                    \
	do {                                                                            \
		ck_assert_int_eq((rc), (want));                                         \
		ck_assert_int_eq((e).code, (want));                                     \
		ck_assert_msg(strstr((e).message, (sub)) != NULL,                      \
			      "message \"%s\" lacks \"%s\"", (e).message, (sub));       \
	} while (0)

/* A dqlc_error_t full of garbage, so that fields a helper forgets to set
 * show up. */
static void dirty(dqlc_error_t *e)
{
	memset(e, 0x5a, sizeof *e);
	e->message[sizeof e->message - 1] = '\0';
}

/* =========================================================================
 * Values
 * ========================================================================= */

START_TEST(test_ctor_numbers)
{
	dqlc_value_t v[] = {DQLC_INT(42),       DQLC_INT(INT64_MIN), DQLC_INT(INT64_MAX),
			    DQLC_INT(3.9),      DQLC_FLOAT(1.5),     DQLC_FLOAT(3),
			    DQLC_FLOAT(-0.25),  DQLC_NULL,           DQLC_BOOL(0),
			    DQLC_BOOL(1),       DQLC_BOOL(42),       DQLC_BOOL(-1),
			    DQLC_UNIXTIME(-5),  DQLC_UNIXTIME(1700000000)};

	ck_assert_int_eq(v[0].type, DQLC_TYPE_INTEGER);
	ck_assert_int_eq(v[0].v.i, 42);
	ck_assert_int_eq(v[1].type, DQLC_TYPE_INTEGER);
	ck_assert(v[1].v.i == INT64_MIN);
	ck_assert(v[2].v.i == INT64_MAX);
	ck_assert_int_eq(v[3].type, DQLC_TYPE_INTEGER);
	ck_assert_int_eq(v[3].v.i, 3);
	ck_assert_int_eq(v[4].type, DQLC_TYPE_FLOAT);
	ck_assert(v[4].v.f == 1.5);
	ck_assert_int_eq(v[5].type, DQLC_TYPE_FLOAT);
	ck_assert(v[5].v.f == 3.0);
	ck_assert(v[6].v.f == -0.25);
	ck_assert_int_eq(v[7].type, DQLC_TYPE_NULL);
	ck_assert_int_eq(v[8].type, DQLC_TYPE_BOOLEAN);
	ck_assert_int_eq(v[8].v.i, 0);
	ck_assert_int_eq(v[9].type, DQLC_TYPE_BOOLEAN);
	ck_assert_int_eq(v[9].v.i, 1);
	ck_assert_int_eq(v[10].v.i, 1); /* any non-zero is true, stored as 1 */
	ck_assert_int_eq(v[11].v.i, 1);
	ck_assert_int_eq(v[12].type, DQLC_TYPE_UNIXTIME);
	ck_assert_int_eq(v[12].v.i, -5);
	ck_assert_int_eq(v[13].type, DQLC_TYPE_UNIXTIME);
	ck_assert_int_eq(v[13].v.i, 1700000000);

	/* The function forms agree with the macros. */
	ck_assert_int_eq(dqlc_value_int(7).v.i, 7);
	ck_assert(dqlc_value_float(2.5).v.f == 2.5);
	ck_assert_int_eq(dqlc_value_null().type, DQLC_TYPE_NULL);
}
END_TEST

START_TEST(test_ctor_bytes)
{
	static const char text[] = "hello";
	static const char bin[] = {'a', 0, 'b', 0};
	const char *nul = NULL;
	dqlc_value_t v;

	v = DQLC_TEXT(text);
	ck_assert_int_eq(v.type, DQLC_TYPE_TEXT);
	ck_assert_ptr_eq(v.v.s.p, text); /* borrowed, not copied */
	ck_assert_uint_eq(v.v.s.n, 5);

	v = DQLC_TEXT("");
	ck_assert_int_eq(v.type, DQLC_TYPE_TEXT);
	ck_assert_ptr_nonnull(v.v.s.p);
	ck_assert_uint_eq(v.v.s.n, 0);

	v = DQLC_TEXT(nul);
	ck_assert_int_eq(v.type, DQLC_TYPE_NULL);

	v = DQLC_TEXTN(text, 3);
	ck_assert_int_eq(v.type, DQLC_TYPE_TEXT);
	ck_assert_ptr_eq(v.v.s.p, text);
	ck_assert_uint_eq(v.v.s.n, 3);

	v = DQLC_TEXTN(nul, 5);
	ck_assert_int_eq(v.type, DQLC_TYPE_NULL);

	v = DQLC_BLOB(bin, sizeof bin);
	ck_assert_int_eq(v.type, DQLC_TYPE_BLOB);
	ck_assert_ptr_eq(v.v.s.p, bin);
	ck_assert_uint_eq(v.v.s.n, 4);

	/* NULL pointer: an empty blob (a readable pointer, no bytes). */
	v = DQLC_BLOB(NULL, 0);
	ck_assert_int_eq(v.type, DQLC_TYPE_BLOB);
	ck_assert_ptr_nonnull(v.v.s.p);
	ck_assert_uint_eq(v.v.s.n, 0);
	v = DQLC_BLOB(NULL, 9);
	ck_assert_int_eq(v.type, DQLC_TYPE_BLOB);
	ck_assert_uint_eq(v.v.s.n, 0);
	v = DQLC_BLOB(bin, 0);
	ck_assert_int_eq(v.type, DQLC_TYPE_BLOB);
	ck_assert_uint_eq(v.v.s.n, 0);

	v = DQLC_ISO8601("2024-01-02T03:04:05Z");
	ck_assert_int_eq(v.type, DQLC_TYPE_ISO8601);
	ck_assert_uint_eq(v.v.s.n, 20);
	ck_assert(memcmp(v.v.s.p, "2024-01-02T03:04:05Z", 20) == 0);
	v = DQLC_ISO8601(nul);
	ck_assert_int_eq(v.type, DQLC_TYPE_NULL);
}
END_TEST

/* The constructors in an array initializer, the way the header shows. */
START_TEST(test_ctor_param_list)
{
	dqlc_value_t params[] = {DQLC_TEXT("hello"), DQLC_INT(42), DQLC_NULL, DQLC_BOOL(true),
				 DQLC_FLOAT(0.5), DQLC_BLOB("xy", 2)};
	static const int want[] = {DQLC_TYPE_TEXT, DQLC_TYPE_INTEGER, DQLC_TYPE_NULL,
				   DQLC_TYPE_BOOLEAN, DQLC_TYPE_FLOAT, DQLC_TYPE_BLOB};
	size_t i;
	ck_assert_uint_eq(N_ELEMS(params), N_ELEMS(want));
	for (i = 0; i < N_ELEMS(params); i++)
		ck_assert_int_eq(params[i].type, want[i]);
}
END_TEST

START_TEST(test_value_copy_text)
{
	char buf[] = "abcdef";
	dqlc_value_t src = DQLC_TEXTN(buf, 3), dst;

	memset(&dst, 0x77, sizeof dst);
	ck_assert_int_eq(dqlc_value_copy(&dst, &src), 0);
	ck_assert_int_eq(dst.type, DQLC_TYPE_TEXT);
	ck_assert_uint_eq(dst.v.s.n, 3);
	ck_assert_ptr_ne(dst.v.s.p, buf);
	/* The copy is NUL-terminated after its length, not after the source. */
	ck_assert_str_eq(dst.v.s.p, "abc");
	/* A deep copy: changing the source does not change it. */
	memset(buf, 'z', 6);
	ck_assert_str_eq(dst.v.s.p, "abc");
	dqlc_value_clear(&dst);
	ck_assert_int_eq(dst.type, DQLC_TYPE_NULL);
	/* clearing twice is harmless (it is a NULL value now) */
	dqlc_value_clear(&dst);
	ck_assert_int_eq(dst.type, DQLC_TYPE_NULL);

	src = DQLC_TEXT("");
	ck_assert_int_eq(dqlc_value_copy(&dst, &src), 0);
	ck_assert_int_eq(dst.type, DQLC_TYPE_TEXT);
	ck_assert_ptr_nonnull(dst.v.s.p);
	ck_assert_ptr_ne(dst.v.s.p, src.v.s.p);
	ck_assert_uint_eq(dst.v.s.n, 0);
	ck_assert_str_eq(dst.v.s.p, "");
	dqlc_value_clear(&dst);

	src = DQLC_ISO8601("2024-05-06");
	ck_assert_int_eq(dqlc_value_copy(&dst, &src), 0);
	ck_assert_int_eq(dst.type, DQLC_TYPE_ISO8601);
	ck_assert_ptr_ne(dst.v.s.p, src.v.s.p);
	ck_assert_str_eq(dst.v.s.p, "2024-05-06");
	dqlc_value_clear(&dst);
}
END_TEST

START_TEST(test_value_copy_blob)
{
	char bin[] = {0, 'x', 0, 'y', 0};
	dqlc_value_t src = DQLC_BLOB(bin, sizeof bin), dst;

	ck_assert_int_eq(dqlc_value_copy(&dst, &src), 0);
	ck_assert_int_eq(dst.type, DQLC_TYPE_BLOB);
	ck_assert_uint_eq(dst.v.s.n, 5);
	ck_assert_ptr_ne(dst.v.s.p, bin);
	ck_assert(memcmp(dst.v.s.p, "\0x\0y\0", 5) == 0);
	memset(bin, 'q', sizeof bin);
	ck_assert(memcmp(dst.v.s.p, "\0x\0y\0", 5) == 0);
	dqlc_value_clear(&dst);
	ck_assert_int_eq(dst.type, DQLC_TYPE_NULL);

	src = DQLC_BLOB(NULL, 0);
	ck_assert_int_eq(dqlc_value_copy(&dst, &src), 0);
	ck_assert_int_eq(dst.type, DQLC_TYPE_BLOB);
	ck_assert_uint_eq(dst.v.s.n, 0);
	ck_assert_ptr_nonnull(dst.v.s.p);
	dqlc_value_clear(&dst);
}
END_TEST

START_TEST(test_value_copy_scalars)
{
	dqlc_value_t src[] = {DQLC_INT(-9), DQLC_FLOAT(2.25), DQLC_NULL, DQLC_BOOL(1),
			      DQLC_UNIXTIME(86400)};
	dqlc_value_t dst;
	size_t i;
	for (i = 0; i < N_ELEMS(src); i++) {
		memset(&dst, 0x33, sizeof dst);
		ck_assert_int_eq(dqlc_value_copy(&dst, &src[i]), 0);
		ck_assert_int_eq(dst.type, src[i].type);
		ck_assert(memcmp(&dst.v, &src[i].v, sizeof dst.v) == 0);
		dqlc_value_clear(&dst); /* owns nothing: must not free anything */
		ck_assert_int_eq(dst.type, DQLC_TYPE_NULL);
	}
}
END_TEST

START_TEST(test_value_copy_null_args)
{
	dqlc_value_t v = DQLC_INT(1);
	ck_assert_int_eq(dqlc_value_copy(NULL, &v), DQLC_EINVAL);
	ck_assert_int_eq(dqlc_value_copy(&v, NULL), DQLC_EINVAL);
	ck_assert_int_eq(dqlc_value_copy(NULL, NULL), DQLC_EINVAL);
	dqlc_value_clear(NULL);
}
END_TEST

START_TEST(test_type_names)
{
	static const struct {
		int type;
		const char *name;
	} t[] = {
	    {DQLC_TYPE_INTEGER, "INTEGER"}, {DQLC_TYPE_FLOAT, "FLOAT"},
	    {DQLC_TYPE_TEXT, "TEXT"},       {DQLC_TYPE_BLOB, "BLOB"},
	    {DQLC_TYPE_NULL, "NULL"},       {DQLC_TYPE_UNIXTIME, "UNIXTIME"},
	    {DQLC_TYPE_ISO8601, "ISO8601"}, {DQLC_TYPE_BOOLEAN, "BOOLEAN"},
	    {0, "UNKNOWN"},                 {6, "UNKNOWN"},
	    {8, "UNKNOWN"},                 {12, "UNKNOWN"},
	    {-1, "UNKNOWN"},                {INT32_MAX, "UNKNOWN"},
	};
	size_t i;
	/* The wire numbers are part of the contract. */
	ck_assert_int_eq(DQLC_TYPE_INTEGER, 1);
	ck_assert_int_eq(DQLC_TYPE_FLOAT, 2);
	ck_assert_int_eq(DQLC_TYPE_TEXT, 3);
	ck_assert_int_eq(DQLC_TYPE_BLOB, 4);
	ck_assert_int_eq(DQLC_TYPE_NULL, 5);
	ck_assert_int_eq(DQLC_TYPE_UNIXTIME, 9);
	ck_assert_int_eq(DQLC_TYPE_ISO8601, 10);
	ck_assert_int_eq(DQLC_TYPE_BOOLEAN, 11);
	for (i = 0; i < N_ELEMS(t); i++)
		ck_assert_str_eq(dqlc_type_name(t[i].type), t[i].name);
}
END_TEST

START_TEST(test_version)
{
	char want[32];
	ck_assert_int_eq(dqlc_version_number(), DQLC_VERSION_NUMBER);
	snprintf(want, sizeof want, "%d.%d.%d", DQLC_VERSION_MAJOR, DQLC_VERSION_MINOR,
		 DQLC_VERSION_PATCH);
	ck_assert_str_eq(dqlc_version_string(), want);
	ck_assert_str_eq(dqlc_version_string(), PACKAGE_VERSION);
}
END_TEST

/* =========================================================================
 * Errors
 * ========================================================================= */

static const struct {
	int code;
	const char *name;
	const char *desc;
} codes[] = {
#define XX(name, num, desc) {DQLC_##name, "DQLC_" #name, desc},
    DQLC_ERRNO_MAP(XX)
#undef XX
};

START_TEST(test_error_codes_table)
{
	size_t i, j;
	/* The codes DESIGN.md §3 names are there (this fails to compile
	 * otherwise) and are distinct, positive and dense from 1. */
	static const int required[] = {
	    DQLC_EINVAL,  DQLC_ENOMEM, DQLC_ETIMEDOUT, DQLC_ECANCELED, DQLC_ECLOSED, DQLC_ENOLEADER,
	    DQLC_ECONNECT, DQLC_EIO,   DQLC_EPROTO,    DQLC_ETLS,      DQLC_ESQL,    DQLC_EBUSY,
	    DQLC_EPOOL,   DQLC_EFORKED, DQLC_EDEADLK,  DQLC_EMISUSE};
	ck_assert_int_eq(DQLC_OK, 0);
	ck_assert_int_eq(DQLC__ERR_MAX, (int)N_ELEMS(codes) + 1);
	for (i = 0; i < N_ELEMS(codes); i++) {
		ck_assert_int_eq(codes[i].code, (int)i + 1);
		for (j = 0; j < i; j++) {
			ck_assert_str_ne(codes[i].name, codes[j].name);
			ck_assert_str_ne(codes[i].desc, codes[j].desc);
		}
	}
	for (i = 0; i < N_ELEMS(required); i++)
		ck_assert(required[i] > 0 && required[i] < DQLC__ERR_MAX);
}
END_TEST

START_TEST(test_strerror_errname)
{
	static const int unknown[] = {-1, DQLC__ERR_MAX, 1000, INT32_MIN, INT32_MAX};
	size_t i;
	for (i = 0; i < N_ELEMS(codes); i++) {
		ck_assert_str_eq(dqlc_strerror(codes[i].code), codes[i].desc);
		ck_assert_str_eq(dqlc_errname(codes[i].code), codes[i].name);
	}
	ck_assert_str_eq(dqlc_strerror(DQLC_OK), "success");
	ck_assert_str_eq(dqlc_errname(DQLC_OK), "DQLC_OK");
	/* The ones the header's own comments quote. */
	ck_assert_str_eq(dqlc_strerror(DQLC_ETIMEDOUT), "deadline exceeded");
	ck_assert_str_eq(dqlc_errname(DQLC_ETIMEDOUT), "DQLC_ETIMEDOUT");
	for (i = 0; i < N_ELEMS(unknown); i++) {
		ck_assert_ptr_nonnull(dqlc_strerror(unknown[i]));
		ck_assert_str_eq(dqlc_strerror(unknown[i]), "unknown error code");
		ck_assert_str_eq(dqlc_errname(unknown[i]), "DQLC_E?");
	}
}
END_TEST

START_TEST(test_error_clear)
{
	dqlc_error_t e, zero;
	memset(&zero, 0, sizeof zero);
	dirty(&e);
	dqlc_error_clear(&e);
	ck_assert(memcmp(&e, &zero, sizeof e) == 0);
	ck_assert_int_eq(e.code, DQLC_OK);
	ck_assert_str_eq(e.message, "");
	dqlc_error_clear(NULL);
}
END_TEST

START_TEST(test_err_basic)
{
	dqlc_error_t e;
	char big[600];

	dirty(&e);
	ck_assert_int_eq(dqlc__err(&e, DQLC_EINVAL, "bad %s #%d", "thing", 7), DQLC_EINVAL);
	ck_assert_int_eq(e.code, DQLC_EINVAL);
	ck_assert_int_eq(e.sqlite_code, 0);
	ck_assert_uint_eq(e.flags, 0);
	ck_assert_int_eq(e.sys_errno, 0);
	ck_assert_str_eq(e.message, "bad thing #7");

	/* NULL err: still returns the code. */
	ck_assert_int_eq(dqlc__err(NULL, DQLC_EPROTO, "x"), DQLC_EPROTO);

	/* A message longer than the buffer is cut and stays terminated. */
	memset(big, 'm', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	dirty(&e);
	dqlc__err(&e, DQLC_EIO, "%s", big);
	ck_assert_uint_eq(strlen(e.message), sizeof e.message - 1);
	ck_assert_int_eq(e.message[0], 'm');
}
END_TEST

START_TEST(test_err_sys)
{
	dqlc_error_t e;
	char want[256];
	char big[600];

	dirty(&e);
	ck_assert_int_eq(dqlc__err_sys(&e, DQLC_ECONNECT, ECONNREFUSED, "%s: connect", "h:1"),
			 DQLC_ECONNECT);
	ck_assert_int_eq(e.code, DQLC_ECONNECT);
	ck_assert_int_eq(e.sys_errno, ECONNREFUSED);
	ck_assert_int_eq(e.sqlite_code, 0);
	ck_assert_uint_eq(e.flags, 0);
	snprintf(want, sizeof want, "h:1: connect: %s", strerror(ECONNREFUSED));
	ck_assert_str_eq(e.message, want);

	ck_assert_int_eq(dqlc__err_sys(NULL, DQLC_EIO, EPIPE, "x"), DQLC_EIO);

	/* A full message leaves no room for the errno text, and no overflow. */
	memset(big, 'm', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	dirty(&e);
	dqlc__err_sys(&e, DQLC_EIO, EPIPE, "%s", big);
	ck_assert_uint_eq(strlen(e.message), sizeof e.message - 1);
	ck_assert_int_eq(e.sys_errno, EPIPE);
}
END_TEST

START_TEST(test_err_server)
{
	static const struct {
		uint64_t code;
		uint32_t flags;
	} t[] = {
	    {DQLC_SQLITE_NOT_LEADER, DQLC_ERRF_RETRYABLE | DQLC_ERRF_LEADER_CHANGED},
	    {8202, DQLC_ERRF_RETRYABLE | DQLC_ERRF_LEADER_CHANGED},
	    {DQLC_SQLITE_LEADERSHIP_LOST, DQLC_ERRF_MAYBE_EXECUTED | DQLC_ERRF_LEADER_CHANGED},
	    {8458, DQLC_ERRF_MAYBE_EXECUTED | DQLC_ERRF_LEADER_CHANGED},
	    {DQLC_SQLITE_BUSY, 0},
	    {1, 0},
	    {19, 0},
	    {2067, 0},
	};
	dqlc_error_t e;
	char num[32];
	size_t i;

	ck_assert_int_eq(DQLC_SQLITE_NOT_LEADER, 10250);
	ck_assert_int_eq(DQLC_SQLITE_LEADERSHIP_LOST, 10506);
	for (i = 0; i < N_ELEMS(t); i++) {
		dirty(&e);
		ck_assert_int_eq(dqlc__err_server(&e, t[i].code, "the message"), DQLC_ESQL);
		ck_assert_int_eq(e.code, DQLC_ESQL);
		ck_assert_int_eq(e.sqlite_code, (int)t[i].code);
		ck_assert_uint_eq(e.flags, t[i].flags);
		ck_assert_int_eq(e.sys_errno, 0);
		snprintf(num, sizeof num, "%llu", (unsigned long long)t[i].code);
		ck_assert_msg(strstr(e.message, num) != NULL, "'%s' lacks %s", e.message, num);
		ck_assert_msg(strstr(e.message, "the message") != NULL, "'%s'", e.message);
	}

	/* Code 0: the server's "empty statement". */
	dirty(&e);
	ck_assert_int_eq(dqlc__err_server(&e, 0, ""), DQLC_ESQL);
	ck_assert_int_eq(e.sqlite_code, 0);
	ck_assert_uint_eq(e.flags, 0);
	ck_assert_ptr_nonnull(strstr(e.message, "empty statement"));
	dirty(&e);
	dqlc__err_server(&e, 0, NULL);
	ck_assert_ptr_nonnull(strstr(e.message, "empty statement"));
	dirty(&e);
	dqlc__err_server(&e, 0, "no SQL given");
	ck_assert_ptr_nonnull(strstr(e.message, "no SQL given"));

	/* A NULL message from the server is not a crash. */
	dirty(&e);
	dqlc__err_server(&e, 1, NULL);
	ck_assert_int_eq(e.code, DQLC_ESQL);
	ck_assert_ptr_nonnull(strstr(e.message, "1"));

	ck_assert_int_eq(dqlc__err_server(NULL, DQLC_SQLITE_NOT_LEADER, "x"), DQLC_ESQL);
}
END_TEST

START_TEST(test_err_flag_and_prefix)
{
	dqlc_error_t e;
	char big[300];

	dqlc__err(&e, DQLC_EIO, "read failed");
	dqlc__err_flag(&e, DQLC_ERRF_MAYBE_EXECUTED);
	dqlc__err_flag(&e, DQLC_ERRF_LEADER_CHANGED);
	ck_assert_uint_eq(e.flags, DQLC_ERRF_MAYBE_EXECUTED | DQLC_ERRF_LEADER_CHANGED);
	dqlc__err_flag(NULL, DQLC_ERRF_RETRYABLE);

	dqlc__err_prefix(&e, "node %s", "127.0.0.1:9001");
	ck_assert_str_eq(e.message, "node 127.0.0.1:9001: read failed");
	ck_assert_int_eq(e.code, DQLC_EIO);
	ck_assert_uint_eq(e.flags, DQLC_ERRF_MAYBE_EXECUTED | DQLC_ERRF_LEADER_CHANGED);
	dqlc__err_prefix(&e, "exec");
	ck_assert_str_eq(e.message, "exec: node 127.0.0.1:9001: read failed");
	dqlc__err_prefix(NULL, "x");

	/* A long prefix on a long message: cut, terminated. */
	memset(big, 'p', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	dqlc__err(&e, DQLC_EIO, "%s", big);
	dqlc__err_prefix(&e, "%s", big);
	ck_assert_uint_eq(strlen(e.message), sizeof e.message - 1);
}
END_TEST

/* =========================================================================
 * Results, from hand-made ROWS bodies
 * ========================================================================= */

/* Test-only byte builder for ROWS bodies (PROTOCOL.md §3.3). */
typedef struct rb {
	uint8_t p[8192];
	size_t len;
} rb_t;

static void rb_u64(rb_t *b, uint64_t v)
{
	int i;
	ck_assert_uint_le(b->len + 8, sizeof b->p);
	for (i = 0; i < 8; i++)
		b->p[b->len++] = (uint8_t)(v >> (8 * i));
}

static void rb_bytes(rb_t *b, const void *p, size_t n)
{
	ck_assert_uint_le(b->len + n + 8, sizeof b->p);
	if (n > 0)
		memcpy(b->p + b->len, p, n);
	b->len += n;
}

static void rb_pad(rb_t *b)
{
	while (b->len % 8 != 0)
		b->p[b->len++] = 0;
}

/* Text: bytes, a NUL, zero padding to a word. */
static void rb_text(rb_t *b, const char *s, size_t n)
{
	rb_bytes(b, s, n);
	b->p[b->len++] = 0;
	rb_pad(b);
}

/* A batch: column count, names, rows (a header of 4-bit type codes padded
 * to words, then the values), then the end marker. */
static void rb_rows(rb_t *b, size_t ncols, const char *const *names, const dqlc_value_t *vals,
		    size_t nrows, uint64_t marker)
{
	size_t c, r, hdr = ((ncols + 1) / 2 + 7) / 8 * 8;
	uint64_t u;
	b->len = 0;
	rb_u64(b, ncols);
	for (c = 0; c < ncols; c++)
		rb_text(b, names[c], strlen(names[c]));
	for (r = 0; r < nrows; r++) {
		const dqlc_value_t *row = vals + r * ncols;
		uint8_t *h = b->p + b->len;
		ck_assert_uint_le(b->len + hdr, sizeof b->p);
		memset(h, 0, hdr);
		for (c = 0; c < ncols; c++)
			h[c / 2] |= (uint8_t)((row[c].type & 0xf) << (4 * (c % 2)));
		b->len += hdr;
		for (c = 0; c < ncols; c++) {
			const dqlc_value_t *v = &row[c];
			switch (v->type) {
			case DQLC_TYPE_FLOAT:
				memcpy(&u, &v->v.f, 8);
				rb_u64(b, u);
				break;
			case DQLC_TYPE_TEXT:
			case DQLC_TYPE_ISO8601:
				rb_text(b, v->v.s.p, v->v.s.n);
				break;
			case DQLC_TYPE_BLOB:
				rb_u64(b, v->v.s.n);
				rb_bytes(b, v->v.s.p, v->v.s.n);
				rb_pad(b);
				break;
			case DQLC_TYPE_NULL:
				rb_u64(b, 0);
				break;
			default: /* INTEGER, UNIXTIME, BOOLEAN */
				rb_u64(b, (uint64_t)v->v.i);
			}
		}
	}
	rb_u64(b, marker);
}

/* One result from one batch. */
static dqlc_result_t *make_result(size_t ncols, const char *const *names,
				  const dqlc_value_t *vals, size_t nrows)
{
	static rb_t b;
	dqlc_result_t *r = dqlc__result_new();
	dqlc_error_t e;
	bool more = true;
	ck_assert_ptr_nonnull(r);
	rb_rows(&b, ncols, names, vals, nrows, DQLC__ROWS_DONE);
	ck_assert_msg(dqlc__result_add_batch(r, b.p, b.len, &more, &e) == 0, "%s", e.message);
	ck_assert(!more);
	/* The result keeps its own copy: scribble over the body. */
	memset(b.p, 0xcd, sizeof b.p);
	return r;
}

static const char *const cols3[] = {"id", "Name", "data"};

START_TEST(test_result_columns)
{
	static const char *const names[] = {"id", "ID", "Name", "x y", ""};
	dqlc_value_t row[] = {DQLC_INT(1), DQLC_INT(2), DQLC_TEXT("n"), DQLC_NULL, DQLC_INT(5)};
	dqlc_result_t *r = make_result(5, names, row, 1);
	size_t i;

	ck_assert_uint_eq(dqlc_result_column_count(r), 5);
	for (i = 0; i < 5; i++)
		ck_assert_str_eq(dqlc_result_column_name(r, i), names[i]);
	ck_assert_ptr_null(dqlc_result_column_name(r, 5));
	ck_assert_ptr_null(dqlc_result_column_name(r, SIZE_MAX));

	/* Exact match first, then ASCII case-insensitive (first such). */
	ck_assert_int_eq(dqlc_result_column_index(r, "id"), 0);
	ck_assert_int_eq(dqlc_result_column_index(r, "ID"), 1);
	ck_assert_int_eq(dqlc_result_column_index(r, "Id"), 0);
	ck_assert_int_eq(dqlc_result_column_index(r, "iD"), 0);
	ck_assert_int_eq(dqlc_result_column_index(r, "Name"), 2);
	ck_assert_int_eq(dqlc_result_column_index(r, "name"), 2);
	ck_assert_int_eq(dqlc_result_column_index(r, "NAME"), 2);
	ck_assert_int_eq(dqlc_result_column_index(r, "x y"), 3);
	ck_assert_int_eq(dqlc_result_column_index(r, ""), 4);
	ck_assert_int_eq(dqlc_result_column_index(r, "nam"), -1);
	ck_assert_int_eq(dqlc_result_column_index(r, "names"), -1);
	ck_assert_int_eq(dqlc_result_column_index(r, "missing"), -1);
	ck_assert_int_eq(dqlc_result_column_index(r, NULL), -1);

	ck_assert_int_eq(dqlc_result_value_by_name(r, 0, "ID")->v.i, 2);
	ck_assert_int_eq(dqlc_result_value_by_name(r, 0, "id")->v.i, 1);
	ck_assert_int_eq(dqlc_result_value_by_name(r, 0, "NAME")->type, DQLC_TYPE_TEXT);
	ck_assert_ptr_eq(dqlc_result_value_by_name(r, 0, "name"), dqlc_result_value(r, 0, 2));
	ck_assert_ptr_null(dqlc_result_value_by_name(r, 0, "missing"));
	ck_assert_ptr_null(dqlc_result_value_by_name(r, 0, NULL));
	ck_assert_ptr_null(dqlc_result_value_by_name(r, 1, "id"));
	dqlc_result_free(r);
}
END_TEST

START_TEST(test_result_values)
{
	static const char bin[] = {1, 0, 2, 0, 3};
	dqlc_value_t rows[] = {
	    DQLC_INT(7),  DQLC_TEXT("alice"), DQLC_BLOB(bin, sizeof bin),
	    DQLC_INT(-8), DQLC_NULL,          DQLC_BLOB("", 0),
	};
	dqlc_result_t *r = make_result(3, cols3, rows, 2);
	const dqlc_value_t *v;
	const void *p;
	size_t len;

	ck_assert_uint_eq(dqlc_result_row_count(r), 2);
	ck_assert_uint_eq(dqlc_result_column_count(r), 3);

	v = dqlc_result_value(r, 0, 0);
	ck_assert_ptr_nonnull(v);
	ck_assert_int_eq(v->type, DQLC_TYPE_INTEGER);
	ck_assert_int_eq(v->v.i, 7);
	ck_assert_int_eq(dqlc_result_int64(r, 1, 0), -8);
	ck_assert_int_eq(dqlc_result_type(r, 0, 1), DQLC_TYPE_TEXT);
	ck_assert(!dqlc_result_is_null(r, 0, 1));

	len = 99;
	ck_assert_str_eq(dqlc_result_text(r, 0, 1, &len), "alice");
	ck_assert_uint_eq(len, 5);
	ck_assert_str_eq(dqlc_result_text(r, 0, 1, NULL), "alice");
	ck_assert_ptr_eq(dqlc_result_text(r, 0, 1, NULL), dqlc_result_value(r, 0, 1)->v.s.p);
	/* blob of a TEXT value: the text's bytes */
	len = 99;
	p = dqlc_result_blob(r, 0, 1, &len);
	ck_assert_ptr_nonnull(p);
	ck_assert_uint_eq(len, 5);
	ck_assert(memcmp(p, "alice", 5) == 0);

	/* A blob with embedded NULs comes back whole. */
	ck_assert_int_eq(dqlc_result_type(r, 0, 2), DQLC_TYPE_BLOB);
	len = 99;
	p = dqlc_result_blob(r, 0, 2, &len);
	ck_assert_uint_eq(len, 5);
	ck_assert(memcmp(p, bin, 5) == 0);
	ck_assert_ptr_nonnull(dqlc_result_blob(r, 0, 2, NULL));
	/* text of a BLOB: NULL, length 0 */
	len = 99;
	ck_assert_ptr_null(dqlc_result_text(r, 0, 2, &len));
	ck_assert_uint_eq(len, 0);
	/* An empty blob: a value of type BLOB with length 0. */
	ck_assert_int_eq(dqlc_result_type(r, 1, 2), DQLC_TYPE_BLOB);
	len = 99;
	dqlc_result_blob(r, 1, 2, &len);
	ck_assert_uint_eq(len, 0);

	/* NULL */
	ck_assert_int_eq(dqlc_result_type(r, 1, 1), DQLC_TYPE_NULL);
	ck_assert(dqlc_result_is_null(r, 1, 1));
	ck_assert_int_eq(dqlc_result_int64(r, 1, 1), 0);
	ck_assert(dqlc_result_double(r, 1, 1) == 0.0);
	len = 99;
	ck_assert_ptr_null(dqlc_result_text(r, 1, 1, &len));
	ck_assert_uint_eq(len, 0);
	len = 99;
	ck_assert_ptr_null(dqlc_result_blob(r, 1, 1, &len));
	ck_assert_uint_eq(len, 0);

	/* Text/blob of an INTEGER: NULL. */
	len = 99;
	ck_assert_ptr_null(dqlc_result_text(r, 0, 0, &len));
	ck_assert_uint_eq(len, 0);
	len = 99;
	ck_assert_ptr_null(dqlc_result_blob(r, 0, 0, &len));
	ck_assert_uint_eq(len, 0);

	/* value_by_name reaches the same cells. */
	ck_assert_ptr_eq(dqlc_result_value_by_name(r, 1, "data"), dqlc_result_value(r, 1, 2));
	ck_assert_ptr_eq(dqlc_result_value_by_name(r, 0, "name"), dqlc_result_value(r, 0, 1));
	dqlc_result_free(r);
}
END_TEST

START_TEST(test_result_out_of_range)
{
	dqlc_value_t rows[] = {DQLC_INT(1), DQLC_TEXT("x"), DQLC_FLOAT(2.5)};
	dqlc_result_t *r = make_result(3, cols3, rows, 1);
	static const size_t bad[][2] = {{1, 0}, {0, 3}, {1, 3}, {SIZE_MAX, 0}, {0, SIZE_MAX},
					{SIZE_MAX, SIZE_MAX}, {(SIZE_MAX / 3) + 1, 0}};
	size_t i, len;

	for (i = 0; i < N_ELEMS(bad); i++) {
		size_t row = bad[i][0], col = bad[i][1];
		ck_assert_ptr_null(dqlc_result_value(r, row, col));
		ck_assert_int_eq(dqlc_result_type(r, row, col), DQLC_TYPE_NULL);
		ck_assert(dqlc_result_is_null(r, row, col));
		ck_assert_int_eq(dqlc_result_int64(r, row, col), 0);
		ck_assert(dqlc_result_double(r, row, col) == 0.0);
		len = 99;
		ck_assert_ptr_null(dqlc_result_text(r, row, col, &len));
		ck_assert_uint_eq(len, 0);
		len = 99;
		ck_assert_ptr_null(dqlc_result_blob(r, row, col, &len));
		ck_assert_uint_eq(len, 0);
	}
	ck_assert_ptr_null(dqlc_result_value_by_name(r, 1, "id"));
	dqlc_result_free(r);
}
END_TEST

/* Every accessor on a NULL result: zeros and NULLs. */
START_TEST(test_result_null_handle)
{
	size_t len = 99;
	ck_assert_uint_eq(dqlc_result_column_count(NULL), 0);
	ck_assert_ptr_null(dqlc_result_column_name(NULL, 0));
	ck_assert_int_eq(dqlc_result_column_index(NULL, "a"), -1);
	ck_assert_uint_eq(dqlc_result_row_count(NULL), 0);
	ck_assert_ptr_null(dqlc_result_value(NULL, 0, 0));
	ck_assert_ptr_null(dqlc_result_value_by_name(NULL, 0, "a"));
	ck_assert_int_eq(dqlc_result_type(NULL, 0, 0), DQLC_TYPE_NULL);
	ck_assert(dqlc_result_is_null(NULL, 0, 0));
	ck_assert_int_eq(dqlc_result_int64(NULL, 0, 0), 0);
	ck_assert(dqlc_result_double(NULL, 0, 0) == 0.0);
	ck_assert_ptr_null(dqlc_result_text(NULL, 0, 0, &len));
	ck_assert_uint_eq(len, 0);
	len = 99;
	ck_assert_ptr_null(dqlc_result_blob(NULL, 0, 0, &len));
	ck_assert_uint_eq(len, 0);
	ck_assert_int_eq(dqlc_result_last_insert_id(NULL), 0);
	ck_assert_int_eq(dqlc_result_rows_affected(NULL), 0);
	dqlc_result_free(NULL);
}
END_TEST

START_TEST(test_result_int64_conversions)
{
	static const char *const names[] = {"v"};
	dqlc_value_t rows[] = {
	    DQLC_FLOAT(3.9),        DQLC_FLOAT(-3.9),         DQLC_FLOAT(NAN),
	    DQLC_FLOAT(-NAN),       DQLC_FLOAT(INFINITY),     DQLC_FLOAT(-INFINITY),
	    DQLC_FLOAT(1e300),      DQLC_FLOAT(-1e300),       DQLC_FLOAT(9223372036854775807.0),
	    DQLC_FLOAT(-9223372036854775808.0), DQLC_FLOAT(4611686018427387904.0),
	    DQLC_TEXT("42"),        DQLC_TEXT("  -17 apples"), DQLC_TEXT("abc"),
	    DQLC_TEXT(""),          DQLC_TEXT("99999999999999999999"), DQLC_NULL,
	    DQLC_BOOL(1),           DQLC_UNIXTIME(1700000000), DQLC_ISO8601("2024-01-02"),
	    DQLC_BLOB("12", 2),     DQLC_INT(INT64_MIN),      DQLC_FLOAT(-0.0),
	};
	static const int64_t want[] = {
	    3,         -3,        0,
	    0,         INT64_MAX, INT64_MIN,
	    INT64_MAX, INT64_MIN, INT64_MAX,
	    INT64_MIN, 4611686018427387904LL,
	    42,        -17,       0,
	    0,         INT64_MAX, 0,
	    1,         1700000000, 2024,
	    0,         INT64_MIN, 0,
	};
	dqlc_result_t *r;
	size_t i;
	ck_assert_uint_eq(N_ELEMS(rows), N_ELEMS(want));
	r = make_result(1, names, rows, N_ELEMS(rows));
	ck_assert_uint_eq(dqlc_result_row_count(r), N_ELEMS(rows));
	for (i = 0; i < N_ELEMS(rows); i++)
		ck_assert_msg(dqlc_result_int64(r, i, 0) == want[i], "row %zu: %lld, want %lld", i,
			      (long long)dqlc_result_int64(r, i, 0), (long long)want[i]);
	dqlc_result_free(r);
}
END_TEST

START_TEST(test_result_double_conversions)
{
	static const char *const names[] = {"v"};
	dqlc_value_t rows[] = {
	    DQLC_FLOAT(2.75),   DQLC_FLOAT(INFINITY), DQLC_INT(-3),       DQLC_INT(INT64_MAX),
	    DQLC_TEXT("2.5x"),  DQLC_TEXT("-1e3"),    DQLC_TEXT("nope"),  DQLC_NULL,
	    DQLC_BOOL(1),       DQLC_UNIXTIME(60),    DQLC_BLOB("1", 1),  DQLC_ISO8601("12.5"),
	};
	static const double want[] = {
	    2.75, INFINITY, -3.0, 9223372036854775807.0, 2.5, -1000.0, 0.0, 0.0,
	    1.0,  60.0,     0.0,  12.5,
	};
	dqlc_result_t *r;
	size_t i;
	ck_assert_uint_eq(N_ELEMS(rows), N_ELEMS(want));
	r = make_result(1, names, rows, N_ELEMS(rows));
	for (i = 0; i < N_ELEMS(rows); i++)
		ck_assert_msg(dqlc_result_double(r, i, 0) == want[i], "row %zu: %g, want %g", i,
			      dqlc_result_double(r, i, 0), want[i]);
	/* NaN stays NaN */
	dqlc_result_free(r);
	rows[0] = DQLC_FLOAT(NAN);
	r = make_result(1, names, rows, 1);
	ck_assert(isnan(dqlc_result_double(r, 0, 0)));
	ck_assert_int_eq(dqlc_result_type(r, 0, 0), DQLC_TYPE_FLOAT);
	dqlc_result_free(r);
}
END_TEST

/* Every type through a result, with its type and raw value intact. */
START_TEST(test_result_all_types)
{
	static const char *const names[] = {"i", "f", "t", "b", "n", "u", "d", "o"};
	dqlc_value_t row[] = {DQLC_INT(-5),        DQLC_FLOAT(0.125),  DQLC_TEXT("héllo"),
			      DQLC_BLOB("\0\1", 2), DQLC_NULL,          DQLC_UNIXTIME(-86400),
			      DQLC_ISO8601("2024-01-02T03:04:05Z"), DQLC_BOOL(1)};
	dqlc_result_t *r = make_result(8, names, row, 1);
	size_t i, len;
	for (i = 0; i < 8; i++)
		ck_assert_int_eq(dqlc_result_type(r, 0, i), row[i].type);
	ck_assert_int_eq(dqlc_result_value(r, 0, 0)->v.i, -5);
	ck_assert(dqlc_result_value(r, 0, 1)->v.f == 0.125);
	ck_assert_str_eq(dqlc_result_text(r, 0, 2, &len), "héllo");
	ck_assert_uint_eq(len, strlen("héllo"));
	ck_assert_int_eq(dqlc_result_int64(r, 0, 5), -86400);
	ck_assert_str_eq(dqlc_result_text(r, 0, 6, &len), "2024-01-02T03:04:05Z");
	ck_assert_uint_eq(len, 20);
	ck_assert_int_eq(dqlc_result_int64(r, 0, 7), 1);
	ck_assert(dqlc_result_is_null(r, 0, 4));
	for (i = 0; i < 8; i++)
		ck_assert_int_eq(dqlc_result_is_null(r, 0, i), i == 4);
	dqlc_result_free(r);
}
END_TEST

/* The server sends NULL in a DATETIME column as ISO8601 "": it reads back
 * as NULL.  A non-empty ISO8601 stays what it is. */
START_TEST(test_result_iso8601_empty_is_null)
{
	static const char *const names[] = {"when", "other"};
	dqlc_value_t rows[] = {DQLC_ISO8601(""), DQLC_TEXT(""), DQLC_ISO8601("2020-02-02"),
			       DQLC_ISO8601("")};
	dqlc_result_t *r = make_result(2, names, rows, 2);
	size_t len = 99;

	ck_assert_int_eq(dqlc_result_type(r, 0, 0), DQLC_TYPE_NULL);
	ck_assert(dqlc_result_is_null(r, 0, 0));
	ck_assert_ptr_null(dqlc_result_text(r, 0, 0, &len));
	ck_assert_uint_eq(len, 0);
	ck_assert_int_eq(dqlc_result_value(r, 0, 0)->type, DQLC_TYPE_NULL);
	/* Empty TEXT is not NULL. */
	ck_assert_int_eq(dqlc_result_type(r, 0, 1), DQLC_TYPE_TEXT);
	ck_assert(!dqlc_result_is_null(r, 0, 1));
	ck_assert_str_eq(dqlc_result_text(r, 0, 1, &len), "");
	ck_assert_uint_eq(len, 0);
	ck_assert_int_eq(dqlc_result_type(r, 1, 0), DQLC_TYPE_ISO8601);
	ck_assert_str_eq(dqlc_result_text(r, 1, 0, NULL), "2020-02-02");
	ck_assert_int_eq(dqlc_result_type(r, 1, 1), DQLC_TYPE_NULL);
	dqlc_result_free(r);
}
END_TEST

/* A result in three batches (PART, PART, DONE), the empty-string NULL fix
 * applied to every batch and values from every batch readable. */
START_TEST(test_result_multi_batch)
{
	static const char *const names[] = {"n", "s", "d"};
	static rb_t b;
	dqlc_value_t v1[] = {DQLC_INT(0), DQLC_TEXT("zero"), DQLC_ISO8601(""),
			     DQLC_INT(1), DQLC_TEXT("one"),  DQLC_ISO8601("2001-01-01")};
	dqlc_value_t v2[] = {DQLC_INT(2), DQLC_TEXT("two"), DQLC_ISO8601("")};
	dqlc_value_t v3[] = {DQLC_INT(3), DQLC_TEXT("three"), DQLC_ISO8601("2003-03-03"),
			     DQLC_INT(4), DQLC_TEXT("four"),  DQLC_ISO8601("")};
	static const char *const words[] = {"zero", "one", "two", "three", "four"};
	dqlc_result_t *r = dqlc__result_new();
	dqlc_error_t e;
	bool more = false;
	size_t i;

	rb_rows(&b, 3, names, v1, 2, DQLC__ROWS_PART);
	ck_assert_int_eq(dqlc__result_add_batch(r, b.p, b.len, &more, &e), 0);
	ck_assert(more);
	memset(b.p, 0xee, sizeof b.p);
	rb_rows(&b, 3, names, v2, 1, DQLC__ROWS_PART);
	ck_assert_int_eq(dqlc__result_add_batch(r, b.p, b.len, &more, &e), 0);
	ck_assert(more);
	memset(b.p, 0xee, sizeof b.p);
	rb_rows(&b, 3, names, v3, 2, DQLC__ROWS_DONE);
	ck_assert_int_eq(dqlc__result_add_batch(r, b.p, b.len, &more, &e), 0);
	ck_assert(!more);
	memset(b.p, 0xee, sizeof b.p);

	ck_assert_uint_eq(dqlc_result_row_count(r), 5);
	ck_assert_uint_eq(dqlc_result_column_count(r), 3);
	ck_assert_str_eq(dqlc_result_column_name(r, 1), "s");
	for (i = 0; i < 5; i++) {
		ck_assert_int_eq(dqlc_result_int64(r, i, 0), (int64_t)i);
		ck_assert_str_eq(dqlc_result_text(r, i, 1, NULL), words[i]);
		ck_assert_str_eq(dqlc_result_text(r, i, dqlc_result_column_index(r, "S"), NULL),
				 words[i]);
	}
	ck_assert(dqlc_result_is_null(r, 0, 2));
	ck_assert_str_eq(dqlc_result_text(r, 1, 2, NULL), "2001-01-01");
	ck_assert(dqlc_result_is_null(r, 2, 2));
	ck_assert_str_eq(dqlc_result_text(r, 3, 2, NULL), "2003-03-03");
	ck_assert(dqlc_result_is_null(r, 4, 2));
	ck_assert_ptr_null(dqlc_result_value(r, 5, 0));
	dqlc_result_free(r);
}
END_TEST

/* A batch that fails to decode reports DQLC_EPROTO; the result can still be
 * freed (no leak, no double free). */
START_TEST(test_result_bad_batch)
{
	static const char *const names[] = {"a"};
	static rb_t b;
	dqlc_value_t v[] = {DQLC_INT(1)};
	dqlc_result_t *r = dqlc__result_new();
	dqlc_error_t e;
	bool more = false;

	rb_rows(&b, 1, names, v, 1, DQLC__ROWS_DONE);
	b.len -= 8; /* no end marker */
	ck_assert_int_eq(dqlc__result_add_batch(r, b.p, b.len, &more, &e), DQLC_EPROTO);
	ck_assert_int_eq(e.code, DQLC_EPROTO);
	ck_assert_uint_eq(dqlc_result_row_count(r), 0);
	dqlc_result_free(r);
}
END_TEST

START_TEST(test_result_exec_fields)
{
	dqlc_result_t *r = dqlc__result_new();
	ck_assert_ptr_nonnull(r);
	ck_assert_uint_eq(dqlc_result_row_count(r), 0);
	ck_assert_uint_eq(dqlc_result_column_count(r), 0);
	ck_assert_int_eq(dqlc_result_last_insert_id(r), 0);
	ck_assert_int_eq(dqlc_result_rows_affected(r), 0);
	ck_assert_ptr_null(dqlc_result_value(r, 0, 0));
	ck_assert_ptr_null(dqlc_result_column_name(r, 0));
	ck_assert_int_eq(dqlc_result_column_index(r, "x"), -1);
	r->last_insert_id = INT64_MAX;
	r->rows_affected = 12345;
	ck_assert(dqlc_result_last_insert_id(r) == INT64_MAX);
	ck_assert_int_eq(dqlc_result_rows_affected(r), 12345);
	r->last_insert_id = -2;
	ck_assert_int_eq(dqlc_result_last_insert_id(r), -2);
	dqlc_result_free(r);
	dqlc_result_free(NULL);
}
END_TEST

/* =========================================================================
 * Suite
 * ========================================================================= */

static Suite *values_suite(void)
{
	Suite *s = suite_create("values");
	TCase *tc;

	tc = tcase_create("values");
	tcase_set_timeout(tc, 10);
	tcase_add_test(tc, test_ctor_numbers);
	tcase_add_test(tc, test_ctor_bytes);
	tcase_add_test(tc, test_ctor_param_list);
	tcase_add_test(tc, test_value_copy_text);
	tcase_add_test(tc, test_value_copy_blob);
	tcase_add_test(tc, test_value_copy_scalars);
	tcase_add_test(tc, test_value_copy_null_args);
	tcase_add_test(tc, test_type_names);
	tcase_add_test(tc, test_version);
	suite_add_tcase(s, tc);

	tc = tcase_create("errors");
	tcase_set_timeout(tc, 10);
	tcase_add_test(tc, test_error_codes_table);
	tcase_add_test(tc, test_strerror_errname);
	tcase_add_test(tc, test_error_clear);
	tcase_add_test(tc, test_err_basic);
	tcase_add_test(tc, test_err_sys);
	tcase_add_test(tc, test_err_server);
	tcase_add_test(tc, test_err_flag_and_prefix);
	suite_add_tcase(s, tc);

	tc = tcase_create("results");
	tcase_set_timeout(tc, 10);
	tcase_add_test(tc, test_result_columns);
	tcase_add_test(tc, test_result_values);
	tcase_add_test(tc, test_result_out_of_range);
	tcase_add_test(tc, test_result_null_handle);
	tcase_add_test(tc, test_result_int64_conversions);
	tcase_add_test(tc, test_result_double_conversions);
	tcase_add_test(tc, test_result_all_types);
	tcase_add_test(tc, test_result_iso8601_empty_is_null);
	tcase_add_test(tc, test_result_multi_batch);
	tcase_add_test(tc, test_result_bad_batch);
	tcase_add_test(tc, test_result_exec_fields);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(values_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
