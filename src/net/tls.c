/* TLS with OpenSSL.  Sessions run over non-blocking sockets through a small
 * BIO of our own that sends with MSG_NOSIGNAL (OpenSSL's socket BIO would
 * raise SIGPIPE on a peer that went away). */
#include <errno.h>
#include <string.h>

#include "error.h"
#include "net/tls.h"

int dqlc__tls_mode(const struct dqlc_config *cfg)
{
	if (cfg->tls_mode >= 0)
		return (int)cfg->tls_mode;
	/* Files given without a mode mean the caller wants TLS, verified. */
	if (cfg->tls_ca != NULL || cfg->tls_cert != NULL || cfg->tls_server_name != NULL)
		return DQLC__TLS_VERIFY_FULL;
	return DQLC__TLS_DISABLE;
}

#ifndef DQLC_HAVE_OPENSSL

static int unsupported(dqlc_error_t *err)
{
	return dqlc__err(err, DQLC_ENOTSUP,
			 "TLS was requested but this build has no OpenSSL support "
			 "(reconfigure with --with-openssl=yes)");
}

int dqlc__tls_ctx_new(struct dqlc_config *cfg, dqlc_error_t *err)
{
	return dqlc__tls_mode(cfg) == DQLC__TLS_DISABLE ? 0 : unsupported(err);
}

void dqlc__tls_ctx_free(void *ctx)
{
	(void)ctx;
}

int dqlc__tls_new(const struct dqlc_config *cfg, int fd, const char *address, void **ssl,
		  dqlc_error_t *err)
{
	(void)cfg, (void)fd, (void)address, (void)ssl;
	return unsupported(err);
}

int dqlc__tls_handshake_step(void *ssl, const char *address, dqlc_error_t *err)
{
	(void)ssl, (void)address;
	return unsupported(err);
}

int dqlc__tls_read(void *ssl, void *buf, size_t cap, size_t *n, dqlc_error_t *err)
{
	(void)ssl, (void)buf, (void)cap, (void)n;
	return unsupported(err);
}

int dqlc__tls_write(void *ssl, const void *buf, size_t len, size_t *n, dqlc_error_t *err)
{
	(void)ssl, (void)buf, (void)len, (void)n;
	return unsupported(err);
}

void dqlc__tls_free(void *ssl)
{
	(void)ssl;
}

#else /* DQLC_HAVE_OPENSSL */

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <pthread.h>
#include <sys/socket.h>

static BIO_METHOD *bio_method;
static pthread_once_t bio_once = PTHREAD_ONCE_INIT;

static int bio_write(BIO *b, const char *buf, int len)
{
	int fd = (int)(intptr_t)BIO_get_data(b);
	ssize_t n = send(fd, buf, (size_t)len, MSG_NOSIGNAL | MSG_DONTWAIT);
	BIO_clear_retry_flags(b);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
		BIO_set_retry_write(b);
		return -1;
	}
	return (int)n;
}

static int bio_read(BIO *b, char *buf, int len)
{
	int fd = (int)(intptr_t)BIO_get_data(b);
	ssize_t n = recv(fd, buf, (size_t)len, MSG_DONTWAIT);
	BIO_clear_retry_flags(b);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
		BIO_set_retry_read(b);
		return -1;
	}
	return (int)n;
}

static long bio_ctrl(BIO *b, int cmd, long num, void *ptr)
{
	(void)b, (void)num, (void)ptr;
	return cmd == BIO_CTRL_FLUSH ? 1 : 0;
}

static int bio_create(BIO *b)
{
	BIO_set_init(b, 1);
	return 1;
}

static void make_bio_method(void)
{
	bio_method = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "dqlc-socket");
	if (bio_method == NULL)
		return;
	BIO_meth_set_write(bio_method, bio_write);
	BIO_meth_set_read(bio_method, bio_read);
	BIO_meth_set_ctrl(bio_method, bio_ctrl);
	BIO_meth_set_create(bio_method, bio_create);
}

/* The newest OpenSSL error as text, and clear the queue. */
static const char *ossl_reason(char *buf, size_t len)
{
	unsigned long e = ERR_get_error(), last = e;
	while (e != 0) {
		last = e;
		e = ERR_get_error();
	}
	if (last == 0)
		return "unknown error";
	ERR_error_string_n(last, buf, len);
	return buf;
}

int dqlc__tls_ctx_new(struct dqlc_config *cfg, dqlc_error_t *err)
{
	int mode = dqlc__tls_mode(cfg);
	char why[256];
	SSL_CTX *ctx;
	if (mode == DQLC__TLS_DISABLE || cfg->tls_ctx != NULL)
		return 0;
	if ((cfg->tls_cert == NULL) != (cfg->tls_key == NULL))
		return dqlc__err(err, DQLC_EINVAL, "tls_cert and tls_key go together");
	if (mode >= DQLC__TLS_VERIFY_CA && cfg->tls_ca == NULL)
		return dqlc__err(err, DQLC_EINVAL,
				 "tls=%s verifies the server but no tls_ca was given (the CA file "
				 "that signed the nodes' certificates, or tls_ca=system)",
				 mode == DQLC__TLS_VERIFY_CA ? "verify-ca" : "verify-full");
	ERR_clear_error();
	ctx = SSL_CTX_new(TLS_client_method());
	if (ctx == NULL)
		return dqlc__err(err, DQLC_ETLS, "SSL_CTX_new: %s", ossl_reason(why, sizeof why));
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	if (cfg->tls_ca != NULL) {
		int ok = strcmp(cfg->tls_ca, "system") == 0
			     ? SSL_CTX_set_default_verify_paths(ctx)
			     : SSL_CTX_load_verify_locations(ctx, cfg->tls_ca, NULL);
		if (ok != 1) {
			dqlc__err(err, DQLC_ETLS, "tls_ca %s: %s", cfg->tls_ca,
				  ossl_reason(why, sizeof why));
			SSL_CTX_free(ctx);
			return DQLC_ETLS;
		}
	}
	if (cfg->tls_cert != NULL) {
		if (SSL_CTX_use_certificate_chain_file(ctx, cfg->tls_cert) != 1 ||
		    SSL_CTX_use_PrivateKey_file(ctx, cfg->tls_key, SSL_FILETYPE_PEM) != 1 ||
		    SSL_CTX_check_private_key(ctx) != 1) {
			dqlc__err(err, DQLC_ETLS, "client certificate %s / key %s: %s",
				  cfg->tls_cert, cfg->tls_key, ossl_reason(why, sizeof why));
			SSL_CTX_free(ctx);
			return DQLC_ETLS;
		}
	}
	SSL_CTX_set_verify(ctx, mode >= DQLC__TLS_VERIFY_CA ? SSL_VERIFY_PEER : SSL_VERIFY_NONE,
			   NULL);
	pthread_once(&bio_once, make_bio_method);
	if (bio_method == NULL) {
		SSL_CTX_free(ctx);
		return dqlc__err(err, DQLC_ENOMEM, "out of memory");
	}
	cfg->tls_ctx = ctx;
	return 0;
}

void dqlc__tls_ctx_free(void *ctx)
{
	SSL_CTX_free(ctx);
}

static bool is_ip(const char *host)
{
	unsigned char buf[16];
	return inet_pton(AF_INET, host, buf) == 1 || inet_pton(AF_INET6, host, buf) == 1;
}

int dqlc__tls_new(const struct dqlc_config *cfg, int fd, const char *address, void **out,
		  dqlc_error_t *err)
{
	int mode = dqlc__tls_mode(cfg), port;
	char host[256], why[256];
	const char *name;
	SSL *ssl;
	BIO *bio;
	int rv = dqlc__parse_address(address, host, sizeof host, &port, err);
	if (rv != 0)
		return rv;
	/* The name checked against the certificate, and sent as SNI: the
	 * configured server name, else the host dialed. */
	name = cfg->tls_server_name != NULL ? cfg->tls_server_name : host;
	ERR_clear_error();
	ssl = SSL_new(cfg->tls_ctx);
	bio = ssl ? BIO_new(bio_method) : NULL;
	if (bio == NULL) {
		SSL_free(ssl);
		return dqlc__err(err, DQLC_ETLS, "SSL_new: %s", ossl_reason(why, sizeof why));
	}
	BIO_set_data(bio, (void *)(intptr_t)fd);
	SSL_set_bio(ssl, bio, bio);
	if (!is_ip(name))
		SSL_set_tlsext_host_name(ssl, name); /* SNI is never an address */
	if (mode == DQLC__TLS_VERIFY_FULL) {
		X509_VERIFY_PARAM *vp = SSL_get0_param(ssl);
		int ok = is_ip(name) ? X509_VERIFY_PARAM_set1_ip_asc(vp, name)
				     : X509_VERIFY_PARAM_set1_host(vp, name, 0);
		if (ok != 1) {
			SSL_free(ssl);
			return dqlc__err(err, DQLC_ETLS, "cannot verify against name '%s'", name);
		}
	}
	SSL_set_connect_state(ssl);
	*out = ssl;
	return 0;
}

/* Map an SSL_* failure to a step result. */
static int step_result(SSL *ssl, int ret, const char *what, const char *address,
		       dqlc_error_t *err)
{
	char why[256];
	int e = SSL_get_error(ssl, ret);
	long vr;
	switch (e) {
	case SSL_ERROR_WANT_READ:
		return DQLC__WANT_READ;
	case SSL_ERROR_WANT_WRITE:
		return DQLC__WANT_WRITE;
	case SSL_ERROR_ZERO_RETURN:
		return dqlc__err(err, DQLC_EIO, "%s: TLS connection closed by the server", address);
	case SSL_ERROR_SYSCALL:
		if (ERR_peek_error() == 0) {
			int sys = errno;
			ERR_clear_error();
			(void)ret;
			if (sys == 0) /* end of file */
				return dqlc__err(err, strcmp(what, "handshake") == 0 ? DQLC_ETLS
										: DQLC_EIO,
						 "%s: connection closed during the TLS %s%s", address,
						 what,
						 strcmp(what, "handshake") == 0
						     ? " (does the server speak TLS, and does it "
						       "accept this client's certificate?)"
						     : "");
			if (strcmp(what, "handshake") == 0)
				return dqlc__err_sys(err, DQLC_ETLS, sys,
						     "%s: TLS handshake failed (does the server "
						     "speak TLS?)",
						     address);
			return dqlc__err_sys(err, DQLC_EIO, sys, "%s: TLS %s", address, what);
		}
		/* an OpenSSL error is queued: report it below */
		/* fall through */
	default:
		vr = SSL_get_verify_result(ssl);
		if (strcmp(what, "handshake") == 0 && vr != X509_V_OK) {
			ERR_clear_error();
			return dqlc__err(err, DQLC_ETLS,
					 "%s: server certificate verification failed: %s", address,
					 X509_verify_cert_error_string(vr));
		}
		return dqlc__err(err, DQLC_ETLS, "%s: TLS %s failed: %s", address, what,
				 ossl_reason(why, sizeof why));
	}
}

int dqlc__tls_handshake_step(void *ssl, const char *address, dqlc_error_t *err)
{
	int ret;
	ERR_clear_error();
	errno = 0;
	ret = SSL_do_handshake(ssl);
	if (ret == 1)
		return 0;
	return step_result(ssl, ret, "handshake", address, err);
}

int dqlc__tls_read(void *ssl, void *buf, size_t cap, size_t *n, dqlc_error_t *err)
{
	size_t got = 0;
	int ret;
	ERR_clear_error();
	errno = 0;
	ret = SSL_read_ex(ssl, buf, cap, &got);
	if (ret == 1) {
		*n = got;
		return 0;
	}
	return step_result(ssl, ret, "read", "server", err);
}

int dqlc__tls_write(void *ssl, const void *buf, size_t len, size_t *n, dqlc_error_t *err)
{
	size_t put = 0;
	int ret;
	ERR_clear_error();
	errno = 0;
	ret = SSL_write_ex(ssl, buf, len, &put);
	if (ret == 1) {
		*n = put;
		return 0;
	}
	return step_result(ssl, ret, "write", "server", err);
}

void dqlc__tls_free(void *ssl)
{
	SSL_free(ssl);
}

#endif /* DQLC_HAVE_OPENSSL */
