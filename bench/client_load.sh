#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# What idforge::Client delivers from one `idforge serve` (started and stopped
# here on free ports), over HTTP and over gRPC, in one run:
#   - from-buffer: the cost of next() on a filled buffer (1 and 2 threads);
#   - buffered: IDs/s when a program takes IDs as fast as it can, refilled over
#     the network (bounded by the layout's cap);
#   - per-id: a call to the service per ID, the baseline.
# Then the JavaScript and Python clients' own figures (clients/*/bench), when
# node and python3 are there.
#
# Usage: bash bench/client_load.sh [SECONDS per run, Default 5]
# Needs: build/release/idforge and build/release/bench/client_load.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-5}
idforge=build/release/idforge
load=build/release/bench/client_load
for f in "$idforge" "$load"; do
  [ -x "$f" ] || { echo "build first: cmake --preset release && cmake --build --preset release" >&2; exit 2; }
done
source bench/load/serve.sh

echo "== $(nproc) cores, $(lscpu | sed -n 's/^Model name: *//p'); ${seconds} s per run"
for endpoint in "http://127.0.0.1:$port" "grpc://127.0.0.1:$grpc_port"; do
  "$load" "$endpoint" "$seconds" 1 from-buffer
  "$load" "$endpoint" "$seconds" 2 from-buffer
  "$load" "$endpoint" "$seconds" 1 buffered
  "$load" "$endpoint" "$seconds" 1 per-id
done
if [ -f clients/js/bench/load.mjs ] && command -v node >/dev/null; then
  node clients/js/bench/load.mjs "http://127.0.0.1:$port" "$seconds"
fi
if [ -f clients/python/bench/load.py ]; then
  PYTHONPATH=clients/python/src python3 clients/python/bench/load.py "http://127.0.0.1:$port" "$seconds"
fi
