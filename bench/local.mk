# dqlc-bench: the peer-bench workloads through this library (public API only).
noinst_PROGRAMS += bench/dqlc-bench
bench_dqlc_bench_SOURCES = bench/dqlc-bench.c
bench_dqlc_bench_LDADD = libdqlite-client.la
