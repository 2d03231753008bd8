#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Builds and runs the whole test suite: Release (with the PostgreSQL tests, which
# run throwaway PostgreSQL 15 clusters and install the built extension into
# PostgreSQL's directories for the time they run), ASan+UBSan (both replay the fuzz
# corpus, and run the service's integration tests against an ASan-built binary),
# TSan (concurrency tests, the lease code, and the integration tests against a
# TSan-built binary), the libFuzzer targets over their corpus, the short form of
# the fault campaign (tests/faults/), a consumer project that uses the
# installed package, and the Debian package (installed into this machine, used,
# removed: scripts/package_check.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

# Each step's heading says how long the run has taken so far, so the slow steps show.
start=$SECONDS
step() { printf '\n== [%dm%02ds] %s\n' $(((SECONDS - start) / 60)) $(((SECONDS - start) % 60)) "$*"; }

# Runs ctest for a preset and adds its counts to the totals printed at the end.
passed=0
failed=0
run_ctest() {
  local log="build/ctest-$1.log"
  local status=0
  ctest --preset "$1" 2>&1 | tee "$log" || status=$?
  local total fails
  total=$(sed -n 's/.*tests failed out of \([0-9]*\).*/\1/p' "$log" | tail -1)
  fails=$(sed -n 's/.* \([0-9]*\) tests failed out of.*/\1/p' "$log" | tail -1)
  passed=$((passed + ${total:-0} - ${fails:-0}))
  failed=$((failed + ${fails:-0}))
  return "$status"
}

for preset in release asan; do
  step "$preset: build and test"
  cmake --preset "$preset" >/dev/null
  cmake --build --preset "$preset"
  run_ctest "$preset"
done

step "tsan: concurrency tests, the service, and cluster mode's lease code"
cmake --preset tsan >/dev/null
tsan_targets=(core_concurrency_test formats_concurrency_test verify_test serve_test)
# The gRPC API and the client (its refill thread), when configured with gRPC (IDFORGE_WITH_GRPC, the default).
if grep -q '^IDFORGE_WITH_GRPC:BOOL=ON' build/tsan/CMakeCache.txt; then tsan_targets+=(serve_grpc_test client_test); fi
# Cluster mode, when configured with it (IDFORGE_WITH_ETCD, the default).
if grep -q '^IDFORGE_WITH_ETCD:BOOL=ON' build/tsan/CMakeCache.txt; then tsan_targets+=(etcd_test cluster_test); fi
cmake --build --preset tsan --target "${tsan_targets[@]}"
run_ctest tsan

step "fuzz: libFuzzer targets (clang-14, ASan+UBSan) over the checked-in corpus"
bash scripts/fuzz.sh

step "fault campaign, short form: the release binaries through clock, process, disk and etcd faults"
python3 tests/faults/campaign.py --idforge build/release/idforge > build/faults-short.json

step "install and build a consumer with find_package(idforge)"
rm -rf build/install build/consumer
cmake --install build/release --prefix build/install >/dev/null
cmake -S tests/consumer -B build/consumer -G Ninja -DCMAKE_PREFIX_PATH="$PWD/build/install" >/dev/null
cmake --build build/consumer
./build/consumer/consumer

step "the Debian package: build, dpkg -i, use the installed idforge and library, remove"
if [ "$(id -u)" -eq 0 ]; then
  bash scripts/package_check.sh
else
  echo "skipped: not root (dpkg -i needs it)"
fi

step "all suites passed"
echo "$passed passed, $failed failed"
