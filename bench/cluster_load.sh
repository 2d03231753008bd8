#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Cluster mode against embedded mode, in the same run: two `idforge serve`
# instances on loopback, one holding its node in a data directory, one leasing it
# from a 3-member etcd, measured in turn (A B A B A B) with the same wrk commands —
# single IDs and batches of 10,000. Then, for the etcd instance: the requests it
# sends etcd per second at steady state (etcd's own grpc_server_started_total,
# over all members, while it serves), and each instance's time from start to ready.
#
# Usage: bash bench/cluster_load.sh [SECONDS per run, Default 10] [CONNECTIONS, Default 50]
# Needs build/release/idforge, wrk, curl and etcd (scripts/deps.sh --tests).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-10}
connections=${2:-50}
idforge=build/release/idforge
[ -x "$idforge" ] || { echo "build first: cmake --preset release && cmake --build --preset release" >&2; exit 2; }

work=$(mktemp -d)
pids=()
ETCD_PIDS=()
cleanup() {
  for pid in "${pids[@]}" "${ETCD_PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
source scripts/lib/etcd_cluster.sh
start_etcd_cluster "$work" 3

rps() { sed -n 's/^Requests\/sec: *\([0-9.]*\).*/\1/p' "$1"; }
issued() { curl -fs "http://127.0.0.1:$1/metrics" | sed -n 's/^idforge_ids_issued_total{format="snowflake"} //p'; }
now_ms() { date +%s%3N; }

# Starts an instance; prints its port after it is ready, and the ms that took.
start_instance() {  # name args...
  local name=$1 port
  shift
  port=$(free_port)
  local t0
  t0=$(now_ms)
  "$idforge" serve --listen "127.0.0.1:$port" "$@" 2>"$work/$name.log" &
  pids+=($!)
  for _ in $(seq 400); do curl -fs -o /dev/null "http://127.0.0.1:$port/readyz" && break; sleep 0.01; done
  echo "$port $(( $(now_ms) - t0 ))"
}
read -r files_port files_ready_ms < <(start_instance files --data-dir "$work/data")
"$idforge" nodes init --etcd "$ETCD_ENDPOINTS" >/dev/null
read -r etcd_port etcd_ready_ms < <(start_instance etcd --etcd "$ETCD_ENDPOINTS" --data-dir "$work/host")

single() {  # port -> req/s
  wrk -t2 -c"$connections" -d"${seconds}s" "http://127.0.0.1:$1/v1/next" >"$work/w.txt"
  rps "$work/w.txt"
}
batch() {  # port -> IDs/s
  wrk -t2 -c"$connections" -d3s "http://127.0.0.1:$1/v1/next?count=10000" >/dev/null  # use up the lead
  local before after t0
  before=$(issued "$1")
  t0=$(date +%s%N)
  wrk -t2 -c"$connections" -d"${seconds}s" "http://127.0.0.1:$1/v1/next?count=10000" >/dev/null
  after=$(issued "$1")
  python3 -c "print(round(($after - $before) / (($(date +%s%N) - $t0) / 1e9)))"
}

echo "== $(nproc) cores, $(lscpu | sed -n 's/^Model name: *//p'); ${connections} connections, ${seconds} s per run"
declare -A sum
for round in 1 2 3; do
  for mode in files etcd; do
    port_var="${mode}_port"
    s=$(single "${!port_var}")
    b=$(batch "${!port_var}")
    printf 'round %s %-6s single %10s req/s   batch %10s IDs/s\n' "$round" "$mode" "$s" "$b"
    sum[$mode-single]=$(python3 -c "print(${sum[$mode-single]:-0} + $s)")
    sum[$mode-batch]=$(python3 -c "print(${sum[$mode-batch]:-0} + $b)")
  done
done

# etcd requests at steady state: the etcd instance serving a light load for 20 s.
started_total() {
  local total=0 url n
  for url in ${ETCD_ENDPOINTS//,/ }; do
    n=$(curl -fs "$url/metrics" | awk '/^grpc_server_started_total/ {s += $2} END {printf "%d", s}')
    total=$((total + n))
  done
  echo "$total"
}
before=$(started_total)
t0=$(date +%s%N)
wrk -t1 -c4 -d20s "http://127.0.0.1:$etcd_port/v1/next" >/dev/null
after=$(started_total)
etcd_rps=$(python3 -c "print(f'{($after - $before) / (($(date +%s%N) - $t0) / 1e9):.1f}')")

echo
echo "== summary"
echo "cluster / embedded, single-ID requests/s: $(python3 -c "print(f'{${sum[etcd-single]} / ${sum[files-single]}:.3f}')")  (target >= 0.95)"
echo "cluster / embedded, batch IDs/s:          $(python3 -c "print(f'{${sum[etcd-batch]} / ${sum[files-batch]}:.3f}')")  (target >= 0.95)"
echo "requests the etcd instance sent etcd at steady state: ${etcd_rps}/s (keepalives, mark extensions)"
echo "start to ready: embedded ${files_ready_ms} ms, cluster ${etcd_ready_ms} ms"
