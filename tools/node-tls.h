/* dqlc-node: OpenSSL contexts for the TLS front end (built only with
 * OpenSSL). */
#ifndef DQLC_NODE_TLS_H
#define DQLC_NODE_TLS_H

#include <stddef.h>

#include <openssl/ssl.h>

struct node_tls_files {
	const char *cert; /* PEM: this node's certificate (then any chain) */
	const char *key;  /* PEM: its private key */
	const char *ca;   /* PEM: the CA(s) that sign clients and peers */
};

/* The accepting side: TLS >= 1.2, presents `cert`, requires a client
 * certificate that verifies against `ca`.  NULL with *why set. */
SSL_CTX *node_tls_server_ctx(const struct node_tls_files *f, char *why, size_t len);

/* The dialing side (raft traffic to peers): TLS >= 1.2, presents `cert` as
 * client certificate, verifies the peer against `ca`.  NULL with *why set. */
SSL_CTX *node_tls_client_ctx(const struct node_tls_files *f, char *why, size_t len);

/* Make an outbound session verify the peer's certificate names `name` (an
 * IP literal is checked against IP subjectAltNames, anything else as a
 * DNS name, which is also sent as SNI).  0 or -1. */
int node_tls_expect_name(SSL *ssl, const char *name);

/* Why the last TLS operation on `ssl` failed: the certificate verification
 * result when the peer's certificate was refused, else the first reason in
 * OpenSSL's error queue (which this empties), else `fallback`. */
const char *node_tls_reason(const SSL *ssl, const char *fallback, char *buf, size_t len);

#endif
