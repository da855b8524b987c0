/*
 * chaos: break a real dqlite cluster on purpose while one pool works on it,
 * then check that nothing acknowledged was lost and nothing failed was
 * applied.  `make chaos` builds it.
 *
 *   chaos [--seed N] [--duration S] [--nodes N] [--slack-ms MS] [--verbose]
 *   chaos --soak [--duration S] [--transfer-every S]
 *
 * Chaos mode.  A cluster of real nodes (tests/harness, dqlc-node processes)
 * sits behind fault-injecting proxies (tests/faultproxy; the client only
 * knows the proxies' addresses, the proxies rewrite the addresses nodes
 * report).  Caller threads run a mixed workload through ONE pool:
 *   - inserters: batches of autocommit INSERTs, each row with a unique uid,
 *     per-request deadlines, some canceled at once;
 *   - transferers: dqlc_pool_transaction() read-modify-write transfers
 *     between accounts, each recording its transfer id in table xfer
 *     inside the transaction (so afterwards one can tell whether a transfer
 *     whose COMMIT had an unknown outcome happened);
 *   - a reader: point reads, and the sum over accounts (must always be the
 *     initial total: every committed state preserves it);
 *   - a scanner: long multi-batch scans through futures (some canceled in
 *     flight) and through a cursor on a leased connection (closed early:
 *     INTERRUPT and drain).
 * Meanwhile the main thread (the nemesis) follows a fault schedule drawn
 * from the seed alone (same seed, same schedule; its hash is printed):
 * proxy delays, stalls, one-way black-holes, refused connections, dropped
 * and reset connections, a reply or request reset or truncated mid-frame,
 * corrupted reply headers; node SIGKILL + restart, SIGSTOP + SIGCONT (of a
 * given node or of the leader), leadership transfers.  At most one node is
 * down or stopped at a time.
 *
 * At the end the cluster is healed (proxies clean, every node running, a
 * leader) and these invariants are checked; any violation exits 1:
 *   - every insert acknowledged is present exactly once, every insert that
 *     failed without DQLC_ERRF_MAYBE_EXECUTED is absent, one whose outcome
 *     is unknown is there at most once, and no row comes from nowhere;
 *   - the same for transfers (by transfer id in xfer), and each account's
 *     balance is 1000 plus what the transfers in xfer moved in and out
 *     (so the total is preserved: no lost or doubled transfer);
 *   - every future completed, every synchronous call returned, no later
 *     than its deadline plus --slack-ms (completion time taken in the
 *     future's callback);
 *   - every sum read during the run was the total; no scan saw a uid twice;
 *   - no node died on its own; after dqlc_pool_close the process has the
 *     threads and file descriptors it had before the pool (sanitizers check
 *     memory: run the ASan build in CI).
 * Exit status: 0 no violation, 1 violations, 2 the test itself could not
 * run (cluster did not start or heal).
 *
 * Soak mode.  A steady workload (no faults, no proxies) with a leadership
 * transfer every --transfer-every seconds; RSS (/proc/self/statm), file
 * descriptors and threads are sampled every 2 s and must not grow: after a
 * warm-up, the last third of the samples is compared with the first third.
 * The same invariants are checked at the end.  (RSS is only meaningful
 * without ASan: its quarantine grows RSS by design.)
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "dqlite-client.h"

#include "cluster.h"
#include "faultproxy.h"
#include "wire/wire.h"

#define NACCT 16
#define INITIAL 1000
#define DB "chaos"
#define REQUEST_TIMEOUT_MS 3000

/* ---- options and small helpers --------------------------------------------------- */

static struct {
	uint64_t seed;
	int duration_s;
	int nodes;
	int slack_ms;
	bool verbose;
	bool soak;
	int transfer_every_s;
	int inserters, transferers;
} opt = {.duration_s = 60, .nodes = 3, .slack_ms = 1000, .transfer_every_s = 10,
	 .inserters = 2, .transferers = 2};

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int64_t t0_ns; /* start of the workload */

static double rel_s(int64_t ns)
{
	return (double)(ns - t0_ns) / 1e9;
}

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "chaos [%7.2fs] ", t0_ns ? rel_s(now_ns()) : 0.0);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

static void sleep_ms(int64_t ms)
{
	if (ms <= 0)
		return;
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000};
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static uint64_t xs(uint64_t *s)
{
	uint64_t x = *s ? *s : 0x853c49e6748fea9bull;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	*s = x;
	return x;
}

static int64_t rnd_range(uint64_t *s, int64_t lo, int64_t hi)
{
	return lo + (int64_t)(xs(s) % (uint64_t)(hi - lo + 1));
}

static int count_dir(const char *path)
{
	DIR *d = opendir(path);
	int n = 0;
	if (d == NULL)
		return -1;
	for (struct dirent *e; (e = readdir(d)) != NULL;)
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

static int count_fds(void)
{
	return count_dir("/proc/self/fd") - 1; /* opendir's own */
}

static int count_threads(void)
{
	return count_dir("/proc/self/task");
}

static long rss_kib(void)
{
	FILE *f = fopen("/proc/self/statm", "r");
	long size = 0, res = 0;
	if (f == NULL)
		return -1;
	if (fscanf(f, "%ld %ld", &size, &res) != 2)
		res = -1;
	fclose(f);
	return res < 0 ? -1 : res * (sysconf(_SC_PAGESIZE) / 1024);
}

/* ---- shared state: violations, statistics --------------------------------------- */

static pthread_mutex_t stats_mu = PTHREAD_MUTEX_INITIALIZER;
static atomic_bool stop_workload;
static atomic_int violations;

enum { K_INSERT, K_TRANSFER, K_READ, K_SUM, K_SCAN, K_CURSOR, K_SETUP, K__COUNT };
static const char *const kind_names[K__COUNT] = {"insert", "transfer", "read", "sum-read",
						 "scan", "cursor", "setup"};
static struct {
	uint64_t ops[K__COUNT], ok[K__COUNT], canceled_asked[K__COUNT];
	uint64_t codes[K__COUNT][DQLC__ERR_MAX];
	uint64_t maybe[K__COUNT];
	int64_t worst_over_ms; /* largest (elapsed - deadline), any call */
	char worst_what[96];
	/* unavailability: longest gap between successful writes */
	int64_t last_write_ok_ns, gap_ns, gap_from_ns;
	uint64_t scan_rows, cursor_rows;
} st = {.worst_over_ms = INT64_MIN};

static void violation(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void violation(const char *fmt, ...)
{
	int n = atomic_fetch_add(&violations, 1);
	if (n >= 50) {
		if (n == 50)
			say("VIOLATION: (more violations not shown)");
		return;
	}
	va_list ap;
	va_start(ap, fmt);
	char buf[512];
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	say("VIOLATION: %s", buf);
}

/* Account one finished call: kind, code, flags, and its time against its
 * deadline. */
static void account(int kind, int rc, uint32_t flags, int64_t start_ns, int64_t end_ns,
		    int64_t deadline_ms, const char *what)
{
	int64_t took_ms = (end_ns - start_ns) / 1000000;
	int64_t over = took_ms - deadline_ms;
	pthread_mutex_lock(&stats_mu);
	st.ops[kind]++;
	if (rc == 0)
		st.ok[kind]++;
	else if (rc > 0 && rc < DQLC__ERR_MAX)
		st.codes[kind][rc]++;
	if (rc != 0 && (flags & DQLC_ERRF_MAYBE_EXECUTED))
		st.maybe[kind]++;
	if (over > st.worst_over_ms) {
		st.worst_over_ms = over;
		snprintf(st.worst_what, sizeof st.worst_what, "%s at %.2fs", what, rel_s(start_ns));
	}
	if (rc == 0 && (kind == K_INSERT || kind == K_TRANSFER)) {
		int64_t from = st.last_write_ok_ns ? st.last_write_ok_ns : t0_ns;
		if (end_ns > from) {
			if (end_ns - from > st.gap_ns) {
				st.gap_ns = end_ns - from;
				st.gap_from_ns = from;
			}
			st.last_write_ok_ns = end_ns;
		}
	}
	pthread_mutex_unlock(&stats_mu);
	if (opt.verbose && over > 100 && over <= opt.slack_ms)
		say("late: %s took %lld ms, deadline %lld ms, started at %.2fs, ended %s", what,
		    (long long)took_ms, (long long)deadline_ms, rel_s(start_ns),
		    rc == 0 ? "ok" : dqlc_errname(rc));
	if (over > opt.slack_ms)
		violation("%s took %lld ms, deadline %lld ms (+%d ms slack), started at %.2fs, "
			  "ended %s",
			  what, (long long)took_ms, (long long)deadline_ms, opt.slack_ms,
			  rel_s(start_ns), rc == 0 ? "ok" : dqlc_errname(rc));
	if (rc < 0 || rc >= DQLC__ERR_MAX)
		violation("%s returned %d, not a DQLC_E* code", what, rc);
}

/* ---- write records ------------------------------------------------------------------ */

/* A write in progress.  Short-lived (on the caller's stack while its future
 * runs: the callback holds a pointer to it); its outcome is then kept as one
 * byte per write (struct worker.out), so that a long run's bookkeeping does
 * not grow the soak's RSS. */
struct wrec {
	uint64_t key; /* insert uid / transfer id: (worker + 1) << 40 | counter */
	int rc;
	uint32_t flags;
	bool canceled; /* cancel was asked */
	int64_t submit_ns, deadline_ms;
	_Atomic int64_t done_ns; /* set by the completion callback */
};

#define KEY_BITS 40
#define OUT_MAYBE 0x80 /* outcome byte: rc (0 = acknowledged) | OUT_MAYBE */

/* ---- the workload ------------------------------------------------------------------- */

static dqlc_pool_t *pool;

struct worker {
	pthread_t th;
	int index;
	int kind; /* K_INSERT, K_TRANSFER, or another kind (no writes) */
	uint64_t rng;
	uint8_t *out; /* outcome byte of write number k */
	size_t n_out, cap_out;
};

/* A new write's key. */
static uint64_t new_key(struct worker *w)
{
	return ((uint64_t)(w->index + 1) << KEY_BITS) | w->n_out;
}

/* Keep the outcome of the write just finished (its key was new_key()). */
static void keep_outcome(struct worker *w, const struct wrec *r)
{
	if (w->n_out == w->cap_out) {
		size_t cap = w->cap_out ? w->cap_out * 2 : 4096;
		uint8_t *b = realloc(w->out, cap);
		if (b == NULL) {
			fprintf(stderr, "chaos: out of memory\n");
			exit(2);
		}
		w->out = b;
		w->cap_out = cap;
	}
	w->out[w->n_out++] = (uint8_t)((r->rc & 0x7f) |
				       (r->rc && (r->flags & DQLC_ERRF_MAYBE_EXECUTED) ? OUT_MAYBE : 0));
}

static void on_done(dqlc_future_t *f, void *arg)
{
	(void)f;
	struct wrec *r = arg;
	atomic_store(&r->done_ns, now_ns());
}

struct pending {
	dqlc_future_t *f;
	struct wrec *rec;          /* writes */
	int64_t submit_ns, deadline_ms;
	_Atomic int64_t done_ns;   /* reads (no record) */
	bool cancel;
};

static void on_done_pending(dqlc_future_t *f, void *arg)
{
	(void)f;
	struct pending *p = arg;
	atomic_store(&p->done_ns, now_ns());
}

/* The completion time a callback recorded (bounded wait: it runs right
 * after completion, on a worker). */
static int64_t completion_of(_Atomic int64_t *at)
{
	int64_t end = now_ns() + 5000000000ll;
	while (atomic_load(at) == 0 && now_ns() < end)
		sleep_ms(1);
	int64_t v = atomic_load(at);
	if (v == 0) {
		violation("a completed future's callback did not run within 5 s");
		v = now_ns();
	}
	return v;
}

static void pad_text(char *buf, size_t len, uint64_t uid)
{
	snprintf(buf, len, "row-%016" PRIx64 "-padding-padding-padding", uid);
}

static void *inserter_main(void *arg)
{
	struct worker *w = arg;
	enum { MAXB = 8 };
	while (!atomic_load(&stop_workload)) {
		struct pending p[MAXB];
		struct wrec recs[MAXB];
		int n = (int)rnd_range(&w->rng, 1, MAXB);
		memset(recs, 0, sizeof recs);
		for (int k = 0; k < n; k++) {
			struct wrec *r = &recs[k];
			char pad[64];
			r->key = new_key(w) + (uint64_t)k;
			r->deadline_ms = opt.soak ? REQUEST_TIMEOUT_MS : rnd_range(&w->rng, 300, 3000);
			pad_text(pad, sizeof pad, r->key);
			dqlc_value_t par[] = {DQLC_INT((int64_t)r->key), DQLC_INT(w->index),
					      DQLC_TEXT(pad)};
			dqlc_req_opts_t o = {sizeof o, r->deadline_ms, 0};
			r->submit_ns = now_ns();
			p[k].f = dqlc_pool_exec_opts(
			    pool, "INSERT INTO ins (uid, worker, pad) VALUES (?, ?, ?)", par, 3, &o);
			if (p[k].f == NULL) {
				fprintf(stderr, "chaos: out of memory\n");
				exit(2);
			}
			p[k].rec = r;
			int rc = dqlc_future_set_callback(p[k].f, on_done, r);
			if (rc != 0)
				violation("set_callback failed: %s", dqlc_errname(rc));
			r->canceled = !opt.soak && xs(&w->rng) % 10 == 0;
		}
		for (int k = 0; k < n; k++)
			if (p[k].rec->canceled)
				dqlc_future_cancel(p[k].f);
		for (int k = 0; k < n; k++) {
			struct wrec *r = p[k].rec;
			dqlc_error_t e = {0};
			int rc = dqlc_future_error(p[k].f, &e);
			dqlc_future_free(p[k].f);
			int64_t done = completion_of(&r->done_ns);
			r->rc = rc;
			r->flags = rc ? e.flags : 0;
			if (rc == DQLC_ECANCELED && !r->canceled)
				violation("insert %#" PRIx64 " canceled without being asked", r->key);
			if (r->canceled) {
				pthread_mutex_lock(&stats_mu);
				st.canceled_asked[K_INSERT]++;
				pthread_mutex_unlock(&stats_mu);
			}
			char what[64];
			snprintf(what, sizeof what, "insert %#" PRIx64, r->key);
			account(K_INSERT, rc, r->flags, r->submit_ns, done, r->deadline_ms, what);
			keep_outcome(w, r);
			if (opt.verbose && rc != 0 && rc != DQLC_ECANCELED)
				say("insert %#" PRIx64 ": %s%s: %s", r->key, dqlc_errname(rc),
				    (r->flags & DQLC_ERRF_MAYBE_EXECUTED) ? " (maybe executed)" : "",
				    e.message);
		}
		if (opt.soak)
			sleep_ms(20); /* a steady rate, not a flood */
	}
	return NULL;
}

struct xfer_arg {
	uint64_t tid;
	int src, dst, amount;
	int runs;
};

static int transfer_fn(dqlc_conn_t *c, void *arg)
{
	struct xfer_arg *a = arg;
	a->runs++;
	dqlc_value_t v1 = DQLC_NULL, v2 = DQLC_NULL;
	dqlc_value_t ps[] = {DQLC_INT(a->src)}, pd[] = {DQLC_INT(a->dst)};
	int rc = dqlc_conn_fetchval(c, "SELECT balance FROM acct WHERE id = ?", ps, 1, &v1, NULL);
	if (rc == 0)
		rc = dqlc_conn_fetchval(c, "SELECT balance FROM acct WHERE id = ?", pd, 1, &v2, NULL);
	if (rc == 0 && (v1.type != DQLC_TYPE_INTEGER || v2.type != DQLC_TYPE_INTEGER)) {
		violation("transfer %#" PRIx64 ": balance read as type %d/%d", a->tid, v1.type,
			  v2.type);
		rc = DQLC_EPROTO;
	}
	if (rc == 0) {
		dqlc_value_t u1[] = {DQLC_INT(v1.v.i - a->amount), DQLC_INT(a->src)};
		rc = dqlc_conn_exec(c, "UPDATE acct SET balance = ? WHERE id = ?", u1, 2, NULL, NULL);
	}
	if (rc == 0) {
		dqlc_value_t u2[] = {DQLC_INT(v2.v.i + a->amount), DQLC_INT(a->dst)};
		rc = dqlc_conn_exec(c, "UPDATE acct SET balance = ? WHERE id = ?", u2, 2, NULL, NULL);
	}
	if (rc == 0) {
		dqlc_value_t x[] = {DQLC_INT((int64_t)a->tid), DQLC_INT(a->src), DQLC_INT(a->dst),
				    DQLC_INT(a->amount)};
		rc = dqlc_conn_exec(c, "INSERT INTO xfer (tid, src, dst, amount) VALUES (?, ?, ?, ?)",
				    x, 4, NULL, NULL);
	}
	dqlc_value_clear(&v1);
	dqlc_value_clear(&v2);
	return rc;
}

static void *transferer_main(void *arg)
{
	struct worker *w = arg;
	while (!atomic_load(&stop_workload)) {
		struct wrec rec = {0}, *r = &rec;
		r->key = new_key(w);
		int src = (int)rnd_range(&w->rng, 0, NACCT - 1);
		int dst = (int)((src + rnd_range(&w->rng, 1, NACCT - 1)) % NACCT);
		int amount = (int)rnd_range(&w->rng, 1, 50);
		r->deadline_ms = REQUEST_TIMEOUT_MS;
		struct xfer_arg a = {r->key, src, dst, amount, 0};
		dqlc_error_t e = {0};
		r->submit_ns = now_ns();
		int rc = dqlc_pool_transaction(pool, transfer_fn, &a, &e);
		int64_t done = now_ns();
		atomic_store(&r->done_ns, done);
		r->rc = rc;
		r->flags = rc ? e.flags : 0;
		char what[64];
		snprintf(what, sizeof what, "transfer %#" PRIx64, r->key);
		account(K_TRANSFER, rc, r->flags, r->submit_ns, done, r->deadline_ms, what);
		keep_outcome(w, r);
		if (opt.verbose && rc != 0)
			say("transfer %#" PRIx64 " (%d runs): %s%s: %s", r->key, a.runs,
			    dqlc_errname(rc),
			    (r->flags & DQLC_ERRF_MAYBE_EXECUTED) ? " (maybe executed)" : "",
			    e.message);
		if (opt.soak)
			sleep_ms(20);
	}
	return NULL;
}

/* Submit a query future with a callback; NULL never (exits on OOM). */
static void submit_query(struct pending *p, const char *sql, const dqlc_value_t *par, size_t n,
			 int64_t timeout_ms)
{
	dqlc_req_opts_t o = {sizeof o, timeout_ms, 0};
	p->deadline_ms = timeout_ms;
	atomic_store(&p->done_ns, 0);
	p->submit_ns = now_ns();
	p->f = dqlc_pool_query_opts(pool, sql, par, n, &o);
	if (p->f == NULL) {
		fprintf(stderr, "chaos: out of memory\n");
		exit(2);
	}
	int rc = dqlc_future_set_callback(p->f, on_done_pending, p);
	if (rc != 0)
		violation("set_callback failed: %s", dqlc_errname(rc));
}

/* Wait for a query future: its code, result (may be NULL), and accounting. */
static int finish_query(struct pending *p, int kind, const char *what, dqlc_result_t **res)
{
	dqlc_error_t e = {0};
	int rc = dqlc_future_error(p->f, &e);
	dqlc_result_t *r = dqlc_future_take_result(p->f);
	dqlc_future_free(p->f);
	p->f = NULL;
	int64_t done = completion_of(&p->done_ns);
	if (rc == DQLC_ECANCELED && !p->cancel)
		violation("%s canceled without being asked", what);
	if (rc == 0 && r == NULL)
		violation("%s succeeded without a result", what);
	account(kind, rc, rc ? e.flags : 0, p->submit_ns, done, p->deadline_ms, what);
	if (res != NULL)
		*res = r;
	else
		dqlc_result_free(r);
	return rc;
}

static void *reader_main(void *arg)
{
	struct worker *w = arg;
	while (!atomic_load(&stop_workload)) {
		struct pending p = {0};
		dqlc_result_t *res = NULL;
		if (xs(&w->rng) & 1) {
			submit_query(&p, "SELECT sum(balance), count(*) FROM acct", NULL, 0,
				     rnd_range(&w->rng, 200, 2000));
			if (finish_query(&p, K_SUM, "sum read", &res) == 0) {
				int64_t sum = dqlc_result_int64(res, 0, 0), n = dqlc_result_int64(res, 0, 1);
				if (sum != (int64_t)NACCT * INITIAL || n != NACCT)
					violation("sum read: %lld over %lld accounts, expected %d over %d",
						  (long long)sum, (long long)n, NACCT * INITIAL, NACCT);
			}
		} else {
			dqlc_value_t par[] = {DQLC_INT(rnd_range(&w->rng, 0, opt.inserters - 1))};
			submit_query(&p, "SELECT count(*), max(seq) FROM ins WHERE worker = ?", par, 1,
				     rnd_range(&w->rng, 200, 2000));
			finish_query(&p, K_READ, "read", &res);
		}
		dqlc_result_free(res);
		if (opt.soak)
			sleep_ms(20);
	}
	return NULL;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* No uid twice in one scan. */
static void check_scan_unique(dqlc_result_t *res, const char *what)
{
	size_t n = dqlc_result_row_count(res);
	uint64_t *u = malloc((n + 1) * sizeof *u);
	if (u == NULL)
		return;
	for (size_t i = 0; i < n; i++)
		u[i] = (uint64_t)dqlc_result_int64(res, i, 0);
	qsort(u, n, sizeof *u, cmp_u64);
	for (size_t i = 1; i < n; i++)
		if (u[i] == u[i - 1]) {
			violation("%s: uid %#" PRIx64 " appears twice", what, u[i]);
			break;
		}
	free(u);
	pthread_mutex_lock(&stats_mu);
	st.scan_rows += n;
	pthread_mutex_unlock(&stats_mu);
}

static void cursor_scan(struct worker *w)
{
	dqlc_conn_t *c = NULL;
	dqlc_error_t e = {0};
	int64_t t = now_ns();
	int rc = dqlc_pool_acquire(pool, 1000, &c, &e);
	/* acquire waits for a connection (1000 ms), which may need a leader
	 * (bounded by connect_timeout_ms) */
	account(K_CURSOR, rc, rc ? e.flags : 0, t, now_ns(), 1000 + 2000, "acquire");
	if (rc != 0)
		return;
	dqlc_cursor_t *cur = NULL;
	t = now_ns();
	rc = dqlc_conn_cursor(c, "SELECT uid, pad FROM ins ORDER BY seq LIMIT 20000", NULL, 0, &cur,
			      &e);
	account(K_CURSOR, rc, rc ? e.flags : 0, t, now_ns(), REQUEST_TIMEOUT_MS, "cursor open");
	if (rc == 0) {
		int64_t want = rnd_range(&w->rng, 0, 3000), got = 0;
		t = now_ns();
		while (got < want && dqlc_cursor_next(cur))
			got++;
		rc = got < want ? dqlc_cursor_error(cur, &e) : 0;
		/* One deadline per call on the connection: the reads of one
		 * batch are one call, but a cursor reads several batches; bound
		 * loosely by calls. */
		account(K_CURSOR, rc, rc ? e.flags : 0, t, now_ns(),
			REQUEST_TIMEOUT_MS * (1 + got / 50), "cursor reads");
		pthread_mutex_lock(&stats_mu);
		st.cursor_rows += (uint64_t)got;
		pthread_mutex_unlock(&stats_mu);
		t = now_ns();
		dqlc_cursor_close(cur); /* INTERRUPT and drain if rows remain */
		account(K_CURSOR, 0, 0, t, now_ns(), REQUEST_TIMEOUT_MS, "cursor close");
	}
	t = now_ns();
	dqlc_conn_close(c); /* back to the pool */
	account(K_CURSOR, 0, 0, t, now_ns(), REQUEST_TIMEOUT_MS, "lease return");
}

static void *scanner_main(void *arg)
{
	struct worker *w = arg;
	while (!atomic_load(&stop_workload)) {
		if (xs(&w->rng) % 3 == 0) {
			cursor_scan(w);
			continue;
		}
		struct pending p = {0};
		dqlc_result_t *res = NULL;
		p.cancel = !opt.soak && xs(&w->rng) % 3 == 0;
		submit_query(&p, "SELECT uid, pad FROM ins ORDER BY seq DESC LIMIT 5000", NULL, 0,
			     REQUEST_TIMEOUT_MS);
		if (p.cancel) {
			sleep_ms(rnd_range(&w->rng, 0, 30)); /* cancel it somewhere in flight */
			dqlc_future_cancel(p.f);
			pthread_mutex_lock(&stats_mu);
			st.canceled_asked[K_SCAN]++;
			pthread_mutex_unlock(&stats_mu);
		}
		if (finish_query(&p, K_SCAN, "scan", &res) == 0)
			check_scan_unique(res, "scan");
		dqlc_result_free(res);
		if (opt.soak)
			sleep_ms(200);
	}
	return NULL;
}

/* ---- setup and verification ----------------------------------------------------------- */

/* Run a write until it succeeds (idempotent SQL only), within `bound_ms`. */
static int exec_until_ok(const char *sql, int bound_ms)
{
	int64_t end = now_ns() + (int64_t)bound_ms * 1000000;
	dqlc_error_t e = {0};
	int rc = -1;
	while (rc != 0 && now_ns() < end) {
		dqlc_future_t *f = dqlc_pool_exec(pool, sql, NULL, 0);
		rc = dqlc_future_error(f, &e);
		dqlc_future_free(f);
		if (rc != 0)
			sleep_ms(50); /* pacing between attempts */
	}
	if (rc != 0)
		say("setup: %s: %s", sql, e.message);
	return rc;
}

static dqlc_result_t *query_until_ok(const char *sql, int bound_ms)
{
	int64_t end = now_ns() + (int64_t)bound_ms * 1000000;
	dqlc_error_t e = {0};
	while (now_ns() < end) {
		dqlc_req_opts_t o = {sizeof o, 20000, 0};
		dqlc_future_t *f = dqlc_pool_query_opts(pool, sql, NULL, 0, &o);
		int rc = dqlc_future_error(f, &e);
		dqlc_result_t *r = dqlc_future_take_result(f);
		dqlc_future_free(f);
		if (rc == 0)
			return r;
		sleep_ms(100);
	}
	say("verify: %s: %s", sql, e.message);
	return NULL;
}

static int setup_schema(void)
{
	char accts[2048];
	size_t len = (size_t)snprintf(accts, sizeof accts,
				      "INSERT OR IGNORE INTO acct (id, balance) VALUES ");
	for (int i = 0; i < NACCT; i++)
		len += (size_t)snprintf(accts + len, sizeof accts - len, "%s(%d, %d)", i ? ", " : "",
					i, INITIAL);
	const char *sqls[] = {
	    "CREATE TABLE IF NOT EXISTS ins (seq INTEGER PRIMARY KEY AUTOINCREMENT, "
	    "uid INTEGER NOT NULL, worker INTEGER NOT NULL, pad TEXT)",
	    "CREATE TABLE IF NOT EXISTS acct (id INTEGER PRIMARY KEY, balance INTEGER NOT NULL)",
	    "CREATE TABLE IF NOT EXISTS xfer (seq INTEGER PRIMARY KEY AUTOINCREMENT, "
	    "tid INTEGER NOT NULL, src INTEGER NOT NULL, dst INTEGER NOT NULL, "
	    "amount INTEGER NOT NULL)",
	    accts,
	};
	for (size_t i = 0; i < sizeof sqls / sizeof sqls[0]; i++)
		if (exec_until_ok(sqls[i], 30000) != 0)
			return -1;
	return 0;
}

struct keycount {
	uint64_t key;
	int count;
};

static int cmp_kc(const void *a, const void *b)
{
	return cmp_u64(&((const struct keycount *)a)->key, &((const struct keycount *)b)->key);
}

/* Keys of column 0 of a result, counted. */
static struct keycount *count_keys(dqlc_result_t *res, size_t *n_out)
{
	size_t n = dqlc_result_row_count(res);
	uint64_t *u = malloc((n + 1) * sizeof *u);
	struct keycount *kc = malloc((n + 1) * sizeof *kc);
	if (u == NULL || kc == NULL) {
		fprintf(stderr, "chaos: out of memory\n");
		exit(2);
	}
	for (size_t i = 0; i < n; i++)
		u[i] = (uint64_t)dqlc_result_int64(res, i, 0);
	qsort(u, n, sizeof *u, cmp_u64);
	size_t m = 0;
	for (size_t i = 0; i < n; i++) {
		if (m > 0 && kc[m - 1].key == u[i]) {
			kc[m - 1].count++;
		} else {
			kc[m].key = u[i];
			kc[m].count = 1;
			m++;
		}
	}
	free(u);
	*n_out = m;
	return kc;
}

static int lookup(const struct keycount *kc, size_t n, uint64_t key)
{
	struct keycount k = {key, 0};
	const struct keycount *hit = bsearch(&k, kc, n, sizeof *kc, cmp_kc);
	return hit ? hit->count : 0;
}

struct outcome_counts {
	uint64_t ok, failed_clean, maybe, maybe_applied;
};

/* Check the recorded writes of one kind against the keys found. */
static void check_writes(struct worker *ws, int nw, int kind, struct keycount *kc, size_t nkc,
			 struct outcome_counts *oc)
{
	const char *name = kind_names[kind];
	size_t known = 0;
	for (int t = 0; t < nw; t++) {
		if (ws[t].kind != kind)
			continue;
		for (size_t i = 0; i < ws[t].n_out; i++) {
			uint64_t key = ((uint64_t)(ws[t].index + 1) << KEY_BITS) | i;
			int rc = ws[t].out[i] & 0x7f;
			bool maybe = ws[t].out[i] & OUT_MAYBE;
			int c = lookup(kc, nkc, key);
			if (c > 0)
				known++;
			if (rc == 0) {
				oc->ok++;
				if (c != 1)
					violation("%s %#" PRIx64 " acknowledged, found %d times", name,
						  key, c);
			} else if (maybe) {
				oc->maybe++;
				oc->maybe_applied += c == 1;
				if (c > 1)
					violation("%s %#" PRIx64 " (outcome unknown: %s) found %d times",
						  name, key, dqlc_errname(rc), c);
			} else {
				oc->failed_clean++;
				if (c != 0)
					violation("%s %#" PRIx64 " failed with %s without "
						  "MAYBE_EXECUTED, found %d times",
						  name, key, dqlc_errname(rc), c);
			}
		}
	}
	if (nkc != known)
		violation("%zu %s keys in the database were never written by this run",
			  nkc - known, name);
}

/* The checks at the end; returns false if verification could not run. */
static bool verify(struct worker *ws, int nw)
{
	say("verifying");
	dqlc_result_t *ins = query_until_ok("SELECT uid FROM ins", 60000);
	dqlc_result_t *xf = query_until_ok("SELECT tid, src, dst, amount FROM xfer", 60000);
	dqlc_result_t *ac = query_until_ok("SELECT id, balance FROM acct ORDER BY id", 60000);
	if (ins == NULL || xf == NULL || ac == NULL) {
		dqlc_result_free(ins);
		dqlc_result_free(xf);
		dqlc_result_free(ac);
		return false;
	}
	size_t nins, nxf;
	struct keycount *kins = count_keys(ins, &nins);
	struct keycount *kxf = count_keys(xf, &nxf);
	struct outcome_counts oi = {0}, ox = {0};
	check_writes(ws, nw, K_INSERT, kins, nins, &oi);
	check_writes(ws, nw, K_TRANSFER, kxf, nxf, &ox);

	/* Balances: 1000 + in - out, per the transfers that happened. */
	int64_t expect[NACCT];
	for (int i = 0; i < NACCT; i++)
		expect[i] = INITIAL;
	for (size_t i = 0; i < dqlc_result_row_count(xf); i++) {
		int64_t src = dqlc_result_int64(xf, i, 1), dst = dqlc_result_int64(xf, i, 2);
		int64_t amt = dqlc_result_int64(xf, i, 3);
		if (src < 0 || src >= NACCT || dst < 0 || dst >= NACCT) {
			violation("xfer row with accounts %lld -> %lld", (long long)src, (long long)dst);
			continue;
		}
		expect[src] -= amt;
		expect[dst] += amt;
	}
	int64_t sum = 0;
	if (dqlc_result_row_count(ac) != NACCT)
		violation("%zu accounts, expected %d", dqlc_result_row_count(ac), NACCT);
	for (size_t i = 0; i < dqlc_result_row_count(ac); i++) {
		int64_t id = dqlc_result_int64(ac, i, 0), bal = dqlc_result_int64(ac, i, 1);
		sum += bal;
		if (id >= 0 && id < NACCT && bal != expect[id])
			violation("account %lld: balance %lld, the transfers in xfer make it %lld",
				  (long long)id, (long long)bal, (long long)expect[id]);
	}
	if (sum != (int64_t)NACCT * INITIAL)
		violation("sum of balances %lld, expected %d", (long long)sum, NACCT * INITIAL);
	printf("writes: inserts %" PRIu64 " acknowledged, %" PRIu64 " failed cleanly, %" PRIu64
	       " unknown outcome (%" PRIu64 " applied); %zu rows\n",
	       oi.ok, oi.failed_clean, oi.maybe, oi.maybe_applied, dqlc_result_row_count(ins));
	printf("        transfers %" PRIu64 " acknowledged, %" PRIu64 " failed cleanly, %" PRIu64
	       " unknown outcome (%" PRIu64 " applied); %zu in xfer; total balance %lld\n",
	       ox.ok, ox.failed_clean, ox.maybe, ox.maybe_applied, dqlc_result_row_count(xf),
	       (long long)sum);
	free(kins);
	free(kxf);
	dqlc_result_free(ins);
	dqlc_result_free(xf);
	dqlc_result_free(ac);
	return true;
}

/* ---- the nemesis ------------------------------------------------------------------------ */

enum {
	F_DELAY, F_STALL, F_BLACKHOLE, F_REFUSE, F_DROP, F_RESET, F_ARM,
	F_KILL, F_STOP, F_KILL_LEADER, F_STOP_LEADER, F_TRANSFER, F__COUNT
};
static const char *const fault_names[F__COUNT] = {
    "delay", "stall", "blackhole", "refuse", "drop", "reset", "armed",
    "kill", "stop", "kill-leader", "stop-leader", "transfer"};
static const int fault_weight[F__COUNT] = {10, 8, 8, 6, 6, 6, 24, 6, 6, 6, 6, 6};

struct fault {
	int64_t at_ms, dur_ms; /* from the workload start */
	int kind;
	int node;      /* target (index); for *_LEADER resolved when it starts */
	unsigned dir;  /* FP_TO_* */
	int param;     /* delay ms / fp_arm_t */
	/* run time */
	bool started, ended;
	int resolved;  /* the node actually hit */
};

static bool node_fault(int kind)
{
	return kind == F_KILL || kind == F_STOP || kind == F_KILL_LEADER || kind == F_STOP_LEADER;
}

/* The schedule: a function of the seed, the duration and the node count. */
static struct fault *make_schedule(uint64_t seed, int duration_s, int nodes, int *n_out,
				   uint64_t *hash)
{
	uint64_t s = seed ^ 0xda942042e4dd58b5ull;
	int cap = 64, n = 0;
	struct fault *f = malloc((size_t)cap * sizeof *f);
	int total = 0;
	for (int k = 0; k < F__COUNT; k++)
		total += fault_weight[k];
	int64_t t = 1000, end = (int64_t)duration_s * 1000 - 1500, node_free_at = 0;
	uint64_t h = 1469598103934665603ull; /* FNV-1a over the schedule */
	while (f != NULL) {
		t += rnd_range(&s, 300, 2500);
		if (t >= end)
			break;
		int w = (int)(xs(&s) % (uint64_t)total), kind = 0;
		while (w >= fault_weight[kind])
			w -= fault_weight[kind++];
		struct fault x = {.at_ms = t, .kind = kind};
		x.node = (int)(xs(&s) % (uint64_t)nodes);
		x.dur_ms = rnd_range(&s, 300, 4000);
		x.dir = (unsigned)rnd_range(&s, 1, 3);
		x.param = kind == F_DELAY ? (int)rnd_range(&s, 20, 400)
			  : kind == F_ARM ? (int)rnd_range(&s, 1, FP_ARM__COUNT - 1)
					  : 0;
		if (node_fault(kind) || kind == F_TRANSFER) {
			if (t < node_free_at || nodes < 3) {
				x.kind = F_DELAY; /* keep the quorum: one node fault at a time */
				x.param = (int)rnd_range(&s, 20, 400);
			} else {
				node_free_at = t + x.dur_ms + 2000;
			}
		}
		if (x.at_ms + x.dur_ms > end)
			x.dur_ms = end - x.at_ms;
		x.resolved = -1;
		if (n == cap) {
			cap *= 2;
			struct fault *g = realloc(f, (size_t)cap * sizeof *f);
			if (g == NULL) {
				free(f);
				return NULL;
			}
			f = g;
		}
		f[n++] = x;
		int64_t words[6] = {x.at_ms, x.dur_ms, x.kind, x.node, (int64_t)x.dir, x.param};
		for (size_t k = 0; k < sizeof words; k++) {
			h ^= ((uint8_t *)words)[k];
			h *= 1099511628211ull;
		}
	}
	*n_out = n;
	*hash = h;
	return f;
}

static dqlc_test_cluster_t *tc;
static fp_t *fp;
static uint64_t fault_count[F__COUNT];
static uint64_t nemesis_errors;
static bool killed_by_us[16]; /* nodes the nemesis killed and has not restarted */
static int crashes_seen;      /* tc_unexpected_exits() already handled */
static uint64_t crash_restarts;

/* Nodes that died on their own are restarted at once (the schedule assumes
 * the others are up); their logs are judged at the end. */
static void restart_crashed(void)
{
	int n = tc_unexpected_exits(tc);
	if (n == crashes_seen)
		return;
	crashes_seen = n;
	for (int i = 0; i < tc_size(tc) && i < 16; i++) {
		if (tc_node_pid(tc, i) != 0 || killed_by_us[i])
			continue;
		say("node %d died on its own: restarting it", i);
		crash_restarts++;
		if (tc_restart(tc, i) != 0)
			nemesis_errors++;
	}
}

/* Crashes of libdqlite 1.11.1 that no client can avoid (see
 * repro_resume_crash): a node that loses leadership while it still has
 * batches of a query to send resumes the query on a statement it closed.
 * Recognised in the node logs: dqlc-node prints its stack when it dies of a
 * signal, and this crash has gateway__resume in it (QUERY_SQL: after glibc's
 * "gateway__resume: Assertion `g->stmt != NULL' failed"). */
static int known_server_crashes(void)
{
	int known = 0;
	for (int i = 0; i < tc_size(tc); i++) {
		char path[4096], line[1024];
		snprintf(path, sizeof path, "%s/n%llu.log", tc_dir(tc),
			 (unsigned long long)tc_node_id(tc, i));
		FILE *f = fopen(path, "r");
		if (f == NULL)
			continue;
		int in_stack = 0;    /* lines of a stack still to look at */
		bool assert_seen = false; /* the assertion, before its stack */
		while (fgets(line, sizeof line, f) != NULL) {
			if (strstr(line, "gateway__resume: Assertion") != NULL) {
				assert_seen = true;
			} else if (strstr(line, "dqlc-node: fatal signal, stack:") != NULL) {
				known += assert_seen;
				in_stack = assert_seen ? 0 : 64;
				assert_seen = false;
			} else if (in_stack > 0 && strstr(line, "gateway__resume") != NULL) {
				known++;
				in_stack = 0;
			} else if (in_stack > 0) {
				in_stack--;
			}
		}
		known += assert_seen; /* a node without the stack printer */
		fclose(f);
	}
	return known;
}

/* The node the pool takes for the leader (proxy address -> index). */
static int pool_leader_index(int fallback)
{
	char buf[128];
	dqlc_error_t e = {0};
	if (dqlc_pool_leader(pool, buf, sizeof buf, &e) != 0)
		return fallback;
	for (int i = 0; i < tc_size(tc); i++) {
		const char *a = fp != NULL ? fp_address(fp, i) : tc_node_address(tc, i);
		if (a != NULL && strcmp(a, buf) == 0)
			return i;
	}
	return fallback;
}

static void fault_start(struct fault *x)
{
	int i = x->node;
	bool leader = x->kind == F_KILL_LEADER || x->kind == F_STOP_LEADER;
	if (leader)
		i = pool_leader_index(i);
	x->resolved = i;
	fault_count[x->kind]++;
	int rc = 0;
	switch (x->kind) {
	case F_DELAY:
		rc = fp_delay(fp, i, x->dir, x->param);
		break;
	case F_STALL:
		rc = fp_stall(fp, i, x->dir, true);
		break;
	case F_BLACKHOLE:
		rc = fp_blackhole(fp, i, x->dir, true);
		break;
	case F_REFUSE:
		rc = fp_refuse(fp, i, true);
		break;
	case F_DROP:
		rc = fp_drop(fp, i);
		break;
	case F_RESET:
		rc = fp_reset(fp, i);
		break;
	case F_ARM:
		rc = fp_arm(fp, i, (fp_arm_t)x->param);
		break;
	case F_KILL:
	case F_KILL_LEADER:
		rc = tc_node_pid(tc, i) > 0 ? tc_kill(tc, i) : -1;
		if (rc == 0 && i < 16)
			killed_by_us[i] = true;
		break;
	case F_STOP:
	case F_STOP_LEADER:
		rc = tc_node_running(tc, i) ? tc_stop(tc, i) : -1;
		break;
	case F_TRANSFER: {
		dqlc_error_t e = {0};
		rc = dqlc_pool_transfer(pool, 0, &e);
		if (opt.verbose && rc != 0)
			say("transfer: %s", e.message);
		rc = 0; /* refusals under faults are normal */
		break;
	}
	}
	if (rc != 0)
		nemesis_errors++;
	if (opt.verbose)
		say("fault %s on node %d%s dir=%u param=%d for %lld ms%s", fault_names[x->kind], i,
		    leader ? " (leader)" : "", x->dir, x->param, (long long)x->dur_ms,
		    rc ? " (FAILED)" : "");
}

static void fault_end(struct fault *x)
{
	int i = x->resolved, rc = 0;
	switch (x->kind) {
	case F_DELAY:
		rc = fp_delay(fp, i, x->dir, 0);
		break;
	case F_STALL:
		rc = fp_stall(fp, i, x->dir, false);
		break;
	case F_BLACKHOLE:
		rc = fp_blackhole(fp, i, x->dir, false);
		break;
	case F_REFUSE:
		rc = fp_refuse(fp, i, false);
		break;
	case F_ARM:
		rc = fp_arm(fp, i, FP_ARM_NONE);
		break;
	case F_KILL:
	case F_KILL_LEADER:
		if (tc_node_pid(tc, i) == 0)
			rc = tc_restart(tc, i);
		if (i >= 0 && i < 16)
			killed_by_us[i] = false;
		break;
	case F_STOP:
	case F_STOP_LEADER:
		if (tc_node_pid(tc, i) > 0 && !tc_node_running(tc, i))
			rc = tc_cont(tc, i);
		break;
	default:
		break;
	}
	if (rc != 0)
		nemesis_errors++;
	if (opt.verbose)
		say("end %s on node %d%s", fault_names[x->kind], i, rc ? " (FAILED)" : "");
}

/* Follow the schedule until the duration is over. */
static void nemesis(struct fault *f, int n)
{
	int64_t end = t0_ns + (int64_t)opt.duration_s * 1000000000;
	for (;;) {
		int64_t now = now_ns(), next = end;
		for (int k = 0; k < n; k++) {
			struct fault *x = &f[k];
			int64_t at = t0_ns + x->at_ms * 1000000, until = at + x->dur_ms * 1000000;
			if (!x->started && now >= at) {
				x->started = true;
				fault_start(x);
				now = now_ns();
			}
			if (x->started && !x->ended && now >= until) {
				x->ended = true;
				fault_end(x);
				now = now_ns();
			}
			if (!x->started && at < next)
				next = at;
			if (x->started && !x->ended && until < next)
				next = until;
		}
		restart_crashed();
		now = now_ns();
		if (now >= end)
			break;
		int64_t ms = (next - now + 999999) / 1000000;
		sleep_ms(ms < 200 ? ms : 200); /* the schedule's own timing; crash checks */
	}
}

/* Every node running, proxies clean, a leader: 0, or -1. */
static int heal(void)
{
	if (fp != NULL)
		fp_clear(fp, -1);
	memset(killed_by_us, 0, sizeof killed_by_us);
	int rc = 0;
	for (int i = 0; i < tc_size(tc); i++) {
		if (tc_node_pid(tc, i) == 0) {
			if (tc_restart(tc, i) != 0)
				rc = -1;
		} else if (!tc_node_running(tc, i)) {
			if (tc_cont(tc, i) != 0)
				rc = -1;
		}
	}
	if (tc_leader(tc) < 0)
		rc = -1;
	return rc;
}

/* ---- soak sampling ------------------------------------------------------------------------ */

struct sample {
	double t;
	long rss;
	int fds, threads;
};

static int soak(struct sample **out, int *n_out)
{
	int cap = opt.duration_s / 2 + 8, n = 0;
	struct sample *s = calloc((size_t)cap, sizeof *s);
	if (s == NULL)
		return -1;
	int64_t end = t0_ns + (int64_t)opt.duration_s * 1000000000;
	int64_t next_transfer = t0_ns + (int64_t)opt.transfer_every_s * 1000000000;
	int64_t next_sample = t0_ns, next_print = t0_ns;
	uint64_t transfers = 0, transfer_failures = 0;
	while (now_ns() < end) {
		int64_t now = now_ns();
		if (now >= next_transfer) {
			dqlc_error_t e = {0};
			int rc = dqlc_pool_transfer(pool, 0, &e);
			transfers++;
			if (rc != 0) {
				transfer_failures++;
				if (opt.verbose)
					say("transfer: %s", e.message);
			}
			fault_count[F_TRANSFER]++;
			next_transfer += (int64_t)opt.transfer_every_s * 1000000000;
		}
		if (now >= next_sample && n < cap) {
			s[n].t = rel_s(now);
			s[n].rss = rss_kib();
			s[n].fds = count_fds();
			s[n].threads = count_threads();
			n++;
			next_sample += 2000000000;
		}
		if (now >= next_print) {
			say("soak: rss %ld KiB, fds %d, threads %d, transfers %" PRIu64 " (%" PRIu64
			    " refused)",
			    s[n - 1].rss, s[n - 1].fds, s[n - 1].threads, transfers, transfer_failures);
			next_print += 30000000000ll;
		}
		restart_crashed();
		int64_t wake = next_sample < next_transfer ? next_sample : next_transfer;
		if (wake > end)
			wake = end;
		int64_t ms = (wake - now_ns() + 999999) / 1000000;
		sleep_ms(ms < 200 ? ms : 200); /* the sampling period; crash checks */
	}
	*out = s;
	*n_out = n;
	return 0;
}

/* Growth check over samples after warm-up; returns the number of failures. */
static int soak_judge(const struct sample *s, int n)
{
	int warm = n / 5; /* the first fifth is warm-up */
	int m = n - warm;
	if (m < 6) {
		printf("soak: too few samples (%d) to judge growth\n", n);
		return 0;
	}
	const struct sample *a = s + warm;
	int third = m / 3;
	double rss1 = 0, rss3 = 0;
	int fds1 = 0, fds3 = 0, thr1 = 0, thr3 = 0;
	long rss_max = 0;
	int fds_max = 0, thr_max = 0;
	for (int i = 0; i < m; i++) {
		if (a[i].rss > rss_max)
			rss_max = a[i].rss;
		if (a[i].fds > fds_max)
			fds_max = a[i].fds;
		if (a[i].threads > thr_max)
			thr_max = a[i].threads;
	}
	for (int i = 0; i < third; i++) {
		rss1 += (double)a[i].rss / third;
		rss3 += (double)a[m - third + i].rss / third;
		if (a[i].fds > fds1)
			fds1 = a[i].fds;
		if (a[m - third + i].fds > fds3)
			fds3 = a[m - third + i].fds;
		if (a[i].threads > thr1)
			thr1 = a[i].threads;
		if (a[m - third + i].threads > thr3)
			thr3 = a[m - third + i].threads;
	}
	printf("soak: %d samples over %.0f s (first %d = warm-up)\n", n, s[n - 1].t, warm);
	printf("soak: rss KiB    start %ld  end %ld  max %ld  (mean of first/last third after "
	       "warm-up: %.0f / %.0f)\n",
	       s[0].rss, s[n - 1].rss, rss_max, rss1, rss3);
	printf("soak: fds        start %d  end %d  max %d  (max of first/last third: %d / %d)\n",
	       s[0].fds, s[n - 1].fds, fds_max, fds1, fds3);
	printf("soak: threads    start %d  end %d  max %d  (max of first/last third: %d / %d)\n",
	       s[0].threads, s[n - 1].threads, thr_max, thr1, thr3);
	int bad = 0;
	if (rss3 > rss1 * 1.10 + 4096) {
		printf("soak: RSS GREW: %.0f -> %.0f KiB\n", rss1, rss3);
		bad++;
	}
	if (fds3 > fds1 + 2) {
		printf("soak: FDS GREW: %d -> %d\n", fds1, fds3);
		bad++;
	}
	if (thr3 > thr1) {
		printf("soak: THREADS GREW: %d -> %d\n", thr1, thr3);
		bad++;
	}
	return bad;
}

/* ---- a reproduction: libdqlite 1.11.1 crashes when leadership is lost
 * during a multi-batch query --------------------------------------------------------------- */

/* Blocking raw protocol helpers (loopback, bounded by SO_RCVTIMEO). */
static int raw_dial(const char *address)
{
	char host[64];
	const char *colon = strrchr(address, ':');
	if (colon == NULL || (size_t)(colon - address) >= sizeof host)
		return -1;
	memcpy(host, address, (size_t)(colon - address));
	host[colon - address] = '\0';
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(colon + 1))};
	inet_pton(AF_INET, host, &sa.sin_addr);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct timeval tv = {.tv_sec = 5};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	int small = 4096; /* keep the server's batches waiting for us */
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

static int raw_send(int fd, dqlc__wbuf_t *b)
{
	ssize_t n = send(fd, b->data, b->len, MSG_NOSIGNAL);
	int rc = n == (ssize_t)b->len ? 0 : -1;
	dqlc__wbuf_reset(b);
	return rc;
}

/* Read one message; its type, or -1. */
static int raw_recv(int fd, uint8_t **body, size_t *len)
{
	uint8_t h[8];
	size_t got = 0;
	while (got < 8) {
		ssize_t n = recv(fd, h + got, 8 - got, 0);
		if (n <= 0)
			return -1;
		got += (size_t)n;
	}
	size_t blen = (size_t)(h[0] | h[1] << 8 | h[2] << 16 | (uint32_t)h[3] << 24) * 8;
	uint8_t *b = malloc(blen + 1);
	got = 0;
	while (b != NULL && got < blen) {
		ssize_t n = recv(fd, b + got, blen - got, 0);
		if (n <= 0) {
			free(b);
			return -1;
		}
		got += (size_t)n;
	}
	if (b == NULL)
		return -1;
	*body = b;
	*len = blen;
	return h[4];
}

/*
 * A node of libdqlite 1.11.1 that loses leadership while it still has
 * batches of a query to send (the client reads slower than it writes)
 * closes the connection's leader and statements (gateway__leader_close),
 * but leaves the request in progress: the next write completion resumes it
 * (gateway__resume) on a finalized statement (QUERY: use after free,
 * SIGSEGV in sqlite3VdbeDeleteAuxData) or a NULL one (QUERY_SQL: assertion
 * `g->stmt != NULL' fails, SIGABRT).  Fixed upstream for QUERY_SQL in 1.12.0
 * (3a800c74).  The chaos run met it; this reproduces it on purpose.
 */
static int repro_resume_crash(bool prepared)
{
	tc_opts_t to = {0};
	tc = tc_start(3, &to);
	if (tc == NULL)
		return 2;
	int status = 2;
	dqlc_error_t e = {0};
	char uri[512];
	snprintf(uri, sizeof uri, "dqlite://%s/%s", tc_addresses(tc), DB);
	if (dqlc_pool_create(uri, NULL, &pool, &e) != 0)
		goto out;
	/* ~6 MB of rows: far more than the socket buffers hold. */
	if (exec_until_ok("CREATE TABLE IF NOT EXISTS big (n INTEGER, pad TEXT)", 10000) != 0 ||
	    exec_until_ok("WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c "
			  "WHERE x < 60000) INSERT INTO big SELECT x, printf('%080d', x) FROM c",
			  20000) != 0)
		goto out;
	int l = tc_leader(tc);
	if (l < 0)
		goto out;
	int fd = raw_dial(tc_node_address(tc, l));
	if (fd < 0)
		goto out;
	dqlc__wbuf_t b;
	dqlc__wbuf_init(&b);
	uint8_t *body = NULL;
	size_t len;
	int t;
	dqlc__enc_handshake(&b, DQLC__PROTO_VERSION, NULL);
	dqlc__enc_open(&b, DB, 0, "volatile", NULL);
	if (raw_send(fd, &b) != 0 || (t = raw_recv(fd, &body, &len)) != DQLC__RESP_DB)
		goto raw_fail;
	free(body);
	if (prepared) {
		uint32_t db, id;
		uint64_t np, tail;
		dqlc__enc_prepare(&b, 0, "SELECT n, pad FROM big", false, 0, NULL);
		if (raw_send(fd, &b) != 0 || raw_recv(fd, &body, &len) != DQLC__RESP_STMT ||
		    dqlc__dec_stmt(body, len, 0, &db, &id, &np, &tail, NULL) != 0)
			goto raw_fail;
		free(body);
		dqlc__enc_query(&b, 0, id, NULL, 0, 0, NULL);
	} else {
		dqlc__enc_query_sql(&b, 0, "SELECT n, pad FROM big", NULL, 0, 0, NULL);
	}
	if (raw_send(fd, &b) != 0 || raw_recv(fd, &body, &len) != DQLC__RESP_ROWS)
		goto raw_fail;
	free(body);
	printf("repro: %s streaming from the leader (node %d); one batch read; transferring "
	       "leadership\n",
	       prepared ? "QUERY (prepared)" : "QUERY_SQL", l);
	int rc = dqlc_pool_transfer(pool, 0, &e);
	printf("repro: transfer: %s\n", rc == 0 ? "done" : e.message);
	/* Now read on: the node resumes the query. */
	int batches = 1;
	while ((t = raw_recv(fd, &body, &len)) == DQLC__RESP_ROWS) {
		batches++;
		bool last = len >= 8 && body[len - 1] == 0xff;
		free(body);
		if (last)
			break;
	}
	if (t != DQLC__RESP_ROWS && t >= 0)
		free(body);
	printf("repro: read %d batches, then %s\n", batches,
	       t == DQLC__RESP_ROWS ? "DONE" : t < 0 ? "EOF/error" : "another reply");
	int64_t end = now_ns() + 3000000000ll;
	while (tc_unexpected_exits(tc) == 0 && now_ns() < end)
		sleep_ms(50);
	int died = tc_unexpected_exits(tc);
	printf("repro: %d node(s) died: %s; recognised as the known crash: %d\n", died,
	       died ? "libdqlite 1.11.1 crashed (see the log tail above)" : "no crash this time",
	       known_server_crashes());
	status = died ? 1 : 0;
raw_fail:
	if (status == 2)
		printf("repro: raw protocol exchange failed\n");
	dqlc__wbuf_free(&b);
	close(fd);
out:
	if (pool != NULL)
		dqlc_pool_close(pool);
	pool = NULL;
	tc_destroy(tc);
	return status;
}

/* ---- main ------------------------------------------------------------------------------------ */

static void usage(FILE *f)
{
	fprintf(f, "usage: chaos [--seed N] [--duration S] [--nodes N] [--slack-ms MS] "
		   "[--verbose]\n"
		   "       chaos --soak [--duration S] [--transfer-every S] [--verbose]\n"
		   "       chaos --repro-resume-crash query|query_sql\n");
}

static void *noop(void *arg)
{
	return arg;
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
	    {"seed", required_argument, NULL, 's'},   {"duration", required_argument, NULL, 'd'},
	    {"nodes", required_argument, NULL, 'n'},  {"slack-ms", required_argument, NULL, 'l'},
	    {"verbose", no_argument, NULL, 'v'},      {"soak", no_argument, NULL, 'S'},
	    {"transfer-every", required_argument, NULL, 't'},
	    {"repro-resume-crash", required_argument, NULL, 'R'},
	    {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0}};
	bool have_seed = false;
	int c;
	while ((c = getopt_long(argc, argv, "s:d:n:l:vSt:hR:", lo, NULL)) != -1) {
		switch (c) {
		case 'R':
			signal(SIGPIPE, SIG_IGN);
			return repro_resume_crash(strcmp(optarg, "query") == 0);
		case 's':
			opt.seed = strtoull(optarg, NULL, 0);
			have_seed = true;
			break;
		case 'd':
			opt.duration_s = atoi(optarg);
			break;
		case 'n':
			opt.nodes = atoi(optarg);
			break;
		case 'l':
			opt.slack_ms = atoi(optarg);
			break;
		case 'v':
			opt.verbose = true;
			break;
		case 'S':
			opt.soak = true;
			break;
		case 't':
			opt.transfer_every_s = atoi(optarg);
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc || opt.duration_s < 5 || opt.nodes < 1 || opt.nodes > 7 ||
	    opt.slack_ms < 0 || opt.transfer_every_s < 1) {
		usage(stderr);
		return 2;
	}
	if (!have_seed) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		opt.seed = ((uint64_t)ts.tv_sec * 1000003u) ^ (uint64_t)ts.tv_nsec ^
			   ((uint64_t)getpid() << 32);
		opt.seed &= 0xffffffffffffull; /* short enough to type */
	}
	signal(SIGPIPE, SIG_IGN);
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("chaos: %s, seed %" PRIu64 ", duration %d s, %d nodes, slack %d ms\n",
	       opt.soak ? "soak" : "chaos", opt.seed, opt.duration_s, opt.nodes, opt.slack_ms);

	int n_faults = 0;
	uint64_t sched_hash = 0;
	struct fault *sched = NULL;
	if (!opt.soak) {
		sched = make_schedule(opt.seed, opt.duration_s, opt.nodes, &n_faults, &sched_hash);
		if (sched == NULL)
			return 2;
		printf("chaos: %d faults scheduled, schedule hash %016" PRIx64 "\n", n_faults,
		       sched_hash);
	}

	tc_opts_t to = {0};
	tc = tc_start(opt.nodes, &to);
	if (tc == NULL) {
		fprintf(stderr, "chaos: the cluster did not start\n");
		free(sched);
		return 2;
	}
	char uri[1024];
	size_t len = (size_t)snprintf(uri, sizeof uri, "dqlite://");
	if (!opt.soak) {
		fp = fp_new();
		if (fp == NULL) {
			tc_destroy(tc);
			free(sched);
			return 2;
		}
		for (int i = 0; i < opt.nodes; i++) {
			char a[64];
			if (fp_add(fp, tc_node_address(tc, i), a, sizeof a) != i) {
				fp_free(fp);
				tc_destroy(tc);
				free(sched);
				return 2;
			}
			len += (size_t)snprintf(uri + len, sizeof uri - len, "%s%s", i ? "," : "", a);
		}
	} else {
		len += (size_t)snprintf(uri + len, sizeof uri - len, "%s", tc_addresses(tc));
	}
	snprintf(uri + len, sizeof uri - len,
		 "/%s?request_timeout_ms=%d&connect_timeout_ms=2000&dial_timeout_ms=500"
		 "&workers=4&pool_max=8&leader_refresh_ms=2000",
		 DB, REQUEST_TIMEOUT_MS);

	/* Baselines, before the pool exists (a sanitizer's helper thread
	 * starts at the first pthread_create). */
	pthread_t dummy;
	pthread_create(&dummy, NULL, noop, NULL);
	pthread_join(dummy, NULL);
	int fds0 = count_fds(), threads0 = count_threads();

	dqlc_error_t e = {0};
	if (dqlc_pool_create(uri, NULL, &pool, &e) != 0) {
		fprintf(stderr, "chaos: pool: %s\n", e.message);
		fp_free(fp);
		tc_destroy(tc);
		free(sched);
		return 2;
	}
	if (setup_schema() != 0) {
		dqlc_pool_close(pool);
		fp_free(fp);
		tc_destroy(tc);
		free(sched);
		return 2;
	}

	/* Callers. */
	int nw = opt.inserters + opt.transferers + 2;
	struct worker *ws = calloc((size_t)nw, sizeof *ws);
	if (ws == NULL)
		return 2;
	t0_ns = now_ns();
	for (int k = 0; k < nw; k++) {
		ws[k].index = k;
		ws[k].kind = k < opt.inserters ? K_INSERT
			     : k < opt.inserters + opt.transferers ? K_TRANSFER
								    : K_READ;
		ws[k].rng = opt.seed * 0x9e3779b97f4a7c15ull + (uint64_t)k + 1;
		void *(*fn)(void *) = k < opt.inserters ? inserter_main
				     : k < opt.inserters + opt.transferers ? transferer_main
				     : k == nw - 2 ? reader_main
						   : scanner_main;
		if (pthread_create(&ws[k].th, NULL, fn, &ws[k]) != 0) {
			fprintf(stderr, "chaos: cannot start a caller thread\n");
			return 2;
		}
	}

	struct sample *samples = NULL;
	int n_samples = 0;
	if (opt.soak)
		soak(&samples, &n_samples);
	else
		nemesis(sched, n_faults);
	int64_t workload_end = now_ns();
	atomic_store(&stop_workload, true);
	say("stopping the callers");
	for (int k = 0; k < nw; k++)
		pthread_join(ws[k].th, NULL);
	/* Faults that had not ended yet end now, in the heal. */
	say("healing");
	int status = 0;
	if (heal() != 0) {
		fprintf(stderr, "chaos: the cluster did not heal\n");
		tc_print_logs(tc, -1, 20);
		status = 2;
	}
	bool verified = status == 0 && verify(ws, nw);
	if (status == 0 && !verified)
		status = 2;

	pthread_mutex_lock(&stats_mu);
	int64_t tail = workload_end - (st.last_write_ok_ns ? st.last_write_ok_ns : t0_ns);
	if (tail > st.gap_ns) {
		st.gap_ns = tail;
		st.gap_from_ns = st.last_write_ok_ns ? st.last_write_ok_ns : t0_ns;
	}
	pthread_mutex_unlock(&stats_mu);

	dqlc_pool_stats_t ps = {.struct_size = sizeof ps};
	dqlc_pool_stats(pool, &ps, NULL);
	dqlc_pool_close(pool);
	pool = NULL;
	if (fp != NULL && !fp_wait_idle(fp, 10000))
		violation("proxies still see %d connections 10 s after dqlc_pool_close",
			  fp_open_connections(fp, -1));
	int fds1 = count_fds(), threads1 = count_threads();
	if (fds1 != fds0)
		violation("file descriptors: %d before the pool, %d after dqlc_pool_close", fds0, fds1);
	if (threads1 != threads0)
		violation("threads: %d before the pool, %d after dqlc_pool_close", threads0, threads1);
	int died = tc_unexpected_exits(tc), known = died > 0 ? known_server_crashes() : 0;
	if (known > died)
		known = died;
	if (died > known)
		violation("%d node(s) died on their own, %d of them not by the known libdqlite "
			  "1.11.1 crash (logs above)",
			  died, died - known);

	/* ---- summary ---- */
	printf("\n==== chaos summary (seed %" PRIu64 ", %s, %.0f s of workload) ====\n", opt.seed,
	       opt.soak ? "soak" : "chaos", (double)(workload_end - t0_ns) / 1e9);
	printf("operations (ok/total, errors by code):\n");
	for (int k = 0; k < K_SETUP; k++) {
		printf("  %-9s %8" PRIu64 " / %-8" PRIu64, kind_names[k], st.ok[k], st.ops[k]);
		for (int cd = 1; cd < DQLC__ERR_MAX; cd++)
			if (st.codes[k][cd])
				printf(" %s=%" PRIu64, dqlc_errname(cd) + 5, st.codes[k][cd]);
		if (st.maybe[k])
			printf(" (maybe-executed %" PRIu64 ")", st.maybe[k]);
		if (st.canceled_asked[k])
			printf(" (cancel asked %" PRIu64 ")", st.canceled_asked[k]);
		printf("\n");
	}
	printf("rows read: scans %" PRIu64 ", cursors %" PRIu64 "\n", st.scan_rows, st.cursor_rows);
	printf("faults injected:");
	for (int k = 0; k < F__COUNT; k++)
		if (fault_count[k])
			printf(" %s=%" PRIu64, fault_names[k], fault_count[k]);
	printf("\n");
	if (nemesis_errors)
		printf("  (%" PRIu64 " fault actions failed)\n", nemesis_errors);
	if (fp != NULL) {
		fp_stats_t fs;
		fp_stats(fp, &fs);
		printf("proxies: %" PRIu64 " connections, %" PRIu64 " refused, %" PRIu64
		       " upstream failures, %" PRIu64 " dropped, %" PRIu64 " reset, %" PRIu64
		       " addresses rewritten, %" PRIu64 " bytes black-holed\n",
		       fs.accepted, fs.refused, fs.upstream_fail, fs.dropped, fs.reset, fs.rewritten,
		       fs.blackholed);
		printf("armed faults fired:");
		for (int k = 1; k < FP_ARM__COUNT; k++)
			printf(" %s=%" PRIu64, fp_arm_name((fp_arm_t)k), fs.fired[k]);
		printf("\n");
	}
	printf("pool: %" PRIu64 " submitted, %" PRIu64 " retries (%" PRIu64 " busy), %" PRIu64
	       " leader changes, %" PRIu64 " timeouts, %" PRIu64 " canceled, %" PRIu64
	       " connects\n",
	       ps.submitted, ps.retries, ps.busy_retries, ps.leader_changes, ps.timeouts, ps.canceled,
	       ps.connects);
	printf("longest unavailability (no successful write): %.2f s, from %.2fs\n",
	       (double)st.gap_ns / 1e9, rel_s(st.gap_from_ns));
	printf("worst deadline overrun: %+lld ms (%s); slack %d ms\n", (long long)st.worst_over_ms,
	       st.worst_what, opt.slack_ms);
	printf("resources: fds %d -> %d, threads %d -> %d (before the pool / after close)\n", fds0,
	       fds1, threads0, threads1);
	printf("node crashes: %d (%d the known libdqlite 1.11.1 crash when leadership is lost "
	       "during a multi-batch query; %d unexplained)\n",
	       died, known, died - known);
	if (opt.soak && samples != NULL) {
		int bad = soak_judge(samples, n_samples);
		if (bad)
			atomic_fetch_add(&violations, bad);
	}
	int v = atomic_load(&violations);
	printf("violations: %d\n", v);
	if (status == 0 && v > 0)
		status = 1;

	for (int k = 0; k < nw; k++)
		free(ws[k].out);
	free(ws);
	free(samples);
	free(sched);
	fp_free(fp);
	tc_destroy(tc);
	printf("chaos: %s (seed %" PRIu64 ")\n",
	       status == 0 ? "PASS" : status == 1 ? "FAIL" : "ERROR", opt.seed);
	return status;
}
