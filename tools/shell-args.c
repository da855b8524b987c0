/* dqlc: command line parsing and the library configuration it makes. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "shell-args.h"
#include "shell-buf.h"
#include "shell-output.h"
#include "shell-tls.h"

static const char usage_text[] =
    "Usage: dqlc [OPTIONS] DATABASE [SQL ...]\n"
    "       dqlc [OPTIONS] -s dqlite://HOST:PORT[,...]/DATABASE[?KEY=VALUE&...] [SQL ...]\n"
    "\n"
    "Interactive and scriptable shell for dqlite.  With SQL arguments, -e or -i it\n"
    "runs them in order and exits; otherwise it reads standard input (interactively,\n"
    "with line editing and history, when that is a terminal).  Each SQL argument may\n"
    "hold several statements separated by ';', and dot commands (.help lists them).\n"
    "\n"
    "Connection:\n"
    "  -s, --servers LIST       comma-separated node addresses (HOST:PORT,...) or a\n"
    "                           dqlite:// URI (default: $DQLC_SERVERS)\n"
    "  -t, --timeout MS         connect and request timeout in milliseconds\n"
    "                           (default: connect 5000, request 10000)\n"
    "TLS (go-dqlite's -c/-k work as in its shell):\n"
    "  -c, --cert FILE          client certificate (PEM); with go-dqlite's convention\n"
    "                           the file may hold the CA after it\n"
    "  -k, --key FILE           client private key (PEM)\n"
    "      --ca FILE            CA to verify the nodes with (default with --cert: the\n"
    "                           --cert file, and the server name is the certificate's\n"
    "                           first DNS name, as go-dqlite does)\n"
    "      --tls-mode MODE      disable, require, verify-ca or verify-full\n"
    "                           (default verify-full when any TLS option is given)\n"
    "      --server-name NAME   name to send (SNI) and to verify the nodes against\n"
    "Input and output:\n"
    "  -e, --command SQL        run SQL (and dot commands); may be repeated\n"
    "  -i, --file FILE          run the statements in FILE (\"-\": standard input);\n"
    "                           may be repeated\n"
    "  -f, --format MODE        table (default), list, json, csv or line\n"
    "                           (\"tabular\" is list, as in go-dqlite)\n"
    "  -b, --continue           keep going after an error in a script (the exit\n"
    "                           status is still 1)\n"
    "  -h, --help               this text\n"
    "  -V, --version            versions\n"
    "\n"
    "Exit status: 0 success, 1 an error (reported on stderr), 2 a usage error.\n"
    "See dqlc(1) for the dot commands and the output formats.\n";

enum {
	OPT_CA = 256,
	OPT_TLS_MODE,
	OPT_SERVER_NAME,
};

static const struct option long_opts[] = {
    {"servers", required_argument, NULL, 's'},
    {"timeout", required_argument, NULL, 't'},
    {"cert", required_argument, NULL, 'c'},
    {"key", required_argument, NULL, 'k'},
    {"ca", required_argument, NULL, OPT_CA},
    {"tls-mode", required_argument, NULL, OPT_TLS_MODE},
    {"server-name", required_argument, NULL, OPT_SERVER_NAME},
    {"command", required_argument, NULL, 'e'},
    {"file", required_argument, NULL, 'i'},
    {"format", required_argument, NULL, 'f'},
    {"continue", no_argument, NULL, 'b'},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, 'V'},
    {NULL, 0, NULL, 0},
};

__attribute__((format(printf, 1, 2))) static int usage_error(const char *fmt, ...)
{
	va_list ap;
	fputs("dqlc: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\nTry 'dqlc --help'.\n", stderr);
	return 2;
}

static void add_src(struct shell_opts *o, enum shell_src_kind kind, const char *text)
{
	o->srcs = xrealloc(o->srcs, (o->n_srcs + 1) * sizeof *o->srcs);
	o->srcs[o->n_srcs].kind = kind;
	o->srcs[o->n_srcs].text = text;
	o->n_srcs++;
}

static bool is_uri(const char *s)
{
	return strncasecmp(s, "dqlite://", 9) == 0;
}

/* The database in a dqlite:// URI's path, or NULL. */
static char *uri_database(const char *uri)
{
	const char *p = uri + 9, *slash, *end;
	end = p + strcspn(p, "?#");
	slash = memchr(p, '/', (size_t)(end - p));
	if (slash == NULL || slash + 1 >= end)
		return NULL;
	size_t n = (size_t)(end - slash - 1);
	char *db = xmalloc(n + 1);
	memcpy(db, slash + 1, n);
	db[n] = '\0';
	return db;
}

static const char *version_text(void)
{
	return "dqlc " PACKAGE_VERSION
	       " (dqlite-client"
#ifdef DQLC_HAVE_LIBEDIT
	       "; line editing: libedit"
#else
	       "; line editing: none"
#endif
#ifdef DQLC_HAVE_OPENSSL
	       "; TLS: OpenSSL"
#else
	       "; TLS: none"
#endif
	       ")";
}

int shell_args_parse(struct shell_opts *o, int argc, char **argv)
{
	size_t first_positional = (size_t)-1;
	char *end;
	int c;

	memset(o, 0, sizeof *o);
	o->mode = OUT_TABLE;
	o->servers = getenv("DQLC_SERVERS");
	if (o->servers != NULL && o->servers[0] == '\0')
		o->servers = NULL;
	opterr = 0;
	/* "-": positional arguments come back as option 1, in order with -e/-i. */
	while ((c = getopt_long(argc, argv, "-:s:t:c:k:e:i:f:bhV", long_opts, NULL)) != -1) {
		switch (c) {
		case 1:
			if (first_positional == (size_t)-1)
				first_positional = o->n_srcs;
			add_src(o, SRC_SQL, optarg);
			break;
		case 's':
			o->servers = optarg;
			break;
		case 't':
			errno = 0;
			o->timeout_ms = strtol(optarg, &end, 10);
			if (errno != 0 || *end != '\0' || end == optarg || o->timeout_ms <= 0 ||
			    o->timeout_ms > INT_MAX)
				return usage_error("bad --timeout '%s' (milliseconds, > 0)", optarg);
			break;
		case 'c':
			o->cert = optarg;
			break;
		case 'k':
			o->key = optarg;
			break;
		case OPT_CA:
			o->ca = optarg;
			break;
		case OPT_TLS_MODE:
			o->tls_mode = optarg;
			break;
		case OPT_SERVER_NAME:
			o->server_name = optarg;
			break;
		case 'e':
			add_src(o, SRC_SQL, optarg);
			break;
		case 'i':
			add_src(o, SRC_FILE, optarg);
			break;
		case 'f':
			o->mode = out_mode_parse(optarg);
			if (o->mode < 0)
				return usage_error(
				    "unknown format '%s' (table, list, json, csv or line)", optarg);
			break;
		case 'b':
			o->bail_off = true;
			break;
		case 'h':
			fputs(usage_text, stdout);
			return 0;
		case 'V':
			printf("%s\nlibrary %s\n", version_text(), dqlc_version_string());
			return 0;
		case ':':
			return usage_error("option '%s' needs an argument", argv[optind - 1]);
		default:
			return usage_error("unknown option '%s'", argv[optind - 1]);
		}
	}
	/* Arguments after "--" (SQL that starts with '-'). */
	for (int i = optind; i < argc; i++) {
		if (first_positional == (size_t)-1)
			first_positional = o->n_srcs;
		add_src(o, SRC_SQL, argv[i]);
	}
	if (o->servers == NULL)
		return usage_error("%s", "no servers: give -s HOST:PORT[,...] or a dqlite:// URI, "
					 "or set DQLC_SERVERS");
	if ((o->cert == NULL) != (o->key == NULL))
		return usage_error("%s", "--cert and --key go together");
	if (strncasecmp(o->servers, "file://", 7) == 0)
		return usage_error("'%s': go-dqlite's file:// node stores are not supported; list "
				   "the node addresses",
				   o->servers);
	/* DATABASE: the first positional argument, unless the URI names it. */
	if (is_uri(o->servers) && (o->owned_database = uri_database(o->servers)) != NULL) {
		o->database = NULL;
	} else {
		if (first_positional == (size_t)-1)
			return usage_error("%s", "no DATABASE given");
		o->database = o->srcs[first_positional].text;
		memmove(&o->srcs[first_positional], &o->srcs[first_positional + 1],
			(o->n_srcs - first_positional - 1) * sizeof *o->srcs);
		o->n_srcs--;
	}
	return -1;
}

void shell_args_free(struct shell_opts *o)
{
	free(o->srcs);
	free(o->owned_database);
	o->srcs = NULL;
	o->owned_database = NULL;
}

const char *shell_args_database(const struct shell_opts *o)
{
	return o->database != NULL ? o->database : o->owned_database;
}

static int set(dqlc_config_t *cfg, const char *key, const char *value, dqlc_error_t *err)
{
	return dqlc_config_set(cfg, key, value, err);
}

int shell_args_config(const struct shell_opts *o, dqlc_config_t **out, dqlc_error_t *err)
{
	dqlc_config_t *cfg = dqlc_config_new();
	char num[32], *name = NULL;
	int rv = 0;

	*out = NULL;
	if (cfg == NULL) {
		snprintf(err->message, sizeof err->message, "out of memory");
		return err->code = DQLC_ENOMEM;
	}
	if (is_uri(o->servers)) {
		rv = dqlc_config_from_uri(cfg, o->servers, err);
	} else {
		char *list = xstrdup(o->servers), *save = NULL;
		int n = 0;
		for (char *tok = strtok_r(list, ",", &save); tok != NULL && rv == 0;
		     tok = strtok_r(NULL, ",", &save)) {
			tok += strspn(tok, " \t");
			tok[strcspn(tok, " \t")] = '\0';
			if (*tok == '\0')
				continue;
			rv = dqlc_config_add_node(cfg, tok, err);
			n++;
		}
		free(list);
		if (rv == 0 && n == 0) {
			snprintf(err->message, sizeof err->message, "no node address in '%s'",
				 o->servers);
			rv = err->code = DQLC_EINVAL;
		}
	}
	if (rv == 0 && o->database != NULL)
		rv = set(cfg, "database", o->database, err);
	/* TLS, go-dqlite style: -c/-k alone trust the certificates in the -c
	 * file and verify the nodes against its first DNS name. */
	if (rv == 0 && o->cert != NULL) {
		rv = set(cfg, "tls_cert", o->cert, err);
		if (rv == 0)
			rv = set(cfg, "tls_key", o->key, err);
		if (rv == 0 && o->ca == NULL) {
			rv = set(cfg, "tls_ca", o->cert, err);
			if (rv == 0 && o->server_name == NULL && o->tls_mode == NULL &&
			    (name = shell_tls_first_dns_name(o->cert)) != NULL)
				rv = set(cfg, "tls_server_name", name, err);
		}
	}
	if (rv == 0 && o->ca != NULL)
		rv = set(cfg, "tls_ca", o->ca, err);
	if (rv == 0 && o->server_name != NULL)
		rv = set(cfg, "tls_server_name", o->server_name, err);
	if (rv == 0 && o->tls_mode != NULL)
		rv = set(cfg, "tls", o->tls_mode, err);
	if (rv == 0 && o->timeout_ms > 0) {
		snprintf(num, sizeof num, "%ld", o->timeout_ms);
		rv = set(cfg, "connect_timeout_ms", num, err);
		if (rv == 0)
			rv = set(cfg, "request_timeout_ms", num, err);
		if (rv == 0 && o->timeout_ms < 1000)
			rv = set(cfg, "dial_timeout_ms", num, err);
	}
	free(name);
	if (rv != 0) {
		dqlc_config_free(cfg);
		return rv;
	}
	*out = cfg;
	return 0;
}
