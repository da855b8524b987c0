#!/bin/sh
# Run a program of the Debian 13 root (scripts/trixie-root.sh) on this host:
#
#   scripts/trixie-run.sh PROGRAM [ARGS...]
#
# PROGRAM is an absolute path: of a program in the root (/usr/bin/dqlite-demo
# runs the root's, even where the host has one too), else of a host file
# linked against the root's libraries (the dqlc-node that
# scripts/trixie-node.sh builds in the root).  It runs under the root's own dynamic
# loader with only the root's libraries (--inhibit-cache: the host's
# /etc/ld.so.cache is never read), so trixie's glibc, libdqlite 1.18.1,
# libuv and OpenSSL are used while every path the program is given or opens
# stays a host path (no chroot: data directories, certificates and sockets
# mean the same to the program and to the test that started it) and no root
# privileges are needed.
#
# The loader is exec'd: the process keeps this script's pid, so signals,
# waitpid and PR_SET_PDEATHSIG reach the program itself.
set -eu
root=${DQLC_TRIXIE_ROOT:-/var/cache/dqlc/trixie-root}
prog=${1:?usage: trixie-run.sh PROGRAM [ARGS...]}
shift
# The root's copy wins (/usr/bin/dqlite-demo exists on a Debian 12 host too).
case "$prog" in
/*) [ ! -x "$root$prog" ] || prog=$root$prog ;;
esac
loader=$root/lib64/ld-linux-x86-64.so.2
if [ ! -x "$loader" ] || [ ! -f "$root/.dqlc-root-complete" ]; then
	echo "trixie-run: no complete Debian 13 root at $root (make it with scripts/trixie-root.sh)" >&2
	exit 127
fi
libs=$root/lib/x86_64-linux-gnu:$root/usr/lib/x86_64-linux-gnu
# OpenSSL's configuration and provider modules from the root, not the host's.
OPENSSL_CONF=$root/usr/lib/ssl/openssl.cnf
OPENSSL_MODULES=$root/usr/lib/x86_64-linux-gnu/ossl-modules
export OPENSSL_CONF OPENSSL_MODULES
exec "$loader" --inhibit-cache --library-path "$libs" --argv0 "$(basename "$prog")" "$prog" "$@"
