/*
 * Unit tests for the configuration (src/config.c): keys, URIs, addresses,
 * copying, validation and TLS preparation.  No network.
 */
#include <check.h>
#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cfg.h"
#include "dqlite-client.h"
#include "error.h"

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))

#define EXPECT_ERR(rc, e, want, sub)                                                    \
	do {                                                                            \
		ck_assert_int_eq((rc), (want));                                         \
		ck_assert_int_eq((e).code, (want));                                     \
		ck_assert_msg(strstr((e).message, (sub)) != NULL,                      \
			      "message \"%s\" lacks \"%s\"", (e).message, (sub));       \
	} while (0)

static dqlc_config_t *cfg;

static void setup(void)
{
	cfg = dqlc_config_new();
	ck_assert_ptr_nonnull(cfg);
}

static void teardown(void)
{
	dqlc_config_free(cfg);
	cfg = NULL;
}

static int64_t field(const dqlc_config_t *c, size_t off)
{
	int64_t v;
	memcpy(&v, (const char *)c + off, sizeof v);
	return v;
}

static const char *str_field(const dqlc_config_t *c, size_t off)
{
	const char *s;
	memcpy(&s, (const char *)c + off, sizeof s);
	return s;
}

/* =========================================================================
 * Integer keys: the header's table (name, default, range)
 * ========================================================================= */

#define IK(name, def, lo, hi) {#name, offsetof(struct dqlc_config, name), def, lo, hi}
static const struct int_key {
	const char *name;
	size_t off;
	int64_t def, lo, hi;
} int_keys[] = {
    IK(connect_timeout_ms, 5000, 1, INT32_MAX),
    IK(request_timeout_ms, 10000, 0, INT32_MAX),
    IK(dial_timeout_ms, 1000, 1, INT32_MAX),
    IK(max_message_bytes, 67108864, 4096, (int64_t)UINT32_MAX * 8),
    IK(max_result_rows, 0, 0, INT64_MAX),
    IK(probe_concurrency, 8, 1, 64),
    IK(backoff_base_ms, 10, 1, 60000),
    IK(backoff_cap_ms, 200, 1, 600000),
    IK(keepalive, 1, 0, 1),
    IK(workers, 4, 1, 256),
    IK(queue_max, 65536, 1, 10000000),
    IK(pool_min, 0, 0, 1024),
    IK(pool_max, 8, 1, 1024),
    IK(idle_timeout_ms, 60000, 0, INT32_MAX),
    IK(max_lifetime_ms, 0, 0, INT32_MAX),
    IK(acquire_timeout_ms, 5000, 0, INT32_MAX),
    IK(health_check_idle_ms, 1000, 0, INT32_MAX),
    IK(retry_max, 8, 0, 1000),
    IK(stmt_cache_size, 64, 0, 4096),
    IK(leader_refresh_ms, 30000, 0, INT32_MAX),
};

#define SK(name) {#name, offsetof(struct dqlc_config, name)}
static const struct str_key {
	const char *name;
	size_t off;
} str_keys[] = {SK(database), SK(tls_ca), SK(tls_cert), SK(tls_key), SK(tls_server_name)};

START_TEST(test_defaults)
{
	size_t i;
	for (i = 0; i < N_ELEMS(int_keys); i++)
		ck_assert_msg(field(cfg, int_keys[i].off) == int_keys[i].def,
			      "%s: default %lld, want %lld", int_keys[i].name,
			      (long long)field(cfg, int_keys[i].off), (long long)int_keys[i].def);
	for (i = 0; i < N_ELEMS(str_keys); i++)
		ck_assert_ptr_null(str_field(cfg, str_keys[i].off));
	ck_assert_uint_eq(cfg->n_nodes, 0);
	ck_assert_int_eq(cfg->fork_mode, DQLC__FORK_AUTO);
	ck_assert_int_eq(cfg->close_drain, 1);
	ck_assert_int_eq(cfg->tls_mode, -1);
	ck_assert_ptr_null(cfg->tls_ctx);
	ck_assert_ptr_null(cfg->dial);
	ck_assert_ptr_null(cfg->log);
	dqlc_config_free(NULL);
}
END_TEST

/* Each key, looped: both ends of its range accepted and stored, one past
 * each end refused naming the key, non-integers refused naming the key. */
START_TEST(test_int_key)
{
	const struct int_key *k = &int_keys[_i];
	static const char *const junk[] = {"",    "abc", "12x", "1.5",  "0x10", "1e3",
					   "5 ",  "--1", "+",   "9223372036854775808",
					   "-9223372036854775809"};
	char buf[64];
	dqlc_error_t e;
	size_t j;
	int64_t before;

	snprintf(buf, sizeof buf, "%lld", (long long)k->lo);
	ck_assert_msg(dqlc_config_set(cfg, k->name, buf, &e) == 0, "%s=%s: %s", k->name, buf,
		      e.message);
	ck_assert(field(cfg, k->off) == k->lo);
	snprintf(buf, sizeof buf, "%lld", (long long)k->hi);
	ck_assert_msg(dqlc_config_set(cfg, k->name, buf, &e) == 0, "%s=%s: %s", k->name, buf,
		      e.message);
	ck_assert(field(cfg, k->off) == k->hi);
	if (k->hi > k->lo + 1) {
		snprintf(buf, sizeof buf, "%lld", (long long)(k->lo + 1));
		ck_assert_int_eq(dqlc_config_set(cfg, k->name, buf, &e), 0);
		ck_assert(field(cfg, k->off) == k->lo + 1);
	}

	before = field(cfg, k->off);
	/* below the range (every minimum here is > INT64_MIN) */
	snprintf(buf, sizeof buf, "%lld", (long long)(k->lo - 1));
	memset(&e, 0, sizeof e);
	EXPECT_ERR(dqlc_config_set(cfg, k->name, buf, &e), e, DQLC_EINVAL, k->name);
	ck_assert(field(cfg, k->off) == before);
	/* above it */
	if (k->hi < INT64_MAX)
		snprintf(buf, sizeof buf, "%lld", (long long)(k->hi + 1));
	else
		snprintf(buf, sizeof buf, "9223372036854775808");
	memset(&e, 0, sizeof e);
	EXPECT_ERR(dqlc_config_set(cfg, k->name, buf, &e), e, DQLC_EINVAL, k->name);
	ck_assert(field(cfg, k->off) == before);
	/* far below */
	memset(&e, 0, sizeof e);
	EXPECT_ERR(dqlc_config_set(cfg, k->name, "-1000000", &e), e, DQLC_EINVAL, k->name);
	for (j = 0; j < N_ELEMS(junk); j++) {
		memset(&e, 0, sizeof e);
		ck_assert_msg(dqlc_config_set(cfg, k->name, junk[j], &e) == DQLC_EINVAL,
			      "%s='%s' accepted", k->name, junk[j]);
		ck_assert_int_eq(e.code, DQLC_EINVAL);
		ck_assert_msg(strstr(e.message, k->name) != NULL, "'%s' lacks the key",
			      e.message);
		ck_assert(field(cfg, k->off) == before);
	}
	/* NULL err is fine */
	ck_assert_int_eq(dqlc_config_set(cfg, k->name, "abc", NULL), DQLC_EINVAL);
}
END_TEST

/* The same through a URI query: accepted and refused alike. */
START_TEST(test_int_key_in_uri)
{
	const struct int_key *k = &int_keys[_i];
	char uri[256];
	dqlc_error_t e;
	snprintf(uri, sizeof uri, "dqlite://127.0.0.1:9001/db?%s=%lld", k->name,
		 (long long)k->hi);
	ck_assert_msg(dqlc_config_from_uri(cfg, uri, &e) == 0, "%s: %s", uri, e.message);
	ck_assert(field(cfg, k->off) == k->hi);
	snprintf(uri, sizeof uri, "dqlite://127.0.0.1:9001/db?%s=%lld", k->name,
		 (long long)(k->lo - 1));
	EXPECT_ERR(dqlc_config_from_uri(cfg, uri, &e), e, DQLC_EINVAL, k->name);
	snprintf(uri, sizeof uri, "dqlite://127.0.0.1:9001/db?%s=ten", k->name);
	EXPECT_ERR(dqlc_config_from_uri(cfg, uri, &e), e, DQLC_EINVAL, k->name);
}
END_TEST

START_TEST(test_bool_words)
{
	dqlc_error_t e;
	static const char *const yes[] = {"true", "on", "yes", "1"};
	static const char *const no[] = {"false", "off", "no", "0"};
	size_t i;
	for (i = 0; i < N_ELEMS(yes); i++) {
		ck_assert_int_eq(dqlc_config_set(cfg, "keepalive", no[i], &e), 0);
		ck_assert_int_eq(cfg->keepalive, 0);
		ck_assert_int_eq(dqlc_config_set(cfg, "keepalive", yes[i], &e), 0);
		ck_assert_int_eq(cfg->keepalive, 1);
	}
	EXPECT_ERR(dqlc_config_set(cfg, "keepalive", "2", &e), e, DQLC_EINVAL, "keepalive");
	EXPECT_ERR(dqlc_config_set(cfg, "keepalive", "maybe", &e), e, DQLC_EINVAL, "keepalive");
	EXPECT_ERR(dqlc_config_set(cfg, "keepalive", "TRUE!", &e), e, DQLC_EINVAL, "keepalive");
}
END_TEST

START_TEST(test_str_keys)
{
	dqlc_error_t e;
	size_t i;
	for (i = 0; i < N_ELEMS(str_keys); i++) {
		char val[64];
		snprintf(val, sizeof val, "/some/%s.value", str_keys[i].name);
		ck_assert_int_eq(dqlc_config_set(cfg, str_keys[i].name, "first", &e), 0);
		ck_assert_str_eq(str_field(cfg, str_keys[i].off), "first");
		/* set again: replaced (the old string is freed: ASan/valgrind) */
		ck_assert_int_eq(dqlc_config_set(cfg, str_keys[i].name, val, &e), 0);
		ck_assert_str_eq(str_field(cfg, str_keys[i].off), val);
		ck_assert_ptr_ne(str_field(cfg, str_keys[i].off), val); /* a copy */
	}
}
END_TEST

START_TEST(test_enum_keys)
{
	static const struct {
		const char *key;
		size_t off;
		const char *value;
		int64_t want;
	} ok[] = {
	    {"tls", offsetof(struct dqlc_config, tls_mode), "disable", DQLC__TLS_DISABLE},
	    {"tls", offsetof(struct dqlc_config, tls_mode), "require", DQLC__TLS_REQUIRE},
	    {"tls", offsetof(struct dqlc_config, tls_mode), "verify-ca", DQLC__TLS_VERIFY_CA},
	    {"tls", offsetof(struct dqlc_config, tls_mode), "verify-full", DQLC__TLS_VERIFY_FULL},
	    {"fork", offsetof(struct dqlc_config, fork_mode), "explicit", DQLC__FORK_EXPLICIT},
	    {"fork", offsetof(struct dqlc_config, fork_mode), "auto", DQLC__FORK_AUTO},
	    {"close", offsetof(struct dqlc_config, close_drain), "abort", 0},
	    {"close", offsetof(struct dqlc_config, close_drain), "drain", 1},
	};
	static const struct {
		const char *key, *value;
	} bad[] = {
	    {"tls", ""},         {"tls", "yes"},      {"tls", "true"},    {"tls", "1"},
	    {"tls", "verify"},   {"tls", "VERIFY-FULL"}, {"tls", "verify_full"},
	    {"tls", "disabled"}, {"fork", "manual"},  {"fork", "AUTO"},   {"fork", "0"},
	    {"fork", ""},        {"close", "wait"},   {"close", "Drain"}, {"close", "1"},
	    {"close", ""},
	};
	dqlc_error_t e;
	size_t i;
	for (i = 0; i < N_ELEMS(ok); i++) {
		ck_assert_msg(dqlc_config_set(cfg, ok[i].key, ok[i].value, &e) == 0, "%s=%s: %s",
			      ok[i].key, ok[i].value, e.message);
		ck_assert_int_eq(field(cfg, ok[i].off), ok[i].want);
	}
	for (i = 0; i < N_ELEMS(bad); i++) {
		memset(&e, 0, sizeof e);
		ck_assert_msg(dqlc_config_set(cfg, bad[i].key, bad[i].value, &e) == DQLC_EINVAL,
			      "%s='%s' accepted", bad[i].key, bad[i].value);
		ck_assert_int_eq(e.code, DQLC_EINVAL);
		ck_assert_msg(strstr(e.message, bad[i].key) != NULL, "'%s'", e.message);
	}
	/* Refusals left the last good values. */
	ck_assert_int_eq(cfg->tls_mode, DQLC__TLS_VERIFY_FULL);
	ck_assert_int_eq(cfg->fork_mode, DQLC__FORK_AUTO);
	ck_assert_int_eq(cfg->close_drain, 1);

	ck_assert_int_eq(dqlc_config_from_uri(cfg, "h:1?tls=require&fork=explicit&close=abort", &e),
			 0);
	ck_assert_int_eq(cfg->tls_mode, DQLC__TLS_REQUIRE);
	ck_assert_int_eq(cfg->fork_mode, DQLC__FORK_EXPLICIT);
	ck_assert_int_eq(cfg->close_drain, 0);
	EXPECT_ERR(dqlc_config_from_uri(cfg, "h:1?close=later", &e), e, DQLC_EINVAL, "close");
}
END_TEST

START_TEST(test_unknown_key)
{
	static const char *const unknown[] = {"pool_maxx", "Pool_max", "POOL_MAX", "timeout",
					      "",          "tls_",     " workers", "workers "};
	dqlc_error_t e;
	size_t i;
	for (i = 0; i < N_ELEMS(unknown); i++) {
		char want[64];
		memset(&e, 0, sizeof e);
		snprintf(want, sizeof want, "'%s'", unknown[i]);
		EXPECT_ERR(dqlc_config_set(cfg, unknown[i], "1", &e), e, DQLC_EINVAL, want);
	}
	EXPECT_ERR(dqlc_config_from_uri(cfg, "dqlite://h:1/db?workers=2&frobnicate=1", &e), e,
		   DQLC_EINVAL, "frobnicate");
	EXPECT_ERR(dqlc_config_from_uri(cfg, "dqlite://h:1/db?frob%6eicate=1", &e), e,
		   DQLC_EINVAL, "frobnicate");
}
END_TEST

START_TEST(test_null_args)
{
	dqlc_error_t e;
	EXPECT_ERR(dqlc_config_set(NULL, "workers", "1", &e), e, DQLC_EINVAL, "NULL");
	EXPECT_ERR(dqlc_config_set(cfg, NULL, "1", &e), e, DQLC_EINVAL, "NULL");
	EXPECT_ERR(dqlc_config_set(cfg, "workers", NULL, &e), e, DQLC_EINVAL, "NULL");
	ck_assert_int_eq(dqlc_config_set(NULL, NULL, NULL, NULL), DQLC_EINVAL);
	EXPECT_ERR(dqlc_config_from_uri(NULL, "h:1", &e), e, DQLC_EINVAL, "NULL");
	EXPECT_ERR(dqlc_config_from_uri(cfg, NULL, &e), e, DQLC_EINVAL, "NULL");
	ck_assert_int_eq(dqlc_config_from_uri(NULL, NULL, NULL), DQLC_EINVAL);
	EXPECT_ERR(dqlc_config_add_node(NULL, "h:1", &e), e, DQLC_EINVAL, "NULL");
	EXPECT_ERR(dqlc_config_add_node(cfg, NULL, &e), e, DQLC_EINVAL, "NULL");
	ck_assert_int_eq(dqlc_config_add_node(NULL, NULL, NULL), DQLC_EINVAL);
	EXPECT_ERR(dqlc_config_set_dial(NULL, NULL, NULL, &e), e, DQLC_EINVAL, "NULL");
	ck_assert_int_eq(dqlc_config_set_dial(NULL, NULL, NULL, NULL), DQLC_EINVAL);
	EXPECT_ERR(dqlc_config_set_log(NULL, NULL, NULL, 0, &e), e, DQLC_EINVAL, "NULL");
	ck_assert_int_eq(dqlc_config_set_log(NULL, NULL, NULL, 0, NULL), DQLC_EINVAL);
	ck_assert_uint_eq(cfg->n_nodes, 0);
	dqlc_config_free(NULL);
}
END_TEST

/* =========================================================================
 * Addresses and URIs
 * ========================================================================= */

START_TEST(test_parse_address_good)
{
	static const struct {
		const char *in, *host;
		int port;
	} t[] = {
	    {"127.0.0.1:9001", "127.0.0.1", 9001},
	    {"localhost:1", "localhost", 1},
	    {"node-1.example.com:65535", "node-1.example.com", 65535},
	    {"[::1]:9001", "::1", 9001},
	    {"[fe80::1%eth0]:80", "fe80::1%eth0", 80},
	    {"h:08", "h", 8},
	};
	char host[256];
	int port;
	dqlc_error_t e;
	size_t i;
	for (i = 0; i < N_ELEMS(t); i++) {
		port = -1;
		ck_assert_msg(dqlc__parse_address(t[i].in, host, sizeof host, &port, &e) == 0,
			      "%s: %s", t[i].in, e.message);
		ck_assert_str_eq(host, t[i].host);
		ck_assert_int_eq(port, t[i].port);
	}
	/* The host buffer bound: a host that exactly fits, and one that does not. */
	ck_assert_int_eq(dqlc__parse_address("abcd:1", host, 5, &port, &e), 0);
	ck_assert_str_eq(host, "abcd");
	EXPECT_ERR(dqlc__parse_address("abcde:1", host, 5, &port, &e), e, DQLC_EINVAL, "abcde:1");
}
END_TEST

static const char *const bad_addresses[] = {
    "",         "host",       "host:",      "host:0",    "host:70000", "host:65536",
    "host:-1",  "host:12x",   "host:x",     ":9001",     "a:b:c",      "::1:9001",
    "[::1]",    "[::1]9001",  "[::1:9001",  "[]:9001",   "[::1]:",     "[::1]:0",
    "h:1:2",    "host:99999999999999999999",
};

START_TEST(test_parse_address_bad)
{
	const char *a = bad_addresses[_i];
	char host[256];
	int port = -7;
	dqlc_error_t e;
	memset(&e, 0, sizeof e);
	ck_assert_msg(dqlc__parse_address(a, host, sizeof host, &port, &e) == DQLC_EINVAL,
		      "'%s' accepted", a);
	ck_assert_int_eq(e.code, DQLC_EINVAL);
	if (*a != '\0')
		ck_assert_msg(strstr(e.message, a) != NULL, "'%s' lacks '%s'", e.message, a);
	ck_assert_int_eq(port, -7);
	/* Same through the public calls. */
	EXPECT_ERR(dqlc_config_add_node(cfg, a, &e), e, DQLC_EINVAL, a);
	ck_assert_uint_eq(cfg->n_nodes, 0);
	if (*a != '\0') {
		char uri[128];
		snprintf(uri, sizeof uri, "dqlite://%s/db", a);
		EXPECT_ERR(dqlc_config_from_uri(cfg, uri, &e), e, DQLC_EINVAL, a);
		snprintf(uri, sizeof uri, "dqlite://10.0.0.1:1,%s/db", a);
		EXPECT_ERR(dqlc_config_from_uri(cfg, uri, &e), e, DQLC_EINVAL, a);
	}
	ck_assert_int_eq(dqlc__parse_address(a, host, sizeof host, &port, NULL), DQLC_EINVAL);
}
END_TEST

START_TEST(test_parse_address_null)
{
	char host[16];
	int port;
	dqlc_error_t e;
	EXPECT_ERR(dqlc__parse_address(NULL, host, sizeof host, &port, &e), e, DQLC_EINVAL,
		   "empty");
}
END_TEST

START_TEST(test_add_node)
{
	dqlc_error_t e;
	ck_assert_int_eq(dqlc_config_add_node(cfg, "127.0.0.1:9001", &e), 0);
	ck_assert_int_eq(dqlc_config_add_node(cfg, "127.0.0.1:9002", &e), 0);
	ck_assert_int_eq(dqlc_config_add_node(cfg, "127.0.0.1:9001", &e), 0); /* duplicate */
	ck_assert_int_eq(dqlc_config_add_node(cfg, "[::1]:9001", &e), 0);
	ck_assert_int_eq(dqlc_config_add_node(cfg, "[::1]:9001", &e), 0);
	ck_assert_uint_eq(cfg->n_nodes, 3);
	ck_assert_str_eq(cfg->nodes[0], "127.0.0.1:9001");
	ck_assert_str_eq(cfg->nodes[1], "127.0.0.1:9002");
	ck_assert_str_eq(cfg->nodes[2], "[::1]:9001");

	/* the "nodes" key: a comma-separated list, added to what is there */
	ck_assert_int_eq(dqlc_config_set(cfg, "nodes", "10.0.0.1:1,127.0.0.1:9002,10.0.0.2:2", &e),
			 0);
	ck_assert_uint_eq(cfg->n_nodes, 5);
	ck_assert_str_eq(cfg->nodes[3], "10.0.0.1:1");
	ck_assert_str_eq(cfg->nodes[4], "10.0.0.2:2");
	ck_assert_int_eq(dqlc_config_set(cfg, "node", "10.0.0.3:3", &e), 0);
	ck_assert_uint_eq(cfg->n_nodes, 6);
	EXPECT_ERR(dqlc_config_set(cfg, "nodes", "10.0.0.9:9,bad", &e), e, DQLC_EINVAL, "bad");
}
END_TEST

START_TEST(test_uri_full)
{
	dqlc_error_t e;
	ck_assert_msg(dqlc_config_from_uri(cfg,
					   "dqlite://127.0.0.1:9001,127.0.0.1:9002,127.0.0.1:9003/"
					   "mydb?pool_max=16&workers=4&request_timeout_ms=5000",
					   &e) == 0,
		      "%s", e.message);
	ck_assert_uint_eq(cfg->n_nodes, 3);
	ck_assert_str_eq(cfg->nodes[0], "127.0.0.1:9001");
	ck_assert_str_eq(cfg->nodes[1], "127.0.0.1:9002");
	ck_assert_str_eq(cfg->nodes[2], "127.0.0.1:9003");
	ck_assert_str_eq(cfg->database, "mydb");
	ck_assert_int_eq(cfg->pool_max, 16);
	ck_assert_int_eq(cfg->workers, 4);
	ck_assert_int_eq(cfg->request_timeout_ms, 5000);
	/* untouched keys keep their defaults */
	ck_assert_int_eq(cfg->connect_timeout_ms, 5000);
	ck_assert_int_eq(cfg->pool_min, 0);
}
END_TEST

START_TEST(test_uri_bare)
{
	dqlc_error_t e;
	ck_assert_int_eq(dqlc_config_from_uri(cfg, "127.0.0.1:9001,127.0.0.1:9002", &e), 0);
	ck_assert_uint_eq(cfg->n_nodes, 2);
	ck_assert_str_eq(cfg->nodes[0], "127.0.0.1:9001");
	ck_assert_str_eq(cfg->nodes[1], "127.0.0.1:9002");
	ck_assert_ptr_null(cfg->database);
	/* a bare list with a database and options */
	ck_assert_int_eq(dqlc_config_from_uri(cfg, "h:1/other?workers=2", &e), 0);
	ck_assert_uint_eq(cfg->n_nodes, 1);
	ck_assert_str_eq(cfg->nodes[0], "h:1");
	ck_assert_str_eq(cfg->database, "other");
	ck_assert_int_eq(cfg->workers, 2);
	/* only options */
	ck_assert_int_eq(dqlc_config_from_uri(cfg, "dqlite://h:2?workers=3", &e), 0);
	ck_assert_str_eq(cfg->nodes[0], "h:2");
	ck_assert_str_eq(cfg->database, "other"); /* no path: kept */
	ck_assert_int_eq(cfg->workers, 3);
}
END_TEST

START_TEST(test_uri_ipv6)
{
	dqlc_error_t e;
	char host[64];
	int port;
	ck_assert_int_eq(dqlc_config_from_uri(cfg, "dqlite://[::1]:9001,[::1]:9002/db", &e), 0);
	ck_assert_uint_eq(cfg->n_nodes, 2);
	ck_assert_str_eq(cfg->nodes[0], "[::1]:9001");
	ck_assert_str_eq(cfg->nodes[1], "[::1]:9002");
	ck_assert_str_eq(cfg->database, "db");
	ck_assert_int_eq(dqlc__parse_address(cfg->nodes[1], host, sizeof host, &port, &e), 0);
	ck_assert_str_eq(host, "::1");
	ck_assert_int_eq(port, 9002);
	ck_assert_int_eq(dqlc_config_from_uri(cfg, "[2001:db8::7]:1", &e), 0);
	ck_assert_str_eq(cfg->nodes[0], "[2001:db8::7]:1");
}
END_TEST

START_TEST(test_uri_percent)
{
	dqlc_error_t e;
	ck_assert_msg(dqlc_config_from_uri(cfg,
					   "dqlite://h:1/my%20db%2Fx?tls_ca=%2Ftmp%2Fca%20file.pem"
					   "&tls_server_name=a+b&tls%5Fkey=k%25&tls_cert=c%2",
					   &e) == 0,
		      "%s", e.message);
	ck_assert_str_eq(cfg->database, "my db/x");
	ck_assert_str_eq(cfg->tls_ca, "/tmp/ca file.pem");
	ck_assert_str_eq(cfg->tls_server_name, "a b");
	ck_assert_str_eq(cfg->tls_key, "k%");
	ck_assert_str_eq(cfg->tls_cert, "c%2"); /* a broken escape is kept as is */
	ck_assert_int_eq(dqlc_config_from_uri(cfg, "h:1/%41%62%7a?database=%e2%82%ac", &e), 0);
	ck_assert_str_eq(cfg->database, "\xe2\x82\xac"); /* the query wins over the path */
	ck_assert_int_eq(dqlc_config_from_uri(cfg, "h:1/%41%62%7a", &e), 0);
	ck_assert_str_eq(cfg->database, "Abz");
	/* an encoded '&' or '=' is data, not syntax */
	ck_assert_int_eq(dqlc_config_from_uri(cfg, "h:1?tls_ca=a%26b%3Dc", &e), 0);
	ck_assert_str_eq(cfg->tls_ca, "a&b=c");
	ck_assert_int_eq(dqlc_config_from_uri(cfg, "h:1?workers=%31%32", &e), 0);
	ck_assert_int_eq(cfg->workers, 12);
}
END_TEST

START_TEST(test_uri_replaces_nodes)
{
	dqlc_error_t e;
	ck_assert_int_eq(dqlc_config_add_node(cfg, "10.0.0.1:1", &e), 0);
	ck_assert_int_eq(dqlc_config_add_node(cfg, "10.0.0.2:2", &e), 0);
	ck_assert_int_eq(dqlc_config_add_node(cfg, "10.0.0.3:3", &e), 0);
	ck_assert_int_eq(dqlc_config_from_uri(cfg, "dqlite://10.0.0.2:2,10.0.0.9:9", &e), 0);
	ck_assert_uint_eq(cfg->n_nodes, 2);
	ck_assert_str_eq(cfg->nodes[0], "10.0.0.2:2");
	ck_assert_str_eq(cfg->nodes[1], "10.0.0.9:9");
	/* duplicates inside a URI collapse */
	ck_assert_int_eq(dqlc_config_from_uri(cfg, "dqlite://h:1,h:1,h:2,h:1", &e), 0);
	ck_assert_uint_eq(cfg->n_nodes, 2);
	ck_assert_str_eq(cfg->nodes[0], "h:1");
	ck_assert_str_eq(cfg->nodes[1], "h:2");
}
END_TEST

START_TEST(test_uri_empty_parts)
{
	dqlc_error_t e;
	ck_assert_int_eq(dqlc_config_from_uri(cfg, "dqlite://h:1/", &e), 0);
	ck_assert_ptr_null(cfg->database);
	ck_assert_int_eq(dqlc_config_from_uri(cfg, "dqlite://h:1/db?", &e), 0);
	ck_assert_str_eq(cfg->database, "db");
	ck_assert_int_eq(dqlc_config_from_uri(cfg, "dqlite://h:1/db?&&workers=5&&", &e), 0);
	ck_assert_int_eq(cfg->workers, 5);
	ck_assert_int_eq(dqlc_config_from_uri(cfg, "dqlite://h:1?", &e), 0);
}
END_TEST

START_TEST(test_uri_bad)
{
	static const struct {
		const char *uri, *sub;
	} t[] = {
	    {"", "no node"},
	    {"dqlite://", "no node"},
	    {"dqlite:///db", "no node"},
	    {"dqlite://?workers=1", "no node"},
	    {"http://h:1/db", "dqlite://"},
	    {"postgres://h:1", "dqlite://"},
	    {"dqlite://h:1/db?workers", "workers"},
	    {"dqlite://h:1/db?workers=", "workers"},
	    {"dqlite://h:1/db?workers=0", "workers"},
	    {"dqlite://h:1/db?=3", "''"},
	    {"dqlite://h:1/db?pool_max=0", "pool_max"},
	    {"dqlite://h:1/db?request_timeout_ms=-1", "request_timeout_ms"},
	    {"dqlite://h:1/db?tls=maybe", "tls"},
	    {"dqlite://h/db", "h"},
	};
	dqlc_error_t e;
	size_t i;
	for (i = 0; i < N_ELEMS(t); i++) {
		memset(&e, 0, sizeof e);
		ck_assert_msg(dqlc_config_from_uri(cfg, t[i].uri, &e) == DQLC_EINVAL,
			      "'%s' accepted", t[i].uri);
		ck_assert_int_eq(e.code, DQLC_EINVAL);
		ck_assert_msg(strstr(e.message, t[i].sub) != NULL, "%s: '%s' lacks '%s'",
			      t[i].uri, e.message, t[i].sub);
	}
}
END_TEST

/* dqlc__config_resolve: cfg then URI, database "default". */
START_TEST(test_resolve)
{
	struct dqlc_config out;
	dqlc_error_t e;

	ck_assert_int_eq(dqlc__config_resolve(&out, "dqlite://h:1", NULL, &e), 0);
	ck_assert_str_eq(out.database, "default");
	ck_assert_uint_eq(out.n_nodes, 1);
	ck_assert_int_eq(out.workers, 4);
	dqlc__config_clear(&out);

	ck_assert_int_eq(dqlc_config_set(cfg, "database", "mine", &e), 0);
	ck_assert_int_eq(dqlc_config_set(cfg, "workers", "7", &e), 0);
	ck_assert_int_eq(dqlc_config_add_node(cfg, "10.0.0.1:1", &e), 0);
	ck_assert_int_eq(dqlc__config_resolve(&out, NULL, cfg, &e), 0);
	ck_assert_str_eq(out.database, "mine");
	ck_assert_int_eq(out.workers, 7);
	ck_assert_uint_eq(out.n_nodes, 1);
	ck_assert_ptr_ne(out.database, cfg->database);
	dqlc__config_clear(&out);

	/* the URI's values win; its node list replaces cfg's */
	ck_assert_int_eq(dqlc__config_resolve(&out, "dqlite://h:2,h:3/uri_db?workers=9", cfg, &e),
			 0);
	ck_assert_str_eq(out.database, "uri_db");
	ck_assert_int_eq(out.workers, 9);
	ck_assert_uint_eq(out.n_nodes, 2);
	ck_assert_str_eq(out.nodes[0], "h:2");
	dqlc__config_clear(&out);
	/* cfg is unchanged by it */
	ck_assert_str_eq(cfg->database, "mine");
	ck_assert_int_eq(cfg->workers, 7);
	ck_assert_uint_eq(cfg->n_nodes, 1);
	ck_assert_str_eq(cfg->nodes[0], "10.0.0.1:1");

	/* both NULL: defaults, no nodes (validate refuses it later) */
	ck_assert_int_eq(dqlc__config_resolve(&out, NULL, NULL, &e), 0);
	ck_assert_str_eq(out.database, "default");
	ck_assert_uint_eq(out.n_nodes, 0);
	dqlc__config_clear(&out);

	/* a bad URI: the error, and nothing left to free */
	EXPECT_ERR(dqlc__config_resolve(&out, "dqlite://h:1?bogus=1", cfg, &e), e, DQLC_EINVAL,
		   "bogus");
}
END_TEST

/* =========================================================================
 * Copy, validate
 * ========================================================================= */

static void log_fn(void *arg, int level, const char *msg)
{
	(void)arg, (void)level, (void)msg;
}

static int dial_fn(void *arg, const char *address, int timeout_ms, int *fd)
{
	(void)arg, (void)address, (void)timeout_ms, (void)fd;
	return -1;
}

START_TEST(test_copy)
{
	struct dqlc_config dst;
	dqlc_error_t e;
	int marker;
	size_t i;
	ck_assert_int_eq(dqlc_config_from_uri(cfg,
					      "dqlite://a:1,b:2,c:3/thedb?workers=9&tls_ca=/ca.pem"
					      "&tls_cert=/c.pem&tls_key=/k.pem&tls_server_name=srv"
					      "&fork=explicit&close=abort",
					      &e),
			 0);
	ck_assert_int_eq(dqlc_config_set_dial(cfg, dial_fn, &marker, &e), 0);
	ck_assert_int_eq(dqlc_config_set_log(cfg, log_fn, &marker, DQLC_LOG_DEBUG, &e), 0);
	ck_assert_int_eq(dqlc__config_copy(&dst, cfg), 0);

	/* nothing shared */
	ck_assert_ptr_ne(dst.nodes, cfg->nodes);
	for (i = 0; i < 3; i++)
		ck_assert_ptr_ne(dst.nodes[i], cfg->nodes[i]);
	ck_assert_ptr_ne(dst.database, cfg->database);
	ck_assert_ptr_ne(dst.tls_ca, cfg->tls_ca);
	ck_assert_ptr_ne(dst.tls_cert, cfg->tls_cert);
	ck_assert_ptr_ne(dst.tls_key, cfg->tls_key);
	ck_assert_ptr_ne(dst.tls_server_name, cfg->tls_server_name);

	/* free the source, then use the copy (ASan/valgrind see any sharing) */
	dqlc_config_free(cfg);
	cfg = NULL;
	ck_assert_uint_eq(dst.n_nodes, 3);
	ck_assert_str_eq(dst.nodes[0], "a:1");
	ck_assert_str_eq(dst.nodes[1], "b:2");
	ck_assert_str_eq(dst.nodes[2], "c:3");
	ck_assert_str_eq(dst.database, "thedb");
	ck_assert_str_eq(dst.tls_ca, "/ca.pem");
	ck_assert_str_eq(dst.tls_cert, "/c.pem");
	ck_assert_str_eq(dst.tls_key, "/k.pem");
	ck_assert_str_eq(dst.tls_server_name, "srv");
	ck_assert_int_eq(dst.workers, 9);
	ck_assert_int_eq(dst.fork_mode, DQLC__FORK_EXPLICIT);
	ck_assert_int_eq(dst.close_drain, 0);
	ck_assert_ptr_eq(dst.dial, dial_fn);
	ck_assert_ptr_eq(dst.dial_arg, &marker);
	ck_assert_ptr_eq(dst.log, log_fn);
	ck_assert_ptr_eq(dst.log_arg, &marker);
	ck_assert_int_eq(dst.log_level, DQLC_LOG_DEBUG);
	ck_assert_ptr_null(dst.tls_ctx);
	/* the copy is a working config of its own */
	ck_assert_int_eq(dqlc_config_add_node(&dst, "d:4", &e), 0);
	ck_assert_uint_eq(dst.n_nodes, 4);
	dqlc__config_clear(&dst);
	ck_assert_uint_eq(dst.n_nodes, 0);
	ck_assert_ptr_null(dst.database);
}
END_TEST

START_TEST(test_copy_empty)
{
	struct dqlc_config dst;
	ck_assert_int_eq(dqlc__config_copy(&dst, cfg), 0);
	ck_assert_uint_eq(dst.n_nodes, 0);
	ck_assert_ptr_null(dst.nodes);
	ck_assert_ptr_null(dst.database);
	ck_assert_int_eq(dst.workers, 4);
	dqlc__config_clear(&dst);
}
END_TEST

START_TEST(test_validate)
{
	dqlc_error_t e;
	EXPECT_ERR(dqlc__config_validate(cfg, &e), e, DQLC_EINVAL, "no node");
	ck_assert_int_eq(dqlc_config_add_node(cfg, "h:1", &e), 0);
	ck_assert_int_eq(dqlc__config_validate(cfg, &e), 0);

	ck_assert_int_eq(dqlc_config_set(cfg, "pool_min", "5", &e), 0);
	ck_assert_int_eq(dqlc_config_set(cfg, "pool_max", "2", &e), 0);
	EXPECT_ERR(dqlc__config_validate(cfg, &e), e, DQLC_EINVAL, "pool_min");
	ck_assert_int_eq(dqlc_config_set(cfg, "pool_max", "5", &e), 0);
	ck_assert_int_eq(dqlc__config_validate(cfg, &e), 0); /* equal is fine */

	ck_assert_int_eq(dqlc_config_set(cfg, "backoff_cap_ms", "500", &e), 0);
	ck_assert_int_eq(dqlc_config_set(cfg, "backoff_base_ms", "501", &e), 0);
	EXPECT_ERR(dqlc__config_validate(cfg, &e), e, DQLC_EINVAL, "backoff_base_ms");
	ck_assert_int_eq(dqlc_config_set(cfg, "backoff_base_ms", "500", &e), 0);
	ck_assert_int_eq(dqlc__config_validate(cfg, &e), 0);

	ck_assert_int_eq(dqlc_config_set(cfg, "tls_cert", "/c.pem", &e), 0);
	EXPECT_ERR(dqlc__config_validate(cfg, &e), e, DQLC_EINVAL, "tls_key");
	ck_assert_int_eq(dqlc_config_set(cfg, "tls_key", "/k.pem", &e), 0);
	ck_assert_int_eq(dqlc__config_validate(cfg, &e), 0);
	free(cfg->tls_cert);
	cfg->tls_cert = NULL;
	EXPECT_ERR(dqlc__config_validate(cfg, &e), e, DQLC_EINVAL, "tls_cert");
	free(cfg->tls_key);
	cfg->tls_key = NULL;
	ck_assert_int_eq(dqlc__config_validate(cfg, &e), 0);

	ck_assert_int_eq(dqlc_config_set(cfg, "tls", "disable", &e), 0);
	ck_assert_int_eq(dqlc__config_validate(cfg, &e), 0);
	ck_assert_int_eq(dqlc_config_set(cfg, "tls_ca", "/ca.pem", &e), 0);
	EXPECT_ERR(dqlc__config_validate(cfg, &e), e, DQLC_EINVAL, "tls=disable");
	ck_assert_int_eq(dqlc_config_set(cfg, "tls", "verify-full", &e), 0);
	ck_assert_int_eq(dqlc__config_validate(cfg, &e), 0);
	free(cfg->tls_ca);
	cfg->tls_ca = NULL;
	ck_assert_int_eq(dqlc_config_set(cfg, "tls", "disable", &e), 0);
	ck_assert_int_eq(dqlc_config_set(cfg, "tls_server_name", "srv", &e), 0);
	EXPECT_ERR(dqlc__config_validate(cfg, &e), e, DQLC_EINVAL, "tls=disable");
}
END_TEST

START_TEST(test_setters)
{
	dqlc_error_t e;
	int a, b;
	ck_assert_int_eq(dqlc_config_set_dial(cfg, dial_fn, &a, &e), 0);
	ck_assert_ptr_eq(cfg->dial, dial_fn);
	ck_assert_ptr_eq(cfg->dial_arg, &a);
	ck_assert_int_eq(dqlc_config_set_dial(cfg, NULL, NULL, &e), 0); /* back to TCP */
	ck_assert_ptr_null(cfg->dial);
	ck_assert_ptr_null(cfg->dial_arg);

	ck_assert_int_eq(dqlc_config_set_log(cfg, log_fn, &b, DQLC_LOG_ERROR, &e), 0);
	ck_assert_ptr_eq(cfg->log, log_fn);
	ck_assert_ptr_eq(cfg->log_arg, &b);
	ck_assert_int_eq(cfg->log_level, DQLC_LOG_ERROR);
	ck_assert_int_eq(dqlc_config_set_log(cfg, log_fn, &a, DQLC_LOG_DEBUG, NULL), 0);
	ck_assert_ptr_eq(cfg->log_arg, &a);
	ck_assert_int_eq(cfg->log_level, DQLC_LOG_DEBUG);
	ck_assert_int_eq(dqlc_config_set_log(cfg, NULL, NULL, DQLC_LOG_WARN, &e), 0);
	ck_assert_ptr_null(cfg->log);
}
END_TEST

/* =========================================================================
 * TLS preparation
 * ========================================================================= */

static int prepare(const char *uri, dqlc_error_t *e)
{
	struct dqlc_config c;
	int rv;
	memset(e, 0, sizeof *e);
	rv = dqlc__config_resolve(&c, uri, NULL, e);
	ck_assert_msg(rv == 0, "%s: %s", uri, e->message);
	rv = dqlc__config_prepare(&c, e);
	if (rv == 0 && c.tls_mode != DQLC__TLS_DISABLE && c.tls_mode != -1) {
#ifdef DQLC_HAVE_OPENSSL
		ck_assert_ptr_nonnull(c.tls_ctx);
		/* a second prepare keeps the context */
		{
			void *ctx = c.tls_ctx;
			ck_assert_int_eq(dqlc__config_prepare(&c, e), 0);
			ck_assert_ptr_eq(c.tls_ctx, ctx);
		}
#endif
	}
	if (rv == 0 && (c.tls_mode == DQLC__TLS_DISABLE || c.tls_mode == -1) && c.tls_ca == NULL &&
	    c.tls_cert == NULL && c.tls_server_name == NULL)
		ck_assert_ptr_null(c.tls_ctx);
	dqlc__config_clear(&c); /* frees the context: leaks show under ASan */
	return rv;
}

START_TEST(test_tls_off)
{
	dqlc_error_t e;
	ck_assert_int_eq(prepare("h:1", &e), 0);
	ck_assert_int_eq(prepare("h:1?tls=disable", &e), 0);
}
END_TEST

#ifdef DQLC_HAVE_OPENSSL

START_TEST(test_tls_verify_needs_ca)
{
	dqlc_error_t e;
	EXPECT_ERR(prepare("h:1?tls=verify-full", &e), e, DQLC_EINVAL, "tls_ca");
	ck_assert_ptr_nonnull(strstr(e.message, "verify-full"));
	EXPECT_ERR(prepare("h:1?tls=verify-ca", &e), e, DQLC_EINVAL, "tls_ca");
	ck_assert_ptr_nonnull(strstr(e.message, "verify-ca"));
	/* tls_server_name alone implies verify-full, which needs a CA */
	EXPECT_ERR(prepare("h:1?tls_server_name=srv", &e), e, DQLC_EINVAL, "tls_ca");
	EXPECT_ERR(prepare("h:1?tls=require&tls_cert=/c.pem", &e), e, DQLC_EINVAL, "tls_key");
}
END_TEST

START_TEST(test_tls_missing_ca_file)
{
	dqlc_error_t e;
	static const char path[] = "/nonexistent/dqlc-test/ca.pem";
	EXPECT_ERR(prepare("h:1?tls=verify-full&tls_ca=/nonexistent/dqlc-test/ca.pem", &e), e,
		   DQLC_ETLS, path);
	EXPECT_ERR(prepare("h:1?tls=verify-ca&tls_ca=/nonexistent/dqlc-test/ca.pem", &e), e,
		   DQLC_ETLS, path);
	/* tls_ca without a mode: verify-full, same failure */
	EXPECT_ERR(prepare("h:1?tls_ca=/nonexistent/dqlc-test/ca.pem", &e), e, DQLC_ETLS, path);
	/* require never loads a CA it was not given, but one given is loaded */
	EXPECT_ERR(prepare("h:1?tls=require&tls_ca=/nonexistent/dqlc-test/ca.pem", &e), e,
		   DQLC_ETLS, path);
}
END_TEST

START_TEST(test_tls_bad_client_cert)
{
	dqlc_error_t e;
	EXPECT_ERR(prepare("h:1?tls=require&tls_cert=/nonexistent/c.pem&tls_key=/nonexistent/k.pem",
			   &e),
		   e, DQLC_ETLS, "/nonexistent/c.pem");
}
END_TEST

START_TEST(test_tls_contexts)
{
	dqlc_error_t e;
	ck_assert_int_eq(prepare("h:1?tls=require", &e), 0);
	ck_assert_int_eq(prepare("h:1?tls=verify-full&tls_ca=system", &e), 0);
	ck_assert_int_eq(prepare("h:1?tls=verify-ca&tls_ca=system", &e), 0);
	ck_assert_int_eq(prepare("h:1?tls_ca=system&tls_server_name=srv", &e), 0);
}
END_TEST

#else /* no OpenSSL */

START_TEST(test_tls_unsupported)
{
	dqlc_error_t e;
	EXPECT_ERR(prepare("h:1?tls=require", &e), e, DQLC_ENOTSUP, "--with-openssl");
	EXPECT_ERR(prepare("h:1?tls=verify-full&tls_ca=system", &e), e, DQLC_ENOTSUP,
		   "--with-openssl");
	EXPECT_ERR(prepare("h:1?tls_ca=/ca.pem", &e), e, DQLC_ENOTSUP, "--with-openssl");
	/* the keys themselves are still accepted (so URIs stay portable) */
	ck_assert_int_eq(dqlc_config_set(cfg, "tls", "verify-full", &e), 0);
	ck_assert_int_eq(dqlc_config_set(cfg, "tls_ca", "/ca.pem", &e), 0);
}
END_TEST

#endif

/* =========================================================================
 * Suite
 * ========================================================================= */

static Suite *config_suite(void)
{
	Suite *s = suite_create("config");
	TCase *tc;

	tc = tcase_create("keys");
	tcase_set_timeout(tc, 10);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_defaults);
	tcase_add_loop_test(tc, test_int_key, 0, (int)N_ELEMS(int_keys));
	tcase_add_loop_test(tc, test_int_key_in_uri, 0, (int)N_ELEMS(int_keys));
	tcase_add_test(tc, test_bool_words);
	tcase_add_test(tc, test_str_keys);
	tcase_add_test(tc, test_enum_keys);
	tcase_add_test(tc, test_unknown_key);
	tcase_add_test(tc, test_null_args);
	tcase_add_test(tc, test_setters);
	suite_add_tcase(s, tc);

	tc = tcase_create("addresses");
	tcase_set_timeout(tc, 10);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_parse_address_good);
	tcase_add_loop_test(tc, test_parse_address_bad, 0, (int)N_ELEMS(bad_addresses));
	tcase_add_test(tc, test_parse_address_null);
	tcase_add_test(tc, test_add_node);
	suite_add_tcase(s, tc);

	tc = tcase_create("uri");
	tcase_set_timeout(tc, 10);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_uri_full);
	tcase_add_test(tc, test_uri_bare);
	tcase_add_test(tc, test_uri_ipv6);
	tcase_add_test(tc, test_uri_percent);
	tcase_add_test(tc, test_uri_replaces_nodes);
	tcase_add_test(tc, test_uri_empty_parts);
	tcase_add_test(tc, test_uri_bad);
	tcase_add_test(tc, test_resolve);
	suite_add_tcase(s, tc);

	tc = tcase_create("copy+validate");
	tcase_set_timeout(tc, 10);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_copy);
	tcase_add_test(tc, test_copy_empty);
	tcase_add_test(tc, test_validate);
	suite_add_tcase(s, tc);

	tc = tcase_create("tls");
	tcase_set_timeout(tc, 30);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_tls_off);
#ifdef DQLC_HAVE_OPENSSL
	tcase_add_test(tc, test_tls_verify_needs_ca);
	tcase_add_test(tc, test_tls_missing_ca_file);
	tcase_add_test(tc, test_tls_bad_client_cert);
	tcase_add_test(tc, test_tls_contexts);
#else
	tcase_add_test(tc, test_tls_unsupported);
#endif
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(config_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
