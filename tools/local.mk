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
tools_dqlc_node_CFLAGS = $(NODE_COMPILE_FLAGS) $(DQLITE_CFLAGS)
tools_dqlc_node_LDFLAGS = $(NODE_LINK_FLAGS)
tools_dqlc_node_LDADD = $(NODE_CORE_LIB) $(DQLITE_LIBS)
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

# ---- dqlc: the interactive and scriptable shell (issue 8) -------------------
# Public API only: links the installed library as a user program would.
bin_PROGRAMS += tools/dqlc
tools_dqlc_SOURCES = \
	tools/dqlc.c tools/shell.h \
	tools/shell-args.c tools/shell-args.h \
	tools/shell-buf.c tools/shell-buf.h \
	tools/shell-dot.c \
	tools/shell-input.c tools/shell-input.h \
	tools/shell-output.c tools/shell-output.h \
	tools/shell-split.c tools/shell-split.h \
	tools/shell-tls.c tools/shell-tls.h
tools_dqlc_CFLAGS = $(AM_CFLAGS)
tools_dqlc_LDADD = libdqlite-client.la
# Line editing and history (optional; plain lines without it).
if HAVE_LIBEDIT
tools_dqlc_CFLAGS += $(LIBEDIT_CFLAGS)
tools_dqlc_LDADD += $(LIBEDIT_LIBS)
endif
# go-dqlite's -c/-k read the server name from the certificate.
if HAVE_OPENSSL
tools_dqlc_CFLAGS += $(OPENSSL_CFLAGS)
tools_dqlc_LDADD += $(OPENSSL_LIBS)
endif
dist_man1_MANS = doc/dqlc.1
# ---- end of dqlc ------------------------------------------------------------
