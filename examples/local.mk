# Examples: small programs that use only the public API and link the library
# as a user would (libdqlite-client.la, not the internal convenience library).
noinst_PROGRAMS += examples/quickstart
examples_quickstart_SOURCES = examples/quickstart.c
examples_quickstart_LDADD = libdqlite-client.la

# One program per feature (pool + futures, callbacks, the transaction
# helper, streaming, administration, TLS).  tests/integration/run-examples.sh
# runs them against a real cluster in `make check`.
noinst_PROGRAMS += examples/pool_futures
examples_pool_futures_SOURCES = examples/pool_futures.c
examples_pool_futures_LDADD = libdqlite-client.la
noinst_PROGRAMS += examples/callbacks
examples_callbacks_SOURCES = examples/callbacks.c
examples_callbacks_LDADD = libdqlite-client.la
noinst_PROGRAMS += examples/transaction
examples_transaction_SOURCES = examples/transaction.c
examples_transaction_LDADD = libdqlite-client.la
noinst_PROGRAMS += examples/streaming
examples_streaming_SOURCES = examples/streaming.c
examples_streaming_LDADD = libdqlite-client.la
noinst_PROGRAMS += examples/admin
examples_admin_SOURCES = examples/admin.c
examples_admin_LDADD = libdqlite-client.la
noinst_PROGRAMS += examples/tls
examples_tls_SOURCES = examples/tls.c
examples_tls_LDADD = libdqlite-client.la

# A pre-forking server skeleton (fork safety, issue 6; doc/forking.md): the
# master creates the pool without using it and forks workers that use it.
# Arguments: [URI [WORKERS [REQUESTS]]] (URI else $DQLC_URI); exits 0 when
# every worker succeeded.
noinst_PROGRAMS += examples/prefork_server
examples_prefork_server_SOURCES = examples/prefork_server.c
examples_prefork_server_LDADD = libdqlite-client.la
