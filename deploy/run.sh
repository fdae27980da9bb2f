#!/usr/bin/env bash
# The README's run command: install what is missing, build, and run the gateway (embedded defaults, or the
# options given, e.g. --config FILE). Data lives in ./mailgate-data unless configured otherwise.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
"$here/deploy/install-deps.sh"
"$here/deploy/build.sh" -DMAILGATE_BUILD_TESTS=OFF
exec "$here/build/server/mailgate" serve "$@"
