# The library.  Everything is compiled once into a convenience library
# (tests link it directly to reach internals) and wrapped by the installed
# shared/static library, which exports only the public dqlc_* names.
noinst_LTLIBRARIES += libdqlc-core.la
libdqlc_core_la_CFLAGS = $(AM_CFLAGS) -fvisibility=hidden $(OPENSSL_CFLAGS)
libdqlc_core_la_LIBADD = $(OPENSSL_LIBS)
libdqlc_core_la_SOURCES = \
	src/error.c src/error.h \
	src/value.c \
	src/clock.h src/rand.c src/rand.h src/sync.c src/sync.h \
	src/config.c src/cfg.h \
	src/net/sock.c src/net/sock.h src/net/tls.c src/net/tls.h \
	src/conn.c src/conn.h src/features.c src/sql.c src/cursor.c src/admin.c src/connect.c \
	src/sqltext.c src/sqltext.h \
	src/result.c src/result.h \
	src/cluster/discover.c src/cluster/discover.h src/cluster/leader_cache.c \
	src/cluster/map.c src/cluster/map.h \
	src/stmtcache.c src/log.c src/log.h src/future.c src/future.h src/fork.c \
	src/pool/pool.c src/pool/pool.h src/pool/lease.c src/pool/worker.c src/pool/txn.c src/pool/admin.c \
	src/wire/wire.h src/wire/buf.h src/wire/buf.c src/wire/encode.c src/wire/decode.c src/wire/rows.c

# The test node (tools/dqlc-node) runs real dqlite nodes for the tests: in
# sanitizer builds it links an uninstrumented copy of the library, so that
# instrumentation slows the client under test, not the servers (slowed
# servers miss heartbeats and lose leadership mid-test).
if SANITIZE
noinst_LTLIBRARIES += libdqlc-plain.la
libdqlc_plain_la_SOURCES = $(libdqlc_core_la_SOURCES)
libdqlc_plain_la_CFLAGS = -std=c11 $(WARN_CFLAGS) $(PTHREAD_CFLAGS) -fvisibility=hidden $(OPENSSL_CFLAGS)
libdqlc_plain_la_LIBADD = $(OPENSSL_LIBS)
NODE_CORE_LIB = libdqlc-plain.la
NODE_COMPILE_FLAGS = -std=c11 $(WARN_CFLAGS) $(PTHREAD_CFLAGS)
NODE_LINK_FLAGS = $(PTHREAD_CFLAGS)
else
NODE_CORE_LIB = libdqlc-core.la
NODE_COMPILE_FLAGS = $(AM_CFLAGS)
NODE_LINK_FLAGS = $(AM_LDFLAGS)
endif

lib_LTLIBRARIES += libdqlite-client.la
libdqlite_client_la_SOURCES =
libdqlite_client_la_LIBADD = libdqlc-core.la
libdqlite_client_la_LDFLAGS = -version-info $(LIB_VERSION_INFO) -export-symbols-regex '^dqlc_[a-z]'
