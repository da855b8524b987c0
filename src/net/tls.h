/* TLS over a connected socket (OpenSSL), client side.  Compiled in every
 * build; without OpenSSL every entry point says so with DQLC_ENOTSUP. */
#ifndef DQLC_TLS_H
#define DQLC_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cfg.h"

/* Non-blocking step results (negative, never a DQLC_E* code). */
#define DQLC__WANT_READ (-1)
#define DQLC__WANT_WRITE (-2)

/* The effective mode: DQLC__TLS_* (resolves "unset" from the other keys). */
int dqlc__tls_mode(const struct dqlc_config *cfg);

/* Build the shared context for cfg (CA, client certificate, minimum TLS
 * 1.2) into cfg->tls_ctx; nothing when TLS is off.  Rejects a
 * configuration that claims to verify but cannot. */
int dqlc__tls_ctx_new(struct dqlc_config *cfg, dqlc_error_t *err);
void dqlc__tls_ctx_free(void *ctx);

/* A client session on a connected non-blocking socket to `address`. */
int dqlc__tls_new(const struct dqlc_config *cfg, int fd, const char *address, void **ssl,
		  dqlc_error_t *err);
/* One handshake step: 0 when done, DQLC__WANT_READ/WRITE, or DQLC_ETLS /
 * DQLC_EIO with a message that says why (verification result first). */
int dqlc__tls_handshake_step(void *ssl, const char *address, dqlc_error_t *err);
/* One read/write step: 0 with *n > 0, DQLC__WANT_READ/WRITE, or an error
 * (EOF is DQLC_EIO). */
int dqlc__tls_read(void *ssl, void *buf, size_t cap, size_t *n, dqlc_error_t *err);
int dqlc__tls_write(void *ssl, const void *buf, size_t len, size_t *n, dqlc_error_t *err);
/* Free the session.  Never sends anything (no close_notify): also safe in
 * a forked child whose socket belongs to the parent. */
void dqlc__tls_free(void *ssl);

#endif
