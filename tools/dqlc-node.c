/*
 * dqlc-node: run one real dqlite node (libdqlite) in the foreground.
 *
 * A development and test tool.  Node id 1 bootstraps a fresh single-voter
 * cluster; any other id starts empty and, with --join, adds itself to an
 * existing cluster through this project's own client library (ADD, then
 * ASSIGN), which is also the proof that <dqlite.h> and <dqlite-client.h>
 * coexist in one program.
 *
 * Once the node serves (and has joined, with --join) it prints exactly one
 * line "ready id=N address=A pid=P" on stdout.  SIGTERM/SIGINT stop it
 * cleanly (exit 0).
 *
 * With --tls-cert/--tls-key/--tls-ca (OpenSSL builds) the node serves only
 * mutual TLS: libdqlite is bound to an abstract unix socket and a TLS front
 * end in this process listens on the advertised address and dials peers
 * (node-proxy.h).
 *
 * Exit codes: 0 stopped by a signal, 1 runtime failure (start, join),
 * 2 bad command line, 3 could not bind the address (e.g. in use: a caller
 * that picked the port itself may retry with another one).
 */
#include <errno.h>
#include <execinfo.h>
#include <getopt.h>
#include <stdbool.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <dqlite.h>

#include "dqlite-client.h"
#include "node-join.h"
#include "node-opts.h"
#ifdef DQLC_HAVE_OPENSSL
#include "node-proxy.h"
#endif

#if defined(__SANITIZE_ADDRESS__)
/* Sanitizer builds: libdqlite 1.11.1 never frees parts of its raft/libuv
 * state (dqlite_node_destroy leaks ~2 KiB), which would turn every exit into
 * a LeakSanitizer failure; leaks in our own code are still reported. */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void)
{
	return "leak:libdqlite.so\nleak:libraft.so\nleak:libuv.so\n";
}
#endif

#define EXIT_RUNTIME 1
#define EXIT_USAGE 2
#define EXIT_BIND 3

/* A node that crashes (a libdqlite assertion, a segfault) prints its stack
 * on stderr, then dies of the same signal: its log then tells which server
 * bug it was (libdqlite's exported functions, e.g. gateway__resume, are
 * named).  Only write(2) and backtrace_symbols_fd, which does not allocate;
 * backtrace() is called once at start-up so that it needs no loading here. */
static void crash_handler(int sig)
{
	static const char msg[] = "dqlc-node: fatal signal, stack:\n";
	void *frames[64];
	ssize_t w = write(STDERR_FILENO, msg, sizeof msg - 1);
	(void)w;
	backtrace_symbols_fd(frames, backtrace(frames, 64), STDERR_FILENO);
	raise(sig); /* the handler was reset (SA_RESETHAND): the default action */
}

static void install_crash_handler(void)
{
	static const int sigs[] = {SIGSEGV, SIGBUS, SIGABRT, SIGFPE, SIGILL};
	void *warm[1];
	struct sigaction sa;
	(void)backtrace(warm, 1);
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = crash_handler;
	sa.sa_flags = SA_RESETHAND | SA_NODEFER;
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
		sigaction(sigs[i], &sa, NULL);
}

/* mkdir -p: libdqlite wants the data directory to exist. */
static int make_dirs(const char *path)
{
	char buf[4096];
	size_t len = strlen(path);
	if (len == 0 || len >= sizeof buf) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(buf, path, len + 1);
	for (char *p = buf + 1; *p != '\0'; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0755) != 0 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	if (mkdir(buf, 0755) != 0 && errno != EEXIST)
		return -1;
	struct stat st;
	if (stat(buf, &st) != 0)
		return -1;
	if (!S_ISDIR(st.st_mode)) {
		errno = ENOTDIR;
		return -1;
	}
	return 0;
}

/* Configure the node from the options, listening on `bind` (o->bind, or
 * the TLS front end's abstract socket); returns an exit code or 0. */
static int configure_node(dqlite_node *node, const struct node_opts *o, const char *bind)
{
	int rv = dqlite_node_set_bind_address(node, bind);
	if (rv != 0) {
		/* libdqlite 1.11 leaves the message empty when bind() fails. */
		const char *msg = dqlite_node_errmsg(node);
		if (msg == NULL || msg[0] == '\0')
			msg = rv == DQLITE_MISUSE ? "not a valid address"
						  : "address in use or not available";
		fprintf(stderr, "dqlc-node: cannot bind %s: %s (dqlite code %d)\n", bind, msg,
			rv);
		/* DQLITE_MISUSE means the address did not parse; anything else
		 * is the bind itself failing. */
		return rv == DQLITE_MISUSE ? EXIT_USAGE : EXIT_BIND;
	}
	if (o->latency_ms > 0) {
		rv = dqlite_node_set_network_latency_ms(node, o->latency_ms);
		if (rv != 0) {
			fprintf(stderr, "dqlc-node: --latency-ms %u refused (dqlite code %d)\n",
				o->latency_ms, rv);
			return EXIT_USAGE;
		}
	}
	if (o->have_failure_domain) {
		rv = dqlite_node_set_failure_domain(node, o->failure_domain);
		if (rv != 0) {
			fprintf(stderr, "dqlc-node: --failure-domain refused (dqlite code %d)\n", rv);
			return EXIT_USAGE;
		}
	}
	if (o->snapshot_threshold > 0 || o->snapshot_trailing > 0) {
		/* libdqlite's defaults for whichever one was not given. */
		unsigned threshold = o->snapshot_threshold > 0 ? o->snapshot_threshold : 1024;
		unsigned trailing = o->snapshot_trailing > 0 ? o->snapshot_trailing : 8192;
		rv = dqlite_node_set_snapshot_params(node, threshold, trailing);
		if (rv != 0) {
			fprintf(stderr,
				"dqlc-node: snapshot threshold %u / trailing %u refused (dqlite "
				"code %d; trailing must be >= 4 and >= threshold)\n",
				threshold, trailing, rv);
			return EXIT_USAGE;
		}
	}
	return 0;
}

/* The TLS front end, when asked for; NULL otherwise. */
struct front {
#ifdef DQLC_HAVE_OPENSSL
	struct node_proxy *proxy;
#endif
	char backend[64]; /* libdqlite's bind address behind it */
};

/* Set up the TLS front end (bound, not yet relaying): an exit code or 0. */
static int front_new(struct front *f, const struct node_opts *o)
{
	memset(f, 0, sizeof *f);
	if (o->tls_cert == NULL)
		return 0;
#ifdef DQLC_HAVE_OPENSSL
	/* Unique per process: several nodes may run on one machine. */
	snprintf(f->backend, sizeof f->backend, "@dqlc-node-%llu-%ld",
		 (unsigned long long)o->id, (long)getpid());
	struct node_tls_files files = {.cert = o->tls_cert, .key = o->tls_key, .ca = o->tls_ca};
	struct node_proxy_config cfg = {
	    .listen = o->bind, .backend = f->backend, .files = &files,
	    .peer_name = o->tls_peer_name};
	switch (node_proxy_new(&cfg, &f->proxy)) {
	case PROXY_OK:
		return 0;
	case PROXY_EBIND:
		return EXIT_BIND;
	case PROXY_ECONFIG:
		return EXIT_USAGE;
	default:
		return EXIT_RUNTIME;
	}
#else
	return EXIT_USAGE; /* node_opts_parse refused already */
#endif
}

static bool front_on(const struct front *f)
{
	return f->backend[0] != '\0';
}

/* Route raft's outbound connections through TLS. */
static int front_connect_func(struct front *f, dqlite_node *node)
{
#ifdef DQLC_HAVE_OPENSSL
	int rv = dqlite_node_set_connect_func(node, node_proxy_connect, f->proxy);
	if (rv != 0) {
		fprintf(stderr, "dqlc-node: cannot set the connect function (dqlite code %d)\n",
			rv);
		return EXIT_RUNTIME;
	}
#else
	(void)f;
	(void)node;
#endif
	return 0;
}

static int front_start(struct front *f)
{
#ifdef DQLC_HAVE_OPENSSL
	return node_proxy_start(f->proxy) == 0 ? 0 : EXIT_RUNTIME;
#else
	(void)f;
	return 0;
#endif
}

/* No new clients while libdqlite stops (they could not reach it). */
static void front_quiesce(struct front *f)
{
#ifdef DQLC_HAVE_OPENSSL
	if (f->proxy != NULL)
		node_proxy_stop_accepting(f->proxy);
#else
	(void)f;
#endif
}

static void front_free(struct front *f)
{
#ifdef DQLC_HAVE_OPENSSL
	node_proxy_free(f->proxy);
	f->proxy = NULL;
#else
	(void)f;
#endif
}

static void stop_node(dqlite_node *node)
{
	int rv = dqlite_node_stop(node);
	if (rv != 0)
		fprintf(stderr, "dqlc-node: stop failed: %s (dqlite code %d)\n",
			dqlite_node_errmsg(node), rv);
	dqlite_node_destroy(node);
}

int main(int argc, char **argv)
{
	struct node_opts o;
	int rc = node_opts_parse(&o, argc, argv);
	if (rc >= 0)
		return rc; /* --help, --version or a usage error */

	/* The node's threads must inherit a mask with the stop signals
	 * blocked, so that only the main thread receives them (sigwait). */
	sigset_t stop_sigs;
	sigemptyset(&stop_sigs);
	sigaddset(&stop_sigs, SIGTERM);
	sigaddset(&stop_sigs, SIGINT);
	sigaddset(&stop_sigs, SIGHUP);
	if (pthread_sigmask(SIG_BLOCK, &stop_sigs, NULL) != 0) {
		fprintf(stderr, "dqlc-node: cannot block signals\n");
		return EXIT_RUNTIME;
	}
	/* A client vanishing mid-reply must not kill the node. */
	signal(SIGPIPE, SIG_IGN);
	install_crash_handler();

	if (make_dirs(o.dir) != 0) {
		fprintf(stderr, "dqlc-node: cannot create data directory %s: %s\n", o.dir,
			strerror(errno));
		return EXIT_RUNTIME;
	}

	/* The TLS front end takes the TCP address first: a port in use is
	 * reported as such (exit 3). */
	struct front front;
	rc = front_new(&front, &o);
	if (rc != 0) {
		node_opts_free(&o);
		return rc;
	}

	dqlite_node *node = NULL;
	int rv = dqlite_node_create(o.id, o.address, o.dir, &node);
	if (rv != 0) {
		fprintf(stderr, "dqlc-node: cannot create node: %s (dqlite code %d)\n",
			node != NULL ? dqlite_node_errmsg(node) : "?", rv);
		if (node != NULL)
			dqlite_node_destroy(node);
		front_free(&front);
		node_opts_free(&o);
		return EXIT_RUNTIME;
	}
	rc = configure_node(node, &o, front_on(&front) ? front.backend : o.bind);
	if (rc == 0 && front_on(&front))
		rc = front_connect_func(&front, node);
	if (rc != 0) {
		dqlite_node_destroy(node);
		front_free(&front);
		node_opts_free(&o);
		return rc;
	}
	rv = dqlite_node_start(node);
	if (rv != 0) {
		fprintf(stderr, "dqlc-node: cannot start node: %s (dqlite code %d)\n",
			dqlite_node_errmsg(node), rv);
		dqlite_node_destroy(node);
		front_free(&front);
		node_opts_free(&o);
		return EXIT_RUNTIME;
	}
	/* libdqlite listens now: relay to it. */
	if (front_on(&front) && front_start(&front) != 0) {
		stop_node(node);
		front_free(&front);
		node_opts_free(&o);
		return EXIT_RUNTIME;
	}

	if (o.n_join > 0) {
		struct join_params jp = {
			.id = o.id,
			.address = o.address,
			.role = o.role,
			.seeds = (const char *const *)o.join,
			.n_seeds = o.n_join,
			.timeout_ms = o.join_timeout_ms,
			.stop_sigs = &stop_sigs,
			.tls_ca = o.tls_ca,
			.tls_cert = o.tls_cert,
			.tls_key = o.tls_key,
			.tls_server_name = o.tls_peer_name,
		};
		rc = node_join(&jp);
		if (rc != JOIN_OK) {
			stop_node(node);
			front_free(&front);
			node_opts_free(&o);
			return rc == JOIN_INTERRUPTED ? 0 : EXIT_RUNTIME;
		}
	}

	printf("ready id=%llu address=%s pid=%ld%s\n", (unsigned long long)o.id, o.address,
	       (long)getpid(), front_on(&front) ? " tls=on" : "");
	fflush(stdout);

	int sig = 0;
	while (sigwait(&stop_sigs, &sig) != 0)
		;
	fprintf(stderr, "dqlc-node: %s received, stopping\n", strsignal(sig));
	/* No new clients, then libdqlite (its connections end, and with them
	 * their relays), then the front end's thread. */
	front_quiesce(&front);
	stop_node(node);
	front_free(&front);
	node_opts_free(&o);
	return 0;
}
