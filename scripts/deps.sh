#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Installs idforge's dependencies from Debian 12 (bookworm) packages.
#
#   bash scripts/deps.sh          what building and running need
#   bash scripts/deps.sh --tests  that, and what the tests, fuzzing and benchmarks need
#
# Skips apt entirely when every package is already installed.
set -euo pipefail

packages=(
  g++ cmake ninja-build           # toolchain
  libcli11-dev nlohmann-json3-dev # CLI parsing, JSON output
  libboost-dev                    # Boost.Asio and Beast (1.74): the HTTP service
  libgrpc++-dev libprotobuf-dev protobuf-compiler protobuf-compiler-grpc  # cluster mode (etcd's gRPC API)
)
case "${1:-}" in
  "") ;;
  --tests)
    packages+=(
      libgtest-dev libgmock-dev       # tests
      faketime                        # restart tests step the clock back
      libbenchmark-dev uuid-dev       # benchmarks (libuuid is the measured peer)
      clang-14 libfuzzer-14-dev       # fuzz targets
      python3                         # cross-checks UUIDs with Python's uuid module
      wrk nginx-light redis-server redis-tools  # service benchmarks and their peers
      etcd-server etcd-client         # cluster tests run real etcd members
      nftables iproute2 openssl       # partition tests (network namespaces), TLS test certificates
      postgresql-15 postgresql-server-dev-15  # SQL generator and extension tests run a real server
      gnuplot-nox                     # bench/postgres_btree.sh draws its chart
      nodejs                          # the JavaScript client's tests (Node's own test runner)
      dpkg-dev pkg-config systemd curl  # the Debian package: cpack's dependency list, the consumer, systemd-analyze verify
    )
    ;;
  *)
    echo "usage: bash scripts/deps.sh [--tests]" >&2
    exit 2
    ;;
esac

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
