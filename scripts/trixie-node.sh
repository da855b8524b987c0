#!/bin/sh
# Build dqlc-node inside the Debian 13 root (scripts/trixie-root.sh) against
# libdqlite 1.18.1, with the root's gcc, and install it with a wrapper that
# runs it on this host (scripts/trixie-run.sh):
#
#   scripts/trixie-node.sh SRCDIR BUILD_CONFIG_H OUTDIR SOURCE...
#
# SOURCEs are paths relative to SRCDIR (the library's and dqlc-node's .c and
# .h files; `make trixie-node` passes the lists from the Makefile, so they
# never drift); BUILD_CONFIG_H is the build tree's configure result (TLS
# support follows the host build's).  Results:
#
#   OUTDIR/dqlc-node.bin   the program (linked against the root's libraries)
#   OUTDIR/dqlc-node       wrapper: DQLC_NODE_BIN for the tests, dqlc-cluster
#
# The sources are copied into the root's /tmp and compiled there with chroot;
# nothing is mounted.  The build is skipped when the sources, the flags and
# the root are those of the last build (a hash kept in OUTDIR).
set -eu

src=${1:?usage: trixie-node.sh SRCDIR BUILD_CONFIG_H OUTDIR SOURCE...}
config=${2:?usage}
out=${3:?usage}
shift 3
here=$(cd "$(dirname "$0")" && pwd)
say() { echo "trixie-node: $*" >&2; }

root=$("$here/trixie-root.sh")
mkdir -p "$out"
out=$(cd "$out" && pwd)

# Only C files are compiled; headers come along for the includes.
cflags="-std=c11 -O2 -g -pthread -fvisibility=hidden -Wall -Wextra -Wshadow -Wformat=2 \
-Wpointer-arith -Wstrict-prototypes -Wmissing-prototypes -Wno-unused-parameter \
-Wno-format-truncation"
stamp=$( { cat "$0"; echo "$cflags"; cat "$root/.dqlc-dqlite-version"; cat "$config";
	for f in "$@"; do echo "== $f"; cat "$src/$f"; done; } | sha256sum | cut -d' ' -f1)
if [ -x "$out/dqlc-node.bin" ] && [ -x "$out/dqlc-node" ] &&
	[ "$(cat "$out/dqlc-node.stamp" 2>/dev/null)" = "$stamp" ]; then
	say "up to date: $out/dqlc-node ($(cat "$root/.dqlc-dqlite-version"))"
	exit 0
fi

work=$(mktemp -d "$root/tmp/dqlc-node-build.XXXXXX")
trap 'rm -rf "$work"' EXIT
for f in "$@"; do
	mkdir -p "$work/$(dirname "$f")"
	cp "$src/$f" "$work/$f"
done
cp "$config" "$work/build-config.h"
rel=${work#"$root"}
cfiles=$(for f in "$@"; do case "$f" in *.c) printf '%s ' "$f" ;; esac; done)
tls=""
grep -q '^#define DQLC_HAVE_OPENSSL 1' "$config" && tls="openssl"
say "compiling dqlc-node in $root (gcc $(chroot "$root" gcc -dumpfullversion), $(cat "$root/.dqlc-dqlite-version")${tls:+, with TLS})"
chroot "$root" /bin/sh -c "cd '$rel' && gcc $cflags -include build-config.h -Iinclude -Isrc -Itools \
	\$(pkg-config --cflags dqlite $tls) $cfiles -o dqlc-node \$(pkg-config --libs dqlite $tls)" \
	>"$work/build.log" 2>&1 || {
	say "build failed:"
	cat "$work/build.log" >&2
	exit 1
}
if [ -s "$work/build.log" ]; then
	say "compiler output:"
	cat "$work/build.log" >&2
fi
cp "$work/dqlc-node" "$out/dqlc-node.bin.tmp"
mv "$out/dqlc-node.bin.tmp" "$out/dqlc-node.bin"
cat >"$out/dqlc-node.tmp" <<EOF
#!/bin/sh
# dqlc-node built against libdqlite from the Debian 13 root below
# (scripts/trixie-node.sh), run on this host under the root's own loader and
# libraries, as scripts/trixie-run.sh does.  exec: the pid is the node's.
root=\${DQLC_TRIXIE_ROOT:-$root}
OPENSSL_CONF=\$root/usr/lib/ssl/openssl.cnf
OPENSSL_MODULES=\$root/usr/lib/x86_64-linux-gnu/ossl-modules
export OPENSSL_CONF OPENSSL_MODULES
if [ "\$*" = --version ]; then
	"\$root/lib64/ld-linux-x86-64.so.2" --inhibit-cache \\
		--library-path "\$root/lib/x86_64-linux-gnu:\$root/usr/lib/x86_64-linux-gnu" \\
		"$out/dqlc-node.bin" --version || exit
	echo "\$(cat "\$root/.dqlc-dqlite-version") (Debian 13 root \$root)"
	exit 0
fi
exec "\$root/lib64/ld-linux-x86-64.so.2" --inhibit-cache \\
	--library-path "\$root/lib/x86_64-linux-gnu:\$root/usr/lib/x86_64-linux-gnu" \\
	--argv0 dqlc-node "$out/dqlc-node.bin" "\$@"
EOF
chmod +x "$out/dqlc-node.tmp"
mv "$out/dqlc-node.tmp" "$out/dqlc-node"
echo "$stamp" >"$out/dqlc-node.stamp"
say "built $out/dqlc-node: $("$out/dqlc-node" --version | tr '\n' ' ')"
