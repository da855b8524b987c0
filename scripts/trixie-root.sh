#!/bin/sh
# A cached Debian 13 ("trixie") root file system with libdqlite 1.18.1 and
# go-dqlite 2.0 (dqlite-demo, the dqlite shell), and what it takes to build
# the project's dqlc-node inside it (gcc, make, pkg-config, the -dev
# packages).  The test suite runs its second server matrix against it
# (../shared/SERVERS.md: trixie's packages need a newer glibc than Debian 12
# has).
#
#   scripts/trixie-root.sh            make it if missing, print its path
#   scripts/trixie-root.sh --check    exit 0 if it is there and complete
#
# The root lives at $DQLC_TRIXIE_ROOT (default /var/cache/dqlc/trixie-root)
# and is reused while complete: a stamp file written last names the package
# list it was made with; a root without it (an interrupted run) or made with
# another list is made again.  debootstrap writes into a fresh directory next
# to it that is renamed into place at the end, so a partial root is never
# used.  Runs as root on Debian 12 (installs debootstrap when missing); a lock
# file serialises concurrent runs.  $DQLC_TRIXIE_MIRROR picks the mirror.
#
# Programs from it run on the host with trixie's own dynamic loader and
# libraries (see scripts/trixie-run.sh): no chroot, no mounts, and the paths
# given to them are the host's.
set -eu

root=${DQLC_TRIXIE_ROOT:-/var/cache/dqlc/trixie-root}
mirror=${DQLC_TRIXIE_MIRROR:-http://deb.debian.org/debian}
# libdqlite0/-dev: the 1.18.1 server; go-dqlite: dqlite-demo and the shell;
# the rest builds dqlc-node (libssl-dev: its TLS front end).
pkgs="libdqlite0,libdqlite-dev,go-dqlite,gcc,libc6-dev,make,pkg-config,libssl-dev,ca-certificates"
stamp="$root/.dqlc-root-complete"

say() { echo "trixie-root: $*" >&2; }

complete() {
	[ -f "$stamp" ] && [ "$(cat "$stamp")" = "$pkgs" ] &&
		[ -x "$root/usr/bin/dqlite-demo" ] && [ -x "$root/usr/bin/gcc" ] &&
		[ -e "$root/usr/include/dqlite.h" ] && [ -e "$root/lib64/ld-linux-x86-64.so.2" ]
}

if [ "${1:-}" = "--check" ]; then
	complete
	exit $?
fi

if complete; then
	say "reusing $root ($(cat "$root/.dqlc-dqlite-version" 2>/dev/null || echo '?'))"
	echo "$root"
	exit 0
fi

if [ "$(id -u)" != 0 ]; then
	say "$root is missing or incomplete, and making it needs root (debootstrap)"
	exit 1
fi

parent=$(dirname "$root")
mkdir -p "$parent"
# One maker at a time; the others wait for it and then reuse its root.
exec 9>"$root.lock"
say "waiting for the lock $root.lock"
flock 9
if complete; then
	say "reusing $root (made by a concurrent run)"
	echo "$root"
	exit 0
fi

if ! command -v debootstrap >/dev/null 2>&1; then
	say "installing debootstrap (apt-get)"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq debootstrap >/dev/null
fi

work=$(mktemp -d "$root.new.XXXXXX")
chmod 755 "$work"
trap 'rm -rf "$work"' EXIT
log="$root.debootstrap.log"
say "debootstrap --variant=minbase --include=$pkgs trixie $work $mirror (log: $log)"
t0=$(date +%s)
if ! debootstrap --variant=minbase --include="$pkgs" trixie "$work" "$mirror" >"$log" 2>&1; then
	say "debootstrap failed; the end of $log:"
	tail -n 30 "$log" >&2
	exit 1
fi
# Record what it holds (the suite names the server it runs against).
chroot "$work" dpkg-query -W -f='libdqlite0 ${Version}\n' libdqlite0 >"$work/.dqlc-dqlite-version"
chroot "$work" apt-get clean >/dev/null 2>&1 || true
echo "$pkgs" >"$work/.dqlc-root-complete"
if [ -e "$root" ]; then
	say "replacing the incomplete $root"
	rm -rf "$root"
fi
mv "$work" "$root"
trap - EXIT
say "made $root in $(( $(date +%s) - t0 ))s: $(cat "$root/.dqlc-dqlite-version")"
echo "$root"
