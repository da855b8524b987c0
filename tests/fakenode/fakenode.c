/* fakenode: a hostile dqlite node (see fakenode.h). */
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

#include "fakenode.h"

#define MAX_REQUEST_BODY (16u << 20)
#define MAX_CONNS 256

/* Request and reply type numbers (PROTOCOL.md §2, §3). */
enum {
	REQ_LEADER = 0, REQ_CLIENT = 1, REQ_OPEN = 3, REQ_PREPARE = 4, REQ_EXEC = 5,
	REQ_QUERY = 6, REQ_FINALIZE = 7, REQ_EXEC_SQL = 8, REQ_QUERY_SQL = 9,
	REQ_INTERRUPT = 10, REQ_DUMP = 15, REQ_CLUSTER = 16, REQ_DESCRIBE = 18,
};
enum {
	RESP_FAILURE = 0, RESP_SERVER = 1, RESP_WELCOME = 2, RESP_SERVERS = 3, RESP_DB = 4,
	RESP_STMT = 5, RESP_RESULT = 6, RESP_ROWS = 7, RESP_EMPTY = 8, RESP_FILES = 9,
	RESP_METADATA = 10,
};
#define MARK_DONE 0xffffffffffffffffull
#define MARK_PART 0xeeeeeeeeeeeeeeeeull

struct fconn {
	struct fconn *next;
	fn_t *fn;
	int fd;
	pthread_t th;
	_Atomic bool done;
	uint32_t stmt_next;
	int stall_max_ms; /* the plan's, when the last reply was picked */
};

struct fn {
	pthread_mutex_t mu;
	pthread_t accept_th;
	int lfd;
	int stop[2]; /* written once at fn_stop; never drained: wakes every poll */
	_Atomic bool stopping;
	char address[32];
	fn_plan_t plan;
	uint64_t rng;
	struct fconn *conns;
	uint64_t counts[FN__COUNT];
	uint64_t accepted;
	int open;
};

/* ---- small helpers -------------------------------------------------------- */

static uint64_t xs(uint64_t *s)
{
	uint64_t x = *s ? *s : 0x2545f4914f6cdd1dull;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	*s = x;
	return x;
}

static uint64_t get64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int k = 7; k >= 0; k--)
		v = v << 8 | p[k];
	return v;
}

static void put32(uint8_t *p, uint32_t v)
{
	for (int k = 0; k < 4; k++)
		p[k] = (uint8_t)(v >> (8 * k));
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void put64(uint8_t *p, uint64_t v)
{
	for (int k = 0; k < 8; k++)
		p[k] = (uint8_t)(v >> (8 * k));
}

static void pause_ms(int ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000};
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* Growable output buffer. */
struct wb {
	uint8_t *p;
	size_t len, cap;
	bool oom;
};

static uint8_t *wb_grow(struct wb *b, size_t n)
{
	if (b->oom)
		return NULL;
	if (b->len + n > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		while (cap < b->len + n)
			cap *= 2;
		uint8_t *q = realloc(b->p, cap);
		if (q == NULL) {
			b->oom = true;
			return NULL;
		}
		b->p = q;
		b->cap = cap;
	}
	uint8_t *at = b->p + b->len;
	memset(at, 0, n);
	b->len += n;
	return at;
}

static void w64(struct wb *b, uint64_t v)
{
	uint8_t *at = wb_grow(b, 8);
	if (at)
		put64(at, v);
}

static void wtext(struct wb *b, const char *s)
{
	size_t n = strlen(s), words = (n + 1 + 7) / 8;
	uint8_t *at = wb_grow(b, words * 8);
	if (at)
		memcpy(at, s, n);
}

/* Start a frame; returns its offset (header filled by frame_end). */
static size_t frame_begin(struct wb *b, uint8_t type)
{
	size_t off = b->len;
	uint8_t *h = wb_grow(b, 8);
	if (h)
		h[4] = type;
	return off;
}

static void frame_end(struct wb *b, size_t off)
{
	if (b->oom)
		return;
	size_t body = b->len - off - 8;
	if (body == 0) { /* never a 0-word body */
		w64(b, 0);
		body = 8;
	}
	put32(b->p + off, (uint32_t)(body / 8));
}

/* ---- replies ---------------------------------------------------------------- */

struct rows_opts {
	int bad_type;     /* a nibble no value has, in the first row */
	bool huge_blob;   /* a blob claiming 2^62 bytes */
	bool cols_change; /* later batches have another column count */
	bool huge_cols;   /* first batch's column count enormous */
	bool no_marker;   /* the last batch without its marker */
	int batches;      /* 0: random 1..3 */
};

static void rows_reply(struct wb *b, uint64_t *r, const struct rows_opts *o)
{
	static const int types[] = {1, 2, 3, 4, 5, 9, 10, 11};
	static const int bad[] = {0, 6, 7, 8, 12, 13, 14, 15};
	int ncols = 1 + (int)(xs(r) % 4);
	int batches = o->batches > 0 ? o->batches : 1 + (int)(xs(r) % 3);
	bool first_row = true;
	for (int bt = 0; bt < batches; bt++) {
		int nc = ncols + (o->cols_change && bt > 0 ? 1 : 0);
		size_t off = frame_begin(b, RESP_ROWS);
		w64(b, o->huge_cols && bt == 0 ? (xs(r) & 1 ? 1ull << 40 : ~0ull) : (uint64_t)nc);
		for (int c = 0; c < nc; c++) {
			char name[16];
			snprintf(name, sizeof name, "col%d", c);
			wtext(b, name);
		}
		int nrows = (int)(xs(r) % 5) + ((o->bad_type || o->huge_blob) && bt == 0 ? 1 : 0);
		for (int row = 0; row < nrows; row++) {
			int t[16];
			for (int c = 0; c < nc; c++)
				t[c] = types[xs(r) % 8];
			if (first_row && o->huge_blob)
				t[0] = 4;
			if (first_row && o->bad_type)
				t[xs(r) % (uint64_t)nc] = bad[xs(r) % 8];
			size_t hw = ((size_t)(nc + 1) / 2 + 7) / 8;
			uint8_t *h = wb_grow(b, hw * 8);
			for (int c = 0; c < nc && h; c++)
				h[c / 2] |= (uint8_t)((t[c] & 0xf) << (c % 2 ? 4 : 0));
			for (int c = 0; c < nc; c++) {
				switch (t[c]) {
				case 3:
				case 10: {
					char s[40];
					if (t[c] == 10)
						snprintf(s, sizeof s, "2024-01-0%d 10:00:00",
							 (int)(xs(r) % 9) + 1);
					else
						snprintf(s, sizeof s, "text-%llu",
							 (unsigned long long)(xs(r) % 100000));
					wtext(b, s);
					break;
				}
				case 4:
					if (first_row && o->huge_blob && c == 0) {
						w64(b, 1ull << 62);
						w64(b, 0);
					} else {
						uint64_t n = xs(r) % 20;
						w64(b, n);
						uint8_t *d = wb_grow(b, (size_t)((n + 7) / 8 * 8));
						for (uint64_t k = 0; k < n && d; k++)
							d[k] = (uint8_t)xs(r);
					}
					break;
				case 2: {
					double f = (double)(xs(r) % 1000) / 7.0;
					uint64_t u;
					memcpy(&u, &f, sizeof u);
					w64(b, u);
					break;
				}
				case 11:
					w64(b, xs(r) & 1);
					break;
				default:
					w64(b, xs(r) % 1000000);
					break;
				}
			}
			first_row = false;
		}
		if (!(o->no_marker && bt == batches - 1))
			w64(b, bt == batches - 1 ? MARK_DONE : MARK_PART);
		frame_end(b, off);
	}
}

static void failure_reply(struct wb *b, uint64_t *r)
{
	static const uint64_t codes[] = {0, 1, 5, 7, 12, 19, 100, 1005, 2067,
					 10250, 10506, 8202, 8458, 0x7fffffff, ~0ull};
	static const char *const msgs[] = {"", "no database opened", "not leader",
					   "database is locked", "disk I/O error",
					   "a very hostile message with some length to it"};
	size_t off = frame_begin(b, RESP_FAILURE);
	w64(b, codes[xs(r) % (sizeof codes / sizeof codes[0])]);
	wtext(b, msgs[xs(r) % (sizeof msgs / sizeof msgs[0])]);
	frame_end(b, off);
}

/* Parameters a statement takes: '?' outside quotes. */
static uint64_t count_params(const char *sql, size_t len)
{
	uint64_t n = 0;
	char q = 0;
	for (size_t k = 0; k < len && sql[k]; k++) {
		char c = sql[k];
		if (q) {
			if (c == q)
				q = 0;
		} else if (c == '\'' || c == '"') {
			q = c;
		} else if (c == '?') {
			n++;
		}
	}
	return n;
}

/* The reply a real node would give (maybe shaped by the rows options). */
static void valid_reply(struct fconn *fc, struct wb *b, uint8_t req, const uint8_t *body,
			size_t blen, uint64_t *r, const struct rows_opts *ro)
{
	size_t off;
	switch (req) {
	case REQ_LEADER:
		off = frame_begin(b, RESP_SERVER);
		w64(b, 1);
		wtext(b, fc->fn->address);
		frame_end(b, off);
		break;
	case REQ_CLIENT:
		off = frame_begin(b, RESP_WELCOME);
		w64(b, 15000);
		frame_end(b, off);
		break;
	case REQ_OPEN:
		off = frame_begin(b, RESP_DB);
		w64(b, 0);
		frame_end(b, off);
		break;
	case REQ_PREPARE: {
		off = frame_begin(b, RESP_STMT);
		uint8_t *w = wb_grow(b, 8);
		if (w)
			put32(w + 4, fc->stmt_next++);
		w64(b, blen > 8 ? count_params((const char *)body + 8, blen - 8) : 0);
		frame_end(b, off);
		break;
	}
	case REQ_EXEC:
	case REQ_EXEC_SQL:
		off = frame_begin(b, RESP_RESULT);
		w64(b, xs(r) % 100000);
		w64(b, xs(r) % 3);
		frame_end(b, off);
		break;
	case REQ_QUERY:
	case REQ_QUERY_SQL:
		rows_reply(b, r, ro);
		break;
	case REQ_CLUSTER: {
		uint64_t format = blen >= 8 ? get64(body) : 0;
		off = frame_begin(b, RESP_SERVERS);
		w64(b, 1);
		w64(b, 1);
		wtext(b, fc->fn->address);
		if (format != 0)
			w64(b, 0);
		frame_end(b, off);
		break;
	}
	case REQ_DESCRIBE:
		off = frame_begin(b, RESP_METADATA);
		w64(b, 0);
		w64(b, 1);
		frame_end(b, off);
		break;
	case REQ_DUMP: {
		off = frame_begin(b, RESP_FILES);
		w64(b, 2);
		wtext(b, "db");
		w64(b, 16);
		w64(b, 0x1122334455667788ull);
		w64(b, 0);
		wtext(b, "db-wal");
		w64(b, 0);
		frame_end(b, off);
		break;
	}
	default: /* FINALIZE, INTERRUPT, ADD, ASSIGN, REMOVE, TRANSFER, WEIGHT... */
		off = frame_begin(b, RESP_EMPTY);
		w64(b, 0);
		frame_end(b, off);
		break;
	}
}

/* ---- I/O ---------------------------------------------------------------------- */

/* Wait until fd is readable or the node stops; false on stop or after
 * max_ms (if > 0). */
static bool wait_readable(struct fconn *fc, int max_ms)
{
	struct pollfd p[2] = {{.fd = fc->fd, .events = POLLIN}, {.fd = fc->fn->stop[0], .events = POLLIN}};
	for (;;) {
		int rv = poll(p, 2, max_ms > 0 ? max_ms : -1);
		if (rv < 0 && errno == EINTR)
			continue;
		if (rv <= 0 || (p[1].revents & POLLIN))
			return false;
		return true;
	}
}

static bool read_full(struct fconn *fc, uint8_t *buf, size_t n)
{
	size_t got = 0;
	while (got < n) {
		if (!wait_readable(fc, 0))
			return false;
		ssize_t k = recv(fc->fd, buf + got, n - got, 0);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return false;
		got += (size_t)k;
	}
	return true;
}

static bool send_all(struct fconn *fc, const uint8_t *p, size_t n)
{
	while (n > 0) {
		ssize_t k = send(fc->fd, p, n, MSG_NOSIGNAL);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return false;
		p += k;
		n -= (size_t)k;
	}
	return true;
}

/* A stall: read and discard until the client goes (or stop / max). */
static void stall(struct fconn *fc)
{
	int max = fc->stall_max_ms;
	uint8_t buf[4096];
	for (;;) {
		if (!wait_readable(fc, max))
			return;
		ssize_t k = recv(fc->fd, buf, sizeof buf, 0);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return;
	}
}

static void rst(int fd)
{
	struct linger l = {.l_onoff = 1, .l_linger = 0};
	setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
}

/* ---- mutation ------------------------------------------------------------------- */

enum { GO_ON, END_CLOSE, END_RST, END_STALL };

/* Offset of the first frame's text field at body offset 8, or 0. */
static size_t text_at(const struct wb *b)
{
	if (b->len < 24)
		return 0;
	uint8_t t = b->p[4];
	return t == RESP_SERVER || t == RESP_FAILURE || t == RESP_ROWS ? 16 : 0;
}

static fn_mut_t pick(fn_t *fn, uint8_t req, uint64_t *r)
{
	fn_plan_t pl = fn->plan;
	bool hs = req == REQ_LEADER || req == REQ_CLIENT || req == REQ_OPEN || req == REQ_CLUSTER;
	if ((pl.spare_handshake && hs) || (int)(xs(r) % 100) >= pl.mutate_pct)
		return FN_VALID;
	if (pl.only >= 0 && pl.only < FN__COUNT)
		return (fn_mut_t)pl.only;
	return (fn_mut_t)(1 + xs(r) % (FN__COUNT - 1));
}

/* Build and send the reply to one request; returns how the connection goes on. */
static int reply(struct fconn *fc, uint8_t req, const uint8_t *body, size_t blen)
{
	fn_t *fn = fc->fn;
	uint64_t r;
	pthread_mutex_lock(&fn->mu);
	r = xs(&fn->rng);
	fn_mut_t m = pick(fn, req, &r);
	fn->counts[m]++;
	fc->stall_max_ms = fn->plan.stall_max_ms;
	pthread_mutex_unlock(&fn->mu);

	bool rows = req == REQ_QUERY || req == REQ_QUERY_SQL;
	struct rows_opts ro = {0};
	if (rows) {
		ro.bad_type = m == FN_ROWS_BAD_TYPE;
		ro.huge_blob = m == FN_HUGE_COUNT;
		ro.cols_change = m == FN_ROWS_COLS_CHANGE;
		ro.huge_cols = m == FN_ROWS_HUGE_COLS;
		ro.no_marker = m == FN_ROWS_NO_MARKER;
		if (m == FN_ROWS_COLS_CHANGE || m == FN_ROWS_PART_STALL || m == FN_ROWS_PART_FAILURE)
			ro.batches = 2 + (int)(xs(&r) % 2);
	} else if (m >= FN_ROWS_NO_MARKER && m <= FN_ROWS_COLS_CHANGE) {
		m = FN_WRONG_TYPE; /* ROWS mutations need a ROWS reply */
	}
	struct wb b = {0};
	valid_reply(fc, &b, req, body, blen, &r, &ro);
	if (b.oom) {
		free(b.p);
		return END_CLOSE;
	}
	int end = GO_ON;
	size_t send_len = b.len;
	switch (m) {
	case FN_VALID:
	case FN_ROWS_NO_MARKER:
	case FN_ROWS_HUGE_COLS:
	case FN_ROWS_BAD_TYPE:
	case FN_ROWS_COLS_CHANGE:
		break;
	case FN_TRUNC_CLOSE:
	case FN_TRUNC_RST:
	case FN_TRUNC_STALL:
		send_len = 1 + (size_t)(xs(&r) % (b.len - 1));
		end = m == FN_TRUNC_CLOSE ? END_CLOSE : m == FN_TRUNC_RST ? END_RST : END_STALL;
		break;
	case FN_STALL:
		send_len = 0;
		end = END_STALL;
		break;
	case FN_RESET:
		send_len = 0;
		end = END_RST;
		break;
	case FN_CLOSE:
		send_len = 0;
		end = END_CLOSE;
		break;
	case FN_LEN_HUGE: {
		static const uint32_t huge[] = {0xffffffffu, 0x7fffffffu, 1u << 24};
		put32(b.p, huge[xs(&r) % 3]);
		break;
	}
	case FN_LEN_ZERO:
		put32(b.p, 0);
		break;
	case FN_LEN_SHORT:
		if (get32(b.p) > 1)
			put32(b.p, get32(b.p) - 1 - (uint32_t)(xs(&r) % (get32(b.p) - 1)));
		else
			put32(b.p, 0);
		break;
	case FN_LEN_LONG:
		put32(b.p, get32(b.p) + 1 + (uint32_t)(xs(&r) % 8));
		break;
	case FN_WRONG_TYPE: {
		uint8_t t = (uint8_t)xs(&r);
		b.p[4] = t == b.p[4] ? (uint8_t)(t + 1) : t;
		break;
	}
	case FN_BAD_PADDING:
	case FN_TEXT_NO_NUL: {
		size_t at = text_at(&b);
		if (at == 0) {
			b.p[4] ^= 0x40; /* no text: a wrong type instead */
			break;
		}
		size_t nul = at;
		while (nul < b.len && b.p[nul] != 0)
			nul++;
		size_t word_end = (nul / 8 + 1) * 8;
		if (m == FN_BAD_PADDING && nul + 1 < word_end && word_end <= b.len)
			b.p[nul + 1 + xs(&r) % (word_end - nul - 1)] = 'X';
		else
			for (size_t k = nul; k < word_end && k < b.len; k++)
				b.p[k] = 'Y';
		break;
	}
	case FN_BITFLIP: {
		int flips = 1 + (int)(xs(&r) % 8);
		for (int k = 0; k < flips; k++) {
			uint64_t bit = xs(&r) % (b.len * 8);
			b.p[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		}
		break;
	}
	case FN_GARBAGE: {
		size_t n = 1 + (size_t)(xs(&r) % 64);
		b.len = 0;
		uint8_t *g = wb_grow(&b, n);
		for (size_t k = 0; k < n && g; k++)
			g[k] = (uint8_t)xs(&r);
		if (g && n >= 8 && (xs(&r) & 1))
			put32(g, (uint32_t)(xs(&r) % 8)); /* plausible small length */
		send_len = b.len;
		end = xs(&r) & 1 ? END_CLOSE : GO_ON;
		break;
	}
	case FN_FAILURE:
		b.len = 0;
		failure_reply(&b, &r);
		send_len = b.len;
		break;
	case FN_EXTRA_FRAME: {
		size_t off = frame_begin(&b, (uint8_t)(xs(&r) % 11));
		w64(&b, xs(&r) % 3);
		frame_end(&b, off);
		send_len = b.len;
		break;
	}
	case FN_DRIBBLE:
		break; /* below */
	case FN_ROWS_PART_STALL:
	case FN_ROWS_PART_FAILURE: {
		size_t first = 8 + (size_t)get32(b.p) * 8; /* the first batch ends PART */
		if (m == FN_ROWS_PART_STALL) {
			send_len = first;
			end = END_STALL;
		} else {
			b.len = first;
			failure_reply(&b, &r);
			send_len = b.len;
		}
		break;
	}
	case FN_HUGE_COUNT:
		if (!rows && (b.p[4] == RESP_SERVERS || b.p[4] == RESP_FILES))
			put64(b.p + 8, 1ull << 62);
		else if (!rows && b.p[4] == RESP_STMT)
			put64(b.p + 16, xs(&r) & 1 ? 1ull << 40 : 1ull << 20); /* parameters */
		else if (!rows)
			put32(b.p, 0x7fffffffu);
		break;
	default:
		break;
	}
	if (b.oom) {
		free(b.p);
		return END_CLOSE;
	}
	bool ok = true;
	if (m == FN_DRIBBLE) {
		size_t pos = 0;
		while (ok && pos < send_len) {
			size_t piece = 1 + (size_t)(xs(&r) % 512);
			if (piece > send_len - pos)
				piece = send_len - pos;
			ok = send_all(fc, b.p + pos, piece);
			pos += piece;
			pause_ms((int)(xs(&r) % 4));
		}
	} else if (send_len > 0) {
		ok = send_all(fc, b.p, send_len);
	}
	free(b.p);
	return ok ? end : END_CLOSE;
}

/* ---- threads ----------------------------------------------------------------------- */

static void *conn_main(void *arg)
{
	struct fconn *fc = arg;
	uint8_t hdr[8];
	int end = GO_ON;
	if (!read_full(fc, hdr, 8) || get64(hdr) != 1) {
		end = END_CLOSE;
	}
	while (end == GO_ON && !fc->fn->stopping) {
		if (!read_full(fc, hdr, 8)) {
			end = END_CLOSE;
			break;
		}
		size_t blen = (size_t)get32(hdr) * 8;
		if (blen > MAX_REQUEST_BODY) {
			end = END_CLOSE;
			break;
		}
		uint8_t *body = malloc(blen + 1);
		if (body == NULL || !read_full(fc, body, blen)) {
			free(body);
			end = END_CLOSE;
			break;
		}
		body[blen] = 0;
		end = reply(fc, hdr[4], body, blen);
		free(body);
	}
	if (end == END_STALL)
		stall(fc);
	if (end == END_RST)
		rst(fc->fd);
	else
		shutdown(fc->fd, SHUT_WR);
	close(fc->fd);
	fc->fd = -1;
	pthread_mutex_lock(&fc->fn->mu);
	fc->fn->open--;
	pthread_mutex_unlock(&fc->fn->mu);
	fc->done = true;
	return NULL;
}

/* Join the threads of finished connections (fn->mu held). */
static void reap(fn_t *fn, bool all)
{
	for (struct fconn **pp = &fn->conns; *pp;) {
		struct fconn *fc = *pp;
		if (!all && !fc->done) {
			pp = &fc->next;
			continue;
		}
		*pp = fc->next;
		pthread_mutex_unlock(&fn->mu);
		pthread_join(fc->th, NULL);
		pthread_mutex_lock(&fn->mu);
		free(fc);
	}
}

static void *accept_main(void *arg)
{
	fn_t *fn = arg;
	struct pollfd p[2] = {{.fd = fn->lfd, .events = POLLIN}, {.fd = fn->stop[0], .events = POLLIN}};
	while (!fn->stopping) {
		int rv = poll(p, 2, -1);
		if (rv < 0 && errno == EINTR)
			continue;
		if (rv < 0 || (p[1].revents & POLLIN))
			break;
		if (!(p[0].revents & POLLIN))
			continue;
		int fd = accept4(fn->lfd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0)
			continue;
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
		struct timeval tv = {.tv_sec = 2};
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
		pthread_mutex_lock(&fn->mu);
		reap(fn, false);
		fn->accepted++;
		struct fconn *fc = fn->open < MAX_CONNS ? calloc(1, sizeof *fc) : NULL;
		if (fc == NULL) {
			pthread_mutex_unlock(&fn->mu);
			close(fd);
			continue;
		}
		fc->fn = fn;
		fc->fd = fd;
		if (pthread_create(&fc->th, NULL, conn_main, fc) != 0) {
			pthread_mutex_unlock(&fn->mu);
			close(fd);
			free(fc);
			continue;
		}
		fn->open++;
		fc->next = fn->conns;
		fn->conns = fc;
		pthread_mutex_unlock(&fn->mu);
	}
	return NULL;
}

/* ---- API ------------------------------------------------------------------------------ */

fn_t *fn_start(void)
{
	fn_t *fn = calloc(1, sizeof *fn);
	if (fn == NULL)
		return NULL;
	pthread_mutex_init(&fn->mu, NULL);
	fn->plan.only = -1;
	fn->plan.seed = 1;
	fn->rng = 1;
	fn->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET};
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t sl = sizeof sa;
	if (fn->lfd < 0 || bind(fn->lfd, (struct sockaddr *)&sa, sizeof sa) != 0 ||
	    listen(fn->lfd, 128) != 0 || getsockname(fn->lfd, (struct sockaddr *)&sa, &sl) != 0 ||
	    pipe2(fn->stop, O_CLOEXEC) != 0) {
		fprintf(stderr, "fakenode: cannot listen: %s\n", strerror(errno));
		if (fn->lfd >= 0)
			close(fn->lfd);
		free(fn);
		return NULL;
	}
	snprintf(fn->address, sizeof fn->address, "127.0.0.1:%d", ntohs(sa.sin_port));
	if (pthread_create(&fn->accept_th, NULL, accept_main, fn) != 0) {
		fprintf(stderr, "fakenode: cannot start a thread\n");
		close(fn->lfd);
		close(fn->stop[0]);
		close(fn->stop[1]);
		free(fn);
		return NULL;
	}
	return fn;
}

const char *fn_address(const fn_t *fn)
{
	return fn->address;
}

void fn_set_plan(fn_t *fn, const fn_plan_t *plan)
{
	pthread_mutex_lock(&fn->mu);
	fn->plan = *plan;
	fn->rng = plan->seed ? plan->seed : 1;
	pthread_mutex_unlock(&fn->mu);
}

void fn_stop(fn_t *fn)
{
	if (fn == NULL)
		return;
	fn->stopping = true;
	char c = 1;
	ssize_t w = write(fn->stop[1], &c, 1);
	(void)w;
	pthread_join(fn->accept_th, NULL);
	pthread_mutex_lock(&fn->mu);
	reap(fn, true);
	pthread_mutex_unlock(&fn->mu);
	close(fn->lfd);
	close(fn->stop[0]);
	close(fn->stop[1]);
	pthread_mutex_destroy(&fn->mu);
	free(fn);
}

uint64_t fn_count(fn_t *fn, fn_mut_t m)
{
	pthread_mutex_lock(&fn->mu);
	uint64_t n = m >= 0 && m < FN__COUNT ? fn->counts[m] : 0;
	pthread_mutex_unlock(&fn->mu);
	return n;
}

uint64_t fn_connections(fn_t *fn)
{
	pthread_mutex_lock(&fn->mu);
	uint64_t n = fn->accepted;
	pthread_mutex_unlock(&fn->mu);
	return n;
}

int fn_open_connections(fn_t *fn)
{
	pthread_mutex_lock(&fn->mu);
	int n = fn->open;
	pthread_mutex_unlock(&fn->mu);
	return n;
}

const char *fn_mut_name(fn_mut_t m)
{
	static const char *const names[FN__COUNT] = {
	    "valid", "trunc-close", "trunc-rst", "trunc-stall", "stall", "reset", "close",
	    "len-huge", "len-zero", "len-short", "len-long", "wrong-type", "bad-padding",
	    "text-no-nul", "bitflip", "garbage", "failure", "extra-frame", "dribble",
	    "rows-no-marker", "rows-huge-cols", "rows-bad-type", "rows-part-stall",
	    "rows-part-failure", "rows-cols-change", "huge-count"};
	return m >= 0 && m < FN__COUNT ? names[m] : "?";
}
