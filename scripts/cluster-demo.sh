#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Cluster mode on one machine: starts a 3-member etcd and three idforge instances
# on loopback, prints each instance's node and a few IDs from each, shows
# `idforge nodes`, and stops them all (etcd's data goes with its temporary
# directory).
#
#   bash scripts/cluster-demo.sh            uses build/release/idforge, else build/service/idforge
#   IDFORGE=/usr/bin/idforge bash scripts/cluster-demo.sh
#
# Needs etcd (Debian's etcd-server) and curl.
set -euo pipefail
cd "$(dirname "$0")/.."

idforge="${IDFORGE:-}"
for candidate in build/release/idforge build/service/idforge; do
  [ -n "$idforge" ] || { [ -x "$candidate" ] && idforge="$candidate"; }
done
[ -n "$idforge" ] || { echo "build idforge first (cmake --preset service && cmake --build --preset service)" >&2; exit 2; }
command -v curl >/dev/null || { echo "curl is not installed: apt-get install curl" >&2; exit 2; }

work="$(mktemp -d)"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

source scripts/lib/etcd_cluster.sh
start_etcd_cluster "$work" 3
pids+=("${ETCD_PIDS[@]}")
endpoints="$ETCD_ENDPOINTS"
echo "etcd: 3 members at $endpoints"

# The ID space, made once: instances take nodes only from a space made on purpose.
"$idforge" nodes init --etcd "$endpoints" --nodes 0-9
echo

ports=()
for i in 0 1 2; do
  ports+=("$(free_port)")
  "$idforge" serve --listen "127.0.0.1:${ports[$i]}" --etcd "$endpoints" --wait-for-node \
    --data-dir "$work/host-$i" 2>"$work/serve-$i.log" &
  pids+=($!)
done
for i in 0 1 2; do
  for _ in $(seq 100); do
    curl -sf "http://127.0.0.1:${ports[$i]}/readyz" >/dev/null && break
    sleep 0.1
  done
done

for i in 0 1 2; do
  node=$(curl -s "http://127.0.0.1:${ports[$i]}/v1/info" | sed -n 's/.*"node":\([0-9]*\).*/\1/p')
  ids=$(curl -s -H 'Accept: text/plain' "http://127.0.0.1:${ports[$i]}/v1/next?count=3" | tr '\n' ' ')
  echo "instance $i on 127.0.0.1:${ports[$i]}: node $node, IDs $ids"
done
echo
"$idforge" nodes --etcd "$endpoints"
echo
echo "stopping (SIGTERM: each writes its final mark and gives its node back)"
