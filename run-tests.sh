#!/bin/sh
# The test command: installs what is missing (Debian 12, as root), builds with
# warnings as errors, and runs the whole test suite against real dqlite nodes.
#   ./run-tests.sh [extra configure options]
# TESTS_EXCLUDE="t1 t2" leaves those test programs out of this run (the CI's
# ASan pass, where they cannot run: see .ci/run).
# DQLC_SERVER=1.18 runs the integration tests only, against libdqlite 1.18.1
# nodes built in a cached Debian 13 root, plus the TLS interop test with
# go-dqlite 2.0 (make check-1.18; the root is made on first use, as root).
set -e
cd "$(dirname "$0")"
case "${DQLC_SERVER:-1.11}" in
1.11) check_target=check ;;
1.18) check_target=check-1.18 ;;
*) echo "DQLC_SERVER=$DQLC_SERVER: expected 1.11 or 1.18" >&2; exit 2 ;;
esac
scripts/deps.sh
[ -x configure ] || ./autogen.sh
build=${BUILD_DIR:-build}
mkdir -p "$build"
cd "$build"
../configure --enable-werror "$@" >configure.out || { tail -n 30 configure.out; exit 1; }
make -j"$(nproc)" >make.out 2>&1 || { tail -n 60 make.out; exit 1; }
status=0
# Sanitizer builds run slower: give Check's per-test timeouts room.
case "$*" in *sanitizers*) export CK_TIMEOUT_MULTIPLIER=${CK_TIMEOUT_MULTIPLIER:-4} ;; esac
if [ -n "${TESTS_EXCLUDE:-}" ] && [ "$check_target" = check ]; then
	tests=$(make -s print-tests | tr ' ' '\n' | grep -vxF "$(echo "$TESTS_EXCLUDE" | tr ' ' '\n')" |
		tr '\n' ' ')
	echo "left out of this run: $TESTS_EXCLUDE"
	make -j"$(nproc)" check TESTS="$tests" >check.out 2>&1 || status=$?
else
	make -j"$(nproc)" $check_target >check.out 2>&1 || status=$?
fi
grep -E '^(PASS|FAIL|ERROR|XPASS|SKIP)' check.out || true
if [ "$status" != 0 ]; then
	tail -n 15 check.out
	for f in $(grep -lE '^:test-result: (FAIL|ERROR)' $(find . -name '*.trs') 2>/dev/null); do
		echo "==== ${f%.trs}.log"; tail -n 80 "${f%.trs}.log"
	done
fi
../scripts/summary.sh . || status=1
exit $status
