#!/bin/sh
# The shared library exports the public API and nothing else (DESIGN.md §2):
# every dynamic symbol it defines is a dqlc_ name (never an internal dqlc__
# one), and every DQLC_API declaration of include/dqlite-client.h is among
# them.  Run by `make check` from the build directory.
#
# Environment (set by tests/local.mk; defaults for running it by hand):
#   DQLC_BUILDDIR  the build directory (.)      srcdir  the source tree (.)
#   DQLC_NM        nm (GNU or LLVM)
set -u

builddir=${DQLC_BUILDDIR:-.}
top_srcdir=${DQLC_SRCDIR:-${srcdir:-.}}
nm_cmd=${DQLC_NM:-nm}
header=$top_srcdir/include/dqlite-client.h

lib=
for f in "$builddir"/.libs/libdqlite-client.so "$builddir"/.libs/libdqlite-client.dylib; do
	if [ -f "$f" ]; then
		lib=$f
		break
	fi
done
if [ -z "$lib" ]; then
	echo "SKIP: no shared library in $builddir/.libs (configured with --disable-shared?)"
	exit 77
fi
if [ ! -f "$header" ]; then
	echo "FAIL: $header not found (set srcdir or DQLC_SRCDIR)"
	exit 1
fi
if ! command -v perl >/dev/null 2>&1; then
	echo "SKIP: perl is needed to read the header"
	exit 77
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/dqlc-exports.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT INT TERM

# Defined dynamic symbols: "address type name" (or "type name" for some);
# absolute (A) symbols are linker bookkeeping (version nodes), not code.
# shellcheck disable=SC2086
if ! $nm_cmd -D --defined-only "$lib" >"$tmp/nm.out" 2>"$tmp/nm.err"; then
	echo "FAIL: $nm_cmd -D --defined-only $lib:"
	cat "$tmp/nm.err"
	exit 1
fi
awk 'NF >= 2 { name = $NF; type = $(NF - 1); if (type != "A") print name }' "$tmp/nm.out" |
	sed 's/@.*//' | sort -u >"$tmp/exported"

# Every DQLC_API declaration's name: comments and preprocessor lines out,
# then the first identifier after DQLC_API that is followed by '(' (a
# function) or ';' / '[' (an object).
perl -0777 -ne '
	s{/\*.*?\*/}{ }gs; s{//[^\n]*}{}g; s{^[ \t]*#(?:[^\n]*\\\n)*[^\n]*}{}mg;
	while (/\bDQLC_API\b(?:(?!\bDQLC_API\b)[^;{])*?\b([A-Za-z_]\w*)\s*[(;\[]/gs) {
		print "$1\n";
	}' "$header" | sort -u >"$tmp/declared"

# Every function prototype of the header, DQLC_API or not: one without it
# is hidden by -fvisibility=hidden, so a caller would fail to link.
perl -0777 -ne '
	s{/\*.*?\*/}{ }gs; s{//[^\n]*}{}g; s{^[ \t]*#(?:[^\n]*\\\n)*[^\n]*}{}mg;
	while (/\b(dqlc_\w+)\s*\(/g) { print "$1\n"; }' "$header" | sort -u >"$tmp/prototypes"

status=0
n_exported=$(wc -l <"$tmp/exported" | tr -d ' ')
n_declared=$(wc -l <"$tmp/declared" | tr -d ' ')

bad=$(grep -v '^dqlc_' "$tmp/exported")
if [ -n "$bad" ]; then
	echo "FAIL: exported symbols outside the dqlc_ namespace:"
	echo "$bad" | sed 's/^/  /'
	status=1
fi
internal=$(grep '^dqlc__' "$tmp/exported")
if [ -n "$internal" ]; then
	echo "FAIL: internal dqlc__ symbols exported:"
	echo "$internal" | sed 's/^/  /'
	status=1
fi
bad=$(grep -v '^dqlc_' "$tmp/declared")
if [ -n "$bad" ]; then
	echo "FAIL: DQLC_API declarations whose name is not dqlc_*:"
	echo "$bad" | sed 's/^/  /'
	status=1
fi
missing=$(comm -23 "$tmp/declared" "$tmp/exported")
if [ -n "$missing" ]; then
	echo "FAIL: declared DQLC_API in $header but not exported by $lib:"
	echo "$missing" | sed 's/^/  /'
	status=1
fi
hidden=$(comm -23 "$tmp/prototypes" "$tmp/declared")
if [ -n "$hidden" ]; then
	echo "FAIL: functions declared in $header without DQLC_API (not exported):"
	echo "$hidden" | sed 's/^/  /'
	status=1
fi
extra=$(comm -13 "$tmp/declared" "$tmp/exported" | grep '^dqlc_[^_]')
if [ -n "$extra" ]; then
	echo "FAIL: exported but not declared DQLC_API in the public header:"
	echo "$extra" | sed 's/^/  /'
	status=1
fi
if [ "$n_declared" -lt 10 ]; then
	echo "FAIL: only $n_declared DQLC_API declarations found in $header: parsing broke?"
	status=1
fi

echo "$lib: $n_exported exported symbols; $header: $n_declared DQLC_API declarations"
[ $status -eq 0 ] && echo "PASS: exports are exactly the public dqlc_ API"
exit $status
