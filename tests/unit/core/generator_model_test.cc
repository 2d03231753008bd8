// SPDX-License-Identifier: Apache-2.0
// A model-based test of the generator on the manual clock: thousands of seeded
// random sequences of next(), batches, bursts, clock bumps and strobes (Jepsen's
// sizes: 4 ms to 262 s), restarts that keep the mark, and successors on another
// machine whose clock disagrees — checked after every step against what must
// hold: no ID twice, every ID above every earlier one of the node (across
// restarts and successors too), no stamp past the reservation made before it, a
// refusal only with a typed error, and every ID inside one audited range.
#include <gtest/gtest.h>

#include <memory>
#include <random>
#include <set>
#include <vector>

#include "idforge/audit.h"
#include "idforge/generator.h"

namespace idforge {
namespace {

constexpr std::int64_t kStartMs = 1767225600000;  // 2026-01-01T00:00:00Z
constexpr std::int64_t kNsPerMs = 1'000'000;
constexpr std::uint64_t kNode = 9;

struct Ranges final : AuditSink {
  void record(const Layout&, const ClaimedRange& r) override { ranges.push_back(r); }
  std::vector<ClaimedRange> ranges;
};

// One holder of the node: its machine's clock, its reservation, its generator.
struct Holder {
  Holder(std::int64_t wall_ms, std::optional<std::int64_t> inherited, const GeneratorOptions& options, Ranges& audit)
      : clock(wall_ms * kNsPerMs), reservation(kNode, inherited) {
    GeneratorOptions with_audit = options;
    with_audit.audit = &audit;
    auto made = Generator::create(with_audit, clock, reservation);
    EXPECT_TRUE(made);
    generator = std::move(*made);
  }
  ManualClock clock;
  MemoryReservation reservation;
  std::unique_ptr<Generator> generator;
};

class Model {
 public:
  Model(std::uint64_t seed, const GeneratorOptions& options) : random_(seed), options_(options) {
    holder_ = std::make_unique<Holder>(kStartMs, std::nullopt, options_, audit_);
  }

  void step() {
    switch (random_() % 16) {
      case 0: case 1: case 2: case 3: case 4: take(1); break;
      case 5: case 6: take(1 + random_() % 5000); break;         // A batch, up to more than a tick holds.
      case 7: for (int i = 0; i < 200; ++i) take(1); break;       // A burst in one millisecond.
      case 8: case 9: holder_->clock.advance_ms(1 + static_cast<std::int64_t>(random_() % 5)); break;
      case 10: bump(); break;
      case 11: strobe(); break;
      case 12: if (random_() % 4 == 0) restart(false); break;
      case 13: if (random_() % 4 == 0) restart(true); break;
      case 14: ASSERT_TRUE(holder_->generator->renew()); break;
      default: holder_->clock.advance_ms(50); break;
    }
  }

  void finish() {
    ASSERT_TRUE(holder_->generator->close());
    // Every ID lies in exactly one audited range, and the ranges never overlap.
    std::sort(audit_.ranges.begin(), audit_.ranges.end(),
              [](const ClaimedRange& a, const ClaimedRange& b) { return a.first_id < b.first_id; });
    for (std::size_t i = 1; i < audit_.ranges.size(); ++i) {
      ASSERT_GT(audit_.ranges[i].first_id, audit_.ranges[i - 1].last_id) << "overlapping audit ranges";
    }
    std::size_t r = 0;
    for (const std::uint64_t id : issued_) {  // A set: in order.
      while (r < audit_.ranges.size() && audit_.ranges[r].last_id < id) ++r;
      ASSERT_LT(r, audit_.ranges.size()) << id << " is in no audited range";
      ASSERT_GE(id, audit_.ranges[r].first_id) << id << " is in no audited range";
    }
  }

  std::size_t ids() const { return issued_.size(); }

 private:
  // Jepsen's bump: ±2^(2..18) ms.
  std::int64_t jump_ms() {
    const std::int64_t size = std::int64_t{1} << (2 + random_() % 17);
    return random_() % 2 == 0 ? size : -size;
  }

  void bump() {
    Holder& h = *holder_;
    h.clock.set_wall_ns(h.clock.wall_ns() + jump_ms() * kNsPerMs);
  }

  // Jepsen's strobe: a delta flipped on and off every 1–1024 ms, issuing meanwhile.
  void strobe() {
    Holder& h = *holder_;
    const std::int64_t delta = jump_ms();
    const std::int64_t period = 1 + static_cast<std::int64_t>(random_() % 1024);
    for (int flip = 0; flip < 6; ++flip) {
      h.clock.set_wall_ns(h.clock.wall_ns() + (flip % 2 == 0 ? delta : -delta) * kNsPerMs);
      take(1 + random_() % 50);
      h.clock.advance_ms(period);
    }
  }

  // A new holder after the old one closed: the same machine (the same clock), or a
  // successor elsewhere with a clock up to an hour behind or ahead.
  void restart(bool elsewhere) {
    ASSERT_TRUE(holder_->generator->close());
    const std::optional<std::int64_t> mark = holder_->reservation.reserved_stamp();
    std::int64_t wall_ms = holder_->clock.wall_ns() / kNsPerMs;
    if (elsewhere) wall_ms += static_cast<std::int64_t>(random_() % 7'200'000) - 3'600'000;
    holder_ = std::make_unique<Holder>(wall_ms, mark, options_, audit_);
  }

  void take(std::uint64_t n) {
    Holder& h = *holder_;
    std::vector<std::uint64_t> ids(n);
    const Result<void> made = n == 1 ? [&]() -> Result<void> {
      Result<std::uint64_t> id = h.generator->next();
      if (!id) return id.error();
      ids[0] = *id;
      return {};
    }() : h.generator->next_batch(ids);
    if (!made) {
      const Errc code = made.error().code();
      ASSERT_TRUE(code == Errc::overloaded || code == Errc::clock_regressed || code == Errc::invalid_argument)
          << made.error().message();
      return;
    }
    const Layout& layout = h.generator->layout();
    for (const std::uint64_t id : ids) {
      ASSERT_TRUE(issued_.empty() || id > *issued_.rbegin()) << "not above every earlier ID of the node";
      ASSERT_TRUE(issued_.insert(id).second) << "duplicate " << id;
      const Parts parts = layout.decompose(id);
      ASSERT_EQ(layout.node_number(parts.node), kNode);
      ASSERT_TRUE(h.reservation.reserved_stamp().has_value());
      ASSERT_LE(parts.tick, *h.reservation.reserved_stamp()) << "a stamp past the reservation";
    }
  }

  std::mt19937_64 random_;
  GeneratorOptions options_;
  Ranges audit_;
  std::unique_ptr<Holder> holder_;
  std::set<std::uint64_t> issued_;
};

class GeneratorModel : public ::testing::TestWithParam<std::int64_t> {};

TEST_P(GeneratorModel, RandomSequencesKeepEveryInvariant) {
  GeneratorOptions options;
  options.max_lead_ms = GetParam();
  options.max_wait_ms = 5;
  std::size_t ids = 0;
  for (std::uint64_t seed = 1; seed <= 1000; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    Model model(seed, options);
    for (int i = 0; i < 100; ++i) {
      model.step();
      if (::testing::Test::HasFatalFailure()) return;
    }
    model.finish();
    if (::testing::Test::HasFatalFailure()) return;
    ids += model.ids();
  }
  EXPECT_GT(ids, 1'000'000u);  // The sequences issued, not only refused.
}

// Classic Snowflake (no lead), the default lead, and a lead long enough to ride out an hour.
INSTANTIATE_TEST_SUITE_P(Leads, GeneratorModel, ::testing::Values(0, 1000, 3'600'000));

}  // namespace
}  // namespace idforge
