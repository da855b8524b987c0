/* faultproxy: see faultproxy.h. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "faultproxy.h"
#include "wire/wire.h"

#define MAX_PROXIES 16
#define READ_CHUNK 65536
#define HIGH_WATER (4u << 20)        /* stop reading a source past this */
#define MAX_FRAME_BODY (64u << 20)   /* larger frames are relayed raw */
#define DIR_UP 0   /* client -> server */
#define DIR_DOWN 1 /* server -> client */

enum { CLOSE_NONE = 0, CLOSE_FIN, CLOSE_RST };

struct chunk {
	struct chunk *next;
	int64_t due; /* ns, CLOCK_MONOTONIC */
	size_t len, off;
	uint8_t data[];
};

/* One direction of a pair: bytes from src to dst. */
struct half {
	struct chunk *head, *tail;
	size_t queued;
	bool src_eof;   /* src said EOF: close once the queue is sent */
	int cut;        /* CLOSE_*: close that way once the queue is sent */
	bool raw;       /* no frame parsing */
	size_t pre;     /* preamble bytes still to pass unparsed */
	uint8_t *fbuf;  /* frame being assembled */
	size_t flen, fcap;
};

struct pair {
	struct pair *next;
	int proxy;
	int cfd, sfd;
	bool connecting;
	bool dead;
	uint64_t cluster_format; /* of the last CLUSTER request */
	struct half h[2];        /* DIR_UP, DIR_DOWN */
};

struct proxy {
	int lfd;
	char listen[32];
	char upstream[64];
	struct sockaddr_in up_sa;
	int delay_ms[2];
	bool stall[2];
	bool blackhole[2];
	bool refuse;
	fp_arm_t arm;
};

struct fp {
	pthread_mutex_t mu;
	pthread_cond_t idle_cv;
	pthread_t thread;
	bool started;
	bool stopping;
	int wake[2];
	struct proxy proxies[MAX_PROXIES];
	int n;
	struct pair *pairs;
	fp_stats_t st;
	uint64_t rng;
	uint8_t *rbuf;
};

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static uint64_t rnd(fp_t *fp)
{
	uint64_t x = fp->rng; /* xorshift64 */
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	fp->rng = x;
	return x;
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void put32(uint8_t *p, uint32_t v)
{
	for (int k = 0; k < 4; k++)
		p[k] = (uint8_t)(v >> (8 * k));
}

static uint64_t get64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int k = 7; k >= 0; k--)
		v = v << 8 | p[k];
	return v;
}

static void put64(uint8_t *p, uint64_t v)
{
	for (int k = 0; k < 8; k++)
		p[k] = (uint8_t)(v >> (8 * k));
}

static void wake(fp_t *fp)
{
	char c = 1;
	ssize_t rv = write(fp->wake[1], &c, 1);
	(void)rv; /* a full pipe wakes the loop anyway */
}

static int set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);
	return fl < 0 ? -1 : fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

static void close_rst(int fd)
{
	if (fd < 0)
		return;
	struct linger l = {.l_onoff = 1, .l_linger = 0};
	setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
	close(fd);
}

static void close_fin(int fd)
{
	if (fd < 0)
		return;
	shutdown(fd, SHUT_WR);
	close(fd);
}

static int parse_addr(const char *addr, struct sockaddr_in *sa)
{
	char host[64];
	const char *colon = strrchr(addr, ':');
	if (colon == NULL || (size_t)(colon - addr) >= sizeof host)
		return -1;
	memcpy(host, addr, (size_t)(colon - addr));
	host[colon - addr] = '\0';
	char *end;
	long port = strtol(colon + 1, &end, 10);
	if (*end != '\0' || port <= 0 || port > 65535)
		return -1;
	memset(sa, 0, sizeof *sa);
	sa->sin_family = AF_INET;
	sa->sin_port = htons((uint16_t)port);
	return inet_pton(AF_INET, host, &sa->sin_addr) == 1 ? 0 : -1;
}

/* ---- queues ------------------------------------------------------------- */

static int enqueue(fp_t *fp, struct pair *pr, int dir, const uint8_t *data, size_t len)
{
	if (len == 0)
		return 0;
	struct half *h = &pr->h[dir];
	struct chunk *c = malloc(sizeof *c + len);
	if (c == NULL)
		return -1;
	int ms = fp->proxies[pr->proxy].delay_ms[dir];
	c->next = NULL;
	c->due = now_ns() + (int64_t)ms * 1000000;
	c->len = len;
	c->off = 0;
	memcpy(c->data, data, len);
	if (h->tail)
		h->tail->next = c;
	else
		h->head = c;
	h->tail = c;
	h->queued += len;
	return 0;
}

static void half_free(struct half *h)
{
	while (h->head) {
		struct chunk *c = h->head;
		h->head = c->next;
		free(c);
	}
	h->tail = NULL;
	h->queued = 0;
	free(h->fbuf);
	h->fbuf = NULL;
	h->flen = h->fcap = 0;
}

static void pair_close(fp_t *fp, struct pair *pr, int how)
{
	if (pr->dead)
		return;
	pr->dead = true;
	if (how == CLOSE_RST) {
		close_rst(pr->cfd);
		close_rst(pr->sfd);
	} else {
		close_fin(pr->cfd);
		close_fin(pr->sfd);
	}
	pr->cfd = pr->sfd = -1;
	half_free(&pr->h[0]);
	half_free(&pr->h[1]);
	fp->st.open--;
	pthread_cond_broadcast(&fp->idle_cv);
}

/* ---- frames -------------------------------------------------------------- */

static size_t text_words(size_t n)
{
	return (n + 1 + 7) / 8;
}

static void put_text(uint8_t *p, const char *s)
{
	size_t n = strlen(s), w = text_words(n);
	memset(p, 0, w * 8);
	memcpy(p, s, n);
}

/* The listen address of the proxy whose upstream is `addr`, or NULL. */
static const char *mapped(fp_t *fp, const char *addr)
{
	for (int i = 0; i < fp->n; i++)
		if (strcmp(fp->proxies[i].upstream, addr) == 0)
			return fp->proxies[i].listen;
	return NULL;
}

/* Rewrite a SERVER or SERVERS frame; returns a malloc'ed frame (and its
 * length) or NULL to keep the original. */
static uint8_t *rewrite(fp_t *fp, struct pair *pr, const uint8_t *frame, size_t len,
			size_t *out_len)
{
	const uint8_t *body = frame + 8;
	size_t blen = len - 8;
	dqlc_error_t e;
	if (frame[4] == DQLC__RESP_SERVER) {
		uint64_t id;
		const char *addr;
		if (dqlc__dec_server(body, blen, &id, &addr, &e) != 0)
			return NULL;
		const char *to = mapped(fp, addr);
		if (to == NULL)
			return NULL;
		size_t words = 1 + text_words(strlen(to));
		uint8_t *f = calloc(1, 8 + words * 8);
		if (f == NULL)
			return NULL;
		put32(f, (uint32_t)words);
		f[4] = DQLC__RESP_SERVER;
		put64(f + 8, id);
		put_text(f + 16, to);
		*out_len = 8 + words * 8;
		return f;
	}
	if (frame[4] != DQLC__RESP_SERVERS)
		return NULL;
	dqlc__node_t *nodes = NULL;
	size_t n = 0;
	uint64_t format = pr->cluster_format ? 1 : 0;
	if (dqlc__dec_servers(body, blen, format, &nodes, &n, &e) != 0) {
		format = !format;
		if (dqlc__dec_servers(body, blen, format, &nodes, &n, &e) != 0)
			return NULL;
	}
	size_t words = 1;
	bool any = false;
	for (size_t k = 0; k < n; k++) {
		const char *to = mapped(fp, nodes[k].address);
		any = any || to != NULL;
		words += 1 + text_words(strlen(to ? to : nodes[k].address)) + (format ? 1 : 0);
	}
	uint8_t *f = any ? calloc(1, 8 + words * 8) : NULL;
	if (f == NULL) {
		free(nodes);
		return NULL;
	}
	put32(f, (uint32_t)words);
	f[4] = DQLC__RESP_SERVERS;
	uint8_t *p = f + 8;
	put64(p, n);
	p += 8;
	for (size_t k = 0; k < n; k++) {
		const char *to = mapped(fp, nodes[k].address);
		const char *a = to ? to : nodes[k].address;
		put64(p, nodes[k].id);
		p += 8;
		put_text(p, a);
		p += text_words(strlen(a)) * 8;
		if (format) {
			put64(p, nodes[k].role);
			p += 8;
		}
	}
	free(nodes);
	*out_len = 8 + words * 8;
	return f;
}

/* A part of the frame (at least 1 byte, at most all but 1), then close. */
static void cut_frame(fp_t *fp, struct pair *pr, int dir, const uint8_t *frame, size_t len,
		      int how)
{
	size_t keep = len > 1 ? 1 + (size_t)(rnd(fp) % (len - 1)) : 0;
	enqueue(fp, pr, dir, frame, keep);
	pr->h[dir].cut = how;
}

/* A whole frame arrived in direction dir: apply faults, queue it. */
static void on_frame(fp_t *fp, struct pair *pr, int dir, const uint8_t *frame, size_t len)
{
	struct proxy *px = &fp->proxies[pr->proxy];
	uint8_t type = frame[4];
	if (dir == DIR_UP) {
		if (type == DQLC__REQ_CONNECT) {
			/* Raft's own connection: relay raw from now on (what the
			 * other direction had buffered goes first). */
			struct half *d = &pr->h[DIR_DOWN];
			if (!d->raw && d->flen > 0)
				enqueue(fp, pr, DIR_DOWN, d->fbuf, d->flen);
			d->flen = 0;
			d->raw = pr->h[DIR_UP].raw = true;
		} else if (type == DQLC__REQ_CLUSTER && len >= 16) {
			pr->cluster_format = get64(frame + 8);
		}
		if (px->blackhole[dir]) {
			fp->st.blackholed += len;
			return;
		}
		if (px->arm == FP_ARM_RESET_MID_REQUEST) {
			px->arm = FP_ARM_NONE;
			fp->st.fired[FP_ARM_RESET_MID_REQUEST]++;
			cut_frame(fp, pr, dir, frame, len, CLOSE_RST);
			return;
		}
		enqueue(fp, pr, dir, frame, len);
		return;
	}
	size_t nlen = 0;
	uint8_t *nf = NULL;
	if (type == DQLC__RESP_SERVER || type == DQLC__RESP_SERVERS) {
		nf = rewrite(fp, pr, frame, len, &nlen);
		if (nf != NULL) {
			fp->st.rewritten++;
			frame = nf;
			len = nlen;
		}
	}
	if (px->blackhole[dir]) {
		fp->st.blackholed += len;
		free(nf);
		return;
	}
	fp_arm_t arm = px->arm;
	if (arm == FP_ARM_RESET_MID_REPLY || arm == FP_ARM_TRUNCATE_REPLY) {
		px->arm = FP_ARM_NONE;
		fp->st.fired[arm]++;
		cut_frame(fp, pr, dir, frame, len,
			  arm == FP_ARM_RESET_MID_REPLY ? CLOSE_RST : CLOSE_FIN);
		free(nf);
		return;
	}
	if (arm == FP_ARM_CORRUPT_TYPE || arm == FP_ARM_CORRUPT_LEN_HUGE ||
	    arm == FP_ARM_CORRUPT_LEN_LONG || arm == FP_ARM_CORRUPT_MARKER) {
		uint8_t *c = malloc(len);
		if (c != NULL) {
			px->arm = FP_ARM_NONE;
			fp->st.fired[arm]++;
			memcpy(c, frame, len);
			if (arm == FP_ARM_CORRUPT_MARKER && type == DQLC__RESP_ROWS && len >= 24)
				memset(c + len - 8, 0, 8);
			else if (arm == FP_ARM_CORRUPT_LEN_HUGE)
				put32(c, 0x7fffffffu);
			else if (arm == FP_ARM_CORRUPT_LEN_LONG)
				put32(c, get32(c) + 1 + (uint32_t)(rnd(fp) % 4));
			else
				c[4] = (uint8_t)(200 + rnd(fp) % 50); /* no reply type >= 11 */
			enqueue(fp, pr, dir, c, len);
			free(c);
			free(nf);
			return;
		}
	}
	enqueue(fp, pr, dir, frame, len);
	free(nf);
}

/* Bytes read from the source of direction dir. */
static void on_bytes(fp_t *fp, struct pair *pr, int dir, const uint8_t *p, size_t n)
{
	struct half *h = &pr->h[dir];
	struct proxy *px = &fp->proxies[pr->proxy];
	while (n > 0 && h->cut == CLOSE_NONE) {
		if (h->raw) {
			if (px->blackhole[dir])
				fp->st.blackholed += n;
			else
				enqueue(fp, pr, dir, p, n);
			return;
		}
		if (h->pre > 0) {
			size_t k = n < h->pre ? n : h->pre;
			enqueue(fp, pr, dir, p, k);
			h->pre -= k;
			p += k;
			n -= k;
			continue;
		}
		if (h->flen + n > h->fcap) {
			size_t cap = h->fcap ? h->fcap : 4096;
			while (cap < h->flen + n)
				cap *= 2;
			uint8_t *b = realloc(h->fbuf, cap);
			if (b == NULL) {
				pair_close(fp, pr, CLOSE_RST);
				return;
			}
			h->fbuf = b;
			h->fcap = cap;
		}
		memcpy(h->fbuf + h->flen, p, n);
		h->flen += n;
		n = 0;
		size_t off = 0;
		while (h->flen - off >= 8 && h->cut == CLOSE_NONE && !h->raw) {
			uint64_t body = (uint64_t)get32(h->fbuf + off) * 8;
			if (body > MAX_FRAME_BODY) {
				h->raw = true; /* not dqlite as we know it: relay as is */
				break;
			}
			if (h->flen - off < 8 + body)
				break;
			on_frame(fp, pr, dir, h->fbuf + off, 8 + (size_t)body);
			if (pr->dead)
				return;
			off += 8 + (size_t)body;
		}
		if (h->raw && h->cut == CLOSE_NONE && h->flen > off) {
			/* CONNECT seen (or a giant frame): the rest goes raw. */
			enqueue(fp, pr, dir, h->fbuf + off, h->flen - off);
			off = h->flen;
		}
		if (h->cut != CLOSE_NONE)
			off = h->flen; /* the rest is never sent */
		memmove(h->fbuf, h->fbuf + off, h->flen - off);
		h->flen -= off;
	}
}

/* ---- the loop ------------------------------------------------------------- */

static void on_accept(fp_t *fp, int i)
{
	struct proxy *px = &fp->proxies[i];
	for (int k = 0; k < 16; k++) {
		int cfd = accept(px->lfd, NULL, NULL);
		if (cfd < 0)
			return;
		fp->st.accepted++;
		if (px->refuse) {
			fp->st.refused++;
			close_rst(cfd);
			continue;
		}
		set_nonblock(cfd);
		fcntl(cfd, F_SETFD, FD_CLOEXEC);
		int one = 1;
		setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
		int sfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (sfd < 0) {
			close_rst(cfd);
			continue;
		}
		setsockopt(sfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
		int rv = connect(sfd, (struct sockaddr *)&px->up_sa, sizeof px->up_sa);
		if (rv != 0 && errno != EINPROGRESS) {
			fp->st.upstream_fail++;
			close(sfd);
			close_rst(cfd);
			continue;
		}
		struct pair *pr = calloc(1, sizeof *pr);
		if (pr == NULL) {
			close(sfd);
			close_rst(cfd);
			continue;
		}
		pr->proxy = i;
		pr->cfd = cfd;
		pr->sfd = sfd;
		pr->connecting = rv != 0;
		pr->h[DIR_UP].pre = 8; /* the protocol version word */
		pr->next = fp->pairs;
		fp->pairs = pr;
		fp->st.open++;
	}
}

/* Read what is there from the source of direction dir. */
static void do_read(fp_t *fp, struct pair *pr, int dir)
{
	int fd = dir == DIR_UP ? pr->cfd : pr->sfd;
	ssize_t got = recv(fd, fp->rbuf, READ_CHUNK, 0);
	if (got > 0) {
		on_bytes(fp, pr, dir, fp->rbuf, (size_t)got);
		return;
	}
	if (got == 0) {
		pr->h[dir].src_eof = true;
		return;
	}
	if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
		return;
	pair_close(fp, pr, CLOSE_RST); /* a reset travels on as a reset */
}

/* Send the due chunks of direction dir. */
static void do_write(fp_t *fp, struct pair *pr, int dir, int64_t now)
{
	struct half *h = &pr->h[dir];
	int fd = dir == DIR_UP ? pr->sfd : pr->cfd;
	while (h->head != NULL && h->head->due <= now) {
		struct chunk *c = h->head;
		ssize_t put = send(fd, c->data + c->off, c->len - c->off, MSG_NOSIGNAL);
		if (put < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
				return;
			pair_close(fp, pr, CLOSE_RST);
			return;
		}
		if (dir == DIR_UP)
			fp->st.bytes_up += (uint64_t)put;
		else
			fp->st.bytes_down += (uint64_t)put;
		c->off += (size_t)put;
		h->queued -= (size_t)put;
		if (c->off < c->len)
			return;
		h->head = c->next;
		if (h->head == NULL)
			h->tail = NULL;
		free(c);
	}
}

/* Close the pair when a direction is finished. */
static void maybe_finish(fp_t *fp, struct pair *pr)
{
	for (int d = 0; d < 2 && !pr->dead; d++) {
		struct half *h = &pr->h[d];
		if (h->head != NULL)
			continue;
		if (h->cut != CLOSE_NONE)
			pair_close(fp, pr, h->cut);
		else if (h->src_eof)
			pair_close(fp, pr, CLOSE_FIN);
	}
}

static bool want_read(fp_t *fp, struct pair *pr, int dir)
{
	const struct half *h = &pr->h[dir];
	return !fp->proxies[pr->proxy].stall[dir] && !h->src_eof && h->cut == CLOSE_NONE &&
	       pr->h[0].cut == CLOSE_NONE && pr->h[1].cut == CLOSE_NONE &&
	       h->queued < HIGH_WATER;
}

static bool want_write(fp_t *fp, struct pair *pr, int dir, int64_t now, int64_t *next_due)
{
	const struct half *h = &pr->h[dir];
	if (h->head == NULL || fp->proxies[pr->proxy].stall[dir])
		return false;
	if (h->head->due > now) {
		if (*next_due < 0 || h->head->due < *next_due)
			*next_due = h->head->due;
		return false;
	}
	return true;
}

static void *loop(void *arg)
{
	fp_t *fp = arg;
	struct pollfd *pfd = NULL;
	struct pair **who = NULL;
	size_t cap = 0;
	pthread_mutex_lock(&fp->mu);
	while (!fp->stopping) {
		size_t npairs = 0;
		for (struct pair *pr = fp->pairs; pr; pr = pr->next)
			npairs++;
		size_t need = 1 + (size_t)fp->n + 2 * npairs;
		if (need > cap) {
			size_t ncap = need * 2;
			struct pollfd *np = realloc(pfd, ncap * sizeof *np);
			if (np != NULL)
				pfd = np;
			struct pair **nw = realloc(who, ncap * sizeof *nw);
			if (nw != NULL)
				who = nw;
			if (np == NULL || nw == NULL)
				break;
			cap = ncap;
		}
		int64_t now = now_ns(), next_due = -1;
		size_t k = 0;
		pfd[k].fd = fp->wake[0];
		pfd[k].events = POLLIN;
		who[k++] = NULL;
		for (int i = 0; i < fp->n; i++) {
			pfd[k].fd = fp->proxies[i].lfd;
			pfd[k].events = POLLIN;
			who[k++] = NULL;
		}
		for (struct pair *pr = fp->pairs; pr; pr = pr->next) {
			short ce = 0, se = 0;
			if (pr->connecting) {
				se = POLLOUT;
			} else {
				if (want_read(fp, pr, DIR_UP))
					ce |= POLLIN;
				if (want_read(fp, pr, DIR_DOWN))
					se |= POLLIN;
				if (want_write(fp, pr, DIR_UP, now, &next_due))
					se |= POLLOUT;
			}
			if (want_write(fp, pr, DIR_DOWN, now, &next_due))
				ce |= POLLOUT;
			pfd[k].fd = pr->cfd;
			pfd[k].events = ce;
			who[k++] = pr;
			pfd[k].fd = pr->sfd;
			pfd[k].events = se;
			who[k++] = pr;
		}
		int timeout = -1;
		if (next_due >= 0) {
			int64_t ms = (next_due - now + 999999) / 1000000;
			timeout = ms < 0 ? 0 : ms > 1000 ? 1000 : (int)ms;
		}
		pthread_mutex_unlock(&fp->mu);
		int rv = poll(pfd, k, timeout);
		pthread_mutex_lock(&fp->mu);
		if (rv < 0 && errno != EINTR)
			break;
		if (fp->stopping)
			break;
		if (pfd[0].revents & POLLIN) {
			char buf[64];
			while (read(fp->wake[0], buf, sizeof buf) > 0)
				;
		}
		for (int i = 0; i < fp->n; i++)
			if (pfd[1 + i].revents & POLLIN)
				on_accept(fp, i);
		now = now_ns();
		for (size_t j = 1 + (size_t)fp->n; j < k; j += 2) {
			struct pair *pr = who[j];
			short cr = pfd[j].revents, sr = pfd[j + 1].revents;
			if (pr->dead)
				continue;
			if (pr->connecting) {
				if (sr == 0)
					goto client_side;
				int err = 0;
				socklen_t l = sizeof err;
				getsockopt(pr->sfd, SOL_SOCKET, SO_ERROR, &err, &l);
				if (err != 0) {
					fp->st.upstream_fail++;
					pair_close(fp, pr, CLOSE_RST);
					continue;
				}
				pr->connecting = false;
				sr = 0;
			}
			if (sr & (POLLIN | POLLHUP | POLLERR))
				if (want_read(fp, pr, DIR_DOWN))
					do_read(fp, pr, DIR_DOWN);
			if (!pr->dead && (sr & POLLOUT))
				do_write(fp, pr, DIR_UP, now);
		client_side:
			if (!pr->dead && (cr & (POLLIN | POLLHUP | POLLERR)) &&
			    want_read(fp, pr, DIR_UP))
				do_read(fp, pr, DIR_UP);
			if (!pr->dead && (cr & POLLOUT))
				do_write(fp, pr, DIR_DOWN, now);
			if (!pr->dead && (cr & (POLLERR | POLLNVAL)) && !(cr & POLLIN))
				pair_close(fp, pr, CLOSE_RST);
			if (!pr->dead && !pr->connecting && (sr & (POLLERR | POLLNVAL)) &&
			    !(sr & POLLIN))
				pair_close(fp, pr, CLOSE_RST);
		}
		/* Due chunks whose socket was not polled for writing yet. */
		for (struct pair *pr = fp->pairs; pr; pr = pr->next) {
			if (!pr->dead && !pr->connecting && !fp->proxies[pr->proxy].stall[DIR_UP])
				do_write(fp, pr, DIR_UP, now);
			if (!pr->dead && !fp->proxies[pr->proxy].stall[DIR_DOWN])
				do_write(fp, pr, DIR_DOWN, now);
			if (!pr->dead)
				maybe_finish(fp, pr);
		}
		for (struct pair **pp = &fp->pairs; *pp;) {
			if ((*pp)->dead) {
				struct pair *dead = *pp;
				*pp = dead->next;
				free(dead);
			} else {
				pp = &(*pp)->next;
			}
		}
	}
	/* Stopping: everything goes. */
	while (fp->pairs) {
		struct pair *pr = fp->pairs;
		fp->pairs = pr->next;
		pair_close(fp, pr, CLOSE_RST);
		free(pr);
	}
	pthread_mutex_unlock(&fp->mu);
	free(pfd);
	free(who);
	return NULL;
}

/* ---- API ------------------------------------------------------------------- */

fp_t *fp_new(void)
{
	fp_t *fp = calloc(1, sizeof *fp);
	if (fp == NULL)
		return NULL;
	fp->rbuf = malloc(READ_CHUNK);
	fp->rng = 0x9e3779b97f4a7c15ull ^ (uint64_t)now_ns();
	pthread_mutex_init(&fp->mu, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&fp->idle_cv, &ca);
	pthread_condattr_destroy(&ca);
	if (fp->rbuf == NULL || pipe2(fp->wake, O_NONBLOCK | O_CLOEXEC) != 0) {
		fprintf(stderr, "faultproxy: setup failed: %s\n", strerror(errno));
		free(fp->rbuf);
		free(fp);
		return NULL;
	}
	if (pthread_create(&fp->thread, NULL, loop, fp) != 0) {
		fprintf(stderr, "faultproxy: cannot start the loop thread\n");
		close(fp->wake[0]);
		close(fp->wake[1]);
		free(fp->rbuf);
		free(fp);
		return NULL;
	}
	fp->started = true;
	return fp;
}

void fp_free(fp_t *fp)
{
	if (fp == NULL)
		return;
	pthread_mutex_lock(&fp->mu);
	fp->stopping = true;
	wake(fp);
	pthread_mutex_unlock(&fp->mu);
	if (fp->started)
		pthread_join(fp->thread, NULL);
	for (int i = 0; i < fp->n; i++)
		close(fp->proxies[i].lfd);
	close(fp->wake[0]);
	close(fp->wake[1]);
	pthread_cond_destroy(&fp->idle_cv);
	pthread_mutex_destroy(&fp->mu);
	free(fp->rbuf);
	free(fp);
}

int fp_add(fp_t *fp, const char *upstream, char *listen_addr, size_t len)
{
	struct sockaddr_in up;
	if (fp == NULL || upstream == NULL || strlen(upstream) >= sizeof fp->proxies[0].upstream ||
	    parse_addr(upstream, &up) != 0) {
		fprintf(stderr, "faultproxy: bad upstream address %s\n", upstream ? upstream : "?");
		return -1;
	}
	int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (lfd < 0)
		return -1;
	struct sockaddr_in sa = {.sin_family = AF_INET};
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t sl = sizeof sa;
	if (bind(lfd, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(lfd, 128) != 0 ||
	    getsockname(lfd, (struct sockaddr *)&sa, &sl) != 0) {
		fprintf(stderr, "faultproxy: cannot listen: %s\n", strerror(errno));
		close(lfd);
		return -1;
	}
	pthread_mutex_lock(&fp->mu);
	if (fp->n == MAX_PROXIES) {
		pthread_mutex_unlock(&fp->mu);
		close(lfd);
		return -1;
	}
	int i = fp->n;
	struct proxy *px = &fp->proxies[i];
	memset(px, 0, sizeof *px);
	px->lfd = lfd;
	px->up_sa = up;
	snprintf(px->upstream, sizeof px->upstream, "%s", upstream);
	snprintf(px->listen, sizeof px->listen, "127.0.0.1:%d", ntohs(sa.sin_port));
	fp->n++;
	if (listen_addr != NULL && len > 0)
		snprintf(listen_addr, len, "%s", px->listen);
	wake(fp);
	pthread_mutex_unlock(&fp->mu);
	return i;
}

const char *fp_address(fp_t *fp, int i)
{
	return fp != NULL && i >= 0 && i < fp->n ? fp->proxies[i].listen : NULL;
}

int fp_count(fp_t *fp)
{
	return fp != NULL ? fp->n : 0;
}

/* Apply fn to proxy i (or all for -1) under the lock, then wake the loop. */
#define FOR_PROXIES(fp, i, body)                                          \
	do {                                                              \
		if ((fp) == NULL || (i) < -1 || (i) >= (fp)->n)           \
			return -1;                                        \
		pthread_mutex_lock(&(fp)->mu);                            \
		for (int j_ = 0; j_ < (fp)->n; j_++) {                    \
			if ((i) != -1 && j_ != (i))                       \
				continue;                                 \
			struct proxy *px = &(fp)->proxies[j_];            \
			(void)px;                                         \
			body;                                             \
		}                                                         \
		wake(fp);                                                 \
		pthread_mutex_unlock(&(fp)->mu);                          \
		return 0;                                                 \
	} while (0)

int fp_delay(fp_t *fp, int i, unsigned dir, int ms)
{
	if (dir == 0 || dir > FP_BOTH || ms < 0)
		return -1;
	FOR_PROXIES(fp, i, {
		if (dir & FP_TO_SERVER)
			px->delay_ms[DIR_UP] = ms;
		if (dir & FP_TO_CLIENT)
			px->delay_ms[DIR_DOWN] = ms;
	});
}

int fp_stall(fp_t *fp, int i, unsigned dir, bool on)
{
	if (dir == 0 || dir > FP_BOTH)
		return -1;
	FOR_PROXIES(fp, i, {
		if (dir & FP_TO_SERVER)
			px->stall[DIR_UP] = on;
		if (dir & FP_TO_CLIENT)
			px->stall[DIR_DOWN] = on;
	});
}

int fp_blackhole(fp_t *fp, int i, unsigned dir, bool on)
{
	if (dir == 0 || dir > FP_BOTH)
		return -1;
	FOR_PROXIES(fp, i, {
		if (dir & FP_TO_SERVER)
			px->blackhole[DIR_UP] = on;
		if (dir & FP_TO_CLIENT)
			px->blackhole[DIR_DOWN] = on;
	});
}

int fp_refuse(fp_t *fp, int i, bool on)
{
	FOR_PROXIES(fp, i, { px->refuse = on; });
}

static void close_all(fp_t *fp, int j, int how)
{
	for (struct pair *pr = fp->pairs; pr; pr = pr->next) {
		if (pr->proxy != j || pr->dead)
			continue;
		if (how == CLOSE_RST)
			fp->st.reset++;
		else
			fp->st.dropped++;
		pair_close(fp, pr, how);
	}
}

int fp_drop(fp_t *fp, int i)
{
	FOR_PROXIES(fp, i, { close_all(fp, j_, CLOSE_FIN); });
}

int fp_reset(fp_t *fp, int i)
{
	FOR_PROXIES(fp, i, { close_all(fp, j_, CLOSE_RST); });
}

int fp_arm(fp_t *fp, int i, fp_arm_t what)
{
	if (what < FP_ARM_NONE || what >= FP_ARM__COUNT)
		return -1;
	FOR_PROXIES(fp, i, { px->arm = what; });
}

int fp_clear(fp_t *fp, int i)
{
	FOR_PROXIES(fp, i, {
		memset(px->delay_ms, 0, sizeof px->delay_ms);
		memset(px->stall, 0, sizeof px->stall);
		memset(px->blackhole, 0, sizeof px->blackhole);
		px->refuse = false;
		px->arm = FP_ARM_NONE;
	});
}

int fp_open_connections(fp_t *fp, int i)
{
	if (fp == NULL)
		return 0;
	int n = 0;
	pthread_mutex_lock(&fp->mu);
	for (struct pair *pr = fp->pairs; pr; pr = pr->next)
		if (!pr->dead && (i < 0 || pr->proxy == i))
			n++;
	pthread_mutex_unlock(&fp->mu);
	return n;
}

bool fp_wait_idle(fp_t *fp, int timeout_ms)
{
	struct timespec dl;
	clock_gettime(CLOCK_MONOTONIC, &dl);
	dl.tv_sec += timeout_ms / 1000;
	dl.tv_nsec += (long)(timeout_ms % 1000) * 1000000;
	if (dl.tv_nsec >= 1000000000) {
		dl.tv_sec++;
		dl.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&fp->mu);
	while (fp->st.open > 0)
		if (pthread_cond_timedwait(&fp->idle_cv, &fp->mu, &dl) == ETIMEDOUT)
			break;
	bool idle = fp->st.open == 0;
	pthread_mutex_unlock(&fp->mu);
	return idle;
}

void fp_stats(fp_t *fp, fp_stats_t *out)
{
	pthread_mutex_lock(&fp->mu);
	*out = fp->st;
	pthread_mutex_unlock(&fp->mu);
}

const char *fp_arm_name(fp_arm_t what)
{
	static const char *const names[FP_ARM__COUNT] = {
	    [FP_ARM_NONE] = "none",
	    [FP_ARM_RESET_MID_REPLY] = "reset-mid-reply",
	    [FP_ARM_TRUNCATE_REPLY] = "truncate-reply",
	    [FP_ARM_RESET_MID_REQUEST] = "reset-mid-request",
	    [FP_ARM_CORRUPT_TYPE] = "corrupt-type",
	    [FP_ARM_CORRUPT_LEN_HUGE] = "corrupt-len-huge",
	    [FP_ARM_CORRUPT_LEN_LONG] = "corrupt-len-long",
	    [FP_ARM_CORRUPT_MARKER] = "corrupt-marker",
	};
	return what >= 0 && what < FP_ARM__COUNT ? names[what] : "?";
}
