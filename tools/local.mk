# Tools.
#
# dqlc-node: one real dqlite node for development, tests, the demo and the
# benchmarks.  It is the only program that links libdqlite, next to the
# client's internal convenience library (both headers in one program).
if HAVE_DQLITE
bin_PROGRAMS += tools/dqlc-node
tools_dqlc_node_SOURCES = \
	tools/dqlc-node.c \
	tools/node-opts.c tools/node-opts.h \
	tools/node-join.c tools/node-join.h
tools_dqlc_node_CFLAGS = $(AM_CFLAGS) $(DQLITE_CFLAGS)
tools_dqlc_node_LDADD = libdqlc-core.la $(DQLITE_LIBS)
# The TLS front end (--tls-*): only with OpenSSL; without it dqlc-node
# refuses those options.
if HAVE_OPENSSL
tools_dqlc_node_SOURCES += \
	tools/node-tls.c tools/node-tls.h \
	tools/node-proxy.c tools/node-proxy.h
tools_dqlc_node_CFLAGS += $(OPENSSL_CFLAGS)
tools_dqlc_node_LDADD += $(OPENSSL_LIBS)
endif
endif

# dqlc-cluster: start/stop/status of a local N-node cluster of dqlc-node
# processes (POSIX sh; finds dqlc-node next to itself or on PATH).
dist_bin_SCRIPTS = tools/dqlc-cluster

# Test certificates for TLS clusters (dqlc-cluster --tls, the test harness):
# installed next to dqlc-cluster, which finds it there or in the source tree.
dist_pkgdata_SCRIPTS = tests/harness/tls-certs.sh
