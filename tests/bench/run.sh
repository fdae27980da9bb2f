#!/usr/bin/env bash
# One command per benchmark, from a clean checkout on Debian 12 as root: installs what is missing (including the
# comparison peers: deploy/install-deps.sh --bench), builds the gateway (deploy/build.sh) and runs
# tests/bench/NAME_bench.py with the remaining arguments. Benchmarks print figures and ratios; none passes or fails.
#   bash tests/bench/run.sh idle [--sessions 10000]      (also: login, imap, pop3, pop3_peers, smtp, spool, auth, pop3_imap)
set -euo pipefail
here="$(cd "$(dirname "$0")/../.." && pwd)"
name=${1:?usage: run.sh NAME [ARGS...] (NAME: idle, login, imap, pop3, pop3_peers, smtp, spool, auth, pop3_imap)}
shift
bench="$here/tests/bench/${name}_bench.py"
[[ -f $bench ]] || { echo "run.sh: no benchmark $bench" >&2; exit 2; }
"$here/deploy/install-deps.sh" --bench
"$here/deploy/build.sh"
cd "$here/tests/bench"
MAILGATE_BIN="$here/build/server/mailgate" exec python3 "$bench" "$@"
