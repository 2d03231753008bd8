# SPDX-License-Identifier: Apache-2.0
# Sourced by scripts that need a throwaway etcd cluster on loopback.
#
#   start_etcd_cluster DIR [MEMBERS=3]
#
# starts MEMBERS etcd members on free loopback ports with their data under DIR,
# waits until they answer, and sets ETCD_ENDPOINTS (comma-separated client URLs)
# and ETCD_PIDS (an array). The caller stops them (kill "${ETCD_PIDS[@]}").

# A loopback port nothing listens on (checked by trying to connect).
free_port() {
  local port
  while :; do
    port=$((20000 + RANDOM % 20000))
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null || { echo "$port"; return; }
  done
}

start_etcd_cluster() {
  local dir=$1 members=${2:-3} i cluster="" clients=() peers=()
  command -v etcd >/dev/null || { echo "etcd is not installed: apt-get install etcd-server" >&2; return 2; }
  for ((i = 0; i < members; i++)); do
    clients+=("$(free_port)")
    peers+=("$(free_port)")
    cluster+="${cluster:+,}m$i=http://127.0.0.1:${peers[$i]}"
  done
  ETCD_PIDS=()
  ETCD_ENDPOINTS=""
  for ((i = 0; i < members; i++)); do
    etcd --name "m$i" --data-dir "$dir/m$i" \
      --listen-client-urls "http://127.0.0.1:${clients[$i]}" --advertise-client-urls "http://127.0.0.1:${clients[$i]}" \
      --listen-peer-urls "http://127.0.0.1:${peers[$i]}" --initial-advertise-peer-urls "http://127.0.0.1:${peers[$i]}" \
      --initial-cluster "$cluster" --initial-cluster-state new --pre-vote=true 2>"$dir/m$i.log" &
    ETCD_PIDS+=($!)
    ETCD_ENDPOINTS+="${ETCD_ENDPOINTS:+,}http://127.0.0.1:${clients[$i]}"
  done
  for _ in $(seq 200); do
    ETCDCTL_API=3 etcdctl --endpoints="$ETCD_ENDPOINTS" endpoint health >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "etcd did not become healthy; see $dir/m*.log" >&2
  return 1
}
