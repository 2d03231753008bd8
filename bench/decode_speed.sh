#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Times `idforge decode` on a million Twitter IDs (table and --json), three runs,
# beside a peer binary measured in the same run when one is given:
#
#   bash bench/decode_speed.sh [IDFORGE] [PEER_IDFORGE]
#
# Default IDFORGE: build/release/idforge. The IDs come from IDFORGE gen in a
# throwaway data directory.
set -euo pipefail
cd "$(dirname "$0")/.."
bin="${1:-build/release/idforge}"
peer="${2:-}"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$bin" gen --data-dir "$work/data" -n 1000000 >"$work/ids"

seconds() {  # seconds BINARY ARGS…: wall time of one decode of the IDs
  local start end
  start=$(date +%s%N)
  "$@" <"$work/ids" >/dev/null
  end=$(date +%s%N)
  echo "scale=3; ($end - $start) / 1000000000" | bc
}

for run in 1 2 3; do
  for mode in table json; do
    flag=""
    [ "$mode" = json ] && flag="--json"
    line="run $run  $mode  idforge $(seconds "$bin" decode $flag) s"
    [ -n "$peer" ] && line="$line  peer $(seconds "$peer" decode $flag) s"
    echo "$line"
  done
done
