#!/usr/bin/env bash
# Builds the codec fuzzers with clang (ASan + UBSan + libFuzzer) into build-fuzz and runs each for SECONDS
# (default 30) on a temporary copy of its seed corpus, one after the other. Exits non-zero if any fuzzer fails.
#   bash tests/fuzz/run.sh [SECONDS]
# Environment: MAILGATE_FUZZ_BUILD (build directory, default <repo>/build-fuzz), MAILGATE_FUZZ_ONLY
# ("pop3_server smtp_server": run only these), MAILGATE_FUZZ_JOBS (build parallelism, default 2),
# MAILGATE_FUZZ_KEEP (directory to keep each run's findings and log in, e.g. for crash inputs).
set -uo pipefail

seconds="${1:-30}"
if ! [[ "$seconds" =~ ^[0-9]+$ ]] || [ "$seconds" -lt 1 ]; then
    echo "usage: $0 [SECONDS]" >&2
    exit 2
fi
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
build="${MAILGATE_FUZZ_BUILD:-$root/build-fuzz}"
jobs="${MAILGATE_FUZZ_JOBS:-2}"

# ---- configure (once) and build only the fuzz targets: nothing of server/ is compiled.
if [ ! -f "$build/CMakeCache.txt" ]; then
    cxx="$(command -v clang++ || command -v clang++-14 || true)"
    if [ -z "$cxx" ]; then
        echo "run.sh: clang++ not found (needs clang and libclang-rt with libFuzzer)" >&2
        exit 2
    fi
    generator=()
    command -v ninja >/dev/null && generator=(-G Ninja)
    launcher=()
    command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
    mkdir -p "$build"
    cmake -S "$root" -B "$build" "${generator[@]}" -DCMAKE_CXX_COMPILER="$cxx" "${launcher[@]}" \
        -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMAILGATE_BUILD_FUZZERS=ON -DMAILGATE_BUILD_TESTS=OFF \
        -DMAILGATE_SANITIZE=ON >"$build/configure.log" 2>&1 || {
        cat "$build/configure.log" >&2
        echo "run.sh: configuring $build failed" >&2
        exit 2
    }
else
    # An existing build directory gets the fuzz options again (cheap; its compiler stays what it was).
    cmake -S "$root" -B "$build" -DMAILGATE_BUILD_FUZZERS=ON -DMAILGATE_BUILD_TESTS=OFF -DMAILGATE_SANITIZE=ON \
        >"$build/configure.log" 2>&1 || {
        cat "$build/configure.log" >&2
        echo "run.sh: configuring $build failed" >&2
        exit 2
    }
fi
if ! cmake --build "$build" --target mailgate_fuzzers -j "$jobs"; then
    echo "run.sh: building the fuzzers failed" >&2
    exit 2
fi

# ---- how each fuzzer runs
max_len_of() {
    case "$1" in
    smtp_server | smtp_data_decoder) echo 16384 ;;
    smtp_command) echo 1024 ;;
    *) echo 4096 ;;
    esac
}

work="$(mktemp -d "${TMPDIR:-/tmp}/mailgate-fuzz.XXXXXX")"
trap 'rm -rf "$work"' EXIT
export ASAN_OPTIONS="halt_on_error=1:abort_on_error=1:detect_leaks=1:allocator_may_return_null=1${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"

fuzzers=$(cat "$build/tests/fuzz/fuzzers.txt")
if [ -n "${MAILGATE_FUZZ_ONLY:-}" ]; then fuzzers="$MAILGATE_FUZZ_ONLY"; fi
passed=0
failed=0
summary=()
for name in $fuzzers; do
    binary="$build/tests/fuzz/fuzz_$name"
    dir="$work/$name"
    mkdir -p "$dir/corpus" "$dir/findings"
    [ -d "$here/corpus/$name" ] && cp "$here/corpus/$name"/* "$dir/corpus/" 2>/dev/null
    args=(-max_total_time="$seconds" -max_len="$(max_len_of "$name")" -timeout=10 -rss_limit_mb=2048
          -print_final_stats=1 -artifact_prefix="$dir/findings/")
    [ -f "$here/$name.dict" ] && args+=(-dict="$here/$name.dict")
    echo "== fuzz_$name for ${seconds}s"
    if [ ! -x "$binary" ]; then
        status=127
        echo "missing $binary" >"$dir/log"
    else
        "$binary" "${args[@]}" "$dir/corpus" >"$dir/log" 2>&1
        status=$?
    fi
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$dir/log" | tail -1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$dir/log" | tail -1)
    last=$(grep -E '^#[0-9]+[[:space:]]+(DONE|pulse|NEW|REDUCE|INITED)' "$dir/log" | tail -1)
    cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
    ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
    corp=$(sed -n 's/.* corp: \([^ ]*\).*/\1/p' <<<"$last")
    if [ "$status" -eq 0 ]; then
        passed=$((passed + 1))
        verdict="ok"
    else
        failed=$((failed + 1))
        verdict="FAILED (exit $status)"
        echo "---- fuzz_$name output (tail):"
        tail -60 "$dir/log"
        ls "$dir/findings"/* 2>/dev/null | sed 's/^/---- finding: /'
    fi
    if [ -n "${MAILGATE_FUZZ_KEEP:-}" ]; then
        mkdir -p "$MAILGATE_FUZZ_KEEP/$name"
        cp "$dir/log" "$MAILGATE_FUZZ_KEEP/$name/log"
        cp "$dir/findings"/* "$MAILGATE_FUZZ_KEEP/$name/" 2>/dev/null
    fi
    line="fuzz_$name: $verdict, ${execs:-0} execs (${rate:-0} exec/s), cov ${cov:-?} ft ${ft:-?}, corpus ${corp:-?}"
    summary+=("$line")
    echo "$line"
done

echo
echo "== summary"
printf '%s\n' "${summary[@]}"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
