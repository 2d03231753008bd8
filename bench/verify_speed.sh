#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# `idforge verify` on one file of N decimal Snowflake IDs (made by idforge gen on
# 8 nodes in parallel, then joined), end to end, within the default memory
# budget (so past it, through --tmp-dir, once N × 8 bytes exceed 1 GiB), with
# its peak memory; then the same check the classic way, `sort | uniq -d`, on the
# first PEER_N IDs, beside idforge verify on those same IDs.
#
# Usage: bash bench/verify_speed.sh [N, Default 100000000] [PEER_N, Default 20000000] [DIR, Default a temporary one]
# Needs: build/release/idforge and about N × 28 bytes free in DIR (the file, and
# the spilled IDs in DIR/tmp).
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-100000000}
peer_n=${2:-20000000}
idforge=$PWD/build/release/idforge
[ -x "$idforge" ] || { echo "build first: cmake --preset release && cmake --build --preset release" >&2; exit 2; }
work=${3:-$(mktemp -d)}
mkdir -p "$work/tmp"
trap 'rm -rf "$work/data" "$work"/part-* "$work/ids.txt" "$work/peer.txt" "$work/tmp"' EXIT

echo "== $(nproc) cores, $(lscpu | sed -n 's/^Model name: *//p'), $(free -g | awk '/Mem:/{print $2}') GiB; N=$n in $work"
start=$(date +%s.%N)
per=$(( (n + 7) / 8 ))
for node in 0 1 2 3 4 5 6 7; do
  count=$(( node == 7 ? n - 7 * per : per ))
  IDFORGE_DATA_DIR="$work/data" "$idforge" gen -n "$count" --node "$node" > "$work/part-$node" &
done
wait
cat "$work"/part-* > "$work/ids.txt"
rm -f "$work"/part-*
printf 'made %s IDs (%s bytes) in %.1f s\n' "$n" "$(stat -c %s "$work/ids.txt")" "$(echo "$(date +%s.%N) - $start" | bc)"

run() {  # label command...: prints wall seconds, peak RSS, and the command's last line
  local label=$1
  shift
  /usr/bin/time -f '%e %M' -o "$work/time" "$@" > "$work/out" || true
  read -r secs kb < "$work/time"
  printf '%-28s %8.2f s  %7.1f M IDs/s  peak %5d MiB  | %s\n' "$label" "$secs" \
    "$(echo "$count_ids / $secs / 1000000" | bc -l)" $((kb / 1024)) "$(tail -1 "$work/out")"
}
count_ids=$n
run "idforge verify (N)" "$idforge" verify --tmp-dir "$work/tmp" "$work/ids.txt"
head -n "$peer_n" "$work/ids.txt" > "$work/peer.txt"
count_ids=$peer_n
run "idforge verify (PEER_N)" "$idforge" verify --tmp-dir "$work/tmp" "$work/peer.txt"
run "sort | uniq -d (PEER_N)" sh -c "LC_ALL=C sort -S 1G --parallel=2 -T '$work/tmp' '$work/peer.txt' | uniq -d | wc -l"
