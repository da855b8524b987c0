/*
 * dqlc-node's TLS front end (built only with OpenSSL).
 *
 * libdqlite listens on an abstract unix socket, which only this process can
 * reach; the proxy listens on the node's advertised TCP address and accepts
 * nothing but mutual TLS (>= 1.2, client certificate signed by the CA).
 * Each accepted connection is TLS-terminated, and only after a successful
 * handshake connected to the abstract socket and relayed byte for byte.
 * Outbound raft connections go through node_proxy_connect, libdqlite's
 * connect function: it dials the peer's advertised address, hands back one
 * end of a socketpair at once and relays the other end through TLS (the
 * peer's certificate is verified against the CA and its IP address, or
 * peer_name).
 *
 * One thread runs every relay in a poll loop.  Memory is bounded: at most
 * PROXY_MAX_RELAYS connections (further ones are closed at once), each with
 * two 16 KiB buffers; an unfinished handshake is dropped after 5 s.
 */
#ifndef DQLC_NODE_PROXY_H
#define DQLC_NODE_PROXY_H

#include "node-tls.h"

#define PROXY_MAX_RELAYS 256

struct node_proxy;

struct node_proxy_config {
	const char *listen;                /* "a.b.c.d:port": the advertised address */
	const char *backend;               /* "@name": libdqlite's bind address */
	const struct node_tls_files *files;
	const char *peer_name;             /* NULL: verify peers against their IP */
};

enum { PROXY_OK = 0, PROXY_ECONFIG = -1, PROXY_EBIND = -2, PROXY_ESYS = -3 };

/* Load the certificates and bind the listening socket (not accepting yet).
 * PROXY_OK, or an error reported on stderr. */
int node_proxy_new(const struct node_proxy_config *cfg, struct node_proxy **out);

/* Start relaying (once libdqlite listens on the backend).  0 or -1. */
int node_proxy_start(struct node_proxy *p);

/* Close the listening socket (new clients are refused) while existing
 * relays and raft dials go on: before stopping libdqlite. */
void node_proxy_stop_accepting(struct node_proxy *p);

/* libdqlite's connect function (dqlite_node_set_connect_func, arg = the
 * proxy).  Never blocks: TLS failures show up as end of file on the fd. */
int node_proxy_connect(void *arg, const char *address, int *fd);

/* Stop the thread (joined), close every relay, free.  NULL-safe. */
void node_proxy_free(struct node_proxy *p);

#endif
