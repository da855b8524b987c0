/* Configuration: defaults, the key table, URI parsing, copying. */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "cfg.h"
#include "error.h"
#include "net/tls.h"

enum key_kind { K_INT, K_STR, K_ENUM };

struct key {
	const char *name;
	enum key_kind kind;
	size_t off;
	int64_t min, max;
	const char *const *names; /* K_ENUM: value i is names[i] */
};

static const char *const tls_names[] = {"disable", "require", "verify-ca", "verify-full", NULL};
static const char *const fork_names[] = {"auto", "explicit", NULL};
static const char *const close_names[] = {"abort", "drain", NULL};

#define INT(name, lo, hi) {#name, K_INT, offsetof(struct dqlc_config, name), lo, hi, NULL}
#define STR(name) {#name, K_STR, offsetof(struct dqlc_config, name), 0, 0, NULL}
#define ENUM(key, field, table) {key, K_ENUM, offsetof(struct dqlc_config, field), 0, 0, table}

static const struct key keys[] = {
    STR(database),
    INT(connect_timeout_ms, 1, INT32_MAX),
    INT(request_timeout_ms, 0, INT32_MAX),
    INT(dial_timeout_ms, 1, INT32_MAX),
    INT(max_message_bytes, 4096, (int64_t)UINT32_MAX * 8),
    INT(max_result_rows, 0, INT64_MAX),
    INT(probe_concurrency, 1, 64),
    INT(backoff_base_ms, 1, 60000),
    INT(backoff_cap_ms, 1, 600000),
    INT(keepalive, 0, 1),
    INT(workers, 1, 256),
    INT(queue_max, 1, 10000000),
    INT(pool_min, 0, 1024),
    INT(pool_max, 1, 1024),
    INT(idle_timeout_ms, 0, INT32_MAX),
    INT(max_lifetime_ms, 0, INT32_MAX),
    INT(acquire_timeout_ms, 0, INT32_MAX),
    INT(health_check_idle_ms, 0, INT32_MAX),
    INT(retry_max, 0, 1000),
    INT(stmt_cache_size, 0, 4096),
    INT(leader_refresh_ms, 0, INT32_MAX),
    ENUM("fork", fork_mode, fork_names),
    ENUM("close", close_drain, close_names),
    ENUM("tls", tls_mode, tls_names),
    STR(tls_ca),
    STR(tls_cert),
    STR(tls_key),
    STR(tls_server_name),
};

void dqlc__config_defaults(struct dqlc_config *c)
{
	memset(c, 0, sizeof *c);
	c->connect_timeout_ms = 5000;
	c->request_timeout_ms = 10000;
	c->dial_timeout_ms = 1000;
	c->max_message_bytes = 64 * 1024 * 1024;
	c->max_result_rows = 0;
	c->probe_concurrency = 8;
	c->backoff_base_ms = 10;
	c->backoff_cap_ms = 200;
	c->keepalive = 1;
	c->workers = 4;
	c->queue_max = 65536;
	c->pool_min = 0;
	c->pool_max = 8;
	c->idle_timeout_ms = 60000;
	c->max_lifetime_ms = 0;
	c->acquire_timeout_ms = 5000;
	c->health_check_idle_ms = 1000;
	c->retry_max = 8;
	c->stmt_cache_size = 64;
	c->leader_refresh_ms = 30000;
	c->fork_mode = DQLC__FORK_AUTO;
	c->close_drain = 1;
	c->tls_mode = -1;
	c->log_level = DQLC_LOG_WARN;
}

dqlc_config_t *dqlc_config_new(void)
{
	struct dqlc_config *c = malloc(sizeof *c);
	if (c != NULL)
		dqlc__config_defaults(c);
	return c;
}

void dqlc__config_clear(struct dqlc_config *c)
{
	size_t i;
	for (i = 0; i < c->n_nodes; i++)
		free(c->nodes[i]);
	free(c->nodes);
	free(c->database);
	free(c->tls_ca);
	free(c->tls_cert);
	free(c->tls_key);
	free(c->tls_server_name);
	dqlc__tls_ctx_free(c->tls_ctx);
	c->tls_ctx = NULL;
	c->nodes = NULL;
	c->n_nodes = 0;
	c->database = c->tls_ca = c->tls_cert = c->tls_key = c->tls_server_name = NULL;
}

void dqlc_config_free(dqlc_config_t *cfg)
{
	if (cfg == NULL)
		return;
	dqlc__config_clear(cfg);
	free(cfg);
}

static int dup_str(char **dst, const char *src)
{
	*dst = NULL;
	if (src == NULL)
		return 0;
	*dst = strdup(src);
	return *dst == NULL ? DQLC_ENOMEM : 0;
}

int dqlc__config_copy(struct dqlc_config *dst, const struct dqlc_config *src)
{
	size_t i;
	*dst = *src;
	dst->nodes = NULL;
	dst->n_nodes = 0;
	dst->tls_ctx = NULL; /* each copy builds its own */
	dst->database = dst->tls_ca = dst->tls_cert = dst->tls_key = dst->tls_server_name = NULL;
	if (dup_str(&dst->database, src->database) || dup_str(&dst->tls_ca, src->tls_ca) ||
	    dup_str(&dst->tls_cert, src->tls_cert) || dup_str(&dst->tls_key, src->tls_key) ||
	    dup_str(&dst->tls_server_name, src->tls_server_name))
		goto oom;
	if (src->n_nodes > 0) {
		dst->nodes = calloc(src->n_nodes, sizeof *dst->nodes);
		if (dst->nodes == NULL)
			goto oom;
		for (i = 0; i < src->n_nodes; i++) {
			if (dup_str(&dst->nodes[i], src->nodes[i]))
				goto oom;
			dst->n_nodes = i + 1;
		}
	}
	return 0;
oom:
	dqlc__config_clear(dst);
	return DQLC_ENOMEM;
}

static const struct key *find_key(const char *name)
{
	size_t i;
	for (i = 0; i < sizeof keys / sizeof keys[0]; i++)
		if (strcmp(keys[i].name, name) == 0)
			return &keys[i];
	return NULL;
}

static int parse_int(const char *key, const char *s, int64_t lo, int64_t hi, int64_t *out,
		     dqlc_error_t *err)
{
	char *end;
	long long v;
	if (strcmp(s, "true") == 0 || strcmp(s, "on") == 0 || strcmp(s, "yes") == 0)
		v = 1;
	else if (strcmp(s, "false") == 0 || strcmp(s, "off") == 0 || strcmp(s, "no") == 0)
		v = 0;
	else {
		errno = 0;
		v = strtoll(s, &end, 10);
		if (*s == '\0' || *end != '\0' || errno != 0)
			return dqlc__err(err, DQLC_EINVAL, "config key '%s': '%s' is not an integer",
					 key, s);
	}
	if (v < lo || v > hi)
		return dqlc__err(err, DQLC_EINVAL, "config key '%s': %lld is out of range [%lld, %lld]",
				 key, v, (long long)lo, (long long)hi);
	*out = v;
	return 0;
}

int dqlc_config_set(dqlc_config_t *cfg, const char *key, const char *value, dqlc_error_t *err)
{
	const struct key *k;
	if (cfg == NULL || key == NULL || value == NULL)
		return dqlc__err(err, DQLC_EINVAL, "dqlc_config_set: NULL argument");
	if (strcmp(key, "node") == 0 || strcmp(key, "nodes") == 0) {
		/* comma-separated node addresses, like the URI's host part */
		char *copy = strdup(value), *save = NULL, *tok;
		int rv = 0;
		if (copy == NULL)
			return dqlc__err(err, DQLC_ENOMEM, "out of memory");
		for (tok = strtok_r(copy, ",", &save); tok != NULL && rv == 0;
		     tok = strtok_r(NULL, ",", &save))
			rv = dqlc_config_add_node(cfg, tok, err);
		free(copy);
		return rv;
	}
	k = find_key(key);
	if (k == NULL)
		return dqlc__err(err, DQLC_EINVAL, "unknown config key '%s'", key);
	switch (k->kind) {
	case K_INT:
		return parse_int(key, value, k->min, k->max,
				 (int64_t *)(void *)((char *)cfg + k->off), err);
	case K_STR: {
		char **slot = (char **)(void *)((char *)cfg + k->off);
		char *s = strdup(value);
		if (s == NULL)
			return dqlc__err(err, DQLC_ENOMEM, "out of memory");
		free(*slot);
		*slot = s;
		return 0;
	}
	case K_ENUM: {
		int64_t i;
		for (i = 0; k->names[i] != NULL; i++) {
			if (strcmp(k->names[i], value) == 0) {
				*(int64_t *)(void *)((char *)cfg + k->off) = i;
				return 0;
			}
		}
		return dqlc__err(err, DQLC_EINVAL, "config key '%s': unknown value '%s'", key,
				 value);
	}
	}
	return dqlc__err(err, DQLC_EINVAL, "config key '%s'", key);
}

int dqlc__parse_address(const char *address, char *host, size_t host_len, int *port,
			dqlc_error_t *err)
{
	const char *colon, *hstart = address, *hend;
	char *end;
	long p;
	if (address == NULL || *address == '\0')
		return dqlc__err(err, DQLC_EINVAL, "empty node address");
	if (*address == '[') {
		hstart = address + 1;
		hend = strchr(hstart, ']');
		if (hend == NULL || hend[1] != ':')
			return dqlc__err(err, DQLC_EINVAL,
					 "node address '%s': expected [ipv6]:port", address);
		colon = hend + 1;
	} else {
		colon = strrchr(address, ':');
		if (colon == NULL || strchr(address, ':') != colon)
			return dqlc__err(err, DQLC_EINVAL,
					 "node address '%s': expected host:port", address);
		hend = colon;
	}
	if (hend == hstart || (size_t)(hend - hstart) >= host_len)
		return dqlc__err(err, DQLC_EINVAL, "node address '%s': bad host", address);
	errno = 0;
	p = strtol(colon + 1, &end, 10);
	if (colon[1] == '\0' || *end != '\0' || errno != 0 || p < 1 || p > 65535)
		return dqlc__err(err, DQLC_EINVAL, "node address '%s': bad port", address);
	memcpy(host, hstart, (size_t)(hend - hstart));
	host[hend - hstart] = '\0';
	*port = (int)p;
	return 0;
}

int dqlc_config_add_node(dqlc_config_t *cfg, const char *address, dqlc_error_t *err)
{
	char host[256], *copy, **nodes;
	int port, rv;
	size_t i;
	if (cfg == NULL || address == NULL)
		return dqlc__err(err, DQLC_EINVAL, "dqlc_config_add_node: NULL argument");
	rv = dqlc__parse_address(address, host, sizeof host, &port, err);
	if (rv != 0)
		return rv;
	for (i = 0; i < cfg->n_nodes; i++)
		if (strcmp(cfg->nodes[i], address) == 0)
			return 0; /* already there */
	copy = strdup(address);
	nodes = copy ? realloc(cfg->nodes, (cfg->n_nodes + 1) * sizeof *nodes) : NULL;
	if (nodes == NULL) {
		free(copy);
		return dqlc__err(err, DQLC_ENOMEM, "out of memory");
	}
	nodes[cfg->n_nodes++] = copy;
	cfg->nodes = nodes;
	return 0;
}

int dqlc_config_set_dial(dqlc_config_t *cfg, dqlc_dial_fn fn, void *arg, dqlc_error_t *err)
{
	if (cfg == NULL)
		return dqlc__err(err, DQLC_EINVAL, "dqlc_config_set_dial: NULL config");
	cfg->dial = fn;
	cfg->dial_arg = arg;
	return 0;
}

int dqlc_config_set_log(dqlc_config_t *cfg, dqlc_log_fn fn, void *arg, int min_level,
			dqlc_error_t *err)
{
	if (cfg == NULL)
		return dqlc__err(err, DQLC_EINVAL, "dqlc_config_set_log: NULL config");
	cfg->log = fn;
	cfg->log_arg = arg;
	cfg->log_level = min_level;
	return 0;
}

int dqlc_config_set_event(dqlc_config_t *cfg, dqlc_event_fn fn, void *arg, dqlc_error_t *err)
{
	if (cfg == NULL)
		return dqlc__err(err, DQLC_EINVAL, "dqlc_config_set_event: NULL config");
	cfg->event = fn;
	cfg->event_arg = arg;
	return 0;
}

/* Percent-decode s[0..n) into a new string. */
static char *pct_decode(const char *s, size_t n)
{
	char *out = malloc(n + 1), *o = out;
	size_t i;
	if (out == NULL)
		return NULL;
	for (i = 0; i < n; i++) {
		if (s[i] == '%' && i + 2 < n &&
		    isxdigit((unsigned char)s[i + 1]) && isxdigit((unsigned char)s[i + 2])) {
			char hex[3] = {s[i + 1], s[i + 2], 0};
			*o++ = (char)strtol(hex, NULL, 16);
			i += 2;
		} else if (s[i] == '+') {
			*o++ = ' ';
		} else {
			*o++ = s[i];
		}
	}
	*o = '\0';
	return out;
}

static int uri_query(dqlc_config_t *cfg, const char *q, dqlc_error_t *err)
{
	while (*q != '\0') {
		const char *amp = strchr(q, '&'), *eq;
		size_t len = amp ? (size_t)(amp - q) : strlen(q);
		char *key, *val;
		int rv;
		eq = memchr(q, '=', len);
		if (len == 0) {
			q += amp ? 1 : 0;
			if (!amp)
				break;
			continue;
		}
		if (eq == NULL)
			return dqlc__err(err, DQLC_EINVAL, "URI option '%.*s' has no '=value'",
					 (int)len, q);
		key = pct_decode(q, (size_t)(eq - q));
		val = pct_decode(eq + 1, len - (size_t)(eq - q) - 1);
		rv = (key && val) ? dqlc_config_set(cfg, key, val, err)
				  : dqlc__err(err, DQLC_ENOMEM, "out of memory");
		free(key);
		free(val);
		if (rv != 0)
			return rv;
		if (amp == NULL)
			break;
		q = amp + 1;
	}
	return 0;
}

int dqlc_config_from_uri(dqlc_config_t *cfg, const char *uri, dqlc_error_t *err)
{
	const char *p, *hosts_end, *path = NULL, *query = NULL;
	char *hosts;
	int rv;
	if (cfg == NULL || uri == NULL)
		return dqlc__err(err, DQLC_EINVAL, "dqlc_config_from_uri: NULL argument");
	p = uri;
	if (strncmp(p, "dqlite://", 9) == 0)
		p += 9;
	else if (strstr(p, "://") != NULL)
		return dqlc__err(err, DQLC_EINVAL, "URI '%s': scheme must be dqlite://", uri);
	hosts_end = p + strcspn(p, "/?");
	if (*hosts_end == '/')
		path = hosts_end + 1;
	query = strchr(hosts_end, '?');
	if (hosts_end == p)
		return dqlc__err(err, DQLC_EINVAL, "URI '%s': no node address", uri);
	hosts = strndup(p, (size_t)(hosts_end - p));
	if (hosts == NULL)
		return dqlc__err(err, DQLC_ENOMEM, "out of memory");
	/* The URI's node list replaces any configured one. */
	while (cfg->n_nodes > 0)
		free(cfg->nodes[--cfg->n_nodes]);
	rv = dqlc_config_set(cfg, "nodes", hosts, err);
	free(hosts);
	if (rv != 0)
		return rv;
	if (path != NULL) {
		size_t n = query ? (size_t)(query - path) : strlen(path);
		if (n > 0) {
			char *db = pct_decode(path, n);
			if (db == NULL)
				return dqlc__err(err, DQLC_ENOMEM, "out of memory");
			free(cfg->database);
			cfg->database = db;
		}
	}
	if (query != NULL)
		return uri_query(cfg, query + 1, err);
	return 0;
}

int dqlc__config_validate(const struct dqlc_config *c, dqlc_error_t *err)
{
	if (c->n_nodes == 0)
		return dqlc__err(err, DQLC_EINVAL, "no node addresses configured");
	if (c->pool_min > c->pool_max)
		return dqlc__err(err, DQLC_EINVAL, "pool_min (%lld) is larger than pool_max (%lld)",
				 (long long)c->pool_min, (long long)c->pool_max);
	if (c->backoff_base_ms > c->backoff_cap_ms)
		return dqlc__err(err, DQLC_EINVAL, "backoff_base_ms is larger than backoff_cap_ms");
	if ((c->tls_cert == NULL) != (c->tls_key == NULL))
		return dqlc__err(err, DQLC_EINVAL, "tls_cert and tls_key go together");
	if (c->tls_mode == DQLC__TLS_DISABLE &&
	    (c->tls_ca != NULL || c->tls_cert != NULL || c->tls_server_name != NULL))
		return dqlc__err(err, DQLC_EINVAL, "tls=disable contradicts the tls_* files given");
	return 0;
}

int dqlc__config_prepare(struct dqlc_config *c, dqlc_error_t *err)
{
	return dqlc__tls_ctx_new(c, err);
}

int dqlc__config_resolve(struct dqlc_config *out, const char *uri, const dqlc_config_t *cfg,
			 dqlc_error_t *err)
{
	int rv;
	if (cfg != NULL) {
		if (dqlc__config_copy(out, cfg) != 0)
			return dqlc__err(err, DQLC_ENOMEM, "out of memory");
	} else {
		dqlc__config_defaults(out);
	}
	if (uri != NULL) {
		rv = dqlc_config_from_uri(out, uri, err);
		if (rv != 0) {
			dqlc__config_clear(out);
			return rv;
		}
	}
	if (out->database == NULL && (out->database = strdup("default")) == NULL) {
		dqlc__config_clear(out);
		return dqlc__err(err, DQLC_ENOMEM, "out of memory");
	}
	return 0;
}
