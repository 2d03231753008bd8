// SPDX-License-Identifier: Apache-2.0
// Many threads on one node: zero duplicates, strict order per thread, exact counts.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <thread>
#include <vector>

#include "idforge/audit.h"
#include "idforge/generator.h"
#include "idforge/renewer.h"

namespace idforge {
namespace {

constexpr int kThreads = 2;
constexpr int kIdsPerThread = 1'500'000;

// Each thread mixes next() with batches of seeded random sizes and checks that its
// own IDs strictly increase; afterwards the union must hold no duplicate. Returns
// the union, sorted.
std::vector<std::uint64_t> hammer(Generator& generator, Clock* manual_clock_to_step) {
  std::vector<std::vector<std::uint64_t>> per_thread(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937 rng(static_cast<unsigned>(1000 + t));
      std::vector<std::uint64_t>& mine = per_thread[static_cast<std::size_t>(t)];
      mine.reserve(kIdsPerThread + 4096);
      std::vector<std::uint64_t> batch(512);
      while (mine.size() < kIdsPerThread) {
        if (rng() % 8 == 0) {
          std::span<std::uint64_t> part(batch.data(), 1 + rng() % batch.size());
          Result<void> made = generator.next_batch(part);
          ASSERT_TRUE(made) << made.error().message();
          mine.insert(mine.end(), part.begin(), part.end());
        } else {
          Result<std::uint64_t> id = generator.next();
          ASSERT_TRUE(id) << id.error().message();
          mine.push_back(*id);
        }
        if (manual_clock_to_step != nullptr && mine.size() % 4096 == 0) manual_clock_to_step->sleep_for_ns(1'000'000);
      }
    });
  }
  for (std::thread& thread : threads) thread.join();

  std::vector<std::uint64_t> all;
  for (const auto& mine : per_thread) {
    for (std::size_t i = 1; i < mine.size(); ++i) EXPECT_LT(mine[i - 1], mine[i]) << "order broke at " << i;
    all.insert(all.end(), mine.begin(), mine.end());
  }
  std::sort(all.begin(), all.end());
  EXPECT_EQ(std::adjacent_find(all.begin(), all.end()), all.end()) << "duplicate ID";
  EXPECT_EQ(generator.stats().issued, all.size());
  return all;
}

TEST(GeneratorConcurrency, ManualClockManyThreadsNoDuplicates) {
  ManualClock clock(1767225600000LL * 1'000'000);
  MemoryReservation reservation(3);
  auto generator = Generator::create({}, clock, reservation);
  ASSERT_TRUE(generator);
  hammer(**generator, &clock);
}

TEST(GeneratorConcurrency, SystemClockAtTheCapNoDuplicates) {
  SystemClock clock;
  MemoryReservation reservation(4);
  GeneratorOptions options;
  options.max_lead_ms = 0;      // Classic: every ID waits for its own tick.
  options.max_wait_ms = 60'000;  // A loaded CI machine may deschedule us.
  auto generator = Generator::create(options, clock, reservation);
  ASSERT_TRUE(generator);
  hammer(**generator, nullptr);
}

struct Collect final : AuditSink {
  void record(const Layout&, const ClaimedRange& range) override { ranges.push_back(range); }
  std::vector<ClaimedRange> ranges;  // Written under the generator's renewal lock.
};

TEST(GeneratorConcurrency, AuditRangesCoverEveryIdOnceWhileThreadsIssue) {
  ManualClock clock(1767225600000LL * 1'000'000);
  MemoryReservation reservation(6);
  Collect sink;
  GeneratorOptions options;
  options.audit = &sink;
  auto generator = Generator::create(options, clock, reservation);
  ASSERT_TRUE(generator);
  std::vector<std::uint64_t> all;
  {
    Renewer renewer(**generator, std::chrono::milliseconds(1));  // Reports race with the claims.
    all = hammer(**generator, &clock);
  }
  ASSERT_TRUE((*generator)->close());
  const std::vector<ClaimedRange>& ranges = sink.ranges;
  ASSERT_FALSE(ranges.empty());
  std::uint64_t issued = 0;
  for (std::size_t i = 0; i < ranges.size(); ++i) {
    if (i > 0) {
      EXPECT_GT(ranges[i].first_id, ranges[i - 1].last_id);
    }
    issued += ranges[i].issued;
  }
  // A report while a claim is in flight may count that claim's skipped states
  // (at most a tick's, as the clock steps 1 ms) as issued; never fewer than issued.
  EXPECT_GE(issued, all.size());
  EXPECT_LE(issued, all.size() + 4096 * kThreads);
  EXPECT_EQ(ranges.front().first_id, all.front());
  EXPECT_EQ(ranges.back().last_id, all.back());
  std::size_t r = 0;
  for (const std::uint64_t id : all) {
    while (r < ranges.size() && ranges[r].last_id < id) ++r;
    ASSERT_LT(r, ranges.size()) << id << " lies past every range";
    ASSERT_GE(id, ranges[r].first_id) << id << " lies between two ranges";
  }
}

}  // namespace
}  // namespace idforge
