#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The cost of the audit log: `idforge serve` with --audit-log and without it,
# alternately, on the single-ID route (requests/s) and the batch route (IDs/s
# over the run, from the service's own counter), ROUNDS rounds each, on free
# ports. Prints the ratio on ÷ off per round and the median, and what the log
# holds afterwards (records, bytes, and `idforge verify --ranges` on it).
#
# Usage: bash bench/audit_load.sh [SECONDS per run, Default 10] [ROUNDS, Default 3] [CONNECTIONS, Default 50]
# Needs: build/release/idforge and wrk (scripts/deps.sh --tests).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-10}
rounds=${2:-3}
connections=${3:-50}
idforge=build/release/idforge
[ -x "$idforge" ] || { echo "build first: cmake --preset release && cmake --build --preset release" >&2; exit 2; }

work=$(mktemp -d)
pid=""
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

rps() { sed -n 's/^Requests\/sec: *\([0-9.]*\).*/\1/p' "$1"; }
issued() { curl -fs "http://127.0.0.1:$port/metrics" | sed -n 's/^idforge_ids_issued_total{format="snowflake"} //p'; }

# Starts a service (with the extra flags given), sets $pid and $port.
start() {
  "$idforge" serve --listen 127.0.0.1:0 --data-dir "$work/data" "$@" 2>"$work/serve.log" &
  pid=$!
  for _ in $(seq 200); do grep -q '"port"' "$work/serve.log" && break; sleep 0.05; done
  port=$(sed -n 's/.*"port":\([0-9]*\).*/\1/p' "$work/serve.log" | head -1)
  for _ in $(seq 200); do curl -fs -o /dev/null "http://127.0.0.1:$port/readyz" && return 0; sleep 0.05; done
  echo "idforge serve did not start" >&2
  exit 1
}
stop() { kill -TERM "$pid"; wait "$pid" || true; pid=""; }

# One measurement: prints "single-requests/s batch-IDs/s".
measure() {
  start "$@"
  wrk -t2 -c"$connections" -d"${seconds}s" "http://127.0.0.1:$port/v1/next" >"$work/single.txt"
  # A first batch run uses up the lead, so the measured one shows the sustained rate.
  wrk -t2 -c"$connections" -d2s "http://127.0.0.1:$port/v1/next?count=10000" >/dev/null
  local before after start_ns elapsed_ns
  before=$(issued)
  start_ns=$(date +%s%N)
  wrk -t2 -c"$connections" -d"${seconds}s" "http://127.0.0.1:$port/v1/next?count=10000" >/dev/null
  elapsed_ns=$(( $(date +%s%N) - start_ns ))
  after=$(issued)
  stop
  echo "$(rps "$work/single.txt") $(python3 -c "print(round(($after - $before) / ($elapsed_ns / 1e9)))")"
}

echo "== $(nproc) cores, $(lscpu | sed -n 's/^Model name: *//p'); ${connections} connections, ${seconds} s per run, ${rounds} rounds"
results=()
for round in $(seq "$rounds"); do
  read -r off_single off_batch < <(measure)
  read -r on_single on_batch < <(measure --audit-log "$work/audit.log")
  printf 'round %s: single %s -> %s req/s, batch %s -> %s IDs/s (off -> on)\n' \
    "$round" "$off_single" "$on_single" "$off_batch" "$on_batch"
  results+=("$off_single $on_single $off_batch $on_batch")
done
python3 - "${results[@]}" <<'PY'
import statistics, sys
rows = [list(map(float, r.split())) for r in sys.argv[1:]]
single = [on / off for off, on, _, _ in rows]
batch = [on / off for _, _, off, on in rows]
print("single-ID requests/s, audit on / off: " + ", ".join(f"{r:.3f}" for r in single) +
      f"; median {statistics.median(single):.3f}  (target >= 0.9)")
print("batch IDs/s, audit on / off:          " + ", ".join(f"{r:.3f}" for r in batch) +
      f"; median {statistics.median(batch):.3f}  (target >= 0.95)")
PY
echo "audit log: $(wc -l <"$work/audit.log") records, $(wc -c <"$work/audit.log") bytes"
"$idforge" verify --ranges "$work/audit.log" | tail -1
