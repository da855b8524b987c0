/* One protocol connection: lifecycle, buffered message I/O, OPEN,
 * cancel and interrupt. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "clock.h"
#include "conn.h"
#include "error.h"
#include "net/sock.h"
#include "net/tls.h"
#include "pool/pool.h"
#include "result.h"

#define RBUF_INITIAL (64 * 1024)

int dqlc__conn_new(struct dqlc_config *cfg, bool owns_cfg, const char *address, int fd,
		   void *tls, bool handshake_sent, struct dqlc_conn **out, dqlc_error_t *err)
{
	struct dqlc_conn *c = calloc(1, sizeof *c);
	int e = 0;
	if (c == NULL || (c->rbuf = malloc(RBUF_INITIAL)) == NULL)
		goto fail;
	c->rcap = RBUF_INITIAL;
	c->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (c->wake_fd < 0) {
		e = errno;
		goto fail;
	}
	dqlc__wbuf_init(&c->wbuf);
	c->cfg = cfg;
	c->owns_cfg = owns_cfg;
	snprintf(c->address, sizeof c->address, "%s", address);
	c->fd = fd;
	c->tls = tls;
	c->timeout_ms = cfg->request_timeout_ms;
	c->deadline_cap = DQLC__NO_DEADLINE;
	c->created_ns = c->last_used_ns = dqlc__now_ns();
	atomic_init(&c->running, 0);
	atomic_init(&c->cancel_req, 0);
	if (!handshake_sent && dqlc__enc_handshake(&c->wbuf, DQLC__PROTO_VERSION, err) != 0) {
		dqlc__conn_destroy(c);
		return DQLC_ENOMEM;
	}
	*out = c;
	return 0;
fail:
	/* Everything handed over is ours to release, whatever failed. */
	if (c != NULL)
		free(c->rbuf);
	free(c);
	dqlc__tls_free(tls);
	close(fd);
	if (owns_cfg) {
		dqlc__config_clear(cfg);
		free(cfg);
	}
	if (e != 0)
		return dqlc__err_sys(err, DQLC_ENOMEM, e, "eventfd");
	return dqlc__err(err, DQLC_ENOMEM, "out of memory");
}

void dqlc__conn_destroy(struct dqlc_conn *c)
{
	if (c == NULL)
		return;
	/* Statements outlive nothing: detach them so a later finalize is a
	 * plain free and never sends a stale id. */
	dqlc__conn_forget_stmts(c);
	if (c->cursor != NULL)
		dqlc__cursor_orphan(c->cursor);
	/* Freeing the TLS session sends nothing (no close_notify). */
	dqlc__tls_free(c->tls);
	if (c->fd >= 0)
		close(c->fd);
	if (c->wake_fd >= 0)
		close(c->wake_fd);
	free(c->rbuf);
	dqlc__wbuf_free(&c->wbuf);
	if (c->owns_cfg) {
		dqlc__config_clear(c->cfg);
		free(c->cfg);
	}
	free(c);
}

void dqlc__conn_break(struct dqlc_conn *c)
{
	c->broken = true;
	c->in_tx = false;
	c->opened = false;
	/* Statement ids die with the server connection. */
	dqlc__conn_forget_stmts(c);
	dqlc__tls_free(c->tls);
	c->tls = NULL;
	if (c->fd >= 0) {
		close(c->fd);
		c->fd = -1;
	}
}

int64_t dqlc__conn_deadline(const struct dqlc_conn *c)
{
	return dqlc__deadline_min(dqlc__deadline_in(c->timeout_ms), c->deadline_cap);
}

void dqlc__conn_forget_stmts(struct dqlc_conn *c)
{
	struct dqlc_stmt *s;
	for (s = c->stmts; s != NULL; s = s->next)
		s->conn = NULL;
	c->stmts = NULL;
	dqlc__stmt_cache_free(c->cache);
	c->cache = NULL;
}

/* Forget a cancel aimed at an earlier call.  dqlc_conn_cancel writes the
 * eventfd before it raises the flag, so reading the eventfd (a syscall) is
 * only needed when the flag is up. */
static void drain_wake(struct dqlc_conn *c)
{
	uint64_t v;
	while (read(c->wake_fd, &v, sizeof v) > 0)
		;
}

static void clear_wake(struct dqlc_conn *c)
{
	if (atomic_exchange(&c->cancel_req, 0) != 0)
		drain_wake(c);
}

int dqlc__conn_enter(struct dqlc_conn *c, dqlc_error_t *err)
{
	if (c == NULL)
		return dqlc__err(err, DQLC_EINVAL, "NULL connection");
	/* A lease used in a child the atfork handlers never saw (a raw
	 * clone): the pid check marks it inherited before it can reach the
	 * parent's socket. */
	if (c->leased && !c->forked)
		dqlc__pool_check_fork(c->pool);
	if (c->forked)
		return dqlc__err(err, DQLC_EFORKED,
				 "connection inherited across fork(): it belongs to the parent");
	if (c->broken)
		return dqlc__err(err, DQLC_EIO,
				 "connection to %s is broken (an earlier call failed); close it",
				 c->address);
	if (c->cursor != NULL)
		return dqlc__err(err, DQLC_EMISUSE,
				 "a cursor is open on this connection: close it first");
	clear_wake(c);
	c->last_server_code = 0;
	atomic_store(&c->running, 1);
	return 0;
}

void dqlc__conn_leave(struct dqlc_conn *c)
{
	atomic_store(&c->running, 0);
	c->last_used_ns = dqlc__now_ns();
}

void dqlc_conn_cancel(dqlc_conn_t *c)
{
	uint64_t one = 1;
	ssize_t rv;
	if (c == NULL || atomic_load(&c->running) == 0)
		return;
	rv = write(c->wake_fd, &one, sizeof one);
	(void)rv; /* a full counter already wakes the reader */
	atomic_store(&c->cancel_req, 1);
}

int dqlc__conn_send(struct dqlc_conn *c, int64_t deadline, bool is_write, dqlc_error_t *err)
{
	size_t sent = 0;
	int rv;
	if (c->fd < 0)
		return dqlc__err(err, DQLC_EIO, "connection to %s is closed", c->address);
	rv = dqlc__sock_write(c->fd, c->tls, c->wbuf.data, c->wbuf.len, deadline, -1, &sent, err);
	c->wbuf.len = 0;
	if (rv != 0) {
		/* A request that never left is safe to retry; a partial one
		 * leaves the stream unusable and may have been executed. */
		dqlc__err_flag(err, sent == 0 ? DQLC_ERRF_RETRYABLE
					      : (is_write ? DQLC_ERRF_MAYBE_EXECUTED : 0));
		dqlc__err_prefix(err, "%s", c->address);
		dqlc__conn_break(c);
	}
	return rv;
}

/* Make room for `need` unread bytes starting at rstart. */
static int rbuf_reserve(struct dqlc_conn *c, size_t need, dqlc_error_t *err)
{
	size_t unread = c->rend - c->rstart;
	if (c->rstart > 0 && c->rstart + need > c->rcap) {
		memmove(c->rbuf, c->rbuf + c->rstart, unread);
		c->rstart = 0;
		c->rend = unread;
	}
	if (need > c->rcap) {
		size_t cap = c->rcap;
		uint8_t *p;
		while (cap < need)
			cap *= 2;
		p = realloc(c->rbuf, cap);
		if (p == NULL)
			return dqlc__err(err, DQLC_ENOMEM, "out of memory for a %zu-byte message",
					 need);
		c->rbuf = p;
		c->rcap = cap;
	}
	return 0;
}

/* Ensure at least `need` unread bytes are buffered. */
static int fill(struct dqlc_conn *c, size_t need, int64_t deadline, int wake_fd,
		dqlc_error_t *err)
{
	int rv = rbuf_reserve(c, need, err);
	if (rv != 0)
		return rv;
	while (c->rend - c->rstart < need) {
		size_t got = 0;
		if (c->fd < 0)
			return dqlc__err(err, DQLC_EIO, "connection to %s is closed", c->address);
		rv = dqlc__sock_read(c->fd, c->tls, c->rbuf + c->rend, c->rcap - c->rend, &got, deadline,
				     wake_fd, false, err);
		if (rv != 0)
			return rv;
		c->rend += got;
	}
	return 0;
}

int dqlc__conn_recv(struct dqlc_conn *c, int64_t deadline, int wake_fd, dqlc__hdr_t *hdr,
		    const uint8_t **body, dqlc_error_t *err)
{
	size_t max_body = (size_t)c->cfg->max_message_bytes, blen;
	int rv;
	/* The socket only waits (and so only sees wake_fd) when it is empty.
	 * A server streaming rows faster than we decode them never lets it
	 * run empty, so look for a cancel once per message as well. */
	if (wake_fd >= 0 && atomic_load_explicit(&c->cancel_req, memory_order_relaxed))
		return dqlc__err(err, DQLC_ECANCELED, "canceled");
	rv = fill(c, 8, deadline, wake_fd, err);
	if (rv == 0)
		rv = dqlc__wire_header(c->rbuf + c->rstart, max_body, hdr, err);
	if (rv != 0)
		return rv;
	blen = (size_t)hdr->words * 8;
	rv = fill(c, 8 + blen, deadline, wake_fd, err);
	if (rv != 0)
		return rv;
	*body = c->rbuf + c->rstart + 8;
	c->rstart += 8 + blen;
	if (c->rstart == c->rend)
		c->rstart = c->rend = 0; /* body stays valid: nothing overwrites it until the next read */
	return 0;
}

/* Failures that leave the stream in an unknown state break the connection. */
static int io_failed(struct dqlc_conn *c, int rv, bool is_write, dqlc_error_t *err)
{
	if (rv == DQLC_EIO || rv == DQLC_ETIMEDOUT || rv == DQLC_EPROTO || rv == DQLC_ENOMEM) {
		if (is_write)
			dqlc__err_flag(err, DQLC_ERRF_MAYBE_EXECUTED);
		dqlc__err_prefix(err, "%s", c->address);
		dqlc__conn_break(c);
	}
	return rv;
}

/* Interpret a FAILURE body. */
static int failure(struct dqlc_conn *c, const uint8_t *body, size_t len, bool is_write,
		   dqlc_error_t *err)
{
	uint64_t code;
	const char *msg;
	int rv = dqlc__dec_failure(body, len, &code, &msg, err);
	if (rv != 0)
		return io_failed(c, rv, is_write, err);
	dqlc__err_server(err, code, msg);
	c->last_server_code = code;
	switch (code) {
	case DQLC_SQLITE_LEADERSHIP_LOST:
	case 8458:
		/* The server dropped its database connection: nothing on this
		 * connection works any more. */
		if (!is_write && err)
			err->flags &= ~DQLC_ERRF_MAYBE_EXECUTED;
		dqlc__conn_break(c);
		break;
	case DQLC_SQLITE_NOT_LEADER:
	case 8202:
		/* This node is no longer (or not yet) the leader: the server
		 * dropped or will drop its statements; never send those ids
		 * again, even if it leads again later. */
		c->in_tx = false;
		dqlc__conn_forget_stmts(c);
		break;
	case DQLC_SQLITE_NOTFOUND:
		if (msg != NULL && strncmp(msg, "no database opened", 18) == 0) {
			/* The server dropped our database after losing
			 * leadership: nothing ran. */
			dqlc__err_flag(err, DQLC_ERRF_LEADER_CHANGED | DQLC_ERRF_RETRYABLE);
			dqlc__conn_break(c);
		}
		break;
	default:
		break;
	}
	return DQLC_ESQL;
}

int dqlc__conn_call(struct dqlc_conn *c, uint8_t expect, int64_t deadline, bool is_write,
		    dqlc__hdr_t *hdr, const uint8_t **body, dqlc_error_t *err)
{
	int rv = dqlc__conn_send(c, deadline, is_write, err);
	if (rv != 0)
		return rv;
	rv = dqlc__conn_recv(c, deadline, -1, hdr, body, err);
	if (rv != 0)
		return io_failed(c, rv, is_write, err);
	if (hdr->type == DQLC__RESP_FAILURE)
		return failure(c, *body, (size_t)hdr->words * 8, is_write, err);
	if (hdr->type != expect) {
		dqlc__err(err, DQLC_EPROTO, "expected response type %u, got %u", expect,
			  hdr->type);
		return io_failed(c, DQLC_EPROTO, is_write, err);
	}
	return 0;
}

int dqlc__conn_open(struct dqlc_conn *c, int64_t deadline, dqlc_error_t *err)
{
	dqlc__hdr_t hdr;
	const uint8_t *body;
	uint32_t db;
	int rv;
	if (c->opened)
		return 0;
	rv = dqlc__enc_open(&c->wbuf, c->cfg->database, 0, "volatile", err);
	if (rv != 0)
		return rv;
	rv = dqlc__conn_call(c, DQLC__RESP_DB, deadline, false, &hdr, &body, err);
	if (rv == 0)
		rv = dqlc__dec_db(body, (size_t)hdr.words * 8, &db, err);
	if (rv != 0) {
		dqlc__err_prefix(err, "opening database '%s'", c->cfg->database);
		return rv;
	}
	c->opened = true;
	return 0;
}

int dqlc__conn_interrupt_drain(struct dqlc_conn *c, int64_t deadline, dqlc_error_t *err)
{
	dqlc__hdr_t hdr;
	const uint8_t *body;
	int rv;
	/* The server reads the INTERRUPT only after it has written the whole
	 * result, so everything up to the EMPTY is discarded. */
	rv = dqlc__enc_interrupt(&c->wbuf, 0, err);
	if (rv == 0)
		rv = dqlc__conn_send(c, deadline, false, err);
	while (rv == 0) {
		rv = dqlc__conn_recv(c, deadline, -1, &hdr, &body, err);
		if (rv != 0) {
			io_failed(c, rv, false, err);
			break;
		}
		if (hdr.type == DQLC__RESP_EMPTY)
			return 0;
		if (hdr.type != DQLC__RESP_ROWS && hdr.type != DQLC__RESP_FAILURE) {
			dqlc__err(err, DQLC_EPROTO, "unexpected response type %u while draining",
				  hdr.type);
			io_failed(c, DQLC_EPROTO, false, err);
			return DQLC_EPROTO;
		}
	}
	return rv;
}

int dqlc__conn_read_rows(struct dqlc_conn *c, int64_t deadline, dqlc_result_t **out,
			 dqlc_error_t *err)
{
	dqlc_result_t *r = dqlc__result_new();
	dqlc__hdr_t hdr;
	const uint8_t *body;
	bool more = true;
	int rv = 0;
	if (r == NULL) {
		/* The rows are still coming: the stream must be drained. */
		dqlc__conn_break(c);
		return dqlc__err(err, DQLC_ENOMEM, "out of memory");
	}
	r->rows.max_rows = (uint64_t)c->cfg->max_result_rows;
	while (more) {
		rv = dqlc__conn_recv(c, deadline, c->wake_fd, &hdr, &body, err);
		if (rv == DQLC_ECANCELED) {
			dqlc_error_t drain;
			atomic_store(&c->cancel_req, 0);
			drain_wake(c);
			if (dqlc__conn_interrupt_drain(c, deadline, &drain) != 0)
				dqlc__conn_break(c);
			dqlc__err(err, DQLC_ECANCELED, "query canceled");
			break;
		}
		if (rv != 0) {
			io_failed(c, rv, false, err);
			break;
		}
		if (hdr.type == DQLC__RESP_FAILURE) {
			rv = failure(c, body, (size_t)hdr.words * 8, false, err);
			break;
		}
		if (hdr.type != DQLC__RESP_ROWS) {
			rv = dqlc__err(err, DQLC_EPROTO, "expected ROWS, got response type %u",
				       hdr.type);
			io_failed(c, rv, false, err);
			break;
		}
		rv = dqlc__result_add_batch(r, body, (size_t)hdr.words * 8, &more, err);
		if (rv == 0 && more)
			dqlc__sock_quickack(c->fd);
		if (rv != 0) {
			/* Malformed or over the row cap: the rest of the stream
			 * cannot be trusted to resynchronise. */
			io_failed(c, rv == DQLC_EPROTO ? rv : DQLC_EPROTO, false, err);
			break;
		}
	}
	if (rv != 0) {
		dqlc_result_free(r);
		return rv;
	}
	*out = r;
	return 0;
}

const char *dqlc_conn_address(const dqlc_conn_t *c)
{
	return c ? c->address : NULL;
}

bool dqlc_conn_usable(const dqlc_conn_t *c)
{
	return c != NULL && !c->broken;
}

bool dqlc_conn_in_transaction(const dqlc_conn_t *c)
{
	return c != NULL && c->in_tx;
}

int dqlc_conn_set_timeout(dqlc_conn_t *c, int64_t timeout_ms, dqlc_error_t *err)
{
	if (c == NULL || timeout_ms < 0)
		return dqlc__err(err, DQLC_EINVAL, "dqlc_conn_set_timeout: bad argument");
	c->timeout_ms = timeout_ms;
	return 0;
}
