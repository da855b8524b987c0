/* Leader discovery.  All probes of a round run in one thread as
 * non-blocking sockets multiplexed with poll(): a dead or slow node costs
 * its own dial timeout, not everybody's. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "clock.h"
#include "cluster/discover.h"
#include "error.h"
#include "net/sock.h"
#include "net/tls.h"
#include "rand.h"
#include "wire/wire.h"

#define MAX_PROBES 64
/* While a node that was asked stays silent (a stopped process accepts
 * connections but never answers), the nodes that did answer are asked
 * again this often: they name the new leader as soon as it is elected. */
#define REASK_NS (50 * 1000000)
#define REPLY_MAX 512 /* a SERVER reply is an id and an address */

enum probe_state { P_IDLE, P_CONNECTING, P_HANDSHAKE, P_SENDING, P_READING, P_DONE };
enum probe_outcome { O_NONE, O_LEADER, O_REDIRECT, O_UNKNOWN, O_ERROR };

struct probe {
	char addr[256];
	int fd;
	void *tls;
	short want; /* poll events the current step waits for */
	enum probe_state st;
	enum probe_outcome outcome;
	int64_t deadline;
	uint8_t out[24]; /* version word + LEADER request */
	size_t out_len, out_off;
	uint8_t in[REPLY_MAX];
	size_t in_len;
	uint64_t id;
	char said[256]; /* the leader address the node reported */
	char why[160];  /* error text */
	int code;       /* DQLC_E* of the failure */
};

struct round {
	const struct dqlc_config *cfg;
	struct probe p[MAX_PROBES];
	size_t n;
	int64_t deadline;
	bool cut; /* the deadline ended the round before every probe finished */
};

static void probe_close(struct probe *p)
{
	dqlc__tls_free(p->tls);
	p->tls = NULL;
	if (p->fd >= 0)
		close(p->fd);
	p->fd = -1;
}

static void probe_fail(struct probe *p, const char *why);

/* Record a failure reported by the socket/TLS layers, without repeating
 * the address they may have put in front (the summary names it). */
static void probe_error(struct probe *p, const dqlc_error_t *e)
{
	const char *why = e->message;
	size_t n = strlen(p->addr);
	if (strncmp(why, p->addr, n) == 0 && why[n] == ':' && why[n + 1] == ' ')
		why += n + 2;
	probe_fail(p, why);
	p->code = e->code;
}

static void probe_fail(struct probe *p, const char *why)
{
	probe_close(p);
	p->code = DQLC_ECONNECT;
	p->st = P_DONE;
	p->outcome = O_ERROR;
	snprintf(p->why, sizeof p->why, "%s", why);
}

static struct probe *add_probe(struct round *r, const char *addr)
{
	struct probe *p;
	size_t i;
	dqlc__wbuf_t b;
	for (i = 0; i < r->n; i++)
		if (strcmp(r->p[i].addr, addr) == 0)
			return NULL; /* already asked */
	if (r->n == MAX_PROBES)
		return NULL;
	p = &r->p[r->n++];
	memset(p, 0, sizeof *p);
	snprintf(p->addr, sizeof p->addr, "%s", addr);
	p->fd = -1;
	p->tls = NULL;
	p->st = P_IDLE;
	/* The request is tiny and constant: encode it once here. */
	dqlc__wbuf_init(&b);
	if (dqlc__enc_handshake(&b, DQLC__PROTO_VERSION, NULL) != 0 ||
	    dqlc__enc_leader(&b, NULL) != 0 || b.len > sizeof p->out) {
		dqlc__wbuf_free(&b);
		probe_fail(p, "out of memory");
		return p;
	}
	memcpy(p->out, b.data, b.len);
	p->out_len = b.len;
	dqlc__wbuf_free(&b);
	return p;
}

/* The TCP connection is up: TLS handshake first if configured. */
static void connected(struct round *r, struct probe *p)
{
	dqlc_error_t e;
	dqlc__sock_tune(p->fd, r->cfg);
	if (r->cfg->tls_ctx != NULL) {
		if (dqlc__tls_new(r->cfg, p->fd, p->addr, &p->tls, &e) != 0) {
			probe_error(p, &e);
			return;
		}
		p->st = P_HANDSHAKE;
	} else {
		p->st = P_SENDING;
	}
	p->want = POLLOUT;
}

static void probe_start(struct round *r, struct probe *p)
{
	dqlc_error_t e;
	int rv;
	p->deadline = dqlc__deadline_min(r->deadline, dqlc__deadline_in(r->cfg->dial_timeout_ms));
	if (r->cfg->dial != NULL) {
		/* A custom dialer is blocking: it runs here, bounded by its
		 * own timeout, and the exchange after it is multiplexed. */
		rv = dqlc__sock_dial(r->cfg, p->addr, p->deadline, &p->fd, &e);
		if (rv != 0) {
			probe_error(p, &e);
			return;
		}
		connected(r, p);
	} else {
		rv = dqlc__sock_connect_start(p->addr, &p->fd, &e);
		if (rv != 0) {
			probe_error(p, &e);
			return;
		}
		p->st = P_CONNECTING;
		p->want = POLLOUT;
	}
	/* Connecting and the LEADER round trip share the probe's budget,
	 * extended so that a node slow to answer still gets a fair chance. */
	p->deadline = dqlc__deadline_min(r->deadline,
					 dqlc__deadline_in(r->cfg->dial_timeout_ms * 2));
}

/* A complete reply is buffered: judge it. */
static void probe_judge(struct round *r, struct probe *p, const dqlc__hdr_t *h)
{
	const uint8_t *body = p->in + 8;
	size_t len = (size_t)h->words * 8;
	const char *addr;
	dqlc_error_t e;
	if (h->type == DQLC__RESP_FAILURE) {
		uint64_t code;
		const char *msg;
		if (dqlc__dec_failure(body, len, &code, &msg, &e) == 0)
			snprintf(e.message, sizeof e.message, "LEADER failed: %llu %s",
				 (unsigned long long)code, msg);
		probe_error(p, &e);
		return;
	}
	if (h->type != DQLC__RESP_SERVER) {
		probe_fail(p, "unexpected reply to LEADER");
		return;
	}
	if (dqlc__dec_server(body, len, &p->id, &addr, &e) != 0) {
		probe_error(p, &e);
		return;
	}
	snprintf(p->said, sizeof p->said, "%s", addr);
	p->st = P_DONE;
	if (addr[0] == '\0') {
		p->outcome = O_UNKNOWN;
	} else if (strcmp(addr, p->addr) == 0) {
		p->outcome = O_LEADER;
		return; /* keep the socket: it becomes the connection */
	} else {
		/* Only believed once the named node confirms it itself. */
		p->outcome = O_REDIRECT;
		add_probe(r, addr);
	}
	probe_close(p);
}

/* Advance a probe after poll() said its socket is ready. */
static void probe_io(struct round *r, struct probe *p, short revents)
{
	dqlc_error_t e;
	int rv;
	(void)revents;
	if (p->st == P_CONNECTING) {
		if (dqlc__sock_connect_result(p->fd, p->addr, &e) != 0) {
			probe_error(p, &e);
			return;
		}
		connected(r, p);
	}
	if (p->st == P_HANDSHAKE) {
		rv = dqlc__tls_handshake_step(p->tls, p->addr, &e);
		if (rv == DQLC__WANT_READ || rv == DQLC__WANT_WRITE) {
			p->want = rv == DQLC__WANT_READ ? POLLIN : POLLOUT;
			return;
		}
		if (rv != 0) {
			probe_error(p, &e);
			return;
		}
		p->st = P_SENDING;
	}
	while (p->st == P_SENDING) {
		size_t n = 0;
		rv = dqlc__io_write_step(p->fd, p->tls, p->out + p->out_off, p->out_len - p->out_off,
					 &n, &e);
		if (rv == DQLC__WANT_READ || rv == DQLC__WANT_WRITE) {
			p->want = rv == DQLC__WANT_READ ? POLLIN : POLLOUT;
			return;
		}
		if (rv != 0) {
			probe_error(p, &e);
			return;
		}
		p->out_off += n;
		if (p->out_off == p->out_len) {
			p->st = P_READING;
			p->want = POLLIN;
		}
	}
	while (p->st == P_READING) {
		dqlc__hdr_t h;
		size_t n = 0;
		rv = dqlc__io_read_step(p->fd, p->tls, p->in + p->in_len, sizeof p->in - p->in_len, &n,
					&e);
		if (rv == DQLC__WANT_READ || rv == DQLC__WANT_WRITE) {
			p->want = rv == DQLC__WANT_READ ? POLLIN : POLLOUT;
			return;
		}
		if (rv != 0) {
			if (rv == DQLC_EIO && p->in_len == 0)
				probe_fail(p, "connection closed before answering");
			else
				probe_error(p, &e);
			return;
		}
		p->in_len += n;
		if (p->in_len < 8)
			continue;
		if (dqlc__wire_header(p->in, REPLY_MAX - 8, &h, &e) != 0) {
			probe_error(p, &e);
			return;
		}
		if (p->in_len >= 8 + (size_t)h.words * 8)
			probe_judge(r, p, &h);
		else if (p->in_len == sizeof p->in)
			probe_fail(p, "reply too large");
	}
}

static struct probe *winner(struct round *r)
{
	size_t i;
	for (i = 0; i < r->n; i++)
		if (r->p[i].outcome == O_LEADER)
			return &r->p[i];
	return NULL;
}

/* Run one round: returns the winning probe or NULL. */
/* Only silent probes are left: ask the nodes that answered "no leader" or
 * named one again (their answer may have changed), at most every
 * REASK_NS.  Returns the time of the next re-ask. */
static int64_t reask(struct round *r, int64_t last)
{
	bool silent = false, answered = false;
	int64_t now = dqlc__now_ns();
	size_t i;
	for (i = 0; i < r->n; i++) {
		const struct probe *p = &r->p[i];
		if (p->st == P_IDLE || (p->st != P_DONE && p->st != P_READING))
			return last + REASK_NS; /* still connecting or sending */
		silent = silent || p->st == P_READING;
		answered = answered || p->outcome == O_UNKNOWN || p->outcome == O_REDIRECT;
	}
	if (!silent || !answered || now < last + REASK_NS)
		return last + REASK_NS;
	for (i = 0; i < r->n; i++) {
		struct probe *p = &r->p[i];
		if (p->st == P_DONE && (p->outcome == O_UNKNOWN || p->outcome == O_REDIRECT)) {
			p->st = P_IDLE;
			p->outcome = O_NONE;
			p->out_off = p->in_len = 0;
		}
	}
	return now + REASK_NS;
}

static struct probe *run_round(struct round *r, int wake_fd, bool *canceled)
{
	int64_t next_reask = dqlc__now_ns() + REASK_NS;
	size_t i;
	for (;;) {
		struct pollfd pf[MAX_PROBES + 1];
		struct probe *map[MAX_PROBES];
		nfds_t nf = 0;
		size_t active = 0;
		int64_t next = r->deadline;
		int rv;
		struct probe *w;

		next_reask = reask(r, next_reask - REASK_NS);
		for (i = 0; i < r->n; i++)
			if (r->p[i].st != P_IDLE && r->p[i].st != P_DONE)
				active++;
		for (i = 0; i < r->n && active < (size_t)r->cfg->probe_concurrency; i++) {
			if (r->p[i].st == P_IDLE) {
				probe_start(r, &r->p[i]);
				if (r->p[i].st != P_DONE)
					active++;
			}
		}
		if ((w = winner(r)) != NULL)
			return w;
		for (i = 0; i < r->n; i++) {
			struct probe *p = &r->p[i];
			if (p->st == P_IDLE || p->st == P_DONE)
				continue;
			if (dqlc__deadline_passed(p->deadline)) {
				probe_fail(p, p->st == P_CONNECTING ? "connect timed out"
								    : p->st == P_HANDSHAKE ? "TLS handshake timed out"
								    : "no answer in time");
				continue;
			}
			pf[nf].fd = p->fd;
			pf[nf].events = p->want;
			pf[nf].revents = 0;
			map[nf++] = p;
			next = dqlc__deadline_min(next, p->deadline);
		}
		if (nf == 0) {
			bool idle = false;
			for (i = 0; i < r->n; i++)
				idle = idle || r->p[i].st == P_IDLE;
			if (!idle)
				return NULL; /* round over */
			continue;
		}
		next = dqlc__deadline_min(next, next_reask);
		if (wake_fd >= 0) {
			pf[nf].fd = wake_fd;
			pf[nf].events = POLLIN;
			pf[nf].revents = 0;
		}
		rv = poll(pf, nf + (wake_fd >= 0), dqlc__ms_left(next));
		if (rv < 0 && errno != EINTR)
			return NULL;
		if (wake_fd >= 0 && pf[nf].revents != 0) {
			*canceled = true;
			return NULL;
		}
		for (i = 0; rv > 0 && i < nf; i++)
			if (pf[i].revents != 0)
				probe_io(r, map[i], pf[i].revents);
		if ((w = winner(r)) != NULL)
			return w;
		if (dqlc__deadline_passed(r->deadline)) {
			for (i = 0; i < r->n; i++)
				if (r->p[i].st != P_DONE) {
					probe_fail(&r->p[i], "deadline exceeded");
					r->cut = true;
				}
			return NULL;
		}
	}
}

static void close_all(struct round *r, struct probe *keep)
{
	size_t i;
	for (i = 0; i < r->n; i++)
		if (&r->p[i] != keep)
			probe_close(&r->p[i]);
}

/* Summarise a failed round into err. */
static int round_error(struct round *r, dqlc_error_t *err)
{
	char msg[sizeof err->message];
	size_t i, off = 0;
	bool answered = false, tls = false;
	for (i = 0; i < r->n; i++) {
		struct probe *p = &r->p[i];
		const char *what = p->why;
		char buf[320];
		if (p->outcome == O_UNKNOWN)
			what = "knows no leader";
		else if (p->outcome == O_REDIRECT) {
			snprintf(buf, sizeof buf, "named %s, not confirmed", p->said);
			what = buf;
		} else if (p->outcome == O_NONE)
			what = "not probed";
		if (p->outcome == O_UNKNOWN || p->outcome == O_REDIRECT)
			answered = true;
		if (p->outcome == O_ERROR && p->code == DQLC_ETLS)
			tls = true;
		if (off < sizeof msg)
			off += (size_t)snprintf(msg + off, sizeof msg - off, "%s%s: %s",
						i ? "; " : "", p->addr, what);
	}
	if (answered)
		return dqlc__err(err, DQLC_ENOLEADER, "no leader: %s", msg);
	/* Reachable, but TLS failed: that is what the caller must fix. */
	if (tls)
		return dqlc__err(err, DQLC_ETLS, "TLS failed: %s", msg);
	return dqlc__err(err, DQLC_ECONNECT, "no node reachable: %s", msg);
}

/* Every node refused us at the TLS layer: a configuration problem that
 * another round cannot fix. */
static bool all_tls(const struct round *r)
{
	size_t i;
	for (i = 0; i < r->n; i++)
		if (r->p[i].outcome != O_ERROR || r->p[i].code != DQLC_ETLS)
			return false;
	return r->n > 0;
}

static int take(struct round *r, struct probe *w, dqlc__leader_t *out)
{
	close_all(r, w);
	out->fd = w->fd;
	out->tls = w->tls;
	out->id = w->id;
	snprintf(out->address, sizeof out->address, "%s", w->addr);
	w->fd = -1;
	w->tls = NULL;
	return 0;
}

int dqlc__find_leader(const struct dqlc_config *cfg, const char *const *cands, size_t n,
		      const char *hint, int64_t deadline, int wake_fd, dqlc__leader_t *out,
		      dqlc_error_t *err)
{
	struct round *r;
	struct probe *w;
	bool canceled = false, have_last = false;
	dqlc_error_t last; /* the last round that ran to its end */
	int attempt = 0, rv;
	size_t i;
	if (n == 0)
		return dqlc__err(err, DQLC_EINVAL, "no node addresses to search for a leader");
	r = malloc(sizeof *r);
	if (r == NULL)
		return dqlc__err(err, DQLC_ENOMEM, "out of memory");
	r->cfg = cfg;
	r->deadline = deadline;

	/* The last known leader usually still is: ask it alone first, briefly
	 * (a stopped one would answer nothing), then everyone. */
	if (hint != NULL && hint[0] != '\0') {
		r->n = 0;
		r->deadline = dqlc__deadline_min(deadline,
						  dqlc__deadline_in(cfg->dial_timeout_ms / 4 + 1));
		add_probe(r, hint);
		w = run_round(r, wake_fd, &canceled);
		r->deadline = deadline;
		if (w != NULL) {
			rv = take(r, w, out);
			free(r);
			return rv;
		}
		close_all(r, NULL);
	}
	for (;;) {
		dqlc_error_t e;
		r->n = 0;
		r->cut = false;
		for (i = 0; i < n; i++)
			add_probe(r, cands[i]);
		w = canceled ? NULL : run_round(r, wake_fd, &canceled);
		if (w != NULL) {
			rv = take(r, w, out);
			free(r);
			return rv;
		}
		close_all(r, NULL);
		if (canceled) {
			free(r);
			return dqlc__err(err, DQLC_ECANCELED, "leader search canceled");
		}
		/* A round the deadline cut short says only "deadline exceeded":
		 * report the last full round, which says why. */
		rv = round_error(r, &e);
		if (r->cut && have_last)
			rv = (e = last).code;
		last = e;
		have_last = true;
		if (dqlc__deadline_passed(deadline) || all_tls(r))
			break;
		{
			/* Wait before the next round, never past the deadline. */
			int64_t wait = dqlc__backoff_ms(attempt++, cfg->backoff_base_ms,
							 cfg->backoff_cap_ms);
			int64_t until = dqlc__deadline_min(deadline, dqlc__deadline_in(wait));
			struct pollfd pf = {.fd = wake_fd, .events = POLLIN, .revents = 0};
			while (!dqlc__deadline_passed(until)) {
				int prv = poll(&pf, wake_fd >= 0 ? 1 : 0, dqlc__ms_left(until));
				if (prv > 0) {
					free(r);
					return dqlc__err(err, DQLC_ECANCELED,
							 "leader search canceled");
				}
			}
		}
		if (dqlc__deadline_passed(deadline))
			break;
	}
	free(r);
	if (err != NULL)
		*err = last;
	return rv;
}
