#!/bin/sh
# run-examples.sh: run every program in examples/ against a real local
# cluster (tools/dqlc-cluster: 3 dqlc-node processes on free loopback
# ports), check each one's exit status and a key line of its output, and
# print "N passed, N failed".  Run by `make check` from the build directory;
# by hand:
#
#   cd BUILD && sh SRC/tests/integration/run-examples.sh
#
# tls.c is run twice: against the plaintext cluster, where it must fail
# cleanly (a TLS handshake error, or exit 77 with "built without OpenSSL"
# when the library has no TLS), and, when the library has OpenSSL, against a
# TLS cluster with a client certificate (mutual TLS, tls=verify-full), where
# it must succeed.  The TLS cluster is `dqlc-cluster --tls` (3 nodes, after
# the plaintext one is stopped); with an older dqlc-cluster without --tls it
# is one dqlc-node started here with tests/harness/tls-certs.sh's files.
#
# Whatever happens, every node started here is stopped (trap).
set -u

here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
build=$(pwd)
cluster_sh="$src/tools/dqlc-cluster"
: "${DQLC_NODE_BIN:=$build/tools/dqlc-node}"
export DQLC_NODE_BIN

if [ ! -x "$DQLC_NODE_BIN" ]; then
	echo "run-examples: $DQLC_NODE_BIN not built: nothing to run against" >&2
	exit 77
fi
echo "run-examples: server under test: $("$DQLC_NODE_BIN" --version 2>&1 | tr '\n' ' ')"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/dqlc-examples.XXXXXX") || exit 99
cdir="$tmp/cluster"
tls_dir="$tmp/tls"
tls_pid=
cleanup() {
	"$cluster_sh" stop --dir "$cdir" --clean >/dev/null 2>&1
	"$cluster_sh" stop --dir "$tls_dir/cluster" --clean >/dev/null 2>&1
	if [ -n "$tls_pid" ]; then
		kill "$tls_pid" 2>/dev/null
		wait "$tls_pid" 2>/dev/null
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

passed=0
failed=0
names_failed=

# run NAME EXPECT_RC KEY_LINE PROGRAM ARGS...: run one example (2 minutes
# at most), check its exit status and that its output (stdout and stderr)
# has a line containing KEY_LINE (any output when KEY_LINE is empty).
run() {
	r_name=$1 r_rc=$2 r_key=$3
	shift 3
	r_out="$tmp/$r_name.out"
	r_start=$(date +%s)
	timeout 120 "$@" >"$r_out" 2>&1
	r_got=$?
	r_secs=$(($(date +%s) - r_start))
	r_found=yes
	if [ -n "$r_key" ] && ! grep -qF -- "$r_key" "$r_out"; then
		r_found=no
	fi
	if [ "$r_got" -eq "$r_rc" ] && [ "$r_found" = yes ]; then
		echo "PASS: $r_name (exit $r_got, ${r_secs}s): $(grep -F -- "$r_key" "$r_out" | tail -n 1)"
		passed=$((passed + 1))
	else
		echo "FAIL: $r_name: exit $r_got (expected $r_rc), key line '$r_key' $r_found; output:"
		sed 's/^/    /' "$r_out"
		failed=$((failed + 1))
		names_failed="$names_failed $r_name"
	fi
}

# The examples that exist in this build (quickstart and prefork_server come
# from other hands: run them when they are there).
ex="$build/examples"
for p in quickstart pool_futures callbacks transaction streaming admin tls; do
	if [ ! -x "$ex/$p" ]; then
		echo "FAIL: examples/$p is not built (run make first)"
		failed=$((failed + 1))
		names_failed="$names_failed $p"
	fi
done

# A 3-node cluster on ports derived from our pid; try another range if one
# is taken.
start_cluster() {
	sc_try=0
	while [ $sc_try -lt 4 ]; do
		# 20000..31980, below the kernel's ephemeral range
		sc_port=$((20000 + ($$ * 7 + sc_try * 97) % 600 * 20))
		if addrs=$("$cluster_sh" start -n 3 --dir "$cdir" --port "$sc_port" --fresh 2>"$tmp/start.err"); then
			return 0
		fi
		"$cluster_sh" stop --dir "$cdir" --clean >/dev/null 2>&1
		sc_try=$((sc_try + 1))
	done
	echo "run-examples: cannot start a 3-node cluster:" >&2
	cat "$tmp/start.err" >&2
	return 1
}
start_cluster || exit 99
echo "cluster: $addrs"
uri="dqlite://$addrs/examples"

run quickstart 0 "committed" "$ex/quickstart" "$uri"
run pool_futures 0 "pool_futures: ok" "$ex/pool_futures" "$uri"
# this one takes the URI from the environment
DQLC_URI=$uri
export DQLC_URI
run callbacks 0 "callbacks: ok" "$ex/callbacks"
unset DQLC_URI
run transaction 0 "total balance unchanged" "$ex/transaction" "$uri"
run streaming 0 "streamed 50000 rows" "$ex/streaming" "$uri"
run admin 0 "admin: ok" "$ex/admin" "$uri"
# Leadership moved: the others still find it.
run quickstart-after-transfer 0 "committed" "$ex/quickstart" "$uri"
if [ -x "$ex/prefork_server" ]; then
	run prefork_server 0 "" "$ex/prefork_server" "$uri"
fi

# TLS against the plaintext cluster: a clean, explained failure.
have_openssl=no
if grep -q '^#define DQLC_HAVE_OPENSSL 1' "$build/build-config.h" 2>/dev/null; then
	have_openssl=yes
fi
certs="$tmp/certs"
sh "$src/tests/harness/tls-certs.sh" "$certs" >"$tmp/certs.log" 2>&1 || {
	echo "run-examples: tls-certs.sh failed:" >&2
	cat "$tmp/certs.log" >&2
}
if [ "$have_openssl" = yes ]; then
	run tls-vs-plaintext 1 "TLS handshake failed" \
		"$ex/tls" "$uri?connect_timeout_ms=1500" "$certs/ca.crt" "$certs/client.crt" "$certs/client.key"
else
	run tls-without-openssl 77 "built without OpenSSL" \
		"$ex/tls" "$uri" "$certs/ca.crt" "$certs/client.crt" "$certs/client.key"
fi
"$cluster_sh" stop --dir "$cdir" --clean >/dev/null 2>&1

# TLS against a TLS node (one cluster at a time: the plaintext one is gone).
start_tls() {
	st_port=$((sc_port + 10))
	if "$cluster_sh" --help 2>&1 | grep -q -- '--tls'; then
		if taddrs=$("$cluster_sh" start --tls -n 3 --dir "$tls_dir/cluster" --port "$st_port" --fresh 2>"$tmp/tls-start.err"); then
			# Its certificates are in D/tls (tls-certs.sh's names).
			st_ca="$tls_dir/cluster/tls/ca.crt"
			st_crt="$tls_dir/cluster/tls/client.crt"
			st_key="$tls_dir/cluster/tls/client.key"
			if [ -r "$st_ca" ] && [ -r "$st_crt" ] && [ -r "$st_key" ]; then
				tls_how="dqlc-cluster --tls"
				return 0
			fi
		fi
		"$cluster_sh" stop --dir "$tls_dir/cluster" --clean >/dev/null 2>&1
	fi
	# One TLS node started here.
	mkdir -p "$tls_dir/n1"
	"$DQLC_NODE_BIN" --id 1 --address "127.0.0.1:$st_port" --dir "$tls_dir/n1" \
		--tls-cert "$certs/server.crt" --tls-key "$certs/server.key" \
		--tls-ca "$certs/ca.crt" >"$tmp/tls-node.log" 2>&1 </dev/null &
	tls_pid=$!
	st_wait=0
	while ! grep -q '^ready id=1 ' "$tmp/tls-node.log"; do
		st_wait=$((st_wait + 1))
		# (a dead child stays a zombie until waited for: look at its state)
		if [ $st_wait -gt 200 ] || [ "$(sed -e 's/^.*) //' -e 's/ .*$//' "/proc/$tls_pid/stat" 2>/dev/null)" = Z ] ||
			[ ! -d "/proc/$tls_pid" ]; then
			echo "run-examples: the TLS node did not start:" >&2
			cat "$tmp/tls-node.log" >&2
			return 1
		fi
		sleep 0.1
	done
	taddrs="127.0.0.1:$st_port"
	st_ca="$certs/ca.crt" st_crt="$certs/client.crt" st_key="$certs/client.key"
	tls_how="one dqlc-node with --tls-*"
	return 0
}
if [ "$have_openssl" = yes ] && [ -r "$certs/ca.crt" ]; then
	if start_tls; then
		echo "TLS cluster ($tls_how): $taddrs"
		run tls 0 "tls: ok" "$ex/tls" "dqlite://$taddrs/examples" "$st_ca" "$st_crt" "$st_key"
	else
		failed=$((failed + 1))
		names_failed="$names_failed tls"
	fi
fi

echo "$passed passed, $failed failed${names_failed:+ (failed:$names_failed)}"
[ "$failed" -eq 0 ]
