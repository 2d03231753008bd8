// SPDX-License-Identifier: Apache-2.0
// Two threads on one generator of each time-ordered wide format: every ID distinct,
// and each thread's IDs strictly increasing (ObjectIds: distinct only, as the
// format orders by the second alone).
#include <gtest/gtest.h>

#include <algorithm>
#include <thread>
#include <vector>

#include "idforge/flake128.h"
#include "idforge/object_id.h"
#include "idforge/ulid.h"
#include "idforge/uuid.h"

namespace idforge {
namespace {

constexpr int kThreads = 2;
constexpr int kPerThread = 200'000;
constexpr std::int64_t kStartNs = 1767225600000LL * 1'000'000;

template <class Generator>
void hammer(Generator& generator, Clock& clock, bool ordered) {
  using Id = typename decltype(generator.next())::value_type;
  std::vector<std::vector<Id>> per_thread(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::vector<Id>& mine = per_thread[static_cast<std::size_t>(t)];
      mine.reserve(kPerThread);
      for (int i = 0; i < kPerThread; ++i) {
        Result<Id> id = generator.next();
        ASSERT_TRUE(id) << id.error().message();
        mine.push_back(*id);
        if (i % 1000 == 999) clock.sleep_for_ns(1'000'000);  // A manual clock steps; a system clock sleeps.
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  std::vector<Id> all;
  for (const std::vector<Id>& mine : per_thread) {
    if (ordered) {
      for (std::size_t i = 1; i < mine.size(); ++i) ASSERT_LT(mine[i - 1], mine[i]) << "order broke at " << i;
    }
    all.insert(all.end(), mine.begin(), mine.end());
  }
  std::sort(all.begin(), all.end());
  EXPECT_EQ(std::adjacent_find(all.begin(), all.end()), all.end()) << "duplicate ID";
}

TEST(FormatsConcurrency, UlidTwoThreads) {
  ManualClock clock(kStartNs);
  auto gen = UlidGenerator::create({}, clock, SystemRandom::instance()).value();
  hammer(*gen, clock, true);
}

TEST(FormatsConcurrency, UuidV7TwoThreads) {
  ManualClock clock(kStartNs);
  auto gen = UuidV7Generator::create({}, clock, SystemRandom::instance()).value();
  hammer(*gen, clock, true);
}

TEST(FormatsConcurrency, Flake128TwoThreads) {
  ManualClock clock(kStartNs);
  MemoryReservation worker(5);
  auto gen = Flake128Generator::create({}, clock, worker).value();
  hammer(*gen, clock, true);
}

TEST(FormatsConcurrency, ObjectIdTwoThreads) {
  ManualClock clock(kStartNs);
  auto gen = ObjectIdGenerator::create({}, clock, SystemRandom::instance()).value();
  hammer(*gen, clock, false);
}

TEST(FormatsConcurrency, UuidV7TwoThreadsOnTheSystemClock) {
  SystemClock clock;
  auto gen = UuidV7Generator::create({}, clock, SystemRandom::instance()).value();
  hammer(*gen, clock, true);
}

}  // namespace
}  // namespace idforge
