#!/usr/bin/env bash
# The README's test command: install what is missing (including Dovecot and Postfix for the provider rig),
# build, and run every test through ctest.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
"$here/deploy/install-deps.sh" --test
"$here/deploy/build.sh" -DMAILGATE_BUILD_TESTS=ON
# playwright-core for the admin page's browser test (it drives the system's Chromium; no browser download).
npm ci --prefix "$here/tests/e2e" --no-audit --no-fund --loglevel=error
cd "$here/build"
ctest --output-on-failure --timeout 600 -j "$(nproc)"
