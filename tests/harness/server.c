/* The dqlite server under test (see server.h). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server.h"

#ifndef DQLC_NODE_BIN_DEFAULT
#define DQLC_NODE_BIN_DEFAULT "tools/dqlc-node"
#endif

static pthread_once_t once = PTHREAD_ONCE_INIT;
static int version = -1;
static char describe[768];

/* Append the first line of `cmd`'s output (trailing newline dropped). */
static void first_line(const char *cmd, char *out, size_t cap)
{
	FILE *f = popen(cmd, "r");
	out[0] = '\0';
	if (f == NULL)
		return;
	if (fgets(out, (int)cap, f) == NULL)
		out[0] = '\0';
	out[strcspn(out, "\n")] = '\0';
	/* Drain, so the command never dies of SIGPIPE. */
	char skip[256];
	while (fgets(skip, sizeof skip, f) != NULL)
		;
	pclose(f);
}

static void detect(void)
{
	const char *env = getenv("DQLC_NODE_BIN");
	const char *bin = env != NULL && env[0] != '\0' ? env : DQLC_NODE_BIN_DEFAULT;
	char cmd[1200], line[256] = "", package[256] = "";
	/* The node program prints "... libdqlite N)"; a wrapper for a node
	 * built elsewhere (scripts/trixie-node.sh) prints its package on a
	 * second line. */
	snprintf(cmd, sizeof cmd, "'%s' --version 2>&1 | head -n 1", bin);
	first_line(cmd, line, sizeof line);
	snprintf(cmd, sizeof cmd, "'%s' --version 2>/dev/null | sed -n 2p", bin);
	first_line(cmd, package, sizeof package);
	if (package[0] == '\0')
		first_line("dpkg-query -W -f='libdqlite0 ${Version} (this host)' libdqlite0 "
			   "2>/dev/null",
			   package, sizeof package);
	const char *p = strstr(line, "libdqlite ");
	if (p != NULL)
		version = atoi(p + strlen("libdqlite "));
	if (version <= 0) {
		version = -1;
		snprintf(describe, sizeof describe,
			 "UNKNOWN: '%s --version' said \"%s\" (tests that depend on the "
			 "server version will fail)",
			 bin, line);
		return;
	}
	snprintf(describe, sizeof describe,
		 "dqlite_version_number %d (%s generation), %s, node program %s", version,
		 version < 11200 ? "1.11" : "1.12+", package[0] ? package : "package unknown",
		 bin);
}

int tc_server_version(void)
{
	pthread_once(&once, detect);
	return version;
}

bool tc_server_is_1_11(void)
{
	int v = tc_server_version();
	if (v < 0) {
		fprintf(stderr, "harness: the server version is unknown: %s\n", describe);
		abort();
	}
	return v < 11200;
}

const char *tc_server_describe(void)
{
	pthread_once(&once, detect);
	return describe;
}

/* Each suite names its server once, when it starts. */
__attribute__((constructor)) static void announce(void)
{
	fprintf(stderr, "harness: server under test: %s\n", tc_server_describe());
}
