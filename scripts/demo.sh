#!/bin/sh
# The demo: on a fresh Debian 12 machine (as root it installs what is
# missing), build dqlite-client, start a local 3-node dqlite cluster of real
# nodes (tools/dqlc-cluster, dqlc-node), run examples/quickstart.c against
# it, and stop the cluster again - also when something fails or on ^C.
#
#   scripts/demo.sh
#
# Environment: BUILD_DIR (default build), DEMO_PORT (first node port,
# default 9001; the nodes use DEMO_PORT..DEMO_PORT+2).
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-build}
case $build in /*) ;; *) build="$top/$build" ;; esac
port=${DEMO_PORT:-9001}
state=
cluster_up=0

say() {
	printf '==> %s\n' "$*"
}

cleanup() {
	status=$?
	trap - EXIT INT TERM HUP
	if [ "$cluster_up" = 1 ]; then
		say "stopping the cluster"
		"$top/tools/dqlc-cluster" stop --dir "$state" --clean || status=1
	fi
	[ -z "$state" ] || rm -rf "$state"
	if [ "$status" = 0 ]; then
		say "done"
	else
		say "failed (exit status $status)" >&2
	fi
	exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM HUP

say "checking the packages the build needs (scripts/deps.sh)"
"$top/scripts/deps.sh"

if [ ! -x "$top/configure" ]; then
	say "generating the build system (./autogen.sh)"
	(cd "$top" && ./autogen.sh) >/dev/null
fi
mkdir -p "$build"
if [ ! -f "$build/Makefile" ]; then
	say "configuring in $build"
	(cd "$build" && "$top/configure") >"$build/configure.out" 2>&1 || {
		tail -n 30 "$build/configure.out" >&2
		exit 1
	}
fi
say "building in $build (make; a no-op when up to date)"
make -C "$build" -j"$(nproc)" >"$build/make.out" 2>&1 || {
	tail -n 60 "$build/make.out" >&2
	exit 1
}
for f in tools/dqlc-node examples/quickstart; do
	[ -x "$build/$f" ] || {
		echo "demo: $build/$f was not built (libdqlite-dev missing?)" >&2
		exit 1
	}
done

state=$(mktemp -d "${TMPDIR:-/tmp}/dqlc-demo.XXXXXX")
say "starting a 3-node dqlite cluster on 127.0.0.1:$port..$((port + 2)) (data in $state)"
cluster_up=1
addrs=$(DQLC_NODE_BIN="$build/tools/dqlc-node" \
	"$top/tools/dqlc-cluster" start -n 3 --port "$port" --dir "$state" --fresh) || {
	echo "demo: the cluster did not start (ports in use? try DEMO_PORT=19001)" >&2
	exit 1
}
"$top/tools/dqlc-cluster" status --dir "$state" | sed 's/^/    /'

# Run the quickstart, indenting its output (sh has no pipefail: keep the
# exit status by capturing first).
quickstart() {
	rc=0
	out=$("$build/examples/quickstart" "$uri" 2>&1) || rc=$?
	printf '%s\n' "$out" | sed 's/^/    /'
	return $rc
}

uri="dqlite://$addrs/quickstart"
say "running the quickstart: examples/quickstart $uri"
quickstart
# A second run finds the table and adds a row: the data lives in the cluster.
say "running it again (the table is still there: one more row)"
quickstart
