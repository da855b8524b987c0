/*
 * Pool against a real 3-node cluster: many callers with every result
 * verified, configuration keys, lazy start, stats, the statement cache,
 * close (drain/abort, joins every thread, leaks no fd).
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cfg.h" /* struct dqlc_config: to check where each URI key lands */
#include "test_pool_util.h"

/* ---- 16 callers x 2000 mixed requests, every result verified ------------- */

#define MIX_THREADS 16
#define MIX_OPS 2000
#define MIX_SEEDS 64

struct mixer {
	pthread_t thread;
	dqlc_pool_t *pool;
	int k;
	int inserted;         /* own rows inserted so far */
	int64_t v[MIX_OPS];   /* expected v of own row i (by insert order) */
	int64_t ids[MIX_OPS];
	int64_t vsum;
	int ops;
	char failure[512];    /* first failure, empty if none */
};

#define MIX_FAIL(m, ...)                                                         \
	do {                                                                         \
		if ((m)->failure[0] == '\0')                                             \
			snprintf((m)->failure, sizeof (m)->failure, __VA_ARGS__);            \
		return -1;                                                               \
	} while (0)

/* Run a future to its result; on failure record why. */
static dqlc_result_t *mix_result(struct mixer *m, dqlc_future_t *f, const char *what)
{
	dqlc_error_t e = {0};
	dqlc_result_t *r;
	int rc;
	if (f == NULL) {
		snprintf(m->failure, sizeof m->failure, "%s: NULL future", what);
		return NULL;
	}
	rc = dqlc_future_error(f, &e);
	r = dqlc_future_take_result(f);
	dqlc_future_free(f);
	if (rc != 0 || r == NULL) {
		if (m->failure[0] == '\0')
			snprintf(m->failure, sizeof m->failure, "%s: %s %s", what, dqlc_errname(rc),
				 e.message);
		dqlc_result_free(r);
		return NULL;
	}
	return r;
}

static int mix_check_seed(struct mixer *m, dqlc_result_t *r, int64_t j)
{
	char want[32];
	size_t len = 0;
	snprintf(want, sizeof want, "seed-%lld", (long long)j);
	if (dqlc_result_row_count(r) != 1)
		MIX_FAIL(m, "seed %lld: %zu rows", (long long)j, dqlc_result_row_count(r));
	int lc = dqlc_result_column_index(r, "label"), sc = dqlc_result_column_index(r, "sq");
	if (lc < 0 || sc < 0)
		MIX_FAIL(m, "seed: columns label/sq not found");
	const char *label = dqlc_result_text(r, 0, (size_t)lc, &len);
	if (label == NULL || strcmp(label, want) != 0 || len != strlen(want))
		MIX_FAIL(m, "seed %lld: label '%s'", (long long)j, label ? label : "(null)");
	const dqlc_value_t *sq = dqlc_result_value_by_name(r, 0, "sq");
	if (sq == NULL || sq->type != DQLC_TYPE_INTEGER || sq->v.i != j * j)
		MIX_FAIL(m, "seed %lld: sq wrong", (long long)j);
	return 0;
}

static int mix_one(struct mixer *m, int i)
{
	dqlc_pool_t *p = m->pool;
	dqlc_result_t *r;
	int64_t base = (int64_t)m->k * 10000;
	/* 1/16 inserts, 1/16 updates, the rest reads of five kinds */
	static const char ops[16] = {0, 1, 2, 3, 5, 1, 6, 2, 7, 1, 2, 3, 5, 1, 6, 2};
	switch (ops[i % 16]) {
	case 0: { /* insert a unique row */
		int64_t id = base + i;
		char name[32];
		snprintf(name, sizeof name, "t%d-%d", m->k, i);
		dqlc_value_t par[] = {DQLC_INT(id), DQLC_INT(id * 3 + 1), DQLC_TEXT(name)};
		r = mix_result(m, dqlc_pool_exec(p, "INSERT INTO t (id, v, name) VALUES (?, ?, ?)",
						 par, 3),
			       "insert");
		if (r == NULL)
			return -1;
		int64_t affected = dqlc_result_rows_affected(r), last = dqlc_result_last_insert_id(r);
		dqlc_result_free(r);
		if (affected != 1 || last != id)
			MIX_FAIL(m, "insert %lld: affected %lld last id %lld", (long long)id,
				 (long long)affected, (long long)last);
		m->ids[m->inserted] = id;
		m->v[m->inserted] = id * 3 + 1;
		m->inserted++;
		return 0;
	}
	case 1: { /* read back one of our rows, by column name */
		int which = (i * 7) % m->inserted;
		int64_t id = m->ids[which];
		char name[32];
		snprintf(name, sizeof name, "t%d-%lld", m->k, (long long)(id - base));
		dqlc_value_t par[] = {DQLC_INT(id)};
		r = mix_result(m, dqlc_pool_query(p, "SELECT id, v, name FROM t WHERE id = ?", par, 1),
			       "read back");
		if (r == NULL)
			return -1;
		const dqlc_value_t *vid = dqlc_result_value_by_name(r, 0, "id");
		const dqlc_value_t *vv = dqlc_result_value_by_name(r, 0, "v");
		int nc = dqlc_result_column_index(r, "name");
		const char *got = nc >= 0 ? dqlc_result_text(r, 0, (size_t)nc, NULL) : NULL;
		bool ok = dqlc_result_row_count(r) == 1 && vid && vid->v.i == id && vv &&
			  vv->v.i == m->v[which] && got && strcmp(got, name) == 0;
		dqlc_result_free(r);
		if (!ok)
			MIX_FAIL(m, "read back %lld: wrong row", (long long)id);
		return 0;
	}
	case 2: { /* a seed row */
		int64_t j = (m->k * 7 + i) % MIX_SEEDS + 1;
		dqlc_value_t par[] = {DQLC_INT(j)};
		r = mix_result(m, dqlc_pool_query(p, "SELECT label, sq FROM s WHERE id = ?", par, 1),
			       "seed");
		if (r == NULL)
			return -1;
		int rc = mix_check_seed(m, r, j);
		dqlc_result_free(r);
		return rc;
	}
	case 3: { /* count our own rows */
		dqlc_value_t par[] = {DQLC_INT(base), DQLC_INT(base + 9999)};
		r = mix_result(m, dqlc_pool_query(p, "SELECT count(*) AS n FROM t WHERE id BETWEEN ? AND ?",
						  par, 2),
			       "count");
		if (r == NULL)
			return -1;
		int64_t n = dqlc_result_int64(r, 0, 0);
		dqlc_result_free(r);
		if (n != m->inserted)
			MIX_FAIL(m, "count: %lld rows, expected %d", (long long)n, m->inserted);
		return 0;
	}
	case 5: { /* parameters echoed */
		char text[48];
		snprintf(text, sizeof text, "echo %d/%d \xc3\xa9", m->k, i);
		dqlc_value_t par[] = {DQLC_INT(i), DQLC_TEXT(text), DQLC_FLOAT(i * 0.5)};
		r = mix_result(m, dqlc_pool_query(p, "SELECT ? + 1 AS n, ? AS echo, ? AS half", par, 3),
			       "echo");
		if (r == NULL)
			return -1;
		const dqlc_value_t *n = dqlc_result_value_by_name(r, 0, "n");
		const dqlc_value_t *h = dqlc_result_value_by_name(r, 0, "half");
		const char *echo = dqlc_result_text(r, 0, 1, NULL);
		bool ok = n && n->v.i == i + 1 && h && h->type == DQLC_TYPE_FLOAT &&
			  h->v.f == i * 0.5 && echo && strcmp(echo, text) == 0 &&
			  strcmp(dqlc_result_column_name(r, 1), "echo") == 0;
		dqlc_result_free(r);
		if (!ok)
			MIX_FAIL(m, "echo %d: wrong values", i);
		return 0;
	}
	case 6: { /* several in flight at once, then wait for all */
		dqlc_future_t *f[4];
		int64_t j[4];
		for (int q = 0; q < 4; q++) {
			j[q] = (i + q * 13 + m->k) % MIX_SEEDS + 1;
			dqlc_value_t par[] = {DQLC_INT(j[q])};
			f[q] = dqlc_pool_query(p, "SELECT label, sq FROM s WHERE id = ?", par, 1);
		}
		int rc = 0;
		for (int q = 3; q >= 0; q--) { /* out of order on purpose */
			r = mix_result(m, f[q], "batch");
			if (r == NULL)
				rc = -1;
			else if (rc == 0)
				rc = mix_check_seed(m, r, j[q]);
			dqlc_result_free(r);
		}
		return rc;
	}
	case 7: { /* update one of our rows */
		int which = (i * 5) % m->inserted;
		dqlc_value_t par[] = {DQLC_INT(m->ids[which])};
		r = mix_result(m, dqlc_pool_exec(p, "UPDATE t SET v = v + 1 WHERE id = ?", par, 1),
			       "update");
		if (r == NULL)
			return -1;
		int64_t n = dqlc_result_rows_affected(r);
		dqlc_result_free(r);
		if (n != 1)
			MIX_FAIL(m, "update: %lld rows affected", (long long)n);
		m->v[which]++;
		return 0;
	}
	}
	return 0;
}

static void *mixer_main(void *arg)
{
	struct mixer *m = arg;
	for (int i = 0; i < MIX_OPS; i++) {
		if (mix_one(m, i) != 0)
			break;
		m->ops++;
	}
	for (int i = 0; i < m->inserted; i++)
		m->vsum += m->v[i];
	return NULL;
}

START_TEST(test_mixed_16_threads)
{
	dqlc_pool_t *p = tp_pool("mixed", "request_timeout_ms=30000");
	tp_exec_ok(p, "CREATE TABLE t (id INTEGER PRIMARY KEY, v INTEGER NOT NULL, name TEXT NOT NULL)",
		   NULL, 0);
	tp_exec_ok(p, "CREATE TABLE s (id INTEGER PRIMARY KEY, sq INTEGER, label TEXT)", NULL, 0);
	tp_exec_ok(p,
		   "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 64) "
		   "INSERT INTO s SELECT x, x * x, 'seed-' || x FROM c",
		   NULL, 0);
	ck_assert_int_eq(tp_query_int(p, "SELECT count(*) FROM s", NULL, 0), MIX_SEEDS);

	struct mixer *m = calloc(MIX_THREADS, sizeof *m);
	ck_assert_ptr_nonnull(m);
	for (int k = 0; k < MIX_THREADS; k++) {
		m[k].pool = p;
		m[k].k = k;
		ck_assert_int_eq(pthread_create(&m[k].thread, NULL, mixer_main, &m[k]), 0);
	}
	int64_t total = 0, vsum = 0;
	for (int k = 0; k < MIX_THREADS; k++) {
		pthread_join(m[k].thread, NULL);
		ck_assert_msg(m[k].failure[0] == '\0', "thread %d after %d ops: %s", k, m[k].ops,
			      m[k].failure);
		ck_assert_int_eq(m[k].ops, MIX_OPS);
		total += m[k].inserted;
		vsum += m[k].vsum;
	}
	ck_assert_int_eq(total, MIX_THREADS * MIX_OPS / 16);
	ck_assert_int_eq(tp_query_int(p, "SELECT count(*) FROM t", NULL, 0), total);
	ck_assert_int_eq(tp_query_int(p, "SELECT count(DISTINCT id) FROM t", NULL, 0), total);
	ck_assert_int_eq(tp_query_int(p, "SELECT sum(v) FROM t", NULL, 0), vsum);

	dqlc_pool_stats_t s = tp_stats(p);
	ck_assert_uint_eq(s.failed, 0);
	ck_assert_uint_eq(s.submitted, s.completed);
	/* setup + per thread: 2000 ops of which 1/8 are batches of 4 */
	ck_assert_uint_ge(s.submitted, (uint64_t)MIX_THREADS * (MIX_OPS + MIX_OPS / 8 * 3));
	fprintf(stderr, "mixed: %llu requests, %lld rows, latency mean %.0f us p99 %.0f us\n",
		(unsigned long long)s.submitted, (long long)total, s.latency_mean_us,
		s.latency_p99_us);
	ck_assert_uint_le(s.conns_open, 8); /* pool_max default */
	free(m);
	dqlc_pool_close(p);
	tp_assert_nodes_alive();
}
END_TEST

/* ---- configuration ------------------------------------------------------- */

struct key_case {
	const char *key, *value;
	size_t off;
	int64_t want;
};

#define KC(k, v, field, w) {k, v, offsetof(struct dqlc_config, field), w}
static const struct key_case pool_keys[] = {
    KC("workers", "3", workers, 3),
    KC("queue_max", "77", queue_max, 77),
    KC("pool_min", "2", pool_min, 2),
    KC("pool_max", "5", pool_max, 5),
    KC("idle_timeout_ms", "1234", idle_timeout_ms, 1234),
    KC("max_lifetime_ms", "5678", max_lifetime_ms, 5678),
    KC("acquire_timeout_ms", "910", acquire_timeout_ms, 910),
    KC("health_check_idle_ms", "11", health_check_idle_ms, 11),
    KC("retry_max", "12", retry_max, 12),
    KC("stmt_cache_size", "13", stmt_cache_size, 13),
    KC("leader_refresh_ms", "1415", leader_refresh_ms, 1415),
    KC("request_timeout_ms", "1617", request_timeout_ms, 1617),
    KC("backoff_base_ms", "3", backoff_base_ms, 3),
    KC("backoff_cap_ms", "30", backoff_cap_ms, 30),
    KC("close", "abort", close_drain, 0),
    KC("fork", "explicit", fork_mode, DQLC__FORK_EXPLICIT),
};
#define N_POOL_KEYS (sizeof pool_keys / sizeof pool_keys[0])

static int64_t field(const dqlc_config_t *cfg, size_t off)
{
	return *(const int64_t *)(const void *)((const char *)cfg + off);
}

START_TEST(test_config_every_pool_key)
{
	char uri[2048];
	size_t len = (size_t)snprintf(uri, sizeof uri, "dqlite://127.0.0.1:9,127.0.0.1:10/cfgdb");
	for (size_t i = 0; i < N_POOL_KEYS; i++)
		len += (size_t)snprintf(uri + len, sizeof uri - len, "%c%s=%s", i ? '&' : '?',
					pool_keys[i].key, pool_keys[i].value);
	ck_assert_uint_lt(len, sizeof uri);

	/* Through a URI: every key lands where it should. */
	dqlc_config_t *cfg = dqlc_config_new();
	dqlc_error_t e = {0};
	ck_assert_ptr_nonnull(cfg);
	ck_assert_msg(dqlc_config_from_uri(cfg, uri, &e) == 0, "%s: %s", uri, e.message);
	for (size_t i = 0; i < N_POOL_KEYS; i++)
		ck_assert_msg(field(cfg, pool_keys[i].off) == pool_keys[i].want, "%s: got %lld",
			      pool_keys[i].key, (long long)field(cfg, pool_keys[i].off));
	dqlc_config_free(cfg);

	/* Through the setter, one key at a time, from the defaults. */
	for (size_t i = 0; i < N_POOL_KEYS; i++) {
		cfg = dqlc_config_new();
		ck_assert_ptr_nonnull(cfg);
		ck_assert_msg(dqlc_config_set(cfg, pool_keys[i].key, pool_keys[i].value, &e) == 0,
			      "%s: %s", pool_keys[i].key, e.message);
		ck_assert_int_eq(field(cfg, pool_keys[i].off), pool_keys[i].want);
		dqlc_config_free(cfg);
	}

	/* A pool takes the whole URI (and, never used, starts nothing). */
	int threads = tp_thread_baseline();
	dqlc_pool_t *p = NULL;
	ck_assert_msg(dqlc_pool_create(uri, NULL, &p, &e) == 0, "%s", e.message);
	dqlc_pool_stats_t s = tp_stats(p);
	ck_assert_uint_eq(s.workers, 0);
	ck_assert_int_eq(tp_count_threads(), threads);
	dqlc_pool_close(p);

	/* A config object and a URI merge, the URI winning. */
	cfg = dqlc_config_new();
	ck_assert_int_eq(dqlc_config_set(cfg, "workers", "7", NULL), 0);
	ck_assert_int_eq(dqlc_config_set(cfg, "queue_max", "9", NULL), 0);
	ck_assert_int_eq(dqlc_config_from_uri(cfg, "dqlite://127.0.0.1:9/x?workers=2", &e), 0);
	ck_assert_int_eq(cfg->workers, 2);
	ck_assert_int_eq(cfg->queue_max, 9);
	dqlc_config_free(cfg);
}
END_TEST

struct bad_case {
	const char *key, *value;
};
static const struct bad_case bad_keys[] = {
    {"workers", "0"},          {"workers", "257"},          {"workers", "two"},
    {"queue_max", "0"},        {"pool_min", "-1"},          {"pool_max", "0"},
    {"pool_max", "1025"},      {"idle_timeout_ms", "-5"},   {"max_lifetime_ms", "1.5"},
    {"acquire_timeout_ms", "99999999999"}, {"health_check_idle_ms", "x"},
    {"retry_max", "1001"},     {"stmt_cache_size", "4097"}, {"leader_refresh_ms", "-1"},
    {"close", "later"},        {"fork", "never"},           {"worker", "2"},
    {"bogus_pool_key", "1"},   {"request_timeout_ms", "-3"},
};

START_TEST(test_config_rejects_bad_keys)
{
	for (size_t i = 0; i < sizeof bad_keys / sizeof bad_keys[0]; i++) {
		const struct bad_case *b = &bad_keys[i];
		char uri[512];
		dqlc_error_t e = {0};
		dqlc_pool_t *p = (dqlc_pool_t *)&e; /* must be reset to NULL */
		snprintf(uri, sizeof uri, "dqlite://127.0.0.1:9/x?workers=2&%s=%s", b->key, b->value);
		int rc = dqlc_pool_create(uri, NULL, &p, &e);
		ck_assert_msg(rc == DQLC_EINVAL, "%s=%s: rc %s", b->key, b->value, dqlc_errname(rc));
		ck_assert_ptr_null(p);
		ck_assert_int_eq(e.code, DQLC_EINVAL);
		ck_assert_msg(strstr(e.message, b->key) != NULL, "%s=%s: message '%s' does not name it",
			      b->key, b->value, e.message);

		dqlc_config_t *cfg = dqlc_config_new();
		memset(&e, 0, sizeof e);
		rc = dqlc_config_set(cfg, b->key, b->value, &e);
		ck_assert_msg(rc == DQLC_EINVAL, "set %s=%s: rc %s", b->key, b->value,
			      dqlc_errname(rc));
		ck_assert_msg(strstr(e.message, b->key) != NULL, "set %s: message '%s'", b->key,
			      e.message);
		dqlc_config_free(cfg);
	}

	/* pool_min > pool_max: each alone is fine, together rejected. */
	dqlc_error_t e = {0};
	dqlc_pool_t *p = NULL;
	int rc = dqlc_pool_create("dqlite://127.0.0.1:9/x?pool_min=5&pool_max=2", NULL, &p, &e);
	ck_assert_int_eq(rc, DQLC_EINVAL);
	ck_assert_ptr_null(p);
	ck_assert_msg(strstr(e.message, "pool_min") != NULL, "%s", e.message);
	dqlc_config_t *cfg = dqlc_config_new();
	ck_assert_int_eq(dqlc_config_set(cfg, "pool_min", "9", NULL), 0); /* default max 8 */
	memset(&e, 0, sizeof e);
	ck_assert_int_eq(dqlc_pool_create("dqlite://127.0.0.1:9/x", cfg, &p, &e), DQLC_EINVAL);
	ck_assert_msg(strstr(e.message, "pool_min") != NULL, "%s", e.message);
	ck_assert_int_eq(dqlc_config_set(cfg, "pool_max", "9", NULL), 0);
	ck_assert_int_eq(dqlc_pool_create("dqlite://127.0.0.1:9/x", cfg, &p, &e), 0);
	dqlc_pool_close(p);
	dqlc_config_free(cfg);
}
END_TEST

/* ---- lazy start, close --------------------------------------------------- */

START_TEST(test_lazy_start)
{
	int threads = tp_thread_baseline(), sockets = tp_count_sockets(), fds = tp_count_fds();
	dqlc_pool_t *p = tp_pool("lazy", "workers=4&pool_min=2");
	ck_assert_int_eq(tp_count_threads(), threads);
	ck_assert_int_eq(tp_count_sockets(), sockets);
	dqlc_pool_stats_t s = tp_stats(p);
	ck_assert_uint_eq(s.workers, 0);
	ck_assert_uint_eq(s.conns_open, 0);
	ck_assert_uint_eq(s.connects, 0);
	ck_assert_uint_eq(s.submitted, 0);
	ck_assert_int_eq(tp_count_threads(), threads);
	ck_assert_int_eq(tp_count_sockets(), sockets);
	dqlc_pool_close(p);
	ck_assert_int_eq(tp_count_threads(), threads);
	ck_assert_int_eq(tp_count_fds(), fds);

	/* First use starts them. */
	p = tp_pool("lazy", "workers=3");
	ck_assert_int_eq(tp_query_int(p, "SELECT 41 + 1", NULL, 0), 42);
	s = tp_stats(p);
	ck_assert_uint_eq(s.workers, 3);
	ck_assert_int_gt(tp_count_threads(), threads);
	ck_assert_int_gt(tp_count_sockets(), sockets);
	dqlc_pool_close(p);
	ck_assert_int_eq(tp_count_threads(), threads);
	ck_assert_int_eq(tp_count_sockets(), sockets);
	ck_assert_int_eq(tp_count_fds(), fds);
}
END_TEST

START_TEST(test_close_joins_and_closes_everything)
{
	int threads = tp_thread_baseline(), fds = tp_count_fds();
	dqlc_pool_t *p = tp_pool("closing", "workers=4&pool_max=4");
	dqlc_future_t *f[40];
	for (int i = 0; i < 40; i++) {
		dqlc_value_t par[] = {DQLC_INT(i)};
		f[i] = dqlc_pool_query(p, "SELECT ? * 2", par, 1);
		ck_assert_ptr_nonnull(f[i]);
	}
	for (int i = 0; i < 40; i++) {
		dqlc_result_t *r = dqlc_future_take_result(f[i]);
		ck_assert_ptr_nonnull(r);
		ck_assert_int_eq(dqlc_result_int64(r, 0, 0), 2 * i);
		dqlc_result_free(r);
		dqlc_future_free(f[i]);
	}
	/* A lease taken and returned, a transaction: more paths to clean up. */
	dqlc_conn_t *c = NULL;
	ck_assert_int_eq(dqlc_pool_acquire(p, 1000, &c, NULL), 0);
	dqlc_conn_close(c);
	dqlc_pool_stats_t s = tp_stats(p);
	ck_assert_uint_eq(s.workers, 4);
	ck_assert_uint_ge(s.conns_open, 1);
	ck_assert_int_ge(tp_count_threads(), threads + 5); /* workers + discovery */
	ck_assert_int_gt(tp_count_fds(), fds);
	dqlc_pool_close(p);
	ck_assert_int_eq(tp_count_threads(), threads);
	ck_assert_int_eq(tp_count_fds(), fds);
	dqlc_pool_close(NULL); /* NULL-safe */
}
END_TEST

/* Closing with a lease out: close returns (threads joined), the lease keeps
 * working, and returning it frees the rest. */
START_TEST(test_close_with_lease_outstanding)
{
	int threads = tp_thread_baseline(), fds = tp_count_fds();
	dqlc_pool_t *p = tp_pool("leaseclose", "workers=2");
	tp_exec_ok(p, "CREATE TABLE t (id INTEGER PRIMARY KEY)", NULL, 0);
	dqlc_conn_t *c = NULL;
	dqlc_error_t e = {0};
	ck_assert_int_eq(dqlc_pool_acquire(p, 5000, &c, &e), 0);
	dqlc_pool_close(p);
	ck_assert_int_eq(tp_count_threads(), threads);
	dqlc_value_t par[] = {DQLC_INT(1)};
	ck_assert_msg(dqlc_conn_exec(c, "INSERT INTO t (id) VALUES (?)", par, 1, NULL, &e) == 0,
		      "a lease of a closed pool: %s", e.message);
	dqlc_value_t v;
	ck_assert_int_eq(dqlc_conn_fetchval(c, "SELECT count(*) FROM t", NULL, 0, &v, &e), 0);
	ck_assert_int_eq(v.v.i, 1);
	dqlc_conn_close(c); /* the last lease: frees the pool */
	ck_assert_int_eq(tp_count_fds(), fds);
	ck_assert_int_eq(tp_count_threads(), threads);
}
END_TEST

/* close=abort interrupts a running scan instead of waiting for it. */
START_TEST(test_close_abort_interrupts_running_scan)
{
	int threads = tp_thread_baseline(), fds = tp_count_fds();
	dqlc_pool_t *p = tp_pool("abortscan", "workers=1&pool_max=1&close=abort&request_timeout_ms=60000");
	tp_exec_ok(p, "CREATE TABLE t (id INTEGER PRIMARY KEY)", NULL, 0);
	dqlc_future_t *scan = dqlc_pool_query(
	    p,
	    "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 2000000) "
	    "SELECT x FROM c",
	    NULL, 0);
	bool ok;
	dqlc_pool_stats_t s;
	TP_POLL(ok, (s = tp_stats(p), s.in_flight == 1), 10000);
	ck_assert(ok);
	dqlc_value_t par[] = {DQLC_INT(1)};
	dqlc_future_t *queued = dqlc_pool_exec(p, "INSERT INTO t (id) VALUES (?)", par, 1);
	TP_POLL(ok, (s = tp_stats(p), s.queued == 1), 10000);
	ck_assert(ok);
	ck_assert(!dqlc_future_ready(scan));
	dqlc_pool_close(p);
	ck_assert(dqlc_future_ready(scan));
	int rc = tp_wait_free(scan, NULL);
	ck_assert_msg(rc == DQLC_ECANCELED || rc == DQLC_ECLOSED, "running scan at abort: %s",
		      dqlc_errname(rc));
	ck_assert_int_eq(tp_wait_free(queued, NULL), DQLC_ECLOSED);
	ck_assert_int_eq(tp_count_threads(), threads);
	ck_assert_int_eq(tp_count_fds(), fds);
	dqlc_pool_t *check = tp_pool("abortscan", "");
	ck_assert_int_eq(tp_query_int(check, "SELECT count(*) FROM t", NULL, 0), 0);
	dqlc_pool_close(check);
}
END_TEST

#define PENDING 60

/* Submit PENDING inserts, close at once, check every outcome. */
static void close_with_pending(bool drain)
{
	int threads = tp_thread_baseline(), fds = tp_count_fds();
	dqlc_pool_t *setup = tp_pool("pending", "");
	tp_exec_ok(setup, "CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY)", NULL, 0);
	dqlc_pool_close(setup);

	dqlc_pool_t *p = tp_pool("pending", drain ? "close=drain&workers=2" : "close=abort&workers=2");
	dqlc_future_t *f[PENDING];
	for (int i = 0; i < PENDING; i++) {
		dqlc_value_t par[] = {DQLC_INT(i + 1)};
		f[i] = dqlc_pool_exec(p, "INSERT INTO t (id) VALUES (?)", par, 1);
		ck_assert_ptr_nonnull(f[i]);
	}
	int pending = 0;
	for (int i = 0; i < PENDING; i++)
		pending += !dqlc_future_ready(f[i]);
	dqlc_pool_close(p);
	/* The futures outlive the pool: all complete, readable, freeable. */
	int ok = 0, closed = 0, other = 0;
	bool done[PENDING];
	for (int i = 0; i < PENDING; i++) {
		ck_assert(dqlc_future_ready(f[i]));
		dqlc_error_t e = {0};
		int rc = dqlc_future_wait(f[i]);
		ck_assert_int_eq(dqlc_future_error(f[i], &e), rc);
		done[i] = rc == 0;
		if (rc == 0) {
			ok++;
		} else if (rc == DQLC_ECLOSED) {
			closed++;
			ck_assert_int_eq(e.code, DQLC_ECLOSED);
		} else {
			/* Interrupted while running (abort only): its outcome is
			 * whatever the error says. */
			ck_assert_msg(!drain, "drain: request %d failed: %s", i, e.message);
			other++;
		}
		dqlc_future_free(f[i]);
	}
	ck_assert_int_eq(tp_count_threads(), threads);
	ck_assert_int_eq(tp_count_fds(), fds);
	ck_assert_msg(pending > 0, "nothing was pending at close: the test proves nothing");

	dqlc_pool_t *check = tp_pool("pending", "");
	int64_t rows = tp_query_int(check, "SELECT count(*) FROM t", NULL, 0);
	if (drain) {
		ck_assert_int_eq(ok, PENDING);
		ck_assert_int_eq(rows, PENDING);
	} else {
		ck_assert_msg(closed > 0, "abort: no request failed with DQLC_ECLOSED (%d pending)",
			      pending);
		ck_assert_int_ge(rows, ok);
		ck_assert_int_le(rows, ok + other);
		/* What closed without running never ran. */
		for (int i = 0; i < PENDING; i++) {
			if (done[i])
				continue;
			dqlc_value_t par[] = {DQLC_INT(i + 1)};
			int64_t n = tp_query_int(check, "SELECT count(*) FROM t WHERE id = ?", par, 1);
			ck_assert_int_le(n, 1);
		}
	}
	dqlc_pool_close(check);
}

START_TEST(test_close_drain_pending)
{
	close_with_pending(true);
}
END_TEST

START_TEST(test_close_abort_pending)
{
	close_with_pending(false);
}
END_TEST

/* ---- stats --------------------------------------------------------------- */

START_TEST(test_stats_add_up)
{
	dqlc_pool_t *p = tp_pool("stats", "workers=2");
	dqlc_pool_stats_t s = tp_stats(p);
	ck_assert_uint_eq(s.struct_size, sizeof s);
	ck_assert(s.latency_mean_us == 0 && s.latency_max_us == 0);

	tp_exec_ok(p, "CREATE TABLE t (id INTEGER PRIMARY KEY)", NULL, 0);
	for (int i = 0; i < 30; i++) {
		dqlc_value_t par[] = {DQLC_INT(i)};
		tp_exec_ok(p, "INSERT INTO t (id) VALUES (?)", par, 1);
	}
	for (int i = 0; i < 30; i++)
		ck_assert_int_eq(tp_query_int(p, "SELECT count(*) FROM t", NULL, 0), 30);
	/* Three failures of different kinds. */
	dqlc_error_t e = {0};
	ck_assert_int_eq(tp_wait_free(dqlc_pool_query(p, "SELECT * FROM missing", NULL, 0), &e),
			 DQLC_ESQL);
	ck_assert_msg(strstr(e.message, "missing") != NULL, "%s", e.message);
	dqlc_value_t dup[] = {DQLC_INT(1)};
	ck_assert_int_eq(tp_wait_free(dqlc_pool_exec(p, "INSERT INTO t (id) VALUES (?)", dup, 1), &e),
			 DQLC_ESQL);
	ck_assert_int_eq(e.sqlite_code & 0xff, 19); /* SQLITE_CONSTRAINT */
	ck_assert_int_eq(tp_wait_free(dqlc_pool_exec(p, "BEGIN", NULL, 0), &e), DQLC_EMISUSE);

	s = tp_stats(p);
	/* the rejected BEGIN never entered the pool */
	ck_assert_uint_eq(s.submitted, 1 + 30 + 30 + 2);
	ck_assert_uint_eq(s.completed, 61);
	ck_assert_uint_eq(s.failed, 2);
	ck_assert_uint_eq(s.submitted, s.completed + s.failed);
	ck_assert_uint_eq(s.queued, 0);
	ck_assert_uint_eq(s.in_flight, 0);
	ck_assert_uint_eq(s.canceled, 0);
	ck_assert_uint_eq(s.timeouts, 0);
	ck_assert_uint_ge(s.connects, 1);
	ck_assert_uint_ge(s.conns_open, 1);
	ck_assert_uint_eq(s.conns_idle, s.conns_open);
	ck_assert_uint_eq(s.conns_leased, 0);
	ck_assert_uint_eq(s.workers, 2);
	ck_assert(s.latency_mean_us > 0);
	ck_assert(s.latency_p50_us > 0);
	ck_assert(s.latency_p99_us >= s.latency_p50_us);
	ck_assert(s.latency_max_us > 0);
	ck_assert(s.latency_mean_us <= s.latency_max_us);

	/* A smaller struct_size gets only its prefix. */
	unsigned char buf[sizeof(dqlc_pool_stats_t) + 16];
	memset(buf, 0xAB, sizeof buf);
	dqlc_pool_stats_t *small = (dqlc_pool_stats_t *)(void *)buf;
	size_t prefix = offsetof(dqlc_pool_stats_t, failed);
	small->struct_size = prefix;
	ck_assert_int_eq(dqlc_pool_stats(p, small, NULL), 0);
	ck_assert_uint_eq(small->struct_size, prefix);
	ck_assert_uint_eq(small->submitted, s.submitted);
	ck_assert_uint_eq(small->completed, s.completed);
	for (size_t i = prefix; i < sizeof buf; i++)
		ck_assert_msg(buf[i] == 0xAB, "byte %zu beyond struct_size %zu was written", i, prefix);
	/* A bigger one (a newer caller) gets everything we have, no more. */
	memset(buf, 0xAB, sizeof buf);
	small->struct_size = sizeof buf;
	ck_assert_int_eq(dqlc_pool_stats(p, small, NULL), 0);
	ck_assert_uint_eq(small->failed, 2);
	for (size_t i = sizeof(dqlc_pool_stats_t); i < sizeof buf; i++)
		ck_assert_msg(buf[i] == 0xAB, "byte %zu beyond the struct was written", i);
	small->struct_size = 0;
	ck_assert_int_eq(dqlc_pool_stats(p, small, &e), DQLC_EINVAL);
	ck_assert_int_eq(dqlc_pool_stats(NULL, &s, NULL), DQLC_EINVAL);
	dqlc_pool_close(p);
}
END_TEST

/* ---- statement cache ---------------------------------------------------- */

START_TEST(test_stmt_cache_repeated_sql)
{
	dqlc_pool_t *p = tp_pool("cache", "workers=2&pool_max=2");
	tp_exec_ok(p, "CREATE TABLE c (id INTEGER PRIMARY KEY, v TEXT)", NULL, 0);
	for (int i = 0; i < 1000; i++) {
		char v[32];
		snprintf(v, sizeof v, "value %d", i);
		if (i % 2 == 0) {
			dqlc_value_t par[] = {DQLC_INT(i), DQLC_TEXT(v)};
			dqlc_future_t *f = dqlc_pool_exec(p, "INSERT INTO c (id, v) VALUES (?, ?)", par, 2);
			dqlc_result_t *r = dqlc_future_take_result(f);
			ck_assert_msg(r != NULL, "insert %d failed", i);
			ck_assert_int_eq(dqlc_result_last_insert_id(r), i);
			dqlc_result_free(r);
			dqlc_future_free(f);
		} else {
			/* the row inserted just before, and one from further back */
			dqlc_value_t par[] = {DQLC_INT(i - 1)};
			dqlc_future_t *f = dqlc_pool_query(p, "SELECT v FROM c WHERE id = ?", par, 1);
			dqlc_result_t *r = dqlc_future_take_result(f);
			ck_assert_msg(r != NULL, "query %d failed", i);
			snprintf(v, sizeof v, "value %d", i - 1);
			ck_assert_uint_eq(dqlc_result_row_count(r), 1);
			ck_assert_str_eq(dqlc_result_text(r, 0, 0, NULL), v);
			dqlc_result_free(r);
			dqlc_future_free(f);
		}
	}
	ck_assert_int_eq(tp_query_int(p, "SELECT count(*) FROM c", NULL, 0), 500);
	/* A missing parameter binds NULL every time, not the previous value. */
	dqlc_value_t one[] = {DQLC_INT(5000)};
	tp_exec_ok(p, "INSERT INTO c (id, v) VALUES (?, ?)", one, 1);
	ck_assert_int_eq(tp_query_int(p, "SELECT count(*) FROM c WHERE id = 5000 AND v IS NULL",
				      NULL, 0),
			 1);
	ck_assert_uint_eq(tp_stats(p).failed, 0);
	dqlc_pool_close(p);
	tp_assert_nodes_alive();
}
END_TEST

START_TEST(test_stmt_cache_eviction)
{
	/* Three slots, eight statements in rotation: statements are finalized
	 * and their ids reused by the server all the time. */
	dqlc_pool_t *p = tp_pool("evict", "stmt_cache_size=3&workers=1&pool_max=1");
	for (int round = 0; round < 25; round++) {
		for (int k = 0; k < 8; k++) {
			char sql[96];
			snprintf(sql, sizeof sql, "SELECT ? * %d + %d AS x /* stmt %d */", k + 1, k, k);
			dqlc_value_t par[] = {DQLC_INT(round)};
			ck_assert_int_eq(tp_query_int(p, sql, par, 1), (int64_t)round * (k + 1) + k);
		}
	}
	ck_assert_uint_eq(tp_stats(p).connects, 1);
	dqlc_pool_close(p);
	tp_assert_nodes_alive();
}
END_TEST

START_TEST(test_multi_statement_and_tx_misuse)
{
	dqlc_pool_t *p = tp_pool("multi", "workers=1&pool_max=1");
	tp_exec_ok(p, "CREATE TABLE m (x INTEGER)", NULL, 0);
	tp_exec_ok(p, "INSERT INTO m VALUES (1); INSERT INTO m VALUES (2)", NULL, 0);
	ck_assert_int_eq(tp_query_int(p, "SELECT count(*) FROM m", NULL, 0), 2);
	ck_assert_int_eq(tp_query_int(p, "SELECT sum(x) FROM m", NULL, 0), 3);
	/* The same script again: cached or not, it runs both statements. */
	tp_exec_ok(p, "INSERT INTO m VALUES (1); INSERT INTO m VALUES (2)", NULL, 0);
	ck_assert_int_eq(tp_query_int(p, "SELECT count(*) FROM m", NULL, 0), 4);
	/* Parameters bind to the first statement. */
	dqlc_value_t par[] = {DQLC_INT(10)};
	tp_exec_ok(p, "INSERT INTO m VALUES (?);\n INSERT INTO m VALUES (100);", par, 1);
	ck_assert_int_eq(tp_query_int(p, "SELECT sum(x) FROM m", NULL, 0), 116);

	static const char *const tx[] = {"BEGIN", "begin immediate", "  BEGIN TRANSACTION;",
					 "COMMIT", "END", "ROLLBACK", "/* c */ BEGIN",
					 "SAVEPOINT sp", "INSERT INTO m VALUES (5); BEGIN"};
	for (size_t i = 0; i < sizeof tx / sizeof tx[0]; i++) {
		dqlc_error_t e = {0};
		dqlc_future_t *f = dqlc_pool_exec(p, tx[i], NULL, 0);
		ck_assert_ptr_nonnull(f);
		ck_assert(dqlc_future_ready(f)); /* rejected at submit */
		ck_assert_msg(tp_wait_free(f, &e) == DQLC_EMISUSE, "'%s' was accepted", tx[i]);
		ck_assert_int_eq(e.code, DQLC_EMISUSE);
		/* not as a query either */
		f = dqlc_pool_query(p, tx[i], NULL, 0);
		ck_assert(dqlc_future_ready(f));
		ck_assert_msg(tp_wait_free(f, &e) == DQLC_EMISUSE, "query '%s' was accepted", tx[i]);
	}
	/* The pool's connection is not inside a transaction: a write through
	 * another pool is not blocked, and ours is visible there at once. */
	tp_exec_ok(p, "INSERT INTO m VALUES (1000)", NULL, 0);
	dqlc_pool_t *q = tp_pool("multi", "");
	ck_assert_int_eq(tp_query_int(q, "SELECT sum(x) FROM m", NULL, 0), 1116);
	tp_exec_ok(q, "INSERT INTO m VALUES (1)", NULL, 0);
	dqlc_pool_close(q);
	ck_assert_uint_eq(tp_stats(p).failed, 0);
	dqlc_pool_close(p);
}
END_TEST

/* Whatever way a transaction statement is slipped into a pool request, it
 * must not leave a pooled connection inside a transaction: a later
 * acknowledged write on that connection would never be committed. */
START_TEST(test_tx_statements_never_stick_to_a_pooled_connection)
{
	static const struct {
		bool query;
		const char *sql;
	} sneaky[] = {
	    {true, "BEGIN"},
	    {true, "begin immediate"},
	    {false, "INSERT INTO m VALUES (-1); BEGIN"},
	    {false, "SAVEPOINT sp"},
	    {true, "SAVEPOINT sp"},
	};
	dqlc_pool_t *p = tp_pool("sneaky", "workers=1&pool_max=1&request_timeout_ms=3000");
	tp_exec_ok(p, "CREATE TABLE m (x INTEGER PRIMARY KEY)", NULL, 0);
	for (size_t i = 0; i < sizeof sneaky / sizeof sneaky[0]; i++) {
		dqlc_error_t e = {0};
		dqlc_future_t *f = sneaky[i].query ? dqlc_pool_query(p, sneaky[i].sql, NULL, 0)
						   : dqlc_pool_exec(p, sneaky[i].sql, NULL, 0);
		int rc = tp_wait_free(f, &e);
		/* Then a write on the same (only) connection ... */
		dqlc_value_t par[] = {DQLC_INT((int64_t)i + 1)};
		int wrc = tp_wait_free(dqlc_pool_exec(p, "INSERT INTO m VALUES (?)", par, 1), &e);
		/* ... is, once acknowledged, committed: another pool sees it and
		 * can write (no transaction holds the lock). */
		dqlc_pool_t *q = tp_pool("sneaky", "request_timeout_ms=3000");
		dqlc_value_t qpar[] = {DQLC_INT(100 + (int64_t)i)};
		dqlc_error_t qe = {0};
		int qrc = tp_wait_free(dqlc_pool_exec(q, "INSERT INTO m VALUES (?)", qpar, 1), &qe);
		int64_t seen = wrc == 0 ? tp_query_int(q, "SELECT count(*) FROM m WHERE x = ?", par, 1) : -1;
		dqlc_pool_close(q);
		ck_assert_msg(wrc != 0 || seen == 1,
			      "%s '%s' (%s) left the pooled connection in a transaction: an "
			      "acknowledged insert is not committed",
			      sneaky[i].query ? "query" : "exec", sneaky[i].sql, dqlc_errname(rc));
		ck_assert_msg(qrc == 0, "after %s '%s' (%s) another pool cannot write: %s",
			      sneaky[i].query ? "query" : "exec", sneaky[i].sql, dqlc_errname(rc),
			      qe.message);
		ck_assert_msg(wrc == 0, "insert after '%s': %s", sneaky[i].sql, e.message);
	}
	dqlc_pool_close(p);
	tp_assert_nodes_alive();
}
END_TEST

static Suite *pool_api_suite(void)
{
	Suite *s = suite_create("pool-api");
	TCase *t = tp_tcase(s, "config", 30, false);
	tcase_add_test(t, test_config_every_pool_key);
	tcase_add_test(t, test_config_rejects_bad_keys);

	t = tp_tcase(s, "lifecycle", 60, true);
	tcase_add_test(t, test_lazy_start);
	tcase_add_test(t, test_close_joins_and_closes_everything);
	tcase_add_test(t, test_close_with_lease_outstanding);
	tcase_add_test(t, test_close_abort_interrupts_running_scan);
	tcase_add_test(t, test_close_drain_pending);
	tcase_add_test(t, test_close_abort_pending);
	tcase_add_test(t, test_stats_add_up);

	t = tp_tcase(s, "stmt-cache", 60, true);
	tcase_add_test(t, test_stmt_cache_repeated_sql);
	tcase_add_test(t, test_stmt_cache_eviction);
	tcase_add_test(t, test_multi_statement_and_tx_misuse);
	tcase_add_test(t, test_tx_statements_never_stick_to_a_pooled_connection);

	t = tp_tcase(s, "mixed", 240, true);
	tcase_add_test(t, test_mixed_16_threads);
	return s;
}

int main(void)
{
	return tp_run(pool_api_suite());
}
