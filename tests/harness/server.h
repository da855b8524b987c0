/*
 * The dqlite server the integration tests run against: the libdqlite that
 * the node program ($DQLC_NODE_BIN, else the build tree's tools/dqlc-node)
 * is linked with, read once per process from `dqlc-node --version`.
 *
 * Every program linking the harness prints it once on stderr when it starts
 * ("harness: server under test: ..."), so each suite's log names the server
 * generation its results are for.  Tests whose expected outcome depends on
 * the server ask here, then check that outcome (both branches assert).
 */
#ifndef DQLC_TEST_SERVER_H
#define DQLC_TEST_SERVER_H

#include <stdbool.h>

/* dqlite_version_number() of the node program's libdqlite (Debian 12's
 * 1.11.1 reports 11000, Debian 13's 1.18.1 11800); -1 when the node program
 * could not be run or did not say. */
int tc_server_version(void);
/* The 1.11 generation (no schema-1 parameters, no PREPARE tail offsets, no
 * leader check on PREPARE): version below 11200.  Aborts the test (with
 * the reason) when the version is unknown: no test may pass by guessing. */
bool tc_server_is_1_11(void);
/* One line: version number, generation, package when known, program. */
const char *tc_server_describe(void);

#endif
