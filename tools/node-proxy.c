/* dqlc-node: TLS front end and raft dialer (see node-proxy.h). */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "node-opts.h"
#include "node-proxy.h"
#include "node-tls.h"

#define RELAY_BUF 16384            /* per direction */
#define HANDSHAKE_TIMEOUT_MS 5000  /* TCP connect + TLS handshake */
#define ACCEPT_PAUSE_MS 100        /* after EMFILE and the like */
#define LINGER_MS 1000             /* a refused client reads our alert */
#define MAX_PFDS (2 + 2 * PROXY_MAX_RELAYS)

struct relay {
	struct relay *next;
	SSL *ssl;
	int net_fd;        /* TCP, TLS inside */
	int local_fd;      /* libdqlite's side; -1 until connected */
	int pfd_net;       /* index in the poll array this round, or -1 */
	int pfd_local;
	bool outbound;     /* a raft connection we dialed */
	bool connecting;   /* its TCP connect is in progress */
	bool established;  /* handshake done */
	bool ssl_broken;   /* fatal TLS error: no close_notify */
	bool net_eof, local_eof;
	bool lingering;    /* refused: alert and FIN sent, draining until EOF */
	/* A read may find data: no EAGAIN since the last readiness event (so
	 * a quiet side costs no speculative syscall). */
	bool net_ready, local_ready;
	short rd_want;     /* what the last SSL_read (or handshake) waits for */
	short wr_want;     /* what the last SSL_write waits for */
	int64_t deadline;  /* handshake or linger deadline (CLOCK_MONOTONIC ms) */
	char peer[64];     /* for messages */
	char verify_name[256]; /* outbound: the name the peer's certificate must show */
	size_t up_off, up_len;     /* net -> local */
	size_t down_off, down_len; /* local -> net */
	unsigned char up[RELAY_BUF];
	unsigned char down[RELAY_BUF];
};

struct node_proxy {
	SSL_CTX *server_ctx;
	SSL_CTX *client_ctx;
	char *peer_name;
	int listen_fd;
	int wake_fd; /* eventfd */
	struct sockaddr_un backend;
	socklen_t backend_len;
	char backend_name[108];

	pthread_mutex_t lock;
	bool stopping;          /* lock */
	bool no_accept;         /* lock: close the listener */
	int live;               /* lock: relays in existence */
	struct relay *pending;  /* lock: dialed, not yet adopted by the thread */

	pthread_t thread;
	bool started;
	/* The thread's own. */
	struct relay *relays;
	int64_t accept_paused_until;
	bool full_reported;
	struct pollfd pfds[MAX_PFDS];
};

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
	char line[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	fprintf(stderr, "dqlc-node: tls: %s\n", line);
}

static void wake(struct node_proxy *p)
{
	uint64_t one = 1;
	ssize_t w = write(p->wake_fd, &one, sizeof one);
	(void)w; /* EAGAIN: the counter is already non-zero */
}

static void set_nodelay(int fd)
{
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

/* ---- relays ------------------------------------------------------------------ */

/* Count a new relay unless we are stopping or full. */
static bool reserve(struct node_proxy *p)
{
	pthread_mutex_lock(&p->lock);
	bool ok = !p->stopping && p->live < PROXY_MAX_RELAYS;
	if (ok)
		p->live++;
	pthread_mutex_unlock(&p->lock);
	return ok;
}

static void unreserve(struct node_proxy *p)
{
	pthread_mutex_lock(&p->lock);
	p->live--;
	pthread_mutex_unlock(&p->lock);
}

/* A relay without its TLS session yet (no OpenSSL call: this may run on
 * one of libdqlite's threads, which must not acquire OpenSSL thread state
 * that only a thread exit frees). */
static struct relay *relay_new(int net_fd)
{
	struct relay *r = malloc(sizeof *r);
	if (r == NULL)
		return NULL;
	memset(r, 0, offsetof(struct relay, up));
	r->net_fd = net_fd;
	r->local_fd = -1;
	r->pfd_net = r->pfd_local = -1;
	r->rd_want = POLLIN;
	r->wr_want = POLLOUT;
	r->net_ready = r->local_ready = true;
	r->deadline = now_ms() + HANDSHAKE_TIMEOUT_MS;
	return r;
}

/* The TLS session, on the proxy thread: server side for accepted relays,
 * client side (verifying r->verify_name) for dialed ones.  false: close. */
static bool relay_tls(struct node_proxy *p, struct relay *r)
{
	ERR_clear_error();
	r->ssl = SSL_new(r->outbound ? p->client_ctx : p->server_ctx);
	if (r->ssl == NULL || SSL_set_fd(r->ssl, r->net_fd) != 1) {
		char why[256];
		say("%s: cannot create a TLS session: %s", r->peer,
		    node_tls_reason(NULL, "out of memory", why, sizeof why));
		r->ssl_broken = true;
		return false;
	}
	if (!r->outbound) {
		SSL_set_accept_state(r->ssl);
		return true;
	}
	if (node_tls_expect_name(r->ssl, r->verify_name) != 0) {
		say("%s: cannot verify against '%s'", r->peer, r->verify_name);
		r->ssl_broken = true;
		return false;
	}
	SSL_set_connect_state(r->ssl);
	return true;
}

/* Close both sides; a healthy session says close_notify first (best
 * effort, never waiting). */
static void relay_free(struct node_proxy *p, struct relay *r)
{
	if (r->ssl != NULL) {
		if (r->established && !r->ssl_broken) {
			ERR_clear_error();
			SSL_shutdown(r->ssl);
		}
		ERR_clear_error();
		SSL_free(r->ssl);
	}
	close(r->net_fd);
	if (r->local_fd >= 0)
		close(r->local_fd);
	free(r);
	unreserve(p);
}

/* A TLS operation failed with SSL_get_error() == e: report unless the peer
 * merely went away, and mark the session unusable. */
static bool tls_failed(struct relay *r, int e, const char *what)
{
	int saved = errno;
	r->ssl_broken = true;
	if (e == SSL_ERROR_SYSCALL && (saved == 0 || saved == ECONNRESET || saved == EPIPE)) {
		ERR_clear_error();
		if (!r->established)
			say("%s: %s failed: connection closed by the peer", r->peer, what);
		return false;
	}
	char why[256];
	const char *fallback = e == SSL_ERROR_SYSCALL ? strerror(saved) : "TLS error";
	say("%s: %s failed: %s", r->peer, what, node_tls_reason(r->ssl, fallback, why, sizeof why));
	return false;
}

/* Move bytes both ways until nothing moves.  false: close the relay. */
static bool pump(struct relay *r, short ev_net, short ev_local)
{
	bool any = false, progress;
	if (ev_net & (r->rd_want | POLLHUP | POLLERR))
		r->net_ready = true;
	if (ev_local & (POLLIN | POLLHUP | POLLERR))
		r->local_ready = true;
	do {
		progress = false;

		/* TLS -> up */
		size_t tail = RELAY_BUF - r->up_off - r->up_len;
		if (!r->net_eof && tail == 0 && r->up_off > 0) {
			memmove(r->up, r->up + r->up_off, r->up_len);
			r->up_off = 0;
			tail = RELAY_BUF - r->up_len;
		}
		if (!r->net_eof && tail > 0 && (r->net_ready || SSL_has_pending(r->ssl))) {
			size_t got = 0;
			ERR_clear_error();
			errno = 0;
			int ret = SSL_read_ex(r->ssl, r->up + r->up_off + r->up_len, tail, &got);
			if (ret == 1) {
				r->up_len += got;
				progress = true;
			} else {
				int e = SSL_get_error(r->ssl, ret);
				if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
					r->rd_want = e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT;
					r->net_ready = false;
				} else if (e == SSL_ERROR_ZERO_RETURN) {
					r->net_eof = true;
					progress = true;
				} else
					return tls_failed(r, e, "read");
			}
		}

		/* up -> libdqlite */
		if (r->up_len > 0) {
			ssize_t w = send(r->local_fd, r->up + r->up_off, r->up_len, MSG_NOSIGNAL);
			if (w > 0) {
				r->up_off += (size_t)w;
				r->up_len -= (size_t)w;
				if (r->up_len == 0)
					r->up_off = 0;
				progress = true;
			} else if (w < 0 && errno == EINTR) {
				progress = true;
			} else if (!(w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))) {
				return false; /* libdqlite closed its end */
			}
		}

		/* libdqlite -> down */
		tail = RELAY_BUF - r->down_off - r->down_len;
		if (!r->local_eof && tail == 0 && r->down_off > 0) {
			/* A pending SSL_write may see its data move: allowed by
			 * SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER. */
			memmove(r->down, r->down + r->down_off, r->down_len);
			r->down_off = 0;
			tail = RELAY_BUF - r->down_len;
		}
		if (!r->local_eof && tail > 0 && r->local_ready) {
			ssize_t n = recv(r->local_fd, r->down + r->down_off + r->down_len, tail, 0);
			if (n > 0) {
				r->down_len += (size_t)n;
				progress = true;
			} else if (n == 0) {
				r->local_eof = true;
				progress = true;
			} else if (errno == EINTR) {
				progress = true;
			} else if (errno == EAGAIN || errno == EWOULDBLOCK) {
				r->local_ready = false;
			} else {
				return false;
			}
		}

		/* down -> TLS */
		if (r->down_len > 0) {
			size_t put = 0;
			ERR_clear_error();
			errno = 0;
			int ret = SSL_write_ex(r->ssl, r->down + r->down_off, r->down_len, &put);
			if (ret == 1) {
				r->down_off += put;
				r->down_len -= put;
				if (r->down_len == 0)
					r->down_off = 0;
				progress = true;
			} else {
				int e = SSL_get_error(r->ssl, ret);
				if (e == SSL_ERROR_WANT_READ)
					r->wr_want = POLLIN;
				else if (e == SSL_ERROR_WANT_WRITE)
					r->wr_want = POLLOUT;
				else
					return tls_failed(r, e, "write");
			}
		}
		any = any || progress;
	} while (progress);

	/* One side ended and everything it sent was delivered. */
	if ((r->net_eof && r->up_len == 0) || (r->local_eof && r->down_len == 0))
		return false;
	/* Hang-up or error with nothing to move: the connection is dead. */
	if (((ev_net | ev_local) & (POLLHUP | POLLERR)) && !any)
		return false;
	return true;
}

/* Accepted relays, after the handshake: connect to libdqlite. */
static bool connect_backend(struct node_proxy *p, struct relay *r)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (const struct sockaddr *)&p->backend, p->backend_len) != 0) {
		say("%s: cannot reach the node at %s: %s", r->peer, p->backend_name,
		    strerror(errno));
		if (fd >= 0)
			close(fd);
		return false;
	}
	r->local_fd = fd;
	return true;
}

static bool handshake(struct node_proxy *p, struct relay *r)
{
	ERR_clear_error();
	errno = 0;
	int ret = SSL_do_handshake(r->ssl);
	if (ret == 1) {
		r->established = true;
		r->rd_want = POLLIN;
		r->wr_want = POLLOUT;
		if (!r->outbound && !connect_backend(p, r))
			return false;
		return pump(r, 0, 0); /* data may have come with the handshake */
	}
	int e = SSL_get_error(r->ssl, ret);
	if (e == SSL_ERROR_WANT_READ) {
		r->rd_want = POLLIN;
		return true;
	}
	if (e == SSL_ERROR_WANT_WRITE) {
		r->rd_want = POLLOUT;
		return true;
	}
	return tls_failed(r, e, "handshake");
}

/*
 * An accepted client whose handshake failed has been sent an alert that
 * says why ("certificate required", "unknown ca", ...).  Closing at once
 * would make the kernel answer the bytes it already sent (its request,
 * after a TLS 1.3 handshake that looked complete to it) with a reset, and
 * the client would see "connection reset" instead of the alert.  So: FIN
 * after the alert, read and discard until the client closes, for at most
 * LINGER_MS.  true if the relay now lingers.
 */
static bool start_linger(struct relay *r, int64_t now)
{
	if (r->outbound || r->established || r->lingering || now >= r->deadline)
		return false;
	if (shutdown(r->net_fd, SHUT_WR) != 0)
		return false;
	r->lingering = true;
	r->deadline = now + LINGER_MS;
	return true;
}

static bool linger(struct relay *r, int64_t now)
{
	unsigned char sink[4096];
	for (;;) {
		ssize_t n = recv(r->net_fd, sink, sizeof sink, 0);
		if (n > 0)
			continue;
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return now < r->deadline;
		return false; /* the client closed too (or reset) */
	}
}

/* Make progress on one relay.  false: close it. */
static bool service(struct node_proxy *p, struct relay *r, short ev_net, short ev_local,
		    int64_t now)
{
	if (r->lingering)
		return linger(r, now);
	if (r->established)
		return pump(r, ev_net, ev_local);
	if (now >= r->deadline) {
		r->deadline = 0; /* no lingering either */
		say("%s: %s timed out after %d ms", r->peer,
		    r->connecting ? "connect" : "handshake", HANDSHAKE_TIMEOUT_MS);
		r->ssl_broken = true;
		return false;
	}
	if (r->connecting) {
		if (!(ev_net & (POLLOUT | POLLERR | POLLHUP)))
			return true;
		int err = 0;
		socklen_t len = sizeof err;
		if (getsockopt(r->net_fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
			err = errno;
		if (err != 0) {
			/* A peer that is down: raft retries every second or so,
			 * and says nothing about it either. */
			if (err != ECONNREFUSED)
				say("%s: cannot connect: %s", r->peer, strerror(err));
			r->ssl_broken = true;
			return false;
		}
		r->connecting = false;
	}
	return handshake(p, r);
}

/* ---- the thread ------------------------------------------------------------------ */

static void accept_all(struct node_proxy *p, int64_t now)
{
	for (;;) {
		struct sockaddr_in sa;
		socklen_t len = sizeof sa;
		int fd = accept4(p->listen_fd, (struct sockaddr *)&sa, &len,
				 SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK) {
				say("accept: %s", strerror(errno));
				p->accept_paused_until = now + ACCEPT_PAUSE_MS;
			}
			return;
		}
		if (!reserve(p)) {
			if (!p->full_reported)
				say("%d connections: refusing more", PROXY_MAX_RELAYS);
			p->full_reported = true;
			close(fd);
			continue;
		}
		p->full_reported = false;
		set_nodelay(fd);
		struct relay *r = relay_new(fd);
		if (r == NULL) {
			close(fd);
			unreserve(p);
			continue;
		}
		char ip[INET_ADDRSTRLEN] = "?";
		inet_ntop(AF_INET, &sa.sin_addr, ip, sizeof ip);
		snprintf(r->peer, sizeof r->peer, "client %s:%u", ip, ntohs(sa.sin_port));
		if (!relay_tls(p, r)) {
			relay_free(p, r);
			continue;
		}
		r->next = p->relays;
		p->relays = r;
	}
}

/* Fill the poll array; returns its length and sets *timeout. */
static nfds_t build_pollfds(struct node_proxy *p, int64_t now, int *timeout)
{
	nfds_t n = 0;
	int64_t next = -1;
	p->pfds[n++] = (struct pollfd){.fd = p->wake_fd, .events = POLLIN};
	if (p->listen_fd < 0)
		; /* no longer accepting */
	else if (now >= p->accept_paused_until)
		p->pfds[n++] = (struct pollfd){.fd = p->listen_fd, .events = POLLIN};
	else
		next = p->accept_paused_until;
	for (struct relay *r = p->relays; r != NULL; r = r->next) {
		short net = 0, local = 0;
		if (r->lingering) {
			net = POLLIN;
			if (next < 0 || r->deadline < next)
				next = r->deadline;
		} else if (!r->established) {
			net = r->connecting ? POLLOUT : r->rd_want;
			if (next < 0 || r->deadline < next)
				next = r->deadline;
		} else {
			bool up_room = r->up_off + r->up_len < RELAY_BUF || r->up_off > 0;
			bool down_room = r->down_off + r->down_len < RELAY_BUF || r->down_off > 0;
			if (!r->net_eof && up_room) {
				net |= r->rd_want;
				if (SSL_pending(r->ssl) > 0)
					next = now; /* decrypted bytes wait: no sleeping */
			}
			if (r->down_len > 0)
				net |= r->wr_want;
			if (!r->local_eof && down_room)
				local |= POLLIN;
			if (r->up_len > 0)
				local |= POLLOUT;
		}
		r->pfd_net = (int)n;
		p->pfds[n++] = (struct pollfd){.fd = r->net_fd, .events = net};
		r->pfd_local = -1;
		if (r->local_fd >= 0) {
			r->pfd_local = (int)n;
			p->pfds[n++] = (struct pollfd){.fd = r->local_fd, .events = local};
		}
	}
	*timeout = next < 0 ? -1 : next <= now ? 0 : (int)(next - now);
	return n;
}

static void *proxy_main(void *arg)
{
	struct node_proxy *p = arg;
	for (;;) {
		pthread_mutex_lock(&p->lock);
		bool stop = p->stopping;
		bool no_accept = p->no_accept;
		struct relay *in = p->pending;
		p->pending = NULL;
		pthread_mutex_unlock(&p->lock);
		if (no_accept && p->listen_fd >= 0) {
			close(p->listen_fd);
			p->listen_fd = -1;
		}
		int64_t now = now_ms();
		while (in != NULL) { /* dialed by libdqlite: start their handshakes */
			struct relay *r = in;
			in = r->next;
			if (!stop && (!relay_tls(p, r) || !service(p, r, 0, 0, now))) {
				relay_free(p, r);
				continue;
			}
			r->next = p->relays;
			p->relays = r;
		}
		if (stop)
			break;

		int timeout;
		nfds_t n = build_pollfds(p, now, &timeout);
		int rv = poll(p->pfds, n, timeout);
		if (rv < 0 && errno == ENOMEM) {
			struct timespec ts = {.tv_nsec = 10 * 1000000};
			nanosleep(&ts, NULL); /* transient: try again */
			continue;
		}
		if (rv < 0 && errno != EINTR) {
			/* A node whose front end stopped would look alive and
			 * answer nobody: better to die loudly. */
			say("poll: %s", strerror(errno));
			abort();
		}
		now = now_ms();
		if (rv > 0 && (p->pfds[0].revents & POLLIN)) {
			uint64_t v;
			ssize_t got = read(p->wake_fd, &v, sizeof v);
			(void)got;
		}
		if (rv > 0 && n > 1 && p->listen_fd >= 0 && p->pfds[1].fd == p->listen_fd &&
		    p->pfds[1].revents != 0)
			accept_all(p, now);

		for (struct relay **link = &p->relays; *link != NULL;) {
			struct relay *r = *link;
			short ev_net = r->pfd_net >= 0 ? p->pfds[r->pfd_net].revents : 0;
			short ev_local = r->pfd_local >= 0 ? p->pfds[r->pfd_local].revents : 0;
			/* Relays accepted this round (no poll slot) get a first turn. */
			bool due = r->pfd_net < 0 || ev_net != 0 || ev_local != 0 ||
				   (!r->established && now >= r->deadline) ||
				   (r->established && SSL_pending(r->ssl) > 0);
			if (due && !service(p, r, ev_net, ev_local, now) && !start_linger(r, now)) {
				*link = r->next;
				relay_free(p, r);
				continue;
			}
			link = &r->next;
		}
	}
	while (p->relays != NULL) {
		struct relay *r = p->relays;
		p->relays = r->next;
		relay_free(p, r);
	}
	return NULL;
}

/* ---- public ----------------------------------------------------------------------- */

/* "a.b.c.d:port" (node_addr_valid checked the form). */
static int parse_ipv4(const char *address, struct sockaddr_in *sa)
{
	if (!node_addr_valid(address))
		return -1;
	const char *colon = strrchr(address, ':');
	char host[INET_ADDRSTRLEN];
	memcpy(host, address, (size_t)(colon - address));
	host[colon - address] = '\0';
	memset(sa, 0, sizeof *sa);
	sa->sin_family = AF_INET;
	sa->sin_port = htons((uint16_t)strtoul(colon + 1, NULL, 10));
	return inet_pton(AF_INET, host, &sa->sin_addr) == 1 ? 0 : -1;
}

int node_proxy_new(const struct node_proxy_config *cfg, struct node_proxy **out)
{
	*out = NULL;
	struct sockaddr_in sa;
	if (parse_ipv4(cfg->listen, &sa) != 0) {
		fprintf(stderr, "dqlc-node: tls: '%s' is not an IPv4:port address\n", cfg->listen);
		return PROXY_ECONFIG;
	}
	size_t blen = strlen(cfg->backend);
	struct node_proxy *p = calloc(1, sizeof *p);
	if (p == NULL || cfg->backend[0] != '@' || blen < 2 ||
	    blen > sizeof p->backend.sun_path - 1) {
		fprintf(stderr, "dqlc-node: tls: bad backend '%s' or out of memory\n",
			cfg->backend);
		free(p);
		return PROXY_ECONFIG;
	}
	p->listen_fd = p->wake_fd = -1;
	pthread_mutex_init(&p->lock, NULL);
	snprintf(p->backend_name, sizeof p->backend_name, "%s", cfg->backend);
	p->backend.sun_family = AF_UNIX;
	memcpy(p->backend.sun_path + 1, cfg->backend + 1, blen - 1); /* sun_path[0] = 0 */
	p->backend_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + blen);

	char why[512];
	int rc = PROXY_ECONFIG;
	p->server_ctx = node_tls_server_ctx(cfg->files, why, sizeof why);
	if (p->server_ctx != NULL)
		p->client_ctx = node_tls_client_ctx(cfg->files, why, sizeof why);
	if (p->client_ctx == NULL) {
		fprintf(stderr, "dqlc-node: tls: %s\n", why);
		goto fail;
	}
	if (cfg->peer_name != NULL && (p->peer_name = strdup(cfg->peer_name)) == NULL)
		goto fail_sys;

	p->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	p->listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (p->wake_fd < 0 || p->listen_fd < 0)
		goto fail_sys;
	int one = 1;
	/* As libdqlite does: a restarted node rebinds despite TIME_WAIT. */
	setsockopt(p->listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (bind(p->listen_fd, (struct sockaddr *)&sa, sizeof sa) != 0 ||
	    listen(p->listen_fd, 128) != 0) {
		fprintf(stderr, "dqlc-node: cannot bind %s: %s\n", cfg->listen, strerror(errno));
		rc = PROXY_EBIND;
		goto fail;
	}
	*out = p;
	return PROXY_OK;

fail_sys:
	fprintf(stderr, "dqlc-node: tls: %s\n", strerror(errno));
	rc = PROXY_ESYS;
fail:
	node_proxy_free(p);
	return rc;
}

int node_proxy_start(struct node_proxy *p)
{
	int rv = pthread_create(&p->thread, NULL, proxy_main, p);
	if (rv != 0) {
		fprintf(stderr, "dqlc-node: tls: cannot start the relay thread: %s\n",
			strerror(rv));
		return -1;
	}
	p->started = true;
	return 0;
}

void node_proxy_stop_accepting(struct node_proxy *p)
{
	pthread_mutex_lock(&p->lock);
	p->no_accept = true;
	pthread_mutex_unlock(&p->lock);
	wake(p);
}

int node_proxy_connect(void *arg, const char *address, int *fd)
{
	struct node_proxy *p = arg;
	struct sockaddr_in sa;
	if (parse_ipv4(address, &sa) != 0) {
		say("cannot dial '%s': not an IPv4:port address", address);
		return 1;
	}
	if (!reserve(p))
		return 1; /* stopping, or full */
	int sp[2] = {-1, -1};
	int net = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (net < 0)
		goto fail;
	set_nodelay(net);
	bool connecting = false;
	if (connect(net, (struct sockaddr *)&sa, sizeof sa) != 0) {
		if (errno != EINPROGRESS)
			goto fail; /* refused: the peer is down, raft retries */
		connecting = true;
	}
	/* sp[1] goes to libdqlite (blocking, as it writes its handshake at
	 * once); sp[0] is the relay's. */
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) != 0 ||
	    fcntl(sp[0], F_SETFL, O_NONBLOCK) != 0)
		goto fail;
	struct relay *r = relay_new(net);
	if (r == NULL)
		goto fail;
	r->outbound = true;
	r->connecting = connecting;
	r->local_fd = sp[0];
	snprintf(r->peer, sizeof r->peer, "peer %s", address);
	char host[INET_ADDRSTRLEN];
	inet_ntop(AF_INET, &sa.sin_addr, host, sizeof host);
	snprintf(r->verify_name, sizeof r->verify_name, "%s",
		 p->peer_name != NULL ? p->peer_name : host);
	/* The TLS session is made by the proxy thread when it adopts r. */
	pthread_mutex_lock(&p->lock);
	bool stopping = p->stopping;
	if (!stopping) {
		r->next = p->pending;
		p->pending = r;
	}
	pthread_mutex_unlock(&p->lock);
	if (stopping) {
		free(r);
		goto fail;
	}
	wake(p);
	*fd = sp[1];
	return 0;

fail:
	if (net >= 0)
		close(net);
	if (sp[0] >= 0)
		close(sp[0]);
	if (sp[1] >= 0)
		close(sp[1]);
	unreserve(p);
	return 1;
}

void node_proxy_free(struct node_proxy *p)
{
	if (p == NULL)
		return;
	if (p->started) {
		pthread_mutex_lock(&p->lock);
		p->stopping = true;
		pthread_mutex_unlock(&p->lock);
		wake(p);
		pthread_join(p->thread, NULL);
	}
	/* Dialed after the thread's last look, or never started. */
	pthread_mutex_lock(&p->lock);
	p->stopping = true;
	struct relay *rest = p->pending;
	p->pending = NULL;
	pthread_mutex_unlock(&p->lock);
	while (rest != NULL) {
		struct relay *r = rest;
		rest = r->next;
		r->ssl_broken = true;
		relay_free(p, r);
	}
	while (p->relays != NULL) {
		struct relay *r = p->relays;
		p->relays = r->next;
		relay_free(p, r);
	}
	if (p->listen_fd >= 0)
		close(p->listen_fd);
	if (p->wake_fd >= 0)
		close(p->wake_fd);
	SSL_CTX_free(p->server_ctx);
	SSL_CTX_free(p->client_ctx);
	free(p->peer_name);
	pthread_mutex_destroy(&p->lock);
	free(p);
}
