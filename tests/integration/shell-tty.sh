#!/bin/sh
# dqlc's interactive mode through a real terminal: tmux runs dqlc on a 3-node
# cluster (tools/dqlc-cluster), send-keys types, capture-pane reads the
# screen.  Checks the prompt (with '*' while a transaction is open), a
# multi-line statement, a transaction across lines, line editing (cursor
# moves, insertion, history recall), Ctrl-C on a partial line and on a
# running query, and that Ctrl-D exits cleanly with status 0 and saves the
# history.  Prints PASS or FAIL; exits non-zero on failure.
set -u

here=$(cd "$(dirname "$0")" && pwd)
srcdir=${srcdir:-$here/../..}
# The build tree: next to DQLC_NODE_BIN (set by make check), else ./
if [ -n "${DQLC_NODE_BIN:-}" ]; then
	tools=$(cd "$(dirname "$DQLC_NODE_BIN")" && pwd)
else
	tools=$(pwd)/tools
fi
dqlc=${DQLC_SHELL_BIN:-$tools/dqlc}
cluster_sh="$srcdir/tools/dqlc-cluster"

fail() {
	echo "FAIL: shell-tty: $*"
	if [ -n "${screen:-}" ] && [ -f "$screen" ]; then
		echo "--- screen ---"
		cat "$screen"
		echo "--------------"
	fi
	exit 1
}

command -v tmux >/dev/null 2>&1 || fail "tmux is not installed (scripts/deps.sh installs it; Debian: apt-get install tmux)"
[ -x "$dqlc" ] || fail "no dqlc at $dqlc"
[ -x "${DQLC_NODE_BIN:-$tools/dqlc-node}" ] || fail "no dqlc-node next to $dqlc"
echo "shell-tty: server under test: $("${DQLC_NODE_BIN:-$tools/dqlc-node}" --version 2>&1 | tr '\n' ' ')"

work=$(mktemp -d "${TMPDIR:-/tmp}/dqlc-tty-XXXXXX") || fail "mktemp"
sock="dqlc-tty-$$"
export TMUX_TMPDIR="$work"    # the server's socket goes away with $work
screen="$work/screen"
T() { tmux -L "$sock" "$@"; }

cleanup() {
	T kill-server >/dev/null 2>&1
	DQLC_NODE_BIN="${DQLC_NODE_BIN:-$tools/dqlc-node}" sh "$cluster_sh" stop --dir "$work/cluster" >/dev/null 2>&1
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

# A cluster on free ports: try a few bases derived from our pid, below the
# kernel's ephemeral range (as the harness and run-examples.sh do): a port
# in it can be held by any process's outgoing connection, and make check
# makes thousands of them.
export DQLC_NODE_BIN="${DQLC_NODE_BIN:-$tools/dqlc-node}"
eph_lo=$(cut -f1 /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null) || eph_lo=
span=$((${eph_lo:-32768} - 20000 - 3))
[ "$span" -ge 1000 ] || span=12000
addrs=
: >"$work/cluster.err"
for try in 1 2 3 4 5; do
	port=$((20000 + ($$ * 7 + try * 2459) % span))
	echo "--- attempt $try, ports $port..$((port + 2))" >>"$work/cluster.err"
	if addrs=$(sh "$cluster_sh" start -n 3 --port "$port" --dir "$work/cluster" --fresh --timeout 60 2>>"$work/cluster.err"); then
		break
	fi
	sh "$cluster_sh" stop --dir "$work/cluster" --clean >/dev/null 2>&1
	addrs=
done
[ -n "$addrs" ] || { cat "$work/cluster.err"; fail "could not start a cluster"; }

# tmux: a private server, a fixed-size window, no user configuration.
export HOME="$work"           # ~/.dqlc_history and ~/.editrc live here
: >"$work/.editrc"
T -f /dev/null new-session -d -s shell -x 150 -y 50 \
	"LC_ALL=C.UTF-8 '$dqlc' -s '$addrs' ttydb; echo \"EXIT=\$?\" >'$work/exit'; sleep 600" ||
	fail "tmux new-session"

capture() { T capture-pane -p -t shell >"$screen"; }

# Wait until the screen has a line matching the extended regex $1.
wait_for() {
	i=0
	while [ $i -lt 300 ]; do
		capture
		if grep -Eq -- "$1" "$screen"; then
			return 0
		fi
		sleep 0.1
		i=$((i + 1))
	done
	fail "timed out waiting for /$1/"
}

# Wait until the last non-empty line of the screen matches $1.
wait_last() {
	i=0
	while [ $i -lt 300 ]; do
		capture
		if grep -v '^ *$' "$screen" | tail -n 1 | grep -Eq -- "$1"; then
			return 0
		fi
		sleep 0.1
		i=$((i + 1))
	done
	fail "timed out waiting for the last line to match /$1/"
}

# Type text literally (tmux takes a trailing ';' as its command separator:
# escape it), then optionally more keys.
type_text() {
	t=$(printf '%s' "$1" | sed 's/;$/\\;/')
	T send-keys -t shell -l -- "$t"
}
keys() { T send-keys -t shell "$@"; }
line() { type_text "$1"; keys Enter; }

wait_for '^ttydb> ?$'

# A multi-line statement: continuation prompt, then the result.
line "SELECT 1 AS one,"
wait_for '^  \.\.\.> ?$'
line "  'x;y' AS two;"
wait_for '^ one \| two$'
wait_for '^   1 \| x;y$'

# A table and a transaction across lines: the prompt shows '*'.
line "CREATE TABLE t (n INTEGER, s TEXT);"
line "BEGIN;"
wait_last '^ttydb\*> ?$'
line "INSERT INTO t VALUES (1, 'in tx');"
line "SELECT count(*) AS c FROM t;"
wait_for '^ c$'
line "ROLLBACK;"
wait_last '^ttydb> ?$'
line "SELECT count(*) AS after_rollback FROM t;"
wait_for '^ after_rollback$'
capture
grep -A2 '^ after_rollback$' "$screen" | grep -q '^ *0$' || fail "the rolled-back row is still there"

# Line editing: type "SELECT  AS edited", move left over " AS edited" (10
# characters: C-b and Left), insert 42, then End and ';'.
type_text "SELECT  AS edited"
keys C-b C-b C-b C-b C-b Left Left Left Left Left
type_text "42"
keys End
type_text ";"
keys Enter
wait_for '^ttydb> SELECT 42 AS edited;$'
wait_for '^     42$'

# History: Up recalls the last line; edit its end and run it again.
line "SELECT 'recall' AS r;"
wait_for '^ recall$'
keys Up
wait_last "^ttydb> SELECT 'recall' AS r;\$"
keys End BSpace
line ", 2 AS s;"
wait_for '^ recall \| 2$'

# Ctrl-C drops a partial statement (even one spanning lines).
line "SELECT 'never"
wait_for '^  \.\.\.> ?$'
type_text "shown"
# (the terminal discards input not read yet when Ctrl-C comes: wait for it)
wait_for '^  \.\.\.> shown$'
keys C-c
wait_for "^  \\.\\.\\.> shown\\^C\$"
line "SELECT 'after ctrl-c' AS ok;"
wait_for '^ after ctrl-c$'

# Ctrl-C interrupts a running query; the session goes on.
# (a filter keeps the result small while the server works for seconds;
# a 1.11 server finishes the query before it reads the INTERRUPT, so the
# cancel completes when the query would have)
line "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT x FROM c WHERE x % 100 = 0 LIMIT 200000;"
sleep 1
keys C-c
wait_for 'DQLC_ECANCELED'
wait_last '^ttydb> ?$'
line "SELECT 'still here' AS alive;"
wait_for '^ still here$'

# Errors are shown and the session continues; dot commands work.
line "SELECT * FROM nosuch;"
wait_for 'dqlc: DQLC_ESQL: server error 1: no such table: nosuch'
line ".tables"
wait_for '^t$'
line ".mode csv"
line "SELECT 5 AS five;"
wait_for '^5'

# Ctrl-D on an empty line exits with status 0.
keys C-d
i=0
while [ ! -s "$work/exit" ] && [ $i -lt 100 ]; do
	sleep 0.1
	i=$((i + 1))
done
capture
[ -s "$work/exit" ] || fail "dqlc did not exit after Ctrl-D"
status=$(cat "$work/exit")
[ "$status" = "EXIT=0" ] || fail "dqlc exited with $status after Ctrl-D"

# The history was saved, privately.
[ -f "$work/.dqlc_history" ] || fail "no ~/.dqlc_history"
grep -q "after_rollback" "$work/.dqlc_history" || fail "history lacks a typed line"
perm=$(stat -c %a "$work/.dqlc_history")
[ "$perm" = 600 ] || fail "history file mode $perm, want 600"

# DQLC_TTY_SHOW=1: print the last screen (to see what a user sees).
[ -z "${DQLC_TTY_SHOW:-}" ] || cat "$screen"
echo "PASS: shell-tty (multi-line statement, transaction prompt, line editing, history, Ctrl-C, Ctrl-D)"
exit 0
