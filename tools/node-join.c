/* dqlc-node: join a running cluster (find the leader, ADD, ASSIGN). */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "dqlite-client.h"
#include "node-join.h"

enum { STEP_DONE, STEP_RETRY, STEP_FATAL };

/* Per-probe bounds, so that one dead seed cannot eat the whole deadline. */
#define DIAL_TIMEOUT_MS 1000
#define CONNECT_TIMEOUT_MS 2000
#define BACKOFF_START_MS 20
#define BACKOFF_CAP_MS 500

struct attempt {
	const struct join_params *p;
	int64_t deadline; /* CLOCK_MONOTONIC ms */
	char why[1024];   /* the last reason to retry or give up */
};

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t remaining_ms(const struct attempt *a)
{
	int64_t left = a->deadline - now_ms();
	return left > 0 ? left : 0;
}

static int64_t min64(int64_t a, int64_t b)
{
	return a < b ? a : b;
}

/* Which failures are worth another try: the cluster being busy with another
 * configuration change, leadership moving, nodes not reachable (yet). */
static int classify(const dqlc_error_t *e)
{
	switch (e->code) {
	case DQLC_ESQL:
		if (e->sqlite_code == DQLC_SQLITE_BUSY ||
		    e->sqlite_code == DQLC_SQLITE_NOT_LEADER ||
		    e->sqlite_code == DQLC_SQLITE_LEADERSHIP_LOST)
			return STEP_RETRY;
		return (e->flags & DQLC_ERRF_RETRYABLE) ? STEP_RETRY : STEP_FATAL;
	case DQLC_EBUSY:
	case DQLC_ECONNECT:
	case DQLC_EIO:
	case DQLC_ETIMEDOUT:
	case DQLC_ENOLEADER:
	case DQLC_ECLOSED:
		return STEP_RETRY;
	default:
		return STEP_FATAL;
	}
}

static int fail(struct attempt *a, const char *what, const dqlc_error_t *e)
{
	snprintf(a->why, sizeof a->why, "%s: %s (%s, server code %d)", what, e->message,
		 dqlc_errname(e->code), e->sqlite_code);
	return classify(e);
}

/* The members of a TLS cluster speak nothing but mutual TLS. */
static int set_tls(dqlc_config_t *cfg, const struct join_params *p, dqlc_error_t *err)
{
	if (p->tls_ca == NULL)
		return 0;
	if (dqlc_config_set(cfg, "tls", "verify-full", err) != 0 ||
	    dqlc_config_set(cfg, "tls_ca", p->tls_ca, err) != 0 ||
	    dqlc_config_set(cfg, "tls_cert", p->tls_cert, err) != 0 ||
	    dqlc_config_set(cfg, "tls_key", p->tls_key, err) != 0)
		return -1;
	if (p->tls_server_name != NULL &&
	    dqlc_config_set(cfg, "tls_server_name", p->tls_server_name, err) != 0)
		return -1;
	return 0;
}

/* Connect to one node with bounds derived from the join deadline. */
static dqlc_conn_t *connect_node(struct attempt *a, const char *address, dqlc_error_t *err)
{
	int64_t left = remaining_ms(a);
	if (left <= 0) {
		err->code = DQLC_ETIMEDOUT;
		err->sqlite_code = 0;
		snprintf(err->message, sizeof err->message, "join deadline reached");
		return NULL;
	}
	dqlc_config_t *cfg = dqlc_config_new();
	if (cfg == NULL) {
		err->code = DQLC_ENOMEM;
		err->sqlite_code = 0;
		snprintf(err->message, sizeof err->message, "out of memory");
		return NULL;
	}
	char dial[32], connect[32], request[32];
	snprintf(dial, sizeof dial, "%lld", (long long)min64(left, DIAL_TIMEOUT_MS));
	snprintf(connect, sizeof connect, "%lld", (long long)min64(left, CONNECT_TIMEOUT_MS));
	snprintf(request, sizeof request, "%lld", (long long)left);
	dqlc_conn_t *conn = NULL;
	if (dqlc_config_set(cfg, "dial_timeout_ms", dial, err) == 0 &&
	    dqlc_config_set(cfg, "connect_timeout_ms", connect, err) == 0 &&
	    dqlc_config_set(cfg, "request_timeout_ms", request, err) == 0 &&
	    set_tls(cfg, a->p, err) == 0)
		dqlc_connect_node(address, cfg, &conn, err);
	dqlc_config_free(cfg);
	return conn;
}

/* A connection to a node that says it is the leader, or NULL. */
static dqlc_conn_t *connect_leader(struct attempt *a)
{
	const struct join_params *p = a->p;
	for (size_t i = 0; i < p->n_seeds; i++) {
		const char *seed = p->seeds[i];
		dqlc_error_t err = {0};
		dqlc_node_info_t info;
		dqlc_conn_t *conn = connect_node(a, seed, &err);
		if (conn == NULL || dqlc_conn_leader(conn, &info, &err) != 0) {
			snprintf(a->why, sizeof a->why, "%s: %s", seed, err.message);
			dqlc_conn_close(conn);
			continue;
		}
		if (info.address[0] == '\0') {
			snprintf(a->why, sizeof a->why, "%s knows no leader", seed);
			dqlc_conn_close(conn);
			continue;
		}
		if (strcmp(info.address, seed) == 0)
			return conn;
		dqlc_conn_close(conn);
		/* Trust a redirect only once the named node confirms. */
		char leader[sizeof info.address];
		memcpy(leader, info.address, sizeof leader);
		conn = connect_node(a, leader, &err);
		if (conn == NULL || dqlc_conn_leader(conn, &info, &err) != 0) {
			snprintf(a->why, sizeof a->why, "leader %s (named by %s): %s", leader,
				 seed, err.message);
			dqlc_conn_close(conn);
			continue;
		}
		if (strcmp(info.address, leader) == 0)
			return conn;
		snprintf(a->why, sizeof a->why, "%s named %s as leader, which names '%s'", seed,
			 leader, info.address);
		dqlc_conn_close(conn);
	}
	return NULL;
}

/* One pass: ADD and ASSIGN whatever is still missing. */
static int join_step(struct attempt *a)
{
	const struct join_params *p = a->p;
	dqlc_conn_t *conn = connect_leader(a);
	if (conn == NULL)
		return STEP_RETRY;

	dqlc_error_t err = {0};
	dqlc_node_info_t *nodes = NULL;
	size_t n = 0;
	int rc = STEP_DONE;
	if (dqlc_conn_cluster(conn, &nodes, &n, &err) != 0) {
		rc = fail(a, "cluster", &err);
		goto out;
	}
	const dqlc_node_info_t *self = NULL;
	for (size_t i = 0; i < n; i++) {
		bool same_id = nodes[i].id == p->id;
		bool same_addr = strcmp(nodes[i].address, p->address) == 0;
		if (same_id && same_addr)
			self = &nodes[i];
		else if (same_id || same_addr) {
			snprintf(a->why, sizeof a->why,
				 "the cluster already has node id %llu at %s (this node: id %llu "
				 "at %s)",
				 (unsigned long long)nodes[i].id, nodes[i].address,
				 (unsigned long long)p->id, p->address);
			rc = STEP_FATAL;
			goto out;
		}
	}
	/* Requests below wait for raft: bound them by what is left. */
	dqlc_conn_set_timeout(conn, remaining_ms(a) > 0 ? remaining_ms(a) : 1, NULL);
	if (self == NULL && dqlc_conn_add(conn, p->id, p->address, &err) != 0) {
		rc = fail(a, "add", &err);
		goto out;
	}
	int role = self != NULL ? self->role : DQLC_ROLE_SPARE; /* ADD makes a spare */
	if (role != p->role && dqlc_conn_assign(conn, p->id, p->role, &err) != 0) {
		rc = fail(a, "assign", &err);
		goto out;
	}
	fprintf(stderr, "dqlc-node: member of the cluster led by %s as %s\n",
		dqlc_conn_address(conn), dqlc_role_name(p->role));
out:
	dqlc_nodes_free(nodes);
	dqlc_conn_close(conn);
	return rc;
}

/* A voter reports a leader once the configuration naming it reached it;
 * only then can a client rely on this node for discovery. */
static int own_leader_known(struct attempt *a)
{
	dqlc_error_t err = {0};
	dqlc_node_info_t info;
	dqlc_conn_t *conn = connect_node(a, a->p->address, &err);
	if (conn == NULL || dqlc_conn_leader(conn, &info, &err) != 0) {
		dqlc_conn_close(conn);
		return fail(a, "own leader", &err);
	}
	dqlc_conn_close(conn);
	if (info.address[0] == '\0') {
		snprintf(a->why, sizeof a->why, "this node does not know the leader yet");
		return STEP_RETRY;
	}
	return STEP_DONE;
}

/* Sleep, but wake for a stop signal: returns true if one arrived. */
static bool pause_for_signal(const sigset_t *sigs, int64_t ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000};
	for (;;) {
		int sig = sigtimedwait(sigs, NULL, &ts);
		if (sig > 0)
			return true;
		if (errno != EINTR)
			return false; /* EAGAIN: the time is up */
	}
}

int node_join(const struct join_params *p)
{
	struct attempt a = {.p = p, .deadline = now_ms() + p->timeout_ms};
	int64_t backoff = BACKOFF_START_MS;
	bool member = false;
	for (;;) {
		int rc = member ? own_leader_known(&a) : join_step(&a);
		if (rc == STEP_DONE && !member && p->role == DQLC_ROLE_VOTER) {
			member = true; /* then wait for our own node to know it */
			backoff = BACKOFF_START_MS;
			continue;
		}
		if (rc == STEP_DONE)
			return JOIN_OK;
		if (rc == STEP_FATAL) {
			fprintf(stderr, "dqlc-node: cannot join: %s\n", a.why);
			return JOIN_FAILED;
		}
		int64_t left = remaining_ms(&a);
		if (left <= 0) {
			fprintf(stderr, "dqlc-node: gave up joining after %d ms: %s\n",
				p->timeout_ms, a.why);
			return JOIN_FAILED;
		}
		if (pause_for_signal(p->stop_sigs, min64(backoff, left))) {
			fprintf(stderr, "dqlc-node: stop signal while joining\n");
			return JOIN_INTERRUPTED;
		}
		backoff = min64(backoff * 2, BACKOFF_CAP_MS);
	}
}
