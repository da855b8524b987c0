/*
 * libdqlite's header and ours in one translation unit (DESIGN.md §2: the
 * dqlc_/DQLC_ names must never clash with libdqlite's dqlite_/DQLITE_), in
 * strict C11, linked against both libraries.
 */
#include <dqlite.h>
#include <dqlite-client.h>

#include <stdio.h>
#include <string.h>

int main(void)
{
	int failures = 0;
	dqlc_value_t v[] = {DQLC_INT(DQLITE_ERROR), DQLC_TEXT("x")};

	if (dqlite_version_number() < 10000) {
		fprintf(stderr, "libdqlite reports version %d\n",
			dqlite_version_number());
		failures++;
	}
	if (dqlc_version_number() != DQLC_VERSION_NUMBER) {
		fprintf(stderr, "dqlc_version_number() %d != %d\n", dqlc_version_number(),
			DQLC_VERSION_NUMBER);
		failures++;
	}
	if (v[0].v.i != DQLITE_ERROR || v[1].type != DQLC_TYPE_TEXT) {
		fprintf(stderr, "values\n");
		failures++;
	}
	/* DQLITE_ and DQLC_ names side by side */
	if (strcmp(dqlc_strerror(DQLC_EINVAL), "invalid argument") != 0) {
		fprintf(stderr, "dqlc_strerror\n");
		failures++;
	}
	printf("libdqlite %d and dqlite-client %s in one program\n", dqlite_version_number(),
	       dqlc_version_string());
	return failures == 0 ? 0 : 1;
}
