# Examples: small programs that use only the public API and link the library
# as a user would (libdqlite-client.la, not the internal convenience library).
noinst_PROGRAMS += examples/quickstart
examples_quickstart_SOURCES = examples/quickstart.c
examples_quickstart_LDADD = libdqlite-client.la
