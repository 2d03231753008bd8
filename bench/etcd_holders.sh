#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# How far one etcd cluster carries a fleet: a 3-member etcd on loopback, and
# build/release/etcd_holders taking HOLDERS nodes (one lease and one client each)
# and keeping them for SECONDS; then etcd's CPU time and resident memory.
#
# Usage: bash bench/etcd_holders.sh [HOLDERS=1024] [SECONDS=60] [TTL_S=10] [EXTEND_MS=0]
#   EXTEND_MS > 0 also raises each holder's mark every EXTEND_MS, as a busy
#   instance does (about every 500 ms per generator that issues).
set -euo pipefail
cd "$(dirname "$0")/.."
holders=${1:-1024}
seconds=${2:-60}
ttl=${3:-10}
extend_ms=${4:-0}
tool=build/release/bench/etcd_holders
[ -x "$tool" ] || { echo "build first: cmake --preset release && cmake --build --preset release" >&2; exit 2; }

work=$(mktemp -d)
ETCD_PIDS=()
cleanup() {
  kill "${ETCD_PIDS[@]}" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
source scripts/lib/etcd_cluster.sh
start_etcd_cluster "$work" 3

cpu_s() {  # user + system seconds of a process
  awk -v hz="$(getconf CLK_TCK)" '{printf "%.2f", ($14 + $15) / hz}' "/proc/$1/stat"
}
declare -A before
for pid in "${ETCD_PIDS[@]}"; do before[$pid]=$(cpu_s "$pid"); done
start=$(date +%s.%N)
"$tool" "$ETCD_ENDPOINTS" "$holders" "$seconds" "$ttl" "$extend_ms"
status=$?
elapsed=$(python3 -c "print(f'{$(date +%s.%N) - $start:.1f}')")
echo "etcd members over the ${elapsed} s run (acquire, hold, release):"
for pid in "${ETCD_PIDS[@]}"; do
  used=$(python3 -c "print(f'{$(cpu_s "$pid") - ${before[$pid]}:.2f}')")
  rss=$(awk '/VmRSS/ {print $2 / 1024 " MiB"}' "/proc/$pid/status")
  echo "  pid $pid: cpu ${used} s ($(python3 -c "print(f'{100 * $used / $elapsed:.1f}')")% of a core), rss $rss"
done
exit $status
