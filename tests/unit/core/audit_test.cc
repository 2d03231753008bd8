// SPDX-License-Identifier: Apache-2.0
// The generator's audit reports (GeneratorOptions::audit) on the manual clock.
#include "idforge/audit.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <vector>

#include "idforge/generator.h"

namespace idforge {
namespace {

constexpr std::int64_t kStartMs = 1767225600000;  // 2026-01-01T00:00:00Z
constexpr std::int64_t kNsPerMs = 1'000'000;

struct Collect final : AuditSink {
  void record(const Layout&, const ClaimedRange& range) override { ranges.push_back(range); }
  void reserve(const Layout&, const ReservedRange& range) override {
    // Recorded before anything of it is issued: no claim reaches into it yet.
    for (const ClaimedRange& c : ranges) EXPECT_LT(c.last_id, range.first_id);
    reserved.push_back(range);
  }
  void release(const Layout&, std::uint64_t node, std::uint64_t holder, std::optional<std::uint64_t> last_id) override {
    EXPECT_EQ(node, 5u);
    released.push_back({holder, last_id});
  }
  std::vector<ClaimedRange> ranges;
  std::vector<ReservedRange> reserved;
  std::vector<std::pair<std::uint64_t, std::optional<std::uint64_t>>> released;
};

struct Rig {
  explicit Rig(std::optional<std::int64_t> inherited = std::nullopt, std::int64_t start_ms = kStartMs,
               std::int64_t max_lead_ms = 1000)
      : clock(start_ms * kNsPerMs), reservation(5, inherited) {
    GeneratorOptions options;
    options.max_lead_ms = max_lead_ms;
    options.audit = &sink;
    generator = std::move(*Generator::create(options, clock, reservation));
  }
  std::uint64_t next() { return *generator->next(); }
  std::vector<std::uint64_t> batch(std::size_t n) {
    std::vector<std::uint64_t> ids(n);
    EXPECT_TRUE(generator->next_batch(ids));
    return ids;
  }

  ManualClock clock;
  MemoryReservation reservation;
  Collect sink;
  std::unique_ptr<Generator> generator;
};

// Every ID lies in exactly one range; ranges are in order and apart; their issued
// counts add up to the IDs.
void expect_covered(const std::vector<std::uint64_t>& ids, const std::vector<ClaimedRange>& ranges) {
  for (std::size_t i = 1; i < ranges.size(); ++i) EXPECT_GT(ranges[i].first_id, ranges[i - 1].last_id);
  std::uint64_t issued = 0;
  for (const ClaimedRange& r : ranges) {
    EXPECT_LE(r.first_id, r.last_id);
    EXPECT_LE(r.issued, r.states);
    EXPECT_EQ(r.node, 5u);
    issued += r.issued;
  }
  EXPECT_EQ(issued, ids.size());
  for (const std::uint64_t id : ids) {
    const auto in = std::count_if(ranges.begin(), ranges.end(),
                                  [&](const ClaimedRange& r) { return r.first_id <= id && id <= r.last_id; });
    EXPECT_EQ(in, 1) << id;
  }
}

TEST(Audit, EveryIdIssuedLiesInExactlyOneReportedRange) {
  Rig rig;
  std::vector<std::uint64_t> ids;
  for (int round = 0; round < 20; ++round) {
    for (int i = 0; i < 100; ++i) ids.push_back(rig.next());
    for (const std::uint64_t id : rig.batch(5000)) ids.push_back(id);  // Leads into the next tick.
    rig.clock.advance_ms(round % 3 == 0 ? 7 : 1);
    if (round % 4 == 0) {
      ASSERT_TRUE(rig.generator->renew());
    }
  }
  ASSERT_TRUE(rig.generator->close());
  EXPECT_EQ(rig.sink.ranges.size(), 6u);  // Five renewals and the close.
  expect_covered(ids, rig.sink.ranges);
}

TEST(Audit, TheFirstRangeBeginsAtTheFirstIdAndTheLastEndsAtTheLast) {
  Rig rig;  // A node never held: its states begin at 0, the IDs at the clock.
  const std::uint64_t first = rig.next();
  rig.clock.advance_ms(3);
  const std::uint64_t last = rig.next();
  ASSERT_TRUE(rig.generator->close());
  ASSERT_EQ(rig.sink.ranges.size(), 1u);
  EXPECT_EQ(rig.sink.ranges[0].first_id, first);
  EXPECT_EQ(rig.sink.ranges[0].last_id, last);
  EXPECT_EQ(rig.sink.ranges[0].issued, 2u);
  EXPECT_EQ(rig.sink.ranges[0].states, (std::uint64_t{3} << 12) + 1);  // Three ticks' states, and one.
}

TEST(Audit, AnIdleGeneratorAndAnIdleRenewalReportNothing) {
  Rig rig;
  ASSERT_TRUE(rig.generator->renew());
  EXPECT_TRUE(rig.sink.ranges.empty());
  (void)rig.next();
  ASSERT_TRUE(rig.generator->renew());
  ASSERT_TRUE(rig.generator->renew());
  ASSERT_TRUE(rig.generator->close());
  EXPECT_EQ(rig.sink.ranges.size(), 1u);
}

TEST(Audit, ASuccessorsRangesBeginAfterItsPredecessors) {
  Rig first;
  std::vector<std::uint64_t> ids;
  for (int i = 0; i < 50; ++i) ids.push_back(first.next());
  first.clock.advance_ms(5);
  for (int i = 0; i < 50; ++i) ids.push_back(first.next());
  ASSERT_TRUE(first.generator->close());

  // The successor restarts with the clock an hour behind, riding it out on logical time.
  Rig second(first.reservation.reserved_stamp(), kStartMs - 3'600'000, 86'400'000);
  std::vector<ClaimedRange> ranges = first.sink.ranges;
  for (int i = 0; i < 50; ++i) ids.push_back(second.next());
  ASSERT_TRUE(second.generator->close());
  ranges.insert(ranges.end(), second.sink.ranges.begin(), second.sink.ranges.end());
  ASSERT_EQ(ranges.size(), 2u);
  expect_covered(ids, ranges);
}

TEST(Audit, AFirstClaimAtTheInitialStateIsReportedFromItOnePeriodLater) {
  Rig first;
  (void)first.next();
  ASSERT_TRUE(first.generator->close());
  // The successor's clock is behind its start: its first claim skips no state, so
  // nothing records where it began, and the first report waits one period for it.
  Rig second(first.reservation.reserved_stamp(), kStartMs - 1000, 86'400'000);
  const std::uint64_t id = second.next();
  ASSERT_TRUE(second.generator->renew());
  EXPECT_TRUE(second.sink.ranges.empty());
  ASSERT_TRUE(second.generator->renew());
  ASSERT_EQ(second.sink.ranges.size(), 1u);
  EXPECT_EQ(second.sink.ranges[0].first_id, id);
  EXPECT_EQ(second.sink.ranges[0].last_id, id);
  EXPECT_EQ(second.sink.ranges[0].issued, 1u);
}

TEST(Audit, ARollbackKeepsTheRangesApart) {
  Rig rig;
  std::vector<std::uint64_t> ids;
  for (int i = 0; i < 10; ++i) ids.push_back(rig.next());
  rig.clock.advance_ms(20);
  for (int i = 0; i < 10; ++i) ids.push_back(rig.next());
  ASSERT_TRUE(rig.generator->renew());
  rig.clock.set_wall_ns((kStartMs + 5) * kNsPerMs);  // 15 ms back: logical time.
  for (int i = 0; i < 10; ++i) ids.push_back(rig.next());
  ASSERT_TRUE(rig.generator->close());
  ASSERT_EQ(rig.sink.ranges.size(), 2u);
  expect_covered(ids, rig.sink.ranges);
}

TEST(Audit, EveryIdLiesInARangeReservedBeforeItAndTheReleaseGivesTheRestBack) {
  Rig rig;
  std::vector<std::uint64_t> ids;
  for (int ms = 0; ms < 3000; ms += 7) {
    rig.clock.set_wall_ns((kStartMs + ms) * kNsPerMs);
    for (std::uint64_t id : rig.batch(50)) ids.push_back(id);
    if (ms % 200 == 0) {
      ASSERT_TRUE(rig.generator->renew());
    }
  }
  ASSERT_GE(rig.sink.reserved.size(), 2u);
  for (std::size_t i = 1; i < rig.sink.reserved.size(); ++i) {
    EXPECT_GT(rig.sink.reserved[i].first_id, rig.sink.reserved[i - 1].last_id) << "consecutive, apart";
    EXPECT_EQ(rig.sink.reserved[i].holder, rig.sink.reserved[0].holder);
  }
  for (const std::uint64_t id : ids) {
    const auto in = std::count_if(rig.sink.reserved.begin(), rig.sink.reserved.end(),
                                  [&](const ReservedRange& r) { return r.first_id <= id && id <= r.last_id; });
    EXPECT_EQ(in, 1) << id;
  }
  ASSERT_TRUE(rig.generator->close());
  ASSERT_EQ(rig.sink.released.size(), 1u);
  EXPECT_EQ(rig.sink.released[0].first, rig.sink.reserved[0].holder);
  EXPECT_EQ(rig.sink.released[0].second, *std::max_element(ids.begin(), ids.end()));
  EXPECT_EQ(rig.sink.ranges.back().holder, rig.sink.reserved[0].holder);
  // Another generator is another holder; one that issued nothing gives back everything.
  Rig idle;
  ASSERT_TRUE(idle.generator->close());
  ASSERT_EQ(idle.sink.released.size(), 1u);
  EXPECT_NE(idle.sink.released[0].first, rig.sink.reserved[0].holder);
  EXPECT_FALSE(idle.sink.released[0].second);
}

}  // namespace
}  // namespace idforge
