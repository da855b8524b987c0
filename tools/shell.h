/* dqlc: the shell's session, shared by dqlc.c and the dot commands. */
#ifndef DQLC_SHELL_H
#define DQLC_SHELL_H

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>

#include "dqlite-client.h"
#include "shell-args.h"

struct shell {
	const struct shell_opts *opts;
	dqlc_config_t *cfg;
	const char *database;
	FILE *out;

	/* The connection to the leader: opened on first use, reopened after it
	 * broke or leadership moved.  conn_mu guards the pointer against the
	 * Ctrl-C thread (which only calls dqlc_conn_cancel on it). */
	dqlc_conn_t *conn;
	pthread_mutex_t conn_mu;

	int mode;        /* OUT_* */
	bool changes;    /* .changes on */
	bool timer;      /* .timer on */
	bool interactive;

	/* Where the unit being run came from, for messages: a file name and
	 * line, or NULL for arguments and the terminal. */
	const char *where;
	long where_line;

	int errors;      /* errors reported so far */
	bool quit;       /* .quit / .exit */
	int exit_code;   /* .exit N */
	int depth;       /* .read nesting */

	atomic_int busy;        /* > 0 while a statement or dot command runs */
	atomic_int interrupted; /* Ctrl-C while one ran: drop the rest of the input */
};

/* Report an error on stderr ("dqlc: [where:] message") and count it. */
void shell_error(struct shell *sh, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The same for a library error: "DQLC_ENAME: message". */
void shell_lib_error(struct shell *sh, int code, const dqlc_error_t *err);

/* The leader connection, opening it if needed.  0 or a DQLC_E* code. */
int shell_conn(struct shell *sh, dqlc_conn_t **out, dqlc_error_t *err);
/* Close the leader connection (the next use opens a new one). */
void shell_drop_conn(struct shell *sh);
/* After a failed call on the leader connection: drop it when it broke or
 * leadership moved (true then). */
bool shell_after_error(struct shell *sh, bool was_in_tx, const dqlc_error_t *err);
/* May a call that failed so run again on a new connection: nothing of it
 * was executed and no transaction was open. */
bool shell_retry_safe(bool was_in_tx, const dqlc_error_t *err);
bool shell_in_tx(struct shell *sh);

/* Run the statements and dot commands in a file (.read, -i).  "-" is
 * standard input.  0, or -1 when it stopped at an error. */
int shell_run_file(struct shell *sh, const char *path);

/* Dot commands (shell-dot.c).  line: the command without its terminator.
 * 0, or -1 after reporting an error. */
int shell_dot(struct shell *sh, const char *line, size_t len);

#endif
