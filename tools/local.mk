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
endif

# dqlc-cluster: start/stop/status of a local N-node cluster of dqlc-node
# processes (POSIX sh; finds dqlc-node next to itself or on PATH).
dist_bin_SCRIPTS = tools/dqlc-cluster
