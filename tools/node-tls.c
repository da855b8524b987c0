/* dqlc-node: OpenSSL contexts for the TLS front end. */
#include <arpa/inet.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "node-tls.h"

/* The reason of the first error queued, then an empty queue. */
static const char *queued_reason(char *buf, size_t len, const char *fallback)
{
	unsigned long e = ERR_get_error();
	ERR_clear_error();
	if (e == 0) {
		snprintf(buf, len, "%s", fallback);
		return buf;
	}
	const char *reason = ERR_reason_error_string(e);
	if (reason != NULL)
		snprintf(buf, len, "%s", reason);
	else
		ERR_error_string_n(e, buf, len);
	return buf;
}

const char *node_tls_reason(const SSL *ssl, const char *fallback, char *buf, size_t len)
{
	long vr = ssl != NULL ? SSL_get_verify_result(ssl) : X509_V_OK;
	if (vr != X509_V_OK) {
		ERR_clear_error();
		snprintf(buf, len, "certificate verification failed: %s",
			 X509_verify_cert_error_string(vr));
		return buf;
	}
	return queued_reason(buf, len, fallback);
}

static SSL_CTX *fail(SSL_CTX *ctx, char *why, size_t len, const char *what, const char *file)
{
	char reason[256];
	queued_reason(reason, sizeof reason, "unknown error");
	snprintf(why, len, "%s %s: %s", what, file, reason);
	SSL_CTX_free(ctx);
	return NULL;
}

/* What both sides share: protocol floor, our certificate, the CA, modes. */
static SSL_CTX *new_ctx(const SSL_METHOD *method, const struct node_tls_files *f, char *why,
			size_t len)
{
	ERR_clear_error();
	SSL_CTX *ctx = SSL_CTX_new(method);
	if (ctx == NULL)
		return fail(NULL, why, len, "SSL_CTX_new", "");
	if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1)
		return fail(ctx, why, len, "cannot require", "TLS 1.2");
	if (SSL_CTX_use_certificate_chain_file(ctx, f->cert) != 1)
		return fail(ctx, why, len, "cannot load the certificate", f->cert);
	if (SSL_CTX_use_PrivateKey_file(ctx, f->key, SSL_FILETYPE_PEM) != 1)
		return fail(ctx, why, len, "cannot load the private key", f->key);
	if (SSL_CTX_check_private_key(ctx) != 1)
		return fail(ctx, why, len, "the private key does not match the certificate",
			    f->cert);
	if (SSL_CTX_load_verify_locations(ctx, f->ca, NULL) != 1)
		return fail(ctx, why, len, "cannot load the CA", f->ca);
	/* Non-blocking relaying: partial writes, and a retried write may come
	 * from a buffer that moved (compaction).  Idle sessions drop their
	 * buffers. */
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
				  SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_RELEASE_BUFFERS);
	uint64_t opts = SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION;
#ifdef SSL_OP_IGNORE_UNEXPECTED_EOF
	/* A peer closing TCP without close_notify is an ordinary end here:
	 * dqlite clients (and forked children) just close. */
	opts |= SSL_OP_IGNORE_UNEXPECTED_EOF;
#endif
	SSL_CTX_set_options(ctx, opts);
	return ctx;
}

SSL_CTX *node_tls_server_ctx(const struct node_tls_files *f, char *why, size_t len)
{
	SSL_CTX *ctx = new_ctx(TLS_server_method(), f, why, len);
	if (ctx == NULL)
		return NULL;
	/* Mutual TLS: no certificate, or one the CA did not sign, is refused
	 * during the handshake. */
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
	STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(f->ca);
	if (names == NULL)
		return fail(ctx, why, len, "no CA certificate in", f->ca);
	SSL_CTX_set_client_CA_list(ctx, names); /* tells clients which CA we want */
	static const unsigned char sid[] = "dqlc-node";
	SSL_CTX_set_session_id_context(ctx, sid, sizeof sid - 1);
	return ctx;
}

SSL_CTX *node_tls_client_ctx(const struct node_tls_files *f, char *why, size_t len)
{
	SSL_CTX *ctx = new_ctx(TLS_client_method(), f, why, len);
	if (ctx == NULL)
		return NULL;
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	return ctx;
}

static bool is_ip(const char *s)
{
	unsigned char buf[16];
	return inet_pton(AF_INET, s, buf) == 1 || inet_pton(AF_INET6, s, buf) == 1;
}

int node_tls_expect_name(SSL *ssl, const char *name)
{
	X509_VERIFY_PARAM *vp = SSL_get0_param(ssl);
	if (is_ip(name))
		return X509_VERIFY_PARAM_set1_ip_asc(vp, name) == 1 ? 0 : -1;
	if (SSL_set_tlsext_host_name(ssl, name) != 1)
		return -1;
	X509_VERIFY_PARAM_set_hostflags(vp, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
	return X509_VERIFY_PARAM_set1_host(vp, name, 0) == 1 ? 0 : -1;
}
