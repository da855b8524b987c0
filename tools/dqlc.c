/*
 * dqlc: interactive and scriptable shell for dqlite, on the client library.
 *
 * One connection to the leader (dqlc_connect) carries everything, so a
 * transaction opened with BEGIN stays open across lines until COMMIT or
 * ROLLBACK.  Input of every kind (arguments, files, standard input, the
 * terminal) goes through the same feeder: text is split into complete
 * statements (shell-split.c) and dot commands, each run in turn.
 */
#include <errno.h>
#include <fcntl.h>
#include <locale.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "shell-args.h"
#include "shell-buf.h"
#include "shell-input.h"
#include "shell-output.h"
#include "shell-split.h"
#include "shell.h"

/* ---- Errors -------------------------------------------------------------------- */

static void verror(struct shell *sh, const char *fmt, va_list ap)
{
	fflush(sh->out);
	fputs("dqlc: ", stderr);
	if (sh->where != NULL)
		fprintf(stderr, "%s:%ld: ", sh->where, sh->where_line);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	fflush(stderr);
	sh->errors++;
}

void shell_error(struct shell *sh, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	verror(sh, fmt, ap);
	va_end(ap);
}

void shell_lib_error(struct shell *sh, int code, const dqlc_error_t *err)
{
	shell_error(sh, "%s: %s", dqlc_errname(code),
		    err != NULL && err->message[0] != '\0' ? err->message : dqlc_strerror(code));
}

/* ---- Connection -------------------------------------------------------------------- */

static void set_conn(struct shell *sh, dqlc_conn_t *c)
{
	pthread_mutex_lock(&sh->conn_mu);
	sh->conn = c;
	pthread_mutex_unlock(&sh->conn_mu);
}

int shell_conn(struct shell *sh, dqlc_conn_t **out, dqlc_error_t *err)
{
	dqlc_conn_t *c = NULL;
	int rv;
	if (sh->conn != NULL && !dqlc_conn_usable(sh->conn))
		shell_drop_conn(sh);
	if (sh->conn == NULL) {
		rv = dqlc_connect(NULL, sh->cfg, &c, err);
		if (rv != 0)
			return rv;
		set_conn(sh, c);
	}
	*out = sh->conn;
	return 0;
}

void shell_drop_conn(struct shell *sh)
{
	dqlc_conn_t *c = sh->conn;
	set_conn(sh, NULL);
	dqlc_conn_close(c);
}

bool shell_in_tx(struct shell *sh)
{
	return sh->conn != NULL && dqlc_conn_in_transaction(sh->conn);
}

bool shell_after_error(struct shell *sh, bool was_in_tx, const dqlc_error_t *err)
{
	bool moved = (err->flags & DQLC_ERRF_LEADER_CHANGED) != 0;
	if (sh->conn == NULL || (dqlc_conn_usable(sh->conn) && !moved))
		return false; /* an ordinary error: the connection stays */
	/* A transaction dies with its connection (the library says so itself
	 * when leadership moved). */
	if (was_in_tx && !moved)
		fprintf(stderr, "dqlc: connection lost: the open transaction was rolled back\n");
	shell_drop_conn(sh);
	return true;
}

bool shell_retry_safe(bool was_in_tx, const dqlc_error_t *err)
{
	return !was_in_tx && (err->flags & DQLC_ERRF_RETRYABLE) &&
	       !(err->flags & DQLC_ERRF_MAYBE_EXECUTED);
}

/* Ctrl-C (from the interrupt thread): cancel what runs. */
static bool on_intr(void *arg)
{
	struct shell *sh = arg;
	if (atomic_load(&sh->busy) <= 0)
		return false;
	atomic_store(&sh->interrupted, 1);
	pthread_mutex_lock(&sh->conn_mu);
	dqlc_conn_cancel(sh->conn);
	pthread_mutex_unlock(&sh->conn_mu);
	return true;
}

/* ---- Statements ---------------------------------------------------------------------- */

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* "not an error": dqlite 1.11 refuses a QUERY of a statement that has no
 * result columns before running it (PRAGMA x = y): send it as exec. */
static bool no_columns(int rv, const dqlc_error_t *err)
{
	size_t n = strlen(err->message);
	return rv == DQLC_ESQL && err->sqlite_code == 1 && n >= 12 &&
	       strcmp(err->message + n - 12, "not an error") == 0;
}

static int run_sql(struct shell *sh, const char *sql, size_t len)
{
	enum split_kind kind = split_classify(sql, len);
	const char *refusal = split_refusal(sql, len);
	char *text;
	dqlc_result_t *r = NULL;
	dqlc_error_t err;
	dqlc_conn_t *c;
	double t0 = now_ms();
	int rv;

	if (refusal != NULL) {
		shell_error(sh, "refused: %s", refusal);
		return -1;
	}
	text = xmalloc(len + 1);
	memcpy(text, sql, len);
	text[len] = '\0';
	for (int attempt = 0;; attempt++) {
		bool was_in_tx = shell_in_tx(sh);
		dqlc_error_clear(&err);
		atomic_fetch_add(&sh->busy, 1);
		rv = shell_conn(sh, &c, &err);
		if (rv == 0 && kind == SPLIT_QUERY) {
			rv = dqlc_conn_query(c, text, NULL, 0, &r, &err);
			if (no_columns(rv, &err)) {
				kind = SPLIT_EXEC;
				dqlc_error_clear(&err);
				rv = dqlc_conn_exec(c, text, NULL, 0, &r, &err);
			}
		} else if (rv == 0) {
			rv = dqlc_conn_exec(c, text, NULL, 0, &r, &err);
		}
		atomic_fetch_sub(&sh->busy, 1);
		if (rv == 0)
			break;
		/* Run it again on a new connection only when nothing was
		 * executed, or when it only reads (a query, outside a
		 * transaction). */
		if (!shell_after_error(sh, was_in_tx, &err) || attempt > 0 ||
		    atomic_load(&sh->interrupted))
			break;
		if (!shell_retry_safe(was_in_tx, &err) &&
		    !(kind == SPLIT_QUERY && !was_in_tx && !(err.flags & DQLC_ERRF_MAYBE_EXECUTED)))
			break;
	}
	if (rv != 0) {
		if (rv == DQLC_ECANCELED && sh->interactive)
			fputc('\n', stderr); /* after the terminal's ^C */
		shell_lib_error(sh, rv, &err);
		if (err.sqlite_code == 100 && kind == SPLIT_EXEC)
			fprintf(stderr, "dqlc: hint: the statement returns rows; dqlc sent it "
					"as exec because it may write, and dqlite refuses rows "
					"there\n");
	} else if (kind == SPLIT_QUERY) {
		if (dqlc_result_column_count(r) > 0)
			out_result(sh->out, sh->mode, r);
	} else if (sh->changes) {
		out_changes(sh->out, sh->mode, dqlc_result_rows_affected(r),
			    dqlc_result_last_insert_id(r));
	}
	fflush(sh->out);
	if (sh->timer)
		fprintf(stderr, "Time: %.3f ms\n", now_ms() - t0);
	dqlc_result_free(r);
	free(text);
	return rv == 0 ? 0 : -1;
}

/* ---- The feeder: text in, statements and dot commands out --------------------------- */

struct input {
	const char *name;  /* for messages; NULL: arguments, the terminal */
	bool bail;         /* stop at the first error */
	long line;         /* line number of buf[0] */
	struct sbuf buf;
};

static long count_lines(const char *p, size_t n)
{
	long k = 0;
	for (size_t i = 0; i < n; i++)
		k += p[i] == '\n';
	return k;
}

static void consume(struct input *in, size_t n)
{
	in->line += count_lines(in->buf.p, n);
	sbuf_consume(&in->buf, n);
}

/* Run every complete unit in the buffer; at_end: the input is over, so a
 * trailing statement without ';' runs too.  0, or -1 to stop (an error
 * with bail, or .quit). */
static int input_run(struct shell *sh, struct input *in, bool at_end)
{
	int rv;
	for (;;) {
		bool open;
		size_t skip, n;
		if (sh->quit)
			return -1;
		if (atomic_load(&sh->interrupted)) {
			sbuf_reset(&in->buf);
			return -1;
		}
		skip = split_skip_blank(in->buf.p, in->buf.len, &open);
		if (open && !at_end)
			return 0; /* inside a comment: wait for its end */
		consume(in, skip);
		if (in->buf.len == 0)
			return 0;
		sh->where = in->name;
		sh->where_line = in->line;
		if (in->buf.p[0] == '.') {
			/* A dot command runs to the end of its line or a ';'. */
			n = strcspn(in->buf.p, "\n;");
			if (n == in->buf.len && !at_end)
				return 0;
			rv = shell_dot(sh, in->buf.p, n);
			consume(in, n < in->buf.len ? n + 1 : n);
		} else {
			n = split_complete(in->buf.p, in->buf.len);
			if (n == 0) {
				if (!at_end)
					return 0;
				n = in->buf.len;
			}
			rv = split_is_blank(in->buf.p, n) ? 0 : run_sql(sh, in->buf.p, n);
			consume(in, n);
		}
		sh->where = NULL;
		if (rv != 0 && in->bail) {
			sbuf_reset(&in->buf);
			return -1;
		}
	}
}

static int input_feed(struct shell *sh, struct input *in, const char *text, size_t len)
{
	sbuf_add(&in->buf, text, len);
	return input_run(sh, in, false);
}

static int input_finish(struct shell *sh, struct input *in)
{
	int rv = input_run(sh, in, true);
	sbuf_free(&in->buf);
	return rv;
}

/* Something typed that is not a complete statement yet. */
static bool input_pending(const struct input *in)
{
	return in->buf.len > 0;
}

/* ---- Sources ------------------------------------------------------------------------- */

static int run_text(struct shell *sh, const char *text)
{
	struct input in = {NULL, !sh->opts->bail_off, 1, SBUF_INIT};
	int rv = input_feed(sh, &in, text, strlen(text));
	if (rv == 0)
		rv = input_finish(sh, &in);
	sbuf_free(&in.buf);
	return rv;
}

int shell_run_file(struct shell *sh, const char *path)
{
	struct input in = {NULL, !sh->opts->bail_off, 1, SBUF_INIT};
	struct reader *rd;
	const char *line;
	size_t len;
	int fd, rv = 0, rd_rv;

	if (sh->depth >= 16) {
		shell_error(sh, "%s: .read nested too deeply", path);
		return -1;
	}
	if (strcmp(path, "-") == 0) {
		fd = STDIN_FILENO;
		in.name = "<stdin>";
	} else {
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			shell_error(sh, "%s: %s", path, strerror(errno));
			return -1;
		}
		in.name = path;
	}
	sh->depth++;
	rd = reader_open_fd(fd);
	while ((rd_rv = reader_getline(rd, NULL, &line, &len)) == RD_LINE) {
		rv = input_feed(sh, &in, line, len);
		if (rv == 0)
			rv = input_feed(sh, &in, "\n", 1);
		if (rv != 0)
			break;
	}
	if (rd_rv == RD_ERROR) {
		shell_error(sh, "%s: %s", in.name, strerror(errno));
		rv = -1;
	}
	if (rv == 0)
		rv = input_finish(sh, &in);
	sbuf_free(&in.buf);
	reader_close(rd);
	if (fd != STDIN_FILENO)
		close(fd);
	sh->depth--;
	return rv;
}

/* ---- Interactive mode -------------------------------------------------------------- */

static char *history_file(void)
{
	const char *env = getenv("DQLC_HISTORY"), *home = getenv("HOME");
	struct sbuf b = SBUF_INIT;
	if (env != NULL)
		return env[0] != '\0' ? xstrdup(env) : NULL;
	if (home == NULL || home[0] == '\0') {
		struct passwd *pw = getpwuid(getuid());
		home = pw != NULL ? pw->pw_dir : NULL;
	}
	if (home == NULL)
		return NULL;
	sbuf_printf(&b, "%s/.dqlc_history", home);
	return b.p;
}

static void make_prompts(struct shell *sh, struct sbuf *main_p, struct sbuf *cont_p)
{
	size_t w;
	sbuf_reset(main_p);
	sbuf_reset(cont_p);
	sbuf_printf(main_p, "%s%s> ", sh->database, shell_in_tx(sh) ? "*" : "");
	w = main_p->len > 5 ? main_p->len - 5 : 0;
	for (size_t i = 0; i < w; i++)
		sbuf_addc(cont_p, ' ');
	sbuf_adds(cont_p, "...> ");
}

static int run_interactive(struct shell *sh)
{
	struct input in = {NULL, false, 1, SBUF_INIT};
	struct sbuf main_p = SBUF_INIT, cont_p = SBUF_INIT;
	struct reader *rd;
	char *hist = history_file();
	const char *line;
	size_t len;
	int intr_fd, rv;
	dqlc_error_t err;
	dqlc_conn_t *c;

	intr_fd = intr_start(on_intr, sh);
	rd = reader_open_tty(intr_fd, hist);
	free(hist);
	dqlc_error_clear(&err);
	if ((rv = shell_conn(sh, &c, &err)) == 0) {
		printf("dqlc %s: database %s on %s (the leader).  Type .help for help.\n",
		       PACKAGE_VERSION, sh->database, dqlc_conn_address(c));
	} else {
		shell_lib_error(sh, rv, &err);
		printf("dqlc %s: database %s, not connected (each statement tries again).  "
		       "Type .help for help.\n",
		       PACKAGE_VERSION, sh->database);
	}
	fflush(stdout);
	while (!sh->quit) {
		make_prompts(sh, &main_p, &cont_p);
		rv = reader_getline(rd, input_pending(&in) ? cont_p.p : main_p.p, &line, &len);
		if (rv == RD_EOF || rv == RD_ERROR)
			break;
		if (rv == RD_INTR) {
			sbuf_reset(&in.buf);
			continue;
		}
		reader_history_add(rd, line);
		atomic_store(&sh->interrupted, 0);
		if (input_feed(sh, &in, line, len) == 0)
			input_feed(sh, &in, "\n", 1);
		if (atomic_load(&sh->interrupted))
			sbuf_reset(&in.buf);
	}
	if (!sh->quit) {
		fputc('\n', stdout);
		fflush(stdout);
	}
	reader_close(rd);
	sbuf_free(&in.buf);
	sbuf_free(&main_p);
	sbuf_free(&cont_p);
	return 0;
}

/* ---- main ---------------------------------------------------------------------------- */

int main(int argc, char **argv)
{
	struct shell_opts opts;
	struct shell sh;
	dqlc_error_t err;
	int rv, code;

	setlocale(LC_CTYPE, "");
	rv = shell_args_parse(&opts, argc, argv);
	if (rv >= 0) {
		shell_args_free(&opts);
		return rv;
	}

	memset(&sh, 0, sizeof sh);
	sh.opts = &opts;
	sh.out = stdout;
	sh.mode = opts.mode;
	sh.database = shell_args_database(&opts);
	pthread_mutex_init(&sh.conn_mu, NULL);
	atomic_init(&sh.busy, 0);
	atomic_init(&sh.interrupted, 0);
	dqlc_error_clear(&err);
	rv = shell_args_config(&opts, &sh.cfg, &err);
	if (rv != 0) {
		shell_lib_error(&sh, rv, &err);
		shell_args_free(&opts);
		return 2;
	}

	if (opts.n_srcs > 0) {
		for (size_t i = 0; i < opts.n_srcs && !sh.quit; i++) {
			rv = opts.srcs[i].kind == SRC_FILE ? shell_run_file(&sh, opts.srcs[i].text)
							   : run_text(&sh, opts.srcs[i].text);
			if (rv != 0 && !opts.bail_off)
				break;
		}
	} else if (isatty(STDIN_FILENO)) {
		sh.interactive = true;
		run_interactive(&sh);
	} else {
		shell_run_file(&sh, "-");
	}

	if (sh.quit && sh.exit_code >= 0)
		code = sh.exit_code; /* .exit N */
	else
		code = !sh.interactive && sh.errors > 0 ? 1 : 0;
	if (shell_in_tx(&sh) && !sh.interactive)
		fprintf(stderr, "dqlc: warning: a transaction was still open at the end: it was "
				"rolled back\n");
	shell_drop_conn(&sh);
	dqlc_config_free(sh.cfg);
	shell_args_free(&opts);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "dqlc: error writing the output: %s\n", strerror(errno));
		code = 1;
	}
	return code;
}
