// SPDX-License-Identifier: Apache-2.0
// client_load: what idforge::Client delivers (bench/client_load.sh runs it).
//
//   client_load ENDPOINT SECONDS THREADS [buffered|per-id|from-buffer]
//
// THREADS threads call next() for SECONDS.
//   buffered     (Default) the client buffers and refills adaptively: what a
//                program that takes IDs as fast as it can gets over the network;
//   per-id       the client holds one ID and asks for one at a time: a call per
//                ID, the baseline a buffer is measured against;
//   from-buffer  a buffer of 2,000,000 IDs is filled first, and the threads take
//                them all: the cost of next() itself (SECONDS is not used).
// Prints one JSON line: IDs, IDs/s, calls to the service, waits, and the mean
// ns per next() (over all threads).
#include <atomic>
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "idforge/client.h"

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: client_load ENDPOINT SECONDS THREADS [per-id]\n");
    return 2;
  }
  idforge::ClientOptions options;
  options.endpoints = {argv[1]};
  const double seconds = std::stod(argv[2]);
  const int threads = std::stoi(argv[3]);
  const std::string mode = argc > 4 ? argv[4] : "buffered";
  constexpr std::uint64_t kBuffer = 2'000'000;
  if (mode == "per-id") {
    options.capacity = 1;
    options.adaptive = false;
    options.max_batch = 1;
  } else if (mode == "from-buffer") {
    options.capacity = kBuffer;
    options.adaptive = false;
  } else if (mode != "buffered") {
    std::fprintf(stderr, "client_load: unknown mode %s\n", mode.c_str());
    return 2;
  }
  options.wait_ms = 10'000;
  auto client = idforge::Client::connect(options);
  if (!client) {
    std::fprintf(stderr, "client_load: %s\n", client.error().message().c_str());
    return 1;
  }
  // The first batch (or the whole buffer), so the run measures the steady state.
  if (!(*client)->next()) return 1;
  if (mode == "from-buffer") {
    while ((*client)->stats().buffered < kBuffer) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  const std::uint64_t per_thread = mode == "from-buffer" ? kBuffer / static_cast<std::uint64_t>(threads) / 256 * 256 : 0;
  using Clock = std::chrono::steady_clock;
  std::atomic<bool> stop{false};
  std::atomic<std::uint64_t> total{0}, failed{0};
  std::vector<std::thread> workers;
  const Clock::time_point start = Clock::now();
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&] {
      std::uint64_t n = 0, last = 0, bad = 0;
      while (per_thread > 0 ? n < per_thread : !stop.load(std::memory_order_relaxed)) {
        for (int i = 0; i < 256; ++i) {
          idforge::Result<std::uint64_t> id = (*client)->next();
          if (!id || *id <= last) ++bad;
          if (id) last = *id;
          ++n;
        }
      }
      total += n;
      failed += bad;
    });
  }
  if (per_thread == 0) std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  stop = true;
  for (std::thread& w : workers) w.join();
  const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  const idforge::Client::Stats stats = (*client)->stats();
  std::printf("{\"endpoint\":\"%s\",\"mode\":\"%s\",\"threads\":%d,\"ids\":%llu,\"ids_per_s\":%.0f,\"calls\":%llu,"
              "\"waits\":%llu,\"failed\":%llu,\"ns_per_next\":%.1f}\n",
              argv[1], mode.c_str(), threads, static_cast<unsigned long long>(total.load()),
              static_cast<double>(total.load()) / elapsed, static_cast<unsigned long long>(stats.calls),
              static_cast<unsigned long long>(stats.waits), static_cast<unsigned long long>(failed.load()),
              elapsed * 1e9 * threads / static_cast<double>(total.load()));
  return failed.load() == 0 ? 0 : 1;
}
