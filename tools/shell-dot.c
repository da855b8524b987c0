/* dqlc: dot commands. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "shell-buf.h"
#include "shell-output.h"
#include "shell.h"

#define MAX_ARGS 8

static const char help_text[] =
    ".help                    this text\n"
    ".leader                  address of the cluster's leader\n"
    ".cluster                 members: id (hex)|address|role, as go-dqlite prints them\n"
    "                         (json, csv and line modes print their own forms)\n"
    ".describe [ADDR]         failure domain and weight of a node (default: the leader)\n"
    ".weight ADDR N           set a node's weight\n"
    ".add ID ADDR [ROLE]      add a node (ROLE: spare (default), standby, voter)\n"
    ".assign ID ROLE          change a node's role (voter, standby, spare)\n"
    ".remove ID|ADDR          remove a node from the cluster\n"
    ".transfer [ID]           hand leadership to node ID (default: let raft pick)\n"
    ".dump [ADDR] [DB [DIR]]  write the files of database DB (default: this one) as\n"
    "                         node ADDR (default: the leader) has them into DIR\n"
    "                         (default: the current directory)\n"
    ".tables                  tables and views\n"
    ".schema [TABLE]          CREATE statements (of TABLE and its indexes, triggers)\n"
    ".mode [MODE]             output mode: table, list, json, csv, line\n"
    ".timer on|off            time each statement (on stderr)\n"
    ".changes on|off          print rows affected and last insert id after writes\n"
    ".read FILE               run the statements in FILE\n"
    ".quit, .exit [CODE]      leave\n"
    "Node ids are hexadecimal, as .cluster prints them (a 0x prefix is accepted).\n"
    "A dot command ends at the end of its line or at a ';'.\n";

/* Split a command line into words; '...' and "..." group words. */
static int split_args(char *s, char **argv)
{
	int argc = 0;
	while (*s != '\0') {
		while (*s == ' ' || *s == '\t' || *s == '\r')
			s++;
		if (*s == '\0')
			break;
		if (argc == MAX_ARGS)
			return -1;
		if (*s == '\'' || *s == '"') {
			char q = *s++;
			argv[argc++] = s;
			while (*s != '\0' && *s != q)
				s++;
		} else {
			argv[argc++] = s;
			while (*s != '\0' && *s != ' ' && *s != '\t' && *s != '\r')
				s++;
		}
		if (*s != '\0')
			*s++ = '\0';
	}
	return argc;
}

static int usage(struct shell *sh, const char *text)
{
	shell_error(sh, "usage: %s", text);
	return -1;
}

static int parse_id(struct shell *sh, const char *s, uint64_t *id)
{
	char *end;
	errno = 0;
	if (s[0] == '-' || s[0] == '+' || s[0] == '\0')
		goto bad;
	*id = strtoull(s, &end, 16);
	if (errno != 0 || *end != '\0')
		goto bad;
	return 0;
bad:
	shell_error(sh, "bad node id '%s' (hexadecimal, as .cluster prints it)", s);
	return -1;
}

static int parse_role(struct shell *sh, const char *s, int *role)
{
	if (strcasecmp(s, "voter") == 0 || strcmp(s, "0") == 0)
		*role = DQLC_ROLE_VOTER;
	else if (strcasecmp(s, "standby") == 0 || strcasecmp(s, "stand-by") == 0 ||
		 strcmp(s, "1") == 0)
		*role = DQLC_ROLE_STANDBY;
	else if (strcasecmp(s, "spare") == 0 || strcmp(s, "2") == 0)
		*role = DQLC_ROLE_SPARE;
	else {
		shell_error(sh, "bad role '%s' (voter, standby or spare)", s);
		return -1;
	}
	return 0;
}

static int parse_onoff(struct shell *sh, const char *cmd, int argc, char **argv, bool *flag)
{
	if (argc == 1) {
		fprintf(sh->out, "%s\n", *flag ? "on" : "off");
		return 0;
	}
	if (argc == 2 && (strcasecmp(argv[1], "on") == 0 || strcmp(argv[1], "1") == 0)) {
		*flag = true;
		return 0;
	}
	if (argc == 2 && (strcasecmp(argv[1], "off") == 0 || strcmp(argv[1], "0") == 0)) {
		*flag = false;
		return 0;
	}
	shell_error(sh, "usage: %s on|off", cmd);
	return -1;
}

/* ---- Calls on the leader connection, run again once on a new leader when
 * nothing was executed (leadership moved, the connection broke). ------------ */

struct call {
	int op;
	uint64_t id;
	int role;
	const char *sql;
	const char *param;
	dqlc_result_t *r;
	dqlc_node_info_t leader;
	dqlc_node_info_t *nodes;
	size_t n;
	uint64_t domain, weight;
	const char *database;
	dqlc_dump_t *dump;
};

enum { OP_LEADER, OP_CLUSTER, OP_ADD, OP_ASSIGN, OP_REMOVE, OP_TRANSFER, OP_QUERY, OP_DESCRIBE,
       OP_WEIGHT, OP_DUMP };

static int do_call(dqlc_conn_t *c, struct call *k, const char *address, dqlc_error_t *err)
{
	dqlc_value_t p;
	switch (k->op) {
	case OP_LEADER:
		return dqlc_conn_leader(c, &k->leader, err);
	case OP_CLUSTER:
		return dqlc_conn_cluster(c, &k->nodes, &k->n, err);
	case OP_ADD:
		return dqlc_conn_add(c, k->id, address, err);
	case OP_ASSIGN:
		return dqlc_conn_assign(c, k->id, k->role, err);
	case OP_REMOVE:
		return dqlc_conn_remove(c, k->id, err);
	case OP_TRANSFER:
		return dqlc_conn_transfer(c, k->id, err);
	case OP_QUERY:
		p = dqlc_value_text(k->param);
		return dqlc_conn_query(c, k->sql, &p, k->param != NULL ? 1 : 0, &k->r, err);
	case OP_DESCRIBE:
		return dqlc_conn_describe(c, &k->domain, &k->weight, err);
	case OP_WEIGHT:
		return dqlc_conn_set_weight(c, k->weight, err);
	case OP_DUMP:
		return dqlc_conn_dump(c, k->database, &k->dump, err);
	default:
		return DQLC_EINVAL;
	}
}

static int on_leader(struct shell *sh, struct call *k, const char *address)
{
	dqlc_error_t err;
	dqlc_conn_t *c;
	int rv;
	for (int attempt = 0;; attempt++) {
		bool was_in_tx = shell_in_tx(sh);
		dqlc_error_clear(&err);
		rv = shell_conn(sh, &c, &err);
		if (rv == 0)
			rv = do_call(c, k, address, &err);
		if (rv == 0)
			return 0;
		if (!shell_after_error(sh, was_in_tx, &err) || attempt > 0 ||
		    !shell_retry_safe(was_in_tx, &err))
			break;
	}
	shell_lib_error(sh, rv, &err);
	return -1;
}

/* A call on one node, by address. */
static int on_node(struct shell *sh, const char *address, struct call *k)
{
	dqlc_error_t err;
	dqlc_conn_t *c = NULL;
	int rv;
	dqlc_error_clear(&err);
	rv = dqlc_connect_node(address, sh->cfg, &c, &err);
	if (rv == 0)
		rv = do_call(c, k, NULL, &err);
	dqlc_conn_close(c);
	if (rv != 0) {
		shell_lib_error(sh, rv, &err);
		return -1;
	}
	return 0;
}

/* ---- Commands ------------------------------------------------------------------ */

static int cmd_leader(struct shell *sh, int argc, char **argv)
{
	struct call k = {.op = OP_LEADER};
	(void)argv;
	if (argc != 1)
		return usage(sh, ".leader");
	if (on_leader(sh, &k, NULL) != 0)
		return -1;
	if (k.leader.address[0] != '\0')
		fprintf(sh->out, "%s\n", k.leader.address);
	return 0;
}

static int cmd_cluster(struct shell *sh, int argc, char **argv)
{
	struct call k = {.op = OP_CLUSTER};
	(void)argv;
	if (argc != 1)
		return usage(sh, ".cluster");
	if (on_leader(sh, &k, NULL) != 0)
		return -1;
	out_cluster(sh->out, sh->mode, k.nodes, k.n);
	dqlc_nodes_free(k.nodes);
	return 0;
}

static int cmd_describe(struct shell *sh, int argc, char **argv)
{
	struct call k = {.op = OP_DESCRIBE};
	const char *address;
	if (argc > 2)
		return usage(sh, ".describe [ADDR]");
	if (argc == 2) {
		if (on_node(sh, argv[1], &k) != 0)
			return -1;
		address = argv[1];
	} else {
		if (on_leader(sh, &k, NULL) != 0)
			return -1;
		address = dqlc_conn_address(sh->conn);
	}
	out_describe(sh->out, sh->mode, address, k.domain, k.weight);
	return 0;
}

static int cmd_weight(struct shell *sh, int argc, char **argv)
{
	struct call k = {.op = OP_WEIGHT};
	char *end;
	if (argc != 3)
		return usage(sh, ".weight ADDR N");
	errno = 0;
	k.weight = strtoull(argv[2], &end, 10);
	if (errno != 0 || *end != '\0' || argv[2][0] == '-' || argv[2][0] == '\0') {
		shell_error(sh, "bad weight '%s'", argv[2]);
		return -1;
	}
	return on_node(sh, argv[1], &k);
}

static int cmd_add(struct shell *sh, int argc, char **argv)
{
	struct call k = {.op = OP_ADD, .role = DQLC_ROLE_SPARE};
	if (argc < 3 || argc > 4)
		return usage(sh, ".add ID ADDR [ROLE]");
	if (parse_id(sh, argv[1], &k.id) != 0 || (argc == 4 && parse_role(sh, argv[3], &k.role)))
		return -1;
	if (on_leader(sh, &k, argv[2]) != 0)
		return -1;
	if (k.role == DQLC_ROLE_SPARE)
		return 0;
	k.op = OP_ASSIGN;
	return on_leader(sh, &k, NULL);
}

static int cmd_assign(struct shell *sh, int argc, char **argv)
{
	struct call k = {.op = OP_ASSIGN};
	if (argc != 3)
		return usage(sh, ".assign ID ROLE");
	if (parse_id(sh, argv[1], &k.id) != 0 || parse_role(sh, argv[2], &k.role) != 0)
		return -1;
	return on_leader(sh, &k, NULL);
}

static int cmd_remove(struct shell *sh, int argc, char **argv)
{
	struct call k = {.op = OP_REMOVE};
	if (argc != 2)
		return usage(sh, ".remove ID|ADDR");
	if (strchr(argv[1], ':') != NULL) {
		/* By address, as go-dqlite's shell does. */
		struct call q = {.op = OP_CLUSTER};
		bool found = false;
		if (on_leader(sh, &q, NULL) != 0)
			return -1;
		for (size_t i = 0; i < q.n && !found; i++) {
			if (strcmp(q.nodes[i].address, argv[1]) == 0) {
				k.id = q.nodes[i].id;
				found = true;
			}
		}
		dqlc_nodes_free(q.nodes);
		if (!found) {
			shell_error(sh, "no node has address %s", argv[1]);
			return -1;
		}
	} else if (parse_id(sh, argv[1], &k.id) != 0) {
		return -1;
	}
	return on_leader(sh, &k, NULL);
}

static int cmd_transfer(struct shell *sh, int argc, char **argv)
{
	struct call k = {.op = OP_TRANSFER};
	bool was_in_tx;
	if (argc > 2)
		return usage(sh, ".transfer [ID]");
	if (argc == 2 && parse_id(sh, argv[1], &k.id) != 0)
		return -1;
	was_in_tx = shell_in_tx(sh);
	if (on_leader(sh, &k, NULL) != 0)
		return -1;
	/* This connection now talks to a follower: find the new leader on the
	 * next use. */
	shell_drop_conn(sh);
	if (was_in_tx)
		fprintf(stderr, "dqlc: leadership moved: the open transaction was rolled back\n");
	return 0;
}

static int cmd_dump(struct shell *sh, int argc, char **argv)
{
	struct call k = {.op = OP_DUMP};
	const char *address = NULL, *dir = ".";
	dqlc_error_t err;
	int i = 1, rv;
	if (argc > 1 && strchr(argv[1], ':') != NULL)
		address = argv[i++];
	if (argc - i > 2)
		return usage(sh, ".dump [ADDR] [DB [DIR]]");
	k.database = i < argc ? argv[i++] : sh->database;
	if (i < argc)
		dir = argv[i++];
	rv = address != NULL ? on_node(sh, address, &k) : on_leader(sh, &k, NULL);
	if (rv != 0)
		return -1;
	dqlc_error_clear(&err);
	rv = dqlc_dump_write(k.dump, dir, &err);
	if (rv != 0) {
		shell_lib_error(sh, rv, &err);
	} else {
		for (size_t f = 0; f < k.dump->n_files; f++)
			fprintf(sh->out, "wrote %s/%s (%zu bytes)\n", dir, k.dump->files[f].name,
				k.dump->files[f].size);
	}
	dqlc_dump_free(k.dump);
	return rv == 0 ? 0 : -1;
}

static int cmd_tables(struct shell *sh, int argc, char **argv)
{
	struct call k = {.op = OP_QUERY};
	(void)argv;
	if (argc != 1)
		return usage(sh, ".tables");
	k.sql = "SELECT name FROM sqlite_master WHERE type IN ('table', 'view') "
		"AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name";
	if (on_leader(sh, &k, NULL) != 0)
		return -1;
	for (size_t i = 0; i < dqlc_result_row_count(k.r); i++) {
		const char *name = dqlc_result_text(k.r, i, 0, NULL);
		fprintf(sh->out, "%s\n", name != NULL ? name : "");
	}
	dqlc_result_free(k.r);
	return 0;
}

static int cmd_schema(struct shell *sh, int argc, char **argv)
{
	struct call k = {.op = OP_QUERY};
	size_t n;
	if (argc > 2)
		return usage(sh, ".schema [TABLE]");
	if (argc == 2) {
		k.param = argv[1];
		k.sql = "SELECT sql FROM sqlite_master WHERE sql IS NOT NULL "
			"AND tbl_name = ?1 COLLATE NOCASE "
			"ORDER BY type NOT IN ('table', 'view'), rowid";
	} else {
		k.sql = "SELECT sql FROM sqlite_master WHERE sql IS NOT NULL "
			"AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' "
			"ORDER BY tbl_name, type NOT IN ('table', 'view'), rowid";
	}
	if (on_leader(sh, &k, NULL) != 0)
		return -1;
	n = dqlc_result_row_count(k.r);
	for (size_t i = 0; i < n; i++) {
		const char *sql = dqlc_result_text(k.r, i, 0, NULL);
		fprintf(sh->out, "%s;\n", sql != NULL ? sql : "");
	}
	dqlc_result_free(k.r);
	if (n == 0 && argc == 2) {
		shell_error(sh, "no table or view named '%s'", argv[1]);
		return -1;
	}
	return 0;
}

static int cmd_mode(struct shell *sh, int argc, char **argv)
{
	int m;
	if (argc == 1) {
		fprintf(sh->out, "%s\n", out_mode_name(sh->mode));
		return 0;
	}
	if (argc != 2 || (m = out_mode_parse(argv[1])) < 0) {
		shell_error(sh, "usage: .mode table|list|json|csv|line");
		return -1;
	}
	sh->mode = m;
	return 0;
}

static int cmd_read(struct shell *sh, int argc, char **argv)
{
	const char *where = sh->where;
	long line = sh->where_line;
	int rv;
	if (argc != 2)
		return usage(sh, ".read FILE");
	rv = shell_run_file(sh, argv[1]);
	sh->where = where;
	sh->where_line = line;
	return rv;
}

static int cmd_quit(struct shell *sh, int argc, char **argv)
{
	char *end;
	long code = -1;
	if (argc > 2)
		return usage(sh, ".exit [CODE]");
	if (argc == 2) {
		code = strtol(argv[1], &end, 10);
		if (*end != '\0' || end == argv[1] || code < 0 || code > 255) {
			shell_error(sh, "bad exit code '%s'", argv[1]);
			return -1;
		}
	}
	sh->quit = true;
	sh->exit_code = (int)code;
	return 0;
}

static int cmd_help(struct shell *sh, int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fputs(help_text, sh->out);
	return 0;
}

static int cmd_timer(struct shell *sh, int argc, char **argv)
{
	return parse_onoff(sh, ".timer", argc, argv, &sh->timer);
}

static int cmd_changes(struct shell *sh, int argc, char **argv)
{
	return parse_onoff(sh, ".changes", argc, argv, &sh->changes);
}

static const struct {
	const char *name;
	int (*fn)(struct shell *sh, int argc, char **argv);
} commands[] = {
    {"help", cmd_help},         {"leader", cmd_leader}, {"cluster", cmd_cluster},
    {"describe", cmd_describe}, {"weight", cmd_weight}, {"add", cmd_add},
    {"assign", cmd_assign},     {"remove", cmd_remove}, {"transfer", cmd_transfer},
    {"dump", cmd_dump},         {"tables", cmd_tables}, {"schema", cmd_schema},
    {"mode", cmd_mode},         {"timer", cmd_timer},   {"changes", cmd_changes},
    {"read", cmd_read},         {"quit", cmd_quit},     {"exit", cmd_quit},
};

int shell_dot(struct shell *sh, const char *line, size_t len)
{
	char *copy = xmalloc(len + 1), *argv[MAX_ARGS];
	int argc, rv = -1;
	bool found = false;

	memcpy(copy, line, len);
	copy[len] = '\0';
	argc = split_args(copy + 1, argv);
	if (argc < 0) {
		shell_error(sh, "too many arguments (at most %d)", MAX_ARGS - 1);
	} else if (argc == 0) {
		shell_error(sh, "empty command: '.' (try .help)");
	} else {
		for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
			if (strcmp(argv[0], commands[i].name) == 0) {
				argv[0] = copy; /* ".name" for messages */
				atomic_fetch_add(&sh->busy, 1); /* Ctrl-C cancels it */
				rv = commands[i].fn(sh, argc, argv);
				atomic_fetch_sub(&sh->busy, 1);
				found = true;
				break;
			}
		}
		if (!found)
			shell_error(sh, "unknown command: .%s (try .help)", argv[0]);
	}
	fflush(sh->out);
	free(copy);
	return rv;
}
