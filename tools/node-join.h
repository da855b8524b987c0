/* dqlc-node: joining a running cluster with the client library's own
 * membership requests. */
#ifndef DQLC_NODE_JOIN_H
#define DQLC_NODE_JOIN_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

struct join_params {
	uint64_t id;
	const char *address;            /* this node's advertised address */
	int role;                       /* DQLC_ROLE_* */
	const char *const *seeds;       /* existing members to ask for the leader */
	size_t n_seeds;
	int timeout_ms;                 /* whole join, retries included */
	const sigset_t *stop_sigs;      /* blocked; a pending one aborts the join */
	/* TLS (all NULL: plaintext): the library's tls=verify-full with these
	 * files; server_name, when set, is the name certificates must show
	 * instead of the dialed IP address. */
	const char *tls_ca;
	const char *tls_cert;
	const char *tls_key;
	const char *tls_server_name;
};

enum { JOIN_OK = 0, JOIN_FAILED, JOIN_INTERRUPTED };

/*
 * Find the leader among the seeds, ADD this node (unless the cluster already
 * has it with this address) and ASSIGN the role (unless it already has it);
 * for a voter, then wait until the node itself reports a leader.  Retries
 * BUSY (a configuration change in progress), NOT_LEADER and connection
 * errors with backoff until the timeout; anything else fails at once.  Safe
 * to repeat, so a restarted node may be given --join again.  Reports on
 * stderr.
 */
int node_join(const struct join_params *p);

#endif
