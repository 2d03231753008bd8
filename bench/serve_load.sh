#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Load-tests `idforge serve` on loopback beside the peers it replaces or rivals,
# all started and stopped by this script on free ports:
#   - Redis INCR (redis-benchmark, the same connection count, no pipelining): the
#     central counter people use instead of an ID service;
#   - nginx answering `return 200 "$request_id";` (the same wrk command): the
#     ceiling of an HTTP responder on this machine.
# Then the batch route (?count=10000) against the layout's cap, p99 latency at
# about half the peak rate (paced and steady), idforge's CPU time per request,
# and its resident memory after the run.
#
# Usage: bash bench/serve_load.sh [SECONDS per run, Default 10] [CONNECTIONS, Default 50]
# Needs: build/release/idforge (cmake --preset release && cmake --build --preset release)
# and the packages in scripts/deps.sh (wrk, nginx-light, redis-server, redis-tools).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-10}
connections=${2:-50}
idforge=build/release/idforge
[ -x "$idforge" ] || { echo "build first: cmake --preset release && cmake --build --preset release" >&2; exit 2; }

work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
wait_for() { for _ in $(seq 200); do curl -fs -o /dev/null "$1" && return 0; sleep 0.05; done; echo "not answering: $1" >&2; exit 1; }
rps() { sed -n 's/^Requests\/sec: *\([0-9.]*\).*/\1/p' "$1"; }
p99() { sed -n 's/^ *99% *\(.*\)$/\1/p' "$1"; }
issued() { curl -fs "http://127.0.0.1:$port/metrics" | sed -n 's/^idforge_ids_issued_total{format="snowflake"} //p'; }
ratio() { python3 -c "print(f'{$1 / $2:.2f}')"; }
cpu_ticks() { awk '{print $14, $15}' "/proc/$1/stat"; }  # user and system, in clock ticks
requests() { sed -n 's/^ *\([0-9]*\) requests in.*/\1/p' "$1"; }

"$idforge" serve --listen 127.0.0.1:0 --data-dir "$work/data" 2>"$work/serve.log" &
pids+=($!)
idforge_pid=$!
for _ in $(seq 200); do grep -q '"port"' "$work/serve.log" && break; sleep 0.05; done
port=$(sed -n 's/.*"port":\([0-9]*\).*/\1/p' "$work/serve.log" | head -1)
wait_for "http://127.0.0.1:$port/readyz"

redis_port=$(free_port)
redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no --daemonize no >"$work/redis.log" 2>&1 &
pids+=($!)
nginx_port=$(free_port)
sed -e "s|@DIR@|$work|g" -e "s|@PORT@|$nginx_port|g" bench/load/nginx.conf.in >"$work/nginx.conf"
nginx -c "$work/nginx.conf" -p "$work" &
pids+=($!)
wait_for "http://127.0.0.1:$nginx_port/"
for _ in $(seq 200); do redis-cli -p "$redis_port" ping >/dev/null 2>&1 && break; sleep 0.05; done

wrk_run() {  # name connections url [wrk args...]
  local name=$1 conns=$2 url=$3
  shift 3
  wrk -t2 -c"$conns" -d"${seconds}s" --latency "$@" "$url" >"$work/$name.txt"
  printf '%-16s %10s req/s  p99 %s\n' "$name" "$(rps "$work/$name.txt")" "$(p99 "$work/$name.txt")"
}

echo "== $(nproc) cores, $(lscpu | sed -n 's/^Model name: *//p'); ${connections} connections, ${seconds} s per run"
wrk_run idforge-next "$connections" "http://127.0.0.1:$port/v1/next"
wrk_run nginx "$connections" "http://127.0.0.1:$nginx_port/"
requests=$((connections * 20000))
redis-benchmark -p "$redis_port" -c "$connections" -n "$requests" -t incr -q --csv >"$work/redis.csv"
redis_rps=$(sed -n 's/^"INCR","\([0-9.]*\)".*/\1/p' "$work/redis.csv")
printf '%-16s %10s req/s  (redis-benchmark -c %s -n %s -t incr)\n' "redis-incr" "$redis_rps" "$connections" "$requests"

# The batch route: a first run uses up the lead (up to --max-lead-ms of IDs ahead
# of the clock), so the measured run shows the sustained rate, not the burst.
wrk -t2 -c"$connections" -d3s "http://127.0.0.1:$port/v1/next?count=10000" >/dev/null
before=$(issued)
start_ns=$(date +%s%N)
wrk_run idforge-batch "$connections" "http://127.0.0.1:$port/v1/next?count=10000"
elapsed_ns=$(( $(date +%s%N) - start_ns ))
after=$(issued)
ids_per_s=$(python3 -c "print(round(($after - $before) / ($elapsed_ns / 1e9)))")
cap=$(curl -fs "http://127.0.0.1:$port/v1/info" | python3 -c 'import json,sys; print(int(json.load(sys.stdin)["capacity"]["ids_per_second"]))')
refused=$(sed -n 's/^ *Non-2xx or 3xx responses: *//p' "$work/idforge-batch.txt")

# Latency at about half the peak rate, two ways. Paced: every connection waits
# 1 ms between requests, and twice the connections bring the rate near half the
# peak; wrk's 1 ms timers fire together, so requests arrive in bursts of about
# one per connection. Steady: 4 connections, each sending its next request as
# soon as the last is answered, which on this machine is also about half the peak.
cpu_before=$(cpu_ticks "$idforge_pid")
wrk_run idforge-paced $((connections * 2)) "http://127.0.0.1:$port/v1/next" -s bench/load/pace.lua
cpu_after=$(cpu_ticks "$idforge_pid")
wrk_run nginx-paced $((connections * 2)) "http://127.0.0.1:$nginx_port/" -s bench/load/pace.lua
wrk_run idforge-steady 4 "http://127.0.0.1:$port/v1/next"
wrk_run nginx-steady 4 "http://127.0.0.1:$nginx_port/"
rss_kb=$(ps -o rss= -p "$idforge_pid" | tr -d ' ')

single=$(rps "$work/idforge-next.txt")
nginx_rps=$(rps "$work/nginx.txt")
echo
echo "== summary"
echo "single-ID requests/s vs Redis INCR:  $(ratio "$single" "$redis_rps")  (target >= 1.0)"
echo "single-ID requests/s vs nginx:       $(ratio "$single" "$nginx_rps")  (target >= 0.9)"
echo "batch IDs/s: $ids_per_s of cap $cap = $(ratio "$ids_per_s" "$cap")  (target >= 0.95; ${refused:-0} requests got 503)"
for run in paced steady; do
  rate=$(rps "$work/idforge-$run.txt")
  echo "$run: $rate req/s = $(ratio "$rate" "$single") of the peak, p99 $(p99 "$work/idforge-$run.txt") (nginx $(p99 "$work/nginx-$run.txt"))  (target < 1 ms at half the peak)"
done
python3 - "$cpu_before" "$cpu_after" "$(requests "$work/idforge-paced.txt")" "$(getconf CLK_TCK)" <<'PY'
import sys
before, after, n, hz = sys.argv[1].split(), sys.argv[2].split(), int(sys.argv[3]), int(sys.argv[4])
us = [(int(a) - int(b)) / hz / n * 1e6 for a, b in zip(after, before)]
print(f"idforge CPU per request (paced run): user {us[0]:.1f} us, kernel {us[1]:.1f} us")
PY
echo "idforge resident memory after the run: $((rss_kb / 1024)) MiB  (target < 30)"
