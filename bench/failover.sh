#!/bin/sh
# Failover, measured: for each client (dqlc-bench, then go-dqlite's
# peer-bench), start a fresh local 3-node cluster, run the insert workload,
# kill -9 the leader in the middle, and report the longest stretch without a
# successful write (max_gap_ms), the errors the callers saw, how long the
# cluster took to elect a new leader, and acknowledged writes lost (rows
# acknowledged but absent; must be 0).
#
#   bench/failover.sh BUILD_DIR PEER_BENCH_BINARY [SECONDS] [KILL_AFTER] [CONCURRENCY]
#
# Needs go-dqlite's `dqlite` shell (Debian go-dqlite) for counting rows.
set -u
build=${1:?usage: failover.sh BUILD_DIR PEER_BENCH [SECONDS] [KILL_AFTER] [CONCURRENCY]}
peer=${2:?usage: failover.sh BUILD_DIR PEER_BENCH [SECONDS] [KILL_AFTER] [CONCURRENCY]}
secs=${3:-8}
kill_after=${4:-3}
conc=${5:-4}
here=$(cd "$(dirname "$0")" && pwd)
cluster="$here/../tools/dqlc-cluster"
export DQLC_NODE_BIN="$build/tools/dqlc-node"
dir=$(mktemp -d "${TMPDIR:-/tmp}/dqlc-failover.XXXXXX")
port=$((21000 + $$ % 3000 * 3))
trap '"$cluster" stop --clean --dir "$dir/c" >/dev/null 2>&1; rm -rf "$dir"' EXIT INT TERM

count() { dqlite -s "$1" bench "SELECT count(*) FROM ins" 2>/dev/null | tail -n 1 | tr -d ' \r'; }
leader() { dqlite -s "$1" bench ".leader" 2>/dev/null | tail -n 1 | tr -d ' \r'; }
now_ms() { date +%s%3N; }
json() { sed -n "s/.*\"$2\":\([^,}]*\).*/\1/p" "$1" | tr -d '"'; }

run() { # $1 = name, $2... = command
	name=$1
	shift
	"$cluster" stop --clean --dir "$dir/c" >/dev/null 2>&1
	servers=$("$cluster" start -n 3 --fresh --dir "$dir/c" --port "$port") || exit 1
	# Create the schema and seed the tables with a short warm-up run.
	"$@" -servers "$servers" -concurrency 1 -seconds 0.5 -workloads insert -scan-rows 10 >/dev/null 2>&1
	before=$(count "$servers")
	"$@" -servers "$servers" -concurrency "$conc" -seconds "$secs" -workloads insert \
		-scan-rows 10 >"$dir/$name.json" 2>"$dir/$name.err" &
	bench=$!
	sleep "$kill_after"
	old=$(leader "$servers")
	i=1
	for a in $(echo "$servers" | tr ',' ' '); do
		[ "$a" = "$old" ] && victim=$(cat "$dir/c/n$i.pid")
		i=$((i + 1))
	done
	t0=$(now_ms)
	kill -9 "$victim"
	# Election time: until a surviving node names a new, different leader.
	new=""
	while [ -z "$new" ] || [ "$new" = "$old" ]; do
		new=$(leader "$(echo "$servers" | tr ',' '\n' | grep -v "^$old\$" | paste -sd,)")
		[ $(($(now_ms) - t0)) -gt 20000 ] && break
		sleep 0.02
	done
	election=$(($(now_ms) - t0))
	wait "$bench"
	after=$(count "$servers")
	ops=$(json "$dir/$name.json" ops)
	errs=$(json "$dir/$name.json" errors)
	gap=$(json "$dir/$name.json" max_gap_ms)
	added=$((after - before))
	lost=$((ops - added))
	[ "$lost" -lt 0 ] && lost=0
	printf '{"client":"%s","killed":"%s","new_leader":"%s","election_ms":%s,"max_gap_ms":%s,"acknowledged":%s,"errors":%s,"rows_added":%s,"acknowledged_lost":%s,"first_error":"%s"}\n' \
		"$name" "$old" "$new" "$election" "$gap" "$ops" "$errs" "$added" "$lost" \
		"$(json "$dir/$name.json" first_error | cut -c1-120)"
}

run dqlc "$build/bench/dqlc-bench"
run go-dqlite "$peer"
