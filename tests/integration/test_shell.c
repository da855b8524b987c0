/*
 * dqlc, the shell, against a real 3-node cluster: every dot command, every
 * output mode (exact bytes), errors and exit codes, SQL from arguments, -e,
 * -i, .read and standard input, statement splitting, transactions across
 * lines, a dead cluster, TLS, and the output of go-dqlite's `dqlite` shell
 * on the same data where the two overlap.
 *
 * Each test runs the built tools/dqlc (and /usr/bin/dqlite) as a child
 * process and checks its stdout, stderr and exit status.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cluster.h"
#include "server.h"

extern char **environ;

#ifndef DQLC_SHELL_BIN_DEFAULT
#define DQLC_SHELL_BIN_DEFAULT "tools/dqlc"
#endif
#define GO_DQLITE_BIN_DEFAULT "/usr/bin/dqlite"

static dqlc_test_cluster_t *shared;

static const char *dqlc_bin(void)
{
	const char *b = getenv("DQLC_SHELL_BIN");
	return b != NULL && *b ? b : DQLC_SHELL_BIN_DEFAULT;
}

static const char *go_bin(void)
{
	const char *b = getenv("DQLC_GO_DQLITE_BIN");
	return b != NULL && *b ? b : GO_DQLITE_BIN_DEFAULT;
}

/* ---- Running programs -------------------------------------------------------- */

struct run {
	int status; /* exit code; 128+N for signal N; -1 when it had to be killed */
	char *out, *err;
	size_t out_len;
	double secs;
};

static double mono(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *p = NULL;
	size_t n = 0, cap = 0, k;
	ck_assert_msg(f != NULL, "open %s: %s", path, strerror(errno));
	do {
		if (cap - n < 4096) {
			cap = cap * 2 + 8192;
			p = realloc(p, cap);
			ck_assert_ptr_nonnull(p);
		}
		k = fread(p + n, 1, cap - n - 1, f);
		n += k;
	} while (k > 0);
	fclose(f);
	p[n] = '\0';
	if (len != NULL)
		*len = n;
	return p;
}

static void spit(const char *path, const char *text)
{
	FILE *f = fopen(path, "wb");
	ck_assert_msg(f != NULL, "create %s: %s", path, strerror(errno));
	ck_assert_int_eq(fwrite(text, 1, strlen(text), f), strlen(text));
	ck_assert_int_eq(fclose(f), 0);
}

/* Every test's directory lives in root, which main() removes at the end
 * (a test that fails under CK_FORK=yes exits before its teardown). */
static char root[256];
static char tmpdir[320];

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void tmp_setup(void)
{
	snprintf(tmpdir, sizeof tmpdir, "%s/test-XXXXXX", root);
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void tmp_teardown(void)
{
	if (tmpdir[0] != '\0')
		nftw(tmpdir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	tmpdir[0] = '\0';
}

static const char *tmp_path(const char *name)
{
	static char buf[4][512];
	static int k;
	char *p = buf[k++ % 4];
	snprintf(p, sizeof buf[0], "%s/%s", tmpdir, name);
	return p;
}

/* Run argv (argv[0] is the program) with stdin from stdin_text (NULL:
 * /dev/null), in cwd (NULL: ours), with env_extra ("K=V", NULL-terminated;
 * may be NULL) added to the environment.  Killed after 60 s. */
static void run_full(struct run *r, const char *cwd, const char *const *env_extra,
		     const char *stdin_text, const char *const *argv)
{
	posix_spawn_file_actions_t fa;
	char in_path[600], out_path[600], err_path[600];
	static int seq;
	char **envp;
	size_t n_env = 0, n_extra = 0;
	pid_t pid;
	int st, rc;

	memset(r, 0, sizeof *r);
	snprintf(in_path, sizeof in_path, "%s/.run%d.in", tmpdir, seq);
	snprintf(out_path, sizeof out_path, "%s/.run%d.out", tmpdir, seq);
	snprintf(err_path, sizeof err_path, "%s/.run%d.err", tmpdir, seq);
	seq++;
	spit(in_path, stdin_text != NULL ? stdin_text : "");

	while (environ[n_env] != NULL)
		n_env++;
	while (env_extra != NULL && env_extra[n_extra] != NULL)
		n_extra++;
	envp = calloc(n_env + n_extra + 1, sizeof *envp);
	ck_assert_ptr_nonnull(envp);
	for (size_t i = 0; i < n_extra; i++)
		envp[i] = (char *)env_extra[i];
	for (size_t i = 0; i < n_env; i++)
		envp[n_extra + i] = environ[i];

	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, stdin_text != NULL ? in_path : "/dev/null",
					 O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 1, out_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	posix_spawn_file_actions_addopen(&fa, 2, err_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (cwd != NULL)
		posix_spawn_file_actions_addchdir_np(&fa, cwd);
	r->secs = mono();
	rc = posix_spawn(&pid, argv[0], &fa, NULL, (char *const *)argv, envp);
	posix_spawn_file_actions_destroy(&fa);
	free(envp);
	ck_assert_msg(rc == 0, "spawn %s: %s", argv[0], strerror(rc));
	for (;;) {
		pid_t w = waitpid(pid, &st, WNOHANG);
		ck_assert_int_ne(w, -1);
		if (w == pid)
			break;
		if (mono() - r->secs > 60) {
			kill(pid, SIGKILL);
			waitpid(pid, &st, 0);
			r->status = -1;
			break;
		}
		usleep(2000);
	}
	r->secs = mono() - r->secs;
	if (r->status == 0)
		r->status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	r->out = slurp(out_path, &r->out_len);
	r->err = slurp(err_path, NULL);
	unlink(in_path);
	unlink(out_path);
	unlink(err_path);
}

static void run_free(struct run *r)
{
	free(r->out);
	free(r->err);
	r->out = r->err = NULL;
}

#define MAX_ARGV 32

/* dqlc -s <the shared cluster> ARGS... (NULL-terminated). */
static void dq_v(struct run *r, const char *cwd, const char *const *env_extra,
		 const char *stdin_text, va_list ap)
{
	const char *argv[MAX_ARGV];
	int n = 0;
	argv[n++] = dqlc_bin();
	argv[n++] = "-s";
	argv[n++] = tc_addresses(shared);
	while ((argv[n] = va_arg(ap, const char *)) != NULL) {
		n++;
		ck_assert_int_lt(n, MAX_ARGV - 1);
	}
	run_full(r, cwd, env_extra, stdin_text, argv);
}

static void dq(struct run *r, const char *stdin_text, ...)
{
	va_list ap;
	va_start(ap, stdin_text);
	dq_v(r, NULL, NULL, stdin_text, ap);
	va_end(ap);
}

/* The same in directory cwd with env_extra added to the environment. */
static void dq_in(struct run *r, const char *cwd, const char *const *env_extra,
		  const char *stdin_text, ...)
{
	va_list ap;
	va_start(ap, stdin_text);
	dq_v(r, cwd, env_extra, stdin_text, ap);
	va_end(ap);
}

/* go-dqlite's shell: dqlite -s <the leader's address ...> ARGS... */
static void godq(struct run *r, const char *cwd, ...)
{
	const char *argv[MAX_ARGV];
	va_list ap;
	int n = 0;
	ck_assert_msg(access(go_bin(), X_OK) == 0,
		      "go-dqlite's shell %s is missing (Debian: apt-get install go-dqlite)",
		      go_bin());
	argv[n++] = go_bin();
	argv[n++] = "-s";
	argv[n++] = tc_addresses(shared);
	va_start(ap, cwd);
	while ((argv[n] = va_arg(ap, const char *)) != NULL)
		n++;
	va_end(ap);
	run_full(r, cwd, NULL, NULL, argv);
}

#define SHOW_FMT "exit %d after %.2f s\n--- stdout ---\n%s--- stderr ---\n%s"
#define SHOW_ARGS(r) (r).status, (r).secs, (r).out, (r).err
#define SHOW(r) SHOW_FMT, SHOW_ARGS(r)

#define EXPECT_OK(r) ck_assert_msg((r).status == 0 && (r).err[0] == '\0', SHOW(r))
#define EXPECT_OUT(r, want)                                                               \
	do {                                                                              \
		EXPECT_OK(r);                                                             \
		ck_assert_msg(strcmp((r).out, (want)) == 0, "want:\n%s\n" SHOW_FMT, (want),   \
			      SHOW_ARGS(r));                                               \
	} while (0)
#define EXPECT_FAIL(r, code, err_want)                                                    \
	do {                                                                              \
		ck_assert_msg((r).status == (code), "want exit %d\n" SHOW_FMT, (code),   \
			      SHOW_ARGS(r));                                               \
		ck_assert_msg(strstr((r).err, (err_want)) != NULL,                        \
			      "want on stderr: %s\n" SHOW_FMT, (err_want), SHOW_ARGS(r));   \
	} while (0)

/* Run SQL that must succeed silently. */
static void sql_ok(const char *db, const char *sql)
{
	struct run r;
	dq(&r, NULL, db, sql, NULL);
	EXPECT_OUT(r, "");
	run_free(&r);
}

/* ---- A small JSON reader (arrays of flat objects), to compare parsed
 * values where byte formats legitimately differ. ------------------------------ */

struct jval {
	char key[64];
	char kind;  /* 'n' number, 's' string, 'z' null, 'b' true/false, 'o' object (raw) */
	char text[256];
};
struct jobj {
	struct jval v[16];
	int n;
};

static void jskip(const char **p)
{
	while (**p == ' ' || **p == '\t' || **p == '\n' || **p == '\r')
		(*p)++;
}

static void put_utf8(char **o, unsigned cp)
{
	if (cp < 0x80) {
		*(*o)++ = (char)cp;
	} else if (cp < 0x800) {
		*(*o)++ = (char)(0xc0 | (cp >> 6));
		*(*o)++ = (char)(0x80 | (cp & 0x3f));
	} else {
		*(*o)++ = (char)(0xe0 | (cp >> 12));
		*(*o)++ = (char)(0x80 | ((cp >> 6) & 0x3f));
		*(*o)++ = (char)(0x80 | (cp & 0x3f));
	}
}

static bool jstring(const char **p, char *out, size_t cap)
{
	char *o = out, *end = out + cap - 4;
	if (**p != '"')
		return false;
	(*p)++;
	while (**p != '"') {
		if (**p == '\0' || o >= end)
			return false;
		if (**p == '\\') {
			(*p)++;
			switch (**p) {
			case 'n': *o++ = '\n'; break;
			case 't': *o++ = '\t'; break;
			case 'r': *o++ = '\r'; break;
			case 'b': *o++ = '\b'; break;
			case 'f': *o++ = '\f'; break;
			case 'u': {
				unsigned cp = 0;
				for (int i = 1; i <= 4; i++) {
					char c = (*p)[i];
					cp = cp * 16 + (unsigned)(c <= '9' ? c - '0' : (c | 32) - 'a' + 10);
				}
				put_utf8(&o, cp);
				*p += 4;
				break;
			}
			default: *o++ = **p; break;
			}
			(*p)++;
		} else {
			*o++ = *(*p)++;
		}
	}
	(*p)++;
	*o = '\0';
	return true;
}

static bool jobject(const char **p, struct jobj *ob)
{
	ob->n = 0;
	jskip(p);
	if (**p != '{')
		return false;
	(*p)++;
	jskip(p);
	if (**p == '}') {
		(*p)++;
		return true;
	}
	for (;;) {
		struct jval *v = &ob->v[ob->n++];
		if (ob->n > 16)
			return false;
		jskip(p);
		if (!jstring(p, v->key, sizeof v->key))
			return false;
		jskip(p);
		if (*(*p)++ != ':')
			return false;
		jskip(p);
		if (**p == '"') {
			v->kind = 's';
			if (!jstring(p, v->text, sizeof v->text))
				return false;
		} else if (**p == '{') {
			const char *s = *p;
			size_t n = strcspn(s, "}") + 1;
			v->kind = 'o';
			if (n >= sizeof v->text)
				return false;
			memcpy(v->text, s, n);
			v->text[n] = '\0';
			*p += n;
		} else {
			size_t n = strcspn(*p, ",} \t\r\n");
			if (n == 0 || n >= sizeof v->text)
				return false;
			memcpy(v->text, *p, n);
			v->text[n] = '\0';
			*p += n;
			v->kind = strcmp(v->text, "null") == 0 ? 'z'
				  : (strcmp(v->text, "true") == 0 || strcmp(v->text, "false") == 0) ? 'b'
				  : 'n';
		}
		jskip(p);
		if (**p == ',') {
			(*p)++;
			continue;
		}
		if (**p == '}') {
			(*p)++;
			return true;
		}
		return false;
	}
}

/* An array of objects; returns how many, -1 on a syntax error. */
static int jarray(const char *s, struct jobj *obs, int max)
{
	const char *p = s;
	int n = 0;
	jskip(&p);
	if (*p++ != '[')
		return -1;
	jskip(&p);
	if (*p == ']')
		return 0;
	for (;;) {
		if (n == max || !jobject(&p, &obs[n++]))
			return -1;
		jskip(&p);
		if (*p == ',') {
			p++;
			continue;
		}
		if (*p == ']')
			break;
		return -1;
	}
	p++;
	jskip(&p);
	return *p == '\0' ? n : -1;
}

static const struct jval *jget(const struct jobj *o, const char *key)
{
	for (int i = 0; i < o->n; i++)
		if (strcmp(o->v[i].key, key) == 0)
			return &o->v[i];
	return NULL;
}

/* ---- Fixtures -------------------------------------------------------------------- */

static void shared_up(void)
{
	shared = tc_start(3, NULL);
}

static void shared_down(void)
{
	tc_destroy(shared);
	shared = NULL;
}

static void each_up(void)
{
	ck_assert_msg(shared != NULL, "the shared cluster did not start");
	tmp_setup();
}

static void each_down(void)
{
	tmp_teardown();
}

/* ---- Command line ------------------------------------------------------------------ */

START_TEST(test_usage)
{
	struct run r;
	const char *help[] = {dqlc_bin(), "--help", NULL};
	const char *version[] = {dqlc_bin(), "--version", NULL};
	const char *no_servers[] = {dqlc_bin(), "db", NULL};
	const char *env_none[] = {"DQLC_SERVERS=", NULL};
	const char *no_db[] = {dqlc_bin(), "-s", "127.0.0.1:1", NULL};
	const char *bad_fmt[] = {dqlc_bin(), "-s", "127.0.0.1:1", "-f", "xml", "db", NULL};
	const char *bad_opt[] = {dqlc_bin(), "--frobnicate", "db", NULL};
	const char *half_tls[] = {dqlc_bin(), "-s", "127.0.0.1:1", "-c", "x.pem", "db", NULL};
	const char *file_store[] = {dqlc_bin(), "-s", "file:///x.yaml", "db", NULL};
	const char *bad_timeout[] = {dqlc_bin(), "-s", "127.0.0.1:1", "-t", "soon", "db", NULL};

	run_full(&r, NULL, NULL, NULL, help);
	EXPECT_OK(r);
	ck_assert_msg(strncmp(r.out, "Usage: dqlc [OPTIONS] DATABASE [SQL ...]\n", 41) == 0, SHOW(r));
	ck_assert_msg(strstr(r.out, "--continue") && strstr(r.out, "--file") &&
			  strstr(r.out, "--command") && strstr(r.out, "--tls-mode"),
		      SHOW(r));
	run_free(&r);

	run_full(&r, NULL, NULL, NULL, version);
	EXPECT_OK(r);
	ck_assert_msg(strncmp(r.out, "dqlc 0.1.0 (dqlite-client", 25) == 0, SHOW(r));
	ck_assert_msg(strstr(r.out, "\nlibrary 0.1.0\n") != NULL, SHOW(r));
	run_free(&r);

	run_full(&r, NULL, env_none, NULL, no_servers);
	EXPECT_FAIL(r, 2, "dqlc: no servers: give -s HOST:PORT[,...] or a dqlite:// URI, or set "
			  "DQLC_SERVERS\nTry 'dqlc --help'.\n");
	ck_assert_str_eq(r.out, "");
	run_free(&r);

	run_full(&r, NULL, NULL, NULL, no_db);
	EXPECT_FAIL(r, 2, "dqlc: no DATABASE given\n");
	run_free(&r);

	run_full(&r, NULL, NULL, NULL, bad_fmt);
	EXPECT_FAIL(r, 2, "dqlc: unknown format 'xml' (table, list, json, csv or line)\n");
	run_free(&r);

	run_full(&r, NULL, NULL, NULL, bad_opt);
	EXPECT_FAIL(r, 2, "dqlc: unknown option '--frobnicate'\n");
	run_free(&r);

	run_full(&r, NULL, NULL, NULL, half_tls);
	EXPECT_FAIL(r, 2, "dqlc: --cert and --key go together\n");
	run_free(&r);

	run_full(&r, NULL, NULL, NULL, file_store);
	EXPECT_FAIL(r, 2, "file:// node stores are not supported");
	run_free(&r);

	run_full(&r, NULL, NULL, NULL, bad_timeout);
	EXPECT_FAIL(r, 2, "dqlc: bad --timeout 'soon'");
	run_free(&r);
}
END_TEST

/* ---- Output modes: exact bytes ------------------------------------------------------ */

static const char modes_setup[] =
    "DROP TABLE IF EXISTS modes;"
    "CREATE TABLE modes (id INTEGER PRIMARY KEY, i INTEGER, f REAL, t TEXT, b BLOB);"
    "INSERT INTO modes VALUES (1, -42, 1.5, 'h\xc3\xa9llo', x'00ff00');"
    "INSERT INTO modes VALUES (2, NULL, NULL, '', NULL);"
    "INSERT INTO modes VALUES (3, 7, -0.25, CAST(x'ff61' AS TEXT), x'');"
    "INSERT INTO modes VALUES (4, 0, 1e100, 'a,\"b\"' || char(10) || 'c', x'41');"
    "INSERT INTO modes VALUES (5, 9223372036854775807, 2.0, 'NULL', x'0000');";
static const char modes_select[] = "SELECT i, f, t, b FROM modes ORDER BY id";

static void check_mode(const char *mode, const char *want)
{
	struct run r;
	dq(&r, NULL, "-f", mode, "shell", modes_select, NULL);
	EXPECT_OUT(r, want);
	run_free(&r);
	/* .mode gives the same as -f */
	char sql[256];
	snprintf(sql, sizeof sql, ".mode %s\n%s;", mode, modes_select);
	dq(&r, NULL, "shell", sql, NULL);
	EXPECT_OUT(r, want);
	run_free(&r);
}

START_TEST(test_modes)
{
	sql_ok("shell", modes_setup);
	check_mode("table",
		   "          i          |   f    |    t     |     b\n"
		   "---------------------+--------+----------+-----------\n"
		   "                 -42 |    1.5 | h\xc3\xa9llo    | X'00ff00'\n"
		   " NULL                | NULL   |          | NULL\n"
		   "                   7 |  -0.25 | \\xffa    | X''\n"
		   "                   0 | 1e+100 | a,\"b\"\\nc | X'41'\n"
		   " 9223372036854775807 |    2.0 | NULL     | X'0000'\n"
		   "(5 rows)\n");
	check_mode("list", "-42|1.5|h\xc3\xa9llo|X'00ff00'\n"
			   "NULL|NULL||NULL\n"
			   "7|-0.25|\\xffa|X''\n"
			   "0|1e+100|a,\"b\"\\nc|X'41'\n"
			   "9223372036854775807|2.0|NULL|X'0000'\n");
	check_mode("json",
		   "[{\"i\":-42,\"f\":1.5,\"t\":\"h\xc3\xa9llo\",\"b\":{\"$blob\":\"AP8A\"}},\n"
		   "{\"i\":null,\"f\":null,\"t\":\"\",\"b\":null},\n"
		   "{\"i\":7,\"f\":-0.25,\"t\":{\"$text_base64\":\"/2E=\"},\"b\":{\"$blob\":\"\"}},\n"
		   "{\"i\":0,\"f\":1e+100,\"t\":\"a,\\\"b\\\"\\nc\",\"b\":{\"$blob\":\"QQ==\"}},\n"
		   "{\"i\":9223372036854775807,\"f\":2.0,\"t\":\"NULL\",\"b\":{\"$blob\":\"AAA=\"}}]\n");
	check_mode("csv", "i,f,t,b\r\n"
			  "-42,1.5,h\xc3\xa9llo,X'00ff00'\r\n"
			  ",,\"\",\r\n"
			  "7,-0.25,\xff" "a,X''\r\n"
			  "0,1e+100,\"a,\"\"b\"\"\nc\",X'41'\r\n"
			  "9223372036854775807,2.0,NULL,X'0000'\r\n");
	check_mode("line", "i = -42\n"
			   "f = 1.5\n"
			   "t = h\xc3\xa9llo\n"
			   "b = X'00ff00'\n"
			   "\n"
			   "i = NULL\n"
			   "f = NULL\n"
			   "t = \n"
			   "b = NULL\n"
			   "\n"
			   "i = 7\n"
			   "f = -0.25\n"
			   "t = \\xffa\n"
			   "b = X''\n"
			   "\n"
			   "i = 0\n"
			   "f = 1e+100\n"
			   "t = a,\"b\"\\nc\n"
			   "b = X'41'\n"
			   "\n"
			   "i = 9223372036854775807\n"
			   "f = 2.0\n"
			   "t = NULL\n"
			   "b = X'0000'\n");
}
END_TEST

START_TEST(test_modes_edge)
{
	static const char *const utf8_env[] = {"LC_ALL=C.UTF-8", NULL};
	struct run r;
	/* Empty results: a header and (0 rows) in table mode, [] in json, a
	 * header line in csv, nothing in list and line. */
	sql_ok("shell", "DROP TABLE IF EXISTS empty; CREATE TABLE empty (a INTEGER, \"b c\" TEXT)");
	dq(&r, NULL, "shell", "SELECT * FROM empty", NULL);
	EXPECT_OUT(r, " a | b c\n---+-----\n(0 rows)\n");
	run_free(&r);
	dq(&r, NULL, "-f", "json", "shell", "SELECT * FROM empty", NULL);
	EXPECT_OUT(r, "[]\n");
	run_free(&r);
	dq(&r, NULL, "-f", "csv", "shell", "SELECT * FROM empty", NULL);
	EXPECT_OUT(r, "a,b c\r\n");
	run_free(&r);
	dq(&r, NULL, "-f", "list", "shell", "SELECT * FROM empty", NULL);
	EXPECT_OUT(r, "");
	run_free(&r);
	dq(&r, NULL, "-f", "line", "shell", "SELECT * FROM empty", NULL);
	EXPECT_OUT(r, "");
	run_free(&r);
	/* Floats that need 17 digits, tiny and huge ones, infinities, control
	 * characters and text that looks like a blob literal in csv. */
	dq(&r, NULL, "-f", "json", "shell",
	   "SELECT 0.1 AS a, 1.0/3 AS b, 1e-300 AS c, 9e999 AS d, -9e999 AS e, "
	   "'tab' || char(9) || 'bell' || char(7) AS f, 'X''00''' AS g, 1 = 1 AS h",
	   NULL);
	EXPECT_OUT(r, "[{\"a\":0.1,\"b\":0.3333333333333333,\"c\":1e-300,\"d\":1e999,\"e\":-1e999,"
		      "\"f\":\"tab\\tbell\\u0007\",\"g\":\"X'00'\",\"h\":1}]\n");
	run_free(&r);
	dq(&r, NULL, "-f", "csv", "shell",
	   "SELECT 0.1 + 0.2 AS a, 9e999 AS d, 'X''00''' AS g, ' sp ' AS s", NULL);
	EXPECT_OUT(r, "a,d,g,s\r\n0.30000000000000004,Inf,\"X'00'\", sp \r\n");
	run_free(&r);
	dq_in(&r, NULL, utf8_env, NULL, "-f", "table", "shell",
	   "SELECT 'tab' || char(9) || 'bell' || char(7) || char(13) AS f, "
	   "'\xe6\x97\xa5\xe6\x9c\xac' AS w",
	   NULL);
	EXPECT_OUT(r, "        f        |  w\n"
		      "-----------------+------\n"
		      " tab\\tbell\\x07\\r | \xe6\x97\xa5\xe6\x9c\xac\n"
		      "(1 row)\n");
	run_free(&r);
}
END_TEST

/* ---- Where SQL comes from ----------------------------------------------------------- */

static const char script[] =
    "DROP TABLE IF EXISTS trig_src; DROP TABLE IF EXISTS trig_log;\n"
    "CREATE TABLE trig_src (v TEXT);\n"
    "CREATE TABLE trig_log (v TEXT);\n"
    "CREATE TRIGGER trig AFTER INSERT ON trig_src\n"
    "BEGIN\n"
    "  INSERT INTO trig_log VALUES ('before;' || new.v);\n"
    "  INSERT INTO trig_log VALUES (CASE WHEN new.v = 'x' THEN 'case;end' ELSE 'other' END);\n"
    "END;\n"
    "INSERT INTO trig_src VALUES ('x'); -- a comment; with a semicolon\n"
    "/* a block\n"
    "   comment; with semicolons; */\n"
    "INSERT INTO trig_src\n"
    "  VALUES ('it''s;quoted');\n"
    "SELECT v FROM trig_log ORDER BY rowid;\n"
    "SELECT \"semi;colon\", [a;b], `c;d` FROM (SELECT 1 AS \"semi;colon\", 2 AS [a;b], 3 AS `c;d`)\n";
static const char script_out[] = "before;x\ncase;end\nbefore;it's;quoted\nother\n1|2|3\n";

START_TEST(test_sources)
{
	struct run r;
	/* Standard input (not a terminal). */
	dq(&r, script, "-f", "list", "shell", NULL);
	EXPECT_OUT(r, script_out);
	run_free(&r);
	/* -i FILE and --file FILE */
	spit(tmp_path("script.sql"), script);
	dq(&r, NULL, "-f", "list", "shell", "-i", tmp_path("script.sql"), NULL);
	EXPECT_OUT(r, script_out);
	run_free(&r);
	dq(&r, NULL, "-f", "list", "--file", tmp_path("script.sql"), "shell", NULL);
	EXPECT_OUT(r, script_out);
	run_free(&r);
	/* -i - reads standard input */
	dq(&r, script, "-f", "list", "shell", "-i", "-", NULL);
	EXPECT_OUT(r, script_out);
	run_free(&r);
	/* One argument holding the whole script; .read; -e */
	dq(&r, NULL, "-f", "list", "shell", script, NULL);
	EXPECT_OUT(r, script_out);
	run_free(&r);
	char read_cmd[600], want[600];
	snprintf(read_cmd, sizeof read_cmd, ".read %s", tmp_path("script.sql"));
	snprintf(want, sizeof want, "%safter\n", script_out);
	dq(&r, NULL, "-f", "list", "shell", read_cmd, "SELECT 'after'", NULL);
	EXPECT_OUT(r, want);
	run_free(&r);
	dq(&r, NULL, "-f", "list", "shell", "-e", read_cmd, "-e", "SELECT 'after'", NULL);
	EXPECT_OUT(r, want);
	run_free(&r);
	/* Sources run in command-line order: -e, -i and arguments mixed. */
	spit(tmp_path("two.sql"), "SELECT 2;\n");
	dq(&r, NULL, "-f", "list", "-e", "SELECT 1", "shell", "-i", tmp_path("two.sql"),
	   "SELECT 3; SELECT 4", "-e", "SELECT 5;", NULL);
	EXPECT_OUT(r, "1\n2\n3\n4\n5\n");
	run_free(&r);
	/* Several arguments, dot commands between statements, go-dqlite style
	 * (";" ends a dot command too). */
	dq(&r, NULL, "-f", "list", "shell", "SELECT 1;.mode json;SELECT 2 AS two", ".mode csv",
	   "SELECT 3 AS three", NULL);
	EXPECT_OUT(r, "1\n[{\"two\":2}]\nthree\r\n3\r\n");
	run_free(&r);
	/* After "--", SQL may start with '-'. */
	dq(&r, NULL, "-f", "list", "shell", "--", "-- a comment first\nSELECT 'dash'", NULL);
	EXPECT_OUT(r, "dash\n");
	run_free(&r);
	/* A statement without ';' at the end of the input runs; blank input
	 * and lone semicolons do nothing. */
	dq(&r, "SELECT 'no semicolon'", "-f", "list", "shell", NULL);
	EXPECT_OUT(r, "no semicolon\n");
	run_free(&r);
	dq(&r, "  ;;\n-- only a comment\n/* and another */\n", "shell", NULL);
	EXPECT_OUT(r, "");
	run_free(&r);
	/* DQLC_SERVERS and a dqlite:// URI naming the database. */
	{
		char env[512], uri[512];
		const char *envs[] = {env, NULL};
		const char *argv_env[] = {dqlc_bin(), "-f", "list", "shell", "SELECT 'env'", NULL};
		const char *argv_uri[] = {dqlc_bin(), "-f", "list", "-s", uri,
					  "SELECT count(*) FROM trig_log", NULL};
		snprintf(env, sizeof env, "DQLC_SERVERS=%s", tc_addresses(shared));
		run_full(&r, NULL, envs, NULL, argv_env);
		EXPECT_OUT(r, "env\n");
		run_free(&r);
		snprintf(uri, sizeof uri, "%s?request_timeout_ms=3000", tc_uri(shared, "shell"));
		run_full(&r, NULL, NULL, NULL, argv_uri);
		EXPECT_OUT(r, "4\n");
		run_free(&r);
	}
}
END_TEST

START_TEST(test_transactions)
{
	struct run r;
	sql_ok("shell", "DROP TABLE IF EXISTS tx; CREATE TABLE tx (n INTEGER)");
	/* BEGIN; INSERT; ROLLBACK across lines: the row is gone. */
	dq(&r, "BEGIN;\nINSERT INTO tx VALUES (1);\nSELECT count(*) FROM tx;\nROLLBACK;\n"
	       "SELECT count(*) FROM tx;\n",
	   "-f", "list", "shell", NULL);
	EXPECT_OUT(r, "1\n0\n");
	run_free(&r);
	/* Across separate arguments, committed. */
	dq(&r, NULL, "-f", "list", "shell", "BEGIN", "INSERT INTO tx VALUES (2)",
	   "INSERT INTO tx VALUES (3)", "COMMIT", "SELECT sum(n) FROM tx", NULL);
	EXPECT_OUT(r, "5\n");
	run_free(&r);
	/* A transaction left open at the end is rolled back, with a warning. */
	dq(&r, NULL, "-f", "list", "shell", "BEGIN; INSERT INTO tx VALUES (100)", NULL);
	ck_assert_msg(r.status == 0 && strstr(r.err, "transaction was still open") != NULL,
		      SHOW(r));
	run_free(&r);
	dq(&r, NULL, "-f", "list", "shell", "SELECT sum(n) FROM tx", NULL);
	EXPECT_OUT(r, "5\n");
	run_free(&r);
	/* An error inside a transaction stops the script: nothing commits. */
	dq(&r, "BEGIN;\nINSERT INTO tx VALUES (1000);\nINSERT INTO nosuch VALUES (1);\nCOMMIT;\n",
	   "shell", NULL);
	EXPECT_FAIL(r, 1, "dqlc: <stdin>:3: DQLC_ESQL: server error 1: no such table: nosuch\n");
	run_free(&r);
	dq(&r, NULL, "-f", "list", "shell", "SELECT sum(n) FROM tx", NULL);
	EXPECT_OUT(r, "5\n");
	run_free(&r);
}
END_TEST

/* ---- Errors and exit codes ---------------------------------------------------------- */

START_TEST(test_errors)
{
	struct run r;
	sql_ok("shell", "DROP TABLE IF EXISTS errs; CREATE TABLE errs (n INTEGER)");
	dq(&r, NULL, "shell", "SELEC 1", NULL);
	ck_assert_msg(r.status == 1 && r.out[0] == '\0', SHOW(r));
	ck_assert_str_eq(r.err, "dqlc: DQLC_ESQL: server error 1: near \"SELEC\": syntax error\n");
	run_free(&r);
	dq(&r, NULL, "shell", "SELECT * FROM nosuch", NULL);
	ck_assert_msg(r.status == 1, SHOW(r));
	ck_assert_str_eq(r.err, "dqlc: DQLC_ESQL: server error 1: no such table: nosuch\n");
	run_free(&r);
	dq(&r, NULL, "shell", ".frobnicate", NULL);
	ck_assert_msg(r.status == 1, SHOW(r));
	ck_assert_str_eq(r.err, "dqlc: unknown command: .frobnicate (try .help)\n");
	run_free(&r);
	/* The first error stops a script; statements after it do not run. */
	dq(&r, "INSERT INTO errs VALUES (1);\nSELECT * FROM nosuch;\nINSERT INTO errs VALUES (2);\n",
	   "shell", NULL);
	EXPECT_FAIL(r, 1, "dqlc: <stdin>:2: DQLC_ESQL: server error 1: no such table: nosuch\n");
	run_free(&r);
	dq(&r, NULL, "-f", "list", "shell", "SELECT group_concat(n) FROM errs", NULL);
	EXPECT_OUT(r, "1\n");
	run_free(&r);
	/* --continue (-b) runs the rest, and still exits 1. */
	spit(tmp_path("errs.sql"), "INSERT INTO errs VALUES (3);\n\n.nosuch\nSELEC;\n"
				   "INSERT INTO errs VALUES (4);\n");
	dq(&r, NULL, "--continue", "shell", "-i", tmp_path("errs.sql"), NULL);
	ck_assert_msg(r.status == 1, SHOW(r));
	ck_assert_msg(strstr(r.err, "dqlc: ") != NULL, SHOW(r));
	{
		char want[1024];
		snprintf(want, sizeof want,
			 "dqlc: %s:3: unknown command: .nosuch (try .help)\n"
			 "dqlc: %s:4: DQLC_ESQL: server error 1: near \"SELEC\": syntax error\n",
			 tmp_path("errs.sql"), tmp_path("errs.sql"));
		ck_assert_str_eq(r.err, want);
	}
	run_free(&r);
	dq(&r, NULL, "-f", "list", "-b", "shell", "SELECT group_concat(n) FROM errs", NULL);
	EXPECT_OUT(r, "1,3,4\n");
	run_free(&r);
	/* A missing script file. */
	dq(&r, NULL, "shell", "-i", tmp_path("nosuch.sql"), NULL);
	EXPECT_FAIL(r, 1, "nosuch.sql: No such file or directory\n");
	run_free(&r);
	/* Statements that crash dqlite 1.11 servers are refused, not sent. */
	dq(&r, NULL, "shell", "INSERT INTO errs VALUES (5) RETURNING n", NULL);
	EXPECT_FAIL(r, 1, "dqlc: refused: RETURNING is not supported");
	run_free(&r);
	dq(&r, NULL, "shell", "PRAGMA journal_mode = delete", NULL);
	EXPECT_FAIL(r, 1, "dqlc: refused: changing journal_mode is not supported");
	run_free(&r);
	dq(&r, NULL, "-f", "list", "shell", "SELECT group_concat(n) FROM errs; PRAGMA journal_mode",
	   NULL);
	if (tc_server_is_1_11()) {
		EXPECT_OUT(r, "1,3,4\nwal\n");
	} else {
		/* 1.18 runs a statement SQLite does not call read-only (this
		 * pragma) as a write, which may yield no row. */
		ck_assert_msg(strcmp(r.out, "1,3,4\n") == 0, SHOW(r));
		EXPECT_FAIL(r, 1, "rows yielded when none expected");
	}
	run_free(&r);
	/* A PRAGMA without result columns is retried as exec. */
	dq(&r, NULL, "-f", "list", "shell", "PRAGMA foreign_keys = ON; PRAGMA foreign_keys", NULL);
	EXPECT_OUT(r, "1\n");
	run_free(&r);
	/* .quit stops; .exit N sets the status. */
	dq(&r, NULL, "-f", "list", "shell", "SELECT 1; .quit; SELECT 2", "SELECT 3", NULL);
	EXPECT_OUT(r, "1\n");
	run_free(&r);
	dq(&r, "SELECT 1;\n.exit 3\nSELECT 2;\n", "-f", "list", "shell", NULL);
	ck_assert_msg(r.status == 3 && strcmp(r.out, "1\n") == 0, SHOW(r));
	run_free(&r);
	/* Usage errors of dot commands. */
	dq(&r, NULL, "shell", ".weight 127.0.0.1:1", NULL);
	EXPECT_FAIL(r, 1, "dqlc: usage: .weight ADDR N\n");
	run_free(&r);
	dq(&r, NULL, "shell", ".mode xml", NULL);
	EXPECT_FAIL(r, 1, "dqlc: usage: .mode table|list|json|csv|line\n");
	run_free(&r);
	dq(&r, NULL, "shell", ".assign zz voter", NULL);
	EXPECT_FAIL(r, 1, "dqlc: bad node id 'zz' (hexadecimal, as .cluster prints it)\n");
	run_free(&r);
	dq(&r, NULL, "shell", ".assign 5 boss", NULL);
	EXPECT_FAIL(r, 1, "dqlc: bad role 'boss' (voter, standby or spare)\n");
	run_free(&r);
}
END_TEST

/* A port nothing listens on. */
static int dead_port(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof a;
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	close(fd);
	return ntohs(a.sin_port);
}

START_TEST(test_dead_cluster)
{
	struct run r;
	char addr[64];
	const char *argv_short[] = {dqlc_bin(), "-s", addr, "--timeout", "800", "db",
				    "SELECT 1", NULL};
	const char *argv_default[] = {dqlc_bin(), "-s", addr, "db", ".leader", NULL};
	/* Nothing routes to TEST-NET-1: connects hang until the deadline. */
	const char *argv_blackhole[] = {dqlc_bin(), "-s", "192.0.2.1:9001", "-t", "1000", "db",
					"SELECT 1", NULL};
	snprintf(addr, sizeof addr, "127.0.0.1:%d", dead_port());

	run_full(&r, NULL, NULL, NULL, argv_short);
	ck_assert_msg(r.status == 1 && r.secs < 4.0, SHOW(r));
	ck_assert_msg(strncmp(r.err, "dqlc: DQLC_ECONNECT: no node reachable: ", 40) == 0, SHOW(r));
	ck_assert_str_eq(r.out, "");
	run_free(&r);
	/* The default connect timeout is 5 s. */
	run_full(&r, NULL, NULL, NULL, argv_default);
	ck_assert_msg(r.status == 1 && r.secs >= 4.5 && r.secs < 9.0, SHOW(r));
	ck_assert_msg(strstr(r.err, "DQLC_ECONNECT") != NULL, SHOW(r));
	run_free(&r);
	run_full(&r, NULL, NULL, NULL, argv_blackhole);
	ck_assert_msg(r.status == 1 && r.secs < 4.0, SHOW(r));
	ck_assert_msg(strncmp(r.err, "dqlc: DQLC_", 11) == 0, SHOW(r));
	run_free(&r);
}
END_TEST

/* ---- Dot commands ------------------------------------------------------------------- */

START_TEST(test_help_tables_schema)
{
	struct run r;
	static const char *const cmds[] = {".help",    ".leader", ".cluster",  ".describe",
					   ".weight",  ".add",    ".assign",   ".remove",
					   ".transfer", ".dump",  ".tables",   ".schema",
					   ".timer",   ".mode",   ".read",     ".changes",
					   ".quit",    ".exit"};
	dq(&r, NULL, "shell", ".help", NULL);
	EXPECT_OK(r);
	for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++)
		ck_assert_msg(strstr(r.out, cmds[i]) != NULL, "%s missing from .help:\n%s", cmds[i],
			      r.out);
	ck_assert_msg(strncmp(r.out, ".help ", 6) == 0, "%s", r.out);
	run_free(&r);

	sql_ok("schemadb", "CREATE TABLE IF NOT EXISTS b_tab (x INTEGER);"
			   "CREATE TABLE IF NOT EXISTS a_tab (y TEXT);"
			   "CREATE INDEX IF NOT EXISTS a_idx ON a_tab (y);"
			   "CREATE VIEW IF NOT EXISTS c_view AS SELECT x FROM b_tab;"
			   "CREATE TRIGGER IF NOT EXISTS a_trg AFTER INSERT ON a_tab BEGIN "
			   "INSERT INTO b_tab VALUES (1); END");
	dq(&r, NULL, "schemadb", ".tables", NULL);
	EXPECT_OUT(r, "a_tab\nb_tab\nc_view\n");
	run_free(&r);
	dq(&r, NULL, "schemadb", ".schema", NULL);
	EXPECT_OUT(r, "CREATE TABLE a_tab (y TEXT);\n"
		      "CREATE INDEX a_idx ON a_tab (y);\n"
		      "CREATE TRIGGER a_trg AFTER INSERT ON a_tab BEGIN INSERT INTO b_tab VALUES "
		      "(1); END;\n"
		      "CREATE TABLE b_tab (x INTEGER);\n"
		      "CREATE VIEW c_view AS SELECT x FROM b_tab;\n");
	run_free(&r);
	dq(&r, NULL, "schemadb", ".schema A_TAB", NULL);
	EXPECT_OUT(r, "CREATE TABLE a_tab (y TEXT);\n"
		      "CREATE INDEX a_idx ON a_tab (y);\n"
		      "CREATE TRIGGER a_trg AFTER INSERT ON a_tab BEGIN INSERT INTO b_tab VALUES "
		      "(1); END;\n");
	run_free(&r);
	dq(&r, NULL, "schemadb", ".schema nosuch", NULL);
	EXPECT_FAIL(r, 1, "dqlc: no table or view named 'nosuch'\n");
	run_free(&r);
}
END_TEST

START_TEST(test_mode_timer_changes)
{
	struct run r;
	sql_ok("shell", "DROP TABLE IF EXISTS chg; CREATE TABLE chg (id INTEGER PRIMARY KEY, v TEXT)");
	dq(&r, NULL, "shell", ".mode", ".mode csv", ".mode", ".timer", ".changes", NULL);
	EXPECT_OUT(r, "table\ncsv\noff\noff\n");
	run_free(&r);
	dq(&r, NULL, "shell", ".changes on",
	   "INSERT INTO chg (v) VALUES ('a'), ('b'); UPDATE chg SET v = 'c' WHERE id = 1",
	   ".changes off", "INSERT INTO chg (v) VALUES ('d')", NULL);
	EXPECT_OUT(r, "rows affected: 2, last insert id: 2\nrows affected: 1, last insert id: 2\n");
	run_free(&r);
	/* (a new connection: no insert on it yet, so the last insert id is 0) */
	dq(&r, NULL, "-f", "json", "shell", ".changes on", "DELETE FROM chg WHERE id > 1", NULL);
	EXPECT_OUT(r, "{\"rows_affected\":2,\"last_insert_id\":0}\n");
	run_free(&r);
	dq(&r, NULL, "-f", "list", "shell", ".timer on", "SELECT 1", "SELECT 2", ".timer off",
	   "SELECT 3", NULL);
	ck_assert_msg(r.status == 0 && strcmp(r.out, "1\n2\n3\n") == 0, SHOW(r));
	{
		/* One "Time: N.NNN ms" line per statement while on. */
		const char *p = r.err;
		int lines = 0;
		double ms;
		while (*p != '\0') {
			ck_assert_msg(sscanf(p, "Time: %lf ms\n", &ms) == 1 && ms >= 0 && ms < 60000,
				      SHOW(r));
			p = strchr(p, '\n');
			ck_assert_ptr_nonnull(p);
			p++;
			lines++;
		}
		ck_assert_int_eq(lines, 2);
	}
	run_free(&r);
	dq(&r, NULL, "shell", ".timer maybe", NULL);
	EXPECT_FAIL(r, 1, "dqlc: usage: .timer on|off\n");
	run_free(&r);
}
END_TEST

/* Node index by address, -1 if none. */
static int node_by_address(const char *address)
{
	for (int i = 0; i < tc_size(shared); i++)
		if (strcmp(tc_node_address(shared, i), address) == 0)
			return i;
	return -1;
}

/* The leader's address as dqlc prints it (one line), into buf. */
static void dqlc_leader(char *buf, size_t len)
{
	struct run r;
	dq(&r, NULL, "db", ".leader", NULL);
	EXPECT_OK(r);
	ck_assert_msg(r.out_len > 1 && r.out[r.out_len - 1] == '\n', SHOW(r));
	r.out[r.out_len - 1] = '\0';
	snprintf(buf, len, "%s", r.out);
	run_free(&r);
}

START_TEST(test_leader_cluster_vs_go)
{
	struct run r, g;
	char want[1024] = "";
	struct jobj a[8], b[8];
	int na, nb;

	/* .leader: the same bytes as go-dqlite's shell (asked again when an
	 * election on a loaded machine moved the leader in between). */
	for (int tries = 0;; tries++) {
		dq(&r, NULL, "db", ".leader", NULL);
		godq(&g, NULL, "db", ".leader", NULL);
		EXPECT_OK(r);
		ck_assert_msg(g.status == 0, SHOW(g));
		if (strcmp(r.out, g.out) == 0 || tries == 4)
			break;
		run_free(&r);
		run_free(&g);
		usleep(200 * 1000);
	}
	{
		char leader[128];
		snprintf(leader, sizeof leader, "%.*s", (int)strcspn(r.out, "\n"), r.out);
		ck_assert_msg(node_by_address(leader) >= 0, SHOW(r));
	}
	ck_assert_str_eq(r.out, g.out);
	run_free(&r);
	run_free(&g);

	/* .cluster in the default format: the same bytes, and what the
	 * harness started (in the server's order). */
	dq(&r, NULL, "db", ".cluster", NULL);
	godq(&g, NULL, "db", ".cluster", NULL);
	EXPECT_OK(r);
	ck_assert_msg(g.status == 0, SHOW(g));
	ck_assert_str_eq(r.out, g.out);
	for (int i = 0; i < tc_size(shared); i++) {
		char line[300];
		snprintf(line, sizeof line, "%llx|%s|voter\n",
			 (unsigned long long)tc_node_id(shared, i), tc_node_address(shared, i));
		ck_assert_msg(strstr(r.out, line) != NULL, "no %s" SHOW_FMT, line, SHOW_ARGS(r));
		strcat(want, line);
	}
	ck_assert_int_eq(strlen(r.out), strlen(want));
	snprintf(want, sizeof want, "%s", r.out);
	run_free(&r);
	run_free(&g);
	/* list mode (go-dqlite's "tabular") is the same too */
	dq(&r, NULL, "-f", "tabular", "db", ".cluster", NULL);
	EXPECT_OUT(r, want);
	run_free(&r);

	/* -f json .cluster: go-dqlite indents, dqlc prints one object per
	 * line; the parsed values are the same. */
	dq(&r, NULL, "-f", "json", "db", ".cluster", NULL);
	godq(&g, NULL, "-f", "json", "db", ".cluster", NULL);
	EXPECT_OK(r);
	ck_assert_msg(g.status == 0, SHOW(g));
	na = jarray(r.out, a, 8);
	nb = jarray(g.out, b, 8);
	ck_assert_msg(na == tc_size(shared) && nb == na, "dqlc %d go %d\n%s\n%s", na, nb, r.out, g.out);
	for (int i = 0; i < na; i++) {
		ck_assert_int_eq(a[i].n, 3);
		ck_assert_int_eq(b[i].n, 3);
		for (int k = 0; k < 3; k++) {
			const struct jval *x = &a[i].v[k], *y = jget(&b[i], x->key);
			ck_assert_msg(y != NULL, "go-dqlite has no key %s", x->key);
			ck_assert_int_eq(x->kind, y->kind);
			ck_assert_str_eq(x->text, y->text);
		}
		{
			int k = node_by_address(jget(&a[i], "Address")->text);
			ck_assert_int_ge(k, 0);
			ck_assert_int_eq(strtoull(jget(&a[i], "ID")->text, NULL, 10),
					 tc_node_id(shared, k));
			ck_assert_str_eq(jget(&a[i], "Role")->text, "0");
		}
	}
	run_free(&r);
	run_free(&g);

	/* csv and line forms */
	dq(&r, NULL, "-f", "csv", "db", ".cluster", NULL);
	EXPECT_OK(r);
	ck_assert_msg(strncmp(r.out, "id,address,role\r\n", 17) == 0, SHOW(r));
	{
		char line[300];
		snprintf(line, sizeof line, "\n%llx,%s,voter\r\n",
			 (unsigned long long)tc_node_id(shared, 1), tc_node_address(shared, 1));
		ck_assert_msg(strstr(r.out, line) != NULL, SHOW(r));
	}
	run_free(&r);
	dq(&r, NULL, "-f", "line", "db", ".cluster", NULL);
	EXPECT_OK(r);
	for (int i = 0; i < tc_size(shared); i++) {
		char block[400];
		snprintf(block, sizeof block, "     id = %llx\naddress = %s\n   role = voter\n",
			 (unsigned long long)tc_node_id(shared, i), tc_node_address(shared, i));
		ck_assert_msg(strstr(r.out, block) != NULL, SHOW(r));
	}
	ck_assert_msg(strstr(r.out, "voter\n\n     id = ") != NULL, SHOW(r));
	run_free(&r);
}
END_TEST

START_TEST(test_describe_weight_vs_go)
{
	struct run r, g;
	const char *addr = tc_node_address(shared, 2);
	char want[300], cmd[300];
	struct jobj a, b;
	const char *p;

	snprintf(cmd, sizeof cmd, ".weight %s 7", addr);
	dq(&r, NULL, "db", cmd, NULL);
	EXPECT_OUT(r, "");
	run_free(&r);
	snprintf(cmd, sizeof cmd, ".describe %s", addr);
	snprintf(want, sizeof want, "%s|0|7\n", addr);
	dq(&r, NULL, "db", cmd, NULL);
	godq(&g, NULL, "db", cmd, NULL);
	EXPECT_OUT(r, want);
	ck_assert_msg(g.status == 0, SHOW(g));
	ck_assert_str_eq(r.out, g.out);
	run_free(&r);
	run_free(&g);
	/* json: the same keys and values as go-dqlite's */
	dq(&r, NULL, "-f", "json", "db", cmd, NULL);
	godq(&g, NULL, "-f", "json", "db", cmd, NULL);
	EXPECT_OUT(r, "{\"FailureDomain\":0,\"Weight\":7}\n");
	ck_assert_msg(g.status == 0, SHOW(g));
	p = g.out;
	ck_assert(jobject(&p, &b));
	p = r.out;
	ck_assert(jobject(&p, &a));
	ck_assert_int_eq(a.n, b.n);
	for (int k = 0; k < a.n; k++)
		ck_assert_str_eq(jget(&b, a.v[k].key)->text, a.v[k].text);
	run_free(&r);
	run_free(&g);
	/* Back to 0, through go-dqlite this time, and seen by dqlc. */
	snprintf(cmd, sizeof cmd, ".weight %s 0", addr);
	godq(&g, NULL, "db", cmd, NULL);
	ck_assert_msg(g.status == 0, SHOW(g));
	run_free(&g);
	snprintf(cmd, sizeof cmd, ".describe %s", addr);
	dq(&r, NULL, "-f", "line", "db", cmd, NULL);
	snprintf(want, sizeof want, "       address = %s\nfailure_domain = 0\n        weight = 0\n",
		 addr);
	EXPECT_OUT(r, want);
	run_free(&r);
	dq(&r, NULL, "-f", "csv", "db", cmd, NULL);
	snprintf(want, sizeof want, "address,failure_domain,weight\r\n%s,0,0\r\n", addr);
	EXPECT_OUT(r, want);
	run_free(&r);
	/* Without an address: the leader. */
	for (int tries = 0;; tries++) {
		char leader[128];
		dqlc_leader(leader, sizeof leader);
		dq(&r, NULL, "db", ".describe", NULL);
		snprintf(want, sizeof want, "%s|0|0\n", leader);
		if (strcmp(r.out, want) == 0 || tries == 4)
			break;
		run_free(&r);
	}
	EXPECT_OUT(r, want);
	run_free(&r);
	/* A node that does not answer. */
	{
		char dead[64];
		snprintf(dead, sizeof dead, ".describe 127.0.0.1:%d", dead_port());
		dq(&r, NULL, "db", dead, NULL);
		EXPECT_FAIL(r, 1, "dqlc: DQLC_ECONNECT: ");
		run_free(&r);
	}
}
END_TEST

START_TEST(test_membership)
{
	struct run r;
	char want_tail[256];
	/* A spare that never runs: adding, re-roling and removing it needs no
	 * catch-up (promotion to voter would, so it is not tried). */
	dq(&r, NULL, "db", ".add 64 127.0.0.1:1", ".cluster", NULL);
	snprintf(want_tail, sizeof want_tail, "64|127.0.0.1:1|spare\n");
	ck_assert_msg(r.status == 0 && strstr(r.out, want_tail) != NULL, SHOW(r));
	run_free(&r);
	dq(&r, NULL, "db", ".assign 0x64 standby", ".cluster", NULL);
	ck_assert_msg(r.status == 0 && strstr(r.out, "64|127.0.0.1:1|stand-by\n") != NULL, SHOW(r));
	run_free(&r);
	dq(&r, NULL, "-f", "csv", "db", ".cluster", NULL);
	ck_assert_msg(r.status == 0 && strstr(r.out, "64,127.0.0.1:1,standby\r\n") != NULL, SHOW(r));
	run_free(&r);
	/* The same id twice: the server's error. */
	dq(&r, NULL, "db", ".add 64 127.0.0.1:2", NULL);
	EXPECT_FAIL(r, 1, "dqlc: DQLC_ESQL: server error 1: server ID already in use\n");
	run_free(&r);
	/* Whole fields only: the harness's own nodes listen on ports such as
	 * 127.0.0.1:2xxxx, which contain "127.0.0.1:2" as a prefix. */
	dq(&r, NULL, "db", ".remove 64", ".cluster", NULL);
	ck_assert_msg(r.status == 0 && strstr(r.out, "|127.0.0.1:1|") == NULL, SHOW(r));
	run_free(&r);
	/* .add with a role, .remove by address (go-dqlite's form). */
	dq(&r, NULL, "-f", "list", "db", ".add 0xAB 127.0.0.1:2 standby", ".cluster", NULL);
	ck_assert_msg(r.status == 0 && strstr(r.out, "ab|127.0.0.1:2|stand-by\n") != NULL, SHOW(r));
	run_free(&r);
	dq(&r, NULL, "db", ".remove 127.0.0.1:2", ".cluster", NULL);
	ck_assert_msg(r.status == 0 && strstr(r.out, "|127.0.0.1:2|") == NULL, SHOW(r));
	run_free(&r);
	dq(&r, NULL, "db", ".remove 127.0.0.1:2", NULL);
	EXPECT_FAIL(r, 1, "dqlc: no node has address 127.0.0.1:2\n");
	run_free(&r);
	dq(&r, NULL, "db", ".remove 99", NULL);
	EXPECT_FAIL(r, 1, "dqlc: DQLC_ESQL: ");
	run_free(&r);
	/* The cluster is back to the harness's three voters. */
	dq(&r, NULL, "db", ".cluster", NULL);
	EXPECT_OK(r);
	{
		int lines = 0;
		for (const char *p = r.out; *p; p++)
			lines += *p == '\n';
		ck_assert_msg(lines == 3, SHOW(r));
	}
	run_free(&r);
}
END_TEST

START_TEST(test_transfer)
{
	struct run r;
	char before[128], after[128], cmd[64];
	int from, to = -1;
	double t0;

	dqlc_leader(before, sizeof before);
	from = node_by_address(before);
	ck_assert_int_ge(from, 0);
	to = (from + 1) % tc_size(shared);
	snprintf(cmd, sizeof cmd, ".transfer %llx", (unsigned long long)tc_node_id(shared, to));
	/* The shell keeps working on the new leader right after a transfer. */
	sql_ok("shell", "DROP TABLE IF EXISTS moved; CREATE TABLE moved (n INTEGER)");
	dq(&r, NULL, "-f", "list", "shell", cmd, "INSERT INTO moved VALUES (1)",
	   "SELECT count(*) FROM moved", NULL);
	EXPECT_OUT(r, "1\n");
	run_free(&r);
	/* The new leader is the node asked for (unless an election on a loaded
	 * machine moved it on already: then it is at least another node). */
	dqlc_leader(after, sizeof after);
	ck_assert_msg(strcmp(after, tc_node_address(shared, to)) == 0 ||
			  (strcmp(after, before) != 0 && node_by_address(after) >= 0),
		      "leader %s after .transfer to %s", after, tc_node_address(shared, to));
	if (strcmp(after, tc_node_address(shared, to)) != 0)
		fprintf(stderr, "test_transfer: leader %s, not %s: moved on after the transfer\n",
			after, tc_node_address(shared, to));
	snprintf(before, sizeof before, "%s", after);
	/* Without an id raft picks the node; the leader changes. */
	dq(&r, NULL, "db", ".transfer", NULL);
	EXPECT_OUT(r, "");
	run_free(&r);
	t0 = mono();
	do {
		dqlc_leader(after, sizeof after);
		if (strcmp(after, before) != 0)
			break;
		usleep(100 * 1000);
	} while (mono() - t0 < 10);
	ck_assert_msg(strcmp(after, before) != 0 && node_by_address(after) >= 0,
		      "leader still %s", after);
	dq(&r, NULL, "db", ".transfer 1 2", NULL);
	EXPECT_FAIL(r, 1, "dqlc: usage: .transfer [ID]\n");
	run_free(&r);
}
END_TEST

START_TEST(test_dump_vs_go)
{
	struct run r, g;
	char dir[600], cmd[900], godir[600], path_a[900], path_b[900];
	const char *leader_addr;
	char leader[128];
	size_t na, nb;
	char *a, *b;

	sql_ok("dumpdb", "CREATE TABLE IF NOT EXISTS d (v TEXT); INSERT INTO d VALUES ('dumped')");
	dqlc_leader(leader, sizeof leader);
	leader_addr = leader;
	/* .dump DB DIR from the leader */
	snprintf(dir, sizeof dir, "%s", tmp_path("dump1"));
	snprintf(cmd, sizeof cmd, ".dump dumpdb %s", dir);
	dq(&r, NULL, "db", cmd, NULL);
	EXPECT_OK(r);
	{
		char want[2048];
		snprintf(path_a, sizeof path_a, "%s/dumpdb", dir);
		a = slurp(path_a, &na);
		snprintf(path_b, sizeof path_b, "%s/dumpdb-wal", dir);
		free(slurp(path_b, &nb));
		snprintf(want, sizeof want, "wrote %s/dumpdb (%zu bytes)\nwrote %s/dumpdb-wal (%zu bytes)\n",
			 dir, na, dir, nb);
		ck_assert_str_eq(r.out, want);
		ck_assert_msg(na >= 4096 && memcmp(a, "SQLite format 3", 16) == 0, "bad main file");
		free(a);
	}
	run_free(&r);
	/* The current database by default, into the current directory ... */
	snprintf(godir, sizeof godir, "%s", tmp_path("go"));
	ck_assert_int_eq(mkdir(godir, 0700), 0);
	/* ... and go-dqlite's form .dump ADDR DB writes the same files. */
	snprintf(cmd, sizeof cmd, ".dump %s dumpdb", leader_addr);
	godq(&g, godir, "dumpdb", cmd, NULL);
	ck_assert_msg(g.status == 0 && strcmp(g.out, "OK\n") == 0, SHOW(g));
	run_free(&g);
	snprintf(dir, sizeof dir, "%s", tmp_path("dump2"));
	snprintf(cmd, sizeof cmd, ".dump %s dumpdb %s", leader_addr, dir);
	dq(&r, NULL, "dumpdb", cmd, NULL);
	EXPECT_OK(r);
	run_free(&r);
	for (int k = 0; k < 2; k++) {
		const char *name = k == 0 ? "dumpdb" : "dumpdb-wal";
		snprintf(path_a, sizeof path_a, "%s/%s", dir, name);
		snprintf(path_b, sizeof path_b, "%s/%s", godir, name);
		a = slurp(path_a, &na);
		b = slurp(path_b, &nb);
		ck_assert_msg(na == nb && memcmp(a, b, na) == 0, "%s differs from go-dqlite's", name);
		free(a);
		free(b);
	}
	/* No arguments: the shell's database, into the current directory. */
	dq_in(&r, tmpdir, NULL, NULL, "dumpdb", ".dump", NULL);
	ck_assert_msg(r.status == 0 && strstr(r.out, "wrote ./dumpdb (") == r.out, SHOW(r));
	run_free(&r);
	snprintf(path_a, sizeof path_a, "%s/dumpdb", tmpdir);
	a = slurp(path_a, &na);
	ck_assert_msg(na >= 4096 && memcmp(a, "SQLite format 3", 16) == 0, "bad main file");
	free(a);
}
END_TEST

START_TEST(test_select_vs_go)
{
	struct run r, g;
	struct jobj obs[8];
	int n;
	sql_ok("shell", "DROP TABLE IF EXISTS cmp; CREATE TABLE cmp (k INTEGER, name TEXT, v INTEGER);"
			"INSERT INTO cmp VALUES (1, 'one', -1), (2, 'two words', 20), (3, 'trois', 300)");
	/* list mode = go-dqlite's tabular output for integers and text */
	dq(&r, NULL, "-f", "list", "shell", "SELECT * FROM cmp ORDER BY k", NULL);
	godq(&g, NULL, "shell", "SELECT * FROM cmp ORDER BY k", NULL);
	EXPECT_OUT(r, "1|one|-1\n2|two words|20\n3|trois|300\n");
	ck_assert_msg(g.status == 0, SHOW(g));
	ck_assert_str_eq(r.out, g.out);
	run_free(&r);
	/* go-dqlite 1.11.5's -f json applies to .cluster and .describe only (its
	 * SELECT output stays "a|b|c"): compare dqlc's parsed JSON with it. */
	dq(&r, NULL, "-f", "json", "shell", "SELECT * FROM cmp ORDER BY k", NULL);
	EXPECT_OK(r);
	n = jarray(r.out, obs, 8);
	ck_assert_msg(n == 3, SHOW(r));
	{
		char *save = NULL, *line = strtok_r(g.out, "\n", &save);
		for (int i = 0; i < n; i++, line = strtok_r(NULL, "\n", &save)) {
			char *f[3], *s2 = NULL;
			ck_assert_ptr_nonnull(line);
			f[0] = strtok_r(line, "|", &s2);
			f[1] = strtok_r(NULL, "|", &s2);
			f[2] = strtok_r(NULL, "|", &s2);
			ck_assert_int_eq(obs[i].n, 3);
			ck_assert_str_eq(obs[i].v[0].key, "k");
			ck_assert_str_eq(obs[i].v[1].key, "name");
			ck_assert_str_eq(obs[i].v[2].key, "v");
			ck_assert_int_eq(obs[i].v[0].kind, 'n');
			ck_assert_int_eq(obs[i].v[1].kind, 's');
			ck_assert_int_eq(obs[i].v[2].kind, 'n');
			for (int k = 0; k < 3; k++)
				ck_assert_str_eq(obs[i].v[k].text, f[k]);
		}
	}
	run_free(&r);
	run_free(&g);
}
END_TEST

/* ---- TLS: go-dqlite's -c/-k and the explicit options ---------------------------------- */

START_TEST(test_tls)
{
	tc_opts_t o = {.tls = TC_TLS_ON};
	dqlc_test_cluster_t *tc = tc_start(1, &o);
	struct run r;
	char want[300];
	ck_assert_ptr_nonnull(tc);
	snprintf(want, sizeof want, "%s\n", tc_node_address(tc, 0));
	{
		/* go-dqlite's convention: -c holds the client cert then the CA. */
		const char *argv[] = {dqlc_bin(), "-s", tc_addresses(tc), "-c",
				      tc_tls_file(tc, TC_TLS_CLIENT_BUNDLE), "-k",
				      tc_tls_file(tc, TC_TLS_CLIENT_KEY), "db", ".leader", NULL};
		run_full(&r, NULL, NULL, NULL, argv);
		EXPECT_OUT(r, want);
		run_free(&r);
	}
	{
		const char *argv[] = {go_bin(), "-s", tc_addresses(tc), "-c",
				      tc_tls_file(tc, TC_TLS_CLIENT_BUNDLE), "-k",
				      tc_tls_file(tc, TC_TLS_CLIENT_KEY), "db", ".leader", NULL};
		run_full(&r, NULL, NULL, NULL, argv);
		EXPECT_OUT(r, want);
		run_free(&r);
	}
	{
		const char *argv[] = {dqlc_bin(), "-s", tc_addresses(tc), "--cert",
				      tc_tls_file(tc, TC_TLS_CLIENT_CERT), "--key",
				      tc_tls_file(tc, TC_TLS_CLIENT_KEY), "--ca",
				      tc_tls_file(tc, TC_TLS_CA), "--tls-mode", "verify-full",
				      "-f", "list", "db", "SELECT 'over tls'", NULL};
		run_full(&r, NULL, NULL, NULL, argv);
		EXPECT_OUT(r, "over tls\n");
		run_free(&r);
	}
	{
		/* The wrong CA: a TLS error, not a hang. */
		const char *argv[] = {dqlc_bin(), "-s", tc_addresses(tc), "--cert",
				      tc_tls_file(tc, TC_TLS_CLIENT_CERT), "--key",
				      tc_tls_file(tc, TC_TLS_CLIENT_KEY), "--ca",
				      tc_tls_file(tc, TC_TLS_WRONG_CA), "-t", "2000", "db",
				      "SELECT 1", NULL};
		run_full(&r, NULL, NULL, NULL, argv);
		ck_assert_msg(r.status == 1 && r.secs < 6 && strncmp(r.err, "dqlc: DQLC_", 11) == 0,
			      SHOW(r));
		run_free(&r);
	}
	{
		/* Plaintext against TLS nodes fails within the deadline. */
		const char *argv[] = {dqlc_bin(), "-s", tc_addresses(tc), "-t", "1500", "db",
				      "SELECT 1", NULL};
		run_full(&r, NULL, NULL, NULL, argv);
		ck_assert_msg(r.status == 1 && r.secs < 5 && strncmp(r.err, "dqlc: DQLC_", 11) == 0,
			      SHOW(r));
		run_free(&r);
	}
	tc_destroy(tc);
}
END_TEST

static Suite *shell_suite(void)
{
	Suite *s = suite_create("shell");
	TCase *tc;

	tc = tcase_create("offline");
	tcase_add_checked_fixture(tc, tmp_setup, tmp_teardown);
	tcase_add_test(tc, test_usage);
	tcase_add_test(tc, test_dead_cluster);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);

	tc = tcase_create("cluster");
	tcase_add_unchecked_fixture(tc, shared_up, shared_down);
	tcase_add_checked_fixture(tc, each_up, each_down);
	tcase_add_test(tc, test_modes);
	tcase_add_test(tc, test_modes_edge);
	tcase_add_test(tc, test_sources);
	tcase_add_test(tc, test_transactions);
	tcase_add_test(tc, test_errors);
	tcase_add_test(tc, test_help_tables_schema);
	tcase_add_test(tc, test_mode_timer_changes);
	tcase_add_test(tc, test_leader_cluster_vs_go);
	tcase_add_test(tc, test_describe_weight_vs_go);
	tcase_add_test(tc, test_membership);
	tcase_add_test(tc, test_dump_vs_go);
	tcase_add_test(tc, test_select_vs_go);
	tcase_add_test(tc, test_transfer);
	tcase_set_timeout(tc, 120);
	suite_add_tcase(s, tc);

	tc = tcase_create("tls");
	tcase_add_checked_fixture(tc, tmp_setup, tmp_teardown);
	tcase_add_test(tc, test_tls);
	tcase_set_timeout(tc, 120);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	snprintf(root, sizeof root, "%s/dqlc-shell-XXXXXX",
		 getenv("TMPDIR") != NULL ? getenv("TMPDIR") : "/tmp");
	if (mkdtemp(root) == NULL) {
		perror("mkdtemp");
		return EXIT_FAILURE;
	}
	SRunner *sr = srunner_create(shell_suite());
	srunner_run_all(sr, CK_ENV);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	nftw(root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
