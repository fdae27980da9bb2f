#!/usr/bin/env bash
# The README's test command: install what is missing (including Dovecot and Postfix for the provider rig), build,
# and run every test through ctest (after checking the C++ sources keep .clang-format); then the unit and integration tests again in an ASan+UBSan build (build-asan,
# tests/sanitizers/run.sh), and the fuzzers for 30 s each when tests/fuzz/run.sh exists. Every stage runs even
# when an earlier one failed; the exit status is non-zero when any did.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
"$here/deploy/install-deps.sh" --test
"$here/deploy/build.sh" -DMAILGATE_BUILD_TESTS=ON
# playwright-core for the admin page's browser test (it drives the system's Chromium; no browser download).
# Debian's own nodejs trusts the system certificate store; the Node.js 20 binary that install-deps may add carries
# its own list, so point it at the system store too (local or intercepting CAs installed there keep working).
if [[ -z ${NODE_EXTRA_CA_CERTS:-} && -f /etc/ssl/certs/ca-certificates.crt ]]; then
    export NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt
fi
npm ci --prefix "$here/tests/e2e" --no-audit --no-fund --loglevel=error

failed=()
summary=()
stage() { # stage NAME COMMAND...: runs it, times it, records a failure instead of stopping
    local name=$1 start=$SECONDS
    shift
    echo "=== test stage: $name"
    if "$@"; then
        summary+=("passed  $name ($((SECONDS - start)) s)")
    else
        summary+=("FAILED  $name ($((SECONDS - start)) s)")
        failed+=("$name")
    fi
}

stage "format (.clang-format)" bash "$here/tests/check_format.sh"
stage "ctest (build)" ctest --test-dir "$here/build" --output-on-failure --timeout 600 -j "$(nproc)"
stage "sanitizers (build-asan)" bash "$here/tests/sanitizers/run.sh"
if [[ -f $here/tests/fuzz/run.sh ]]; then
    stage "fuzzers (30 s each)" bash "$here/tests/fuzz/run.sh" 30
fi

echo "=== test stages"
printf '  %s\n' "${summary[@]}"
[[ ${#failed[@]} -eq 0 ]]
