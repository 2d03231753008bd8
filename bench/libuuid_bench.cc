// SPDX-License-Identifier: Apache-2.0
// libuuid (Debian uuid-dev), the everyday alternative, measured in the same binary.
#include <benchmark/benchmark.h>
#include <uuid/uuid.h>

namespace {

void BM_Libuuid_GenerateTime(benchmark::State& state) {
  uuid_t out;
  for (auto _ : state) {
    uuid_generate_time(out);
    benchmark::DoNotOptimize(out);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Libuuid_GenerateTime);

void BM_Libuuid_GenerateRandom(benchmark::State& state) {
  uuid_t out;
  for (auto _ : state) {
    uuid_generate_random(out);
    benchmark::DoNotOptimize(out);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Libuuid_GenerateRandom);

}  // namespace
