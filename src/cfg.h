/* The configuration object and its keys. */
#ifndef DQLC_CFG_H
#define DQLC_CFG_H

#include <stdbool.h>
#include <stdint.h>

#include "dqlite-client.h"

#define DQLC__TLS_DISABLE 0
#define DQLC__TLS_REQUIRE 1
#define DQLC__TLS_VERIFY_CA 2
#define DQLC__TLS_VERIFY_FULL 3

#define DQLC__FORK_AUTO 0
#define DQLC__FORK_EXPLICIT 1

struct dqlc_config {
	char **nodes;
	size_t n_nodes;
	char *database;

	/* connection */
	int64_t connect_timeout_ms;
	int64_t request_timeout_ms;
	int64_t dial_timeout_ms;
	int64_t max_message_bytes;
	int64_t max_result_rows;
	int64_t probe_concurrency;
	int64_t backoff_base_ms;
	int64_t backoff_cap_ms;
	int64_t keepalive;

	/* pool */
	int64_t workers;
	int64_t queue_max;
	int64_t pool_min;
	int64_t pool_max;
	int64_t idle_timeout_ms;
	int64_t max_lifetime_ms;
	int64_t acquire_timeout_ms;
	int64_t health_check_idle_ms;
	int64_t retry_max;
	int64_t stmt_cache_size;
	int64_t leader_refresh_ms;
	int64_t fork_mode;   /* DQLC__FORK_* */
	int64_t close_drain; /* 1: finish queued work on close; 0: abort it */

	/* TLS */
	int64_t tls_mode; /* DQLC__TLS_*; -1 = not set */
	char *tls_ca;
	char *tls_cert;
	char *tls_key;
	char *tls_server_name;
	void *tls_ctx; /* SSL_CTX, built by dqlc__config_prepare; not copied */

	/* hooks */
	dqlc_dial_fn dial;
	void *dial_arg;
	dqlc_log_fn log;
	void *log_arg;
	int log_level;
	dqlc_event_fn event;
	void *event_arg;
};

/* Defaults into a zeroed struct. */
void dqlc__config_defaults(struct dqlc_config *c);
/* Deep copy; DQLC_ENOMEM on failure (dst left empty). */
int dqlc__config_copy(struct dqlc_config *dst, const struct dqlc_config *src);
/* Free what a config owns (not the struct). */
void dqlc__config_clear(struct dqlc_config *c);
/* cfg (may be NULL) then the URI (may be NULL) into `out` (fresh). */
int dqlc__config_resolve(struct dqlc_config *out, const char *uri, const dqlc_config_t *cfg,
			 dqlc_error_t *err);
/* Semantic checks shared by connect and pool creation. */
int dqlc__config_validate(const struct dqlc_config *c, dqlc_error_t *err);
/* Everything a connection needs built from the keys (the TLS context). */
int dqlc__config_prepare(struct dqlc_config *c, dqlc_error_t *err);

/* "host:port" → host (without brackets) and port. */
int dqlc__parse_address(const char *address, char *host, size_t host_len, int *port,
			dqlc_error_t *err);

#endif
