# SPDX-License-Identifier: Apache-2.0
# Sourced by the load scripts: starts build/release/idforge serve with HTTP and
# gRPC on free ports in a temporary directory, stopped and removed on exit.
# Sets: work (the directory), port, grpc_port, serve_pid.
work=$(mktemp -d)
serve_pid=""
stop_serve() {
  [ -n "$serve_pid" ] && kill "$serve_pid" 2>/dev/null && wait "$serve_pid" 2>/dev/null
  rm -rf "$work"
}
trap stop_serve EXIT
build/release/idforge serve --listen 127.0.0.1:0 --grpc-listen 127.0.0.1:0 --data-dir "$work/data" 2>"$work/serve.log" &
serve_pid=$!
for _ in $(seq 200); do grep -q '"grpc_port"' "$work/serve.log" && break; sleep 0.05; done
port=$(sed -n 's/.*"port":\([0-9]*\).*/\1/p' "$work/serve.log" | head -1)
grpc_port=$(sed -n 's/.*"grpc_port":\([0-9]*\).*/\1/p' "$work/serve.log" | head -1)
for _ in $(seq 200); do curl -fs -o /dev/null "http://127.0.0.1:$port/readyz" && break; sleep 0.05; done
