/* dqlc-node command line. */
#ifndef DQLC_NODE_OPTS_H
#define DQLC_NODE_OPTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct node_opts {
	uint64_t id;
	const char *address;  /* advertised: what LEADER/CLUSTER report */
	const char *bind;     /* where to listen; defaults to address */
	const char *dir;
	unsigned latency_ms;  /* 0: libdqlite's default */
	bool have_failure_domain;
	uint64_t failure_domain;
	unsigned snapshot_threshold; /* 0: default */
	unsigned snapshot_trailing;  /* 0: default */
	char **join;          /* seed addresses (owned), n_join of them */
	size_t n_join;
	int role;             /* DQLC_ROLE_* to assign after joining */
	int join_timeout_ms;
	/* TLS front end: all three or none (see node-proxy.h). */
	const char *tls_cert;
	const char *tls_key;
	const char *tls_ca;
	const char *tls_peer_name; /* verify peers against this name, not their IP */
};

/* Parse argv.  Returns -1 when the node should run, otherwise the exit code
 * to return at once (0 after --help/--version, 2 on a usage error, which has
 * been reported on stderr). */
int node_opts_parse(struct node_opts *o, int argc, char **argv);
void node_opts_free(struct node_opts *o);

/* True for an "a.b.c.d:port" IPv4 literal with a port in 1..65535: the only
 * form libdqlite 1.11.1 accepts for node addresses. */
bool node_addr_valid(const char *address);

#endif
