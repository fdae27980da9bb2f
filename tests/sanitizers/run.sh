#!/usr/bin/env bash
# Sanitizer stage of the test command (deploy/test.sh): builds mailgate and its tests with ASan+UBSan
# (-DMAILGATE_SANITIZE=ON) into build-asan and runs the unit tests and the integration suites against the sanitized
# binary. Any report fails: the unit test binaries exit non-zero, and the integration helpers (tests/integration/
# gateway.py) fail the test when the gateway's or a CLI run's output holds one (reports at exit included).
# Usage: tests/sanitizers/run.sh [extra ctest args]; MAILGATE_ASAN_BUILD_DIR overrides the build directory.
set -euo pipefail
here="$(cd "$(dirname "$0")/../.." && pwd)"
build="${MAILGATE_ASAN_BUILD_DIR:-$here/build-asan}"
jobs="$(nproc)"

# -fno-sanitize-recover=all: every UBSan check ends the process, whatever UBSAN_OPTIONS says. ccache is picked up
# by the root CMakeLists when present.
cmake -S "$here" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMAILGATE_BUILD_TESTS=ON \
      -DMAILGATE_SANITIZE=ON -DCMAKE_CXX_FLAGS=-fno-sanitize-recover=all >/dev/null
cmake --build "$build" --parallel "$jobs"

# halt_on_error: the first report ends the process (exit code 1, no core dump); detect_leaks: LeakSanitizer runs at
# exit; the suppressions file lists third-party leaks only, each with its reason.
export ASAN_OPTIONS="halt_on_error=1:abort_on_error=0:detect_leaks=1:detect_stack_use_after_return=1:check_initialization_order=1:strict_init_order=1:print_summary=1"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:print_summary=1"
export LSAN_OPTIONS="suppressions=$here/tests/sanitizers/lsan.supp:print_suppressions=0"

# Every suite (unit, integration, the browser test, which needs `npm ci --prefix tests/e2e`, run by deploy/test.sh
# first) except two whose subject the sanitizers themselves change; MAILGATE_SANITIZE_ALL=1 runs them as well:
# - integration.limits exhausts the gateway's file descriptors on purpose. UBSan's vptr check then fails every
#   virtual call it checks: it probes the vtable through a pipe(2), which fails with EMFILE, and reports "invalid
#   vptr" (boost/system/detail/error_category.hpp:203 here); its suppressions cannot match an object whose type it
#   could not read.
# - integration.secrets sends the gateway SIGSEGV and expects it to die of the signal without a core dump; ASan
#   catches SIGSEGV, reports it and exits 1, and disables core dumps itself.
# The Debian package test (package.deb) is about what ships, the release build in build/; a package of the
# sanitized binary is not one, so it never runs here.
skip=(-E '^package\.deb$')
[[ ${MAILGATE_SANITIZE_ALL:-0} == 1 ]] || skip=(-E '^(integration\.(limits|secrets)|package\.deb)$')
ctest --test-dir "$build" --output-on-failure --timeout 900 -j "$jobs" "${skip[@]}" "$@"
