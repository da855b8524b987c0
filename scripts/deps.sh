#!/bin/sh
# Installs the Debian 12 packages the build and the tests need (when run as
# root and something is missing).  Safe to run repeatedly.
set -e
pkgs="build-essential autoconf automake libtool pkg-config check libdqlite-dev go-dqlite \
libssl-dev openssl libedit-dev clang libclang-rt-14-dev valgrind sqlite3 tmux"
missing=""
for p in $pkgs; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ]; then
	echo "missing packages:$missing (run as root, or: sudo apt-get install$missing)" >&2
	exit 1
fi
echo "installing:$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq $missing >/dev/null
