/*
 * Test harness: a cluster of real dqlite nodes (tools/dqlc-node processes)
 * on free 127.0.0.1 ports, in a fresh temporary directory.
 *
 *   dqlc_test_cluster_t *tc = tc_start(3, NULL);
 *   ck_assert_ptr_nonnull(tc);
 *   dqlc_connect(tc_uri(tc, "test"), NULL, &conn, &err);
 *   tc_kill(tc, tc_leader(tc));
 *   ...
 *   tc_destroy(tc);
 *
 * Nodes are numbered by index 0..tc_size()-1; node i has id i+1 (node 0
 * bootstrapped the cluster).  Every node is a voter unless added otherwise.
 * Functions that wait are bounded (opts below) and, when they give up, print
 * why and the tail of each node's log on stderr.
 *
 * The program run is $DQLC_NODE_BIN, else the build tree's tools/dqlc-node
 * (DQLC_NODE_BIN_DEFAULT, set when the harness is compiled).
 *
 * TLS clusters (opts.tls, dqlc-node built with OpenSSL): test certificates
 * are made in the cluster's directory by tests/harness/tls-certs.sh
 * ($DQLC_TLS_CERTS_SCRIPT, else DQLC_TLS_CERTS_SCRIPT_DEFAULT) and every
 * node accepts only mutual TLS on its address (dqlc-node --tls-*): raft
 * traffic, joins and the harness's own leader polling all go through TLS.
 * tc_uri() then carries the library's TLS keys, so
 *
 *   tc_opts_t o = {.tls = TC_TLS_ON};
 *   dqlc_test_cluster_t *tc = tc_start(3, &o);
 *   dqlc_connect(tc_uri(tc, "test"), NULL, &conn, &err);   // verify-full
 *
 * connects with a verified client certificate.  Other combinations (wrong
 * CA, no client certificate, ...) are built from tc_addresses(),
 * tc_tls_file() and tc_tls_query().
 *
 * Cleanup is guaranteed, whatever happens to the test:
 *  - tc_destroy() stops every node (SIGTERM, SIGKILL after 3 s), reaps it and
 *    removes the directory;
 *  - every node has PR_SET_PDEATHSIG(SIGKILL): it dies when the thread that
 *    started it dies, so start, restart and add nodes from a thread that
 *    outlives the cluster (the test's own thread, normally).  This covers a
 *    failed ck_assert under CK_FORK=yes (Check _exits the test process),
 *    crashes and Check timeouts (SIGKILL);
 *  - a janitor process (own session) removes the directory, after killing
 *    any node left, once the creating process is gone without tc_destroy;
 *  - an atexit handler destroys the clusters the exiting process created.
 *
 * Where to create a cluster: in a CHECKED fixture (tcase_add_checked_fixture,
 * setup calls tc_start, teardown tc_destroy) or in the test function itself.
 * Both run in the process that runs the test, under CK_FORK=yes and =no; the
 * fixture's teardown also runs after a failed assertion under CK_FORK=no,
 * where a cluster created in the test body would otherwise live on until
 * the atexit handler.  A cluster from an UNCHECKED fixture lives in Check's
 * runner process; under CK_FORK=yes the tests then run in forked children
 * which may only read it (addresses, URI, leader): tc_kill, tc_stop,
 * tc_cont, tc_restart, tc_add_node and tc_destroy from a process other than
 * the creator abort with a message.
 *
 * Not thread-safe: one thread drives a given cluster at a time.
 */
#ifndef DQLC_TEST_CLUSTER_H
#define DQLC_TEST_CLUSTER_H

#include <stdint.h>
#include <sys/types.h>

#include "dqlite-client.h"

typedef struct dqlc_test_cluster dqlc_test_cluster_t;

/* tc_opts_t.tls */
enum {
	TC_TLS_OFF = 0,  /* plaintext nodes */
	TC_TLS_ON,       /* mutual TLS; nodes present server.crt (IP:127.0.0.1) */
	TC_TLS_MISMATCH, /* mutual TLS; nodes present mismatch.crt, whose only
			  * name is DNS:other.example (they verify each other,
			  * and the harness them, against that name) */
};

typedef struct tc_opts {
	int latency_ms;        /* dqlc-node --latency-ms; 0 = 20 (elections ~300 ms) */
	int ready_timeout_ms;  /* per node start/join; 0 = 20000 */
	int leader_timeout_ms; /* tc_start and tc_leader; 0 = 15000 */
	const char *node_bin;  /* NULL = $DQLC_NODE_BIN or the build tree's */
	int tls;               /* TC_TLS_*; 0 = plaintext */
} tc_opts_t;

/* Start n nodes (n >= 1) and wait until they agree on a leader.  NULL on
 * failure (reason and logs on stderr; nothing left behind). */
dqlc_test_cluster_t *tc_start(int n, const tc_opts_t *opts);
/* Stop everything, reap, remove the directory, free.  NULL-safe. */
void tc_destroy(dqlc_test_cluster_t *tc);

int tc_size(const dqlc_test_cluster_t *tc);             /* nodes ever started */
const char *tc_dir(const dqlc_test_cluster_t *tc);      /* the temporary directory */
const char *tc_addresses(dqlc_test_cluster_t *tc);      /* "a,b,c": every node */
/* "dqlite://a,b,c/db", plus "?" tc_tls_query() for a TLS cluster. */
const char *tc_uri(dqlc_test_cluster_t *tc, const char *db);
/* Strings returned by tc_addresses/tc_uri stay valid until tc_destroy. */
const char *tc_node_address(const dqlc_test_cluster_t *tc, int i);
uint64_t tc_node_id(const dqlc_test_cluster_t *tc, int i);
pid_t tc_node_pid(const dqlc_test_cluster_t *tc, int i);   /* 0 when not running */
int tc_node_running(const dqlc_test_cluster_t *tc, int i); /* running and not stopped */

/* Index of the leader once every running voter (stopped ones excepted)
 * names the same running node, which names itself; waits up to
 * leader_timeout_ms.  -1 on timeout. */
int tc_leader(dqlc_test_cluster_t *tc);
int tc_leader_within(dqlc_test_cluster_t *tc, int timeout_ms);
/* Like tc_leader but the agreed leader must differ from `old`. */
int tc_wait_leader_change(dqlc_test_cluster_t *tc, int old, int timeout_ms);

/* Process control; 0 on success, -1 on failure (message on stderr). */
int tc_kill(dqlc_test_cluster_t *tc, int i);    /* SIGKILL and reap */
int tc_stop(dqlc_test_cluster_t *tc, int i);    /* SIGSTOP, returns once stopped */
int tc_cont(dqlc_test_cluster_t *tc, int i);    /* SIGCONT, returns once running */
/* Start node i again (stopping it first if it runs): same id, address and
 * data directory; returns once it serves (not waiting for a leader). */
int tc_restart(dqlc_test_cluster_t *tc, int i);
/* Start a new node on a free port and join it (ADD + ASSIGN through
 * dqlc-node --join); returns its index once it is a member, or -1.
 * role: DQLC_ROLE_VOTER / _STANDBY / _SPARE. */
int tc_add_node(dqlc_test_cluster_t *tc);
int tc_add_node_role(dqlc_test_cluster_t *tc, int role);

/* Number of nodes that died on their own since tc_start (a crash, an
 * abort in libdqlite, a sanitizer report): each is reaped, reported with its
 * log tail on stderr and counted as down.  Tests that must not take a node
 * down assert this stays 0. */
int tc_unexpected_exits(dqlc_test_cluster_t *tc);

/* Print the last `lines` lines of node i's log (every node's if i < 0). */
void tc_print_logs(const dqlc_test_cluster_t *tc, int i, int lines);

/* ---- TLS ------------------------------------------------------------------ */

/* Files made by tls-certs.sh (see there for their properties). */
typedef enum {
	TC_TLS_CA,                /* the test CA: signs nodes and clients */
	TC_TLS_CLIENT_CERT,       /* client certificate signed by the CA */
	TC_TLS_CLIENT_KEY,
	TC_TLS_CLIENT_BUNDLE,     /* client cert then CA: go-dqlite's shell -c */
	TC_TLS_SERVER_CERT,       /* node certificate: IP:127.0.0.1, DNS:localhost,dqlite */
	TC_TLS_SERVER_KEY,
	TC_TLS_WRONG_CA,          /* an unrelated CA */
	TC_TLS_WRONG_CLIENT_CERT, /* client certificate signed by the wrong CA */
	TC_TLS_WRONG_CLIENT_KEY,
	TC_TLS_MISMATCH_CERT,     /* node certificate naming only DNS:other.example */
	TC_TLS_MISMATCH_KEY,
} tc_tls_file_t;

/* The name in TC_TLS_MISMATCH_CERT. */
#define TC_TLS_MISMATCH_NAME "other.example"

/* Make the test certificates in the cluster's directory (done by tc_start
 * for TLS clusters; a plaintext cluster's tests may want them too, e.g. for
 * a TLS client against a plaintext node).  Idempotent; 0 or -1. */
int tc_tls_certs(dqlc_test_cluster_t *tc);
/* Path of one of them; NULL (with a complaint) before they exist. */
const char *tc_tls_file(const dqlc_test_cluster_t *tc, tc_tls_file_t which);
/* The URI query (no '?') with the library's TLS keys that reach this
 * cluster's nodes: "tls=verify-full&tls_ca=..&tls_cert=..&tls_key=.."
 * (plus tls_server_name for TC_TLS_MISMATCH); "" for a plaintext cluster.
 * Valid until tc_destroy. */
const char *tc_tls_query(dqlc_test_cluster_t *tc);
/* Set the same keys on cfg; 0, or the library's error code. */
int tc_tls_config(const dqlc_test_cluster_t *tc, dqlc_config_t *cfg, dqlc_error_t *err);
/* TC_TLS_* the cluster was started with. */
int tc_tls_mode(const dqlc_test_cluster_t *tc);

#endif
