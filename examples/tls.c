/*
 * tls: connect to a TLS cluster with the server verified (tls=verify-full)
 * and a client certificate (mutual TLS).
 *
 *   tls [URI [CA [CERT KEY]]]
 *
 * Each argument not given comes from the environment: DQLC_URI, DQLC_TLS_CA,
 * DQLC_TLS_CERT, DQLC_TLS_KEY.  CA is the PEM file of the CA that signed the
 * nodes' certificates ("system" for the system's trust store); CERT and KEY
 * (both or neither) are this client's certificate and key.  verify-full
 * checks the chain and that the certificate names the host or IP address
 * dialed (or the tls_server_name key).
 *
 * The same keys work in the URI:
 *   dqlite://10.0.0.1:9001/app?tls=verify-full&tls_ca=/etc/dqlite/ca.crt
 *
 * Exit status: 0 connected and queried; 77 the library was built without
 * OpenSSL (DQLC_ENOTSUP); 1 any other failure, with the reason on stderr.
 */
#include <stdio.h>
#include <stdlib.h>

#include <dqlite-client.h>

#define EXIT_NO_TLS 77

static const char *arg_or_env(int argc, char **argv, int i, const char *name)
{
	const char *v = argc > i ? argv[i] : getenv(name);
	return v != NULL && *v != '\0' ? v : NULL;
}

int main(int argc, char **argv)
{
	const char *uri = arg_or_env(argc, argv, 1, "DQLC_URI");
	const char *ca = arg_or_env(argc, argv, 2, "DQLC_TLS_CA");
	const char *cert = arg_or_env(argc, argv, 3, "DQLC_TLS_CERT");
	const char *key = arg_or_env(argc, argv, 4, "DQLC_TLS_KEY");
	dqlc_config_t *cfg;
	dqlc_conn_t *conn = NULL;
	dqlc_value_t one;
	dqlc_error_t err;
	int rv;

	if (uri == NULL || ca == NULL) {
		fprintf(stderr, "usage: tls URI CA [CERT KEY] (or DQLC_URI, DQLC_TLS_CA, "
				"DQLC_TLS_CERT, DQLC_TLS_KEY)\n");
		return EXIT_FAILURE;
	}
	if ((cert == NULL) != (key == NULL)) {
		fprintf(stderr, "tls: give both a client certificate and its key, or neither\n");
		return EXIT_FAILURE;
	}

	/* Typed keys in a config; the URI (nodes, database, any ?key=value)
	 * is merged over it by dqlc_connect. */
	cfg = dqlc_config_new();
	if (cfg == NULL) {
		fprintf(stderr, "tls: out of memory\n");
		return EXIT_FAILURE;
	}
	rv = dqlc_config_set(cfg, "tls", "verify-full", &err);
	if (rv == 0)
		rv = dqlc_config_set(cfg, "tls_ca", ca, &err);
	if (rv == 0 && cert != NULL)
		rv = dqlc_config_set(cfg, "tls_cert", cert, &err);
	if (rv == 0 && key != NULL)
		rv = dqlc_config_set(cfg, "tls_key", key, &err);
	if (rv == 0)
		rv = dqlc_connect(uri, cfg, &conn, &err);
	dqlc_config_free(cfg); /* the connection keeps its own copy */

	if (rv == DQLC_ENOTSUP) {
		fprintf(stderr, "tls: this dqlite-client was built without OpenSSL, so it cannot "
				"speak TLS: %s\n", err.message);
		return EXIT_NO_TLS;
	}
	if (rv != 0) {
		/* A bad CA or certificate file, a failed verification, a
		 * server that does not speak TLS: the message says which. */
		fprintf(stderr, "tls: cannot connect to %s: %s (%s)\n", uri, err.message,
			dqlc_errname(rv));
		return EXIT_FAILURE;
	}
	printf("TLS connection to the leader at %s\n", dqlc_conn_address(conn));

	rv = dqlc_conn_fetchval(conn, "SELECT 1", NULL, 0, &one, &err);
	if (rv != 0) {
		fprintf(stderr, "tls: query: %s\n", err.message);
		dqlc_conn_close(conn);
		return EXIT_FAILURE;
	}
	printf("SELECT 1 over TLS returned %lld\n", (long long)one.v.i);
	printf("tls: ok\n");
	dqlc_value_clear(&one);
	dqlc_conn_close(conn);
	return EXIT_SUCCESS;
}
