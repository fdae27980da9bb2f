#!/usr/bin/env bash
# Makes a small local CA and a server certificate for mailgate, for LANs where clients should trust the gateway
# without certificate warnings: install ca.crt on the clients, point tls.cert/tls.key at server.crt/server.key.
# Usage: certs/make-local-ca.sh OUTDIR NAME [NAME|IP ...]   e.g. certs/make-local-ca.sh /etc/mailgate/tls mail.lan 192.168.1.10
set -euo pipefail
[[ $# -ge 2 ]] || { sed -n '2,4p' "$0" >&2; exit 2; }
out=$1; shift
mkdir -p "$out"
chmod 0700 "$out"
cd "$out"

san=""
for name in "$@"; do
    if [[ $name =~ ^[0-9.]+$ || $name == *:* ]]; then san+="IP:$name,"; else san+="DNS:$name,"; fi
done
san=${san%,}

if [[ ! -f ca.key ]]; then
    # RSA 2048 and SHA-256: still understood by the oldest clients that can do TLS 1.0 at all.
    openssl req -x509 -newkey rsa:2048 -sha256 -days 3650 -nodes -keyout ca.key -out ca.crt \
        -subj "/O=mailgate local CA/CN=mailgate local CA $(hostname)" \
        -addext "basicConstraints=critical,CA:TRUE,pathlen:0" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
    chmod 0600 ca.key
fi
openssl req -newkey rsa:2048 -sha256 -nodes -keyout server.key -out server.csr -subj "/CN=$1" 2>/dev/null
chmod 0600 server.key
openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 825 -sha256 -out server.crt \
    -extfile <(printf 'subjectAltName=%s\nbasicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n' "$san") 2>/dev/null
rm -f server.csr
echo "CA certificate for clients: $out/ca.crt"
echo "mailgate: tls.cert = $out/server.crt, tls.key = $out/server.key  (names: $san)"
