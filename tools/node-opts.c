/* dqlc-node command line parsing. */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <dqlite.h>

#include "dqlite-client.h"
#include "node-opts.h"

static const char usage_text[] =
    "Usage: dqlc-node --id N --address IP:PORT --dir DIR [options]\n"
    "\n"
    "Run one dqlite node (libdqlite) in the foreground.  Node id 1 bootstraps a\n"
    "new cluster on an empty data directory; other ids start outside any cluster\n"
    "and join one with --join.  Prints \"ready id=N address=A pid=P\" once serving.\n"
    "SIGTERM or SIGINT stop the node cleanly.\n"
    "\n"
    "Required:\n"
    "  --id N                 node id (1 bootstraps)\n"
    "  --address IP:PORT      advertised address (IPv4 literal)\n"
    "  --dir DIR              data directory (created if missing)\n"
    "Options:\n"
    "  --bind IP:PORT         listen address (default: --address)\n"
    "  --latency-ms N         network latency hint; elections take ~15-30x this\n"
    "                         (10-20 gives fast test failover; default: libdqlite's)\n"
    "  --failure-domain N     failure domain reported by DESCRIBE\n"
    "  --snapshot-threshold N raft snapshot threshold (entries)\n"
    "  --snapshot-trailing N  raft entries kept after a snapshot (>= 4, >= threshold)\n"
    "  --join ADDR[,ADDR...]  join the cluster through these nodes (ADD + ASSIGN)\n"
    "  --role ROLE            role to take when joining: voter (default), standby, spare\n"
    "  --join-timeout-ms N    give up joining after N ms (default 10000)\n"
    "  -h, --help             this text\n"
    "  --version              versions of dqlc-node's libraries\n"
    "TLS (all three together; needs a build with OpenSSL):\n"
    "  --tls-cert FILE        this node's certificate (PEM), presented to clients\n"
    "                         and, as client certificate, to peers\n"
    "  --tls-key FILE         its private key (PEM)\n"
    "  --tls-ca FILE          CA (PEM) that must sign every client's and peer's\n"
    "                         certificate\n"
    "  --tls-peer-name NAME   verify peers' certificates against NAME instead of\n"
    "                         the IP address dialed\n"
    "  With them the node accepts only mutual TLS (>= 1.2) on --address (or\n"
    "  --bind); libdqlite itself listens on an abstract unix socket only this\n"
    "  process can reach, raft traffic to peers goes through TLS too, and\n"
    "  --join talks TLS (tls=verify-full with the same files).\n"
    "\n"
    "Exit status: 0 stopped by a signal, 1 runtime failure, 2 usage error,\n"
    "3 the address could not be bound.\n";

enum {
	OPT_ID = 256,
	OPT_ADDRESS,
	OPT_BIND,
	OPT_DIR,
	OPT_LATENCY,
	OPT_FAILURE_DOMAIN,
	OPT_SNAP_THRESHOLD,
	OPT_SNAP_TRAILING,
	OPT_JOIN,
	OPT_ROLE,
	OPT_JOIN_TIMEOUT,
	OPT_TLS_CERT,
	OPT_TLS_KEY,
	OPT_TLS_CA,
	OPT_TLS_PEER_NAME,
	OPT_VERSION,
};

static const struct option long_opts[] = {
    {"id", required_argument, NULL, OPT_ID},
    {"address", required_argument, NULL, OPT_ADDRESS},
    {"bind", required_argument, NULL, OPT_BIND},
    {"dir", required_argument, NULL, OPT_DIR},
    {"latency-ms", required_argument, NULL, OPT_LATENCY},
    {"failure-domain", required_argument, NULL, OPT_FAILURE_DOMAIN},
    {"snapshot-threshold", required_argument, NULL, OPT_SNAP_THRESHOLD},
    {"snapshot-trailing", required_argument, NULL, OPT_SNAP_TRAILING},
    {"join", required_argument, NULL, OPT_JOIN},
    {"role", required_argument, NULL, OPT_ROLE},
    {"join-timeout-ms", required_argument, NULL, OPT_JOIN_TIMEOUT},
    {"tls-cert", required_argument, NULL, OPT_TLS_CERT},
    {"tls-key", required_argument, NULL, OPT_TLS_KEY},
    {"tls-ca", required_argument, NULL, OPT_TLS_CA},
    {"tls-peer-name", required_argument, NULL, OPT_TLS_PEER_NAME},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, OPT_VERSION},
    {NULL, 0, NULL, 0},
};

bool node_addr_valid(const char *address)
{
	const char *colon = strrchr(address, ':');
	if (colon == NULL || colon == address || (size_t)(colon - address) >= INET_ADDRSTRLEN)
		return false;
	char host[INET_ADDRSTRLEN];
	memcpy(host, address, (size_t)(colon - address));
	host[colon - address] = '\0';
	struct in_addr in;
	if (inet_pton(AF_INET, host, &in) != 1)
		return false;
	const char *p = colon + 1;
	if (*p < '0' || *p > '9')
		return false;
	char *end;
	errno = 0;
	unsigned long port = strtoul(p, &end, 10);
	return errno == 0 && *end == '\0' && port >= 1 && port <= 65535;
}

/* A decimal number in [min, max], the whole string. */
static int parse_u64(const char *name, const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	char *end;
	errno = 0;
	if (*s < '0' || *s > '9')
		goto bad;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		goto bad;
	*out = v;
	return 0;
bad:
	fprintf(stderr, "dqlc-node: --%s: '%s' is not a number in %llu..%llu\n", name, s,
		(unsigned long long)min, (unsigned long long)max);
	return -1;
}

static int parse_role(const char *s, int *out)
{
	if (strcmp(s, "voter") == 0)
		*out = DQLC_ROLE_VOTER;
	else if (strcmp(s, "standby") == 0)
		*out = DQLC_ROLE_STANDBY;
	else if (strcmp(s, "spare") == 0)
		*out = DQLC_ROLE_SPARE;
	else {
		fprintf(stderr, "dqlc-node: --role: '%s' is not voter, standby or spare\n", s);
		return -1;
	}
	return 0;
}

/* Split "a,b,c" into o->join, checking each address. */
static int parse_join(struct node_opts *o, const char *list)
{
	char *copy = strdup(list);
	if (copy == NULL)
		return -1;
	int rc = 0;
	char *save = NULL;
	for (char *tok = strtok_r(copy, ",", &save); tok != NULL; tok = strtok_r(NULL, ",", &save)) {
		if (!node_addr_valid(tok)) {
			fprintf(stderr, "dqlc-node: --join: '%s' is not an IPv4:port address\n",
				tok);
			rc = -1;
			break;
		}
		char **grown = realloc(o->join, (o->n_join + 1) * sizeof *grown);
		char *dup = strdup(tok);
		if (grown != NULL)
			o->join = grown;
		if (grown == NULL || dup == NULL) {
			free(dup);
			rc = -1;
			break;
		}
		o->join[o->n_join++] = dup;
	}
	free(copy);
	if (rc == 0 && o->n_join == 0) {
		fprintf(stderr, "dqlc-node: --join: no address given\n");
		rc = -1;
	}
	return rc;
}

/* The TLS options come as a set, and only in a build that has OpenSSL. */
static int check_tls(const struct node_opts *o)
{
	int given = (o->tls_cert != NULL) + (o->tls_key != NULL) + (o->tls_ca != NULL);
	if (given == 0 && o->tls_peer_name == NULL)
		return 0;
#ifndef DQLC_HAVE_OPENSSL
	fprintf(stderr, "dqlc-node: --tls-* options: this dqlc-node was built without "
			"OpenSSL; configure with --with-openssl (Debian: apt-get install "
			"libssl-dev)\n");
	return -1;
#else
	if (given != 3) {
		fprintf(stderr, "dqlc-node: --tls-cert, --tls-key and --tls-ca go together\n");
		return -1;
	}
	if (o->tls_peer_name != NULL && o->tls_peer_name[0] == '\0') {
		fprintf(stderr, "dqlc-node: --tls-peer-name: empty name\n");
		return -1;
	}
	return 0;
#endif
}

static int usage_error(struct node_opts *o)
{
	fprintf(stderr, "Try 'dqlc-node --help'.\n");
	node_opts_free(o);
	return 2;
}

int node_opts_parse(struct node_opts *o, int argc, char **argv)
{
	memset(o, 0, sizeof *o);
	o->role = DQLC_ROLE_VOTER;
	o->join_timeout_ms = 10000;
	bool have_id = false;
	bool have_role = false;
	uint64_t v;
	int c;
	opterr = 1;
	while ((c = getopt_long(argc, argv, "h", long_opts, NULL)) != -1) {
		switch (c) {
		case OPT_ID:
			if (parse_u64("id", optarg, 1, UINT64_MAX, &o->id) != 0)
				return usage_error(o);
			have_id = true;
			break;
		case OPT_ADDRESS:
			o->address = optarg;
			break;
		case OPT_BIND:
			o->bind = optarg;
			break;
		case OPT_DIR:
			o->dir = optarg;
			break;
		case OPT_LATENCY:
			if (parse_u64("latency-ms", optarg, 1, 3600000, &v) != 0)
				return usage_error(o);
			o->latency_ms = (unsigned)v;
			break;
		case OPT_FAILURE_DOMAIN:
			if (parse_u64("failure-domain", optarg, 0, UINT64_MAX,
				      &o->failure_domain) != 0)
				return usage_error(o);
			o->have_failure_domain = true;
			break;
		case OPT_SNAP_THRESHOLD:
			if (parse_u64("snapshot-threshold", optarg, 1, UINT_MAX, &v) != 0)
				return usage_error(o);
			o->snapshot_threshold = (unsigned)v;
			break;
		case OPT_SNAP_TRAILING:
			if (parse_u64("snapshot-trailing", optarg, 4, UINT_MAX, &v) != 0)
				return usage_error(o);
			o->snapshot_trailing = (unsigned)v;
			break;
		case OPT_JOIN:
			if (o->n_join > 0) {
				fprintf(stderr, "dqlc-node: --join given twice\n");
				return usage_error(o);
			}
			if (parse_join(o, optarg) != 0)
				return usage_error(o);
			break;
		case OPT_ROLE:
			if (parse_role(optarg, &o->role) != 0)
				return usage_error(o);
			have_role = true;
			break;
		case OPT_JOIN_TIMEOUT:
			if (parse_u64("join-timeout-ms", optarg, 1, INT_MAX, &v) != 0)
				return usage_error(o);
			o->join_timeout_ms = (int)v;
			break;
		case OPT_TLS_CERT:
			o->tls_cert = optarg;
			break;
		case OPT_TLS_KEY:
			o->tls_key = optarg;
			break;
		case OPT_TLS_CA:
			o->tls_ca = optarg;
			break;
		case OPT_TLS_PEER_NAME:
			o->tls_peer_name = optarg;
			break;
		case 'h':
			fputs(usage_text, stdout);
			node_opts_free(o);
			return 0;
		case OPT_VERSION:
			printf("dqlc-node (dqlite-client %s, libdqlite %d)\n",
			       dqlc_version_string(), dqlite_version_number());
			node_opts_free(o);
			return 0;
		default: /* getopt printed the complaint */
			return usage_error(o);
		}
	}
	if (optind < argc) {
		fprintf(stderr, "dqlc-node: unexpected argument '%s'\n", argv[optind]);
		return usage_error(o);
	}
	if (!have_id || o->address == NULL || o->dir == NULL) {
		fprintf(stderr, "dqlc-node: --id, --address and --dir are required\n");
		return usage_error(o);
	}
	if (!node_addr_valid(o->address)) {
		fprintf(stderr, "dqlc-node: --address: '%s' is not an IPv4:port address "
				"(libdqlite 1.11 accepts only IPv4 literals)\n",
			o->address);
		return usage_error(o);
	}
	if (o->bind == NULL)
		o->bind = o->address;
	else if (!node_addr_valid(o->bind)) {
		fprintf(stderr, "dqlc-node: --bind: '%s' is not an IPv4:port address\n", o->bind);
		return usage_error(o);
	}
	if (o->n_join > 0 && o->id == 1) {
		/* Id 1 bootstraps its own cluster: joining it elsewhere would
		 * make two clusters claim the same node. */
		fprintf(stderr, "dqlc-node: --join: node id 1 bootstraps and cannot join\n");
		return usage_error(o);
	}
	if (have_role && o->n_join == 0) {
		fprintf(stderr, "dqlc-node: --role only applies with --join\n");
		return usage_error(o);
	}
	return check_tls(o) == 0 ? -1 : usage_error(o);
}

void node_opts_free(struct node_opts *o)
{
	for (size_t i = 0; i < o->n_join; i++)
		free(o->join[i]);
	free(o->join);
	o->join = NULL;
	o->n_join = 0;
}
