// SPDX-License-Identifier: Apache-2.0
// The generator on the system clock: cost per ID, and saturation of one node.
#include <benchmark/benchmark.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include "idforge/generator.h"

namespace {

using idforge::Generator;
using idforge::GeneratorOptions;
using idforge::Layout;

// 22 sequence bits: 4.2 billion IDs/s per node, so one thread never meets the cap
// and the figure is the generator's own cost per ID.
GeneratorOptions below_cap() {
  GeneratorOptions options;
  options.layout = Layout::parse("time:41-seq:22/tick=1ms/epoch=2024-01-01").value();
  return options;
}

struct Fixture {
  explicit Fixture(const GeneratorOptions& options)
      : reservation(0), generator(std::move(Generator::create(options, clock, reservation)).value()) {}
  idforge::SystemClock clock;
  idforge::MemoryReservation reservation;
  std::unique_ptr<Generator> generator;
};

void BM_Generator_Next(benchmark::State& state) {
  Fixture f(below_cap());
  for (auto _ : state) benchmark::DoNotOptimize(f.generator->next().value());
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Generator_Next)->Repetitions(5)->ReportAggregatesOnly(true);

void BM_Generator_NextBatch4096(benchmark::State& state) {
  Fixture f(below_cap());
  std::vector<std::uint64_t> ids(4096);
  for (auto _ : state) {
    if (!f.generator->next_batch(ids)) state.SkipWithError("batch refused");
    benchmark::DoNotOptimize(ids.data());
  }
  state.SetItemsProcessed(state.iterations() * 4096);
}
BENCHMARK(BM_Generator_NextBatch4096)->Repetitions(5)->ReportAggregatesOnly(true);

// Two threads on one Twitter-layout node for 5 s of wall time with max_lead 0
// (every ID waits for its tick, so the figure is throughput, not lead). Timed here,
// not by per-thread timers, so the ratio is IDs issued / elapsed / 4,096,000.
void BM_Generator_SaturationTwitter(benchmark::State& state) {
  GeneratorOptions options;
  options.max_lead_ms = 0;
  options.max_wait_ms = 10'000;
  Fixture f(options);
  for (auto _ : state) {
    std::atomic<bool> stop{false};
    std::atomic<std::uint64_t> issued{0};
    const auto start = std::chrono::steady_clock::now();
    std::vector<std::thread> threads;
    for (int t = 0; t < 2; ++t) {
      threads.emplace_back([&] {
        std::uint64_t mine = 0;
        while (!stop.load(std::memory_order_relaxed)) mine += f.generator->next() ? 1u : 0u;
        issued += mine;
      });
    }
    std::this_thread::sleep_for(std::chrono::seconds(5));
    stop = true;
    for (std::thread& thread : threads) thread.join();
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    state.SetIterationTime(seconds);
    state.counters["ids_per_second"] = static_cast<double>(issued) / seconds;
    state.counters["cap_ratio"] = static_cast<double>(issued) / seconds / 4'096'000.0;
  }
}
BENCHMARK(BM_Generator_SaturationTwitter)->Iterations(1)->UseManualTime()->Unit(benchmark::kSecond);

}  // namespace
