/*
 * dqlc-bench: the same workloads, schema, flags and JSON output as
 * ../shared/peer-bench (go-dqlite), run through this library, so both can be
 * measured against one cluster in one session.
 *
 *   dqlc-bench -servers 127.0.0.1:9001,127.0.0.1:9002 -concurrency 8 \
 *              -seconds 5 -workloads read,insert,scan
 *
 * Without -servers it starts a local 3-node cluster with dqlc-cluster and
 * stops it at the end.  -mode picks how callers use the library:
 *   future  submit to the pool, wait on the future (default)
 *   lease   lease a pooled connection and run the call on the caller's thread
 */
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dqlite-client.h"

struct opts {
	char *servers;
	const char *db;
	int concurrency;
	double seconds;
	char *workloads;
	int scan_rows;
	const char *mode;
	int workers;
	const char *tls;
};

struct run {
	const char *name;
	struct opts *o;
	dqlc_pool_t *pool;
	int64_t deadline_ns;
	int64_t start_ns;
	atomic_long ops, errs, rows;
	pthread_mutex_t mu;
	int64_t last_ok_ns, max_gap_ns;
	char first_error[256];
	double **lat;
	size_t *nlat, *caplat;
};

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void die(const char *what, const dqlc_error_t *e)
{
	fprintf(stderr, "dqlc-bench: %s: %s\n", what, e ? e->message : "failed");
	exit(1);
}

/* One operation through the pool's futures or through a lease. */
static int do_op(struct run *r, int worker, long i, long *rows, dqlc_error_t *e)
{
	bool lease = strcmp(r->o->mode, "lease") == 0;
	dqlc_result_t *res = NULL;
	dqlc_value_t p[2];
	const char *sql;
	size_t n = 0;
	bool query = true;
	int rv;
	if (strcmp(r->name, "read") == 0) {
		sql = "SELECT v FROM kv WHERE k = ?";
		p[0] = DQLC_INT(((long)worker * 7919 + i) % 1000);
		n = 1;
	} else if (strcmp(r->name, "insert") == 0) {
		sql = "INSERT INTO ins (w, v) VALUES (?, ?)";
		p[0] = DQLC_INT(worker);
		p[1] = DQLC_TEXT("payload-0123456789");
		n = 2;
		query = false;
	} else {
		sql = "SELECT id, a, b, c FROM scan";
	}
	if (lease) {
		dqlc_conn_t *c;
		rv = dqlc_pool_acquire(r->pool, -1, &c, e);
		if (rv != 0)
			return rv;
		rv = query ? dqlc_conn_query(c, sql, p, n, &res, e)
			   : dqlc_conn_exec(c, sql, p, n, NULL, e);
		dqlc_conn_close(c);
	} else {
		dqlc_future_t *f = query ? dqlc_pool_query(r->pool, sql, p, n)
					 : dqlc_pool_exec(r->pool, sql, p, n);
		if (f == NULL)
			return DQLC_ENOMEM;
		rv = dqlc_future_error(f, e);
		if (rv == 0 && query)
			res = dqlc_future_take_result(f);
		dqlc_future_free(f);
	}
	if (rv == 0 && query) {
		size_t k, count = dqlc_result_row_count(res);
		if (strcmp(r->name, "read") == 0 && count != 1) {
			rv = DQLC_EPROTO;
			snprintf(e->message, sizeof e->message, "read returned %zu rows", count);
		}
		/* Touch every value, as a caller reading the rows would. */
		for (k = 0; k < count; k++)
			(void)dqlc_result_value(res, k, 0);
		*rows = (long)count;
	}
	dqlc_result_free(res);
	return rv;
}

struct worker_arg {
	struct run *r;
	int id;
};

static void *caller(void *arg)
{
	struct worker_arg *wa = arg;
	struct run *r = wa->r;
	long i = 0;
	while (now_ns() < r->deadline_ns) {
		int64_t t0 = now_ns(), t1;
		long rows = 0;
		dqlc_error_t e;
		int rv = do_op(r, wa->id, i++, &rows, &e);
		t1 = now_ns();
		if (r->nlat[wa->id] == r->caplat[wa->id]) {
			r->caplat[wa->id] = r->caplat[wa->id] ? r->caplat[wa->id] * 2 : 4096;
			r->lat[wa->id] = realloc(r->lat[wa->id], r->caplat[wa->id] * sizeof(double));
		}
		r->lat[wa->id][r->nlat[wa->id]++] = (double)(t1 - t0) / 1000.0;
		if (rv != 0) {
			atomic_fetch_add(&r->errs, 1);
			pthread_mutex_lock(&r->mu);
			if (r->first_error[0] == '\0')
				snprintf(r->first_error, sizeof r->first_error, "%s: %s",
					 dqlc_errname(rv), e.message);
			pthread_mutex_unlock(&r->mu);
			continue;
		}
		atomic_fetch_add(&r->ops, 1);
		atomic_fetch_add(&r->rows, rows);
		pthread_mutex_lock(&r->mu);
		if (t1 - r->last_ok_ns > r->max_gap_ns)
			r->max_gap_ns = t1 - r->last_ok_ns;
		r->last_ok_ns = t1;
		pthread_mutex_unlock(&r->mu);
	}
	return NULL;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static void json_str(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			printf("\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			printf("\\u%04x", *s);
		else
			putchar(*s);
	}
	putchar('"');
}

static void run_workload(struct opts *o, dqlc_pool_t *pool, const char *name)
{
	struct run r;
	pthread_t *t = calloc((size_t)o->concurrency, sizeof *t);
	struct worker_arg *wa = calloc((size_t)o->concurrency, sizeof *wa);
	double *all, el, p50 = 0, p99 = 0;
	size_t total = 0, k;
	int w;
	memset(&r, 0, sizeof r);
	r.name = name;
	r.o = o;
	r.pool = pool;
	pthread_mutex_init(&r.mu, NULL);
	r.lat = calloc((size_t)o->concurrency, sizeof *r.lat);
	r.nlat = calloc((size_t)o->concurrency, sizeof *r.nlat);
	r.caplat = calloc((size_t)o->concurrency, sizeof *r.caplat);
	r.start_ns = r.last_ok_ns = now_ns();
	r.deadline_ns = r.start_ns + (int64_t)(o->seconds * 1e9);
	for (w = 0; w < o->concurrency; w++) {
		wa[w].r = &r;
		wa[w].id = w;
		pthread_create(&t[w], NULL, caller, &wa[w]);
	}
	for (w = 0; w < o->concurrency; w++)
		pthread_join(t[w], NULL);
	el = (double)(now_ns() - r.start_ns) / 1e9;
	for (w = 0; w < o->concurrency; w++)
		total += r.nlat[w];
	all = malloc((total ? total : 1) * sizeof *all);
	for (w = 0, k = 0; w < o->concurrency; w++) {
		memcpy(all + k, r.lat[w], r.nlat[w] * sizeof *all);
		k += r.nlat[w];
		free(r.lat[w]);
	}
	if (total > 0) {
		qsort(all, total, sizeof *all, cmp_double);
		p50 = all[(size_t)((double)(total - 1) * 0.5)];
		p99 = all[(size_t)((double)(total - 1) * 0.99)];
	}
	printf("{\"client\":\"dqlc\",\"mode\":\"%s\",\"workload\":\"%s\",\"concurrency\":%d,"
	       "\"ops\":%ld,\"errors\":%ld,\"seconds\":%.1f,\"ops_per_s\":%.1f,"
	       "\"p50_us\":%.1f,\"p99_us\":%.1f,\"rows\":%ld,\"max_gap_ms\":%.3f",
	       o->mode, name, o->concurrency, atomic_load(&r.ops), atomic_load(&r.errs), el,
	       (double)atomic_load(&r.ops) / el, p50, p99, atomic_load(&r.rows),
	       (double)r.max_gap_ns / 1e6);
	if (r.first_error[0]) {
		printf(",\"first_error\":");
		json_str(r.first_error);
	}
	printf("}\n");
	fflush(stdout);
	free(all);
	free(r.lat);
	free(r.nlat);
	free(r.caplat);
	free(t);
	free(wa);
	pthread_mutex_destroy(&r.mu);
}

/* Seed rows in one transaction per table (what peer-bench creates too). */
struct seed {
	const char *table;
	long from, to;
};

static int seed_rows(dqlc_conn_t *c, void *arg)
{
	struct seed *s = arg;
	dqlc_stmt_t *st;
	dqlc_error_t e;
	char text[64];
	long i;
	int rv;
	if (strcmp(s->table, "kv") == 0)
		rv = dqlc_conn_prepare(c, "INSERT INTO kv (k, v) VALUES (?, ?)", &st, &e);
	else
		rv = dqlc_conn_prepare(c, "INSERT INTO scan (id, a, b, c) VALUES (?, ?, ?, ?)", &st,
				       &e);
	if (rv != 0)
		return rv;
	for (i = s->from; i < s->to && rv == 0; i++) {
		if (strcmp(s->table, "kv") == 0) {
			dqlc_value_t p[2];
			snprintf(text, sizeof text, "value-%06ld", i);
			p[0] = DQLC_INT(i);
			p[1] = DQLC_TEXT(text);
			rv = dqlc_stmt_exec(st, p, 2, NULL, &e);
		} else {
			dqlc_value_t p[4];
			snprintf(text, sizeof text, "row-%08ld-padding-text", i);
			p[0] = DQLC_INT(i);
			p[1] = DQLC_INT(i * 7);
			p[2] = DQLC_FLOAT((double)i / 3);
			p[3] = DQLC_TEXT(text);
			rv = dqlc_stmt_exec(st, p, 4, NULL, &e);
		}
	}
	dqlc_stmt_finalize(st);
	return rv;
}

static long count_rows(dqlc_pool_t *pool, const char *sql)
{
	dqlc_future_t *f = dqlc_pool_query(pool, sql, NULL, 0);
	dqlc_result_t *r;
	dqlc_error_t e;
	long n;
	if (dqlc_future_error(f, &e) != 0)
		die(sql, &e);
	r = dqlc_future_take_result(f);
	n = (long)dqlc_result_int64(r, 0, 0);
	dqlc_result_free(r);
	dqlc_future_free(f);
	return n;
}

static void setup(struct opts *o, dqlc_pool_t *pool)
{
	static const char *ddl[] = {
	    "CREATE TABLE IF NOT EXISTS kv (k INTEGER PRIMARY KEY, v TEXT)",
	    "CREATE TABLE IF NOT EXISTS ins (id INTEGER PRIMARY KEY AUTOINCREMENT, w INTEGER, v TEXT)",
	    "CREATE TABLE IF NOT EXISTS scan (id INTEGER PRIMARY KEY, a INTEGER, b REAL, c TEXT)",
	};
	struct seed s;
	dqlc_error_t e;
	size_t i;
	for (i = 0; i < sizeof ddl / sizeof ddl[0]; i++) {
		dqlc_future_t *f = dqlc_pool_exec(pool, ddl[i], NULL, 0);
		if (dqlc_future_error(f, &e) != 0)
			die(ddl[i], &e);
		dqlc_future_free(f);
	}
	s.table = "kv";
	s.from = count_rows(pool, "SELECT count(*) FROM kv");
	s.to = 1000;
	if (s.from < s.to && dqlc_pool_transaction(pool, seed_rows, &s, &e) != 0)
		die("seed kv", &e);
	s.table = "scan";
	s.from = count_rows(pool, "SELECT count(*) FROM scan");
	s.to = o->scan_rows;
	if (s.from < s.to && dqlc_pool_transaction(pool, seed_rows, &s, &e) != 0)
		die("seed scan", &e);
}

/* Start a local cluster with dqlc-cluster (next to this program in the build
 * tree or install dir, or on PATH). */
static char cluster_bin[PATH_MAX], cluster_dir[PATH_MAX];

static char *start_cluster(const char *argv0)
{
	char self[PATH_MAX], cmd[PATH_MAX * 3], line[4096];
	const char *env = getenv("DQLC_CLUSTER_BIN");
	FILE *p;
	snprintf(self, sizeof self, "%s", argv0);
	if (env != NULL)
		snprintf(cluster_bin, sizeof cluster_bin, "%s", env);
	else {
		char *dir = dirname(self);
		snprintf(cluster_bin, sizeof cluster_bin, "%s/../tools/dqlc-cluster", dir);
		if (access(cluster_bin, X_OK) != 0)
			snprintf(cluster_bin, sizeof cluster_bin, "%s/dqlc-cluster", dir);
		if (access(cluster_bin, X_OK) != 0)
			snprintf(cluster_bin, sizeof cluster_bin, "dqlc-cluster");
	}
	snprintf(cluster_dir, sizeof cluster_dir, "%s/dqlc-bench-%d",
		 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", (int)getpid());
	snprintf(cmd, sizeof cmd, "%s start -n 3 --fresh --dir %s --port %d", cluster_bin,
		 cluster_dir, 19000 + (int)(getpid() % 4000) * 3);
	p = popen(cmd, "r");
	if (p == NULL || fgets(line, sizeof line, p) == NULL || pclose(p) != 0) {
		fprintf(stderr, "dqlc-bench: could not start a local cluster (%s)\n", cmd);
		exit(1);
	}
	line[strcspn(line, "\r\n")] = '\0';
	fprintf(stderr, "dqlc-bench: started a local cluster: %s\n", line);
	return strdup(line);
}

static void stop_cluster(void)
{
	char cmd[PATH_MAX * 3];
	if (cluster_dir[0] == '\0')
		return;
	snprintf(cmd, sizeof cmd, "%s stop --clean --dir %s >/dev/null 2>&1", cluster_bin,
		 cluster_dir);
	if (system(cmd) != 0)
		fprintf(stderr, "dqlc-bench: stopping the local cluster failed\n");
}

static void usage(void)
{
	fprintf(stderr,
		"Usage: dqlc-bench [-servers A,B,C] [-db NAME] [-concurrency N] [-seconds S]\n"
		"                  [-workloads read,insert,scan] [-scan-rows N]\n"
		"                  [-mode future|lease] [-workers N] [-tls KEY=VALUE&...]\n"
		"Prints one JSON line per workload (the format of peer-bench).  Without\n"
		"-servers a local 3-node cluster is started and stopped.\n");
}

int main(int argc, char **argv)
{
	struct opts o = {NULL, "bench", 1, 5.0, NULL, 10000, "future", 0, NULL};
	static struct option lo[] = {
	    {"servers", required_argument, 0, 's'},  {"db", required_argument, 0, 'd'},
	    {"concurrency", required_argument, 0, 'c'}, {"seconds", required_argument, 0, 't'},
	    {"workloads", required_argument, 0, 'w'}, {"scan-rows", required_argument, 0, 'r'},
	    {"mode", required_argument, 0, 'm'},     {"workers", required_argument, 0, 'W'},
	    {"tls", required_argument, 0, 'T'},      {"help", no_argument, 0, 'h'},
	    {0, 0, 0, 0}};
	char uri[8192], *tok, *save = NULL;
	dqlc_pool_t *pool;
	dqlc_error_t e;
	int ch;
	while ((ch = getopt_long_only(argc, argv, "", lo, NULL)) != -1) {
		switch (ch) {
		case 's': o.servers = strdup(optarg); break;
		case 'd': o.db = optarg; break;
		case 'c': o.concurrency = atoi(optarg); break;
		case 't': o.seconds = atof(optarg); break;
		case 'w': o.workloads = strdup(optarg); break;
		case 'r': o.scan_rows = atoi(optarg); break;
		case 'm': o.mode = optarg; break;
		case 'W': o.workers = atoi(optarg); break;
		case 'T': o.tls = optarg; break;
		case 'h': usage(); return 0;
		default: usage(); return 2;
		}
	}
	if (o.concurrency < 1 || o.seconds <= 0 || o.scan_rows < 0 ||
	    (strcmp(o.mode, "future") != 0 && strcmp(o.mode, "lease") != 0)) {
		usage();
		return 2;
	}
	if (o.workloads == NULL)
		o.workloads = strdup("read,insert,scan");
	if (o.servers == NULL) {
		o.servers = start_cluster(argv[0]);
		atexit(stop_cluster);
	}
	snprintf(uri, sizeof uri, "dqlite://%s/%s?workers=%d&pool_max=%d%s%s", o.servers, o.db,
		 o.workers > 0 ? o.workers : (o.concurrency < 4 ? 4 : o.concurrency),
		 o.concurrency < 4 ? 4 : o.concurrency, o.tls ? "&" : "", o.tls ? o.tls : "");
	if (dqlc_pool_create(uri, NULL, &pool, &e) != 0)
		die("pool", &e);
	setup(&o, pool);
	for (tok = strtok_r(o.workloads, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (strcmp(tok, "read") && strcmp(tok, "insert") && strcmp(tok, "scan")) {
			fprintf(stderr, "dqlc-bench: unknown workload %s\n", tok);
			return 2;
		}
		run_workload(&o, pool, tok);
	}
	dqlc_pool_close(pool);
	free(o.servers);
	free(o.workloads);
	return 0;
}
