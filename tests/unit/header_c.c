/*
 * The public header in strict C11: compiled with only include/ on the
 * include path and -std=c11 -Wall -Wextra -pedantic -Werror (see
 * tests/local.mk), linked against the installed-shape shared library.
 */
#include <dqlite-client.h>

/* The header pulls in <stddef.h>, <stdint.h>, <stdbool.h> and nothing
 * else: no pthread, no OpenSSL, no errno, no stdio. */
#if !defined(SIZE_MAX) || !defined(INT64_MAX) || !defined(bool) || !defined(offsetof)
#error "dqlite-client.h must include <stddef.h>, <stdint.h> and <stdbool.h>"
#endif
#if defined(PTHREAD_MUTEX_INITIALIZER) || defined(OPENSSL_VERSION_NUMBER) || \
    defined(EINVAL) || defined(EOF) || defined(FD_SETSIZE)
#error "dqlite-client.h includes more than <stddef.h>, <stdint.h> and <stdbool.h>"
#endif

#include <stdio.h>
#include <string.h>

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))

static int failures;

#define CHECK(cond)                                                                   \
	do {                                                                          \
		if (!(cond)) {                                                        \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, \
				#cond);                                               \
			failures++;                                                   \
		}                                                                     \
	} while (0)

int main(void)
{
	/* The constructor macros in an array initializer, as documented. */
	dqlc_value_t params[] = {DQLC_TEXT("hello"),  DQLC_INT(42),       DQLC_NULL,
				 DQLC_FLOAT(1.5),     DQLC_BLOB("ab", 2), DQLC_BOOL(1),
				 DQLC_ISO8601("2024-01-02"), DQLC_UNIXTIME(86400),
				 DQLC_TEXTN("xyz", 2)};
	static const int types[] = {DQLC_TYPE_TEXT,    DQLC_TYPE_INTEGER, DQLC_TYPE_NULL,
				    DQLC_TYPE_FLOAT,   DQLC_TYPE_BLOB,    DQLC_TYPE_BOOLEAN,
				    DQLC_TYPE_ISO8601, DQLC_TYPE_UNIXTIME, DQLC_TYPE_TEXT};
	dqlc_req_opts_t opts = {sizeof(dqlc_req_opts_t), 250, DQLC_REQ_IDEMPOTENT};
	dqlc_error_t err;
	dqlc_value_t copy;
	dqlc_config_t *cfg;
	char version[32];
	size_t i;

	CHECK(N_ELEMS(params) == N_ELEMS(types));
	for (i = 0; i < N_ELEMS(params); i++)
		CHECK(params[i].type == types[i]);
	CHECK(params[1].v.i == 42);
	CHECK(params[8].v.s.n == 2);

	snprintf(version, sizeof version, "%d.%d.%d", DQLC_VERSION_MAJOR, DQLC_VERSION_MINOR,
		 DQLC_VERSION_PATCH);
	CHECK(strcmp(dqlc_version_string(), version) == 0);
	CHECK(dqlc_version_number() == DQLC_VERSION_NUMBER);
	printf("dqlite-client %s (%d)\n", dqlc_version_string(), dqlc_version_number());

#define XX(name, num, desc) CHECK(strcmp(dqlc_strerror(DQLC_##name), desc) == 0);
	DQLC_ERRNO_MAP(XX)
#undef XX
	CHECK(strcmp(dqlc_errname(DQLC_ETIMEDOUT), "DQLC_ETIMEDOUT") == 0);
	CHECK(strcmp(dqlc_type_name(DQLC_TYPE_BOOLEAN), "BOOLEAN") == 0);

	CHECK(dqlc_value_copy(&copy, &params[0]) == 0);
	CHECK(copy.v.s.p != params[0].v.s.p && strcmp(copy.v.s.p, "hello") == 0);
	dqlc_value_clear(&copy);

	cfg = dqlc_config_new();
	CHECK(cfg != NULL);
	dqlc_error_clear(&err);
	CHECK(dqlc_config_from_uri(cfg, "dqlite://127.0.0.1:9001,127.0.0.1:9002/db?workers=2",
				   &err) == 0);
	CHECK(dqlc_config_set(cfg, "no_such_key", "1", &err) == DQLC_EINVAL);
	CHECK(err.code == DQLC_EINVAL && strstr(err.message, "no_such_key") != NULL);
	dqlc_config_free(cfg);

	CHECK(opts.timeout_ms == 250);
	dqlc_result_free(NULL);
	dqlc_future_free(NULL);
	dqlc_pool_close(NULL);
	dqlc_conn_close(NULL);
	return failures == 0 ? 0 : 1;
}
