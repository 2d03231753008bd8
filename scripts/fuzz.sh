#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Builds the libFuzzer targets (clang-14, ASan+UBSan) and runs each one.
#
#   bash scripts/fuzz.sh               replay the checked-in corpus only (deterministic; CI)
#   bash scripts/fuzz.sh 60            fuzz each target for 60 seconds
#   bash scripts/fuzz.sh --runs 10000000
#                                      fuzz each target for 10 million executions
#
# Fuzzing runs two targets at a time (one per core), prints each target's
# executions, and merges the new inputs that add coverage into
# fuzz/corpus/<target>/. A crash stops that target, prints libFuzzer's report
# and makes the script exit 1; the crashing input stays in build/fuzz/work/.
set -euo pipefail
cd "$(dirname "$0")/.."

limit=()
case "${1:-}" in
  "") ;;
  --runs) limit=(-runs="${2:?--runs needs a count}") ;;
  *[!0-9]*) echo "usage: bash scripts/fuzz.sh [SECONDS | --runs COUNT]" >&2; exit 2 ;;
  *) limit=(-max_total_time="$1") ;;
esac

cmake --preset fuzz >/dev/null
cmake --build --preset fuzz

# Fuzzes one target within the limit, then merges what it found into the corpus.
fuzz_one() {
  local fuzzer=$1 target corpus work
  target=$(basename "$fuzzer" _fuzzer)
  corpus="fuzz/corpus/$target"
  work="build/fuzz/work/$target"
  rm -rf "$work" && mkdir -p "$work"
  if ! "$fuzzer" "${limit[@]}" -print_final_stats=1 -artifact_prefix="$work/" "$work" "$corpus" \
      >"$work.log" 2>&1; then
    sed "s/^/$target: /" "$work.log" >&2
    return 1
  fi
  local before after
  before=$(find "$corpus" -type f | wc -l)
  "$fuzzer" -merge=1 "$corpus" "$work" >/dev/null 2>&1
  after=$(find "$corpus" -type f | wc -l)
  printf '%s: %s executions in %s s, %d inputs added to the corpus\n' "$target" \
    "$(sed -n 's/^stat::number_of_executed_units: *//p' "$work.log")" \
    "$(sed -n 's/^Done [0-9]* runs in \([0-9]*\) second.*/\1/p' "$work.log")" \
    $((after - before))
}

status=0
if [ ${#limit[@]} -eq 0 ]; then
  for fuzzer in build/fuzz/fuzz/*_fuzzer; do
    target=$(basename "$fuzzer" _fuzzer)
    if ! log=$("$fuzzer" -runs=0 "fuzz/corpus/$target" 2>&1); then
      printf '%s\n' "$log" >&2
      exit 1
    fi
    printf '%s: %s\n' "$target" "$(grep -E '^Done' <<<"$log")"
  done
else
  running=0
  for fuzzer in build/fuzz/fuzz/*_fuzzer; do
    fuzz_one "$fuzzer" &
    running=$((running + 1))
    if [ "$running" -eq 2 ]; then
      wait -n || status=1
      running=$((running - 1))
    fi
  done
  while [ "$running" -gt 0 ]; do
    wait -n || status=1
    running=$((running - 1))
  done
fi
exit "$status"
