#!/usr/bin/env bash
# Installs the Debian 12 packages mailgate needs: to build and run (default), also to run every test (--test), or
# also the comparison peers of the benchmarks in tests/bench (--bench).
# Only missing packages trigger apt-get, so a prepared machine does not need the network.
set -euo pipefail

build_packages=(
    g++ cmake ninja-build ccache pkg-config
    libboost1.81-dev libboost-program-options1.81-dev libboost-json1.81-dev libboost-url1.81-dev
    libssl-dev libsqlite3-dev libpq-dev libspdlog-dev libgtest-dev
    openssl ca-certificates
)
# The real provider rig (Dovecot, Postfix) and the real clients the integration tests drive.
test_packages=(
    python3 curl fetchmail getmail6 isync swaks msmtp sslscan
    testssl.sh                # scans both TLS profiles (tests/integration/test_legacy_clients.py)
    # swaks does TLS only with these (Recommends, which --no-install-recommends skips)
    libnet-ssleay-perl libio-socket-ssl-perl
    dovecot-core dovecot-imapd dovecot-pop3d dovecot-lmtpd postfix
    haproxy                   # the balancer in front of gateways (tests/integration/balancer.py)
    postgresql                # the shared store of several instances (tests/integration/postgres.py)
    chromium
    clang libclang-rt-14-dev  # the fuzzers (tests/fuzz/run.sh): clang with libFuzzer and its sanitizer runtimes
    clang-format              # tests/check_format.sh: the tree keeps .clang-format
    dpkg-dev lintian          # the .deb (tests/package): cpack's dependency list (dpkg-shlibdeps), and its check
)

# What tests/bench compares mailgate with (besides the rig's Dovecot).
bench_packages=(stunnel4)

mode=${1:-}
packages=("${build_packages[@]}")
[[ $mode == --test || $mode == --bench ]] && packages+=("${test_packages[@]}")
[[ $mode == --bench ]] && packages+=("${bench_packages[@]}")
# Past this point --bench needs what --test needs.
[[ $mode == --bench ]] && set -- --test

missing=()
# Node.js and npm drive the browser test; a machine may already have them from elsewhere (e.g. NodeSource).
if [[ ${1:-} == --test ]] && ! command -v npm >/dev/null; then
    packages+=(nodejs npm)
fi
for p in "${packages[@]}"; do
    status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
    [[ $status == installed ]] || missing+=("$p")
done
# playwright-core (tests/e2e/package-lock.json) needs Node.js >= 20 and Debian 12's nodejs is 18: then the official
# Node.js 20 binary from the npm registry (package node@20), installed into /usr/local/bin, ahead of /usr/bin on PATH.
node_too_old=false
if [[ ${1:-} == --test ]] && (( $(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0) < 20 )); then
    node_too_old=true
fi
# The OAuth2 authorization server of the integration tests (tests/oauth: oidc-provider, pinned by its
# package-lock.json), after Node.js is there; --prefer-offline takes what the npm cache already holds.
oauth_server_deps() {
    [[ $1 == --test ]] || return 0
    if [[ -z ${NODE_EXTRA_CA_CERTS:-} && -f /etc/ssl/certs/ca-certificates.crt ]]; then
        export NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt
    fi
    npm ci --prefix "$(cd "$(dirname "$0")/.." && pwd)/tests/oauth" --prefer-offline --no-audit --no-fund --loglevel=error
}
[[ ${#missing[@]} -eq 0 ]] && ! $node_too_old && { oauth_server_deps "${1:-}"; exit 0; }

if [[ $(id -u) -ne 0 ]]; then
    echo "install-deps: missing packages: ${missing[*]}$($node_too_old && echo ' node@20 (npm)'); run as root (or install them) first" >&2
    exit 1
fi
if [[ ${#missing[@]} -gt 0 ]]; then
    echo "install-deps: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    # Postfix is only a test peer here: keep its package from configuring a system mail service.
    echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
if $node_too_old; then
    echo "install-deps: installing Node.js 20 (npm package node@20) into /usr/local"
    npm install -g --no-audit --no-fund --loglevel=error node@20
fi
oauth_server_deps "${1:-}"
