/* Test harness: a cluster of real dqlite nodes (see cluster.h). */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "dqlite-client.h"

#include "cluster.h"
#include "proc.h"

#ifndef DQLC_NODE_BIN_DEFAULT
#define DQLC_NODE_BIN_DEFAULT "tools/dqlc-node"
#endif
#ifndef DQLC_TLS_CERTS_SCRIPT_DEFAULT
#define DQLC_TLS_CERTS_SCRIPT_DEFAULT "tests/harness/tls-certs.sh"
#endif
#define CERTS_TIMEOUT_MS 30000 /* tls-certs.sh: ~0.2 s normally */

#define EXIT_NODE_BIND 3      /* dqlc-node: the address could not be bound */
#define PORT_ATTEMPTS 8       /* fresh ports tried when one is lost to a race */
#define RESTART_ATTEMPTS 20   /* binds of a restarted node's own port */
#define STOP_TIMEOUT_MS 3000  /* SIGTERM grace before SIGKILL */
#define POLL_MS 20

struct tc_node {
	uint64_t id;
	int port;
	int role;
	char address[32];
	char dir[PATH_MAX];
	char log[PATH_MAX];
	pid_t pid;    /* 0 when not running */
	bool stopped; /* SIGSTOPped */
};

struct dqlc_test_cluster {
	pid_t owner; /* the process that created it (and the nodes' parent) */
	char dir[PATH_MAX];
	char *node_bin;
	int latency_ms, ready_timeout_ms, leader_timeout_ms;
	struct tc_node *nodes;
	int n;
	struct hp_janitor janitor;
	int unexpected_exits; /* nodes that died without tc_kill/restart/destroy */
	dqlc_config_t *probe_cfg;
	int tls;                      /* TC_TLS_* */
	char *tls_paths[TC_TLS_MISMATCH_KEY + 1]; /* once tc_tls_certs made them */
	const char *tls_query;        /* kept string */
	char **strings; /* returned by tc_addresses/tc_uri, freed at destroy */
	size_t n_strings;
	struct dqlc_test_cluster *next; /* registry of live clusters */
};

/* ---- registry: what the atexit handler cleans up ------------------------- */

static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static struct dqlc_test_cluster *registry;
static pthread_once_t atexit_once = PTHREAD_ONCE_INIT;

static void destroy_at_exit(void)
{
	for (;;) {
		pthread_mutex_lock(&registry_lock);
		struct dqlc_test_cluster *tc = registry;
		/* A Check child inherits its parent's clusters: not its to clean. */
		while (tc != NULL && tc->owner != getpid())
			tc = tc->next;
		pthread_mutex_unlock(&registry_lock);
		if (tc == NULL)
			return;
		fprintf(stderr, "harness: cluster %s still running at exit: destroying it\n",
			tc->dir);
		tc_destroy(tc);
	}
}

static void register_atexit(void)
{
	atexit(destroy_at_exit);
}

static void registry_add(struct dqlc_test_cluster *tc)
{
	pthread_once(&atexit_once, register_atexit);
	pthread_mutex_lock(&registry_lock);
	tc->next = registry;
	registry = tc;
	pthread_mutex_unlock(&registry_lock);
}

static void registry_remove(struct dqlc_test_cluster *tc)
{
	pthread_mutex_lock(&registry_lock);
	for (struct dqlc_test_cluster **p = &registry; *p != NULL; p = &(*p)->next) {
		if (*p == tc) {
			*p = tc->next;
			break;
		}
	}
	pthread_mutex_unlock(&registry_lock);
}

/* ---- helpers --------------------------------------------------------------- */

static void complain(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void complain(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("harness: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	fflush(stderr);
}

/* Process control only works in the process that forked the nodes. */
static void require_owner(const struct dqlc_test_cluster *tc, const char *what)
{
	if (tc->owner != getpid()) {
		complain("%s: cluster %s belongs to process %ld, not %ld (create clusters in "
			 "the test or a checked fixture, see cluster.h)",
			 what, tc->dir, (long)tc->owner, (long)getpid());
		abort();
	}
}

static bool valid_index(const struct dqlc_test_cluster *tc, int i, const char *what)
{
	if (tc == NULL || i < 0 || i >= tc->n) {
		complain("%s: no node %d", what, i);
		return false;
	}
	return true;
}

static char *keep_string(struct dqlc_test_cluster *tc, char *s)
{
	if (s == NULL)
		return NULL;
	char **grown = realloc(tc->strings, (tc->n_strings + 1) * sizeof *grown);
	if (grown == NULL) {
		free(s);
		return NULL;
	}
	tc->strings = grown;
	tc->strings[tc->n_strings++] = s;
	return s;
}

static int index_of_address(const struct dqlc_test_cluster *tc, const char *address)
{
	for (int i = 0; i < tc->n; i++)
		if (strcmp(tc->nodes[i].address, address) == 0)
			return i;
	return -1;
}

/* ---- starting nodes -------------------------------------------------------- */

/* Give node `nd` a fresh port and its address. */
static int assign_port(struct dqlc_test_cluster *tc, struct tc_node *nd)
{
	for (int tries = 0; tries < 50; tries++) {
		int port = hp_free_port();
		if (port < 0)
			return -1;
		bool taken = false; /* the kernel may hand out a port twice */
		for (int i = 0; i < tc->n; i++)
			if (&tc->nodes[i] != nd && tc->nodes[i].port == port)
				taken = true;
		if (!taken) {
			nd->port = port;
			snprintf(nd->address, sizeof nd->address, "127.0.0.1:%d", port);
			return 0;
		}
	}
	return -1;
}

/* fork+exec dqlc-node for `nd`; join: comma list of members or NULL. */
static int spawn_node(struct dqlc_test_cluster *tc, struct tc_node *nd, const char *join,
		      off_t *log_start)
{
	char id[32], latency[32], timeout[32];
	snprintf(id, sizeof id, "%llu", (unsigned long long)nd->id);
	snprintf(latency, sizeof latency, "%d", tc->latency_ms);
	snprintf(timeout, sizeof timeout, "%d", tc->ready_timeout_ms);
	const char *role = nd->role == DQLC_ROLE_STANDBY ? "standby"
			   : nd->role == DQLC_ROLE_SPARE ? "spare"
							 : "voter";
	const char *argv[32];
	int a = 0;
	argv[a++] = tc->node_bin;
	argv[a++] = "--id";
	argv[a++] = id;
	argv[a++] = "--address";
	argv[a++] = nd->address;
	argv[a++] = "--dir";
	argv[a++] = nd->dir;
	argv[a++] = "--latency-ms";
	argv[a++] = latency;
	if (join != NULL) {
		argv[a++] = "--join";
		argv[a++] = join;
		argv[a++] = "--role";
		argv[a++] = role;
		argv[a++] = "--join-timeout-ms";
		argv[a++] = timeout;
	}
	if (tc->tls != TC_TLS_OFF) {
		bool mismatch = tc->tls == TC_TLS_MISMATCH;
		argv[a++] = "--tls-cert";
		argv[a++] = tc->tls_paths[mismatch ? TC_TLS_MISMATCH_CERT : TC_TLS_SERVER_CERT];
		argv[a++] = "--tls-key";
		argv[a++] = tc->tls_paths[mismatch ? TC_TLS_MISMATCH_KEY : TC_TLS_SERVER_KEY];
		argv[a++] = "--tls-ca";
		argv[a++] = tc->tls_paths[TC_TLS_CA];
		if (mismatch) {
			argv[a++] = "--tls-peer-name";
			argv[a++] = TC_TLS_MISMATCH_NAME;
		}
	}
	argv[a] = NULL;

	FILE *log = fopen(nd->log, "a");
	if (log != NULL) {
		fprintf(log, "=== harness: starting");
		for (int k = 0; k < a; k++)
			fprintf(log, " %s", argv[k]);
		fprintf(log, "\n");
		fclose(log);
	}
	pid_t pid = hp_spawn(tc->node_bin, (char *const *)argv, nd->log, log_start);
	if (pid < 0) {
		complain("cannot start %s: %s", tc->node_bin, strerror(errno));
		return -1;
	}
	nd->pid = pid;
	nd->stopped = false;
	hp_janitor_note(&tc->janitor, '+', pid);
	return 0;
}

static void forget_pid(struct dqlc_test_cluster *tc, struct tc_node *nd)
{
	hp_janitor_note(&tc->janitor, '-', nd->pid);
	nd->pid = 0;
	nd->stopped = false;
}

/* Describe a wait status: "exit 1", "signal 6". */
static const char *status_text(int status, char *buf, size_t len)
{
	if (WIFEXITED(status))
		snprintf(buf, len, "exit %d", WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(buf, len, "signal %d (%s)", WTERMSIG(status), strsignal(WTERMSIG(status)));
	else
		snprintf(buf, len, "status 0x%x", status);
	return buf;
}

/* Reap nodes that died on their own (a crash, an abort in libdqlite, a
 * sanitizer report): say so with their log, count them, mark them down. */
static void reap_unexpected(struct dqlc_test_cluster *tc)
{
	if (tc->owner != getpid())
		return; /* only the parent can reap */
	for (int i = 0; i < tc->n; i++) {
		struct tc_node *nd = &tc->nodes[i];
		int status;
		if (nd->pid <= 0 || waitpid(nd->pid, &status, WNOHANG) != nd->pid)
			continue;
		char how[64];
		complain("node %llu (%s) died unexpectedly: %s; log:", (unsigned long long)nd->id,
			 nd->address, status_text(status, how, sizeof how));
		hp_print_tail(nd->log, 30, "  | ", stderr);
		tc->unexpected_exits++;
		forget_pid(tc, nd);
	}
}

int tc_unexpected_exits(dqlc_test_cluster_t *tc)
{
	reap_unexpected(tc);
	return tc->unexpected_exits;
}

enum { READY = 0, FAILED = -1, BIND_LOST = -2 };

/* Wait for the node's "ready" line.  On failure the node is gone (reaped)
 * and its log tail printed, except for BIND_LOST (port taken: retry). */
static int wait_ready(struct dqlc_test_cluster *tc, struct tc_node *nd, off_t log_start)
{
	char needle[64];
	snprintf(needle, sizeof needle, "ready id=%llu ", (unsigned long long)nd->id);
	int64_t deadline = hp_now_ms() + tc->ready_timeout_ms + 2000; /* join has its own */
	for (;;) {
		if (hp_file_contains(nd->log, log_start, needle))
			return READY;
		int status;
		if (hp_wait_exit(nd->pid, 0, &status)) {
			forget_pid(tc, nd);
			if (WIFEXITED(status) && WEXITSTATUS(status) == EXIT_NODE_BIND)
				return BIND_LOST;
			complain("node %llu (%s) exited before it was ready (status 0x%x); log:",
				 (unsigned long long)nd->id, nd->address, status);
			hp_print_tail(nd->log, 20, "  | ", stderr);
			return FAILED;
		}
		if (hp_now_ms() >= deadline) {
			complain("node %llu (%s) not ready after %d ms; log:",
				 (unsigned long long)nd->id, nd->address,
				 tc->ready_timeout_ms + 2000);
			hp_print_tail(nd->log, 20, "  | ", stderr);
			kill(nd->pid, SIGKILL);
			hp_wait_exit(nd->pid, 5000, NULL);
			forget_pid(tc, nd);
			return FAILED;
		}
		hp_sleep_ms(10);
	}
}

/* Append a node record (not started). */
static struct tc_node *new_node(struct dqlc_test_cluster *tc, int role)
{
	struct tc_node *grown = realloc(tc->nodes, (size_t)(tc->n + 1) * sizeof *grown);
	if (grown == NULL)
		return NULL;
	tc->nodes = grown;
	struct tc_node *nd = &tc->nodes[tc->n];
	memset(nd, 0, sizeof *nd);
	nd->id = (uint64_t)tc->n + 1;
	nd->role = role;
	snprintf(nd->dir, sizeof nd->dir, "%s/n%llu", tc->dir, (unsigned long long)nd->id);
	snprintf(nd->log, sizeof nd->log, "%s/n%llu.log", tc->dir, (unsigned long long)nd->id);
	tc->n++;
	return nd;
}

/* Start nodes [first, tc->n) on fresh ports, all at once (joins that collide
 * are retried by dqlc-node), and wait until each is ready.  A node that
 * loses its port to another process gets a new one. */
static int start_new_nodes(struct dqlc_test_cluster *tc, int first, const char *join)
{
	off_t *starts = calloc((size_t)(tc->n - first), sizeof *starts);
	if (starts == NULL)
		return -1;
	int rc = 0;
	for (int i = first; i < tc->n && rc == 0; i++) {
		if (assign_port(tc, &tc->nodes[i]) != 0 ||
		    spawn_node(tc, &tc->nodes[i], join, &starts[i - first]) != 0)
			rc = -1;
	}
	for (int i = first; i < tc->n && rc == 0; i++) {
		struct tc_node *nd = &tc->nodes[i];
		int r = wait_ready(tc, nd, starts[i - first]);
		for (int tries = 1; r == BIND_LOST && tries < PORT_ATTEMPTS; tries++) {
			hp_rm_rf(nd->dir); /* nothing of the old address may stay */
			if (assign_port(tc, nd) != 0 ||
			    spawn_node(tc, nd, join, &starts[i - first]) != 0)
				break;
			r = wait_ready(tc, nd, starts[i - first]);
		}
		if (r != READY) {
			if (r == BIND_LOST)
				complain("node %llu: no free port after %d attempts",
					 (unsigned long long)nd->id, PORT_ATTEMPTS);
			rc = -1;
		}
	}
	free(starts);
	return rc;
}

/* The addresses of the running nodes, for --join. */
static char *running_addresses(const struct dqlc_test_cluster *tc)
{
	size_t cap = (size_t)tc->n * 32 + 1, len = 0;
	char *s = calloc(1, cap);
	if (s == NULL)
		return NULL;
	for (int i = 0; i < tc->n; i++) {
		if (tc->nodes[i].pid == 0)
			continue;
		len += (size_t)snprintf(s + len, cap - len, "%s%s", len > 0 ? "," : "",
					tc->nodes[i].address);
	}
	return s;
}

/* ---- public API -------------------------------------------------------------- */

static const char *default_node_bin(void)
{
	const char *env = getenv("DQLC_NODE_BIN");
	return env != NULL && env[0] != '\0' ? env : DQLC_NODE_BIN_DEFAULT;
}

static dqlc_config_t *make_probe_config(void)
{
	/* Short bounds: a stopped node must cost one poll round, not more. */
	dqlc_config_t *cfg = dqlc_config_new();
	if (cfg == NULL)
		return NULL;
	if (dqlc_config_set(cfg, "dial_timeout_ms", "300", NULL) != 0 ||
	    dqlc_config_set(cfg, "connect_timeout_ms", "500", NULL) != 0 ||
	    dqlc_config_set(cfg, "request_timeout_ms", "500", NULL) != 0) {
		dqlc_config_free(cfg);
		return NULL;
	}
	return cfg;
}

dqlc_test_cluster_t *tc_start(int n, const tc_opts_t *opts)
{
	tc_opts_t o = {0};
	if (opts != NULL)
		o = *opts;
	if (n < 1) {
		complain("tc_start: need at least one node, not %d", n);
		return NULL;
	}
	struct dqlc_test_cluster *tc = calloc(1, sizeof *tc);
	if (tc == NULL)
		return NULL;
	tc->owner = getpid();
	tc->latency_ms = o.latency_ms > 0 ? o.latency_ms : 20;
	tc->ready_timeout_ms = o.ready_timeout_ms > 0 ? o.ready_timeout_ms : 20000;
	tc->leader_timeout_ms = o.leader_timeout_ms > 0 ? o.leader_timeout_ms : 15000;
	tc->node_bin = strdup(o.node_bin != NULL ? o.node_bin : default_node_bin());
	tc->probe_cfg = make_probe_config();
	tc->tls = o.tls;
	if (o.tls < TC_TLS_OFF || o.tls > TC_TLS_MISMATCH) {
		complain("tc_start: bad tls option %d", o.tls);
		goto fail_early;
	}
	tc->janitor.fd = -1;
	tc->janitor.pid = -1;
	if (tc->node_bin == NULL || tc->probe_cfg == NULL) {
		complain("tc_start: out of memory or bad probe configuration");
		goto fail_early;
	}
	if (access(tc->node_bin, X_OK) != 0) {
		complain("tc_start: node program %s: %s (set DQLC_NODE_BIN)", tc->node_bin,
			 strerror(errno));
		goto fail_early;
	}
	const char *tmp = getenv("TMPDIR");
	snprintf(tc->dir, sizeof tc->dir, "%s/dqlc-test-XXXXXX",
		 tmp != NULL && tmp[0] != '\0' ? tmp : "/tmp");
	if (mkdtemp(tc->dir) == NULL) {
		complain("tc_start: mkdtemp %s: %s", tc->dir, strerror(errno));
		goto fail_early;
	}
	if (hp_janitor_start(&tc->janitor, tc->dir) != 0) {
		complain("tc_start: cannot start the janitor: %s", strerror(errno));
		hp_rm_rf(tc->dir);
		goto fail_early;
	}
	registry_add(tc);

	if (tc->tls != TC_TLS_OFF) {
		/* The harness's own probes speak TLS like every client. */
		dqlc_error_t err = {0};
		if (tc_tls_certs(tc) != 0)
			goto fail;
		if (tc_tls_config(tc, tc->probe_cfg, &err) != 0) {
			complain("tc_start: the library refuses the TLS keys: %s (%s)", err.message,
				 dqlc_errname(err.code));
			goto fail;
		}
	}

	/* Node 1 bootstraps; the others join through it. */
	if (new_node(tc, DQLC_ROLE_VOTER) == NULL || start_new_nodes(tc, 0, NULL) != 0)
		goto fail;
	for (int i = 1; i < n; i++) {
		if (new_node(tc, DQLC_ROLE_VOTER) == NULL)
			goto fail;
	}
	if (n > 1 && start_new_nodes(tc, 1, tc->nodes[0].address) != 0)
		goto fail;
	if (tc_leader(tc) < 0)
		goto fail;
	return tc;

fail:
	tc_destroy(tc);
	return NULL;
fail_early:
	dqlc_config_free(tc->probe_cfg);
	free(tc->node_bin);
	free(tc);
	return NULL;
}

void tc_destroy(dqlc_test_cluster_t *tc)
{
	if (tc == NULL)
		return;
	require_owner(tc, "tc_destroy");
	registry_remove(tc);
	reap_unexpected(tc);
	/* SIGTERM all first, so they stop in parallel. */
	for (int i = 0; i < tc->n; i++) {
		struct tc_node *nd = &tc->nodes[i];
		if (nd->pid > 0) {
			kill(nd->pid, SIGCONT);
			kill(nd->pid, SIGTERM);
		}
	}
	int64_t deadline = hp_now_ms() + STOP_TIMEOUT_MS;
	for (int i = 0; i < tc->n; i++) {
		struct tc_node *nd = &tc->nodes[i];
		if (nd->pid <= 0)
			continue;
		int64_t left = deadline - hp_now_ms();
		int status = 0;
		if (!hp_wait_exit(nd->pid, left > 0 ? (int)left : 0, &status)) {
			complain("node %llu did not stop within %d ms: killing it; log:",
				 (unsigned long long)nd->id, STOP_TIMEOUT_MS);
			hp_print_tail(nd->log, 30, "  | ", stderr);
			kill(nd->pid, SIGKILL);
			while (waitpid(nd->pid, NULL, 0) < 0 && errno == EINTR)
				;
		} else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
			/* A clean stop exits 0: anything else (a sanitizer report,
			 * an assertion in libdqlite) is worth seeing before the log
			 * is deleted with the directory. */
			char how[64];
			complain("node %llu stopped with %s; log:", (unsigned long long)nd->id,
				 status_text(status, how, sizeof how));
			hp_print_tail(nd->log, 30, "  | ", stderr);
		}
		forget_pid(tc, nd);
	}
	if (hp_rm_rf(tc->dir) != 0)
		complain("cannot remove %s: %s", tc->dir, strerror(errno));
	hp_janitor_disarm(&tc->janitor);
	for (size_t k = 0; k < tc->n_strings; k++)
		free(tc->strings[k]);
	free(tc->strings);
	for (size_t k = 0; k < sizeof tc->tls_paths / sizeof tc->tls_paths[0]; k++)
		free(tc->tls_paths[k]);
	dqlc_config_free(tc->probe_cfg);
	free(tc->nodes);
	free(tc->node_bin);
	free(tc);
}

int tc_size(const dqlc_test_cluster_t *tc)
{
	return tc != NULL ? tc->n : 0;
}

const char *tc_dir(const dqlc_test_cluster_t *tc)
{
	return tc->dir;
}

const char *tc_addresses(dqlc_test_cluster_t *tc)
{
	size_t cap = (size_t)tc->n * 32 + 1, len = 0;
	char *s = calloc(1, cap);
	if (s == NULL)
		return NULL;
	for (int i = 0; i < tc->n; i++)
		len += (size_t)snprintf(s + len, cap - len, "%s%s", i > 0 ? "," : "",
					tc->nodes[i].address);
	return keep_string(tc, s);
}

const char *tc_uri(dqlc_test_cluster_t *tc, const char *db)
{
	const char *addrs = tc_addresses(tc);
	if (addrs == NULL)
		return NULL;
	const char *query = tc_tls_query(tc);
	if (query == NULL)
		return NULL;
	size_t cap = strlen(addrs) + strlen(db) + strlen(query) + 16;
	char *s = malloc(cap);
	if (s == NULL)
		return NULL;
	snprintf(s, cap, "dqlite://%s/%s%s%s", addrs, db, query[0] != '\0' ? "?" : "", query);
	return keep_string(tc, s);
}

const char *tc_node_address(const dqlc_test_cluster_t *tc, int i)
{
	return valid_index(tc, i, "tc_node_address") ? tc->nodes[i].address : NULL;
}

uint64_t tc_node_id(const dqlc_test_cluster_t *tc, int i)
{
	return valid_index(tc, i, "tc_node_id") ? tc->nodes[i].id : 0;
}

pid_t tc_node_pid(const dqlc_test_cluster_t *tc, int i)
{
	return valid_index(tc, i, "tc_node_pid") ? tc->nodes[i].pid : 0;
}

int tc_node_running(const dqlc_test_cluster_t *tc, int i)
{
	return valid_index(tc, i, "tc_node_running") && tc->nodes[i].pid > 0 &&
	       !tc->nodes[i].stopped;
}

void tc_print_logs(const dqlc_test_cluster_t *tc, int i, int lines)
{
	for (int k = 0; k < tc->n; k++) {
		if (i >= 0 && k != i)
			continue;
		const struct tc_node *nd = &tc->nodes[k];
		fprintf(stderr, "harness: node %llu (%s, %s) log %s:\n",
			(unsigned long long)nd->id, nd->address,
			nd->pid == 0 ? "down" : nd->stopped ? "stopped" : "running", nd->log);
		hp_print_tail(nd->log, lines, "  | ", stderr);
	}
}

/* ---- leader agreement -------------------------------------------------------- */

/* Ask node i whom it thinks leads: the leader's index, -1 with *why set. */
static int ask_leader(struct dqlc_test_cluster *tc, int i, char *why, size_t len)
{
	dqlc_conn_t *conn = NULL;
	dqlc_error_t err = {0};
	dqlc_node_info_t info;
	if (dqlc_connect_node(tc->nodes[i].address, tc->probe_cfg, &conn, &err) != 0 ||
	    dqlc_conn_leader(conn, &info, &err) != 0) {
		snprintf(why, len, "node %d (%s): %s", i, tc->nodes[i].address, err.message);
		dqlc_conn_close(conn);
		return -1;
	}
	dqlc_conn_close(conn);
	if (info.address[0] == '\0') {
		snprintf(why, len, "node %d (%s) knows no leader", i, tc->nodes[i].address);
		return -1;
	}
	int j = index_of_address(tc, info.address);
	if (j < 0)
		snprintf(why, len, "node %d names an unknown leader %s", i, info.address);
	return j;
}

/* One round: the agreed leader's index, or -1 with *why set. */
static int leader_round(struct dqlc_test_cluster *tc, char *why, size_t len)
{
	int agreed = -1;
	reap_unexpected(tc);
	for (int i = 0; i < tc->n; i++) {
		const struct tc_node *nd = &tc->nodes[i];
		/* Only voters answer LEADER; stopped nodes cannot. */
		if (nd->pid == 0 || nd->stopped || nd->role != DQLC_ROLE_VOTER)
			continue;
		int j = ask_leader(tc, i, why, len);
		if (j < 0)
			return -1;
		if (agreed >= 0 && j != agreed) {
			snprintf(why, len, "nodes disagree: %s and %s", tc->nodes[agreed].address,
				 tc->nodes[j].address);
			return -1;
		}
		agreed = j;
	}
	if (agreed < 0) {
		snprintf(why, len, "no running voter");
		return -1;
	}
	if (!tc_node_running(tc, agreed)) {
		/* Followers name the old leader until their election timer fires. */
		snprintf(why, len, "the named leader %s is not running", tc->nodes[agreed].address);
		return -1;
	}
	return agreed;
}

static int wait_leader(struct dqlc_test_cluster *tc, int not_this, int timeout_ms)
{
	char why[512] = "no attempt";
	int64_t deadline = hp_now_ms() + timeout_ms;
	for (;;) {
		int l = leader_round(tc, why, sizeof why);
		if (l >= 0 && l != not_this)
			return l;
		if (l >= 0)
			snprintf(why, sizeof why, "the leader is still node %d", l);
		if (hp_now_ms() >= deadline)
			break;
		hp_sleep_ms(POLL_MS);
	}
	complain("no agreed leader%s after %d ms: %s", not_this >= 0 ? " change" : "", timeout_ms,
		 why);
	tc_print_logs(tc, -1, 15);
	return -1;
}

int tc_leader(dqlc_test_cluster_t *tc)
{
	return tc_leader_within(tc, tc->leader_timeout_ms);
}

int tc_leader_within(dqlc_test_cluster_t *tc, int timeout_ms)
{
	return wait_leader(tc, -1, timeout_ms);
}

int tc_wait_leader_change(dqlc_test_cluster_t *tc, int old, int timeout_ms)
{
	return wait_leader(tc, old, timeout_ms);
}

/* ---- process control --------------------------------------------------------- */

int tc_kill(dqlc_test_cluster_t *tc, int i)
{
	if (!valid_index(tc, i, "tc_kill"))
		return -1;
	require_owner(tc, "tc_kill");
	struct tc_node *nd = &tc->nodes[i];
	if (nd->pid == 0) {
		complain("tc_kill: node %d is not running", i);
		return -1;
	}
	kill(nd->pid, SIGKILL);
	while (waitpid(nd->pid, NULL, 0) < 0 && errno == EINTR)
		;
	forget_pid(tc, nd);
	return 0;
}

/* Wait for a stop/continue notification of our child. */
static int wait_state(pid_t pid, bool stopped)
{
	int status;
	for (;;) {
		pid_t r = waitpid(pid, &status, stopped ? WUNTRACED : WCONTINUED);
		if (r < 0 && errno == EINTR)
			continue;
		if (r != pid)
			return -1;
		if (stopped ? WIFSTOPPED(status) : WIFCONTINUED(status))
			return 0;
		if (WIFEXITED(status) || WIFSIGNALED(status))
			return -1;
	}
}

int tc_stop(dqlc_test_cluster_t *tc, int i)
{
	if (!valid_index(tc, i, "tc_stop"))
		return -1;
	require_owner(tc, "tc_stop");
	struct tc_node *nd = &tc->nodes[i];
	if (nd->pid == 0 || nd->stopped) {
		complain("tc_stop: node %d is not running", i);
		return -1;
	}
	if (kill(nd->pid, SIGSTOP) != 0 || wait_state(nd->pid, true) != 0) {
		complain("tc_stop: node %d did not stop", i);
		return -1;
	}
	nd->stopped = true;
	return 0;
}

int tc_cont(dqlc_test_cluster_t *tc, int i)
{
	if (!valid_index(tc, i, "tc_cont"))
		return -1;
	require_owner(tc, "tc_cont");
	struct tc_node *nd = &tc->nodes[i];
	if (nd->pid == 0 || !nd->stopped) {
		complain("tc_cont: node %d is not stopped", i);
		return -1;
	}
	if (kill(nd->pid, SIGCONT) != 0 || wait_state(nd->pid, false) != 0) {
		complain("tc_cont: node %d did not continue", i);
		return -1;
	}
	nd->stopped = false;
	return 0;
}

int tc_restart(dqlc_test_cluster_t *tc, int i)
{
	if (!valid_index(tc, i, "tc_restart"))
		return -1;
	require_owner(tc, "tc_restart");
	struct tc_node *nd = &tc->nodes[i];
	if (nd->pid > 0) {
		hp_terminate(nd->pid, STOP_TIMEOUT_MS);
		forget_pid(tc, nd);
	}
	/* The address is the node's identity, so its port must be bound again;
	 * a client socket may hold it for a moment. */
	for (int tries = 0; tries < RESTART_ATTEMPTS; tries++) {
		off_t start;
		if (spawn_node(tc, nd, NULL, &start) != 0)
			return -1;
		int r = wait_ready(tc, nd, start);
		if (r == READY)
			return 0;
		if (r == FAILED)
			return -1;
		hp_sleep_ms(100);
	}
	complain("tc_restart: node %d could not bind %s again", i, nd->address);
	return -1;
}

int tc_add_node(dqlc_test_cluster_t *tc)
{
	return tc_add_node_role(tc, DQLC_ROLE_VOTER);
}

int tc_add_node_role(dqlc_test_cluster_t *tc, int role)
{
	require_owner(tc, "tc_add_node");
	if (role != DQLC_ROLE_VOTER && role != DQLC_ROLE_STANDBY && role != DQLC_ROLE_SPARE) {
		complain("tc_add_node: bad role %d", role);
		return -1;
	}
	char *join = running_addresses(tc);
	if (join == NULL || join[0] == '\0') {
		complain("tc_add_node: no running node to join through");
		free(join);
		return -1;
	}
	int i = tc->n;
	int rc = new_node(tc, role) != NULL ? start_new_nodes(tc, i, join) : -1;
	free(join);
	if (rc != 0) {
		if (tc->n > i) { /* forget the failed node (it is reaped) */
			hp_rm_rf(tc->nodes[i].dir);
			tc->n = i;
		}
		return -1;
	}
	return i;
}

/* ---- TLS ------------------------------------------------------------------------ */

static const char *const tls_file_names[] = {
    [TC_TLS_CA] = "ca.crt",
    [TC_TLS_CLIENT_CERT] = "client.crt",
    [TC_TLS_CLIENT_KEY] = "client.key",
    [TC_TLS_CLIENT_BUNDLE] = "client-bundle.crt",
    [TC_TLS_SERVER_CERT] = "server.crt",
    [TC_TLS_SERVER_KEY] = "server.key",
    [TC_TLS_WRONG_CA] = "wrong-ca.crt",
    [TC_TLS_WRONG_CLIENT_CERT] = "wrong-client.crt",
    [TC_TLS_WRONG_CLIENT_KEY] = "wrong-client.key",
    [TC_TLS_MISMATCH_CERT] = "mismatch.crt",
    [TC_TLS_MISMATCH_KEY] = "mismatch.key",
};
#define N_TLS_FILES (sizeof tls_file_names / sizeof tls_file_names[0])

static const char *certs_script(void)
{
	const char *env = getenv("DQLC_TLS_CERTS_SCRIPT");
	return env != NULL && env[0] != '\0' ? env : DQLC_TLS_CERTS_SCRIPT_DEFAULT;
}

int tc_tls_certs(dqlc_test_cluster_t *tc)
{
	if (tc->tls_paths[0] != NULL)
		return 0;
	char dir[PATH_MAX], log[PATH_MAX];
	snprintf(dir, sizeof dir, "%s/tls", tc->dir);
	snprintf(log, sizeof log, "%s/tls-certs.log", tc->dir);
	const char *script = certs_script();
	const char *argv[] = {"sh", script, dir, NULL};
	off_t start;
	pid_t pid = hp_spawn("/bin/sh", (char *const *)argv, log, &start);
	if (pid < 0) {
		complain("tc_tls_certs: cannot run /bin/sh: %s", strerror(errno));
		return -1;
	}
	int status = 0;
	if (!hp_wait_exit(pid, CERTS_TIMEOUT_MS, &status)) {
		complain("tc_tls_certs: %s did not finish within %d ms", script, CERTS_TIMEOUT_MS);
		kill(pid, SIGKILL);
		hp_wait_exit(pid, 5000, NULL);
		return -1;
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		char how[64];
		complain("tc_tls_certs: sh %s %s: %s (set DQLC_TLS_CERTS_SCRIPT?); output:", script,
			 dir, status_text(status, how, sizeof how));
		hp_print_tail(log, 20, "  | ", stderr);
		return -1;
	}
	char *paths[N_TLS_FILES] = {0};
	for (size_t k = 0; k < N_TLS_FILES; k++) {
		size_t len = strlen(dir) + strlen(tls_file_names[k]) + 2;
		paths[k] = malloc(len);
		if (paths[k] != NULL)
			snprintf(paths[k], len, "%s/%s", dir, tls_file_names[k]);
		if (paths[k] == NULL || access(paths[k], R_OK) != 0) {
			complain("tc_tls_certs: %s/%s was not made", dir, tls_file_names[k]);
			for (size_t j = 0; j <= k; j++)
				free(paths[j]);
			return -1;
		}
	}
	memcpy(tc->tls_paths, paths, sizeof paths);
	return 0;
}

const char *tc_tls_file(const dqlc_test_cluster_t *tc, tc_tls_file_t which)
{
	if (tc == NULL || (size_t)which >= N_TLS_FILES) {
		complain("tc_tls_file: no file %d", (int)which);
		return NULL;
	}
	if (tc->tls_paths[which] == NULL)
		complain("tc_tls_file: no certificates yet (start with .tls, or call "
			 "tc_tls_certs)");
	return tc->tls_paths[which];
}

int tc_tls_mode(const dqlc_test_cluster_t *tc)
{
	return tc->tls;
}

/* The key/value pairs of tc_tls_query / tc_tls_config; returns how many. */
static int tls_pairs(const dqlc_test_cluster_t *tc, const char *pairs[][2])
{
	if (tc->tls == TC_TLS_OFF)
		return 0;
	int n = 0;
	pairs[n][0] = "tls";
	pairs[n++][1] = "verify-full";
	pairs[n][0] = "tls_ca";
	pairs[n++][1] = tc->tls_paths[TC_TLS_CA];
	pairs[n][0] = "tls_cert";
	pairs[n++][1] = tc->tls_paths[TC_TLS_CLIENT_CERT];
	pairs[n][0] = "tls_key";
	pairs[n++][1] = tc->tls_paths[TC_TLS_CLIENT_KEY];
	if (tc->tls == TC_TLS_MISMATCH) {
		pairs[n][0] = "tls_server_name";
		pairs[n++][1] = TC_TLS_MISMATCH_NAME;
	}
	return n;
}

/* Append s percent-encoded (all but unreserved characters and '/'). */
static size_t pct_append(char *out, size_t len, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    strchr("-._~/", c) != NULL) {
			out[len++] = (char)c;
		} else {
			out[len++] = '%';
			out[len++] = hex[c >> 4];
			out[len++] = hex[c & 15];
		}
	}
	out[len] = '\0';
	return len;
}

const char *tc_tls_query(dqlc_test_cluster_t *tc)
{
	if (tc->tls_query != NULL)
		return tc->tls_query;
	const char *pairs[8][2];
	int n = tls_pairs(tc, pairs);
	size_t cap = 1;
	for (int k = 0; k < n; k++)
		cap += strlen(pairs[k][0]) + 3 * strlen(pairs[k][1]) + 2;
	char *q = malloc(cap);
	if (q == NULL)
		return NULL;
	size_t len = 0;
	q[0] = '\0';
	for (int k = 0; k < n; k++) {
		len += (size_t)snprintf(q + len, cap - len, "%s%s=", k > 0 ? "&" : "", pairs[k][0]);
		len = pct_append(q, len, pairs[k][1]);
	}
	tc->tls_query = keep_string(tc, q);
	return tc->tls_query;
}

int tc_tls_config(const dqlc_test_cluster_t *tc, dqlc_config_t *cfg, dqlc_error_t *err)
{
	const char *pairs[8][2];
	int n = tls_pairs(tc, pairs);
	for (int k = 0; k < n; k++) {
		int rc = dqlc_config_set(cfg, pairs[k][0], pairs[k][1], err);
		if (rc != 0)
			return rc;
	}
	return 0;
}
