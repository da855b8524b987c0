#!/bin/sh
# tls-certs.sh DIR: make throw-away test certificates for a TLS dqlite
# cluster on loopback (P-256 keys, valid for two days) with the openssl
# command.  Used by the test harness (tests/harness/cluster.c) and by
# dqlc-cluster --tls.  Files written into DIR (created if missing):
#
#   ca.crt ca.key                the test CA
#   server.crt server.key        node certificate, signed by the CA:
#                                subjectAltName IP:127.0.0.1, DNS:localhost,
#                                DNS:dqlite; usable as server and as client
#                                (nodes dial each other with it)
#   client.crt client.key        client certificate, signed by the CA
#                                (subjectAltName DNS:dqlite: go-dqlite's shell
#                                verifies the server against its own first
#                                DNS name)
#   client-bundle.crt            client.crt then ca.crt (go-dqlite's -c)
#   wrong-ca.crt wrong-ca.key    an unrelated CA
#   wrong-client.crt .key        client certificate signed by the wrong CA
#   mismatch.crt mismatch.key    node certificate signed by the right CA whose
#                                only subjectAltName is DNS:other.example
#                                (host name mismatch for 127.0.0.1)
#
# Exit status 0 on success; on failure openssl's complaint is on stderr.
set -eu

if [ $# -ne 1 ]; then
	echo "usage: $0 DIR" >&2
	exit 2
fi
out=$1
mkdir -p "$out"
cd "$out"
umask 077

# Our own configuration, so the system's openssl.cnf changes nothing.
cat >certs.cnf <<'EOF'
[req]
distinguished_name = dn
prompt = no
[dn]
CN = unused
[ca]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[node]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = serverAuth,clientAuth
subjectAltName = IP:127.0.0.1,DNS:localhost,DNS:dqlite
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[client]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = clientAuth
subjectAltName = DNS:dqlite
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[mismatch]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = serverAuth,clientAuth
subjectAltName = DNS:other.example
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
EOF
export OPENSSL_CONF="$PWD/certs.cnf"

serial=1000

# ca NAME CN
ca() {
	openssl req -x509 -config certs.cnf -extensions ca -newkey ec \
		-pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
		-subj "/CN=$2" -keyout "$1.key" -out "$1.crt" 2>certs.err ||
		{ cat certs.err >&2; exit 1; }
}

# leaf NAME CN SECTION CA
leaf() {
	serial=$((serial + 1))
	openssl req -new -config certs.cnf -newkey ec \
		-pkeyopt ec_paramgen_curve:prime256v1 -nodes \
		-subj "/CN=$2" -keyout "$1.key" -out "$1.csr" 2>certs.err ||
		{ cat certs.err >&2; exit 1; }
	openssl x509 -req -in "$1.csr" -CA "$4.crt" -CAkey "$4.key" \
		-set_serial "$serial" -days 2 -extfile certs.cnf \
		-extensions "$3" -out "$1.crt" 2>certs.err ||
		{ cat certs.err >&2; exit 1; }
	rm -f "$1.csr"
}

ca ca "dqlc test CA"
leaf server dqlite node ca
leaf client dqlc-client client ca
ca wrong-ca "dqlc wrong CA"
leaf wrong-client dqlc-wrong-client client wrong-ca
leaf mismatch other.example mismatch ca
cat client.crt ca.crt >client-bundle.crt
rm -f certs.err certs.cnf
# Keys stay private (umask); certificates may be read by anyone.
chmod 644 ./*.crt
