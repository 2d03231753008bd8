#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Builds the libFuzzer targets (clang-14, ASan+UBSan) and runs each one.
#
#   bash scripts/fuzz.sh          replay the checked-in corpus only (deterministic; CI)
#   bash scripts/fuzz.sh 60       fuzz each target for 60 seconds, then merge new
#                                 inputs that add coverage into fuzz/corpus/<target>/
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-0}"

cmake --preset fuzz >/dev/null
cmake --build --preset fuzz

for fuzzer in build/fuzz/fuzz/*_fuzzer; do
  target=$(basename "$fuzzer" _fuzzer)
  corpus="fuzz/corpus/$target"
  if [ "$seconds" -eq 0 ]; then
    if ! log=$("$fuzzer" -runs=0 "$corpus" 2>&1); then
      printf '%s\n' "$log" >&2
      exit 1
    fi
    printf '%s: %s\n' "$target" "$(grep -E '^Done' <<<"$log")"
  else
    work="build/fuzz/work/$target"
    rm -rf "$work" && mkdir -p "$work"
    "$fuzzer" -max_total_time="$seconds" -print_final_stats=1 "$work" "$corpus" 2>&1 |
      grep -E "stat::number_of_executed_units|Done|ERROR" | sed "s/^/$target: /"
    "$fuzzer" -merge=1 "$corpus" "$work" >/dev/null 2>&1
  fi
done
