#!/usr/bin/env bash
# Builds and runs the whole test suite: Release, ASan+UBSan, TSan (concurrency
# tests), and a consumer project that uses the installed package.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n== %s\n' "$*"; }

for preset in release asan; do
  step "$preset: build and test"
  cmake --preset "$preset" >/dev/null
  cmake --build --preset "$preset"
  ctest --preset "$preset"
done

step "tsan: concurrency tests"
cmake --preset tsan >/dev/null
cmake --build --preset tsan --target core_concurrency_test
ctest --preset tsan

step "install and build a consumer with find_package(idforge)"
rm -rf build/install build/consumer
cmake --install build/release --prefix build/install >/dev/null
cmake -S tests/consumer -B build/consumer -G Ninja -DCMAKE_PREFIX_PATH="$PWD/build/install" >/dev/null
cmake --build build/consumer
./build/consumer/consumer

step "all suites passed"
