/* dqlc: command line. */
#ifndef DQLC_SHELL_ARGS_H
#define DQLC_SHELL_ARGS_H

#include <stdbool.h>
#include <stddef.h>

#include "dqlite-client.h"

/* One source of SQL, run in command-line order. */
enum shell_src_kind {
	SRC_SQL,  /* -e SQL or a positional SQL argument */
	SRC_FILE, /* -i FILE ("-" is standard input) */
};
struct shell_src {
	enum shell_src_kind kind;
	const char *text; /* the SQL, or the file name */
};

struct shell_opts {
	const char *servers;  /* -s / DQLC_SERVERS: "a,b,c" or a dqlite:// URI */
	const char *database; /* the DATABASE argument; NULL when the URI names it */
	char *owned_database; /* the database named in the URI */
	int mode;             /* OUT_* (shell-output.h) */
	const char *cert, *key, *ca, *tls_mode, *server_name;
	long timeout_ms;      /* 0: the library's defaults */
	bool bail_off;        /* --continue */
	struct shell_src *srcs;
	size_t n_srcs;
};

/* Parse argv.  Returns -1 when the shell should run, otherwise the exit
 * code to return at once (0 after --help/--version, 2 on a usage error,
 * reported on stderr). */
int shell_args_parse(struct shell_opts *o, int argc, char **argv);
void shell_args_free(struct shell_opts *o);

/* Build the library configuration: nodes (or the URI), database, TLS keys,
 * timeouts.  Returns 0 or a DQLC_E* code with err filled. */
int shell_args_config(const struct shell_opts *o, dqlc_config_t **out, dqlc_error_t *err);

/* The database the shell opens (for the prompt and .dump). */
const char *shell_args_database(const struct shell_opts *o);

#endif
