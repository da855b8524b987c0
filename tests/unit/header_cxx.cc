// The public header from C++11: compiled with -std=c++11 -Wall -Wextra
// -pedantic -Werror and only include/ on the include path, linked against
// the shared library (the declarations have C linkage).
#include <dqlite-client.h>

#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

static int failures;

#define CHECK(cond)                                                                        \
	do {                                                                               \
		if (!(cond)) {                                                             \
			std::fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, \
				     #cond);                                               \
			failures++;                                                        \
		}                                                                          \
	} while (0)

int main()
{
	const dqlc_value_t params[] = {DQLC_TEXT("hello"), DQLC_INT(42), DQLC_NULL,
				       DQLC_FLOAT(0.25),   DQLC_BLOB("\0x", 2), DQLC_BOOL(true),
				       DQLC_ISO8601("2024-01-02"), DQLC_UNIXTIME(7)};
	std::vector<dqlc_value_t> v(params, params + sizeof params / sizeof params[0]);
	CHECK(v.size() == 8);
	CHECK(v[0].type == DQLC_TYPE_TEXT && v[0].v.s.n == 5);
	CHECK(v[1].type == DQLC_TYPE_INTEGER && v[1].v.i == 42);
	CHECK(v[2].type == DQLC_TYPE_NULL);
	CHECK(v[4].type == DQLC_TYPE_BLOB && v[4].v.s.n == 2);
	CHECK(v[5].type == DQLC_TYPE_BOOLEAN && v[5].v.i == 1);

	CHECK(dqlc_version_number() == DQLC_VERSION_NUMBER);
	CHECK(std::string(dqlc_version_string()).size() >= 5);
	CHECK(std::string(dqlc_strerror(DQLC_ENOLEADER)) == "no leader found");
	CHECK(std::string(dqlc_errname(DQLC_EMISUSE)) == "DQLC_EMISUSE");
	CHECK(std::string(dqlc_type_name(DQLC_TYPE_ISO8601)) == "ISO8601");
	CHECK(std::string(dqlc_role_name(DQLC_ROLE_STANDBY)) == "standby");

	dqlc_value_t copy;
	CHECK(dqlc_value_copy(&copy, &v[4]) == 0);
	CHECK(std::memcmp(copy.v.s.p, "\0x", 2) == 0);
	dqlc_value_clear(&copy);

	dqlc_error_t err;
	dqlc_error_clear(&err);
	dqlc_config_t *cfg = dqlc_config_new();
	CHECK(cfg != nullptr);
	CHECK(dqlc_config_set(cfg, "workers", "3", &err) == 0);
	CHECK(dqlc_config_set(cfg, "workers", "0", &err) == DQLC_EINVAL);
	CHECK(std::string(err.message).find("workers") != std::string::npos);
	dqlc_config_free(cfg);

	dqlc_req_opts_t opts = {sizeof(dqlc_req_opts_t), 100, DQLC_REQ_IDEMPOTENT};
	CHECK(opts.flags == DQLC_REQ_IDEMPOTENT);
	dqlc_pool_stats_t st;
	std::memset(&st, 0, sizeof st);
	st.struct_size = sizeof st;
	CHECK(dqlc_pool_stats(nullptr, &st, &err) == DQLC_EINVAL);
	dqlc_result_free(nullptr);
	std::printf("dqlite-client %s from C++\n", dqlc_version_string());
	return failures == 0 ? 0 : 1;
}
