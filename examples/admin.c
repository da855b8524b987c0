/*
 * admin: cluster administration through a pool.
 *
 * Prints the leader and the members with their roles, each node's failure
 * domain and weight and the leader each node reports; then hands leadership
 * to another voter, waits until the pool's cluster map shows the new
 * leader, and writes through the pool to show it follows.
 *
 *   admin [URI]        (else $DQLC_URI)
 *
 * Needs a cluster with at least two voters.  Adding a node
 * (dqlc_pool_add, then dqlc_pool_assign to make it a voter) and removing
 * one (dqlc_pool_remove) work the same way; see dqlc(1) for a shell.
 * Exit status 0 when the leadership moved to the chosen voter.
 */
#define _POSIX_C_SOURCE 200809L /* nanosleep */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <dqlite-client.h>

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

/* Ask one node directly whom it follows (no leader discovery). */
static void print_view(const char *address, const dqlc_config_t *cfg)
{
	dqlc_node_info_t leader;
	dqlc_conn_t *conn;
	dqlc_error_t err;
	if (dqlc_connect_node(address, cfg, &conn, &err) != 0) {
		printf("    %s: unreachable (%s)\n", address, err.message);
		return;
	}
	if (dqlc_conn_leader(conn, &leader, &err) == 0)
		printf("    %s says the leader is %s (id %llu)\n", address,
		       leader.address[0] ? leader.address : "unknown",
		       (unsigned long long)leader.id);
	else
		printf("    %s: %s\n", address, err.message);
	dqlc_conn_close(conn);
}

/* Print the cluster map; fill `leader`; return the members (free them). */
static dqlc_node_info_t *show_cluster(dqlc_pool_t *pool, const dqlc_config_t *cfg, size_t *n,
				      char *leader, size_t leader_len)
{
	dqlc_node_info_t *nodes;
	dqlc_error_t err;
	if (dqlc_pool_cluster(pool, &nodes, n, leader, leader_len, &err) != 0) {
		fprintf(stderr, "admin: cluster: %s (%s)\n", err.message, dqlc_errname(err.code));
		return NULL;
	}
	printf("leader: %s\n", leader);
	printf("members:\n");
	for (size_t i = 0; i < *n; i++) {
		uint64_t domain = 0, weight = 0;
		printf("  id %llu  %-21s %-7s", (unsigned long long)nodes[i].id, nodes[i].address,
		       dqlc_role_name(nodes[i].role));
		/* describe talks to that node itself */
		if (dqlc_pool_describe(pool, nodes[i].address, &domain, &weight, &err) == 0)
			printf("  failure domain %llu, weight %llu", (unsigned long long)domain,
			       (unsigned long long)weight);
		else
			printf("  (describe: %s)", err.message);
		printf("%s\n", strcmp(nodes[i].address, leader) == 0 ? "  <- leader" : "");
	}
	printf("  as each node sees it:\n");
	for (size_t i = 0; i < *n; i++)
		print_view(nodes[i].address, cfg);
	return nodes;
}

int main(int argc, char **argv)
{
	const char *uri = argc > 1 ? argv[1] : getenv("DQLC_URI");
	char leader[256], now[256] = "";
	dqlc_node_info_t *nodes = NULL, *target = NULL;
	dqlc_config_t *cfg = NULL;
	dqlc_pool_t *pool = NULL;
	dqlc_future_t *f;
	dqlc_error_t err;
	size_t n = 0;
	int status = EXIT_FAILURE;

	if (uri == NULL || *uri == '\0') {
		fprintf(stderr, "usage: admin URI (or set DQLC_URI)\n");
		return EXIT_FAILURE;
	}
	/* One configuration for the pool and for the one-node connections. */
	cfg = dqlc_config_new();
	if (cfg == NULL || dqlc_config_from_uri(cfg, uri, &err) != 0 ||
	    dqlc_pool_create(NULL, cfg, &pool, &err) != 0) {
		fprintf(stderr, "admin: %s: %s\n", uri, cfg ? err.message : "out of memory");
		dqlc_config_free(cfg);
		return EXIT_FAILURE;
	}

	nodes = show_cluster(pool, cfg, &n, leader, sizeof leader);
	if (nodes == NULL)
		goto out;

	/* Another voter to hand leadership to. */
	for (size_t i = 0; i < n && target == NULL; i++)
		if (nodes[i].role == DQLC_ROLE_VOTER && strcmp(nodes[i].address, leader) != 0)
			target = &nodes[i];
	if (target == NULL) {
		fprintf(stderr, "admin: no other voter to transfer leadership to\n");
		goto out;
	}
	printf("transferring leadership to id %llu (%s)\n", (unsigned long long)target->id,
	       target->address);
	if (dqlc_pool_transfer(pool, target->id, &err) != 0) {
		fprintf(stderr, "admin: transfer: %s (%s)\n", err.message, dqlc_errname(err.code));
		goto out;
	}

	/* The pool refreshes its map after a membership or leadership
	 * request; wait (bounded) until it shows the new leader. */
	for (int i = 0; i < 100; i++) {
		dqlc_node_info_t *again;
		size_t m;
		if (dqlc_pool_cluster(pool, &again, &m, now, sizeof now, NULL) == 0) {
			dqlc_nodes_free(again);
			if (strcmp(now, target->address) == 0)
				break;
		}
		sleep_ms(100);
	}
	printf("new leader: %s\n", now);
	if (strcmp(now, target->address) != 0) {
		fprintf(stderr, "admin: the leader is %s, not %s\n", now, target->address);
		goto out;
	}

	/* Requests follow the new leader by themselves. */
	f = dqlc_pool_exec(pool, "CREATE TABLE IF NOT EXISTS admin_check (x INTEGER)", NULL, 0);
	if (dqlc_future_error(f, &err) != 0) {
		fprintf(stderr, "admin: write after the transfer: %s\n", err.message);
		dqlc_future_free(f);
		goto out;
	}
	dqlc_future_free(f);
	printf("a write after the transfer succeeded (the pool follows the leader)\n");
	printf("admin: ok\n");
	status = EXIT_SUCCESS;
out:
	dqlc_nodes_free(nodes);
	dqlc_pool_close(pool);
	dqlc_config_free(cfg);
	return status;
}
