// SPDX-License-Identifier: Apache-2.0
// What reading the time costs here: the floor under any per-ID clock read.
#include <benchmark/benchmark.h>
#include <time.h>

#include "idforge/clock.h"

namespace {

void BM_Clock_Realtime(benchmark::State& state) {
  timespec ts{};
  for (auto _ : state) {
    clock_gettime(CLOCK_REALTIME, &ts);
    benchmark::DoNotOptimize(ts);
  }
}
BENCHMARK(BM_Clock_Realtime);

void BM_Clock_RealtimeCoarse(benchmark::State& state) {
  timespec ts{};
  for (auto _ : state) {
    clock_gettime(CLOCK_REALTIME_COARSE, &ts);
    benchmark::DoNotOptimize(ts);
  }
}
BENCHMARK(BM_Clock_RealtimeCoarse);

void BM_Clock_SystemClockCycles(benchmark::State& state) {
  idforge::SystemClock clock;
  state.SetLabel(clock.has_fast_counter() ? "tsc" : "no fast counter");
  for (auto _ : state) benchmark::DoNotOptimize(clock.cycles());
}
BENCHMARK(BM_Clock_SystemClockCycles);

}  // namespace
