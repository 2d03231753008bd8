#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Load-tests the gRPC API of `idforge serve` beside its HTTP API, in one run on
# one instance (started and stopped by this script on free ports):
#   - single-ID calls/s: unary Next{count=1} with IN_FLIGHT calls outstanding
#     (bench/grpc_load.cc), against GET /v1/next with as many wrk connections;
#   - Stream IDs/s against the layout's cap: one stream of 4,096-ID batches, as
#     numbers only and with their text. A first stream uses up the lead (up to
#     --max-lead-ms of IDs ahead of the clock), so the measured ones show the
#     sustained rate, not the burst.
#
# Usage: bash bench/grpc_load.sh [SECONDS per run, Default 10] [IN_FLIGHT, Default 50]
# Needs: build/release/idforge and build/release/bench/grpc_load (cmake --preset
# release && cmake --build --preset release) and wrk (scripts/deps.sh --tests).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-10}
in_flight=${2:-50}
idforge=build/release/idforge
load=build/release/bench/grpc_load
for f in "$idforge" "$load"; do
  [ -x "$f" ] || { echo "build first: cmake --preset release && cmake --build --preset release" >&2; exit 2; }
done

source bench/load/serve.sh
field() { python3 -c "import json,sys; print(round(json.loads(sys.argv[1])['$2']))" "$1"; }
ratio() { python3 -c "print(f'{$1 / $2:.2f}')"; }

echo "== $(nproc) cores, $(lscpu | sed -n 's/^Model name: *//p'); ${in_flight} in flight, ${seconds} s per run"
wrk -t2 -c"$in_flight" -d"${seconds}s" "http://127.0.0.1:$port/v1/next" >"$work/http.txt"
http_rps=$(sed -n 's/^Requests\/sec: *\([0-9.]*\).*/\1/p' "$work/http.txt")
unary=$("$load" unary "127.0.0.1:$grpc_port" "$seconds" "$in_flight")
echo "http GET /v1/next  $http_rps req/s"
echo "grpc unary Next    $unary"
"$load" stream "127.0.0.1:$grpc_port" 3 4096 >/dev/null
values=$("$load" stream "127.0.0.1:$grpc_port" "$seconds" 4096)
text=$("$load" stream "127.0.0.1:$grpc_port" "$seconds" 4096 text)
echo "grpc Stream values $values"
echo "grpc Stream text   $text"
cap=$(curl -fs "http://127.0.0.1:$port/v1/info" | python3 -c 'import json,sys; print(int(json.load(sys.stdin)["capacity"]["ids_per_second"]))')

echo
echo "== summary"
unary_rps=$(field "$unary" calls_per_s)
echo "unary single-ID calls/s: $unary_rps = $(ratio "$unary_rps" "$http_rps") of HTTP's $http_rps req/s"
for run in values text; do
  rate=$(field "${!run}" ids_per_s)
  echo "Stream ($run): $rate IDs/s of cap $cap = $(ratio "$rate" "$cap")  (target >= 0.95)"
done
