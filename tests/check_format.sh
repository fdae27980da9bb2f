#!/usr/bin/env bash
# Checks that every C++ source of the tree is as clang-format (with the tree's .clang-format) would write it;
# lists the files that are not. Fix them with:  bash tests/check_format.sh --fix
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root" || exit 2
format="$(command -v clang-format || command -v clang-format-14 || true)"
if [[ -z $format ]]; then
    echo "check_format.sh: clang-format not found (apt-get install clang-format)" >&2
    exit 2
fi
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    mapfile -t files < <(git ls-files -- '*.cpp' '*.hpp')
else
    mapfile -t files < <(find protocols server tests -name '*.cpp' -o -name '*.hpp' | sort)
fi
if [[ ${1:-} == --fix ]]; then
    "$format" -i --style=file "${files[@]}"
    exit 0
fi
bad=()
for f in "${files[@]}"; do
    "$format" --style=file --dry-run --Werror "$f" >/dev/null 2>&1 || bad+=("$f")
done
if [[ ${#bad[@]} -gt 0 ]]; then
    echo "check_format.sh: ${#bad[@]} of ${#files[@]} file(s) differ from .clang-format (bash tests/check_format.sh --fix):"
    printf '  %s\n' "${bad[@]}"
    exit 1
fi
echo "check_format.sh: ${#files[@]} files keep .clang-format"
