# Tests.  Check is required for `make check`.
if HAVE_CHECK
TEST_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
TEST_LIBS = libdqlc-core.la $(CHECK_LIBS)

check_PROGRAMS += tests/unit/test-wire
tests_unit_test_wire_SOURCES = tests/unit/test_wire.c
tests_unit_test_wire_CFLAGS = $(TEST_CFLAGS)
tests_unit_test_wire_LDADD = $(TEST_LIBS)

TESTS += $(check_PROGRAMS)
else
check-local:
	@echo "Check (https://libcheck.github.io/check/) is required for 'make check'." >&2
	@echo "Debian: apt-get install check, then re-run ./configure." >&2
	@exit 1
endif

# ---- Integration tests against real dqlite nodes ---------------------------
# (owned by the harness; append-only, kept apart from the unit tests above)
# Each program runs tools/dqlc-node processes through tests/harness/; the
# node program is found through DQLC_NODE_BIN.
if HAVE_CHECK
if HAVE_DQLITE
# DQLC_SERVER picks the server generation the nodes run: 1.11 (default: this
# host's libdqlite) or 1.18 (tools/trixie/dqlc-node: see check-1.18 below).
AM_TESTS_ENVIRONMENT = case "$${DQLC_SERVER:-1.11}" in \
	1.11) DQLC_NODE_BIN=$(abs_top_builddir)/tools/dqlc-node ;; \
	1.18) DQLC_NODE_BIN=$(abs_top_builddir)/tools/trixie/dqlc-node; \
	      DQLC_SHELL_BIN=$(abs_top_builddir)/tools/dqlc; export DQLC_SHELL_BIN ;; \
	*) echo "DQLC_SERVER=$$DQLC_SERVER: expected 1.11 or 1.18" >&2; exit 99 ;; \
	esac; export DQLC_NODE_BIN;
HARNESS_SOURCES = \
	tests/harness/cluster.c tests/harness/cluster.h \
	tests/harness/proc.c tests/harness/proc.h \
	tests/harness/server.c tests/harness/server.h
HARNESS_CFLAGS = $(TEST_CFLAGS) -I$(top_srcdir)/tests/harness \
	-DDQLC_NODE_BIN_DEFAULT='"$(abs_top_builddir)/tools/dqlc-node"' \
	-DDQLC_TLS_CERTS_SCRIPT_DEFAULT='"$(abs_top_srcdir)/tests/harness/tls-certs.sh"'

check_PROGRAMS += tests/integration/test-harness
tests_integration_test_harness_SOURCES = tests/integration/test_harness.c $(HARNESS_SOURCES)
tests_integration_test_harness_CFLAGS = $(HARNESS_CFLAGS)
tests_integration_test_harness_LDADD = $(TEST_LIBS)
endif
endif
# ---- end of integration tests -----------------------------------------------

# ---- Connection tests against real nodes (issue 3: discovery, SQL, failover,
# go-dqlite interop).  Same harness and node program as the block above.
if HAVE_CHECK
if HAVE_DQLITE
check_PROGRAMS += tests/integration/test-conn
tests_integration_test_conn_SOURCES = tests/integration/test_conn.c $(HARNESS_SOURCES)
tests_integration_test_conn_CFLAGS = $(HARNESS_CFLAGS)
tests_integration_test_conn_LDADD = $(TEST_LIBS)
check_PROGRAMS += tests/integration/test-conn-sql
tests_integration_test_conn_sql_SOURCES = tests/integration/test_conn_sql.c $(HARNESS_SOURCES)
tests_integration_test_conn_sql_CFLAGS = $(HARNESS_CFLAGS)
tests_integration_test_conn_sql_LDADD = $(TEST_LIBS) -lm
check_PROGRAMS += tests/integration/test-conn-failover
tests_integration_test_conn_failover_SOURCES = tests/integration/test_conn_failover.c \
	$(HARNESS_SOURCES)
tests_integration_test_conn_failover_CFLAGS = $(HARNESS_CFLAGS)
tests_integration_test_conn_failover_LDADD = $(TEST_LIBS)
check_PROGRAMS += tests/integration/test-interop
tests_integration_test_interop_SOURCES = tests/integration/test_interop.c $(HARNESS_SOURCES)
tests_integration_test_interop_CFLAGS = $(HARNESS_CFLAGS)
tests_integration_test_interop_LDADD = $(TEST_LIBS)
endif
endif
# ---- end of connection tests ------------------------------------------------

# ---- Pool tests against real 3-node clusters (issue 4) -----------------------
# (owned by the pool tests; tests/integration/test_pool_*.c)
if HAVE_CHECK
if HAVE_DQLITE
POOL_TEST_SOURCES = tests/integration/test_pool_util.c tests/integration/test_pool_util.h \
	$(HARNESS_SOURCES)

check_PROGRAMS += tests/integration/test-pool-api
tests_integration_test_pool_api_SOURCES = tests/integration/test_pool_api.c $(POOL_TEST_SOURCES)
tests_integration_test_pool_api_CFLAGS = $(HARNESS_CFLAGS)
tests_integration_test_pool_api_LDADD = $(TEST_LIBS)

check_PROGRAMS += tests/integration/test-pool-futures
tests_integration_test_pool_futures_SOURCES = tests/integration/test_pool_futures.c \
	$(POOL_TEST_SOURCES)
tests_integration_test_pool_futures_CFLAGS = $(HARNESS_CFLAGS)
tests_integration_test_pool_futures_LDADD = $(TEST_LIBS)

check_PROGRAMS += tests/integration/test-pool-conns
tests_integration_test_pool_conns_SOURCES = tests/integration/test_pool_conns.c \
	$(POOL_TEST_SOURCES)
tests_integration_test_pool_conns_CFLAGS = $(HARNESS_CFLAGS)
tests_integration_test_pool_conns_LDADD = $(TEST_LIBS)

check_PROGRAMS += tests/integration/test-pool-faults
tests_integration_test_pool_faults_SOURCES = tests/integration/test_pool_faults.c \
	$(POOL_TEST_SOURCES)
tests_integration_test_pool_faults_CFLAGS = $(HARNESS_CFLAGS)
tests_integration_test_pool_faults_LDADD = $(TEST_LIBS)
endif
endif
# ---- end of pool tests --------------------------------------------------------

# ---- Unit tests other than the wire codec (issue 2), and build-level
# checks: exported symbols, the public header in C11, C++ and next to
# <dqlite.h>.  (owned by the unit-test block; append-only like the others)
if HAVE_CHECK
check_PROGRAMS += tests/unit/test-values
tests_unit_test_values_SOURCES = tests/unit/test_values.c
tests_unit_test_values_CFLAGS = $(TEST_CFLAGS)
tests_unit_test_values_LDADD = $(TEST_LIBS) -lm

check_PROGRAMS += tests/unit/test-config
tests_unit_test_config_SOURCES = tests/unit/test_config.c
tests_unit_test_config_CFLAGS = $(TEST_CFLAGS)
tests_unit_test_config_LDADD = $(TEST_LIBS)

check_PROGRAMS += tests/unit/test-sqltext
tests_unit_test_sqltext_SOURCES = tests/unit/test_sqltext.c
tests_unit_test_sqltext_CFLAGS = $(TEST_CFLAGS)
tests_unit_test_sqltext_LDADD = $(TEST_LIBS)

check_PROGRAMS += tests/unit/test-future
tests_unit_test_future_SOURCES = tests/unit/test_future.c
tests_unit_test_future_CFLAGS = $(TEST_CFLAGS)
tests_unit_test_future_LDADD = $(TEST_LIBS)

# The public header alone (no build-config.h, no src/) in strict C11, in
# C++11 and next to libdqlite's <dqlite.h>; each program links the shared
# library the way a user's program does, runs, and exits 0.
HEADER_TEST_CPPFLAGS = -I$(top_srcdir)/include
HEADER_TEST_WARN = -Wall -Wextra -pedantic -Werror

check_PROGRAMS += tests/unit/test-header-c
tests_unit_test_header_c_SOURCES = tests/unit/header_c.c
tests_unit_test_header_c_CPPFLAGS = $(HEADER_TEST_CPPFLAGS)
tests_unit_test_header_c_CFLAGS = -std=c11 $(HEADER_TEST_WARN) $(SANITIZER_CFLAGS)
tests_unit_test_header_c_LDADD = libdqlite-client.la

check_PROGRAMS += tests/unit/test-header-cxx
tests_unit_test_header_cxx_SOURCES = tests/unit/header_cxx.cc
tests_unit_test_header_cxx_CPPFLAGS = $(HEADER_TEST_CPPFLAGS)
tests_unit_test_header_cxx_CXXFLAGS = -std=c++11 $(HEADER_TEST_WARN) $(SANITIZER_CFLAGS)
tests_unit_test_header_cxx_LDADD = libdqlite-client.la

if HAVE_DQLITE
check_PROGRAMS += tests/unit/test-header-with-dqlite
tests_unit_test_header_with_dqlite_SOURCES = tests/unit/header_with_dqlite.c
tests_unit_test_header_with_dqlite_CPPFLAGS = $(HEADER_TEST_CPPFLAGS) $(DQLITE_CFLAGS)
tests_unit_test_header_with_dqlite_CFLAGS = -std=c11 $(HEADER_TEST_WARN) $(SANITIZER_CFLAGS)
tests_unit_test_header_with_dqlite_LDADD = libdqlite-client.la $(DQLITE_LIBS)
endif

# Exported symbols of the shared library = the header's DQLC_API names.
TESTS += tests/unit/check-exports.sh
EXTRA_DIST += tests/unit/check-exports.sh
# AM_TESTS_ENVIRONMENT is shared: the integration block above sets it when
# libdqlite is there (append to it), else it is ours to define.
UNIT_TESTS_ENVIRONMENT = DQLC_BUILDDIR='$(abs_top_builddir)'; DQLC_NM='$(NM)'; \
	export DQLC_BUILDDIR DQLC_NM;
if HAVE_DQLITE
AM_TESTS_ENVIRONMENT += $(UNIT_TESTS_ENVIRONMENT)
else
AM_TESTS_ENVIRONMENT = $(UNIT_TESTS_ENVIRONMENT)
endif
endif
# ---- end of unit tests (values, config, sqltext, future, build checks) ------

# ---- TLS cluster tests (issue 7): dqlc-node's TLS front end, the harness's
# TLS clusters (tc_opts_t.tls, tests/harness/tls-certs.sh) and the library's
# TLS against them.  (owned by the TLS cluster tests; append-only)
if HAVE_CHECK
if HAVE_DQLITE
if HAVE_OPENSSL
check_PROGRAMS += tests/integration/test-tls-cluster
tests_integration_test_tls_cluster_SOURCES = tests/integration/test_tls_cluster.c \
	$(HARNESS_SOURCES)
tests_integration_test_tls_cluster_CFLAGS = $(HARNESS_CFLAGS)
tests_integration_test_tls_cluster_LDADD = $(TEST_LIBS)
endif
endif
endif
# ---- end of TLS cluster tests ---------------------------------------------------

# ---- Cluster tests against real nodes (issue 5: membership through the
# admin API, transfer under load, restarts, a stopped leader, dumps).
# (owned by the cluster tests; tests/integration/test_cluster_*.c)
if HAVE_CHECK
if HAVE_DQLITE
CLUSTER_TEST_SOURCES = tests/integration/test_cluster_util.c \
	tests/integration/test_cluster_util.h $(HARNESS_SOURCES)

check_PROGRAMS += tests/integration/test-cluster-admin
tests_integration_test_cluster_admin_SOURCES = tests/integration/test_cluster_admin.c \
	$(CLUSTER_TEST_SOURCES)
tests_integration_test_cluster_admin_CFLAGS = $(HARNESS_CFLAGS)
tests_integration_test_cluster_admin_LDADD = $(TEST_LIBS) -lsqlite3

check_PROGRAMS += tests/integration/test-cluster-failover
tests_integration_test_cluster_failover_SOURCES = tests/integration/test_cluster_failover.c \
	$(CLUSTER_TEST_SOURCES)
tests_integration_test_cluster_failover_CFLAGS = $(HARNESS_CFLAGS)
tests_integration_test_cluster_failover_LDADD = $(TEST_LIBS)
endif
endif
# ---- end of cluster tests -------------------------------------------------------

# ---- Fork-safety tests against real 3-node clusters (issue 6) ---------------
# (owned by the fork tests; tests/integration/test_fork.c).  Children report
# through pipes and exit codes; DQLC_FORK_ROUNDS bounds the fork stress test
# (default 100).
if HAVE_CHECK
if HAVE_DQLITE
check_PROGRAMS += tests/integration/test-fork
tests_integration_test_fork_SOURCES = tests/integration/test_fork.c $(HARNESS_SOURCES)
tests_integration_test_fork_CFLAGS = $(HARNESS_CFLAGS)
tests_integration_test_fork_LDADD = $(TEST_LIBS)
endif
endif
# ---- end of fork tests ------------------------------------------------------

# ---- Examples against a real cluster (issue 8): every program in examples/
# runs against a 3-node dqlc-cluster (and tls.c against a TLS one); the
# script prints "N passed, N failed".  (owned by the examples; append-only)
if HAVE_DQLITE
TESTS += tests/integration/run-examples.sh
endif
EXTRA_DIST += tests/integration/run-examples.sh
# ---- end of examples --------------------------------------------------------

# ---- Shell tests (issue 8): tools/dqlc against a real 3-node cluster, next
# to go-dqlite's `dqlite` shell, and interactive through tmux (shell-tty.sh).
# (owned by the shell tests; append-only)
if HAVE_CHECK
if HAVE_DQLITE
check_PROGRAMS += tests/integration/test-shell
tests_integration_test_shell_SOURCES = tests/integration/test_shell.c $(HARNESS_SOURCES)
tests_integration_test_shell_CFLAGS = $(HARNESS_CFLAGS) \
	-DDQLC_SHELL_BIN_DEFAULT='"$(abs_top_builddir)/tools/dqlc"'
tests_integration_test_shell_LDADD = $(TEST_LIBS)
TESTS += tests/integration/shell-tty.sh
EXTRA_DIST += tests/integration/shell-tty.sh
endif
endif
# ---- end of shell tests -------------------------------------------------------

# ---- The second server generation (issue 10): libdqlite 1.18.1 and go-dqlite
# 2.0 from a Debian 13 root made and cached by scripts/trixie-root.sh
# (/var/cache/dqlc/trixie-root; root and network needed the first time).
#   make trixie-node   dqlc-node compiled inside the root against 1.18.1:
#                      tools/trixie/dqlc-node (a wrapper that runs it on this
#                      host under the root's loader and libraries)
#   make check-1.18    every integration test again, with DQLC_SERVER=1.18
#                      (their nodes are 1.18.1), plus the TLS interop test
#                      against go-dqlite 2.0's dqlite-demo
# (owned by the server matrix; append-only)
if HAVE_CHECK
if HAVE_DQLITE
TRIXIE_NODE_FILES = include/dqlite-client.h $(libdqlc_core_la_SOURCES) \
	$(tools_dqlc_node_SOURCES)
trixie-node: build-config.h
	$(SHELL) $(top_srcdir)/scripts/trixie-node.sh $(top_srcdir) \
		$(top_builddir)/build-config.h $(top_builddir)/tools/trixie $(TRIXIE_NODE_FILES)

check_PROGRAMS += tests/integration/test-server-features
tests_integration_test_server_features_SOURCES = \
	tests/integration/test_server_features.c $(HARNESS_SOURCES)
tests_integration_test_server_features_CFLAGS = $(HARNESS_CFLAGS)
tests_integration_test_server_features_LDADD = $(TEST_LIBS)

if HAVE_OPENSSL
# Only in check-1.18: it runs go-dqlite 2.0's dqlite-demo from the root.  The
# .test suffix gives it automake's generic .test.log rule, as it is not in
# the static TESTS list.
EXTRA_PROGRAMS = tests/integration/godqlite-tls.test
tests_integration_godqlite_tls_test_SOURCES = \
	tests/integration/test_godqlite_tls.c $(HARNESS_SOURCES)
tests_integration_godqlite_tls_test_CFLAGS = $(HARNESS_CFLAGS) \
	-DDQLC_TRIXIE_RUN_DEFAULT='"$(abs_top_srcdir)/scripts/trixie-run.sh"' \
	-DDQLC_SHELL_BIN_DEFAULT='"$(abs_top_builddir)/tools/dqlc"'
tests_integration_godqlite_tls_test_LDADD = $(TEST_LIBS)
CLEANFILES += tests/integration/godqlite-tls.test
GODQLITE_TLS_TEST = tests/integration/godqlite-tls.test
endif

check-1.18: all trixie-node $(check_PROGRAMS) $(GODQLITE_TLS_TEST)
	@list=""; for t in $(TESTS) $(GODQLITE_TLS_TEST); do \
		case "$$t" in tests/integration/*) \
			case " $$list " in *" $$t "*) ;; *) list="$$list $$t" ;; esac ;; \
		esac; \
	done; \
	echo "check-1.18: against libdqlite 1.18.1:$$list"; \
	DQLC_SERVER=1.18 $(MAKE) $(AM_MAKEFLAGS) check-TESTS TESTS="$$list"
endif
endif
.PHONY: trixie-node check-1.18
EXTRA_DIST += scripts/trixie-root.sh scripts/trixie-node.sh scripts/trixie-run.sh
# ---- end of the second server generation -------------------------------------

# ---- Faults, chaos and soak (issue 9).  (owned by the chaos tests;
# append-only)
# test-hostile: the client against tests/fakenode, a fake node answering
# with random and mutated frames (part of `make check`).
# tests/chaos/chaos (built with the other programs, never run by `make
# check`; `make chaos` builds just it): a real cluster behind
# tests/faultproxy proxies, a mixed workload through one pool, a nemesis,
# invariant checks; also the soak mode.  Run it as
#   tests/chaos/chaos --seed N --duration S      (or --soak --duration S)
if HAVE_CHECK
check_PROGRAMS += tests/integration/test-hostile
tests_integration_test_hostile_SOURCES = tests/integration/test_hostile.c \
	tests/fakenode/fakenode.c tests/fakenode/fakenode.h \
	tests/faultproxy/faultproxy.c tests/faultproxy/faultproxy.h
tests_integration_test_hostile_CFLAGS = $(TEST_CFLAGS) -I$(top_srcdir)/tests/fakenode \
	-I$(top_srcdir)/tests/faultproxy
tests_integration_test_hostile_LDADD = $(TEST_LIBS)
if HAVE_DQLITE
noinst_PROGRAMS += tests/chaos/chaos
tests_chaos_chaos_SOURCES = tests/chaos/chaos.c \
	tests/faultproxy/faultproxy.c tests/faultproxy/faultproxy.h $(HARNESS_SOURCES)
tests_chaos_chaos_CFLAGS = $(HARNESS_CFLAGS) -I$(top_srcdir)/tests/faultproxy
tests_chaos_chaos_LDADD = libdqlc-core.la
chaos: tests/chaos/chaos$(EXEEXT) tools/dqlc-node$(EXEEXT)
endif
endif
if !HAVE_CHECK
chaos:
	@echo "make chaos needs Check and libdqlite; configure did not find them" >&2; exit 1
else
if !HAVE_DQLITE
chaos:
	@echo "make chaos needs libdqlite (dqlc-node); configure did not find it" >&2; exit 1
endif
endif
.PHONY: chaos
# ---- end of faults, chaos and soak ------------------------------------------

# The list of tests, for run-tests.sh's TESTS_EXCLUDE.
print-tests:
	@echo $(TESTS)
.PHONY: print-tests
